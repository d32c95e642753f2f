//! Command line and environment: every flag is also an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// idgraph's HTTPS facade and its API-key management.
#[derive(Debug, Parser)]
#[command(name = "idgraph-facade", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTPS API.
    Serve(Box<ServeArgs>),
    /// Create, list and revoke API keys (needs a database role that is a member of idgraph_admin).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Read SLI history from Prometheus (HTTP API) and write it through idgraph.record_sli
    /// (needs a database role that is a member of idgraph_writer).
    SliSync(SliSyncArgs),
}

/// Where and how to read SLIs in Prometheus (the TRD's metric and label names by default).
#[derive(Debug, Clone, Args)]
pub struct PromArgs {
    /// Request counter (labels: the service label and the status label).
    #[arg(
        long,
        env = "IDGRAPH_SLI_REQUESTS_METRIC",
        default_value = "http_requests_total"
    )]
    pub requests_metric: String,
    /// Latency histogram base name (`_bucket` is appended), in seconds.
    #[arg(
        long,
        env = "IDGRAPH_SLI_DURATION_METRIC",
        default_value = "http_request_duration_seconds"
    )]
    pub duration_metric: String,
    /// The label naming the service (its values are idgraph service ids).
    #[arg(long, env = "IDGRAPH_SLI_SERVICE_LABEL", default_value = "service")]
    pub service_label: String,
    /// The label holding the HTTP status; `5..` counts as bad.
    #[arg(long, env = "IDGRAPH_SLI_STATUS_LABEL", default_value = "status")]
    pub status_label: String,
    /// Timeout of one Prometheus request, in seconds.
    #[arg(long, env = "IDGRAPH_PROMETHEUS_TIMEOUT_SECS", default_value_t = 30)]
    pub prometheus_timeout_secs: u64,
}

impl Default for PromArgs {
    fn default() -> Self {
        Self {
            requests_metric: "http_requests_total".into(),
            duration_metric: "http_request_duration_seconds".into(),
            service_label: "service".into(),
            status_label: "status".into(),
            prometheus_timeout_secs: 30,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct SliSyncArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Prometheus base URL, e.g. http://127.0.0.1:9090
    #[arg(long, env = "IDGRAPH_PROMETHEUS_URL")]
    pub prometheus_url: String,
    /// Days of history to read (1h and 1d windows ending at the last full hour / day).
    #[arg(long, env = "IDGRAPH_SLI_LOOKBACK_DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..=365))]
    pub lookback_days: u32,
    /// Only these services (repeatable); default: every registered service Prometheus knows.
    #[arg(long = "service", value_name = "ID")]
    pub services: Vec<String>,
    #[command(flatten)]
    pub prom: PromArgs,
}

/// A duration like `90s`, `15m`, `1h` or `1d`.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 90s, 15m, 1h, 1d)"))?;
    let mult = match unit {
        "s" | "" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{s:?}: the unit is s, m, h or d")),
    };
    if n == 0 {
        return Err("the interval must be positive".into());
    }
    Ok(std::time::Duration::from_secs(n.saturating_mul(mult)))
}

#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Postgres connection string (URL or key=value), e.g.
    /// postgres://idgraph_facade_login:secret@127.0.0.1/idgraph
    /// Everything libpq-style is honoured: several hosts (`host=a,b`), `hostaddr`,
    /// `target_session_attrs`, `application_name`, `options`, `connect_timeout`, and
    /// `sslmode=disable|prefer|require|verify-ca|verify-full` with `sslrootcert=FILE`.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,

    /// PEM file of the CA that signed the database server's certificate, for
    /// sslmode=verify-ca|verify-full (an sslrootcert in the connection string wins).
    #[arg(long, env = "IDGRAPH_DATABASE_CA_FILE")]
    pub database_ca_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key; it is printed once and never stored in clear.
    Create {
        #[command(flatten)]
        db: DbArgs,
        /// A human name for the key (who or what uses it).
        #[arg(long, env = "IDGRAPH_KEY_NAME")]
        name: String,
        /// Comma-separated scopes: identity:read, identity:write, identity:admin,
        /// graph:read, graph:write, slo:write.
        #[arg(long, env = "IDGRAPH_KEY_SCOPES", value_delimiter = ',')]
        scopes: Vec<String>,
        /// The team the key acts for (submissions are visible to their creator's team).
        #[arg(long, env = "IDGRAPH_KEY_TEAM")]
        team: Option<String>,
        /// Expiry in days from now (keys always expire; responses warn in the last 14 days).
        #[arg(long, env = "IDGRAPH_KEY_EXPIRES_IN_DAYS", default_value_t = 90,
              value_parser = clap::value_parser!(u32).range(1..=3650))]
        expires_in_days: u32,
    },
    /// Issue a successor to a key (same name, scopes and team; printed once); the old key
    /// keeps working for the grace period, then expires.
    Rotate {
        #[command(flatten)]
        db: DbArgs,
        /// The id of the key to replace.
        key_id: String,
        /// How long the old key keeps working, in hours (0 to 720).
        #[arg(long, env = "IDGRAPH_KEY_GRACE_HOURS", default_value_t = 168,
              value_parser = clap::value_parser!(u32).range(0..=720))]
        grace_hours: u32,
        /// Expiry of the successor in days from now.
        #[arg(long, env = "IDGRAPH_KEY_EXPIRES_IN_DAYS", default_value_t = 90,
              value_parser = clap::value_parser!(u32).range(1..=3650))]
        expires_in_days: u32,
    },
    /// List keys (never their secrets).
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke a key by its id (the part after `idg_live_`); effective within the cache TTL.
    Revoke {
        #[command(flatten)]
        db: DbArgs,
        /// The key id.
        key_id: String,
    },
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,

    /// Optional read replica: read-only routes (resolve, get, traversal, availability,
    /// centrality) go there.
    #[arg(long, env = "IDGRAPH_READ_DATABASE_URL")]
    pub read_database_url: Option<String>,

    /// A principal that wrote within this many seconds reads from the primary, so that a
    /// read right after a write never contradicts it (0: off). Keep it above the replica
    /// lag that /health/ready reports.
    #[arg(long, env = "IDGRAPH_READ_YOUR_WRITES_SECS", default_value_t = 5)]
    pub read_your_writes_secs: u64,

    /// What sits between the facade and PostgreSQL (both URLs): `none` (or a pooler in
    /// session mode), or `transaction` for PgBouncer in transaction pooling, where every
    /// call becomes one transaction and nothing is kept on the server session (see db.rs).
    #[arg(long, env = "IDGRAPH_DATABASE_POOLER", value_enum, default_value_t = crate::db::Pooler::None)]
    pub database_pooler: crate::db::Pooler,

    /// Address to listen on.
    #[arg(long, env = "IDGRAPH_LISTEN", default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,

    /// PEM certificate chain for TLS.
    #[arg(
        long,
        env = "IDGRAPH_TLS_CERT",
        required_unless_present = "insecure_http"
    )]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for TLS.
    #[arg(
        long,
        env = "IDGRAPH_TLS_KEY",
        required_unless_present = "insecure_http"
    )]
    pub tls_key: Option<PathBuf>,

    /// Serve plain HTTP (only behind a TLS-terminating proxy). Must be asked for.
    #[arg(long, env = "IDGRAPH_INSECURE_HTTP", default_value_t = false)]
    pub insecure_http: bool,

    /// statement_timeout of every database session, in milliseconds (0: none); a
    /// statement_timeout in the connection string's `options` wins.
    #[arg(long, env = "IDGRAPH_STATEMENT_TIMEOUT_MS", default_value_t = 30_000)]
    pub statement_timeout_ms: u64,

    /// Maximum database connections in the pool.
    #[arg(long, env = "IDGRAPH_POOL_SIZE", default_value_t = 16)]
    pub pool_size: usize,

    /// How long a request waits for a pooled connection before 503, in milliseconds.
    #[arg(long, env = "IDGRAPH_POOL_WAIT_MS", default_value_t = 2000)]
    pub pool_wait_ms: u64,

    /// Per-request timeout in seconds (503 when exceeded).
    #[arg(long, env = "IDGRAPH_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// How long shutdown waits for in-flight requests, in seconds.
    #[arg(long, env = "IDGRAPH_SHUTDOWN_GRACE_SECS", default_value_t = 20)]
    pub shutdown_grace_secs: u64,

    /// How long a verified API key stays cached, in seconds (at most 120: revocation takes
    /// effect within this bound).
    #[arg(long, env = "IDGRAPH_KEY_CACHE_TTL_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(0..=120))]
    pub key_cache_ttl_secs: u64,

    /// JWKS for JWT bearer tokens: a file path.
    #[arg(long, env = "IDGRAPH_JWKS_FILE")]
    pub jwks_file: Option<PathBuf>,

    /// JWKS for JWT bearer tokens: an https URL (fetched and cached).
    #[arg(long, env = "IDGRAPH_JWKS_URL")]
    pub jwks_url: Option<String>,

    /// Required `iss` of JWTs.
    #[arg(long, env = "IDGRAPH_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// Required `aud` of JWTs.
    #[arg(long, env = "IDGRAPH_JWT_AUDIENCE", default_value = "idgraph")]
    pub jwt_audience: String,

    /// Token bucket size per principal (burst), in cost units.
    #[arg(long, env = "IDGRAPH_RATE_LIMIT_BURST", default_value_t = 600)]
    pub rate_limit_burst: u32,

    /// Token refill per second per principal, in cost units.
    #[arg(long, env = "IDGRAPH_RATE_LIMIT_PER_SEC", default_value_t = 200.0)]
    pub rate_limit_per_sec: f64,

    /// Largest batch (allocations, resolutions) accepted; larger → 422.
    #[arg(long, env = "IDGRAPH_MAX_BATCH", default_value_t = 10_000)]
    pub max_batch: usize,

    /// HSTS max-age in seconds.
    #[arg(long, env = "IDGRAPH_HSTS_MAX_AGE", default_value_t = 31_536_000)]
    pub hsts_max_age: u64,

    /// Run `sli-sync` periodically at this interval (e.g. 15m, 1h; `--sli-sync-interval`
    /// alone is 1h). Default: off. Needs --prometheus-url.
    #[arg(long, env = "IDGRAPH_SLI_SYNC_INTERVAL", num_args = 0..=1,
          default_missing_value = "1h", value_parser = parse_duration,
          requires = "prometheus_url")]
    pub sli_sync_interval: Option<std::time::Duration>,

    /// Prometheus base URL for the periodic sli-sync.
    #[arg(long, env = "IDGRAPH_PROMETHEUS_URL")]
    pub prometheus_url: Option<String>,

    /// Days each periodic sli-sync reads back (windows already stored are not rewritten).
    #[arg(long, env = "IDGRAPH_SLI_SYNC_LOOKBACK_DAYS", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(1..=365))]
    pub sli_sync_lookback_days: u32,

    #[command(flatten)]
    pub prom: PromArgs,
}

impl ServeArgs {
    /// Settings for tests and embedding: plain defaults around a database URL.
    pub fn for_database(database_url: &str) -> Self {
        Self {
            db: DbArgs {
                database_url: database_url.to_owned(),
                database_ca_file: None,
            },
            statement_timeout_ms: 30_000,
            read_database_url: None,
            read_your_writes_secs: 5,
            database_pooler: crate::db::Pooler::None,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls_cert: None,
            tls_key: None,
            insecure_http: false,
            pool_size: 8,
            pool_wait_ms: 2000,
            request_timeout_secs: 30,
            shutdown_grace_secs: 5,
            key_cache_ttl_secs: 60,
            jwks_file: None,
            jwks_url: None,
            jwt_issuer: None,
            jwt_audience: "idgraph".into(),
            rate_limit_burst: 600,
            rate_limit_per_sec: 200.0,
            max_batch: 10_000,
            hsts_max_age: 31_536_000,
            sli_sync_interval: None,
            prometheus_url: None,
            sli_sync_lookback_days: 2,
            prom: PromArgs::default(),
        }
    }
}
