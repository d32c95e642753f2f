//! Authentication (API keys, JWT bearer) and authorization (scopes).
//!
//! API keys look like `idg_live_<key id: 16 hex>_<secret: 64 hex>` (a 256-bit secret).
//! The database keeps only an argon2id hash of the secret, found by key id (never a scan).
//! A verified key is cached in memory under its key id together with the SHA-256 of the
//! whole presented key, for at most the configured TTL (≤ 2 min): the hot path compares
//! digests in constant time instead of paying argon2, and a revocation takes effect
//! within the TTL.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::RwLock;

use crate::db::Db;
use crate::problem::ApiError;

pub const KEY_PREFIX: &str = "idg_live_";
const KEY_ID_HEX: usize = 16;
const SECRET_HEX: usize = 64;

/// The scopes the facade knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    IdentityRead,
    IdentityWrite,
    IdentityAdmin,
    GraphRead,
    GraphWrite,
    SloWrite,
    /// Decide on any service's SLO (the TRD's `sre_admin`); JWT only: API keys carry the
    /// scopes `idgraph.api_key_create` knows, and there identity:admin is the admin.
    SloAdmin,
}

impl Scope {
    /// The scopes an API key may carry (what `idgraph.api_key_create` accepts).
    pub const ALL: [Scope; 6] = [
        Scope::IdentityRead,
        Scope::IdentityWrite,
        Scope::IdentityAdmin,
        Scope::GraphRead,
        Scope::GraphWrite,
        Scope::SloWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::IdentityRead => "identity:read",
            Scope::IdentityWrite => "identity:write",
            Scope::IdentityAdmin => "identity:admin",
            Scope::GraphRead => "graph:read",
            Scope::GraphWrite => "graph:write",
            Scope::SloWrite => "slo:write",
            Scope::SloAdmin => "slo:admin",
        }
    }

    /// A scope an API key may carry.
    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// A scope a JWT may carry: the key scopes and slo:admin.
    pub fn parse_jwt(s: &str) -> Option<Scope> {
        Scope::parse(s).or((s == "slo:admin").then_some(Scope::SloAdmin))
    }

    /// The scopes a granted scope implies: admin ⊃ write ⊃ read within a domain.
    fn implies(self, wanted: Scope) -> bool {
        use Scope::*;
        self == wanted
            || matches!(
                (self, wanted),
                (IdentityAdmin, IdentityWrite | IdentityRead)
                    | (IdentityWrite, IdentityRead)
                    | (GraphWrite, GraphRead)
                    | (SloAdmin, SloWrite)
            )
    }
}

/// Who is calling.
#[derive(Debug, Clone)]
pub struct Principal {
    /// `key:<key id>` or `jwt:<sub>`; recorded as the actor of everything it does.
    pub subject: String,
    pub team: Option<String>,
    /// The JWT `groups` claim (an API key has none): a service's team may be among them.
    pub groups: Vec<String>,
    pub scopes: Vec<Scope>,
    /// `api_key` or `jwt`.
    pub method: &'static str,
    /// When an API key expires (keys always do; JWTs carry their own `exp`).
    pub key_expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Principal {
    pub fn has(&self, s: Scope) -> bool {
        self.scopes.iter().any(|g| g.implies(s))
    }

    /// 403 unless the principal holds `s` (or a scope implying it).
    pub fn require(&self, s: Scope) -> Result<(), ApiError> {
        if self.has(s) {
            Ok(())
        } else {
            tracing::warn!(principal = %self.subject, reason = "missing scope", scope = s.as_str(), "authorization failed");
            Err(ApiError::forbidden(format!(
                "this route needs the scope {}",
                s.as_str()
            )))
        }
    }

    /// Whether the principal may decide on SLOs of every service: identity:admin or slo:admin.
    pub fn is_slo_admin(&self) -> bool {
        self.has(Scope::IdentityAdmin) || self.has(Scope::SloAdmin)
    }

    /// Whether the principal is on `team` (its `team`, or one of its JWT `groups`).
    pub fn on_team(&self, team: &str) -> bool {
        self.team.as_deref() == Some(team) || self.groups.iter().any(|g| g == team)
    }
}

/// The result of looking at a request's credentials, stored in its extensions by the
/// auth middleware; handlers take [`Authenticated`].
#[derive(Debug, Clone)]
pub enum AuthOutcome {
    Anonymous,
    Ok(Principal),
    Failed(&'static str),
}

/// Extractor: the authenticated principal, or 401 problem+json.
pub struct Authenticated(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let route = parts.uri.path().to_owned();
        match parts.extensions.get::<AuthOutcome>() {
            Some(AuthOutcome::Ok(p)) => Ok(Authenticated(p.clone())),
            Some(AuthOutcome::Failed(reason)) => {
                // Logged with the claimed principal by the auth middleware.
                Err(ApiError::unauthorized(format!(
                    "credentials rejected: {reason}"
                )))
            }
            _ => {
                tracing::info!(route = %route, reason = "no credentials", "authentication failed");
                Err(ApiError::unauthorized(
                    "send an API key in X-API-Key or a bearer token in Authorization",
                ))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// API keys
// ---------------------------------------------------------------------------------------

/// A freshly created key: the full key (shown once) and what is stored.
pub struct NewKey {
    pub key_id: String,
    pub full_key: String,
    pub secret_hash: String,
}

pub fn generate_key() -> Result<NewKey, String> {
    let mut id = [0u8; KEY_ID_HEX / 2];
    let mut secret = [0u8; SECRET_HEX / 2];
    let mut rng = rand::rngs::OsRng;
    rng.fill_bytes(&mut id);
    rng.fill_bytes(&mut secret);
    let key_id = hex::encode(id);
    let secret_hex = hex::encode(secret);
    let salt = SaltString::generate(&mut rng);
    let secret_hash = Argon2::default()
        .hash_password(secret_hex.as_bytes(), &salt)
        .map_err(|e| e.to_string())?
        .to_string();
    Ok(NewKey {
        full_key: format!("{KEY_PREFIX}{key_id}_{secret_hex}"),
        key_id,
        secret_hash,
    })
}

/// Splits a presented key into (key id, secret); None when it is not shaped like one.
pub fn parse_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix(KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let hex_ok = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex_ok(id, KEY_ID_HEX) && hex_ok(secret, SECRET_HEX)).then_some((id, secret))
}

struct CachedKey {
    digest: [u8; 32],
    principal: Principal,
    expires: Instant,
}

pub struct KeyVerifier {
    ttl: Duration,
    cache: RwLock<HashMap<String, CachedKey>>,
}

impl KeyVerifier {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl: ttl.min(Duration::from_secs(120)),
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// Whether this exact key is verified in the cache (nothing slow to do for it).
    pub async fn is_cached(&self, presented: &str) -> bool {
        let Some((key_id, _)) = parse_key(presented) else {
            return false;
        };
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let cache = self.cache.read().await;
        cache
            .get(key_id)
            .is_some_and(|c| c.expires > Instant::now() && bool::from(c.digest.ct_eq(&digest)))
    }

    /// Verifies a presented key. `Err(reason)` for a wrong, revoked, expired or malformed
    /// key; database trouble is `Err(ApiError)` via the outer result.
    pub async fn verify(
        &self,
        db: &Db,
        presented: &str,
    ) -> Result<Result<Principal, &'static str>, ApiError> {
        let Some((key_id, secret)) = parse_key(presented) else {
            return Ok(Err("malformed API key"));
        };
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        {
            let cache = self.cache.read().await;
            if let Some(c) = cache.get(key_id) {
                if c.expires > Instant::now() && bool::from(c.digest.ct_eq(&digest)) {
                    return Ok(Ok(c.principal.clone()));
                }
            }
        }
        let rows = db
            .query_plain(
                "SELECT name, secret_hash, scopes, team, expires_at, \
                        (revoked_at IS NOT NULL) AS revoked, \
                        (expires_at IS NOT NULL AND expires_at <= now()) AS expired \
                   FROM idgraph.api_key_lookup($1)",
                &[&key_id],
            )
            .await?;
        let Some(row) = rows.first() else {
            return Ok(Err("unknown API key"));
        };
        let hash: String = row.try_get("secret_hash")?;
        let revoked: bool = row.try_get("revoked")?;
        let expired: bool = row.try_get("expired")?;
        let scopes: Vec<String> = row.try_get("scopes")?;
        let team: Option<String> = row.try_get("team")?;
        let expires_at: Option<chrono::DateTime<chrono::Utc>> = row.try_get("expires_at")?;
        // argon2 is deliberately slow: off the async workers.
        let secret_owned = secret.to_owned();
        let ok = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash)
                .map(|h| {
                    Argon2::default()
                        .verify_password(secret_owned.as_bytes(), &h)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await
        .map_err(|e| ApiError::internal_error(format!("hash task: {e}")))?;
        if !ok {
            return Ok(Err("wrong API key secret"));
        }
        if revoked {
            self.cache.write().await.remove(key_id);
            return Ok(Err("revoked API key"));
        }
        if expired {
            return Ok(Err("expired API key"));
        }
        // Best effort: last_used_at is informational (at most one write a minute).
        if let Err(e) = db
            .query_plain("SELECT idgraph.api_key_touch($1)", &[&key_id])
            .await
        {
            tracing::debug!(error = %e, "api_key_touch failed");
        }
        let principal = Principal {
            subject: format!("key:{key_id}"),
            team,
            groups: Vec::new(),
            scopes: scopes.iter().filter_map(|s| Scope::parse(s)).collect(),
            method: "api_key",
            key_expires_at: expires_at,
        };
        // Cached no longer than the key lives: an expired key is refused from the cache too.
        let mut until = Instant::now() + self.ttl;
        if let Some(left) = expires_at.and_then(|t| (t - chrono::Utc::now()).to_std().ok()) {
            until = until.min(Instant::now() + left);
        }
        let mut cache = self.cache.write().await;
        if cache.len() > 100_000 {
            let now = Instant::now();
            cache.retain(|_, c| c.expires > now);
        }
        cache.insert(
            key_id.to_owned(),
            CachedKey {
                digest,
                principal: principal.clone(),
                expires: until,
            },
        );
        Ok(Ok(principal))
    }
}

// ---------------------------------------------------------------------------------------
// JWT
// ---------------------------------------------------------------------------------------

pub enum JwksSource {
    File(std::path::PathBuf),
    Url(String),
}

pub struct JwtVerifier {
    source: JwksSource,
    issuer: Option<String>,
    audience: String,
    keys: RwLock<(Option<Arc<JwkSet>>, Option<Instant>)>,
    refreshing: AtomicBool,
    last_attempt: std::sync::Mutex<Option<Instant>>,
    min_refresh: Duration,
    http: reqwest::Client,
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    scp: Option<ScpClaim>,
    #[serde(default)]
    team: Option<String>,
    #[serde(default)]
    groups: Option<ScpClaim>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ScpClaim {
    List(Vec<String>),
    Text(String),
}

const JWKS_TTL: Duration = Duration::from_secs(300);
const JWKS_MIN_REFRESH: Duration = Duration::from_secs(10);

impl JwtVerifier {
    pub fn new(source: JwksSource, issuer: Option<String>, audience: String) -> Self {
        Self {
            source,
            issuer,
            audience,
            keys: RwLock::new((None, None)),
            refreshing: AtomicBool::new(false),
            last_attempt: std::sync::Mutex::new(None),
            min_refresh: JWKS_MIN_REFRESH,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
        }
    }

    /// How often an unknown kid may trigger a refetch (default 10 s; tests shorten it).
    pub fn with_min_refresh(mut self, d: Duration) -> Self {
        self.min_refresh = d;
        self
    }

    async fn load(&self) -> Result<JwkSet, String> {
        let text = match &self.source {
            JwksSource::File(p) => tokio::fs::read_to_string(p)
                .await
                .map_err(|e| format!("reading {}: {e}", p.display()))?,
            JwksSource::Url(u) => self
                .http
                .get(u)
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map_err(|e| format!("fetching {u}: {e}"))?
                .text()
                .await
                .map_err(|e| format!("fetching {u}: {e}"))?,
        };
        serde_json::from_str(&text).map_err(|e| format!("JWKS: {e}"))
    }

    /// The key set, refreshed after its TTL, or sooner when a token names an unknown
    /// kid (at most every `min_refresh`, so bad tokens cannot hammer the JWKS source).
    ///
    /// No lock is held across the fetch: one caller fetches (the `refreshing` flag) while
    /// every other request goes on with the set it has; the new set is swapped in under
    /// a write lock held only for the assignment.
    async fn keys(&self, want_kid: Option<&str>) -> Option<Arc<JwkSet>> {
        let (current, due) = {
            let g = self.keys.read().await;
            let due = match (&g.0, g.1) {
                (Some(set), Some(at)) => {
                    let stale = at.elapsed() >= JWKS_TTL;
                    let missing = want_kid.is_some_and(|k| set.find(k).is_none());
                    stale || (missing && at.elapsed() >= self.min_refresh)
                }
                _ => true,
            };
            (g.0.clone(), due)
        };
        if !due || !self.attempt_due() {
            return current;
        }
        if self
            .refreshing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // Someone else is fetching: use what there is.
            return current;
        }
        let loaded = self.load().await;
        self.refreshing.store(false, Ordering::Release);
        match loaded {
            Ok(set) => {
                let set = Arc::new(set);
                *self.keys.write().await = (Some(set.clone()), Some(Instant::now()));
                Some(set)
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot load the JWKS");
                // Keep serving the last good set.
                current
            }
        }
    }

    /// Whether a fetch may start now (failed ones count too): at most every `min_refresh`.
    fn attempt_due(&self) -> bool {
        let mut g = match self.last_attempt.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if g.is_some_and(|t| t.elapsed() < self.min_refresh) {
            return false;
        }
        *g = Some(Instant::now());
        true
    }

    pub async fn verify(&self, token: &str) -> Result<Principal, &'static str> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| "malformed JWT")?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err("JWT algorithm not allowed (RS256 or ES256 only)");
        }
        let set = self
            .keys(header.kid.as_deref())
            .await
            .ok_or("no JWKS available")?;
        let jwk = match &header.kid {
            Some(kid) => set.find(kid),
            None => set.keys.first(),
        }
        .ok_or("JWT signed by an unknown key")?;
        // The key's family must match the algorithm (no algorithm confusion).
        let family_ok = matches!(
            (&jwk.algorithm, header.alg),
            (AlgorithmParameters::RSA(_), Algorithm::RS256)
                | (AlgorithmParameters::EllipticCurve(_), Algorithm::ES256)
        );
        if !family_ok {
            return Err("JWT algorithm does not match its key");
        }
        let key = DecodingKey::from_jwk(jwk).map_err(|_| "unusable JWKS key")?;
        let mut v = Validation::new(header.alg);
        v.leeway = 5;
        v.validate_nbf = true;
        v.validate_exp = true;
        v.set_audience(&[&self.audience]);
        let mut required = vec!["exp", "sub", "aud"];
        if let Some(iss) = &self.issuer {
            v.set_issuer(&[iss]);
            required.push("iss");
        }
        v.set_required_spec_claims(&required);
        let data = jsonwebtoken::decode::<Claims>(token, &key, &v).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            match e.kind() {
                K::ExpiredSignature => "JWT expired",
                K::ImmatureSignature => "JWT not yet valid (nbf)",
                K::InvalidAudience => "JWT audience not accepted",
                K::InvalidIssuer => "JWT issuer not accepted",
                K::InvalidSignature => "JWT signature invalid",
                K::MissingRequiredClaim(_) => "JWT lacks a required claim",
                _ => "JWT invalid",
            }
        })?;
        let c = data.claims;
        let mut names: Vec<String> = Vec::new();
        if let Some(s) = c.scope {
            names.extend(s.split_whitespace().map(str::to_owned));
        }
        match c.scp {
            Some(ScpClaim::List(l)) => names.extend(l),
            Some(ScpClaim::Text(s)) => names.extend(s.split_whitespace().map(str::to_owned)),
            None => {}
        }
        let groups = match c.groups {
            Some(ScpClaim::List(l)) => l,
            Some(ScpClaim::Text(s)) => s.split_whitespace().map(str::to_owned).collect(),
            None => Vec::new(),
        };
        Ok(Principal {
            subject: format!("jwt:{}", c.sub),
            team: c.team,
            groups,
            scopes: names.iter().filter_map(|s| Scope::parse_jwt(s)).collect(),
            method: "jwt",
            key_expires_at: None,
        })
    }
}

/// Below this much time left, responses to an API key carry a warning (seed 000 §2).
pub const KEY_EXPIRY_WARNING: chrono::TimeDelta = chrono::TimeDelta::days(14);

/// The `Warning` header (RFC 7234 code 299, "miscellaneous persistent warning") for a
/// key expiring soon: `299 idgraph "API key expires in N days (at T); rotate it"`.
pub fn expiry_warning(
    expires_at: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<String> {
    let left = expires_at - now;
    if left >= KEY_EXPIRY_WARNING {
        return None;
    }
    let days = left.num_days().max(0);
    Some(format!(
        "299 idgraph \"API key expires in {days} day{} (at {}); rotate it\"",
        if days == 1 { "" } else { "s" },
        expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    ))
}

/// The API key a request presents (X-API-Key, or a bearer token shaped like a key).
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get("x-api-key") {
        return v.to_str().ok().map(str::trim);
    }
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| {
            s.strip_prefix("Bearer ")
                .or_else(|| s.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| t.starts_with(KEY_PREFIX))
}

/// Who a request claims to be, for logging a failed authentication: the key id of an
/// API key, or the unverified `sub` of a JWT (never a secret).
pub fn claimed_principal(headers: &HeaderMap) -> String {
    if let Some(k) = presented_key(headers) {
        return match parse_key(k) {
            Some((id, _)) => format!("key:{id}"),
            None => "key:(malformed)".into(),
        };
    }
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| {
            s.strip_prefix("Bearer ")
                .or_else(|| s.strip_prefix("bearer "))
        });
    let sub = token
        .and_then(|t| t.split('.').nth(1))
        .and_then(|p| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p.trim_end_matches('='))
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v.get("sub").and_then(|s| s.as_str()).map(str::to_owned));
    match sub {
        Some(s) => format!("jwt:{}", s.chars().take(128).collect::<String>()),
        None => "unknown".into(),
    }
}

/// Looks at the request's credentials. X-API-Key wins over Authorization when both come.
pub async fn authenticate(
    headers: &HeaderMap,
    db: &Db,
    keys: &KeyVerifier,
    jwt: Option<&JwtVerifier>,
) -> Result<AuthOutcome, ApiError> {
    if let Some(v) = headers.get("x-api-key") {
        let Ok(k) = v.to_str() else {
            return Ok(AuthOutcome::Failed("malformed API key"));
        };
        return Ok(match keys.verify(db, k.trim()).await? {
            Ok(p) => AuthOutcome::Ok(p),
            Err(r) => AuthOutcome::Failed(r),
        });
    }
    if let Some(v) = headers.get(axum::http::header::AUTHORIZATION) {
        let Some(token) = v.to_str().ok().and_then(|s| {
            s.strip_prefix("Bearer ")
                .or_else(|| s.strip_prefix("bearer "))
        }) else {
            return Ok(AuthOutcome::Failed("unsupported Authorization scheme"));
        };
        let token = token.trim();
        // An API key sent as a bearer token is accepted too.
        if token.starts_with(KEY_PREFIX) {
            return Ok(match keys.verify(db, token).await? {
                Ok(p) => AuthOutcome::Ok(p),
                Err(r) => AuthOutcome::Failed(r),
            });
        }
        let Some(jwt) = jwt else {
            return Ok(AuthOutcome::Failed("JWT bearer tokens are not configured"));
        };
        return Ok(match jwt.verify(token).await {
            Ok(p) => AuthOutcome::Ok(p),
            Err(r) => AuthOutcome::Failed(r),
        });
    }
    Ok(AuthOutcome::Anonymous)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_shape() {
        let k = generate_key().unwrap();
        let (id, secret) = parse_key(&k.full_key).unwrap();
        assert_eq!(id, k.key_id);
        assert_eq!(secret.len(), 64);
        assert!(k.secret_hash.starts_with("$argon2id$"));
        assert!(parse_key("idg_live_zz_yy").is_none());
        assert!(parse_key(&k.full_key[1..]).is_none());
    }

    #[test]
    fn expiry_warning_below_14_days_only() {
        let now = chrono::Utc::now();
        assert!(expiry_warning(now + chrono::TimeDelta::days(15), now).is_none());
        assert!(expiry_warning(now + chrono::TimeDelta::days(14), now).is_none());
        let w = expiry_warning(now + chrono::TimeDelta::hours(13 * 24 + 1), now).unwrap();
        assert!(
            w.starts_with("299 idgraph \"API key expires in 13 days (at "),
            "{w}"
        );
        let w = expiry_warning(now + chrono::TimeDelta::hours(30), now).unwrap();
        assert!(w.contains("in 1 day (at"), "{w}");
    }

    #[test]
    fn scopes_imply() {
        let p = Principal {
            subject: "t".into(),
            team: None,
            groups: Vec::new(),
            scopes: vec![Scope::IdentityAdmin, Scope::GraphRead],
            method: "api_key",
            key_expires_at: None,
        };
        assert!(p.has(Scope::IdentityWrite));
        assert!(p.has(Scope::IdentityRead));
        assert!(!p.has(Scope::GraphWrite));
        assert!(!p.has(Scope::SloWrite));
    }
}
