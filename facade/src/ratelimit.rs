//! Per-principal rate limits with per-route costs, on `governor` (GCRA, keyed).
//!
//! Each principal (API key, JWT subject, or client address when unauthenticated) has a
//! bucket of `burst` cost units refilled at `per_sec`. A request costs its route's weight
//! (`check_key_n`); the answer carries `X-RateLimit-Limit` (bucket size),
//! `X-RateLimit-Remaining` (units left) and `X-RateLimit-Reset` (seconds until the
//! bucket is full again). When the bucket cannot pay, 429 with `Retry-After` (seconds
//! until it can). Operational routes cost nothing and are not charged.
//!
//! Memory stays bounded whatever the number of distinct principals: every
//! [`SWEEP_EVERY`] checks, when the store holds more than half of `max_keys`, keys whose
//! bucket is full again are dropped (`retain_recent`, they carry no state) and the map
//! shrinks; if it still holds more than `max_keys` (a flood of distinct principals
//! within one refill period), the store is replaced by an empty one — everyone starts
//! with a full bucket, which is the only state a bound can afford to forget.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter as Gcra};

type Keyed = Gcra<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// How often (in checks) the store's size is looked at.
pub const SWEEP_EVERY: u64 = 1024;

/// Default bound on the principals held at once.
pub const MAX_KEYS: usize = 100_000;

pub struct RateLimiter {
    quota: Quota,
    burst: u32,
    per_sec: f64,
    max_keys: usize,
    clock: DefaultClock,
    store: RwLock<Arc<Keyed>>,
    checks: AtomicU64,
}

/// What the limiter decided, for the headers.
#[derive(Debug, Clone, Copy)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u64,
    pub remaining: u64,
    pub reset_secs: u64,
    pub retry_after_secs: u64,
}

impl RateLimiter {
    pub fn new(burst: u32, per_sec: f64) -> Self {
        Self::with_max_keys(burst, per_sec, MAX_KEYS)
    }

    pub fn with_max_keys(burst: u32, per_sec: f64, max_keys: usize) -> Self {
        let per_sec = if per_sec.is_finite() && per_sec > 0.0 {
            per_sec
        } else {
            1.0
        };
        let burst_nz = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
        // One unit every 1/per_sec seconds (at least a nanosecond), `burst` at once.
        let period = Duration::from_secs_f64(1.0 / per_sec).max(Duration::from_nanos(1));
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst_nz);
        let clock = DefaultClock::default();
        Self {
            quota,
            burst: burst_nz.get(),
            per_sec,
            max_keys: max_keys.max(1),
            store: RwLock::new(Arc::new(Self::fresh(quota, &clock))),
            clock,
            checks: AtomicU64::new(0),
        }
    }

    fn fresh(quota: Quota, clock: &DefaultClock) -> Keyed {
        Gcra::dashmap_with_clock(quota, clock.clone())
            .with_middleware::<StateInformationMiddleware>()
    }

    fn current(&self) -> Arc<Keyed> {
        match self.store.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Principals currently held (for tests and metrics).
    pub fn len(&self) -> usize {
        self.current().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn secs_to_full(&self, remaining: u32) -> u64 {
        (f64::from(self.burst.saturating_sub(remaining)) / self.per_sec).ceil() as u64
    }

    /// Charges `cost` units to `who`; cost 0 charges nothing and says nothing about the
    /// bucket (`limit` only).
    pub fn check(&self, who: &str, cost: u32) -> Decision {
        let limit = u64::from(self.burst);
        let Some(n) = NonZeroU32::new(cost) else {
            return Decision {
                allowed: true,
                limit,
                remaining: limit,
                reset_secs: 0,
                retry_after_secs: 0,
            };
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep();
        }
        let store = self.current();
        let key = who.to_owned();
        match store.check_key_n(&key, n) {
            Ok(Ok(snapshot)) => {
                let remaining = snapshot.remaining_burst_capacity();
                Decision {
                    allowed: true,
                    limit,
                    remaining: u64::from(remaining),
                    reset_secs: self.secs_to_full(remaining),
                    retry_after_secs: 0,
                }
            }
            Ok(Err(not_until)) => {
                let wait = not_until.wait_time_from(self.clock.now());
                Decision {
                    allowed: false,
                    limit,
                    remaining: 0,
                    reset_secs: self.secs_to_full(0),
                    retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
                }
            }
            // A cost larger than the bucket can never be paid; say when it is full.
            Err(_insufficient) => Decision {
                allowed: false,
                limit,
                remaining: 0,
                reset_secs: self.secs_to_full(0),
                retry_after_secs: self.secs_to_full(0).max(1),
            },
        }
    }

    /// Bounds the store: drop full buckets; past `max_keys`, start afresh.
    pub fn sweep(&self) {
        let store = self.current();
        if store.len() <= self.max_keys / 2 {
            return;
        }
        store.retain_recent();
        store.shrink_to_fit();
        if store.len() > self.max_keys {
            tracing::warn!(
                principals = store.len(),
                max = self.max_keys,
                "rate limiter: too many distinct principals at once; buckets reset"
            );
            let fresh = Arc::new(Self::fresh(self.quota, &self.clock));
            match self.store.write() {
                Ok(mut g) => *g = fresh,
                Err(p) => *p.into_inner() = fresh,
            }
        }
    }
}

/// The cost of a matched route: heavier work costs more.
pub fn route_cost(method: &str, route: &str) -> u32 {
    match (method, route) {
        (_, r)
            if r.starts_with("/health")
                || r.starts_with("/api/v1/health")
                || r == "/metrics"
                || r == "/openapi.json" =>
        {
            0
        }
        (_, r) if crate::routes::pages::is_page(r) => 0,
        (_, r) if r.ends_with("/allocations/batch") || r.ends_with("/resolve/batch") => 10,
        ("POST", "/api/v1/services/dependencies") => 20,
        ("POST", "/api/v1/centrality/refresh") => 50,
        ("POST", "/api/v1/slos/impact-analysis") => 5,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_drains_and_refills() {
        let rl = RateLimiter::new(3, 1000.0);
        let d = rl.check("a", 1);
        assert!(d.allowed);
        assert_eq!((d.limit, d.remaining), (3, 2));
        assert!(rl.check("a", 1).allowed);
        assert!(rl.check("a", 1).allowed);
        // The other principal is unaffected.
        assert!(rl.check("b", 3).allowed);
        let slow = RateLimiter::new(2, 0.001);
        assert!(slow.check("x", 2).allowed);
        let d = slow.check("x", 1);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        assert!(d.retry_after_secs >= 999, "{d:?}");
        // A cost over the bucket never passes.
        let d = slow.check("y", 3);
        assert!(!d.allowed);
        // Per-route costs are charged as such.
        let rl = RateLimiter::new(30, 0.001);
        assert_eq!(rl.check("c", 10).remaining, 20);
        assert_eq!(rl.check("c", 20).remaining, 0);
        assert!(!rl.check("c", 1).allowed);
        // Cost 0 charges nothing.
        assert!(rl.check("d", 0).allowed);
        assert_eq!(rl.len(), 1);
    }

    fn rss_kib() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next().map(str::to_owned))
            .unwrap()
            .parse()
            .unwrap()
    }

    /// A million distinct principals, each with a bucket that stays drained (a slow
    /// refill: `retain_recent` cannot drop them): the store never holds more than
    /// `max_keys`, and memory stays bounded.
    #[test]
    fn a_million_distinct_principals_stay_bounded() {
        let max = 20_000;
        let rl = RateLimiter::with_max_keys(10, 0.0001, max);
        let before = rss_kib();
        let mut peak = 0;
        for i in 0..1_000_000u32 {
            assert!(
                rl.check(
                    &format!("ip:10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255),
                    5
                )
                .allowed
            );
            if i % 4096 == 0 {
                peak = peak.max(rl.len());
            }
        }
        peak = peak.max(rl.len());
        assert!(peak <= max + SWEEP_EVERY as usize, "{peak}");
        let grown_mib = rss_kib().saturating_sub(before) / 1024;
        eprintln!("1,000,000 distinct principals: at most {peak} held, RSS grew {grown_mib} MiB");
        assert!(grown_mib < 64, "RSS grew {grown_mib} MiB");
        // Fast refill: full buckets are dropped by retain_recent (no reset needed).
        let rl = RateLimiter::with_max_keys(10, 1e9, max);
        for i in 0..200_000u32 {
            rl.check(&format!("key:{i}"), 1);
        }
        assert!(rl.len() <= max / 2 + SWEEP_EVERY as usize, "{}", rl.len());
    }
}
