//! The address a request came from, for the sign-in throttle (per address as well as per
//! account). Read from the connection, never from a header a client can write.

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

/// The peer's IP address, or `unknown` when the router runs without a socket (tests).
#[derive(Debug, Clone)]
pub struct Peer(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
        Ok(Peer(ip.unwrap_or_else(|| "unknown".to_string())))
    }
}
