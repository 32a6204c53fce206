//! tenauth's load benchmark: starts the real `tenauth` binary on a temporary database,
//! seeds it, drives it over HTTP on loopback (raw HTTP/1.1 keep-alive connections on one
//! thread; `wrk` on `/healthz` as the referee when installed), and prints one table.
//!
//!     cargo bench --bench tenauth-bench -- [--database sqlite|postgres] [--duration S] [--concurrency N]
//!
//! Every figure is also given as a ratio to `/healthz` measured in the same run, so
//! results compare across machines and noisy neighbours. PostgreSQL needs
//! `TEST_POSTGRES_URL` (a server where it may create and drop a database).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use tenauth::config::DatabaseUrl;
use tenauth::db::Database;
use tenauth::domain::{now, Actor, GrantType, Password, TenantId};
use tenauth::keys::load_or_generate_secret_hash_key;
use tenauth::lifecycle::clients::{ClientRequest, ClientSpec};
use tenauth::lifecycle::Lifecycle;
use tenauth::secrets::{hash_password, SecretHasher, PASSWORD_HASH_COST};

#[derive(Debug, Parser)]
struct Args {
    /// sqlite or postgres (PostgreSQL needs TEST_POSTGRES_URL).
    #[arg(long, default_value = "sqlite")]
    database: String,
    /// Seconds per measured endpoint.
    #[arg(long, default_value_t = 5)]
    duration: u64,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Measure only the endpoints whose names contain one of these comma-separated
    /// strings (e.g. `client_credentials,introspection (valid)`); `/healthz` is always
    /// measured, as the ceiling.
    #[arg(long)]
    only: Option<String>,
    /// Tenant sizes (access + refresh tokens) whose deletion is timed, comma-separated;
    /// empty (`--deletion-sizes ''`) skips the deletion benchmark.
    #[arg(long, default_value = "10000,100000,1000000")]
    deletion_sizes: String,
    /// Tokens (access + refresh) of a bystander tenant already in the database while the
    /// endpoints are measured, as on a running installation.
    #[arg(long, default_value_t = 100_000)]
    seed_tokens: u64,
    /// The server binary to measure [default: the `tenauth` this bench was built with]; for
    /// a before/after comparison, a binary built from another commit.
    #[arg(long)]
    server: Option<std::path::PathBuf>,
    /// Ignored: `cargo bench` passes it to every bench target.
    #[arg(long, hide = true)]
    bench: bool,
}

/// One measured endpoint.
struct Measurement {
    name: &'static str,
    requests: usize,
    errors: usize,
    seconds: f64,
    latencies_us: Vec<u64>,
    /// CPU spent while it ran: by the server process, and by PostgreSQL (every process
    /// named `postgres`; none for SQLite, which runs inside the server).
    cpu: CpuUsed,
}

/// CPU time in microseconds, from /proc: unlike requests/s, hardly moved by other
/// tenants of a shared machine, so it compares runs made at different moments.
#[derive(Debug, Clone, Copy, Default)]
struct CpuUsed {
    server_us: u64,
    database_us: u64,
}

impl CpuUsed {
    /// Now, for the server `pid` and (if `database`) PostgreSQL's processes.
    fn now(pid: u32, database: bool) -> Self {
        let database_us = if database {
            std::fs::read_dir("/proc")
                .into_iter()
                .flatten()
                .flatten()
                .filter(|entry| {
                    std::fs::read_to_string(entry.path().join("comm"))
                        .is_ok_and(|comm| comm.trim() == "postgres")
                })
                .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
                .filter_map(process_cpu_us)
                .sum()
        } else {
            0
        };
        Self {
            server_us: process_cpu_us(pid).unwrap_or(0),
            database_us,
        }
    }

    fn since(self, earlier: Self) -> Self {
        Self {
            server_us: self.server_us.saturating_sub(earlier.server_us),
            database_us: self.database_us.saturating_sub(earlier.database_us),
        }
    }
}

/// A process's user + system CPU time so far (/proc/PID/stat fields 14 and 15, in
/// clock ticks of 1/100 s on Linux).
fn process_cpu_us(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces: count fields after its ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks * 10_000)
}

impl Measurement {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    /// CPU microseconds per answered request: the server's and PostgreSQL's.
    fn cpu_per_request(&self) -> (f64, f64) {
        let answered = (self.requests + self.errors).max(1) as f64;
        (
            self.cpu.server_us as f64 / answered,
            self.cpu.database_us as f64 / answered,
        )
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let index = ((self.latencies_us.len() as f64 * p).ceil() as usize)
            .clamp(1, self.latencies_us.len())
            - 1;
        self.latencies_us[index] as f64 / 1000.0
    }
}

/// What a worker sends next; workers that rotate refresh tokens keep their own chain.
#[derive(Clone)]
enum Scenario {
    Healthz,
    ClientCredentials(Credentials),
    Password(Credentials),
    Refresh(Credentials),
    /// Introspects the token; the answer must say `active` as given, or it counts as an error.
    Introspect {
        credentials: Credentials,
        token: String,
        active: bool,
    },
    /// Each request revokes a token the worker has just obtained (not measured).
    Revoke(Credentials),
    /// Creates a personal access token with a user's bearer token.
    PersonalToken(String),
}

impl Scenario {
    /// Whether a 2xx answer's body is the one expected (the check is a prefix test, cheap
    /// enough not to load the load generator).
    fn accepts(&self, body: &[u8]) -> bool {
        match self {
            Scenario::Introspect { active: true, .. } => body.starts_with(br#"{"active":true"#),
            Scenario::Introspect { active: false, .. } => body == br#"{"active":false}"#,
            _ => true,
        }
    }
}

#[derive(Clone)]
struct Credentials {
    id: String,
    secret: String,
}

struct Server {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn database_url(kind: &str, dir: &std::path::Path) -> (DatabaseUrl, Option<(String, String)>) {
    match kind {
        "sqlite" => (DatabaseUrl::Sqlite(dir.join("bench.db")), None),
        "postgres" => {
            use diesel::{Connection, RunQueryDsl};
            let admin = std::env::var("TEST_POSTGRES_URL")
                .expect("--database postgres needs TEST_POSTGRES_URL");
            let name = format!("tenauth_bench_{}", std::process::id());
            let mut conn =
                diesel::PgConnection::establish(&admin).expect("connect to TEST_POSTGRES_URL");
            diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn)
                .unwrap();
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .unwrap();
            let mut url = url::Url::parse(&admin).unwrap();
            url.set_path(&name);
            (DatabaseUrl::Postgres(url.to_string()), Some((admin, name)))
        }
        other => panic!("unknown --database {other}: use sqlite or postgres"),
    }
}

fn drop_postgres(database: &Option<(String, String)>) {
    if let Some((admin, name)) = database {
        use diesel::{Connection, RunQueryDsl};
        let mut conn = diesel::PgConnection::establish(admin).unwrap();
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn);
    }
}

fn main() {
    let args = Args::parse();
    let dir = tempfile::tempdir().unwrap();
    let keys_dir = dir.path().join("keys");
    let (url, postgres) = database_url(&args.database, dir.path());
    let raw_url = match &url {
        DatabaseUrl::Sqlite(path) => format!("sqlite:{}", path.display()),
        DatabaseUrl::Postgres(raw) => raw.clone(),
    };

    // Seed through the library, with the key the server will use.
    let db = Database::connect(&url).unwrap();
    db.migrate().unwrap();
    let hasher = SecretHasher::new(&load_or_generate_secret_hash_key(&keys_dir).unwrap());
    let seeding = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let lifecycle = Lifecycle::new(db.clone(), hasher);
    let create_tenant = |slug: &str, name: &str| {
        seeding
            .block_on(lifecycle.create_tenant(
                Actor::Cli,
                slug.parse().unwrap(),
                name.parse().unwrap(),
                now(),
            ))
            .unwrap()
    };
    let create_client = |tenant_id: TenantId, spec: &ClientSpec| {
        seeding
            .block_on(lifecycle.create_client(Actor::Cli, tenant_id, spec.clone(), now()))
            .unwrap()
    };
    let tenant = create_tenant("bench", "Bench");
    let grants = [
        GrantType::ClientCredentials,
        GrantType::Password,
        GrantType::RefreshToken,
    ];
    let spec = ClientSpec::parse(&ClientRequest {
        name: "bench",
        grant_types: grants.map(GrantType::as_str).to_vec(),
        scopes: vec!["read", "write"],
        confidential: true,
        ..ClientRequest::default()
    })
    .unwrap();
    let (client, secret) = create_client(tenant.id, &spec);
    seeding
        .block_on(lifecycle.create_user(
            Actor::Cli,
            tenant.id,
            "alice".parse().unwrap(),
            Password::new("alice-password".into()).unwrap(),
            now(),
        ))
        .unwrap();
    let admin_spec = ClientSpec::parse(&ClientRequest {
        name: "bench admin",
        grant_types: vec!["client_credentials"],
        scopes: vec!["admin"],
        confidential: true,
        ..ClientRequest::default()
    })
    .unwrap();
    let (admin, admin_secret) = create_client(TenantId::PLATFORM, &admin_spec);
    let admin = Credentials {
        id: admin.id.to_string(),
        secret: admin_secret.unwrap().expose().to_owned(),
    };
    let deletion_sizes: Vec<u64> = args
        .deletion_sizes
        .split(',')
        .filter(|size| !size.trim().is_empty())
        .map(|size| {
            size.trim()
                .parse()
                .expect("--deletion-sizes takes integers")
        })
        .collect();
    if args.seed_tokens > 0 {
        let tenant = create_tenant("bystander", "Bystander");
        let (bystander_client, _) = create_client(tenant.id, &spec);
        seed_tokens(
            &raw_url,
            tenant.id.get(),
            bystander_client.id.as_str(),
            args.seed_tokens,
        );
    }
    let doomed: Vec<(u64, i64)> = deletion_sizes
        .iter()
        .map(|&size| {
            let slug = format!("doomed-{size}");
            let tenant = create_tenant(&slug, "Doomed");
            let (doomed_client, _) = create_client(tenant.id, &spec);
            let started = Instant::now();
            seed_tokens(&raw_url, tenant.id.get(), doomed_client.id.as_str(), size);
            eprintln!(
                "seeded {size} tokens in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            (size, tenant.id.get())
        })
        .collect();
    drop(lifecycle);
    drop(db);

    let port = free_port();
    let server_binary = args
        .server
        .clone()
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_tenauth").into());
    eprintln!("server: {}", server_binary.display());
    let child = Command::new(server_binary)
        .arg("serve")
        .env("DATABASE_URL", &raw_url)
        .env("TENAUTH_BIND", format!("127.0.0.1:{port}"))
        .env("TENAUTH_KEYS_DIR", &keys_dir)
        .env("RUST_LOG", "warn")
        // One client makes tens of thousands of requests a second here: the per-client and
        // per-tenant rate limits (1,000/s and 5,000/s by default) would measure themselves.
        // Every limit is off: this measures the server, not its guards.
        .env("TENAUTH_RATE_LIMIT_CLIENT", "0")
        .env("TENAUTH_RATE_LIMIT_TENANT", "0")
        // Sixteen logins of one user at once: attempts in flight count against the
        // failed-login limit (5 per user) until they succeed.
        .env("TENAUTH_LOGIN_FAILURES_PER_USER", "0")
        .env("TENAUTH_LOGIN_FAILURES_PER_CLIENT", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start tenauth");
    let server = Server {
        child,
        address: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };

    let hash_started = Instant::now();
    let rounds = 5;
    for _ in 0..rounds {
        hash_password(&Password::new("bench-password".into()).unwrap());
    }
    let hash_ms = hash_started.elapsed().as_secs_f64() * 1000.0 / rounds as f64;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let measurements = runtime.block_on(async {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(args.concurrency)
            .build()
            .unwrap();
        wait_ready(&http, &server.address).await;
        let credentials = Credentials {
            id: client.id.to_string(),
            secret: secret.unwrap().expose().to_owned(),
        };
        let valid = obtain_token(&http, &server.address, &credentials, "client_credentials").await;
        let revoked =
            obtain_token(&http, &server.address, &credentials, "client_credentials").await;
        http.post(format!("{}/oauth/revoke", server.address))
            .basic_auth(&credentials.id, Some(&credentials.secret))
            .form(&[("token", revoked.as_str())])
            .send()
            .await
            .unwrap();
        let user_token = obtain_token(&http, &server.address, &credentials, "password").await;
        let duration = Duration::from_secs(args.duration);
        let referee = {
            let (address, concurrency) = (server.address.clone(), args.concurrency);
            tokio::task::spawn_blocking(move || wrk_healthz(&address, concurrency, duration))
                .await
                .unwrap()
        };
        let mut results = Vec::new();
        let c = || credentials.clone();
        for (name, scenario) in [
            ("/healthz", Scenario::Healthz),
            ("client_credentials", Scenario::ClientCredentials(c())),
            ("password grant", Scenario::Password(c())),
            ("refresh (rotation)", Scenario::Refresh(c())),
            (
                "introspection (valid)",
                Scenario::Introspect {
                    credentials: c(),
                    token: valid.clone(),
                    active: true,
                },
            ),
            (
                "introspection (revoked)",
                Scenario::Introspect {
                    credentials: c(),
                    token: revoked.clone(),
                    active: false,
                },
            ),
            (
                "introspection (garbage)",
                Scenario::Introspect {
                    credentials: c(),
                    token: "garbage-token".into(),
                    active: false,
                },
            ),
            ("revocation", Scenario::Revoke(c())),
            (
                "personal token creation",
                Scenario::PersonalToken(user_token.clone()),
            ),
        ] {
            let wanted = args
                .only
                .as_deref()
                .is_none_or(|only| only.split(',').any(|part| name.contains(part)));
            if !wanted && !matches!(scenario, Scenario::Healthz) {
                continue;
            }
            results.push(
                measure(
                    &http,
                    &server.address,
                    (server.child.id(), args.database == "postgres"),
                    name,
                    scenario,
                    args.concurrency,
                    duration,
                )
                .await,
            );
            if std::env::var_os("TENAUTH_BENCH_RSS_TRACE").is_some() {
                eprintln!(
                    "after {name}: peak RSS {:?} KiB",
                    peak_rss_kib(server.child.id())
                );
            }
        }
        let mut deletions = Vec::new();
        for &(size, tenant_id) in &doomed {
            let deletion = time_deletion(
                &http,
                &server.address,
                &admin,
                &credentials,
                &valid,
                size,
                tenant_id,
            )
            .await;
            deletions.push(deletion);
        }
        (results, deletions, referee)
    });
    let (measurements, deletions, referee) = measurements;
    let rss_kib = peak_rss_kib(server.child.id());
    drop(server);
    drop_postgres(&postgres);

    print_table(&args, &measurements, hash_ms, rss_kib);
    let ours = measurements
        .iter()
        .find(|measurement| measurement.name == "/healthz")
        .map(|measurement| measurement.requests as f64 / measurement.seconds);
    match (referee, ours) {
        (Some(wrk), Some(ours)) => println!(
            "load generator check: wrk -t1 -c{} on /healthz {wrk:.0} req/s, this generator {ours:.0} req/s ({:.0}% of wrk)",
            args.concurrency,
            ours * 100.0 / wrk
        ),
        _ => println!("load generator check: wrk not installed (apt install wrk)"),
    }
    if !deletions.is_empty() {
        println!();
        println!("| tenant deletion | seconds | other tenant's introspection meanwhile: requests | p50 ms | p99 ms | errors |");
        println!("|---|---:|---:|---:|---:|---:|");
        for deletion in &deletions {
            println!(
                "| {} tokens | {:.2} | {} | {:.2} | {:.2} | {} |",
                deletion.size,
                deletion.seconds,
                deletion.introspection.requests,
                deletion.introspection.percentile_ms(0.50),
                deletion.introspection.percentile_ms(0.99),
                deletion.introspection.errors
            );
        }
    }
}

/// One timed tenant deletion and what another tenant's introspection saw meanwhile.
struct Deletion {
    size: u64,
    seconds: f64,
    introspection: Measurement,
}

/// Inserts `size` tokens for the tenant — half access tokens, half refresh tokens —
/// straight in SQL: a benchmark fixture (a million rows through the API would take too
/// long), unexpired and unrevoked.
fn seed_tokens(raw_url: &str, tenant_id: i64, client_id: &str, size: u64) {
    use diesel::{Connection, RunQueryDsl};
    let half = size / 2;
    let (created, expires) = ("2026-01-01 00:00:00", "2099-01-01 00:00:00");
    let access = |numbers: &str, id: &str| {
        format!(
            "INSERT INTO oauth_access_tokens (id, tenant_id, client_id, user_id, kind, name, scopes, created_at, expires_at) \
             SELECT {id}, {tenant_id}, '{client_id}', NULL, 'client_credentials', NULL, 'read', '{created}', '{expires}' FROM {numbers}"
        )
    };
    let refresh = |numbers: &str, id: &str, hash: &str| {
        format!(
            "INSERT INTO oauth_refresh_tokens (id, token_hash, tenant_id, client_id, user_id, access_token_id, family_id, scopes, created_at, expires_at) \
             SELECT {hash}, {hash}, {tenant_id}, '{client_id}', NULL, {id}, {id}, 'read', '{created}', '{expires}' FROM {numbers}"
        )
    };
    if let Some(path) = raw_url.strip_prefix("sqlite:") {
        let mut conn = diesel::SqliteConnection::establish(path).unwrap();
        let numbers = format!(
            "(WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {half}) SELECT n FROM seq)"
        );
        let id = format!("printf('seed-{tenant_id}-%08d', n)");
        let hash = format!("printf('seed-hash-{tenant_id}-%08d', n)");
        diesel::sql_query("PRAGMA busy_timeout = 10000")
            .execute(&mut conn)
            .unwrap();
        diesel::sql_query(access(&numbers, &id))
            .execute(&mut conn)
            .unwrap();
        diesel::sql_query(refresh(&numbers, &id, &hash))
            .execute(&mut conn)
            .unwrap();
    } else {
        let mut conn = diesel::PgConnection::establish(raw_url).unwrap();
        let numbers = format!("generate_series(1, {half}) AS n");
        let id = format!("'seed-{tenant_id}-' || lpad(n::text, 8, '0')");
        let hash = format!("'seed-hash-{tenant_id}-' || lpad(n::text, 8, '0')");
        diesel::sql_query(access(&numbers, &id))
            .execute(&mut conn)
            .unwrap();
        diesel::sql_query(refresh(&numbers, &id, &hash))
            .execute(&mut conn)
            .unwrap();
    }
}

/// Deletes the tenant through the admin API while one task introspects another tenant's
/// token in a loop; returns the deletion's wall time and the introspection figures.
async fn time_deletion(
    http: &reqwest::Client,
    address: &str,
    admin: &Credentials,
    introspector: &Credentials,
    other_token: &str,
    size: u64,
    tenant_id: i64,
) -> Deletion {
    let admin_token = obtain_token(http, address, admin, "client_credentials").await;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (http, address, done) = (http.clone(), address.to_owned(), done.clone());
        let (introspector, token) = (introspector.clone(), other_token.to_owned());
        tokio::spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0);
            let started = Instant::now();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let sent = Instant::now();
                let response = http
                    .post(format!("{address}/oauth/introspect"))
                    .basic_auth(&introspector.id, Some(&introspector.secret))
                    .form(&[("token", token.as_str())])
                    .send()
                    .await;
                let active = match response {
                    Ok(response) if response.status().is_success() => {
                        let body: serde_json::Value = response.json().await.unwrap_or_default();
                        body["active"] == true
                    }
                    _ => false,
                };
                if active {
                    latencies.push(sent.elapsed().as_micros() as u64);
                } else {
                    errors += 1;
                }
            }
            latencies.sort_unstable();
            Measurement {
                name: "introspection during deletion",
                requests: latencies.len(),
                errors,
                seconds: started.elapsed().as_secs_f64(),
                latencies_us: latencies,
                cpu: CpuUsed::default(),
            }
        })
    };
    let started = Instant::now();
    let response = http
        .delete(format!("{address}/admin/tenants/{tenant_id}"))
        .bearer_auth(&admin_token)
        .timeout(Duration::from_secs(600))
        .send()
        .await
        .expect("delete the tenant");
    let seconds = started.elapsed().as_secs_f64();
    let receipt: serde_json::Value = response.json().await.unwrap_or_default();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let revoked = receipt["revoked_access_tokens"].as_u64().unwrap_or(0)
        + receipt["revoked_refresh_tokens"].as_u64().unwrap_or(0);
    assert_eq!(
        revoked,
        size / 2 * 2,
        "the receipt counts every seeded token: {receipt}"
    );
    Deletion {
        size,
        seconds,
        introspection: watcher.await.unwrap(),
    }
}

async fn wait_ready(http: &reqwest::Client, address: &str) {
    for _ in 0..200 {
        if let Ok(response) = http.get(format!("{address}/readyz")).send().await {
            if response.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not become ready");
}

async fn measure(
    http: &reqwest::Client,
    address: &str,
    (server_pid, postgres): (u32, bool),
    name: &'static str,
    scenario: Scenario,
    concurrency: usize,
    duration: Duration,
) -> Measurement {
    let cpu_before = CpuUsed::now(server_pid, postgres);
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let http = http.clone();
        let address = address.to_owned();
        let scenario = scenario.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            let mut refresh_token = None;
            let mut connection = raw::Connection::new(&address);
            // Requests that never change are built once.
            let fixed = fixed_request(&address, &scenario);
            while Instant::now() < deadline {
                let built;
                let request = match &fixed {
                    Some(request) => request,
                    None => {
                        built = build_request(&http, &address, &scenario, &mut refresh_token).await;
                        &built
                    }
                };
                let sent = Instant::now();
                let outcome = connection.send(request).await;
                let elapsed = sent.elapsed();
                match outcome {
                    Ok(answer) if (200..300).contains(&answer.status) => {
                        if matches!(scenario, Scenario::Refresh(_)) {
                            let body: serde_json::Value =
                                serde_json::from_slice(&answer.body).unwrap_or_default();
                            refresh_token = body["refresh_token"].as_str().map(str::to_owned);
                            latencies.push(elapsed.as_micros() as u64);
                        } else if scenario.accepts(&answer.body) {
                            latencies.push(elapsed.as_micros() as u64);
                        } else {
                            errors += 1;
                        }
                    }
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies_us = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let (latencies, worker_errors) = worker.await.unwrap();
        latencies_us.extend(latencies);
        errors += worker_errors;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = CpuUsed::now(server_pid, postgres).since(cpu_before);
    latencies_us.sort_unstable();
    Measurement {
        name,
        requests: latencies_us.len(),
        errors,
        seconds,
        latencies_us,
        cpu,
    }
}

/// An access token from the token endpoint (setup, not measured).
async fn obtain_token(
    http: &reqwest::Client,
    address: &str,
    credentials: &Credentials,
    grant: &str,
) -> String {
    let form: &[(&str, &str)] = match grant {
        "password" => &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "alice-password"),
        ],
        _ => &[("grant_type", "client_credentials")],
    };
    let response = http
        .post(format!("{address}/oauth/token"))
        .basic_auth(&credentials.id, Some(&credentials.secret))
        .form(form)
        .send()
        .await
        .expect("obtain a token");
    let body: serde_json::Value = response.json().await.unwrap();
    body["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned()
}

fn basic(credentials: &Credentials) -> String {
    use base64::Engine;
    let pair = format!("{}:{}", credentials.id, credentials.secret);
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// A form POST with HTTP Basic client authentication, as bytes.
fn form_post(
    address: &str,
    path: &str,
    credentials: &Credentials,
    form: &[(&str, &str)],
) -> Vec<u8> {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    raw::request(
        "POST",
        address.trim_start_matches("http://"),
        path,
        &[
            ("Authorization", &basic(credentials)),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        body.as_bytes(),
    )
}

/// The request of a scenario whose every request is the same, built once.
fn fixed_request(address: &str, scenario: &Scenario) -> Option<Vec<u8>> {
    let host = address.trim_start_matches("http://");
    Some(match scenario {
        Scenario::Healthz => raw::request("GET", host, "/healthz", &[], b""),
        Scenario::ClientCredentials(credentials) => form_post(
            address,
            "/oauth/token",
            credentials,
            &[("grant_type", "client_credentials")],
        ),
        Scenario::Password(credentials) => form_post(
            address,
            "/oauth/token",
            credentials,
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "alice-password"),
            ],
        ),
        Scenario::Introspect {
            credentials, token, ..
        } => form_post(
            address,
            "/oauth/introspect",
            credentials,
            &[("token", token)],
        ),
        Scenario::PersonalToken(bearer) => raw::request(
            "POST",
            host,
            "/oauth/personal-access-tokens",
            &[
                ("Authorization", &format!("Bearer {bearer}")),
                ("Content-Type", "application/json"),
            ],
            br#"{"name":"bench","scopes":["read"]}"#,
        ),
        Scenario::Refresh(_) | Scenario::Revoke(_) => return None,
    })
}

/// The next request of a worker whose requests change. A refresh worker logs in once
/// (password grant, not measured) and then rotates its own refresh token on every
/// request; a revocation worker obtains the token it will revoke before each measured
/// request (with reqwest: not measured).
async fn build_request(
    http: &reqwest::Client,
    address: &str,
    scenario: &Scenario,
    refresh_token: &mut Option<String>,
) -> Vec<u8> {
    match scenario {
        Scenario::Refresh(credentials) => {
            if refresh_token.is_none() {
                let login = http
                    .post(format!("{address}/oauth/token"))
                    .basic_auth(&credentials.id, Some(&credentials.secret))
                    .form(&[
                        ("grant_type", "password"),
                        ("username", "alice"),
                        ("password", "alice-password"),
                    ])
                    .send()
                    .await
                    .expect("log in for the refresh chain");
                let body: serde_json::Value = login.json().await.unwrap();
                *refresh_token = body["refresh_token"].as_str().map(str::to_owned);
            }
            form_post(
                address,
                "/oauth/token",
                credentials,
                &[
                    ("grant_type", "refresh_token"),
                    (
                        "refresh_token",
                        refresh_token.as_deref().unwrap_or_default(),
                    ),
                ],
            )
        }
        Scenario::Revoke(credentials) => {
            let token = obtain_token(http, address, credentials, "client_credentials").await;
            form_post(address, "/oauth/revoke", credentials, &[("token", &token)])
        }
        other => fixed_request(address, other).expect("a fixed request"),
    }
}

/// The server's peak resident set (VmHWM), from /proc.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
}

fn print_table(args: &Args, measurements: &[Measurement], hash_ms: f64, rss_kib: Option<u64>) {
    let ceiling = measurements[0].rate();
    println!(
        "tenauth-bench: database={} concurrency={} duration={}s per endpoint, {} cores, {} bystander tokens seeded, deletion tenants: {}",
        args.database,
        args.concurrency,
        args.duration,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        args.seed_tokens,
        if args.deletion_sizes.trim().is_empty() { "none" } else { &args.deletion_sizes }
    );
    println!("| endpoint | requests/s | ratio to /healthz | p50 ms | p99 ms | errors | server CPU µs/req | PostgreSQL CPU µs/req |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for measurement in measurements {
        let (server_cpu, database_cpu) = measurement.cpu_per_request();
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {:.0} | {} |",
            measurement.name,
            measurement.rate(),
            measurement.rate() / ceiling,
            measurement.percentile_ms(0.50),
            measurement.percentile_ms(0.99),
            measurement.errors,
            server_cpu,
            if args.database == "postgres" {
                format!("{database_cpu:.0}")
            } else {
                "-".to_owned()
            },
        );
    }
    println!("password hash: {PASSWORD_HASH_COST}, {hash_ms:.1} ms per hash on this machine (bounds the password grant by design)");
    if let Some(rss) = rss_kib {
        println!("server peak RSS: {:.1} MiB", rss as f64 / 1024.0);
    }
}

/// A minimal HTTP/1.1 client over one keep-alive connection: requests are bytes built
/// once, answers are read by their `Content-Length`. reqwest spends more CPU per request
/// than tenauth's fast endpoints do, which made the load generator the bottleneck (the
/// issue-16 rule: `/healthz` must reach 90% of `wrk -t1` in the same run).
mod raw {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    pub struct Connection {
        address: String,
        stream: Option<TcpStream>,
        buffer: Vec<u8>,
    }

    /// An answer: its status and body.
    pub struct Answer {
        pub status: u16,
        pub body: Vec<u8>,
    }

    /// The bytes of a request to `host` (`127.0.0.1:port`).
    pub fn request(
        method: &str,
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Vec<u8> {
        let mut bytes = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n").into_bytes();
        for (name, value) in headers {
            bytes.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        if method != "GET" {
            bytes.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
        }
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(body);
        bytes
    }

    fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        haystack
            .windows(needle.len())
            .position(|window| window == needle)
    }

    fn content_length(head: &[u8]) -> Option<usize> {
        let head = std::str::from_utf8(head).ok()?;
        head.split("\r\n").find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())
                .flatten()
        })
    }

    impl Connection {
        pub fn new(address: &str) -> Self {
            Self {
                address: address.trim_start_matches("http://").to_owned(),
                stream: None,
                buffer: Vec::with_capacity(8192),
            }
        }

        /// Sends `request` and reads its answer; reconnects once if the connection was
        /// closed meanwhile.
        pub async fn send(&mut self, request: &[u8]) -> std::io::Result<Answer> {
            match self.try_send(request).await {
                Ok(answer) => Ok(answer),
                Err(_) => {
                    self.stream = None;
                    self.try_send(request).await
                }
            }
        }

        async fn try_send(&mut self, request: &[u8]) -> std::io::Result<Answer> {
            if self.stream.is_none() {
                let stream = TcpStream::connect(&self.address).await?;
                stream.set_nodelay(true)?;
                self.stream = Some(stream);
            }
            let stream = self.stream.as_mut().expect("connected");
            stream.write_all(request).await?;
            self.buffer.clear();
            let closed = || std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
            let head_end = loop {
                if let Some(end) = find(&self.buffer, b"\r\n\r\n") {
                    break end + 4;
                }
                let mut chunk = [0u8; 4096];
                let read = stream.read(&mut chunk).await?;
                if read == 0 {
                    return Err(closed());
                }
                self.buffer.extend_from_slice(&chunk[..read]);
            };
            let head = &self.buffer[..head_end];
            let status = std::str::from_utf8(&head[9..12])
                .ok()
                .and_then(|code| code.parse().ok())
                .unwrap_or(0);
            let length = content_length(head).ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, "no Content-Length")
            })?;
            while self.buffer.len() < head_end + length {
                let mut chunk = [0u8; 4096];
                let read = stream.read(&mut chunk).await?;
                if read == 0 {
                    return Err(closed());
                }
                self.buffer.extend_from_slice(&chunk[..read]);
            }
            Ok(Answer {
                status,
                body: self.buffer[head_end..head_end + length].to_vec(),
            })
        }
    }
}

/// `wrk -t1 -c<concurrency>` on `/healthz` for `duration`, if wrk is installed (Debian
/// package `wrk`): the referee the load generator must come within 90% of.
fn wrk_healthz(address: &str, concurrency: usize, duration: Duration) -> Option<f64> {
    let output = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{concurrency}"),
            &format!("-d{}s", duration.as_secs().max(1)),
            &format!("{address}/healthz"),
        ])
        .output()
        .ok()?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("Requests/sec:"))
        .and_then(|rate| rate.trim().parse().ok())
}
