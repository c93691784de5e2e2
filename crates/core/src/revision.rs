//! The revision rule: what storing a measurement does, given what is stored for its record
//! (MN, CN, DataTime, factor).
//!
//! A data logger re-sends what it is not sure was acknowledged, and may later correct a value it
//! sent. A re-send identical to the latest stored revision is a duplicate and is not stored
//! again; a different value is kept as the next revision, so nothing a device ever sent is lost
//! and the rules read the latest. Backends decide with [`decide`] and label frames with
//! [`frame_verdict`]; replay, which keeps only each record's latest values, with [`arrival`].
//!
//! Stored data is evidence. A changed value that arrives within the revision window of the
//! record's first receipt is a logger's own correction and becomes the next revision; one that
//! arrives later ([`decide_within`]) would rewrite data the engine may already have judged, so
//! it is kept as a pending revision ([`Decision::Pending`]) and changes nothing until the bureau
//! approves it. Data never stored (a history re-upload filling a gap) is new whatever its age.

use crate::Verdict;

/// What is stored for a record: its latest revision and whether the incoming values are the
/// same as that revision's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latest {
    /// 0 for the first version, 1, 2, … for later different versions.
    pub revision: u32,
    /// The incoming values equal the stored latest ones (`Values::same_as`).
    pub same_values: bool,
}

/// What to do with an incoming measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Nothing stored for the record yet: store it as revision 0.
    New,
    /// Identical to the latest stored revision: do not store it again.
    Duplicate,
    /// Different from the latest stored revision: store it as this revision.
    Revision(u32),
    /// Different from a stored record first received longer ago than the revision window: keep
    /// it aside as a pending revision; the stored values stand until it is approved.
    Pending,
}

impl Decision {
    /// The revision to store, `None` for a duplicate.
    pub fn revision(self) -> Option<u32> {
        match self {
            Decision::New => Some(0),
            Decision::Duplicate | Decision::Pending => None,
            Decision::Revision(n) => Some(n),
        }
    }
}

/// How an incoming measurement relates to what is stored for its record, for a caller that does
/// not number revisions (replay keeps only the latest values of each record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Nothing stored for the record yet.
    New,
    /// Identical to the latest stored revision.
    Duplicate,
    /// Different from the latest stored revision: it becomes the latest.
    Revision,
}

/// The rule itself, from whether the record is stored and, if so, whether the incoming values
/// equal its latest revision (`None`: nothing stored yet).
pub fn arrival(same_as_latest: Option<bool>) -> Arrival {
    match same_as_latest {
        None => Arrival::New,
        Some(true) => Arrival::Duplicate,
        Some(false) => Arrival::Revision,
    }
}

/// Decide from what is stored for the record (`None`: nothing yet), numbering the revision.
pub fn decide(latest: Option<Latest>) -> Decision {
    match (arrival(latest.map(|l| l.same_values)), latest) {
        (Arrival::New, _) | (_, None) => Decision::New,
        (Arrival::Duplicate, _) => Decision::Duplicate,
        // Saturating: a record revised four billion times keeps its last slot rather than
        // wrapping to 0 and posing as the first version.
        (Arrival::Revision, Some(l)) => Decision::Revision(l.revision.saturating_add(1)),
    }
}

/// The default revision window (`--revision-window-min`): ten minutes.
pub const DEFAULT_WINDOW_MS: i64 = 10 * 60_000;

/// [`decide`] under the revision window: a change to a record first received at
/// `first_received_at` that arrives at `arrived_at` more than `window_ms` later is
/// [`Decision::Pending`]. New records and identical re-sends are decided as by [`decide`],
/// whatever their age. A negative window counts as zero.
pub fn decide_within(
    latest: Option<Latest>,
    first_received_at: i64,
    arrived_at: i64,
    window_ms: i64,
) -> Decision {
    match decide(latest) {
        Decision::Revision(_) if arrived_at.saturating_sub(first_received_at) > window_ms.max(0) => {
            Decision::Pending
        }
        d => d,
    }
}

/// The verdict a frame is stored with: [`Verdict::Duplicate`] when it carried measurements and
/// every one of them was a duplicate (the logger re-sent an acknowledged packet), else the
/// verdict it was received with. A frame without measurements (a heartbeat, a reply) keeps its
/// verdict.
pub fn frame_verdict(received: Verdict, measurements: usize, duplicates: usize) -> Verdict {
    if measurements > 0 && duplicates == measurements { Verdict::Duplicate } else { received }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals() {
        assert_eq!(arrival(None), Arrival::New);
        assert_eq!(arrival(Some(true)), Arrival::Duplicate);
        assert_eq!(arrival(Some(false)), Arrival::Revision);
    }

    #[test]
    fn nothing_stored_is_new() {
        assert_eq!(decide(None), Decision::New);
        assert_eq!(Decision::New.revision(), Some(0));
    }

    #[test]
    fn same_values_are_a_duplicate_whatever_the_revision() {
        for revision in [0, 1, 7] {
            assert_eq!(decide(Some(Latest { revision, same_values: true })), Decision::Duplicate);
        }
        assert_eq!(Decision::Duplicate.revision(), None);
    }

    #[test]
    fn different_values_are_the_next_revision() {
        assert_eq!(decide(Some(Latest { revision: 0, same_values: false })), Decision::Revision(1));
        assert_eq!(decide(Some(Latest { revision: 4, same_values: false })), Decision::Revision(5));
        assert_eq!(Decision::Revision(5).revision(), Some(5));
        assert_eq!(
            decide(Some(Latest { revision: u32::MAX, same_values: false })),
            Decision::Revision(u32::MAX)
        );
    }

    #[test]
    fn a_late_change_is_pending_and_a_late_first_or_identical_send_is_not() {
        let changed = Some(Latest { revision: 0, same_values: false });
        let same = Some(Latest { revision: 0, same_values: true });
        let w = DEFAULT_WINDOW_MS;
        assert_eq!(decide_within(changed, 0, w, w), Decision::Revision(1), "at the window's edge");
        assert_eq!(decide_within(changed, 0, w + 1, w), Decision::Pending);
        assert_eq!(decide_within(None, 0, 100 * w, w), Decision::New, "history fills a gap");
        assert_eq!(decide_within(same, 0, 100 * w, w), Decision::Duplicate);
        assert_eq!(decide_within(changed, 0, 1, -5), Decision::Pending);
        assert_eq!(Decision::Pending.revision(), None);
    }

    #[test]
    fn a_frame_of_only_duplicates_is_a_duplicate() {
        assert_eq!(frame_verdict(Verdict::Accepted, 3, 3), Verdict::Duplicate);
        assert_eq!(frame_verdict(Verdict::Accepted, 3, 2), Verdict::Accepted);
        assert_eq!(frame_verdict(Verdict::Accepted, 0, 0), Verdict::Accepted);
        assert_eq!(frame_verdict(Verdict::Rejected, 0, 0), Verdict::Rejected);
    }
}
