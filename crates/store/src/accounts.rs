//! The accounts role: users, their API tokens, and the departments a department officer belongs
//! to. The store keeps what it is given — password hashes and token hashes, never a secret — and
//! checks only what the schema can (unique names, a role's unit, that the department or
//! enterprise exists); the rules for names and passwords are `fenhe_core::account_rules`.

use async_trait::async_trait;
use fenhe_core::access::Role;

use crate::Result;

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    /// The role with its unit (a department's code, an enterprise's id).
    pub role: Role,
    /// The argon2id PHC string.
    pub password_hash: String,
    /// An inactive user cannot sign in and their tokens are refused; the row stays for the audit.
    pub active: bool,
    /// Epoch ms.
    pub created_at: i64,
    pub updated_at: i64,
    pub password_changed_at: i64,
}

/// A user to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
    /// Epoch ms: created, updated and password changed at.
    pub at: i64,
}

/// A stored API token. The token itself was shown once when it was made; only its hash is here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: i64,
    pub username: String,
    pub label: String,
    /// SHA-256 of the token, lower-case hex.
    pub token_hash: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A token to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub username: String,
    pub label: String,
    pub token_hash: String,
    pub created_at: i64,
}

/// A department (部门) of the city.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Department {
    /// Short code (`fgw`), what a department user's role names.
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    /// The administrative approval service office (行政审批服务管理局), which later workflows route
    /// applications through.
    pub service_office: bool,
}

/// Users, API tokens and departments.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Store a new user. [`crate::StoreError::Invalid`] when the username is taken or the role's
    /// department or enterprise does not exist; nothing is stored then.
    async fn create_user(&self, u: &NewUser) -> Result<User>;
    /// The user named `username`.
    async fn user(&self, username: &str) -> Result<Option<User>>;
    /// Every user, by username.
    async fn users(&self) -> Result<Vec<User>>;
    /// Replace a user's password hash (password changed and updated at `at`); `false` when there
    /// is no such user.
    async fn set_password_hash(&self, username: &str, hash: &str, at: i64) -> Result<bool>;
    /// Activate or deactivate a user (updated at `at`); `false` when there is no such user.
    async fn set_user_active(&self, username: &str, active: bool, at: i64) -> Result<bool>;

    /// Store a new API token of an existing user ([`crate::StoreError::NotFound`] otherwise).
    async fn create_token(&self, t: &NewToken) -> Result<ApiToken>;
    /// The token with this id.
    async fn token(&self, id: i64) -> Result<Option<ApiToken>>;
    /// The token whose hash this is, revoked or not.
    async fn token_by_hash(&self, token_hash: &str) -> Result<Option<ApiToken>>;
    /// Tokens, of one user or of all, by id.
    async fn tokens(&self, username: Option<&str>) -> Result<Vec<ApiToken>>;
    /// Note that a token was used at `at`.
    async fn touch_token(&self, id: i64, at: i64) -> Result<()>;
    /// Revoke a token at `at`; `false` when there is no such token or it was already revoked
    /// (a revoked token keeps its first revocation time).
    async fn revoke_token(&self, id: i64, at: i64) -> Result<bool>;

    /// Every department, by code.
    async fn departments(&self) -> Result<Vec<Department>>;
    /// Add a department or change its names and flag.
    async fn upsert_department(&self, d: &Department) -> Result<()>;

    /// Keep the generated password of a demo account, so that a second run of the demo prints the
    /// same ([`crate::StoreError::NotFound`] when there is no such user). For the demo database
    /// only: a real deployment never keeps a password.
    async fn set_demo_password(&self, username: &str, password: &str) -> Result<()>;
    /// The demo accounts with their passwords, by username.
    async fn demo_passwords(&self) -> Result<Vec<(String, String)>>;
}
