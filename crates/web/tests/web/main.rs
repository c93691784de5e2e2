//! The web crate's one integration-test binary: every route driven through the router over a
//! temporary SQLite store ([`app::TestApp`]), and the listener entry over real TCP.

mod api_v1;
mod app;
mod assets;
mod events;
mod overview;
mod pages;
mod routes;
mod screen;
mod sign_in;
mod tcp;
