//! Per-principal token buckets with per-route costs.
//!
//! Each principal (API key, JWT subject, or client address when unauthenticated) has a
//! bucket of `burst` tokens refilled at `per_sec`. A request costs its route's weight;
//! the answer carries `X-RateLimit-Limit` (bucket size), `X-RateLimit-Remaining` (whole
//! tokens left) and `X-RateLimit-Reset` (seconds until the bucket is full again). When
//! the bucket cannot pay, 429 with `Retry-After` (seconds until it can).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

pub struct RateLimiter {
    burst: f64,
    per_sec: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
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
        Self {
            burst: f64::from(burst.max(1)),
            per_sec: if per_sec.is_finite() && per_sec > 0.0 {
                per_sec
            } else {
                1.0
            },
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Charges `cost` to `who` (cost 0 only reads the bucket).
    pub fn check(&self, who: &str, cost: u32) -> Decision {
        let now = Instant::now();
        let cost = f64::from(cost);
        let mut map = match self.buckets.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        if map.len() > 100_000 {
            // Forget buckets that have refilled completely: they carry no state.
            let (burst, rate) = (self.burst, self.per_sec);
            map.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < burst);
        }
        let b = map.entry(who.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        b.tokens =
            (b.tokens + now.duration_since(b.at).as_secs_f64() * self.per_sec).min(self.burst);
        b.at = now;
        let allowed = b.tokens >= cost;
        if allowed {
            b.tokens -= cost;
        }
        let retry_after = if allowed {
            0.0
        } else {
            // A cost larger than the bucket can never be paid; say when it is full.
            (cost.min(self.burst) - b.tokens) / self.per_sec
        };
        Decision {
            allowed,
            limit: self.burst as u64,
            remaining: b.tokens.max(0.0).floor() as u64,
            reset_secs: ((self.burst - b.tokens) / self.per_sec).ceil() as u64,
            retry_after_secs: retry_after.ceil().max(1.0) as u64,
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
        assert!(rl.check("a", 1).allowed);
        assert!(rl.check("a", 1).allowed);
        assert!(rl.check("a", 1).allowed);
        let d = rl.check("a", 1);
        // 1000/s refills one token within a millisecond; allow either outcome but the
        // other principal is unaffected.
        assert!(d.limit == 3);
        assert!(rl.check("b", 3).allowed);
        let slow = RateLimiter::new(2, 0.001);
        assert!(slow.check("x", 2).allowed);
        let d = slow.check("x", 1);
        assert!(!d.allowed);
        assert!(d.retry_after_secs >= 1);
    }
}
