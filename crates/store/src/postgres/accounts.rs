//! Users, API tokens and departments on PostgreSQL. A user's role is three columns (name,
//! department, enterprise) checked by the schema and read back through `Role::from_parts`, so a
//! row the domain would not accept reads as corrupt, not as a wrong role.

use async_trait::async_trait;
use fenhe_core::access::Role;

use super::PgStore;
use crate::{AccountStore, ApiToken, Department, NewToken, NewUser, Result, StoreError, User};

// Macros rather than constants so that each statement is one `concat!`: a static string, which
// sqlx accepts as audited SQL (a `format!` result it refuses).
macro_rules! user_columns {
    () => {
        "id, username, display_name, role, department, enterprise, password_hash, active, \
         created_at, updated_at, password_changed_at"
    };
}
macro_rules! token_select {
    () => {
        "SELECT t.id, u.username, t.label, t.token_hash, t.created_at, t.last_used_at, t.revoked_at \
         FROM api_tokens t JOIN users u ON u.id = t.user_id "
    };
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    username: String,
    display_name: String,
    role: String,
    department: Option<String>,
    enterprise: Option<String>,
    password_hash: String,
    active: bool,
    created_at: i64,
    updated_at: i64,
    password_changed_at: i64,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(r: UserRow) -> Result<User> {
        let role = Role::from_parts(&r.role, r.department.as_deref(), r.enterprise.as_deref())
            .map_err(|e| StoreError::Corrupt(format!("user {}: {e}", r.username)))?;
        Ok(User {
            id: r.id,
            username: r.username,
            display_name: r.display_name,
            role,
            password_hash: r.password_hash,
            active: r.active,
            created_at: r.created_at,
            updated_at: r.updated_at,
            password_changed_at: r.password_changed_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: i64,
    username: String,
    label: String,
    token_hash: String,
    created_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl From<TokenRow> for ApiToken {
    fn from(r: TokenRow) -> ApiToken {
        ApiToken {
            id: r.id,
            username: r.username,
            label: r.label,
            token_hash: r.token_hash,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct DepartmentRow {
    code: String,
    name_zh: String,
    name_en: String,
    service_office: bool,
}

/// The role's columns: name, department, enterprise.
fn role_columns(role: &Role) -> (&'static str, Option<&str>, Option<&str>) {
    match role {
        Role::Department { department } => (role.name(), Some(department), None),
        Role::Enterprise { enterprise } => (role.name(), None, Some(enterprise)),
        other => (other.name(), None, None),
    }
}

/// A refused insert said in the caller's terms (the constraint that refused it), not PostgreSQL's.
fn refused(e: sqlx::Error, unique: impl FnOnce() -> String, missing: impl FnOnce() -> String) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Invalid(unique()),
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => StoreError::Invalid(missing()),
        _ => e.into(),
    }
}

#[async_trait]
impl AccountStore for PgStore {
    async fn create_user(&self, u: &NewUser) -> Result<User> {
        let (role, department, enterprise) = role_columns(&u.role);
        let row: UserRow = sqlx::query_as(concat!(
            "INSERT INTO users (username, display_name, role, department, enterprise, password_hash, active, \
             created_at, updated_at, password_changed_at) VALUES ($1, $2, $3, $4, $5, $6, true, $7, $7, $7) \
             RETURNING ",
            user_columns!()
        ))
        .bind(&u.username)
        .bind(&u.display_name)
        .bind(role)
        .bind(department)
        .bind(enterprise)
        .bind(&u.password_hash)
        .bind(u.at)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| {
            refused(
                e,
                || format!("the username {:?} is taken", u.username),
                || match (department, enterprise) {
                    (Some(d), _) => format!("there is no department {d:?}"),
                    (_, Some(e)) => format!("there is no enterprise {e:?}"),
                    _ => format!("user {:?} refers to a missing row", u.username),
                },
            )
        })?;
        row.try_into()
    }

    async fn user(&self, username: &str) -> Result<Option<User>> {
        let row: Option<UserRow> =
            sqlx::query_as(concat!("SELECT ", user_columns!(), " FROM users WHERE username = $1"))
                .bind(username)
                .fetch_optional(&self.pool)
                .await?;
        row.map(User::try_from).transpose()
    }

    async fn users(&self) -> Result<Vec<User>> {
        let rows: Vec<UserRow> =
            sqlx::query_as(concat!("SELECT ", user_columns!(), " FROM users ORDER BY username"))
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter().map(User::try_from).collect()
    }

    async fn set_password_hash(&self, username: &str, hash: &str, at: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE users SET password_hash = $1, password_changed_at = $2, updated_at = $2 WHERE username = $3",
        )
        .bind(hash)
        .bind(at)
        .bind(username)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_user_active(&self, username: &str, active: bool, at: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE users SET active = $1, updated_at = $2 WHERE username = $3")
            .bind(active)
            .bind(at)
            .bind(username)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn create_token(&self, t: &NewToken) -> Result<ApiToken> {
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO api_tokens (user_id, label, token_hash, created_at) \
             SELECT id, $1, $2, $3 FROM users WHERE username = $4 RETURNING id",
        )
        .bind(&t.label)
        .bind(&t.token_hash)
        .bind(t.created_at)
        .bind(&t.username)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| refused(e, || "a token with this hash exists".into(), || "no such user".into()))?;
        let id = id.ok_or_else(|| StoreError::NotFound(format!("user {:?}", t.username)))?;
        self.token_on(id, &self.pool).await?.ok_or_else(|| StoreError::NotFound(format!("token {id}")))
    }

    async fn token(&self, id: i64) -> Result<Option<ApiToken>> {
        self.token_on(id, &self.pool).await
    }

    async fn token_by_hash(&self, token_hash: &str) -> Result<Option<ApiToken>> {
        let row: Option<TokenRow> = sqlx::query_as(concat!(token_select!(), "WHERE t.token_hash = $1"))
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(ApiToken::from))
    }

    async fn tokens(&self, username: Option<&str>) -> Result<Vec<ApiToken>> {
        let rows: Vec<TokenRow> = sqlx::query_as(concat!(
            token_select!(),
            "WHERE $1::text IS NULL OR u.username = $1 ORDER BY t.id"
        ))
        .bind(username)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(ApiToken::from).collect())
    }

    async fn touch_token(&self, id: i64, at: i64) -> Result<()> {
        sqlx::query(
            "UPDATE api_tokens SET last_used_at = GREATEST(COALESCE(last_used_at, $2), $2) WHERE id = $1",
        )
        .bind(id)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn revoke_token(&self, id: i64, at: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(at)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn departments(&self) -> Result<Vec<Department>> {
        let rows: Vec<DepartmentRow> =
            sqlx::query_as("SELECT code, name_zh, name_en, service_office FROM departments ORDER BY code")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|r| Department {
                code: r.code,
                name_zh: r.name_zh,
                name_en: r.name_en,
                service_office: r.service_office,
            })
            .collect())
    }

    async fn upsert_department(&self, d: &Department) -> Result<()> {
        if d.code.trim().is_empty() {
            return Err(StoreError::Invalid("a department needs a code".into()));
        }
        sqlx::query(
            "INSERT INTO departments (code, name_zh, name_en, service_office) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (code) DO UPDATE SET name_zh = excluded.name_zh, name_en = excluded.name_en, \
             service_office = excluded.service_office",
        )
        .bind(&d.code)
        .bind(&d.name_zh)
        .bind(&d.name_en)
        .bind(d.service_office)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn set_demo_password(&self, username: &str, password: &str) -> Result<()> {
        let done = sqlx::query(
            "INSERT INTO demo_passwords (user_id, password) SELECT id, $1 FROM users WHERE username = $2 \
             ON CONFLICT (user_id) DO UPDATE SET password = excluded.password",
        )
        .bind(password)
        .bind(username)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("user {username:?}")));
        }
        Ok(())
    }

    async fn demo_passwords(&self) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT u.username, d.password FROM demo_passwords d JOIN users u ON u.id = d.user_id ORDER BY u.username",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}

impl PgStore {
    /// A token by id.
    async fn token_on(&self, id: i64, pool: &sqlx::PgPool) -> Result<Option<ApiToken>> {
        let row: Option<TokenRow> =
            sqlx::query_as(concat!(token_select!(), "WHERE t.id = $1")).bind(id).fetch_optional(pool).await?;
        Ok(row.map(ApiToken::from))
    }
}
