//! HTTPS: the server speaks TLS (rustls) with a self-signed certificate generated at start or a
//! PEM certificate and key given to it, offers HTTP/2 and HTTP/1.1 by ALPN, and a client that
//! does not trust the certificate cannot talk to it.

use clap::Parser;
use event_mock::server::ServeArgs;
use event_mock::tls::{Tls, TlsSource};
use event_mock::{MockConfig, MockServer};

fn trusting(pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .no_proxy()
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_self_signed_server_answers_clients_that_trust_its_certificate() {
    let server = MockServer::start_tls().await.expect("tls server");
    assert!(
        server.url().starts_with("https://127.0.0.1:"),
        "{}",
        server.url()
    );
    let pem = server.certificate_pem().expect("a certificate").to_owned();
    let client = trusting(&pem);
    let health = client
        .get(format!("{}/__admin/health", server.url()))
        .send()
        .await
        .expect("https request");
    assert_eq!(health.status(), 200);
    // ALPN offers HTTP/2 first.
    assert_eq!(health.version(), reqwest::Version::HTTP_2);
    // An API answers over TLS, with its own error envelope and an https Location base.
    let events = client
        .get(format!("{}/mws/rest/events?api-version=3", server.url()))
        .basic_auth("admin", Some("secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    // A client that does not trust the certificate, and a plain-HTTP client, get nowhere.
    let untrusting = reqwest::Client::builder().no_proxy().build().unwrap();
    assert!(untrusting
        .get(format!("{}/__admin/health", server.url()))
        .send()
        .await
        .is_err());
    let plain = server.url().replacen("https://", "http://", 1);
    let answered = reqwest::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap()
        .get(format!("{plain}/__admin/health"))
        .send()
        .await;
    assert!(answered.map(|r| r.status() != 200).unwrap_or(true));
}

#[tokio::test]
async fn a_given_pem_certificate_is_served() {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = std::env::temp_dir().join(format!("event-mock-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.key_pair.serialize_pem()).unwrap();
    let args = ServeArgsCli::parse_from([
        "event-mock",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ])
    .serve;
    let tls = args.tls().expect("readable PEM").expect("TLS asked for");
    let server = MockServer::bind_tls(
        MockConfig::default(),
        "127.0.0.1:0".parse().unwrap(),
        args.limits(),
        tls,
    )
    .await
    .unwrap();
    assert_eq!(server.certificate_pem().unwrap(), generated.cert.pem());
    let url = server.url().replace("127.0.0.1", "localhost");
    let health = trusting(&generated.cert.pem())
        .get(format!("{url}/__admin/health"))
        .send()
        .await
        .expect("https with the given certificate");
    assert_eq!(health.status(), 200);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unreadable_pem_is_refused_with_a_reason() {
    let source = TlsSource::Pem {
        cert_chain: "not a certificate".into(),
        private_key: "not a key".into(),
    };
    let error = Tls::new(&source).unwrap_err();
    assert!(error.contains("certificate"), "{error}");
    let no_tls = ServeArgsCli::parse_from(["event-mock"]).serve;
    assert!(no_tls.tls().unwrap().is_none());
    let self_signed = ServeArgsCli::parse_from(["event-mock", "--tls"]).serve;
    assert!(self_signed.tls().unwrap().is_some());
}

#[derive(Parser)]
struct ServeArgsCli {
    #[command(flatten)]
    serve: ServeArgs,
}

#[tokio::test]
async fn a_sixteen_kib_credential_is_accepted_over_http2_as_over_http1() {
    // Cloud Eye's X-Auth-Token may have 16,384 characters; HTTP/2's default header list is
    // 16 KiB, which would refuse it with 431 before the API sees it.
    let server = MockServer::start_tls().await.unwrap();
    let client = trusting(server.certificate_pem().unwrap());
    let resp = client
        .get(format!("{}/__admin/health", server.url()))
        .header("x-long", "t".repeat(16_384))
        .header("x-other", "o".repeat(8_000))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    assert_eq!(resp.status(), 200);
}
