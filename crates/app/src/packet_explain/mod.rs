//! What a frame says, explained: the one implementation behind `fenhe packet check` and
//! `fenhe packet explain` and the devices page's frame view, so the command line and the browser
//! show a frame alike.
//!
//! [`Report`] is one framer event decoded and owned (where it was, the verdict, the CRC, the
//! fields); [`render`] lays a report out as text for people. [`explain_bytes`] frames a whole
//! byte string with the gateway's own loop ([`JudgeLoop`]), as a stored frame is explained.

mod report;
mod text;

use fenhe_ingest::judge_loop::JudgeLoop;
pub use hj212::codes::{Lang, command_name};

pub use report::{FactorReport, FieldReport, PacketReport, Report, kind_zh};
pub use text::{render, summary_line};

/// How packets are framed and parsed.
#[derive(Debug, Clone, Copy, Default)]
pub struct DecodeOptions {
    pub frame: hj212::FrameConfig,
    pub parse: hj212::ParseOptions,
}

/// Every frame (or rejected run of bytes) in `bytes`, decoded, with its stream offset filled in:
/// the whole input is there, so the end of it is the end of the stream.
pub fn reports(bytes: &[u8], opts: &DecodeOptions) -> Vec<Report> {
    // No registry, so no split merging: the events are decoded, not judged.
    let mut frames = JudgeLoop::over(opts.frame, 0, bytes.to_vec());
    frames.finish();
    let mut out = Vec::new();
    while let Some(located) = frames.next_event() {
        let end = located.end;
        let mut report = Report::from_event(located.event, opts);
        // `length` leaves out leading whitespace, which `start` does too.
        report.start = end - report.length;
        out.push(report);
    }
    out
}

/// `bytes` explained as `fenhe packet explain` prints them: each frame's report, then the
/// summary line.
pub fn explain_bytes(bytes: &[u8], opts: &DecodeOptions, lang: Lang) -> String {
    let all = reports(bytes, opts);
    let mut s = String::new();
    for (i, r) in all.iter().enumerate() {
        s.push_str(&render(i as u64 + 1, r, opts.frame.crc_mode, lang));
    }
    let rejected = all.iter().filter(|r| !r.ok()).count() as u64;
    s.push_str(&summary_line(all.len() as u64, rejected, lang));
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet() -> Vec<u8> {
        hj212::PacketBuilder::new("2051", "88888880000001")
            .qn("20240501100500000")
            .st("32")
            .pw("123456")
            .build()
    }

    #[test]
    fn a_good_frame_is_explained_in_both_languages() {
        let opts = DecodeOptions::default();
        let zh = explain_bytes(&packet(), &opts, Lang::Zh);
        assert!(zh.contains("✔ 通过") && zh.contains("88888880000001"), "{zh}");
        assert!(zh.ends_with("共 1 帧：1 帧通过，0 帧拒绝\n"), "{zh}");
        let en = explain_bytes(&packet(), &opts, Lang::En);
        assert!(en.contains("✔ accepted") && en.contains("pollutant minute data"), "{en}");
    }

    #[test]
    fn a_broken_crc_is_explained_with_both_values() {
        let mut bytes = packet();
        let crc_at = bytes.len() - 6;
        bytes[crc_at] = if bytes[crc_at] == b'0' { b'1' } else { b'0' };
        let r = reports(&bytes, &DecodeOptions::default());
        assert_eq!(r.len(), 1);
        assert!(!r[0].ok());
        let en = explain_bytes(&bytes, &DecodeOptions::default(), Lang::En);
        assert!(en.contains("✘ rejected") && en.contains("declared") && en.contains("computed"), "{en}");
        assert!(en.contains("1 frames: 0 accepted, 1 rejected"), "{en}");
    }

    #[test]
    fn bytes_that_are_no_frame_say_why() {
        let en = explain_bytes(b"hello there\r\n", &DecodeOptions::default(), Lang::En);
        assert!(en.contains("✘ rejected") && en.contains("Error"), "{en}");
    }
}
