//! Fault injection and call counting.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tonic::{Code, Status};

/// Whether `pattern` names the gRPC method `method` (given as `"Points/Upsert"`): the same
/// `"Points/Upsert"`, the short name `"Upsert"`, or the path `"/qdrant.Points/Upsert"`.
pub(crate) fn method_matches(pattern: &str, method: &str) -> bool {
    if pattern == method {
        return true;
    }
    if let Some((_, short)) = method.split_once('/')
        && pattern == short
    {
        return true;
    }
    pattern
        .strip_prefix("/qdrant.")
        .is_some_and(|rest| rest == method)
}

#[derive(Debug)]
struct Rule {
    remaining: u32,
    code: Code,
    method: Option<String>,
}

impl Rule {
    fn applies(&self, method: &str) -> bool {
        self.remaining > 0
            && self
                .method
                .as_deref()
                .is_none_or(|pattern| method_matches(pattern, method))
    }
}

#[derive(Debug, Default)]
struct State {
    before: VecDeque<Rule>,
    after: VecDeque<Rule>,
    delay: Duration,
}

/// Faults the server injects into the calls it receives. Thread-safe; shared with the running
/// service, so changes apply to the next call.
///
/// Rules queue up: each call consumes at most one `fail_next` rule (the oldest that matches it)
/// and, once applied, at most one `fail_after_apply` rule. The health check that
/// `qdrant_client::Qdrant::from_url(..).build()` makes (unless the compatibility check is skipped)
/// is a call like any other.
///
/// `qdrant-client` retries a `Points` call (not a `Collections` call) once, on a new connection,
/// when it fails with `Internal`, `Unavailable`, `Cancelled` or `Unknown`: one injected failure
/// with those codes on a `Points` method is invisible to the caller (but shows in the call
/// counters), two in a row are not.
#[derive(Debug, Default)]
pub struct Faults {
    state: Mutex<State>,
}

impl Faults {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next `n` calls (of any method, or only of the methods `method` names, as in
    /// [`crate::Loopback::calls_to`]) fail with `code` before touching any data.
    pub fn fail_next(&self, n: u32, code: Code, method: Option<&str>) {
        self.lock().before.push_back(Rule {
            remaining: n,
            code,
            method: method.map(str::to_string),
        });
    }

    /// The next `n` calls that succeed are applied to the data and then fail with `code`, as a
    /// reply lost on the way back: the write happened but the client saw an error.
    pub fn fail_after_apply(&self, n: u32, code: Code) {
        self.fail_after_apply_to(n, code, None);
    }

    /// As [`Self::fail_after_apply`], for the methods `method` names only.
    pub fn fail_after_apply_to(&self, n: u32, code: Code, method: Option<&str>) {
        self.lock().after.push_back(Rule {
            remaining: n,
            code,
            method: method.map(str::to_string),
        });
    }

    /// Stalls every call for `d` before handling it (for deadline tests); zero turns it off.
    pub fn delay(&self, d: Duration) {
        self.lock().delay = d;
    }

    /// Removes every rule and the delay.
    pub fn clear(&self) {
        *self.lock() = State::default();
    }

    /// How many injected failures are still queued (both kinds).
    pub fn pending(&self) -> u64 {
        let state = self.lock();
        state
            .before
            .iter()
            .chain(state.after.iter())
            .map(|r| u64::from(r.remaining))
            .sum()
    }

    pub(crate) fn current_delay(&self) -> Duration {
        self.lock().delay
    }

    pub(crate) fn take_before(&self, method: &str) -> Option<Status> {
        take(&mut self.lock().before, method).map(|code| injected(code, method, "before applying"))
    }

    pub(crate) fn take_after(&self, method: &str) -> Option<Status> {
        take(&mut self.lock().after, method).map(|code| injected(code, method, "after applying"))
    }
}

fn take(rules: &mut VecDeque<Rule>, method: &str) -> Option<Code> {
    let rule = rules.iter_mut().find(|r| r.applies(method))?;
    rule.remaining -= 1;
    let code = rule.code;
    rules.retain(|r| r.remaining > 0);
    Some(code)
}

fn injected(code: Code, method: &str, when: &str) -> Status {
    Status::new(
        code,
        format!("qdrant-loopback: injected {code:?} fault on {method} ({when})"),
    )
}

/// Call counters, per gRPC method.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    total: AtomicU64,
    per_method: Mutex<BTreeMap<&'static str, u64>>,
}

impl Counters {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<&'static str, u64>> {
        self.per_method.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn record(&self, method: &'static str) {
        self.total.fetch_add(1, Ordering::Relaxed);
        *self.lock().entry(method).or_default() += 1;
    }

    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    pub fn matching(&self, pattern: &str) -> u64 {
        self.lock()
            .iter()
            .filter(|(m, _)| method_matches(pattern, m))
            .map(|(_, n)| n)
            .sum()
    }

    pub fn all(&self) -> Vec<(&'static str, u64)> {
        self.lock().iter().map(|(m, n)| (*m, *n)).collect()
    }

    pub fn reset(&self) {
        let mut map = self.lock();
        self.total.store(0, Ordering::Relaxed);
        map.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names_match_three_ways() {
        assert!(method_matches("Points/Upsert", "Points/Upsert"));
        assert!(method_matches("Upsert", "Points/Upsert"));
        assert!(method_matches("/qdrant.Points/Upsert", "Points/Upsert"));
        assert!(!method_matches("Points/Upsert", "Points/Query"));
        assert!(method_matches("Get", "Collections/Get"));
        assert!(!method_matches("Collections/Get", "Points/Get"));
    }

    #[test]
    fn rules_are_consumed_in_order_and_by_method() {
        let f = Faults::default();
        f.fail_next(1, Code::Unavailable, Some("Query"));
        f.fail_next(2, Code::Internal, None);
        assert_eq!(f.pending(), 3);
        assert_eq!(f.take_before("Points/Upsert").unwrap().code(), Code::Internal);
        assert_eq!(f.take_before("Points/Query").unwrap().code(), Code::Unavailable);
        assert_eq!(f.take_before("Points/Query").unwrap().code(), Code::Internal);
        assert!(f.take_before("Points/Query").is_none());
        f.fail_after_apply(1, Code::DeadlineExceeded);
        assert!(f.take_before("Points/Upsert").is_none());
        let st = f.take_after("Points/Upsert").unwrap();
        assert_eq!(st.code(), Code::DeadlineExceeded);
        assert!(st.message().contains("Points/Upsert"));
        assert_eq!(f.pending(), 0);
        f.delay(Duration::from_millis(5));
        f.fail_next(3, Code::Unknown, None);
        f.clear();
        assert_eq!(f.current_delay(), Duration::ZERO);
        assert_eq!(f.pending(), 0);
    }
}
