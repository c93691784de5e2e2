//! A device's frames: the recent ones with their verdicts, the rejected ones with their reasons,
//! and one frame explained exactly as `fenhe packet explain` explains it, under the device's own
//! dialect (its CRC policy and longest segment).

use fenhe_core::access::{Action, Actor, Denied};
use fenhe_core::{Device, Verdict};
use fenhe_store::{FrameQuery, Store, StoredFrame};
use serde::Serialize;

use super::{Result, locate};
use crate::packet_explain::{self, DecodeOptions, Lang};

/// The most frames one page of a device's frames holds.
pub const MAX_PAGE: u32 = 200;

/// A frame as lists show it (the bytes as text, lossily: frames are ASCII by the standard).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FrameRow {
    pub id: i64,
    /// Epoch ms.
    pub received_at: i64,
    pub peer: String,
    pub cn: Option<String>,
    pub verdict: Verdict,
    /// Why it was refused (`crc: …`, `syntax: …`), for a frame that was.
    pub reason: Option<String>,
    /// Departures from the standard that were accepted, comma-separated names.
    pub deviations: String,
    pub text: String,
}

impl From<StoredFrame> for FrameRow {
    fn from(f: StoredFrame) -> FrameRow {
        let r = f.record;
        FrameRow {
            id: f.id,
            received_at: r.received_at,
            peer: r.peer,
            cn: r.cn,
            verdict: r.verdict,
            reason: r.reason,
            deviations: r.deviations,
            text: String::from_utf8_lossy(&r.bytes).trim_end().to_string(),
        }
    }
}

/// Which of a device's frames, newest first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameFilter {
    pub verdict: Option<Verdict>,
    /// Only frames older than this id (the next page after a page ending at it).
    pub before_id: Option<i64>,
    /// At most this many (capped at [`MAX_PAGE`]).
    pub limit: u32,
}

/// A page of frames, newest first, and where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FramePage {
    pub frames: Vec<FrameRow>,
    /// `before_id` for the next page, when there may be one.
    pub next_before: Option<i64>,
}

/// The frames of device `mn`, if `actor` may see it.
pub async fn frames(store: &dyn Store, actor: &Actor, mn: &str, filter: FrameFilter) -> Result<FramePage> {
    let reg = store.registry().await?;
    locate(&reg, actor, Action::ViewEnvironment, mn)?;
    let limit = filter.limit.clamp(1, MAX_PAGE);
    let q = FrameQuery {
        mn: Some(mn.to_string()),
        verdict: filter.verdict,
        before_id: filter.before_id,
        newest_first: true,
        limit: Some(limit),
        ..Default::default()
    };
    let frames: Vec<FrameRow> = store.frames(&q).await?.into_iter().map(FrameRow::from).collect();
    let next_before = (frames.len() == limit as usize).then(|| frames.last().map(|f| f.id)).flatten();
    Ok(FramePage { frames, next_before })
}

/// How a device's frames are framed and parsed: its dialect, as the gateway judges it.
pub fn decode_options(d: &Device) -> DecodeOptions {
    DecodeOptions {
        frame: hj212::FrameConfig {
            crc_mode: d.crc.into(),
            max_segment_len: (d.max_segment_len as usize).clamp(1, 9999),
        },
        parse: hj212::ParseOptions::default(),
    }
}

/// One frame of a device, explained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExplainedFrame {
    pub frame: FrameRow,
    /// `fenhe packet explain`'s text for the frame's bytes.
    pub explanation: String,
}

/// Frame `id` of device `mn`, explained in `lang`. A frame of another device is not found,
/// whichever device it is.
pub async fn explain(
    store: &dyn Store,
    actor: &Actor,
    mn: &str,
    id: i64,
    lang: Lang,
) -> Result<ExplainedFrame> {
    let reg = store.registry().await?;
    let found = locate(&reg, actor, Action::ViewEnvironment, mn)?;
    let q = FrameQuery {
        mn: Some(mn.to_string()),
        after_id: Some(id.saturating_sub(1)),
        limit: Some(1),
        ..Default::default()
    };
    let frame = store.frames(&q).await?.into_iter().find(|f| f.id == id).ok_or(Denied::NotFound)?;
    let explanation = packet_explain::explain_bytes(&frame.record.bytes, &decode_options(found.device), lang);
    Ok(ExplainedFrame { frame: FrameRow::from(frame), explanation })
}
