//! `greenstd::http` over TLS (feature `https`): rustls on greenstd's
//! `TcpStream`, against a local rustls server with a self-signed
//! certificate, many downloads at once on one thread.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::sync::Arc;

use greenstd::http::Opener;
use greenstd::net::TcpListener;
use greenstd::thread;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS server for `localhost` answering "secure hello"; returns its port
/// and the certificate a client must trust.
fn tls_server() -> (u16, CertificateDer<'static>) {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = key.cert.der().clone();
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.signing_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], private)
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let config = config.clone();
            thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, stream);
                let mut reader = BufReader::new(&mut tls);
                let mut line = String::new();
                loop {
                    line.clear();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => return,
                        Ok(_) if line == "\r\n" => break,
                        Ok(_) => {}
                    }
                }
                let body = b"secure hello";
                let _ = write!(
                    tls,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                let _ = tls.write_all(body);
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    (port, cert)
}

fn opener_trusting(cert: CertificateDer<'static>) -> Opener {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Opener::new().tls_config(Arc::new(config))
}

#[test]
fn https_downloads_run_concurrently_on_one_thread() {
    let (port, cert) = tls_server();
    let opener = opener_trusting(cert);
    let gs: Vec<_> = (0..20)
        .map(|_| {
            let opener = opener.clone();
            greenstd::spawn(move || -> io::Result<String> {
                let mut r = opener.open(&format!("https://localhost:{port}/"))?;
                let mut text = String::new();
                r.read_to_string(&mut text)?;
                Ok(text)
            })
        })
        .collect();
    greenstd::joinall(&gs, None);
    for g in gs {
        assert_eq!(g.get().unwrap().unwrap(), "secure hello");
    }
}

#[test]
fn an_untrusted_certificate_is_refused() {
    let (port, _cert) = tls_server();
    let e = greenstd::spawn(move || {
        greenstd::http::urlopen(&format!("https://localhost:{port}/")).map(|_| ())
    })
    .get()
    .unwrap()
    .unwrap_err();
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");
}
