//! Platform-initiated commands to a device: their statuses and which status may follow which.
//!
//! A command is queued by an operator or the platform, sent when the device is online (and
//! re-sent under a new QN when no 9011 comes back), accepted on QnRtn=1 and finished by the
//! 9012 (or the reply the command asks for). A command still open when its device reconnects is
//! executed again from the start, so `Accepted` may go back to `Sent`. Final statuses never
//! change.

/// Lifecycle of a platform-initiated command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandStatus {
    /// Waiting for the device to be online.
    Queued,
    /// Sent; waiting for 9011 (or the data/notify reply).
    Sent,
    /// 9011 QnRtn=1 received; waiting for 9012.
    Accepted,
    /// Finished: 9012 ExeRtn=1, or the expected reply arrived.
    Done,
    /// Refused or failed (QnRtn ≠ 1, ExeRtn ≠ 1).
    Failed,
    /// No answer after the retries.
    TimedOut,
    Cancelled,
}

impl CommandStatus {
    pub const ALL: [CommandStatus; 7] = [
        CommandStatus::Queued,
        CommandStatus::Sent,
        CommandStatus::Accepted,
        CommandStatus::Done,
        CommandStatus::Failed,
        CommandStatus::TimedOut,
        CommandStatus::Cancelled,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CommandStatus::Queued => "queued",
            CommandStatus::Sent => "sent",
            CommandStatus::Accepted => "accepted",
            CommandStatus::Done => "done",
            CommandStatus::Failed => "failed",
            CommandStatus::TimedOut => "timed_out",
            CommandStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<CommandStatus> {
        CommandStatus::ALL.into_iter().find(|c| c.name() == s)
    }

    /// The command is over: nothing will be sent for it again.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            CommandStatus::Done | CommandStatus::Failed | CommandStatus::TimedOut | CommandStatus::Cancelled
        )
    }

    /// Whether a command in this status may be recorded as `next`.
    ///
    /// A queued command is sent or cancelled; once sent it may be re-sent (`Sent` again, with
    /// another QN), accepted, or finish any way; an accepted command may be accepted again (a
    /// data reply after the 9011), sent again (re-executed after a reconnect) or finish. Nothing
    /// goes back to `Queued`, and a final status is kept.
    pub fn can_become(self, next: CommandStatus) -> bool {
        use CommandStatus as S;
        match self {
            S::Queued => matches!(next, S::Sent | S::Cancelled),
            S::Sent | S::Accepted => next != S::Queued,
            S::Done | S::Failed | S::TimedOut | S::Cancelled => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CommandStatus as S;

    #[test]
    fn names_round_trip() {
        for s in S::ALL {
            assert_eq!(S::parse(s.name()), Some(s));
        }
        assert_eq!(S::parse("timedout"), None);
    }

    #[test]
    fn final_statuses_never_change() {
        for s in S::ALL.into_iter().filter(|s| s.is_final()) {
            assert!(S::ALL.into_iter().all(|n| !s.can_become(n)), "{s:?}");
        }
        assert_eq!(S::ALL.into_iter().filter(|s| s.is_final()).count(), 4);
    }

    #[test]
    fn the_gateway_paths_are_legal() {
        // Sent, re-sent, accepted, done; and a re-execution after a reconnect.
        let path = [S::Queued, S::Sent, S::Sent, S::Accepted, S::Sent, S::Accepted, S::Done];
        for w in path.windows(2) {
            assert!(w[0].can_become(w[1]), "{:?} → {:?}", w[0], w[1]);
        }
        for end in [S::Failed, S::TimedOut, S::Cancelled, S::Done] {
            assert!(S::Sent.can_become(end) && S::Accepted.can_become(end));
        }
        assert!(S::Queued.can_become(S::Cancelled));
    }

    #[test]
    fn nothing_skips_sending_or_goes_back_to_the_queue() {
        for n in [S::Queued, S::Accepted, S::Done, S::Failed, S::TimedOut] {
            assert!(!S::Queued.can_become(n), "{n:?}");
        }
        assert!(!S::Sent.can_become(S::Queued) && !S::Accepted.can_become(S::Queued));
    }
}
