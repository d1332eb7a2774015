//! The per-image time budget (`Config::time_budget_ms`) as a deadline that
//! work checks between its steps.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// When an analysis must stop starting new work, and whether it had to.
/// Work already running is not interrupted: the checks sit between steps
/// (detectors, references), so an analysis overruns by at most one step.
#[derive(Debug)]
pub(crate) struct Deadline {
    at: Option<Instant>,
    /// Set by the first [`Deadline::expired`] that answered `true`.
    cut: AtomicBool,
}

impl Deadline {
    /// `budget_ms` from `start`; `0` is no deadline, and neither is one
    /// past what the clock can represent.
    pub(crate) fn new(start: Instant, budget_ms: u64) -> Self {
        Deadline {
            at: (budget_ms > 0)
                .then(|| start.checked_add(Duration::from_millis(budget_ms)))
                .flatten(),
            cut: AtomicBool::new(false),
        }
    }

    /// No deadline: nothing is ever cut.
    pub(crate) fn none() -> Self {
        Deadline {
            at: None,
            cut: AtomicBool::new(false),
        }
    }

    /// The same instant, not yet cut: for a part of the work that reports
    /// on its own whether it was cut short.
    pub(crate) fn fresh(&self) -> Self {
        Deadline {
            at: self.at,
            cut: AtomicBool::new(false),
        }
    }

    /// Whether the deadline has passed; the caller then skips its step,
    /// which [`Deadline::was_cut`] remembers.
    pub(crate) fn expired(&self) -> bool {
        let expired = self.at.is_some_and(|at| Instant::now() >= at);
        if expired {
            self.cut.store(true, Ordering::Relaxed);
        }
        expired
    }

    /// Whether some step was skipped for the deadline.
    pub(crate) fn was_cut(&self) -> bool {
        self.cut.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_cuts_only_once_it_has_passed() {
        let never = Deadline::none();
        assert!(!never.expired());
        assert!(!never.was_cut());
        let unlimited = Deadline::new(Instant::now(), 0);
        assert!(!unlimited.expired());
        let later = Deadline::new(Instant::now(), 60_000);
        assert!(!later.expired());
        assert!(!Deadline::new(Instant::now(), u64::MAX).expired());
        assert!(!later.was_cut());
        let past = Deadline::new(Instant::now() - Duration::from_millis(5), 1);
        assert!(!past.was_cut());
        assert!(past.expired());
        assert!(past.was_cut());
        let part = past.fresh();
        assert!(!part.was_cut(), "a fresh part starts uncut");
        assert!(part.expired());
    }
}
