//! Start-up: logging, state, TLS (rustls, TLS 1.2 and 1.3 only), serving, and graceful
//! shutdown (stop accepting, drain in-flight requests within a bound, exit 0).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum_server::accept::NoDelayAcceptor;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use axum_server::Handle;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::auth::{JwksSource, JwtVerifier, KeyVerifier};
use crate::config::ServeArgs;
use crate::db::{make_pool, Db};
use crate::gate::Gate;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use crate::routes::router;
use crate::state::{AppState, Inner, OwnerCache};

/// JSON logs; the level comes from IDGRAPH_LOG (default info).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("IDGRAPH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .try_init();
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received: draining");
}

pub fn build_state(args: &ServeArgs) -> Result<AppState, String> {
    let wait = Duration::from_millis(args.pool_wait_ms);
    let ca = args.db.database_ca_file.as_deref();
    let st = Duration::from_millis(args.statement_timeout_ms);
    let primary = make_pool(
        &args.db.database_url,
        ca,
        st,
        args.pool_size,
        wait,
        args.database_pooler,
    )
    .map_err(|e| e.to_string())?;
    let replica = match &args.read_database_url {
        Some(u) => Some(
            make_pool(u, ca, st, args.pool_size, wait, args.database_pooler)
                .map_err(|e| e.to_string())?,
        ),
        None => None,
    };
    let jwt = match (&args.jwks_file, &args.jwks_url) {
        (Some(_), Some(_)) => return Err("give either --jwks-file or --jwks-url, not both".into()),
        (Some(f), None) => Some(JwtVerifier::new(
            JwksSource::File(f.clone()),
            args.jwt_issuer.clone(),
            args.jwt_audience.clone(),
        )),
        (None, Some(u)) => Some(JwtVerifier::new(
            JwksSource::Url(u.clone()),
            args.jwt_issuer.clone(),
            args.jwt_audience.clone(),
        )),
        (None, None) => None,
    };
    let hsts = if args.insecure_http {
        String::new()
    } else {
        format!("max-age={}; includeSubDomains", args.hsts_max_age)
    };
    let metrics = Metrics::new().map_err(|e| format!("metrics: {e}"))?;
    let routes = crate::metrics::documented_routes();
    metrics.init_routes(routes.iter().map(|(m, p)| (m.as_str(), p.as_str())));
    Ok(AppState(Arc::new(Inner {
        db: Db::new(
            primary,
            replica,
            Duration::from_secs(args.read_your_writes_secs),
        ),
        keys: KeyVerifier::new(Duration::from_secs(args.key_cache_ttl_secs)),
        jwt,
        limiter: RateLimiter::new(args.rate_limit_burst, args.rate_limit_per_sec),
        metrics,
        owners: OwnerCache::default(),
        gate: Gate::default(),
        max_batch: args.max_batch,
        hsts,
        request_timeout: Duration::from_secs(args.request_timeout_secs.max(1)),
    })))
}

/// rustls with the ring provider, TLS 1.3 and 1.2 only, h2 and http/1.1.
pub fn tls_config(cert: &std::path::Path, key: &std::path::Path) -> Result<RustlsConfig, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("reading {}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("reading {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate in {}", cert.display()));
    }
    let key =
        PrivateKeyDer::from_pem_file(key).map_err(|e| format!("reading {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("TLS: {e}"))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(RustlsConfig::from_config(Arc::new(cfg)))
}

/// Binds `args.listen` and serves until `shutdown` resolves.
pub async fn serve(
    args: ServeArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let listener = std::net::TcpListener::bind(args.listen)
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    serve_on(listener, args, shutdown).await
}

/// Serves on an already bound listener (tests bind port 0 and read the address).
pub async fn serve_on(
    listener: std::net::TcpListener,
    args: ServeArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("listener: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("listener: {e}"))?;
    let state = build_state(&args)?;
    match state
        .gate
        .check_now(state.db.primary(), state.db.replica())
        .await
    {
        Ok(Ok(())) => {}
        // It answered, and it is not what this facade needs: say so and stop.
        Ok(Err(reason)) => return Err(format!("refusing to serve: {reason}")),
        Err(e) => tracing::warn!(
            error = %e.internal.clone().unwrap_or_default(),
            "database not reachable at start; serving anyway (data routes and ready answer 503 until it is, and is checked)"
        ),
    }
    let sync = match (args.sli_sync_interval, &args.prometheus_url) {
        (Some(every), Some(url)) => {
            tracing::info!(interval_secs = every.as_secs(), prometheus = %url, "periodic sli-sync on");
            let o = crate::sli_sync::SyncOptions {
                prometheus_url: url.clone(),
                lookback_days: args.sli_sync_lookback_days,
                services: Vec::new(),
                prom: args.prom.clone(),
            };
            Some(tokio::spawn(crate::sli_sync::periodic(
                args.db.database_url.clone(),
                o,
                every,
            )))
        }
        (Some(_), None) => return Err("--sli-sync-interval needs --prometheus-url".into()),
        _ => None,
    };
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let handle = Handle::new();
    let grace = Duration::from_secs(args.shutdown_grace_secs);
    {
        let handle = handle.clone();
        tokio::spawn(async move {
            shutdown.await;
            handle.graceful_shutdown(Some(grace));
        });
    }
    if args.insecure_http {
        tracing::warn!(%addr, "serving plain HTTP (--insecure-http): only behind a TLS-terminating proxy");
        axum_server::from_tcp(listener)
            .acceptor(NoDelayAcceptor::new())
            .handle(handle)
            .serve(app)
            .await
            .map_err(|e| format!("server: {e}"))?;
    } else {
        let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
            return Err("TLS needs --tls-cert and --tls-key (or ask for --insecure-http)".into());
        };
        let tls = tls_config(cert, key)?;
        tracing::info!(%addr, "serving HTTPS");
        // TCP_NODELAY: a response goes out as several TLS records; Nagle would hold the
        // later ones back for the client's delayed ACK.
        axum_server::from_tcp(listener)
            .acceptor(RustlsAcceptor::new(tls).acceptor(NoDelayAcceptor::new()))
            .handle(handle)
            .serve(app)
            .await
            .map_err(|e| format!("server: {e}"))?;
    }
    if let Some(t) = sync {
        t.abort();
    }
    tracing::info!("stopped");
    Ok(())
}
