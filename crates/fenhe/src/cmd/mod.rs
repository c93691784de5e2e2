//! Commands that work on the store.

pub mod alarms;
pub mod compliance;
pub mod data;
pub mod device;
