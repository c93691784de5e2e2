//! The fenhe binary's one integration-test binary: every test runs the real `fenhe` executable
//! (`CARGO_BIN_EXE_fenhe`) as an operator or a data logger would. One module per concern:
//! `packet`, `registry`, `user`, `token` and `calendar` commands, golden replay reports (`snapshots/`), the live compliance
//! engine against replay, `fenhe demo`, a SIGKILLed `fenhe serve`, the web listener beside the
//! gateway, and both `fenhe bench`es at a
//! tiny size. `common` is what they share; `data/` holds the packet files `packet_cli` generates.

mod accounts_cli;
mod bench_compliance;
mod bench_ingest;
mod calendar_cli;
mod common;
mod compliance;
mod crash_recovery;
mod demo;
mod packet_cli;
mod registry_cli;
mod replay_golden;
mod revisions_cli;
mod web_listener;
