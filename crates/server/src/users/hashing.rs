//! Password hashing under a bound. Argon2id is memory-hard on purpose:
//! each hash or check takes 19 MiB. Unbounded, a hundred sign-ins at once
//! (for names that need not even exist) took the process from 20 MB to
//! 1.6 GB, and it stayed there. So only a few run at a time, a short queue
//! waits for them, and beyond it the pool answers "busy" at once.

use std::sync::{Arc, Once};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use tokio::sync::Semaphore;

/// Checks waiting for a running slot, per slot.
const QUEUE_PER_SLOT: usize = 8;
/// Most hashes at once, whatever the core count: 19 MiB each.
const MAX_RUNNING: usize = 4;

/// Too many hashes are running and waiting: answer 503 with Retry-After.
#[derive(Debug, PartialEq, Eq)]
pub struct Busy;

pub struct Hashing {
    admitted: Arc<Semaphore>,
    running: Arc<Semaphore>,
}

impl Default for Hashing {
    fn default() -> Self {
        let slots = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .clamp(1, MAX_RUNNING);
        Self::with_slots(slots)
    }
}

impl Hashing {
    pub fn with_slots(slots: usize) -> Self {
        return_large_blocks();
        Hashing {
            admitted: Arc::new(Semaphore::new(slots * (1 + QUEUE_PER_SLOT))),
            running: Arc::new(Semaphore::new(slots)),
        }
    }

    /// Run `work` on a blocking thread once a slot is free. The slot goes
    /// with the work: when the caller gives up (its client hung up), the
    /// hash still finishes inside the bound.
    async fn run<R: Send + 'static>(
        &self,
        work: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, Busy> {
        let admitted = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| Busy)?;
        let running = self
            .running
            .clone()
            .acquire_owned()
            .await
            .expect("never closed");
        let outcome = tokio::task::spawn_blocking(move || {
            let result = work();
            drop((running, admitted));
            result
        })
        .await;
        Ok(outcome.expect("hashing does not panic"))
    }

    /// A PHC string (`$argon2id$...`) for a new password.
    pub async fn hash(&self, password: String, salt: [u8; 16]) -> Result<String, Busy> {
        self.run(move || {
            let salt = SaltString::encode_b64(&salt).expect("16 bytes make a salt");
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .expect("default parameters hash any password")
                .to_string()
        })
        .await
    }

    /// Whether `password` matches the stored PHC string.
    pub async fn verify(&self, password: String, stored: String) -> Result<bool, Busy> {
        self.run(move || {
            PasswordHash::new(&stored).is_ok_and(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
        })
        .await
    }
}

/// glibc keeps a freed block of 19 MiB in its arena for reuse, and raises
/// its threshold for mapping large blocks each time one is freed, so every
/// thread that once hashed held on to its memory. A fixed threshold turns
/// that off: blocks of 4 MiB and more are always mapped on their own and
/// returned to the system when freed. Smaller allocations (request and
/// response buffers) are unaffected.
fn return_large_blocks() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: mallopt only changes allocator tuning; it is called once,
        // and any value is valid for M_MMAP_THRESHOLD up to 32 MiB.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn beyond_the_queue_the_answer_is_busy_at_once() {
        let hashing = Arc::new(Hashing::with_slots(1));
        let stored = hashing.hash("pw".into(), [7; 16]).await.unwrap();
        assert_eq!(hashing.verify("pw".into(), stored.clone()).await, Ok(true));
        assert_eq!(hashing.verify("no".into(), stored.clone()).await, Ok(false));
        let waiting: Vec<_> = (0..1 + QUEUE_PER_SLOT)
            .map(|_| {
                let (h, s) = (hashing.clone(), stored.clone());
                tokio::spawn(async move { h.verify("pw".into(), s).await })
            })
            .collect();
        tokio::task::yield_now().await;
        while hashing.admitted.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(hashing.verify("pw".into(), stored).await, Err(Busy));
        for w in waiting {
            assert_eq!(w.await.unwrap(), Ok(true));
        }
    }
}
