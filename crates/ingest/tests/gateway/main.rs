//! The gateway over real TCP, one test binary: ingest (acknowledgement after commit, split
//! packets, duplicates, authentication, garbage, limits, shutdown), the platform's commands,
//! interoperability with fenhe-sim's simulated loggers, and hostile or careless peers (pacing,
//! slowloris, connection floods, strangers' garbage, password guessing, history-request storms, bounded split uploads). `common` is the harness they share.

mod commands;
mod common;
mod floods;
mod garbage;
mod guessing;
mod ingest;
mod pacing;
mod sim;
mod slowloris;
mod splits;
mod storms;
