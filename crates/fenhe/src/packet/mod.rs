//! `fenhe packet …`: check, explain and build HJ 212 packets.
//!
//! `check` and `explain` share one reading loop ([`for_each_report`]): the input is fed in 64 KiB
//! chunks to the gateway's own [`JudgeLoop`] (the one replay uses too), so files with one packet
//! per line, raw captures and streams without CR LF all frame the same way as the TCP gateway
//! frames them. Each framer event
//! becomes an owned [`Report`], which the two commands render as JSON or as text.

pub mod build;
pub mod check;
pub mod explain;

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use fenhe_ingest::judge_loop::JudgeLoop;

pub use fenhe_app::packet_explain::{DecodeOptions, Report};

/// Bytes handed to the framer per read.
const CHUNK: usize = 64 * 1024;

/// Where input comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin,
    File(PathBuf),
}

impl Input {
    /// `None` and `-` mean standard input.
    pub fn from_arg(arg: Option<PathBuf>) -> Self {
        match arg {
            Some(p) if p.as_os_str() != "-" => Input::File(p),
            _ => Input::Stdin,
        }
    }

    /// A name for messages.
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "standard input".into(),
            Input::File(p) => p.display().to_string(),
        }
    }

    fn open(&self) -> Result<Box<dyn Read>, PacketError> {
        match self {
            Input::Stdin => Ok(Box::new(io::stdin().lock())),
            Input::File(p) => match File::open(p) {
                Ok(f) => Ok(Box::new(f)),
                Err(source) => Err(PacketError::Read { name: self.name(), source }),
            },
        }
    }

    /// The whole input as text.
    fn read_to_string(&self) -> Result<String, PacketError> {
        let mut bytes = Vec::new();
        self.open()?
            .read_to_end(&mut bytes)
            .map_err(|source| PacketError::Read { name: self.name(), source })?;
        String::from_utf8(bytes).map_err(|e| PacketError::Input {
            name: self.name(),
            line: 1 + e.as_bytes()[..e.utf8_error().valid_up_to()].iter().filter(|b| **b == b'\n').count(),
            message: "input is not valid UTF-8".into(),
        })
    }
}

/// Why a `packet` command could not finish (rejected packets are not errors: they are reported
/// and reflected in the exit status).
#[derive(Debug, thiserror::Error)]
pub enum PacketError {
    #[error("cannot read {name}")]
    Read { name: String, source: io::Error },
    #[error("cannot write to standard output")]
    Write(#[source] io::Error),
    #[error("{name}, line {line}: {message}")]
    Input { name: String, line: usize, message: String },
}

/// Frames seen and frames rejected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub frames: u64,
    pub rejected: u64,
}

impl Summary {
    /// 0 when every frame was accepted, 1 when any was rejected.
    pub fn exit_code(&self) -> ExitCode {
        if self.rejected > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
    }
}

/// Frame and decode `input`, calling `emit` with each frame or rejected run of bytes in stream
/// order. Output is flushed after each chunk of input, so a live pipe shows results promptly.
///
/// A file is read one chunk ahead, so the framer knows when the last chunk is the end of the
/// input and can report a final frame without CR LF. Standard input is not: a frame there is
/// reported as soon as it is complete, without waiting for more input that may take a while.
pub fn for_each_report<W: Write>(
    input: &Input,
    opts: &DecodeOptions,
    out: &mut W,
    mut emit: impl FnMut(&mut W, &Report) -> io::Result<()>,
) -> Result<Summary, PacketError> {
    let mut reader = input.open()?;
    let look_ahead = matches!(input, Input::File(_));
    let mut read = |buf: &mut [u8]| loop {
        match reader.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => return Err(PacketError::Read { name: input.name(), source }),
        }
    };
    // No registry here, so no split merging: the loop's events are decoded, not judged.
    let mut frames = JudgeLoop::new(opts.frame, 0, CHUNK);
    let mut chunk = vec![0u8; CHUNK];
    let mut ahead = vec![0u8; if look_ahead { CHUNK } else { 0 }];
    let mut n = read(&mut chunk)?;
    let mut summary = Summary::default();
    loop {
        frames.push(&chunk[..n]);
        // The size of the chunk after this one, when it has been read already.
        let ahead_len = match (n, look_ahead) {
            (0, _) => Some(0),
            (_, true) => Some(read(&mut ahead)?),
            (_, false) => None,
        };
        if ahead_len == Some(0) {
            frames.finish();
        }
        while let Some(located) = frames.next_event() {
            let end = located.end;
            let mut report = Report::from_event(located.event, opts);
            // `length` leaves out leading whitespace, which `start` does too.
            report.start = end - report.length;
            summary.frames += 1;
            if !report.ok() {
                summary.rejected += 1;
            }
            emit(out, &report).map_err(PacketError::Write)?;
        }
        out.flush().map_err(PacketError::Write)?;
        n = match ahead_len {
            Some(0) => return Ok(summary),
            Some(m) => {
                std::mem::swap(&mut chunk, &mut ahead);
                m
            }
            None => read(&mut chunk)?,
        };
    }
}
