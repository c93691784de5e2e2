//! `/{kind}/new`: the creation form, built from the machine's creation fields. A refused form
//! comes back with what was typed and each problem beside its field (422), or the refusal's
//! message (403 for a role that may not create); a created item sends the browser to its page.

use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use fenhe_app::workflows::{self, WorkflowError};
use fenhe_core::access::{Denied, Role};
use fenhe_core::china_time;
use fenhe_core::workflow::{FieldProblem, Fields, Kind, Refusal};

use super::form::{self, FormField};
use super::labels::kind_label;
use super::submission::Submission;
use super::{kind_of, options, refusal_message};
use crate::chrome::{Chrome, render_with};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::routes::denied_page;
use crate::session::{PageUser, SignedIn};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "workflow_new.html")]
struct NewPage {
    page: Chrome,
    kind: &'static str,
    list_title: String,
    title: &'static str,
    fields: Vec<FormField>,
    general: Vec<String>,
    message: Option<String>,
}

#[allow(clippy::too_many_arguments)]
async fn render_form(
    state: &AppState,
    user: &SignedIn,
    lang: Lang,
    kind: Kind,
    typed: &Fields,
    problems: &[FieldProblem],
    message: Option<String>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let path = format!("/{}/new", kind.name());
    let chrome = Chrome::signed_in(lang, &path, &user.actor, &user.csrf);
    let opts = options(state.store.as_ref(), &user.actor, lang).await?;
    let specs = kind.machine().creation_fields();
    let view = NewPage {
        page: chrome,
        kind: kind.name(),
        list_title: kind_label(kind, lang),
        title: lang.t(&format!("wf.new.{}", kind.name())),
        fields: form::fields(specs, typed, problems, &opts, lang),
        general: form::other_problems(specs, problems, lang),
        message,
    };
    Ok(render_with(status, &view))
}

pub(super) async fn page(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(state): State<AppState>,
) -> Result<Response, AppError> {
    let Some(kind) = kind_of(&uri) else {
        let chrome = Chrome::signed_in(lang, uri.path(), &user.actor, &user.csrf);
        return Ok(denied_page(chrome, Denied::NotFound));
    };
    // An enterprise user reports for their own enterprise: the form starts with it chosen.
    let mut typed = Fields::new();
    if let Role::Enterprise { enterprise } = &user.actor.role {
        typed.insert("enterprise".into(), enterprise.clone());
    }
    render_form(&state, &user, lang, kind, &typed, &[], None, StatusCode::OK).await
}

pub(super) async fn submit(
    uri: Uri,
    State(state): State<AppState>,
    s: Submission,
) -> Result<Response, AppError> {
    let Submission { user, lang, fields, files, .. } = s;
    let Some(kind) = kind_of(&uri) else {
        let chrome = Chrome::signed_in(lang, uri.path(), &user.actor, &user.csrf);
        return Ok(denied_page(chrome, Denied::NotFound));
    };
    let now = china_time::now_ms();
    let created =
        workflows::create(state.store.as_ref(), &state.workflows, &user.actor, kind, &fields, files, now)
            .await;
    match created {
        Ok(id) => Ok(Redirect::to(&format!("/{}/{id}", kind.name())).into_response()),
        Err(WorkflowError::Refused(Refusal::Invalid(problems))) => {
            let message = Some(lang.t("wf.form.errors").to_string());
            render_form(
                &state,
                &user,
                lang,
                kind,
                &fields,
                &problems,
                message,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(WorkflowError::Refused(r)) => {
            let status = StatusCode::from_u16(r.status()).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            render_form(&state, &user, lang, kind, &fields, &[], Some(refusal_message(&r, lang)), status)
                .await
        }
        Err(WorkflowError::Denied(d)) => {
            Ok(denied_page(Chrome::signed_in(lang, uri.path(), &user.actor, &user.csrf), d))
        }
        Err(WorkflowError::Store(e)) => Err(e.into()),
    }
}
