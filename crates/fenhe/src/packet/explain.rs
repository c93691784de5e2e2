//! `fenhe packet explain`: each frame as a small report for people, in Chinese or English. The
//! report's layout is `fenhe_app::packet_explain`'s, which the devices page shows too.

use std::io::Write;

use fenhe_app::packet_explain::{render, summary_line};
use hj212::codes::Lang;

use super::{DecodeOptions, Input, PacketError, Summary};

/// Explain every frame of `input`, then a one-line summary.
pub fn run(
    input: &Input,
    opts: &DecodeOptions,
    lang: Lang,
    out: &mut impl Write,
) -> Result<Summary, PacketError> {
    let mut n = 0u64;
    let summary = super::for_each_report(input, opts, out, |out, report| {
        n += 1;
        out.write_all(render(n, report, opts.frame.crc_mode, lang).as_bytes())
    })?;
    writeln!(out, "{}", summary_line(summary.frames, summary.rejected, lang)).map_err(PacketError::Write)?;
    Ok(summary)
}
