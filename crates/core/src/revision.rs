//! The revision rule: what storing a measurement does, given what is stored for its record
//! (MN, CN, DataTime, factor).
//!
//! A data logger re-sends what it is not sure was acknowledged, and may later correct a value it
//! sent. A re-send identical to the latest stored revision is a duplicate and is not stored
//! again; a different value is kept as the next revision, so nothing a device ever sent is lost
//! and the rules read the latest. Backends decide with [`decide`] and label frames with
//! [`frame_verdict`].

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
}

impl Decision {
    /// The revision to store, `None` for a duplicate.
    pub fn revision(self) -> Option<u32> {
        match self {
            Decision::New => Some(0),
            Decision::Duplicate => None,
            Decision::Revision(n) => Some(n),
        }
    }
}

/// Decide from what is stored for the record (`None`: nothing yet).
pub fn decide(latest: Option<Latest>) -> Decision {
    match latest {
        None => Decision::New,
        Some(l) if l.same_values => Decision::Duplicate,
        // Saturating: a record revised four billion times keeps its last slot rather than
        // wrapping to 0 and posing as the first version.
        Some(l) => Decision::Revision(l.revision.saturating_add(1)),
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
    fn a_frame_of_only_duplicates_is_a_duplicate() {
        assert_eq!(frame_verdict(Verdict::Accepted, 3, 3), Verdict::Duplicate);
        assert_eq!(frame_verdict(Verdict::Accepted, 3, 2), Verdict::Accepted);
        assert_eq!(frame_verdict(Verdict::Accepted, 0, 0), Verdict::Accepted);
        assert_eq!(frame_verdict(Verdict::Rejected, 0, 0), Verdict::Rejected);
    }
}
