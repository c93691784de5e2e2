//! fenhe's HTTP side: the web application's frame (sign-in, the actor on every request, CSRF,
//! Chinese and English pages in one layout, embedded assets) with its first pages — the
//! overview and the engineers' status page at `/system` — plus `/api/status`, `/metrics` and
//! `/healthz`. [`state`] holds what handlers reach, [`error`] how failures answer, [`extract`]
//! the extractors with typed rejections, [`session`] who is asking, [`csrf`] the forms' tokens,
//! [`i18n`] the messages, [`chrome`] the layout's frame, [`assets`] the embedded files, `routes`
//! one module per area, [`serve`] the entry points. [`overview_view`] is the overview's JSON shape
//! (page, wall screen, `/api/v1/overview`) and [`live_events`] the broadcast behind `/events`.

pub mod alarm_labels;
pub mod alarm_params;
pub mod assets;
pub mod chrome;
pub mod cookies;
pub mod csrf;
pub mod day_range;
pub mod error;
pub mod extract;
pub mod headers;
pub mod i18n;
pub mod labels;
pub mod live_events;
pub mod local_path;
pub mod overview_cache;
pub mod overview_view;
pub mod pager;
pub mod peer;
pub mod rate_table;
mod routes;
pub mod series_export;
pub mod serve;
pub mod session;
pub mod state;
pub mod status;
pub mod table_export;

pub use error::AppError;
pub use i18n::Lang;
pub use routes::router;
pub use serve::{ServeError, WebServer, start, start_with_listeners};
pub use state::{
    AppState, Health, HealthProbe, LiveSnapshot, LiveStatus, MetricsRender, OnlineDevice, WebConfig,
};
pub use status::{Status, StoredCount};
