//! How far a run has got, told to whoever watches: the library never draws.
//!
//! [`index_path`](crate::index_path) calls a [`Progress`] as it goes; the `loupe` command draws
//! the calls as terminal bars, the server's index jobs keep them as [`Counters`] for
//! `GET /v1/jobs/{id}`, and everything else passes [`NoProgress`]. Calls come from several threads
//! (files are read in parallel), so an implementation is `Send + Sync`.

use std::sync::atomic::{AtomicU64, Ordering};

/// What a run reports while it goes. Every method has an empty default.
pub trait Progress: Send + Sync {
    /// The walk over the root starts.
    fn walk_started(&self) {}
    /// The walk found one more file (whether or not Loupe reads it).
    fn file_found(&self) {}
    /// The walk is over: `total` files are new or changed and will be read (unchanged ones are
    /// not counted).
    fn walk_done(&self, _total: u64) {}
    /// What the run is busy with now, for a status line ("report.pdf: page 3/12").
    fn status(&self, _text: &str) {}
    /// `n` more of the `total` files are written (or failed).
    fn files_done(&self, _n: u64) {}
    /// The run is over, complete or interrupted (not called when it stops with an error).
    fn finished(&self) {}
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// Counters another thread can read while the run goes on (the server's index jobs).
#[derive(Debug)]
pub struct Counters {
    /// Files found by the walk so far.
    pub seen: AtomicU64,
    /// Files to read; `u64::MAX` until the walk is over.
    pub total: AtomicU64,
    /// Files written (or failed) so far.
    pub done: AtomicU64,
}

impl Default for Counters {
    fn default() -> Self {
        Self::new()
    }
}

impl Counters {
    pub fn new() -> Self {
        Self {
            seen: AtomicU64::new(0),
            total: AtomicU64::new(u64::MAX),
            done: AtomicU64::new(0),
        }
    }

    /// The files to read, once the walk is over.
    pub fn total(&self) -> Option<u64> {
        Some(self.total.load(Ordering::Relaxed)).filter(|t| *t != u64::MAX)
    }
}

impl Progress for Counters {
    fn file_found(&self) {
        self.seen.fetch_add(1, Ordering::Relaxed);
    }

    fn walk_done(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
    }

    fn files_done(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_follow_the_calls() {
        let c = Counters::new();
        assert_eq!(c.total(), None);
        c.walk_started();
        c.file_found();
        c.file_found();
        c.walk_done(1);
        c.status("a.jpg");
        c.files_done(1);
        c.finished();
        assert_eq!(c.seen.load(Ordering::Relaxed), 2);
        assert_eq!(c.total(), Some(1));
        assert_eq!(c.done.load(Ordering::Relaxed), 1);
    }
}
