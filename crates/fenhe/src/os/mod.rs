//! What the binary asks of the operating system, behind safe functions: the open-file limit
//! (`nofile`) and who is running the command (`user`). The `unsafe` calls are confined here.

pub mod nofile;
pub mod user;
