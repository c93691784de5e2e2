//! The command tree. This module declares arguments (clap derive) and dispatches; the work is done
//! in the command modules, which know nothing of clap. New command families (`serve`, `demo`,
//! `registry`, …) are added as variants of [`Command`] with their own argument structs.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::packet::{self, DecodeOptions, Input};

/// Exit status for usage errors and I/O errors (clap uses it for usage errors too).
pub const EXIT_USAGE: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "fenhe",
    version,
    about = "fenhe: supervision of enterprise emissions over HJ 212",
    propagate_version = false
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inspect, explain and craft HJ 212 packets.
    #[command(subcommand)]
    Packet(PacketCommand),
}

#[derive(Debug, Subcommand)]
pub enum PacketCommand {
    /// Frame a byte stream and print one JSON object per frame (exit 1 if any frame is rejected).
    Check(CheckArgs),
    /// Explain each packet of a byte stream as a table for people.
    Explain(ExplainArgs),
    /// Build framed packets from JSON objects of the shape `check` prints.
    Build(BuildArgs),
}

/// How packets are framed and parsed.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// Input: a file of packets (one per line, a raw capture, or a stream without CR LF); `-` or
    /// nothing reads standard input.
    #[arg(value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Which CRC computations are accepted.
    #[arg(long, value_enum, default_value_t = CrcArg::Standard)]
    pub crc: CrcArg,
    /// Protocol version: from Flag (`auto`), or forced.
    #[arg(long, value_enum, default_value_t = VersionArg::Auto)]
    pub version: VersionArg,
    /// Longest data segment accepted; above 1024 is reported as a deviation.
    #[arg(long, value_name = "N", default_value_t = 1024,
          value_parser = clap::value_parser!(u16).range(1..=9999))]
    pub max_len: u16,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub decode: DecodeArgs,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub decode: DecodeArgs,
    /// Language of names, units and labels.
    #[arg(long, value_enum, default_value_t = LangArg::Zh)]
    pub lang: LangArg,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// JSON input: one object, or one object per line; `-` or nothing reads standard input.
    #[arg(value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Split into sub-packets (PNUM/PNO) when a data segment is longer than N bytes.
    #[arg(long, value_name = "N", default_value_t = 1024,
          value_parser = clap::value_parser!(u16).range(1..=9999))]
    pub split: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CrcArg {
    Standard,
    Modbus,
    ModbusSwapped,
    Any,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VersionArg {
    Auto,
    #[value(name = "2005")]
    V2005,
    #[value(name = "2017")]
    V2017,
    #[value(name = "2025")]
    V2025,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LangArg {
    Zh,
    En,
}

impl DecodeArgs {
    fn options(&self) -> DecodeOptions {
        let crc_mode = match self.crc {
            CrcArg::Standard => hj212::CrcMode::Standard,
            CrcArg::Modbus => hj212::CrcMode::Modbus,
            CrcArg::ModbusSwapped => hj212::CrcMode::ModbusSwapped,
            CrcArg::Any => hj212::CrcMode::Any,
        };
        let version = match self.version {
            VersionArg::Auto => hj212::VersionMode::Auto,
            VersionArg::V2005 => hj212::VersionMode::Force(hj212::Version::V2005),
            VersionArg::V2017 => hj212::VersionMode::Force(hj212::Version::V2017),
            VersionArg::V2025 => hj212::VersionMode::Force(hj212::Version::V2025),
        };
        DecodeOptions {
            frame: hj212::FrameConfig { max_segment_len: usize::from(self.max_len), crc_mode },
            parse: hj212::ParseOptions { version },
        }
    }
}

impl From<LangArg> for hj212::codes::Lang {
    fn from(l: LangArg) -> Self {
        match l {
            LangArg::Zh => hj212::codes::Lang::Zh,
            LangArg::En => hj212::codes::Lang::En,
        }
    }
}

/// Run a parsed command line; the exit code reflects the outcome (0 ok, 1 rejected input).
pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Packet(cmd) => run_packet(cmd),
    }
}

fn run_packet(cmd: PacketCommand) -> Result<ExitCode> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let code = match cmd {
        PacketCommand::Check(a) => {
            let input = Input::from_arg(a.decode.input.clone());
            let summary = packet::check::run(&input, &a.decode.options(), &mut out)?;
            summary.exit_code()
        }
        PacketCommand::Explain(a) => {
            let input = Input::from_arg(a.decode.input.clone());
            let summary = packet::explain::run(&input, &a.decode.options(), a.lang.into(), &mut out)?;
            summary.exit_code()
        }
        PacketCommand::Build(a) => {
            let input = Input::from_arg(a.input);
            packet::build::run(&input, usize::from(a.split), &mut out)?;
            ExitCode::SUCCESS
        }
    };
    out.flush().context("cannot write to standard output")?;
    Ok(code)
}
