//! The facade's connections to PostgreSQL: the whole libpq-style connection string (URL
//! or key=value) is honoured — several hosts, `target_session_attrs`, `hostaddr`,
//! `application_name`, `options`, `connect_timeout`, keepalives … — by handing it to
//! tokio-postgres' own parser, and TLS follows libpq's `sslmode`:
//!
//! | sslmode | TLS | server certificate |
//! |---|---|---|
//! | `disable` | never | — |
//! | `prefer` (default) | when the server offers it | not verified (as libpq) |
//! | `require` | always | not verified; verified against the CA like `verify-ca` when a CA is given (as libpq) |
//! | `verify-ca` | always | chain to the CA |
//! | `verify-full` | always | chain to the CA and the host name (`host`, not `hostaddr`) |
//!
//! tokio-postgres knows neither `verify-ca`/`verify-full` nor `sslrootcert`, so both are
//! taken out of the string here (and become rustls settings) before the rest is parsed.
//! The CA comes from `sslrootcert=FILE` in the string or `--database-ca-file`.
//! Every session gets `statement_timeout` (unless the string's `options` set one), except
//! behind a pooler in transaction mode, which sets it per transaction (see db.rs).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// How the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Encryption only (libpq's `prefer` / `require` without a CA).
    None,
    /// The chain must lead to the CA; the name is not checked.
    Ca,
    /// The chain must lead to the CA and the certificate must name the host.
    Full,
}

/// A parsed connection: tokio-postgres' config and the TLS connector for it.
pub struct PgTarget {
    pub config: tokio_postgres::Config,
    pub tls: MakeRustlsConnect,
    pub verify: Verify,
}

/// Parses `conn` (URL or key=value), with `ca_file` as the CA when the string names none.
pub fn parse(
    conn: &str,
    ca_file: Option<&Path>,
    statement_timeout: Option<Duration>,
) -> Result<PgTarget, String> {
    let (rest, sslmode, rootcert) = take_ssl_params(conn)?;
    let mut config: tokio_postgres::Config = rest
        .parse()
        .map_err(|e| format!("bad database connection string: {e}"))?;
    let ca = rootcert
        .map(PathBuf::from)
        .or(ca_file.map(Path::to_path_buf));
    let verify = match sslmode.as_deref() {
        None | Some("prefer") | Some("allow") => {
            config.ssl_mode(SslMode::Prefer);
            if ca.is_some() {
                Verify::Ca
            } else {
                Verify::None
            }
        }
        Some("disable") => {
            config.ssl_mode(SslMode::Disable);
            Verify::None
        }
        Some("require") => {
            config.ssl_mode(SslMode::Require);
            if ca.is_some() {
                Verify::Ca
            } else {
                Verify::None
            }
        }
        Some("verify-ca") => {
            config.ssl_mode(SslMode::Require);
            Verify::Ca
        }
        Some("verify-full") => {
            config.ssl_mode(SslMode::Require);
            Verify::Full
        }
        Some(other) => {
            return Err(format!(
                "bad database connection string: sslmode={other} (use disable, prefer, require, verify-ca or verify-full)"
            ))
        }
    };
    let roots = match (&ca, verify) {
        (Some(path), _) => Some(load_roots(path)?),
        (None, Verify::None) => None,
        (None, _) => {
            return Err(format!(
                "sslmode={} needs the CA that signed the server's certificate: sslrootcert=FILE in the connection string or --database-ca-file",
                sslmode.unwrap_or_default()
            ))
        }
    };
    if config.get_application_name().is_none() {
        config.application_name("idgraph-facade");
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(3));
    }
    let options = config.get_options().unwrap_or("").to_owned();
    if let (Some(timeout), false) = (statement_timeout, options.contains("statement_timeout")) {
        let ms = timeout.as_millis();
        let mine = format!("-c statement_timeout={ms}");
        config.options(if options.trim().is_empty() {
            mine
        } else {
            format!("{options} {mine}")
        });
    }
    let tls = MakeRustlsConnect::new(client_config(verify, roots)?);
    Ok(PgTarget {
        config,
        tls,
        verify,
    })
}

fn load_roots(path: &Path) -> Result<RootCertStore, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("reading the database CA file {}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("reading the database CA file {}: {e}", path.display()))?;
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(format!(
            "the database CA file {} holds no usable certificate",
            path.display()
        ));
    }
    Ok(roots)
}

fn client_config(
    verify: Verify,
    roots: Option<RootCertStore>,
) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("TLS: {e}"))?;
    let verifier: Arc<dyn ServerCertVerifier> = match (verify, roots) {
        (Verify::None, _) | (_, None) => Arc::new(EncryptOnly(provider)),
        (mode, Some(roots)) => {
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| format!("TLS: {e}"))?;
            if mode == Verify::Full {
                webpki
            } else {
                Arc::new(ChainOnly(webpki))
            }
        }
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// libpq's `verify-ca`: the chain is checked, the name is not.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// libpq's `prefer`/`require` without a CA: encrypted, the certificate is not checked
/// (the handshake signature still is). Use `verify-full` against an active attacker.
#[derive(Debug)]
struct EncryptOnly(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

type SslParams = (String, Option<String>, Option<String>);

/// Takes `sslmode` and `sslrootcert` out of a connection string; returns the rest.
pub fn take_ssl_params(conn: &str) -> Result<SslParams, String> {
    let conn = conn.trim();
    if conn.starts_with("postgres://") || conn.starts_with("postgresql://") {
        let Some((base, query)) = conn.split_once('?') else {
            return Ok((conn.to_owned(), None, None));
        };
        let (mut mode, mut root) = (None, None);
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match percent_decode(k)?.as_str() {
                "sslmode" => mode = Some(percent_decode(v)?),
                "sslrootcert" => root = Some(percent_decode(v)?),
                _ => kept.push(pair),
            }
        }
        let rest = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        return Ok((rest, mode, root));
    }
    let (mut mode, mut root) = (None, None);
    let mut kept = Vec::new();
    for (k, v) in key_values(conn)? {
        match k.as_str() {
            "sslmode" => mode = Some(v),
            "sslrootcert" => root = Some(v),
            _ => kept.push(format!(
                "{k}='{}'",
                v.replace('\\', "\\\\").replace('\'', "\\'")
            )),
        }
    }
    Ok((kept.join(" "), mode, root))
}

fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| "bad database connection string: bad %-escape".to_owned())?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "bad database connection string: not UTF-8".to_owned())
}

/// libpq's key=value syntax: `key = value` or `key='quoted \' value'`, backslash escapes.
fn key_values(s: &str) -> Result<Vec<(String, String)>, String> {
    let bad = |why: &str| format!("bad database connection string: {why}");
    let mut out = Vec::new();
    let mut it = s.chars().peekable();
    loop {
        while it.peek().is_some_and(|c| c.is_whitespace()) {
            it.next();
        }
        if it.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(&c) = it.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            it.next();
        }
        while it.peek().is_some_and(|c| c.is_whitespace()) {
            it.next();
        }
        if it.next() != Some('=') {
            return Err(bad(&format!("expected = after {key}")));
        }
        while it.peek().is_some_and(|c| c.is_whitespace()) {
            it.next();
        }
        let mut value = String::new();
        if it.peek() == Some(&'\'') {
            it.next();
            loop {
                match it.next() {
                    None => return Err(bad("unterminated quoted value")),
                    Some('\'') => break,
                    Some('\\') => match it.next() {
                        Some(c) => value.push(c),
                        None => return Err(bad("unterminated quoted value")),
                    },
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(&c) = it.peek() {
                if c.is_whitespace() {
                    break;
                }
                it.next();
                if c == '\\' {
                    if let Some(n) = it.next() {
                        value.push(n);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        out.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_postgres::config::{Host, TargetSessionAttrs};

    const T: Option<Duration> = Some(Duration::from_secs(30));

    #[test]
    fn whole_key_value_string_is_honoured() {
        let t = parse(
            "host=a.example,b.example port=5433,5434 user=u password='p w\\'x' dbname=d \
             target_session_attrs=read-write application_name=mine connect_timeout=7 \
             options='-c work_mem=8MB' sslmode=disable",
            None,
            T,
        )
        .unwrap();
        let c = &t.config;
        assert_eq!(
            c.get_hosts(),
            &[Host::Tcp("a.example".into()), Host::Tcp("b.example".into())]
        );
        assert_eq!(c.get_ports(), &[5433, 5434]);
        assert_eq!(c.get_password(), Some(&b"p w'x"[..]));
        assert_eq!(c.get_target_session_attrs(), TargetSessionAttrs::ReadWrite);
        assert_eq!(c.get_application_name(), Some("mine"));
        assert_eq!(c.get_connect_timeout(), Some(&Duration::from_secs(7)));
        assert_eq!(
            c.get_options(),
            Some("-c work_mem=8MB -c statement_timeout=30000")
        );
        assert_eq!(c.get_ssl_mode(), SslMode::Disable);
    }

    #[test]
    fn url_with_several_hosts_and_ssl_params() {
        let t = parse(
            "postgresql://u:pw@h1:5433,h2:5434/db?target_session_attrs=read-write&sslmode=verify-full&sslrootcert=%2Fnonexistent%2Fca.pem",
            None,
            T,
        );
        // The CA file does not exist: the message names it.
        let e = t.err().unwrap();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
        let (rest, mode, root) = take_ssl_params(
            "postgresql://u:pw@h1:5433,h2:5434/db?target_session_attrs=read-write&sslmode=verify-full&sslrootcert=%2Fx%2Fca.pem",
        )
        .unwrap();
        assert_eq!(
            rest,
            "postgresql://u:pw@h1:5433,h2:5434/db?target_session_attrs=read-write"
        );
        assert_eq!(mode.as_deref(), Some("verify-full"));
        assert_eq!(root.as_deref(), Some("/x/ca.pem"));
        let c: tokio_postgres::Config = rest.parse().unwrap();
        assert_eq!(c.get_hosts().len(), 2);
        assert_eq!(c.get_ports(), &[5433, 5434]);
    }

    #[test]
    fn verify_modes_need_a_ca_and_defaults_are_filled() {
        let e = parse("host=h sslmode=verify-full", None, T).err().unwrap();
        assert!(e.contains("--database-ca-file"), "{e}");
        let e = parse("host=h sslmode=bogus", None, T).err().unwrap();
        assert!(e.contains("sslmode=bogus"), "{e}");
        let t = parse("host=h", None, T).unwrap();
        assert_eq!(t.verify, Verify::None);
        assert_eq!(t.config.get_ssl_mode(), SslMode::Prefer);
        assert_eq!(t.config.get_application_name(), Some("idgraph-facade"));
        assert_eq!(t.config.get_options(), Some("-c statement_timeout=30000"));
        // A statement_timeout of the string's own wins.
        let t = parse("host=h options='-c statement_timeout=5s'", None, T).unwrap();
        assert_eq!(t.config.get_options(), Some("-c statement_timeout=5s"));
        assert!(key_values("host").is_err());
        assert!(key_values("host='x").is_err());
    }
}
