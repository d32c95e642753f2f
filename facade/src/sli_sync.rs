//! `idgraph-facade sli-sync`: SLI history from Prometheus into `idgraph.record_sli`
//! (TRD FR-6 pre-computed aggregates).
//!
//! Over Prometheus's HTTP API (`/api/v1/query_range`), per window size `1h` and `1d`,
//! grouped by the service label (the TRD's PromQL, with `increase` = `rate` × window so
//! that the answer is a count of events):
//!
//! ```text
//! total:  sum by (service) (increase(http_requests_total{…}[1h]))
//! good:   sum by (service) (increase(http_requests_total{…, status!~"5.."}[1h]))
//! pNN:    histogram_quantile(0.NN, sum by (service, le) (rate(http_request_duration_seconds_bucket{…}[1h])))
//! ```
//!
//! evaluated at the end of every full hour (day) of the lookback: the value at `t` is
//! the window `[t − 1h, t)`. Counts are rounded to whole events, latencies become ms.
//! Windows without traffic are left out. Everything is read first; only then are the
//! windows written, one `record_sli` call per service, all in one transaction: an
//! unreachable or failing Prometheus, or any refused document, writes nothing.
//! Prometheus requests are retried with backoff (1 s, 2 s, 4 s) as the TRD says.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};
use tokio_postgres::NoTls;

use crate::config::{PromArgs, SliSyncArgs};

/// What went wrong, said plainly (printed by the CLI, logged by `serve`).
#[derive(Debug)]
pub struct SyncError(pub String);

impl std::fmt::Display for SyncError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

type Res<T> = Result<T, SyncError>;

/// One sync's settings.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    pub prometheus_url: String,
    pub lookback_days: u32,
    pub services: Vec<String>,
    pub prom: PromArgs,
}

#[derive(Debug, Deserialize)]
struct PromAnswer {
    status: String,
    #[serde(default)]
    data: Option<PromData>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PromData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<PromSeries>,
}

#[derive(Debug, Deserialize)]
struct PromSeries {
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

struct Prom {
    http: reqwest::Client,
    base: String,
}

impl Prom {
    fn new(url: &str, timeout: Duration) -> Res<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| SyncError(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            base: url.trim_end_matches('/').to_owned(),
        })
    }

    /// A range query; retried on connection errors and 5xx (1 s, 2 s, 4 s), never on
    /// a query Prometheus refuses (4xx).
    async fn query_range(&self, q: &str, start: i64, end: i64, step: i64) -> Res<Vec<PromSeries>> {
        let url = format!("{}/api/v1/query_range", self.base);
        let form = [
            ("query", q.to_owned()),
            ("start", start.to_string()),
            ("end", end.to_string()),
            ("step", step.to_string()),
        ];
        let mut last = String::new();
        for (attempt, backoff) in [1u64, 2, 4, 0].into_iter().enumerate() {
            match self.http.post(&url).form(&form).send().await {
                Ok(res) => {
                    let status = res.status();
                    let body = res.text().await.unwrap_or_default();
                    let parsed: Option<PromAnswer> = serde_json::from_str(&body).ok();
                    match parsed {
                        Some(a) if status.is_success() && a.status == "success" => {
                            let data = a.data.ok_or_else(|| {
                                SyncError(format!("Prometheus answered {url} without data"))
                            })?;
                            if data.result_type != "matrix" {
                                return Err(SyncError(format!(
                                    "Prometheus answered a {} instead of a matrix for {q}",
                                    data.result_type
                                )));
                            }
                            return Ok(data.result);
                        }
                        other => {
                            let why = match other {
                                Some(a) => format!(
                                    "{} {}: {}",
                                    status.as_u16(),
                                    a.error_type.unwrap_or_default(),
                                    a.error.unwrap_or_default()
                                ),
                                None => format!(
                                    "{}: {}",
                                    status.as_u16(),
                                    body.chars().take(200).collect::<String>()
                                ),
                            };
                            last =
                                format!("Prometheus at {} refused the query {q}: {why}", self.base);
                            if !status.is_server_error() {
                                return Err(SyncError(last));
                            }
                        }
                    }
                }
                Err(e) => {
                    last = format!("Prometheus at {} is unreachable: {e}", self.base);
                }
            }
            if backoff > 0 {
                tracing::debug!(attempt, error = %last, "retrying Prometheus");
                tokio::time::sleep(Duration::from_secs(backoff)).await;
            }
        }
        Err(SyncError(format!("{last} (after 4 attempts)")))
    }
}

/// A PromQL string literal.
fn lit(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// An RE2 alternation matching exactly these values.
fn alternation(values: &[String]) -> String {
    values
        .iter()
        .map(|v| {
            v.chars()
                .map(|c| {
                    if "\\.+*?()|[]{}^$".contains(c) {
                        format!("\\{c}")
                    } else {
                        c.to_string()
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// Label names are used verbatim in PromQL: only what Prometheus allows.
fn check_label(name: &str, what: &str) -> Res<()> {
    let ok = !name.is_empty()
        && name
            .chars()
            .enumerate()
            .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(SyncError(format!(
            "{what} {name:?} is not a Prometheus name"
        )))
    }
}

#[derive(Debug, Default, Clone)]
struct Window {
    good: Option<f64>,
    total: Option<f64>,
    p50: Option<f64>,
    p95: Option<f64>,
    p99: Option<f64>,
}

/// The PromQL of one sync, with where each answer goes: (name, window, query).
fn queries(o: &SyncOptions) -> Res<Vec<(&'static str, &'static str, String)>> {
    let p = &o.prom;
    check_label(&p.service_label, "--service-label")?;
    check_label(&p.status_label, "--status-label")?;
    check_label(&p.requests_metric.replace(':', "_"), "--requests-metric")?;
    check_label(&p.duration_metric.replace(':', "_"), "--duration-metric")?;
    let svc = &p.service_label;
    let sel = if o.services.is_empty() {
        format!("{svc}!=\"\"")
    } else {
        format!("{svc}=~{}", lit(&alternation(&o.services)))
    };
    let mut out = Vec::new();
    for w in ["1h", "1d"] {
        out.push((
            "total",
            w,
            format!(
                "sum by ({svc}) (increase({}{{{sel}}}[{w}]))",
                p.requests_metric
            ),
        ));
        out.push((
            "good",
            w,
            format!(
                "sum by ({svc}) (increase({}{{{sel},{}!~\"5..\"}}[{w}]))",
                p.requests_metric, p.status_label
            ),
        ));
        for (name, q) in [("p50", "0.5"), ("p95", "0.95"), ("p99", "0.99")] {
            out.push((
                name,
                w,
                format!(
                    "histogram_quantile({q}, sum by ({svc}, le) (rate({}_bucket{{{sel}}}[{w}])))",
                    p.duration_metric
                ),
            ));
        }
    }
    Ok(out)
}

/// Progress: a bar on a terminal, JSON lines on stderr otherwise, nothing when quiet.
pub enum Progress {
    Bar(indicatif::ProgressBar),
    Json,
    Quiet,
}

impl Progress {
    pub fn for_terminal() -> Self {
        if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(0);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} sli-sync [{bar:30}] {pos}/{len} {msg}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            Progress::Bar(bar)
        } else {
            Progress::Json
        }
    }

    fn step(&self, phase: &str, done: u64, total: u64, what: &str) {
        match self {
            Progress::Bar(b) => {
                b.set_length(total);
                b.set_position(done);
                b.set_message(format!("{phase} {what}"));
            }
            Progress::Json => eprintln!(
                "{}",
                json!({"sli_sync": phase, "done": done, "total": total, "item": what})
            ),
            Progress::Quiet => {}
        }
    }

    fn finish(&self) {
        if let Progress::Bar(b) = self {
            b.finish_and_clear();
        }
    }
}

fn round_ms(seconds: f64) -> f64 {
    (seconds * 1000.0 * 1000.0).round() / 1000.0
}

fn rfc3339(t: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// The registered services (record_sli writes only those).
async fn registered(db: &tokio_postgres::Client) -> Res<Vec<String>> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let rows = db
            .query(
                "SELECT service_id FROM idgraph.services_page($1, 1000)",
                &[&after],
            )
            .await
            .map_err(db_err)?;
        let n = rows.len();
        for r in rows {
            out.push(r.try_get::<_, String>(0).map_err(db_err)?);
        }
        if n < 1000 {
            return Ok(out);
        }
        after = out.last().cloned();
    }
}

fn db_err(e: tokio_postgres::Error) -> SyncError {
    match e.as_db_error() {
        Some(d) => SyncError(format!(
            "the database refused it: {} ({}){}",
            d.message(),
            d.code().code(),
            d.detail().map(|x| format!(": {x}")).unwrap_or_default()
        )),
        None => SyncError(format!("database: {e}")),
    }
}

/// One sync: read everything from Prometheus, then write it in one transaction.
/// Returns the summary (per service what `record_sli` said).
pub async fn sync_once(
    db: &mut tokio_postgres::Client,
    o: &SyncOptions,
    progress: &Progress,
    now: i64,
) -> Res<Value> {
    if o.lookback_days == 0 || o.lookback_days > 365 {
        return Err(SyncError("lookback days must be 1..365".into()));
    }
    let prom = Prom::new(
        &o.prometheus_url,
        Duration::from_secs(o.prom.prometheus_timeout_secs.max(1)),
    )?;
    let known = registered(db).await?;
    if let Some(missing) = o.services.iter().find(|s| !known.contains(s)) {
        return Err(SyncError(format!(
            "service {missing:?} is not registered in idgraph (ingest it first)"
        )));
    }
    let qs = queries(o)?;
    let days = i64::from(o.lookback_days);
    let total_steps = qs.len() as u64;
    // (service, window, start) → measurements
    let mut windows: BTreeMap<(String, &'static str, i64), Window> = BTreeMap::new();
    let mut unregistered: std::collections::BTreeSet<String> = Default::default();
    for (i, (name, w, q)) in qs.iter().enumerate() {
        progress.step("query", i as u64, total_steps, &format!("{name} {w}"));
        let size: i64 = if *w == "1h" { 3600 } else { 86_400 };
        let end = now.div_euclid(size) * size;
        let start = end - days * 86_400 + size;
        let series = prom.query_range(q, start, end, size).await?;
        for s in series {
            let Some(service) = s.metric.get(&o.prom.service_label).cloned() else {
                continue;
            };
            if !known.contains(&service) {
                unregistered.insert(service);
                continue;
            }
            for (t, v) in s.values {
                let Ok(x) = v.parse::<f64>() else { continue };
                if !x.is_finite() {
                    continue;
                }
                let t = t.round() as i64;
                let e = windows.entry((service.clone(), *w, t - size)).or_default();
                match *name {
                    "total" => e.total = Some(x),
                    "good" => e.good = Some(x),
                    "p50" => e.p50 = Some(round_ms(x)),
                    "p95" => e.p95 = Some(round_ms(x)),
                    _ => e.p99 = Some(round_ms(x)),
                }
            }
        }
    }
    progress.step("query", total_steps, total_steps, "done");

    // Documents per service.
    let mut per_service: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for ((service, w, start), m) in windows {
        let mut doc = serde_json::Map::new();
        let total = m
            .total
            .map(|t| t.round().max(0.0) as i64)
            .filter(|t| *t > 0);
        if let Some(total) = total {
            // No non-5xx series at all in a window with traffic: every request failed.
            let good = m
                .good
                .map(|g| g.round().max(0.0) as i64)
                .unwrap_or(0)
                .min(total);
            doc.insert("good_events".into(), json!(good));
            doc.insert("total_events".into(), json!(total));
        }
        // Percentiles are monotonic in q; rounding must not make them decrease.
        let mut floor = 0.0f64;
        for (k, v) in [
            ("latency_p50_ms", m.p50),
            ("latency_p95_ms", m.p95),
            ("latency_p99_ms", m.p99),
        ] {
            if let Some(v) = v.filter(|v| *v >= 0.0) {
                floor = floor.max(v);
                doc.insert(k.into(), json!(floor));
            }
        }
        if doc.is_empty() {
            continue;
        }
        doc.insert("service_id".into(), json!(service));
        doc.insert("window".into(), json!(w));
        doc.insert("start".into(), json!(rfc3339(start)));
        per_service
            .entry(service)
            .or_default()
            .push(Value::Object(doc));
    }

    // Write: one transaction, one record_sli call per service.
    let n = per_service.len() as u64;
    let tx = db.transaction().await.map_err(db_err)?;
    let mut results = serde_json::Map::new();
    let (mut inserted, mut updated, mut unchanged, mut sent) = (0i64, 0i64, 0i64, 0usize);
    for (i, (service, ws)) in per_service.into_iter().enumerate() {
        progress.step("write", i as u64, n, &service);
        sent += ws.len();
        let doc = json!({"source": "prometheus", "windows": ws});
        let row = tx
            .query_one("SELECT idgraph.record_sli($1)", &[&doc])
            .await
            .map_err(db_err)?;
        let r: Value = row.try_get(0).map_err(db_err)?;
        inserted += r["inserted"].as_i64().unwrap_or(0);
        updated += r["updated"].as_i64().unwrap_or(0);
        unchanged += r["unchanged"].as_i64().unwrap_or(0);
        results.insert(service, r);
    }
    tx.commit().await.map_err(db_err)?;
    progress.step("write", n, n, "committed");
    progress.finish();
    Ok(json!({
        "prometheus": o.prometheus_url,
        "lookback_days": o.lookback_days,
        "services": results.len(),
        "windows": sent,
        "inserted": inserted,
        "updated": updated,
        "unchanged": unchanged,
        "per_service": results,
        "unregistered": unregistered,
    }))
}

async fn connect(url: &str) -> Res<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|e| SyncError(format!("cannot connect to the database: {e}")))?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::warn!(error = %e, "sli-sync database connection");
        }
    });
    Ok(client)
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The CLI: sync once, print the summary as JSON on stdout; errors → message, exit 1.
pub async fn run(a: SliSyncArgs) -> Result<(), String> {
    let o = SyncOptions {
        prometheus_url: a.prometheus_url,
        lookback_days: a.lookback_days,
        services: a.services,
        prom: a.prom,
    };
    let mut db = connect(&a.db.database_url)
        .await
        .map_err(|e| format!("sli-sync: {e}"))?;
    let progress = Progress::for_terminal();
    match sync_once(&mut db, &o, &progress, now_secs()).await {
        Ok(summary) => {
            println!("{summary}");
            Ok(())
        }
        Err(e) => {
            progress.finish();
            Err(format!("sli-sync failed, nothing written: {e}"))
        }
    }
}

/// `serve --sli-sync-interval`: sync now and then every `interval`, logging each result;
/// a failure is logged and the next round tries again.
pub async fn periodic(database_url: String, o: SyncOptions, interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let result = match connect(&database_url).await {
            Ok(mut db) => sync_once(&mut db, &o, &Progress::Quiet, now_secs()).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(s) => tracing::info!(
                services = s["services"].as_u64().unwrap_or(0),
                windows = s["windows"].as_u64().unwrap_or(0),
                inserted = s["inserted"].as_i64().unwrap_or(0),
                updated = s["updated"].as_i64().unwrap_or(0),
                "sli-sync done"
            ),
            Err(e) => tracing::error!(error = %e, "sli-sync failed; nothing written"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promql_of_the_trd() {
        let o = SyncOptions {
            prometheus_url: "http://x".into(),
            lookback_days: 30,
            services: vec!["a.b".into(), "c".into()],
            prom: PromArgs::default(),
        };
        let q = queries(&o).unwrap_or_default();
        assert_eq!(q.len(), 10);
        assert_eq!(
            q[1].2,
            r#"sum by (service) (increase(http_requests_total{service=~"a\\.b|c",status!~"5.."}[1h]))"#
        );
        assert!(q[4].2.starts_with("histogram_quantile(0.99, sum by (service, le) (rate(http_request_duration_seconds_bucket{"));
        let mut bad = o.clone();
        bad.prom.service_label = "svc\"}".into();
        assert!(queries(&bad).is_err());
        let d = |s: &str| crate::config::parse_duration(s).map(|d| d.as_secs()).ok();
        assert_eq!(d("1h"), Some(3600));
        assert_eq!(d("15m"), Some(900));
        assert_eq!(d("0s"), None);
        assert_eq!(d("1w"), None);
    }
}
