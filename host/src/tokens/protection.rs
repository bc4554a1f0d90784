//! Account protection (账号保护): an address that presents [`MAX_FAILURES`] invalid tokens within
//! [`WINDOW_MS`] is locked out for the rest of that window, valid token or not, so guessing
//! tokens from one address stops after a handful of tries.
//!
//! Kept in memory: a restart forgets the counts, which costs an attacker's lock-out at most and
//! keeps a flood of bad requests from writing to disk. The table is bounded
//! ([`MAX_TRACKED`] addresses); when full, expired entries are dropped first, then the oldest.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::platform::Clock;

/// Failed sign-ins from one address that lock it out.
pub const MAX_FAILURES: u32 = 10;
/// The window the failures are counted in, and the longest a lock-out lasts.
pub const WINDOW_MS: u64 = 10 * 60 * 1000;
/// Addresses tracked at once.
pub const MAX_TRACKED: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    /// When the first failure of the current window happened.
    since: u64,
    count: u32,
}

impl Failures {
    fn ends(&self) -> u64 {
        self.since.saturating_add(WINDOW_MS)
    }
}

/// What a failed sign-in did to its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Counted; the address may go on trying.
    Counted,
    /// This failure locked the address out, for this many more milliseconds.
    LockedOut { retry_after_ms: u64 },
}

pub struct SignInGuard {
    clock: Arc<dyn Clock>,
    failures: Mutex<HashMap<IpAddr, Failures>>,
}

impl SignInGuard {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        SignInGuard {
            clock,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Failures>> {
        // The table holds only counters: a panic elsewhere cannot leave it inconsistent.
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Milliseconds until `ip` may sign in again, if it is locked out now.
    pub fn locked_for(&self, ip: IpAddr) -> Option<u64> {
        let now = self.clock.now_ms();
        let table = self.table();
        let f = table.get(&ip.to_canonical())?;
        (f.count >= MAX_FAILURES && now < f.ends()).then(|| f.ends() - now)
    }

    /// Counts one invalid token presented from `ip`.
    pub fn fail(&self, ip: IpAddr) -> Failure {
        let now = self.clock.now_ms();
        let ip = ip.to_canonical();
        let mut table = self.table();
        if table.len() >= MAX_TRACKED && !table.contains_key(&ip) {
            table.retain(|_, f| now < f.ends());
            if table.len() >= MAX_TRACKED
                && let Some(oldest) = table.iter().min_by_key(|(_, f)| f.since).map(|(k, _)| *k)
            {
                table.remove(&oldest);
            }
        }
        let f = table.entry(ip).or_insert(Failures {
            since: now,
            count: 0,
        });
        if now >= f.ends() {
            *f = Failures {
                since: now,
                count: 0,
            };
        }
        f.count = f.count.saturating_add(1);
        if f.count == MAX_FAILURES {
            Failure::LockedOut {
                retry_after_ms: f.ends() - now,
            }
        } else {
            Failure::Counted
        }
    }
}

/// `Retry-After` in whole seconds, rounded up (never 0 while locked).
pub fn retry_after_secs(ms: u64) -> u64 {
    ms.div_ceil(1000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::ManualClock;

    #[test]
    fn ten_failures_in_the_window_lock_the_address_for_the_rest_of_it() {
        let clock = Arc::new(ManualClock::new(1_000_000));
        let guard = SignInGuard::new(clock.clone());
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..MAX_FAILURES - 1 {
            assert_eq!(guard.fail(ip), Failure::Counted);
            clock.advance(1_000);
            assert_eq!(guard.locked_for(ip), None);
        }
        // The 10th failure, 9 s after the first: locked until the window ends.
        assert_eq!(
            guard.fail(ip),
            Failure::LockedOut {
                retry_after_ms: WINDOW_MS - 9_000
            }
        );
        assert_eq!(guard.locked_for(ip), Some(WINDOW_MS - 9_000));
        assert_eq!(
            guard.locked_for(other),
            None,
            "other addresses are not affected"
        );
        // The mapped IPv6 form of the same address is the same address.
        assert!(
            guard
                .locked_for("::ffff:10.0.0.1".parse().unwrap())
                .is_some()
        );
        // Further failures do not extend or repeat the lock-out.
        assert_eq!(guard.fail(ip), Failure::Counted);
        clock.advance(WINDOW_MS - 9_000 - 1);
        assert_eq!(guard.locked_for(ip), Some(1));
        assert_eq!(retry_after_secs(1), 1);
        clock.advance(1);
        assert_eq!(guard.locked_for(ip), None);
        // A new window starts from zero.
        assert_eq!(guard.fail(ip), Failure::Counted);
        assert_eq!(guard.locked_for(ip), None);
    }

    #[test]
    fn failures_spread_over_more_than_a_window_do_not_lock() {
        let clock = Arc::new(ManualClock::new(0));
        let guard = SignInGuard::new(clock.clone());
        let ip: IpAddr = "::1".parse().unwrap();
        for _ in 0..3 * MAX_FAILURES {
            assert_eq!(guard.fail(ip), Failure::Counted);
            clock.advance(WINDOW_MS / 5);
        }
        assert_eq!(guard.locked_for(ip), None);
    }
}
