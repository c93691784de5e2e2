//! Commands that work on the store.

pub mod data;
pub mod device;
