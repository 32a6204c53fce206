//! A resource server that trusts tenauth's access tokens **without calling tenauth per
//! request**, and still learns of every revocation within about a second: the reference
//! for our users' own services.
//!
//! - Tokens are verified offline (ES256, `typ: at+jwt`, `iss`, `exp`) with an independent
//!   JOSE library against tenauth's JWKS, cached and fetched again when a token names a
//!   key id the cache lacks (a rotation).
//! - Every request names its tenant in `X-Tenant-ID`, which must be the token's
//!   `tenant_id`; the token must carry the configured scope.
//! - It receives tenauth's push stream of security events (RFC 8935) at `POST /events`:
//!   each SET is verified against the same JWKS (`typ: secevent+jwt`, `iss`, `aud` = the
//!   stream's audience, and the stream's `Authorization` header), then remembered, and a
//!   token is refused if an event covers it: its `jti` (`token-revoked`), its refresh
//!   family (`sid`, `token-family-revoked`), or its user, client or tenant for an event
//!   about those that happened at or after the token was issued. A suspended tenant's
//!   tokens are refused until `tenant-activated`; a token naming a key that was retired
//!   (`signing-key-retired`) before the token was issued is refused.
//!
//! ```text
//! cargo run --example resource_server -- --issuer http://127.0.0.1:8080 \
//!     --bind 127.0.0.1:9000 --scope read --audience urn:example:rs --push-secret 'Bearer s3cret'
//! ```
//! and create the stream tenauth pushes to (a tenant's, or a platform admin's for all):
//! `POST /admin/tenants/{id}/event-streams` with
//! `{"delivery":{"method":"urn:ietf:rfc:8935","endpoint_url":"https://rs.example.com/events"},
//! "aud":"urn:example:rs","authorization_header":"Bearer s3cret"}`.
//!
//! What it remembers grows with the revocations it hears of; a real service would forget
//! an entry once every token it can cover has expired (the longest token lifetime after
//! the event).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::RwLock;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use clap::Parser;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};

/// How the resource server is started.
#[derive(Debug, Clone, Parser)]
pub struct Config {
    /// tenauth's issuer URL (its JWKS is `<issuer>/.well-known/jwks.json`).
    #[arg(long)]
    pub issuer: String,
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:9000")]
    pub bind: SocketAddr,
    /// The scope a token must hold to call `/api/whoami`.
    #[arg(long, default_value = "read")]
    pub scope: String,
    /// The `aud` of the event stream's SETs.
    #[arg(long)]
    pub audience: String,
    /// The `Authorization` header tenauth sends with each push (the stream's
    /// `authorization_header`); pushes without it are refused.
    #[arg(long)]
    pub push_secret: Option<String>,
}

/// The access token claims this service reads.
#[derive(Debug, serde::Deserialize)]
struct AccessClaims {
    sub: String,
    client_id: String,
    tenant_id: i64,
    scope: String,
    jti: String,
    iat: i64,
    #[serde(default)]
    sid: Option<String>,
}

/// The claims of a SET (RFC 8417) this service reads.
#[derive(Debug, serde::Deserialize)]
struct SetClaims {
    sub_id: serde_json::Value,
    events: serde_json::Map<String, serde_json::Value>,
}

/// What the events said: which tokens to refuse.
#[derive(Debug, Default)]
struct Revocations {
    jtis: HashSet<String>,
    families: HashSet<String>,
    /// Tokens of this (tenant, user id) issued at or before this time are refused.
    users: HashMap<(i64, String), i64>,
    clients: HashMap<(i64, String), i64>,
    tenants: HashMap<i64, i64>,
    suspended: HashSet<i64>,
    /// Signing keys that stopped signing, with when: a token naming one and issued later
    /// is not tenauth's.
    retired_keys: HashMap<String, i64>,
}

impl Revocations {
    fn covers(&self, token: &AccessClaims, kid: &str) -> bool {
        let before = |cutoff: Option<&i64>| cutoff.is_some_and(|cutoff| token.iat <= *cutoff);
        let tenant = token.tenant_id;
        self.retired_keys
            .get(kid)
            .is_some_and(|retired| token.iat > *retired)
            || self.jtis.contains(&token.jti)
            || token
                .sid
                .as_ref()
                .is_some_and(|family| self.families.contains(family))
            || self.suspended.contains(&tenant)
            || before(self.tenants.get(&tenant))
            || before(self.clients.get(&(tenant, token.client_id.clone())))
            || before(self.users.get(&(tenant, token.sub.clone())))
    }

    /// Applies one SET's event.
    fn apply(&mut self, set: &SetClaims) {
        let subject = &set.sub_id;
        if subject["format"] == "opaque" {
            // `signing-key-retired`: the subject is the key.
            for payload in set.events.values() {
                if let (Some(kid), Some(at)) =
                    (subject["id"].as_str(), payload["event_timestamp"].as_i64())
                {
                    self.retired_keys.insert(kid.to_owned(), at);
                }
            }
            return;
        }
        let id = |member: &str| subject[member]["id"].as_str().map(str::to_owned);
        let Some(tenant) = id("tenant").and_then(|tenant| tenant.parse::<i64>().ok()) else {
            return;
        };
        let user = subject["user"]["sub"].as_str().map(str::to_owned);
        let client = id("application");
        for (event_type, payload) in &set.events {
            let at = payload["event_timestamp"].as_i64().unwrap_or(i64::MAX);
            let name = event_type.rsplit([':', '/']).next().unwrap_or_default();
            match name {
                "token-revoked" => self.jtis.extend(id("session")),
                "token-family-revoked" => self.families.extend(id("session")),
                "tenant-suspended" => {
                    self.suspended.insert(tenant);
                }
                "tenant-activated" => {
                    self.suspended.remove(&tenant);
                }
                "tenant-deleted" => {
                    self.tenants.insert(tenant, i64::MAX);
                }
                // Every other event stands for all the tokens of what it names (a user,
                // a client, or with neither the whole tenant) up to its time.
                _ => {
                    let cutoff = |map: &mut HashMap<_, i64>, key| {
                        let entry = map.entry(key).or_insert(at);
                        *entry = (*entry).max(at);
                    };
                    match (&user, &client) {
                        (Some(user), _) => cutoff(&mut self.users, (tenant, user.clone())),
                        (None, Some(client)) => cutoff(&mut self.clients, (tenant, client.clone())),
                        (None, None) => {
                            let entry = self.tenants.entry(tenant).or_insert(at);
                            *entry = (*entry).max(at);
                        }
                    }
                }
            }
        }
    }
}

/// The service's state.
struct State {
    config: Config,
    http: reqwest::Client,
    jwks: RwLock<JwkSet>,
    /// When the JWKS was last fetched: at most once a second, however many tokens name
    /// unknown keys (a forged `kid` must not make this service hammer tenauth).
    fetched_at: RwLock<Option<std::time::Instant>>,
    revocations: RwLock<Revocations>,
}

impl State {
    /// The key `kid` names, fetching the JWKS again if it is not cached.
    async fn key(&self, kid: &str) -> Option<DecodingKey> {
        let cached = |jwks: &JwkSet| {
            jwks.find(kid)
                .and_then(|jwk| DecodingKey::from_jwk(jwk).ok())
        };
        if let Some(key) = cached(&self.jwks.read().unwrap()) {
            return Some(key);
        }
        {
            let mut fetched_at = self.fetched_at.write().unwrap();
            if fetched_at.is_some_and(|at| at.elapsed() < std::time::Duration::from_secs(1)) {
                return None;
            }
            *fetched_at = Some(std::time::Instant::now());
        }
        let url = format!("{}/.well-known/jwks.json", self.config.issuer);
        let fresh: JwkSet = self.http.get(url).send().await.ok()?.json().await.ok()?;
        let key = cached(&fresh);
        *self.jwks.write().unwrap() = fresh;
        key
    }

    /// Verifies a compact JWS of the given `typ` and returns its claims.
    async fn verify<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        typ: &str,
        audience: Option<&str>,
    ) -> Option<T> {
        let header = decode_header(token).ok()?;
        if header.alg != Algorithm::ES256 || header.typ.as_deref() != Some(typ) {
            return None;
        }
        let key = self.key(header.kid.as_deref()?).await?;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[&self.config.issuer]);
        match audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                // A SET has no `exp` (RFC 8417 §2.2).
                validation.required_spec_claims = ["iss", "aud"].map(str::to_owned).into();
                validation.validate_exp = false;
            }
            None => validation.validate_aud = false,
        }
        Some(decode::<T>(token, &key, &validation).ok()?.claims)
    }
}

/// A refusal as RFC 6750 §3 words it.
fn refuse(status: u16, error: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .insert_header(("WWW-Authenticate", format!("Bearer error=\"{error}\"")))
        .json(serde_json::json!({"error": error}))
}

/// `GET /api/whoami`: the protected resource.
async fn whoami(request: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
    };
    let Some(token) = header("authorization").and_then(|value| value.strip_prefix("Bearer "))
    else {
        return refuse(401, "invalid_request");
    };
    let Some(tenant) = header("x-tenant-id").and_then(|value| value.parse::<i64>().ok()) else {
        return HttpResponse::BadRequest()
            .json(serde_json::json!({"error": "X-Tenant-ID is required"}));
    };
    let Some(claims) = state.verify::<AccessClaims>(token, "at+jwt", None).await else {
        return refuse(401, "invalid_token");
    };
    let kid = decode_header(token)
        .ok()
        .and_then(|header| header.kid)
        .unwrap_or_default();
    if claims.tenant_id != tenant || state.revocations.read().unwrap().covers(&claims, &kid) {
        return refuse(401, "invalid_token");
    }
    if !claims
        .scope
        .split(' ')
        .any(|scope| scope == state.config.scope)
    {
        return refuse(403, "insufficient_scope");
    }
    HttpResponse::Ok().json(serde_json::json!({
        "tenant_id": claims.tenant_id, "sub": claims.sub, "client_id": claims.client_id,
    }))
}

/// `POST /events`: tenauth's push stream (RFC 8935 §2): 202 once the SET is verified and
/// applied, 400 with §2.3's error object otherwise.
async fn receive_event(
    request: HttpRequest,
    body: String,
    state: web::Data<State>,
) -> HttpResponse {
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok());
    if state.config.push_secret.is_some() && authorization != state.config.push_secret.as_deref() {
        return HttpResponse::Unauthorized().finish();
    }
    let audience = state.config.audience.clone();
    match state
        .verify::<SetClaims>(body.trim(), "secevent+jwt", Some(&audience))
        .await
    {
        Some(set) => {
            state.revocations.write().unwrap().apply(&set);
            HttpResponse::Accepted().finish()
        }
        None => HttpResponse::BadRequest().json(serde_json::json!({
            "err": "invalid_request", "description": "the SET does not verify"
        })),
    }
}

/// Binds and starts the service; returns its address and the running server.
pub fn start(config: Config) -> std::io::Result<(SocketAddr, actix_web::dev::Server)> {
    let listener = std::net::TcpListener::bind(config.bind)?;
    let address = listener.local_addr()?;
    let state = web::Data::new(State {
        config,
        http: reqwest::Client::new(),
        jwks: RwLock::new(JwkSet { keys: Vec::new() }),
        fetched_at: RwLock::default(),
        revocations: RwLock::default(),
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/api/whoami", web::get().to(whoami))
            .route("/events", web::post().to(receive_event))
    })
    .workers(1)
    .listen(listener)?
    .run();
    Ok((address, server))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let (address, server) = start(Config::parse())?;
    println!("resource server listening on http://{address}");
    server.await
}
