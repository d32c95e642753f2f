//! Shared application state: one `Arc`, cloned into every handler.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use crate::auth::{JwtVerifier, KeyVerifier};
use crate::db::Db;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;

#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

pub struct Inner {
    pub db: Db,
    pub keys: KeyVerifier,
    pub jwt: Option<JwtVerifier>,
    pub limiter: RateLimiter,
    pub metrics: Metrics,
    pub owners: OwnerCache,
    pub gate: crate::gate::Gate,
    pub max_batch: usize,
    pub hsts: String,
    pub request_timeout: std::time::Duration,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Creator and team of submissions (they never change), so that the visibility check
/// on the allocation hot path does not cost a query.
#[derive(Default)]
pub struct OwnerCache {
    map: Mutex<HashMap<Uuid, (String, Option<String>)>>,
}

const OWNER_CACHE_MAX: usize = 100_000;

impl OwnerCache {
    pub fn get(&self, id: &Uuid) -> Option<(String, Option<String>)> {
        self.map.lock().ok().and_then(|m| m.get(id).cloned())
    }

    pub fn put(&self, id: Uuid, owner: (String, Option<String>)) {
        if let Ok(mut m) = self.map.lock() {
            if m.len() >= OWNER_CACHE_MAX {
                m.clear();
            }
            m.insert(id, owner);
        }
    }
}
