//! The gateway over real TCP, one test binary: ingest (acknowledgement after commit, split
//! packets, duplicates, authentication, garbage, limits, shutdown), the platform's commands, and
//! interoperability with fenhe-sim's simulated loggers. `common` is the harness they share.

mod commands;
mod common;
mod ingest;
mod sim;
