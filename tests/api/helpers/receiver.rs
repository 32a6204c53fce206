//! A push receiver (RFC 8935) the test controls: it records every SET POSTed to it, with
//! its headers, and answers as told (202, an error status, a redirect, or not at all).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

/// How the receiver answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Accept,
    Status(u16),
    /// A 302 to this location.
    Redirect(String),
    /// Never answers (until the push times out).
    Hang,
    /// Accepts until this many SETs were accepted, then answers this status.
    AcceptUpTo(usize, u16),
}

/// One push received.
#[derive(Debug, Clone)]
pub struct Received {
    pub set: String,
    pub content_type: Option<String>,
    pub authorization: Option<String>,
}

impl Received {
    /// The SET's claims (not verified: see `events::assert_verifies`).
    pub fn claims(&self) -> serde_json::Value {
        crate::helpers::jwt_claims(&self.set)
    }

    /// The event type URI of the SET's one event.
    pub fn event_type(&self) -> String {
        self.claims()["events"]
            .as_object()
            .unwrap()
            .keys()
            .next()
            .unwrap()
            .clone()
    }
}

#[derive(Debug, Default)]
struct Shared {
    answer: Option<Answer>,
    /// SETs answered 202, in arrival order.
    accepted: Vec<Received>,
    /// Every request, however answered.
    requests: usize,
}

/// A running receiver.
#[derive(Clone)]
pub struct Receiver {
    pub address: SocketAddr,
    shared: Arc<Mutex<Shared>>,
}

async fn receive(
    request: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Arc<Mutex<Shared>>>,
) -> HttpResponse {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let answer = {
        let mut shared = shared.lock().unwrap();
        shared.requests += 1;
        let answer = match shared.answer.clone().unwrap_or(Answer::Accept) {
            Answer::AcceptUpTo(count, _) if shared.accepted.len() < count => Answer::Accept,
            Answer::AcceptUpTo(_, status) => Answer::Status(status),
            answer => answer,
        };
        if answer == Answer::Accept {
            shared.accepted.push(Received {
                set: String::from_utf8_lossy(&body).into_owned(),
                content_type: header("content-type"),
                authorization: header("authorization"),
            });
        }
        answer
    };
    match answer {
        Answer::Accept => HttpResponse::Accepted().finish(),
        Answer::Status(code) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap())
                .json(serde_json::json!({"err": "invalid_request", "description": "told to fail"}))
        }
        Answer::Redirect(location) => HttpResponse::Found()
            .insert_header(("Location", location))
            .finish(),
        Answer::AcceptUpTo(..) => unreachable!("resolved above"),
        Answer::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            HttpResponse::Accepted().finish()
        }
    }
}

impl Receiver {
    /// Starts a receiver on a free loopback port.
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        Self::start_on(listener)
    }

    /// Starts a receiver on `listener` (to bring up one that was down at that address).
    pub fn start_on(listener: std::net::TcpListener) -> Self {
        let address = listener.local_addr().unwrap();
        let shared: Arc<Mutex<Shared>> = Arc::default();
        let data = web::Data::new(shared.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(receive))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        Self { address, shared }
    }

    /// The URL pushes go to.
    pub fn url(&self) -> String {
        format!("http://{}/events", self.address)
    }

    pub fn answer(&self, answer: Answer) {
        self.shared.lock().unwrap().answer = Some(answer);
    }

    /// The SETs accepted so far, in arrival order.
    pub fn accepted(&self) -> Vec<Received> {
        self.shared.lock().unwrap().accepted.clone()
    }

    /// Requests received so far, however answered.
    pub fn requests(&self) -> usize {
        self.shared.lock().unwrap().requests
    }

    /// Waits until `count` SETs were accepted, at most `bound`; returns them.
    pub async fn wait_for(&self, count: usize, bound: Duration) -> Vec<Received> {
        let deadline = Instant::now() + bound;
        loop {
            let accepted = self.accepted();
            if accepted.len() >= count || Instant::now() >= deadline {
                return accepted;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Waits until `check` holds, polling every 50 ms, at most `bound`; whether it did.
pub async fn eventually<F, Fut>(bound: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + bound;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
