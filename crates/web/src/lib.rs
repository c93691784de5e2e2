//! fenhe's HTTP side. For now: the status page the demo shows (devices online, frames received,
//! rejected frames by reason), its JSON form, `/healthz`, and `/metrics` for Prometheus. The
//! web application proper (sessions, access control, pages per role, `/api/v1`) builds on this
//! layout: [`state`] holds what handlers reach, [`error`] how failures answer, [`extract`] the
//! extractors with typed rejections, `routes` one module per area, [`serve`] the entry points.

pub mod error;
pub mod extract;
pub mod headers;
pub mod html;
mod routes;
pub mod serve;
pub mod state;
pub mod status;

pub use error::AppError;
pub use html::escape;
pub use routes::router;
pub use serve::{ServeError, WebServer, start, start_with_listeners};
pub use state::{AppState, LiveSnapshot, LiveStatus, MetricsRender, OnlineDevice, WebConfig};
pub use status::{Status, StoredCount};
