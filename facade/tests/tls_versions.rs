//! The HTTPS facade speaks TLS 1.3 and 1.2 only: a client offering TLS 1.1 or 1.0 (the
//! openssl CLI, at security level 0 so that it really offers them) is refused by the
//! server with a fatal alert, nothing negotiated.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

fn s_client(port: u16, version_flag: &str) -> (bool, String) {
    let out = std::process::Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-servername",
            "localhost",
            version_flag,
            "-cipher",
            "DEFAULT:@SECLEVEL=0",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let protocol = text
        .lines()
        .find(|l| l.trim_start().starts_with("Protocol"))
        .unwrap_or("")
        .to_owned();
    (out.status.success(), protocol + "\n" + &text)
}

#[tokio::test]
async fn only_tls_12_and_13_are_accepted() {
    let s = shared();
    let port = s.addr.port();
    let (ok, out) = tokio::task::spawn_blocking(move || s_client(port, "-tls1_3"))
        .await
        .unwrap();
    assert!(ok && out.contains("TLSv1.3"), "{out}");
    let (ok, out) = tokio::task::spawn_blocking(move || s_client(port, "-tls1_2"))
        .await
        .unwrap();
    assert!(ok && out.contains("TLSv1.2"), "{out}");
    for old in ["-tls1_1", "-tls1"] {
        let (ok, out) = tokio::task::spawn_blocking(move || s_client(port, old))
            .await
            .unwrap();
        assert!(!ok, "{old} was accepted: {out}");
        // rustls answers a ClientHello without 1.2/1.3 with a fatal alert; nothing is
        // negotiated.
        assert!(
            out.contains("alert handshake failure") || out.contains("alert protocol version"),
            "{old}: {out}"
        );
        assert!(out.contains("Cipher is (NONE)"), "{old}: {out}");
    }
}
