//! The web crate's one integration-test binary: every route driven through the router over a
//! temporary SQLite store ([`app::TestApp`]), and the listener entry over real TCP.

mod alarms;
mod api_v1;
mod app;
mod assets;
mod audit;
mod devices;
mod enterprise_seed;
mod enterprises;
mod events;
mod outlets;
mod overview;
mod pages;
mod quality;
mod registry;
mod routes;
mod screen;
mod sign_in;
mod tcp;
mod workflow_pages;
mod workflows;
