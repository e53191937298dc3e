//! Failed attempts per name, for sign-in and confirmation codes: after
//! `FREE` failures in a row each further attempt is refused unchecked for a
//! lockout that doubles from 1 s up to 15 min, as Cognito does. A success
//! clears the count. Kept in memory: a restart forgets it, which only gives
//! an attacker a few more guesses per restart.
//!
//! An attempt is reserved before its check runs ([`Attempts::begin`]): only
//! one check per name runs at a time, later ones wait their turn and then
//! see the lockout the earlier ones earned, and an attempt counts as failed
//! unless it is settled as a success (a client that hangs up during the
//! check has still used a guess). Without the turn, forty guesses sent at
//! once were all checked before the first failure was recorded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Mutex as Turn, OwnedMutexGuard};

const FREE: u32 = 5;
const MAX_LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// Names tracked before idle ones are forgotten. Names with a lockout in
/// the last `MAX_LOCKOUT` are never forgotten, so flooding the table with
/// other names cannot reset a locked name's count.
const CAPACITY: usize = 10_000;

#[derive(Default)]
pub struct Attempts {
    names: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    count: u32,
    locked_until: Option<Instant>,
    last_failure: Option<Instant>,
    /// Held while one attempt for the name is being checked.
    turn: Arc<Turn<()>>,
}

impl Entry {
    fn new() -> Self {
        Entry {
            count: 0,
            locked_until: None,
            last_failure: None,
            turn: Arc::new(Turn::new(())),
        }
    }

    /// Nothing would be lost by forgetting it: no check is running, it is
    /// not locked, and it never was or was last locked long ago.
    fn forgettable(&self, now: Instant) -> bool {
        Arc::strong_count(&self.turn) == 1
            && self.locked_until.is_none_or(|until| until <= now)
            && (self.count < FREE
                || self
                    .last_failure
                    .is_none_or(|at| now.duration_since(at) >= MAX_LOCKOUT))
    }
}

/// The name is locked out: refuse without checking.
#[derive(Debug, PartialEq, Eq)]
pub struct Locked;

/// One reserved attempt: it counts as failed unless [`Attempt::succeeded`]
/// or [`Attempt::withdraw`] is called.
pub struct Attempt<'a> {
    attempts: &'a Attempts,
    name: String,
    settled: bool,
    _turn: OwnedMutexGuard<()>,
}

impl Attempts {
    /// Wait for the name's turn, then reserve an attempt unless the name is
    /// locked out.
    pub async fn begin(&self, name: &str) -> Result<Attempt<'_>, Locked> {
        let turn = {
            let mut names = self.names.lock().expect("not poisoned");
            if names.len() >= CAPACITY && !names.contains_key(name) {
                let now = Instant::now();
                names.retain(|_, e| !e.forgettable(now));
            }
            names
                .entry(name.to_string())
                .or_insert_with(Entry::new)
                .turn
                .clone()
        };
        let turn = turn.lock_owned().await;
        let names = self.names.lock().expect("not poisoned");
        let locked = names
            .get(name)
            .and_then(|e| e.locked_until)
            .is_some_and(|until| Instant::now() < until);
        if locked {
            return Err(Locked);
        }
        Ok(Attempt {
            attempts: self,
            name: name.to_string(),
            settled: false,
            _turn: turn,
        })
    }

    fn failed(&self, name: &str) {
        let mut names = self.names.lock().expect("not poisoned");
        let entry = names.entry(name.to_string()).or_insert_with(Entry::new);
        let now = Instant::now();
        entry.count += 1;
        entry.last_failure = Some(now);
        if entry.count >= FREE {
            let doublings = (entry.count - FREE).min(10);
            let lockout = Duration::from_secs(1 << doublings).min(MAX_LOCKOUT);
            entry.locked_until = Some(now + lockout);
        }
    }

    fn succeeded(&self, name: &str) {
        if let Some(entry) = self.names.lock().expect("not poisoned").get_mut(name) {
            entry.count = 0;
            entry.locked_until = None;
            entry.last_failure = None;
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.names.lock().unwrap().len()
    }
}

impl Attempt<'_> {
    /// The check passed: the name's count starts again.
    pub fn succeeded(mut self) {
        self.settled = true;
        self.attempts.succeeded(&self.name);
    }

    /// Nothing was checked (the server was too busy to check): no guess used.
    pub fn withdraw(mut self) {
        self.settled = true;
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.attempts.failed(&self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn fail(attempts: &Attempts, name: &str) {
        drop(attempts.begin(name).await.expect("allowed"));
    }

    #[tokio::test]
    async fn five_failures_lock_the_name_out_and_a_success_clears_it() {
        let attempts = Attempts::default();
        for _ in 0..FREE {
            fail(&attempts, "a").await;
        }
        assert_eq!(
            attempts.begin("a").await.err(),
            Some(Locked),
            "locked after {FREE} failures"
        );
        assert!(attempts.begin("b").await.is_ok(), "other names are free");
        attempts
            .names
            .lock()
            .unwrap()
            .get_mut("a")
            .unwrap()
            .locked_until = None;
        attempts.begin("a").await.unwrap().succeeded();
        for _ in 0..FREE - 1 {
            fail(&attempts, "a").await;
        }
        assert!(attempts.begin("a").await.is_ok(), "a success cleared it");
    }

    #[tokio::test]
    async fn the_lockout_doubles_up_to_fifteen_minutes() {
        let attempts = Attempts::default();
        for _ in 0..40 {
            attempts.failed("a");
        }
        let until = attempts.names.lock().unwrap()["a"].locked_until.unwrap();
        let left = until - Instant::now();
        assert!(left > MAX_LOCKOUT - Duration::from_secs(5) && left <= MAX_LOCKOUT);
    }

    #[tokio::test]
    async fn concurrent_attempts_take_turns_and_see_the_lockout() {
        let attempts = Arc::new(Attempts::default());
        let checked = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let tasks: Vec<_> = (0..40)
            .map(|_| {
                let (attempts, checked) = (attempts.clone(), checked.clone());
                tokio::spawn(async move {
                    if let Ok(attempt) = attempts.begin("a").await {
                        checked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        // The check takes a while; every one of them fails.
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        drop(attempt);
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(checked.load(std::sync::atomic::Ordering::SeqCst), FREE);
    }

    #[tokio::test]
    async fn a_withdrawn_attempt_uses_no_guess() {
        let attempts = Attempts::default();
        for _ in 0..FREE * 2 {
            attempts.begin("a").await.unwrap().withdraw();
        }
        assert!(attempts.begin("a").await.is_ok());
    }

    #[tokio::test]
    async fn a_full_table_keeps_locked_names_and_forgets_idle_ones() {
        let attempts = Attempts::default();
        for _ in 0..FREE {
            attempts.failed("victim");
        }
        // The lockout itself has run out, but its history must stay, or
        // the next lockout would start again from 1 s.
        let past = Instant::now() - Duration::from_secs(2);
        attempts
            .names
            .lock()
            .unwrap()
            .get_mut("victim")
            .unwrap()
            .locked_until = Some(past);
        for i in 0..CAPACITY + 10 {
            attempts.failed(&format!("flood{i}"));
            if attempts.len() >= CAPACITY {
                drop(attempts.begin(&format!("new{i}")).await);
            }
        }
        assert!(attempts.len() <= CAPACITY + 1);
        assert_eq!(attempts.names.lock().unwrap()["victim"].count, FREE);
        attempts.failed("victim");
        let until = attempts.names.lock().unwrap()["victim"]
            .locked_until
            .unwrap();
        assert!(until - Instant::now() > Duration::from_secs(1), "doubled");
    }
}
