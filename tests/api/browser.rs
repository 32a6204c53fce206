//! A real browser: headless Chromium, driven over WebDriver (chromedriver, `fantoccini`),
//! signs a tenant's user in on the sign-in page, approves on the consent page, and lands
//! on a loopback redirect URI served by the test, whose code the test then redeems with
//! PKCE and uses on `/oauth/me`. `.ci/run` installs Debian's `chromium` and
//! `chromium-driver`; without them the test says it was skipped rather than passing
//! silently.
//!
//! `UPDATE_SCREENSHOTS=1 cargo test --test api browser` writes the screenshots of the two
//! pages to `docs/` (the README shows them); otherwise they go to a temporary directory.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use fantoccini::{ClientBuilder, Locator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::helpers::{json_with_status, jwt_claims, spawn_app, TestClient, TEST_REDIRECT_URI};
use tenauth::domain::GrantType;

/// chromedriver, stopped when the test ends.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chromedriver() -> Option<PathBuf> {
    let path = std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"));
    path.exists().then_some(path)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Serves the redirect URI: answers every request with a short page, and hands over the
/// request line of the first one.
async fn redirect_target() -> (u16, tokio::sync::oneshot::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sender, receiver) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut sender = Some(sender);
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buffer = vec![0u8; 8192];
            let read = stream.read(&mut buffer).await.unwrap_or(0);
            let request = String::from_utf8_lossy(&buffer[..read]).to_string();
            let line = request.lines().next().unwrap_or_default().to_owned();
            let body = "<!doctype html><title>Back at the app</title><p>Signed in.</p>";
            let answer = format!("HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
            let _ = stream.write_all(answer.as_bytes()).await;
            if line.contains("/callback?") {
                if let Some(sender) = sender.take() {
                    let _ = sender.send(line);
                }
            }
        }
    });
    (port, receiver)
}

fn screenshot_dir() -> PathBuf {
    if std::env::var_os("UPDATE_SCREENSHOTS").is_some() {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs")
    } else {
        std::env::temp_dir()
    }
}

both_backends! {
    async fn a_browser_signs_in_consents_and_the_app_redeems_the_code(db) {
        let Some(chromedriver) = chromedriver() else {
            eprintln!("SKIPPED browser test: chromedriver is not installed (Debian packages chromium and chromium-driver)");
            return;
        };
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let client: TestClient = app.provision_client(acme.tenant_id, &[GrantType::AuthorizationCode], "read write", true).await;
        let (port, callback) = redirect_target().await;
        let redirect_uri = format!("http://127.0.0.1:{port}/callback");
        assert!(TEST_REDIRECT_URI.starts_with("http://127.0.0.1/"), "registered without a port: any port matches");
        let verifier = tenauth::domain::random_url_safe(32);
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()).as_ref());
        let authorize = format!(
            "{}/oauth/authorize?response_type=code&client_id={}&redirect_uri={}&scope=read&state=browser-state&code_challenge={challenge}&code_challenge_method=S256",
            app.address,
            client.id,
            url::form_urlencoded::byte_serialize(redirect_uri.as_bytes()).collect::<String>(),
        );

        let driver_port = free_port();
        let _driver = Driver(
            Command::new(chromedriver)
                .arg(format!("--port={driver_port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start chromedriver"),
        );
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=820,900"]}),
        );
        let webdriver = format!("http://127.0.0.1:{driver_port}");
        let mut browser = None;
        for _ in 0..50 {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&webdriver)
                .await
            {
                Ok(connected) => {
                    browser = Some(connected);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
        let browser = browser.expect("a WebDriver session");
        let screenshots = screenshot_dir();
        let suffix = if app.db.raw_url().starts_with("postgres") { "-postgres" } else { "" };

        browser.goto(&authorize).await.unwrap();
        let heading = browser.find(Locator::Css("h1")).await.unwrap().text().await.unwrap();
        assert_eq!(heading, "Sign in to acme");
        browser.find(Locator::Css("input[name=username]")).await.unwrap().send_keys("alice").await.unwrap();
        browser.find(Locator::Css("input[name=password]")).await.unwrap().send_keys("alice-password").await.unwrap();
        if suffix.is_empty() {
            std::fs::write(screenshots.join("sign-in.png"), browser.screenshot().await.unwrap()).unwrap();
        }
        browser.find(Locator::Css("button[value=sign_in]")).await.unwrap().click().await.unwrap();

        let approve = match browser.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("button[value=approve]")).await {
            Ok(approve) => approve,
            Err(error) => panic!("no consent page ({error}): {} {}", browser.current_url().await.unwrap(), browser.source().await.unwrap()),
        };
        let consent = browser.source().await.unwrap();
        assert!(consent.contains("Allow test client?") && consent.contains("<code>read</code>"), "{consent}");
        if suffix.is_empty() {
            std::fs::write(screenshots.join("consent.png"), browser.screenshot().await.unwrap()).unwrap();
        }
        approve.click().await.unwrap();

        let line = tokio::time::timeout(Duration::from_secs(20), callback).await.expect("the browser reached the redirect URI").unwrap();
        let target = line.split_whitespace().nth(1).unwrap();
        let query: std::collections::HashMap<String, String> = url::Url::parse(&format!("http://127.0.0.1{target}")).unwrap()
            .query_pairs().map(|(name, value)| (name.into_owned(), value.into_owned())).collect();
        assert_eq!(query["state"], "browser-state");
        assert_eq!(query["iss"], app.address);
        let form = [("grant_type", "authorization_code"), ("code", query["code"].as_str()), ("code_verifier", verifier.as_str()), ("redirect_uri", redirect_uri.as_str())];
        let tokens = json_with_status(app.token(&form, Some(client.basic())).await, 200).await;
        let access = tokens["access_token"].as_str().unwrap();
        assert_eq!(jwt_claims(access)["tenant_id"], acme.tenant_id.get());
        let me = json_with_status(app.get_with_token("/oauth/me", access).await, 200).await;
        assert_eq!(me["username"], "alice");
        assert_eq!(me["grant"], "authorization_code");
        browser.close().await.unwrap();
    }
}
