//! Test harness: a real database (deployed by sqitch; `scripts/test.sh facade` makes
//! one), the facade serving real HTTPS in-process with a self-signed certificate made
//! here (rcgen), API keys made through the real SQL functions, and a JWKS made here.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine;
use idgraph_facade::auth::generate_key;
use idgraph_facade::config::ServeArgs;
use serde_json::{json, Value};
use tokio_postgres::NoTls;

pub const LOGIN_ROLE: &str = "idgraph_facade_test";
pub const LOGIN_PASSWORD: &str = "facade-test-only";
pub const TABLE: &str = "facade_t.tbl_sites";
pub const COLUMN: &str = "site_id";
pub const AUDIENCE: &str = "idgraph-test";
pub const ISSUER: &str = "https://issuer.test";

pub fn db_name() -> String {
    std::env::var("IDGRAPH_FACADE_TEST_DB").unwrap_or_else(|_| "idgraph_t_facade".into())
}

/// The cluster's port: PGPORT (a private cluster, scripts/private-pg.sh), else 5432.
pub fn pg_port() -> u16 {
    std::env::var("PGPORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(5432)
}

pub fn admin_dsn() -> String {
    let host = std::env::var("PGHOST").unwrap_or_else(|_| "/var/run/postgresql".into());
    format!(
        "host={host} port={} user=postgres dbname={}",
        pg_port(),
        db_name()
    )
}

pub fn facade_dsn() -> String {
    format!(
        "postgres://{LOGIN_ROLE}:{LOGIN_PASSWORD}@127.0.0.1:{}/{}",
        pg_port(),
        db_name()
    )
}

pub async fn admin() -> tokio_postgres::Client {
    let (c, conn) = tokio_postgres::connect(&admin_dsn(), NoTls).await.expect(
        "connect as postgres (is the test database deployed? run scripts/test.sh DB facade)",
    );
    tokio::spawn(conn);
    c
}

/// Keys made for the tests (full key strings).
pub struct Keys {
    pub all: String,
    pub team_a: String,
    pub team_a_peer: String,
    pub team_b: String,
    pub admin: String,
    pub identity_read: String,
    pub graph_only: String,
    pub revoked: String,
}

pub struct Fixture {
    pub keys: Keys,
    pub jwks_path: PathBuf,
    pub jwt_key_pem: String,
    pub rsa_key_pem: String,
    pub cert_pem: String,
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
    _dir: tempfile::TempDir,
}

async fn make_key(
    c: &tokio_postgres::Client,
    name: &str,
    scopes: &[&str],
    team: Option<&str>,
) -> String {
    let k = generate_key().unwrap();
    let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    c.execute(
        "SELECT idgraph.api_key_create($1, $2, $3, $4, $5)",
        &[&k.key_id, &name, &k.secret_hash, &scopes, &team],
    )
    .await
    .unwrap();
    k.full_key
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

pub fn fixture() -> &'static Fixture {
    // Built on a thread of its own: callers may already be inside a runtime.
    FIXTURE.get_or_init(|| {
        std::thread::spawn(|| {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(make_fixture())
        })
        .join()
        .unwrap()
    })
}

async fn make_fixture() -> Fixture {
    let c = admin().await;
    // The facade's LOGIN role: ordinary, a member of idgraph_facade, never superuser.
    c.batch_execute(&format!(
        "DO $$ BEGIN
           IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{LOGIN_ROLE}') THEN
             CREATE ROLE {LOGIN_ROLE} LOGIN PASSWORD '{LOGIN_PASSWORD}';
           END IF;
         END $$;
         ALTER ROLE {LOGIN_ROLE} LOGIN PASSWORD '{LOGIN_PASSWORD}' NOSUPERUSER;
         GRANT idgraph_facade TO {LOGIN_ROLE};
         CREATE SCHEMA IF NOT EXISTS facade_t;
         CREATE TABLE IF NOT EXISTS {TABLE} (site_id serial PRIMARY KEY, name text);
         GRANT USAGE ON SCHEMA facade_t TO idgraph_reader;
         SELECT idgraph.register_target('{TABLE}', '{COLUMN}');"
    ))
    .await
    .unwrap();
    let keys = Keys {
        all: make_key(
            &c,
            "all-scopes",
            &["identity:write", "graph:write", "slo:write"],
            Some("team-all"),
        )
        .await,
        team_a: make_key(
            &c,
            "team-a",
            &["identity:write", "graph:read"],
            Some("team-a"),
        )
        .await,
        team_a_peer: make_key(&c, "team-a-peer", &["identity:write"], Some("team-a")).await,
        team_b: make_key(&c, "team-b", &["identity:write"], Some("team-b")).await,
        admin: make_key(&c, "admin", &["identity:admin"], None).await,
        identity_read: make_key(&c, "reader", &["identity:read"], Some("team-a")).await,
        graph_only: make_key(&c, "graph", &["graph:read"], None).await,
        revoked: make_key(
            &c,
            "revoked",
            &["identity:write", "graph:write", "slo:write"],
            None,
        )
        .await,
    };
    let revoked_id = keys.revoked.split('_').nth(2).unwrap().to_owned();
    c.execute("SELECT idgraph.api_key_revoke($1)", &[&revoked_id])
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    // TLS: a self-signed certificate for localhost.
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert_pem = cert.cert.pem();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, &cert_pem).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();

    // JWT: an ES256 key pair; the JWKS holds the public half.
    let kp = rcgen::KeyPair::generate().unwrap();
    let raw = kp.public_key_raw(); // 0x04 || x || y
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    // And an RS256 key pair (openssl: ring cannot generate RSA keys).
    let rsa_path = dir.path().join("rsa.pem");
    let st = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&rsa_path)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let modulus = std::process::Command::new("openssl")
        .args(["rsa", "-noout", "-modulus", "-in"])
        .arg(&rsa_path)
        .output()
        .unwrap();
    let modulus = String::from_utf8(modulus.stdout).unwrap();
    let n = hex::decode(modulus.trim().trim_start_matches("Modulus=")).unwrap();
    let jwks = json!({"keys": [{
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": "test-es256",
        "x": b64.encode(&raw[1..33]), "y": b64.encode(&raw[33..65]),
    }, {
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": "test-rs256",
        "n": b64.encode(&n), "e": "AQAB",
    }]});
    let jwks_path = dir.path().join("jwks.json");
    std::fs::write(&jwks_path, jwks.to_string()).unwrap();

    Fixture {
        keys,
        jwks_path,
        rsa_key_pem: std::fs::read_to_string(&rsa_path).unwrap(),
        jwt_key_pem: kp.serialize_pem(),
        cert_pem,
        cert_path,
        key_path,
        _dir: dir,
    }
}

/// A signed ES256 token with these claims (exp/nbf/iss/aud as given).
pub fn jwt(claims: Value) -> String {
    let f = fixture();
    let key = jsonwebtoken::EncodingKey::from_ec_pem(f.jwt_key_pem.as_bytes()).unwrap();
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    h.kid = Some("test-es256".into());
    jsonwebtoken::encode(&h, &claims, &key).unwrap()
}

/// A signed RS256 token.
pub fn jwt_rs256(claims: Value, kid: &str) -> String {
    let f = fixture();
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(f.rsa_key_pem.as_bytes()).unwrap();
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    h.kid = Some(kid.into());
    jsonwebtoken::encode(&h, &claims, &key).unwrap()
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn good_jwt(scopes: &str) -> String {
    jwt(
        json!({"sub": "alice", "aud": AUDIENCE, "iss": ISSUER, "exp": now() + 600,
               "nbf": now() - 10, "scope": scopes, "team": "team-jwt"}),
    )
}

/// A running facade on 127.0.0.1:<random port>, in its own thread and runtime.
pub struct Server {
    pub addr: SocketAddr,
    pub base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    pub fn start(tweak: impl FnOnce(&mut ServeArgs)) -> Server {
        let f = fixture();
        let mut args = ServeArgs::for_database(&facade_dsn());
        args.tls_cert = Some(f.cert_path.clone());
        args.tls_key = Some(f.key_path.clone());
        args.jwks_file = Some(f.jwks_path.clone());
        args.jwt_audience = AUDIENCE.into();
        args.jwt_issuer = Some(ISSUER.into());
        args.max_batch = 1000;
        tweak(&mut args);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                idgraph_facade::server::serve_on(listener, args, async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
            });
        });
        let scheme = "https";
        let s = Server {
            addr,
            base: format!("{scheme}://localhost:{}", addr.port()),
            stop: Some(tx),
            thread: Some(thread),
        };
        s.wait_live();
        s
    }

    fn wait_live(&self) {
        for _ in 0..100 {
            if std::net::TcpStream::connect(self.addr).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("facade did not start");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// An HTTPS client trusting only the test certificate.
pub fn client() -> reqwest::Client {
    let f = fixture();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(f.cert_pem.as_bytes()).unwrap())
        .tls_built_in_root_certs(false)
        .https_only(true)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// The shared server for tests that do not need special settings.
pub fn shared() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(|| Server::start(|_| {}))
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4())
}

/// Asserts a problem+json response and returns the document.
pub async fn problem(res: reqwest::Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = res.text().await.unwrap();
    assert_eq!(got, status, "status; body: {body}");
    assert!(
        ct.starts_with("application/problem+json"),
        "content type {ct}; body: {body}"
    );
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], status, "{v}");
    assert!(
        v["type"].as_str().is_some() && v["title"].as_str().is_some(),
        "{v}"
    );
    assert!(v["request_id"].as_str().is_some(), "{v}");
    v
}
