//! The server process's lifecycle: graceful shutdown on SIGTERM, and the bound on how
//! long a client may take to send a request.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::helpers::{run_cli, spawn_app_with, test_settings, ServeProcess, TestDatabase};

fn read_response(stream: &mut TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut response = Vec::new();
    let mut buffer = [0; 4096];
    while let Ok(read) = stream.read(&mut buffer) {
        if read == 0 {
            break;
        }
        response.extend_from_slice(&buffer[..read]);
        if response.windows(4).any(|w| w == b"\r\n\r\n") && response.ends_with(b"}") {
            break;
        }
    }
    String::from_utf8_lossy(&response).into_owned()
}

both_backends! {
    async fn sigterm_stops_accepting_and_finishes_the_request_in_flight(db) {
        let dir = tempfile::tempdir().unwrap();
        let bootstrap = run_cli(&["bootstrap", "--json"], &[("DATABASE_URL", &db.raw_url())], dir.path());
        assert!(bootstrap.status.success(), "{}", String::from_utf8_lossy(&bootstrap.stderr));
        let admin: serde_json::Value = serde_json::from_slice(&bootstrap.stdout).unwrap();
        let mut server = ServeProcess::start(&db, dir.path(), &[]);
        let body = "grant_type=client_credentials";
        let credentials = crate::helpers::basic_header(admin["client_id"].as_str().unwrap(), admin["client_secret"].as_str().unwrap());
        let mut in_flight = server.connect().unwrap();
        write!(
            in_flight,
            "POST /oauth/token HTTP/1.1\r\nHost: localhost\r\nAuthorization: {credentials}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{}",
            body.len(),
            &body[..10]
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(200));

        server.signal("-TERM");
        std::thread::sleep(Duration::from_millis(500));

        assert!(server.connect().is_err(), "a stopping server accepts no new connection");
        in_flight.write_all(&body.as_bytes()[10..]).unwrap();
        let response = read_response(&mut in_flight);
        assert!(response.starts_with("HTTP/1.1 200"), "the request in flight was answered: {response}");
        assert!(response.contains("\"access_token\""), "{response}");
        drop(in_flight);
        let status = server.wait(Duration::from_secs(15));
        assert!(status.success(), "a clean exit after the shutdown: {status:?}");
    }
}

#[tokio::test]
async fn a_client_that_trickles_its_request_head_gets_408_and_is_dropped() {
    let db = TestDatabase::sqlite();
    let mut settings = test_settings(&db);
    settings.client_timeout = Duration::from_millis(300);
    let app = spawn_app_with(db, settings).await;
    let address = app.address.trim_start_matches("http://").to_owned();

    let response = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(address).unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(800));
        read_response(&mut stream)
    })
    .await
    .unwrap();

    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
}

#[tokio::test]
async fn a_client_that_trickles_its_request_body_gets_408() {
    let db = TestDatabase::sqlite();
    let mut settings = test_settings(&db);
    settings.client_timeout = Duration::from_millis(300);
    let app = spawn_app_with(db, settings).await;
    let address = app.address.trim_start_matches("http://").to_owned();

    let (response, elapsed) = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(address).unwrap();
        let started = std::time::Instant::now();
        stream
            .write_all(b"POST /oauth/token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=")
            .unwrap();
        for _ in 0..4 {
            std::thread::sleep(Duration::from_millis(150));
            let _ = stream.write_all(b"x");
        }
        (read_response(&mut stream), started.elapsed())
    })
    .await
    .unwrap();

    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("not received in time"), "{response}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}
