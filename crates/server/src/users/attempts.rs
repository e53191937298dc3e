//! Failed attempts per user, for sign-in and confirmation codes: after
//! `FREE` failures in a row each further attempt is refused unchecked for a
//! lockout that doubles from 1 s up to 15 min, as Cognito does. A success
//! clears the count. Kept in memory: a restart forgets it, which only gives
//! an attacker a few more guesses per restart.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const FREE: u32 = 5;
const MAX_LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// Names tracked at most; beyond it, names no longer locked are forgotten.
const CAPACITY: usize = 10_000;

#[derive(Default)]
pub struct Attempts {
    failures: Mutex<HashMap<String, Failures>>,
}

struct Failures {
    count: u32,
    locked_until: Option<Instant>,
}

impl Attempts {
    /// Whether `name` may try now.
    pub fn allowed(&self, name: &str) -> bool {
        let failures = self.failures.lock().expect("not poisoned");
        failures
            .get(name)
            .and_then(|f| f.locked_until)
            .is_none_or(|until| Instant::now() >= until)
    }

    pub fn failed(&self, name: &str) {
        let mut failures = self.failures.lock().expect("not poisoned");
        if failures.len() >= CAPACITY && !failures.contains_key(name) {
            let now = Instant::now();
            failures.retain(|_, f| f.locked_until.is_some_and(|until| until > now));
        }
        let entry = failures.entry(name.to_string()).or_insert(Failures {
            count: 0,
            locked_until: None,
        });
        entry.count += 1;
        if entry.count >= FREE {
            let doublings = (entry.count - FREE).min(10);
            let lockout = Duration::from_secs(1 << doublings).min(MAX_LOCKOUT);
            entry.locked_until = Some(Instant::now() + lockout);
        }
    }

    pub fn succeeded(&self, name: &str) {
        self.failures.lock().expect("not poisoned").remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_lock_the_name_out_and_a_success_clears_it() {
        let attempts = Attempts::default();
        for _ in 0..FREE - 1 {
            attempts.failed("a");
            assert!(attempts.allowed("a"));
        }
        attempts.failed("a");
        assert!(!attempts.allowed("a"), "locked after {FREE} failures");
        assert!(attempts.allowed("b"), "other names are not affected");
        attempts.succeeded("a");
        assert!(attempts.allowed("a"));
    }

    #[test]
    fn the_lockout_doubles_up_to_fifteen_minutes() {
        let attempts = Attempts::default();
        for _ in 0..40 {
            attempts.failed("a");
        }
        let until = attempts.failures.lock().unwrap()["a"].locked_until.unwrap();
        let left = until - Instant::now();
        assert!(left > MAX_LOCKOUT - Duration::from_secs(5) && left <= MAX_LOCKOUT);
    }
}
