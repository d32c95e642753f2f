//! TLS to PostgreSQL, against a throwaway cluster (its own data directory, port and
//! socket; never the shared one) with `ssl = on`, a server certificate for `pg.test`
//! signed by a test CA made here (rcgen), and a pg_hba.conf that allows TCP only with
//! TLS (`hostssl`). The facade's own connection code (`pgconn`, `make_pool`) connects.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use idgraph_facade::db::make_pool;
use idgraph_facade::pgconn;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};

const PGBIN: &str = "/usr/lib/postgresql/15/bin";
const PASSWORD: &str = "tls-test-only";

struct Cluster {
    dir: tempfile::TempDir,
    port: u16,
    ca: PathBuf,
    wrong_ca: PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_postgres(PGBIN.to_owned() + "/pg_ctl")
            .args(["-D"])
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

fn as_postgres(program: String) -> Command {
    let me = Command::new("id").arg("-un").output().unwrap();
    if String::from_utf8_lossy(&me.stdout).trim() == "postgres" {
        Command::new(program)
    } else {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", &program]);
        c
    }
}

fn ca(name: &str) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    (p.self_signed(&key).unwrap(), key)
}

fn write_owned(path: &Path, text: &str, mode: &str) {
    std::fs::write(path, text).unwrap();
    assert!(Command::new("chown")
        .arg("postgres")
        .arg(path)
        .status()
        .unwrap()
        .success());
    assert!(Command::new("chmod")
        .arg(mode)
        .arg(path)
        .status()
        .unwrap()
        .success());
}

/// The cluster, shared by the tests running at the same time and stopped when the last
/// of them drops it (a static would never be dropped, leaving the server running).
fn cluster() -> Arc<Cluster> {
    static C: Mutex<Weak<Cluster>> = Mutex::new(Weak::new());
    let mut g = C.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = g.upgrade() {
        return c;
    }
    let c = Arc::new(start_cluster());
    *g = Arc::downgrade(&c);
    c
}

fn start_cluster() -> Cluster {
    {
        let dir = tempfile::Builder::new()
            .prefix("idgraph-pgtls.")
            .tempdir()
            .unwrap();
        assert!(Command::new("chown")
            .arg("postgres")
            .arg(dir.path())
            .status()
            .unwrap()
            .success());
        let data = dir.path().join("data");
        let out = as_postgres(format!("{PGBIN}/initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth-local=trust", "--auth-host=reject"])
            .output()
            .unwrap();
        assert!(out.status.success(), "initdb: {out:?}");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // The CA, and a server certificate for pg.test signed by it.
        let (ca_cert, ca_key) = ca("idgraph test CA");
        let (wrong_cert, _) = ca("some other CA");
        let srv_key = KeyPair::generate().unwrap();
        let mut srv = CertificateParams::new(vec!["pg.test".to_owned()]).unwrap();
        srv.distinguished_name.push(DnType::CommonName, "pg.test");
        let srv = srv.signed_by(&srv_key, &ca_cert, &ca_key).unwrap();
        write_owned(&data.join("server.crt"), &srv.pem(), "644");
        write_owned(&data.join("server.key"), &srv_key.serialize_pem(), "600");
        let ca = dir.path().join("ca.pem");
        let wrong_ca = dir.path().join("wrong-ca.pem");
        std::fs::write(&ca, ca_cert.pem()).unwrap();
        std::fs::write(&wrong_ca, wrong_cert.pem()).unwrap();
        let run = dir.path().join("run");
        std::fs::create_dir(&run).unwrap();
        assert!(Command::new("chown")
            .arg("postgres")
            .arg(&run)
            .status()
            .unwrap()
            .success());
        let conf = format!(
            "\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n\
             ssl_min_protocol_version = 'TLSv1.2'\n",
            run.display()
        );
        let mut pgconf = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
        pgconf.push_str(&conf);
        write_owned(&data.join("postgresql.conf"), &pgconf, "600");
        // TCP only with TLS; the socket (in a directory only postgres and root reach)
        // for setting up.
        write_owned(
            &data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n",
            "600",
        );
        let out = as_postgres(format!("{PGBIN}/pg_ctl"))
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.path().join("log"))
            .args(["-w", "start"])
            .output()
            .unwrap();
        assert!(out.status.success(), "pg_ctl start: {out:?}");
        let out = Command::new(format!("{PGBIN}/psql"))
            .args(["-X", "-q", "-h"])
            .arg(&run)
            .args([
                "-p",
                &port.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-c",
            ])
            .arg(format!("CREATE ROLE tls_user LOGIN PASSWORD '{PASSWORD}'"))
            .output()
            .unwrap();
        assert!(out.status.success(), "psql: {out:?}");
        Cluster {
            dir,
            port,
            ca,
            wrong_ca,
        }
    }
}

/// Connects with the facade's parser; returns the TLS version in use, or the error text.
async fn connect(conn: &str, ca_file: Option<&Path>) -> Result<Option<String>, String> {
    let t = pgconn::parse(conn, ca_file, Some(Duration::from_secs(30)))?;
    let (client, connection) = t.config.connect(t.tls).await.map_err(|e| {
        // The whole chain: "error performing TLS handshake: invalid peer certificate: …".
        let mut s = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(x) = src {
            s.push_str(": ");
            s.push_str(&x.to_string());
            src = x.source();
        }
        s
    })?;
    tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl",
            &[],
        )
        .await
        .map(|r| r.get::<_, Option<String>>(0))
        .ok()
        .flatten();
    // statement_timeout reached the session.
    let st: String = client
        .query_one("SHOW statement_timeout", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(st, "30s");
    Ok(row)
}

fn base(c: &Cluster, host: &str) -> String {
    format!(
        "host={host} hostaddr=127.0.0.1 port={} user=tls_user password={PASSWORD} dbname=postgres",
        c.port
    )
}

#[tokio::test]
async fn verify_full_with_the_right_ca_connects_over_tls13() {
    let c = cluster();
    let conn = format!(
        "{} sslmode=verify-full sslrootcert={}",
        base(&c, "pg.test"),
        c.ca.display()
    );
    let v = connect(&conn, None).await.unwrap();
    assert_eq!(v.as_deref(), Some("TLSv1.3"));
    // The CA from --database-ca-file works the same.
    let conn = format!("{} sslmode=verify-full", base(&c, "pg.test"));
    assert!(connect(&conn, Some(&c.ca)).await.unwrap().is_some());
}

#[tokio::test]
async fn verify_full_refuses_a_wrong_ca() {
    let c = cluster();
    let conn = format!("{} sslmode=verify-full", base(&c, "pg.test"));
    let e = connect(&conn, Some(&c.wrong_ca)).await.unwrap_err();
    assert!(
        e.contains("TLS handshake") && e.contains("UnknownIssuer"),
        "{e}"
    );
}

#[tokio::test]
async fn verify_full_refuses_a_wrong_host_name_verify_ca_does_not() {
    let c = cluster();
    let conn = format!("{} sslmode=verify-full", base(&c, "db.elsewhere.test"));
    let e = connect(&conn, Some(&c.ca)).await.unwrap_err();
    assert!(
        e.contains("TLS handshake") && e.contains("not valid for name"),
        "{e}"
    );
    // verify-ca checks the chain only.
    let conn = format!("{} sslmode=verify-ca", base(&c, "db.elsewhere.test"));
    assert!(connect(&conn, Some(&c.ca)).await.unwrap().is_some());
    // …but still not a wrong chain.
    let e = connect(&conn, Some(&c.wrong_ca)).await.unwrap_err();
    assert!(e.contains("UnknownIssuer"), "{e}");
}

#[tokio::test]
async fn sslmode_disable_is_refused_by_a_hostssl_only_server() {
    let c = cluster();
    let conn = format!("{} sslmode=disable", base(&c, "pg.test"));
    let e = connect(&conn, None).await.unwrap_err();
    assert!(e.contains("no encryption"), "{e}");
    // prefer (libpq's default) encrypts, without verifying.
    let conn = base(&c, "pg.test");
    assert!(connect(&conn, None).await.unwrap().is_some());
}

#[tokio::test]
async fn pool_honours_the_whole_url_with_several_hosts() {
    let c = cluster();
    // The first host (127.0.0.2: nothing listens) fails, the second serves; read-write
    // is required, and TLS is verified against the CA named in the URL.
    let url = format!(
        "postgresql://tls_user:{PASSWORD}@127.0.0.2:{p},pg.test:{p}/postgres?hostaddr=127.0.0.2,127.0.0.1\
         &target_session_attrs=read-write&application_name=tls-test&sslmode=verify-full&sslrootcert={}",
        c.ca.display(),
        p = c.port
    );
    let pool = make_pool(
        &url,
        None,
        Duration::from_millis(1500),
        2,
        Duration::from_secs(5),
        idgraph_facade::db::Pooler::None,
    )
    .unwrap();
    let client = pool.pool.get().await.unwrap();
    let row = client
        .query_one(
            "SELECT current_setting('application_name'), current_setting('statement_timeout'), \
                    (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "tls-test");
    assert_eq!(row.get::<_, String>(1), "1500ms");
    assert!(row.get::<_, bool>(2));
    // The statement timeout bites: 57014.
    let e = client.simple_query("SELECT pg_sleep(3)").await.unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("57014"));
}
