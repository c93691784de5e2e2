//! Alarms: the lifecycle of the drafts the compliance engine produces (`compliance::alarms`).
//!
//! An alarm is identified by its draft's key. [`reconcile`] decides, from the alarms stored for a
//! device's window and the drafts the engine just produced for it, what to insert and what to
//! change; a store only loads those alarms and applies the changes. Alarms are never deleted:
//! the record of what was raised stays for review.

use std::collections::HashMap;

use crate::compliance::AlarmDraft;

/// Whether an alarm still needs attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlarmStatus {
    Open,
    Resolved,
}

impl AlarmStatus {
    pub fn name(self) -> &'static str {
        match self {
            AlarmStatus::Open => "open",
            AlarmStatus::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<AlarmStatus> {
        [AlarmStatus::Open, AlarmStatus::Resolved].into_iter().find(|v| v.name() == s)
    }

    /// Open alarms resolve, resolved ones re-open; the status never "changes" to itself.
    pub fn can_become(self, next: AlarmStatus) -> bool {
        self != next
    }
}

/// [`Alarm::resolution`] of an alarm whose condition cleared (its draft turned inactive).
pub const RESOLUTION_CLEARED: &str = "cleared";
/// [`Alarm::resolution`] of an alarm whose raising data was revised away: the engine no longer
/// produces its key.
pub const RESOLUTION_WITHDRAWN: &str = "withdrawn";

/// A stored alarm: the latest draft for its key and its lifecycle.
#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    pub id: i64,
    /// The latest draft synced for this key (`active` is false once resolved).
    pub draft: AlarmDraft,
    pub status: AlarmStatus,
    /// Why it was resolved ([`RESOLUTION_CLEARED`], [`RESOLUTION_WITHDRAWN`]); `None` while open.
    pub resolution: Option<String>,
    pub raised_at: i64,
    /// Last time anything about it changed (equal to `raised_at` until then).
    pub updated_at: i64,
    /// When it was (last) resolved; `None` while open.
    pub resolved_at: Option<i64>,
}

/// What a sync did, counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AlarmSync {
    /// New keys, and resolved alarms whose draft became active again (re-opened).
    pub raised: u32,
    /// Alarms whose severity, end, titles or details changed without a change of status.
    pub updated: u32,
    /// Alarms resolved: cleared (draft inactive) or withdrawn (key no longer produced).
    pub resolved: u32,
}

impl std::ops::AddAssign for AlarmSync {
    /// Totals over several syncs (a cycle's windows, several cycles).
    fn add_assign(&mut self, o: AlarmSync) {
        self.raised += o.raised;
        self.updated += o.updated;
        self.resolved += o.resolved;
    }
}

/// Prefix of the keys of security alarms, which the ingest gateway raises (a source guessing
/// device passwords, …) for the bureau to review. The compliance engine does not own them.
pub const SECURITY_KEY_PREFIX: &str = "security:";

/// The alarm kind of security alarms.
pub const SECURITY_KIND: &str = "security";

/// Whether the compliance engine owns the alarm of `key`, and so may resolve or withdraw it when
/// its drafts no longer produce the key. Alarms raised by other parts (security alarms) are never
/// touched by its reconciliation.
pub fn engine_owns(key: &str) -> bool {
    !key.starts_with(SECURITY_KEY_PREFIX)
}

/// The device and the window `[from, to)` (by alarm start) the drafts were produced for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlarmWindow<'a> {
    pub mn: &'a str,
    pub from: i64,
    pub to: i64,
}

impl AlarmWindow<'_> {
    /// Whether a stored alarm lies in the window: of its device, starting within it, and owned
    /// by the engine ([`engine_owns`]): a security alarm of the device is not the engine's to
    /// withdraw.
    pub fn holds(&self, a: &Alarm) -> bool {
        a.draft.mn == self.mn
            && a.draft.start >= self.from
            && a.draft.start < self.to
            && engine_owns(&a.draft.key)
    }
}

/// One alarm to write.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmChange {
    /// The stored alarm this change was decided from; `None` for a key seen for the first time.
    /// A store applies the change only if the alarm is still as it was (see
    /// [`AlarmChange::conflicts_with`]), so two syncs of one window never overwrite each other's
    /// decisions unseen.
    pub before: Option<Alarm>,
    /// The alarm as it is to be stored. For a new key, `id` is 0 (the store assigns it).
    pub after: Alarm,
    /// What this change counts for.
    pub counts: AlarmSync,
}

impl AlarmChange {
    /// Whether `current` (the alarm as stored now) is no longer the alarm this change was
    /// decided from: its lifecycle moved since it was loaded.
    pub fn conflicts_with(&self, current: &Alarm) -> bool {
        match &self.before {
            None => true, // the key exists now, and did not when the change was decided
            Some(b) => {
                (b.status, &b.resolution, b.updated_at, b.draft.active)
                    != (current.status, &current.resolution, current.updated_at, current.draft.active)
            }
        }
    }
}

/// The totals of `changes`.
pub fn tally(changes: &[AlarmChange]) -> AlarmSync {
    let mut sum = AlarmSync::default();
    for c in changes {
        sum += c.counts;
    }
    sum
}

/// Bring the alarms of `window` in line with `drafts`, the drafts the engine produced for it.
///
/// `stored` holds every stored alarm whose key is among `drafts` and every alarm of the window
/// (others are ignored). Per draft key: a new key is raised (open, `raised_at = now`; a draft
/// already inactive is stored resolved as cleared, counted raised and resolved); an open alarm
/// is updated when anything but its status changed, and resolved as cleared when its draft is
/// inactive; a resolved alarm whose draft is active again re-opens (counted raised); a withdrawn
/// alarm whose draft comes back inactive is cleared again (counted updated). Then, per alarm of
/// the window whose key is not among `drafts`: an open one is resolved as withdrawn, a cleared
/// one is marked withdrawn (counted updated). Every change sets `updated_at = now`; an alarm
/// that does not change yields no change. Nothing is ever deleted.
pub fn reconcile(
    stored: &[Alarm],
    drafts: &[AlarmDraft],
    window: AlarmWindow<'_>,
    now: i64,
) -> Vec<AlarmChange> {
    let by_key: HashMap<&str, &Alarm> = stored.iter().map(|a| (a.draft.key.as_str(), a)).collect();
    // One change per key, in the order keys first appear; a key given twice is decided against
    // the result of its first draft, as if synced twice.
    let mut changes: Vec<AlarmChange> = Vec::new();
    let mut at: HashMap<&str, usize> = HashMap::new();
    for d in drafts {
        let current = match at.get(d.key.as_str()) {
            Some(&i) => Some(&changes[i].after),
            None => by_key.get(d.key.as_str()).copied(),
        };
        let Some((after, counts)) = next_state(current, d, now) else { continue };
        match at.get(d.key.as_str()) {
            Some(&i) => {
                changes[i].after = after;
                changes[i].counts += counts;
            }
            None => {
                at.insert(d.key.as_str(), changes.len());
                let before = by_key.get(d.key.as_str()).map(|a| (*a).clone());
                changes.push(AlarmChange { before, after, counts });
            }
        }
    }

    let produced: std::collections::HashSet<&str> = drafts.iter().map(|d| d.key.as_str()).collect();
    for a in stored.iter().filter(|a| window.holds(a) && !produced.contains(a.draft.key.as_str())) {
        let (after, counts) = match (a.status, a.resolution.as_deref()) {
            (AlarmStatus::Open, _) => {
                let mut after = a.clone();
                after.draft.active = false;
                after.status = AlarmStatus::Resolved;
                after.resolution = Some(RESOLUTION_WITHDRAWN.into());
                after.resolved_at = Some(now);
                after.updated_at = now;
                (after, AlarmSync { resolved: 1, ..AlarmSync::default() })
            }
            // It had cleared, but revised data no longer produces its episode or finding
            // (merged into another, or gone): its record says so too.
            (AlarmStatus::Resolved, Some(RESOLUTION_CLEARED)) => {
                let mut after = a.clone();
                after.resolution = Some(RESOLUTION_WITHDRAWN.into());
                after.updated_at = now;
                (after, AlarmSync { updated: 1, ..AlarmSync::default() })
            }
            (AlarmStatus::Resolved, _) => continue,
        };
        changes.push(AlarmChange { before: Some(a.clone()), after, counts });
    }
    changes
}

/// What draft `d` makes of the alarm `current` of its key (`None`: a new key); `None` when
/// nothing changes.
fn next_state(current: Option<&Alarm>, d: &AlarmDraft, now: i64) -> Option<(Alarm, AlarmSync)> {
    let one = |raised, updated, resolved| AlarmSync { raised, updated, resolved };
    let Some(a) = current else {
        let alarm = if d.active {
            Alarm {
                id: 0,
                draft: d.clone(),
                status: AlarmStatus::Open,
                resolution: None,
                raised_at: now,
                updated_at: now,
                resolved_at: None,
            }
        } else {
            Alarm {
                id: 0,
                draft: d.clone(),
                status: AlarmStatus::Resolved,
                resolution: Some(RESOLUTION_CLEARED.into()),
                raised_at: now,
                updated_at: now,
                resolved_at: Some(now),
            }
        };
        let counts = if d.active { one(1, 0, 0) } else { one(1, 0, 1) };
        return Some((alarm, counts));
    };
    let withdrawn = a.resolution.as_deref() == Some(RESOLUTION_WITHDRAWN);
    let (status, resolution, resolved_at, counts) = match (a.status, d.active) {
        (AlarmStatus::Open, true) if a.draft == *d => return None,
        (AlarmStatus::Open, true) => (AlarmStatus::Open, None, None, one(0, 1, 0)),
        (AlarmStatus::Open, false) => {
            (AlarmStatus::Resolved, Some(RESOLUTION_CLEARED.to_string()), Some(now), one(0, 0, 1))
        }
        (AlarmStatus::Resolved, true) => (AlarmStatus::Open, None, None, one(1, 0, 0)),
        // A withdrawn alarm whose episode or finding is produced again, over: cleared.
        (AlarmStatus::Resolved, false) if withdrawn => {
            (AlarmStatus::Resolved, Some(RESOLUTION_CLEARED.to_string()), a.resolved_at, one(0, 1, 0))
        }
        (AlarmStatus::Resolved, false) if a.draft == *d => return None,
        (AlarmStatus::Resolved, false) => {
            (AlarmStatus::Resolved, a.resolution.clone(), a.resolved_at, one(0, 1, 0))
        }
    };
    let after = Alarm { draft: d.clone(), status, resolution, updated_at: now, resolved_at, ..a.clone() };
    Some((after, counts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::Severity;

    const MN: &str = "88888880000001";
    const W: AlarmWindow<'static> = AlarmWindow { mn: MN, from: 1_000, to: 2_000 };
    const T0: i64 = 10_000;
    const NOW: i64 = 20_000;

    fn draft(key: &str, start: i64, active: bool) -> AlarmDraft {
        AlarmDraft {
            key: key.into(),
            mn: MN.into(),
            outlet: "DA001".into(),
            factor: Some("a21026".into()),
            kind: "exceedance".into(),
            severity: Severity::Warning,
            start,
            end: start + 100,
            active,
            title_zh: "超标".into(),
            title_en: "exceedance".into(),
            detail_zh: "d".into(),
            detail_en: "d".into(),
        }
    }

    #[test]
    fn security_alarms_in_the_window_are_never_withdrawn() {
        let security = AlarmDraft {
            kind: SECURITY_KIND.into(),
            ..draft("security:password:10.0.0.1:1100", 1_100, true)
        };
        let stored = [open(7, security), open(8, draft("k1", 1_200, true))];
        let window = AlarmWindow { mn: MN, from: 1_000, to: 2_000 };
        let changes = reconcile(&stored, &[], window, T0 + 5);
        // Only the engine's own alarm is withdrawn.
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].after.draft.key, "k1");
        assert_eq!(changes[0].after.resolution.as_deref(), Some(RESOLUTION_WITHDRAWN));
    }

    fn open(id: i64, d: AlarmDraft) -> Alarm {
        Alarm {
            id,
            draft: d,
            status: AlarmStatus::Open,
            resolution: None,
            raised_at: T0,
            updated_at: T0,
            resolved_at: None,
        }
    }

    fn resolved(id: i64, mut d: AlarmDraft, resolution: &str) -> Alarm {
        d.active = false;
        Alarm {
            id,
            draft: d,
            status: AlarmStatus::Resolved,
            resolution: Some(resolution.into()),
            raised_at: T0,
            updated_at: T0 + 1,
            resolved_at: Some(T0 + 1),
        }
    }

    fn counts(raised: u32, updated: u32, resolved: u32) -> AlarmSync {
        AlarmSync { raised, updated, resolved }
    }

    #[test]
    fn a_new_key_is_raised_open() {
        let d = draft("k1", 1_100, true);
        let changes = reconcile(&[], std::slice::from_ref(&d), W, NOW);
        assert_eq!(changes.len(), 1);
        let c = &changes[0];
        assert_eq!(c.before, None);
        assert_eq!(c.after, Alarm { id: 0, ..open(0, d).with_times(NOW, NOW) });
        assert_eq!(c.counts, counts(1, 0, 0));
    }

    #[test]
    fn an_inactive_new_draft_is_stored_resolved_cleared() {
        let d = draft("k1", 1_100, false);
        let changes = reconcile(&[], std::slice::from_ref(&d), W, NOW);
        let a = &changes[0].after;
        assert_eq!(a.status, AlarmStatus::Resolved);
        assert_eq!(a.resolution.as_deref(), Some(RESOLUTION_CLEARED));
        assert_eq!((a.raised_at, a.updated_at, a.resolved_at), (NOW, NOW, Some(NOW)));
        assert_eq!(changes[0].counts, counts(1, 0, 1));
    }

    #[test]
    fn an_unchanged_open_alarm_is_left_alone() {
        let d = draft("k1", 1_100, true);
        assert!(reconcile(&[open(7, d.clone())], &[d], W, NOW).is_empty());
    }

    #[test]
    fn a_changed_open_alarm_is_updated() {
        let d = draft("k1", 1_100, true);
        let mut grown = d.clone();
        grown.end += 500;
        grown.severity = Severity::Serious;
        let stored = open(7, d);
        let changes = reconcile(std::slice::from_ref(&stored), std::slice::from_ref(&grown), W, NOW);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].before.as_ref(), Some(&stored));
        assert_eq!(changes[0].after, Alarm { draft: grown, updated_at: NOW, ..stored });
        assert_eq!(changes[0].counts, counts(0, 1, 0));
    }

    #[test]
    fn an_inactive_draft_clears_an_open_alarm() {
        let d = draft("k1", 1_100, true);
        let over = draft("k1", 1_100, false);
        let changes = reconcile(&[open(7, d)], std::slice::from_ref(&over), W, NOW);
        let a = &changes[0].after;
        assert_eq!(
            (a.id, a.status, a.resolution.as_deref()),
            (7, AlarmStatus::Resolved, Some(RESOLUTION_CLEARED))
        );
        assert_eq!((a.raised_at, a.updated_at, a.resolved_at), (T0, NOW, Some(NOW)));
        assert_eq!(a.draft, over);
        assert_eq!(changes[0].counts, counts(0, 0, 1));
    }

    #[test]
    fn an_active_draft_reopens_a_resolved_alarm() {
        let d = draft("k1", 1_100, true);
        for resolution in [RESOLUTION_CLEARED, RESOLUTION_WITHDRAWN] {
            let changes = reconcile(&[resolved(7, d.clone(), resolution)], std::slice::from_ref(&d), W, NOW);
            let a = &changes[0].after;
            assert_eq!((a.status, &a.resolution, a.resolved_at), (AlarmStatus::Open, &None, None));
            assert_eq!((a.raised_at, a.updated_at), (T0, NOW), "re-opening keeps when it was first raised");
            assert_eq!(changes[0].counts, counts(1, 0, 0));
        }
    }

    #[test]
    fn a_cleared_alarm_takes_later_details_and_stays_cleared() {
        let d = draft("k1", 1_100, false);
        let stored = resolved(7, d.clone(), RESOLUTION_CLEARED);
        assert!(reconcile(std::slice::from_ref(&stored), std::slice::from_ref(&d), W, NOW).is_empty());
        let mut longer = d;
        longer.end += 60;
        let changes = reconcile(&[stored], &[longer], W, NOW);
        let a = &changes[0].after;
        assert_eq!(
            (a.status, a.resolution.as_deref(), a.resolved_at),
            (AlarmStatus::Resolved, Some(RESOLUTION_CLEARED), Some(T0 + 1))
        );
        assert_eq!(changes[0].counts, counts(0, 1, 0));
    }

    #[test]
    fn an_open_alarm_no_longer_produced_is_withdrawn() {
        let gone = open(7, draft("k1", 1_100, true));
        let changes = reconcile(std::slice::from_ref(&gone), &[], W, NOW);
        assert_eq!(changes.len(), 1);
        let a = &changes[0].after;
        assert_eq!((a.status, a.resolution.as_deref()), (AlarmStatus::Resolved, Some(RESOLUTION_WITHDRAWN)));
        assert_eq!((a.draft.active, a.resolved_at, a.updated_at), (false, Some(NOW), NOW));
        assert_eq!(changes[0].counts, counts(0, 0, 1));
    }

    #[test]
    fn a_cleared_alarm_no_longer_produced_is_marked_withdrawn() {
        let gone = resolved(7, draft("k1", 1_100, true), RESOLUTION_CLEARED);
        let changes = reconcile(std::slice::from_ref(&gone), &[], W, NOW);
        let a = &changes[0].after;
        assert_eq!((a.status, a.resolution.as_deref()), (AlarmStatus::Resolved, Some(RESOLUTION_WITHDRAWN)));
        assert_eq!((a.resolved_at, a.updated_at), (Some(T0 + 1), NOW), "resolved when it cleared");
        assert_eq!(changes[0].counts, counts(0, 1, 0));
        // Already withdrawn: nothing more to say.
        assert!(reconcile(&[changes[0].after.clone()], &[], W, NOW + 1).is_empty());
    }

    #[test]
    fn withdrawn_then_produced_inactive_is_cleared_again() {
        let d = draft("k1", 1_100, false);
        let stored = resolved(7, d.clone(), RESOLUTION_WITHDRAWN);
        let changes = reconcile(&[stored], &[d], W, NOW);
        let a = &changes[0].after;
        assert_eq!(
            (a.status, a.resolution.as_deref(), a.resolved_at),
            (AlarmStatus::Resolved, Some(RESOLUTION_CLEARED), Some(T0 + 1))
        );
        assert_eq!(changes[0].counts, counts(0, 1, 0));
    }

    #[test]
    fn only_alarms_of_the_window_are_withdrawn() {
        let before_window = open(1, draft("k-before", 999, true));
        let at_end = open(2, draft("k-end", 2_000, true));
        let mut other_device = open(3, draft("k-other", 1_100, true));
        other_device.draft.mn = "88888880000002".into();
        let first_instant = open(4, draft("k-first", 1_000, true));
        let changes = reconcile(&[before_window, at_end, other_device, first_instant], &[], W, NOW);
        assert_eq!(changes.iter().map(|c| c.after.id).collect::<Vec<_>>(), vec![4]);
    }

    #[test]
    fn nothing_is_ever_deleted() {
        // Every stored alarm of the window either stays as it is or has a change that keeps it:
        // there is no change kind that removes a row.
        let stored = vec![
            open(1, draft("a", 1_100, true)),
            resolved(2, draft("b", 1_200, true), RESOLUTION_CLEARED),
            resolved(3, draft("c", 1_300, true), RESOLUTION_WITHDRAWN),
            open(4, draft("d", 1_400, true)),
        ];
        let drafts = vec![draft("d", 1_400, false), draft("e", 1_500, true)];
        let changes = reconcile(&stored, &drafts, W, NOW);
        for c in &changes {
            if let Some(b) = &c.before {
                assert_eq!(
                    (b.id, &b.draft.key, b.raised_at),
                    (c.after.id, &c.after.draft.key, c.after.raised_at)
                );
            }
        }
        let ids: Vec<i64> = changes.iter().map(|c| c.after.id).collect();
        assert_eq!(ids, vec![4, 0, 1, 2]);
        assert_eq!(tally(&changes), counts(1, 1, 2));
    }

    #[test]
    fn a_key_given_twice_is_decided_against_its_first_draft() {
        let d = draft("k1", 1_100, true);
        let over = draft("k1", 1_100, false);
        let changes = reconcile(&[], &[d, over], W, NOW);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].after.status, AlarmStatus::Resolved);
        assert_eq!(changes[0].counts, counts(1, 0, 1));
    }

    #[test]
    fn a_change_conflicts_when_the_stored_lifecycle_moved() {
        let stored = open(7, draft("k1", 1_100, true));
        let changes = reconcile(std::slice::from_ref(&stored), &[], W, NOW);
        let c = &changes[0];
        assert!(!c.conflicts_with(&stored));
        let mut moved = stored.clone();
        moved.updated_at += 1;
        assert!(c.conflicts_with(&moved));
        let new = &reconcile(&[], &[draft("k2", 1_100, true)], W, NOW)[0];
        assert!(new.conflicts_with(&stored), "an insert conflicts with any row of its key");
    }

    #[test]
    fn statuses() {
        assert_eq!(AlarmStatus::parse("open"), Some(AlarmStatus::Open));
        assert_eq!(AlarmStatus::parse(AlarmStatus::Resolved.name()), Some(AlarmStatus::Resolved));
        assert_eq!(AlarmStatus::parse("closed"), None);
        assert!(AlarmStatus::Open.can_become(AlarmStatus::Resolved));
        assert!(AlarmStatus::Resolved.can_become(AlarmStatus::Open));
        assert!(!AlarmStatus::Open.can_become(AlarmStatus::Open));
    }

    impl Alarm {
        fn with_times(self, raised_at: i64, updated_at: i64) -> Alarm {
            Alarm { raised_at, updated_at, ..self }
        }
    }
}
