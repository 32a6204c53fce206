//! Settings: read from environment variables, each overridable by a command-line flag,
//! and validated once at start-up so that a bad value stops the process with a clear
//! message instead of surfacing later as a confusing runtime error.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// PostgreSQL pool size unless configured (`TENAUTH_DB_CONNECTIONS`): more connections than
/// the database has cores only add context switches (measured: BENCHMARKS.md, third session).
pub const DEFAULT_POSTGRES_CONNECTIONS: u32 = 6;

/// The configured limits; a rate of 0 turns that limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSettings {
    /// Requests per second per client (burst: twice that).
    pub client_rate: u32,
    /// Requests per second per tenant (burst: twice that).
    pub tenant_rate: u32,
    /// Failed password logins per username allowed within `login_window`.
    pub user_failures: u32,
    /// Failed password logins per client allowed within `login_window`.
    pub client_failures: u32,
    /// Failed client authentications per presented client id within `login_window`
    /// answered 401; those past it are answered 429.
    pub client_auth_failures: u32,
    pub login_window: Duration,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            client_rate: 1_000,
            tenant_rate: 5_000,
            user_failures: 5,
            client_failures: 50,
            client_auth_failures: 20,
            login_window: Duration::from_secs(15 * 60),
        }
    }
}

/// Lifetimes of the tokens tenauth issues.
#[derive(Debug, Clone, Copy)]
pub struct TokenLifetimes {
    pub access: Duration,
    pub refresh: Duration,
    pub personal: Duration,
    /// The longest an exchanged token lives (RFC 8693); never longer than its subject token.
    pub exchange: Duration,
}

/// A configuration value that cannot be used, with the variable it came from.
#[derive(Debug, thiserror::Error)]
#[error("invalid {variable}: {reason}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub reason: String,
}

/// Where the data lives. The backend is chosen from the scheme, explicitly: a value that
/// is neither a PostgreSQL URL nor an SQLite path is rejected rather than "tried".
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite:PATH` or a plain file path.
    Sqlite(PathBuf),
    /// `postgres://…` or `postgresql://…`, passed to libpq as is.
    Postgres(String),
}

impl FromStr for DatabaseUrl {
    type Err = ConfigError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| ConfigError {
            variable: "DATABASE_URL",
            reason: reason.to_owned(),
        };
        let value = value.trim();
        if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            return Ok(Self::Postgres(value.to_owned()));
        }
        let path = match value.strip_prefix("sqlite:") {
            // `sqlite://relative.db` and `sqlite:///absolute.db` are common spellings too.
            Some(rest) => rest.strip_prefix("//").unwrap_or(rest),
            None if value.contains("://") => return Err(invalid(
                "unsupported scheme; use postgres://, postgresql://, sqlite:PATH or a file path",
            )),
            None => value,
        };
        if path.is_empty() {
            return Err(invalid("the SQLite path is empty"));
        }
        if path.contains(":memory:") || path.starts_with("file:") {
            return Err(invalid(
                "in-memory and URI SQLite databases are not supported; give a file path",
            ));
        }
        // A libpq conninfo string ("host=… dbname=…") must never become a file name.
        if path.contains('=') {
            return Err(invalid(
                "looks like a PostgreSQL conninfo string; write it as a postgres:// URL",
            ));
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }
}

impl fmt::Display for DatabaseUrl {
    /// Never prints a password: `postgres://user:***@host/db`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            Self::Postgres(url) => f.write_str(&redact_password(url)),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            let redacted = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_owned()
            };
            format!("{scheme}://{redacted}@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

/// The command-line flags, each falling back to its environment variable.
#[derive(Debug, Clone, clap::Args)]
pub struct SettingsArgs {
    /// Database: postgres://… or postgresql://… for PostgreSQL; sqlite:PATH or a plain path for SQLite.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite:tenauth.db",
        global = true
    )]
    pub database_url: String,

    /// Address and port to listen on.
    #[arg(
        long,
        env = "TENAUTH_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: String,

    /// Issuer identifier (`iss`), an http(s) URL without query or fragment [default: http:// + bind address].
    #[arg(long, env = "TENAUTH_ISSUER", global = true)]
    pub issuer: Option<String>,

    /// Directory holding the signing keys.
    #[arg(long, env = "TENAUTH_KEYS_DIR", default_value = "keys", global = true)]
    pub keys_dir: PathBuf,

    /// Access token lifetime in seconds.
    #[arg(long, env = "TENAUTH_ACCESS_TOKEN_TTL", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub access_token_ttl: u64,

    /// Refresh token lifetime in seconds (default 30 days).
    #[arg(long, env = "TENAUTH_REFRESH_TOKEN_TTL", default_value_t = 30 * 86_400,
          value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub refresh_token_ttl: u64,

    /// Personal access token lifetime in seconds (default 365 days).
    #[arg(long, env = "TENAUTH_PERSONAL_TOKEN_TTL", default_value_t = 365 * 86_400,
          value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub personal_token_ttl: u64,

    /// Longest lifetime of a token from token exchange (RFC 8693), in seconds (default 15
    /// minutes); never longer than the subject token's.
    #[arg(long, env = "TENAUTH_EXCHANGE_TOKEN_TTL", default_value_t = 900,
          value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub exchange_token_ttl: u64,

    /// Seconds between purges of long-expired and long-revoked tokens while serving; 0 disables.
    #[arg(
        long,
        env = "TENAUTH_PURGE_INTERVAL",
        default_value_t = 3600,
        global = true
    )]
    pub purge_interval: u64,

    /// URL of the human-readable documentation named in the RFC 8414 metadata [default: the issuer + /docs, a page this server serves].
    #[arg(long, env = "TENAUTH_SERVICE_DOCUMENTATION", global = true)]
    pub service_documentation: Option<String>,

    /// Seconds between checks of the keys directory: a running server signs with a key added by `tenauth keys rotate`, and publishes it, within this time.
    #[arg(long, env = "TENAUTH_KEYS_RELOAD_INTERVAL", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub keys_reload_interval: u64,

    /// Seconds a key added by `tenauth keys rotate` is published in the JWKS before it signs: long enough for every instance sharing the keys directory to have loaded it (reload interval, plus secret propagation on Kubernetes).
    #[arg(
        long,
        env = "TENAUTH_KEYS_PUBLISH_DELAY",
        default_value_t = 120,
        global = true
    )]
    pub keys_publish_delay: u64,

    /// Requests per second each client may make to the token, introspection and revocation endpoints (burst: twice that); 0 turns the limit off. Per instance.
    #[arg(
        long,
        env = "TENAUTH_RATE_LIMIT_CLIENT",
        default_value_t = 1_000,
        global = true
    )]
    pub rate_limit_client: u32,

    /// Requests per second all clients of one tenant may make to those endpoints together (burst: twice that); 0 turns the limit off. Per instance.
    #[arg(
        long,
        env = "TENAUTH_RATE_LIMIT_TENANT",
        default_value_t = 5_000,
        global = true
    )]
    pub rate_limit_tenant: u32,

    /// Failed password logins per (tenant, username) within the login window before further attempts are refused until it ends; 0 turns it off.
    #[arg(
        long,
        env = "TENAUTH_LOGIN_FAILURES_PER_USER",
        default_value_t = 5,
        global = true
    )]
    pub login_failures_per_user: u32,

    /// Failed password logins per client within the login window before its password attempts are refused until it ends; 0 turns it off.
    #[arg(
        long,
        env = "TENAUTH_LOGIN_FAILURES_PER_CLIENT",
        default_value_t = 50,
        global = true
    )]
    pub login_failures_per_client: u32,

    /// Failed client authentications (unknown client id, wrong or missing secret) per presented client id within the login window; past it, further failures for that id are answered 429 instead of 401 until the window ends. The secret is still checked, so the client itself is never locked out. 0 turns it off.
    #[arg(
        long,
        env = "TENAUTH_CLIENT_AUTH_FAILURES",
        default_value_t = 20,
        global = true
    )]
    pub client_auth_failures: u32,

    /// The failed-login window, in seconds.
    #[arg(long, env = "TENAUTH_LOGIN_WINDOW", default_value_t = 900,
          value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub login_window: u64,

    /// Browser origins allowed to call tenauth (CORS), comma-separated, e.g. `https://app.example.com,https://admin.example.com`. Empty (the default): CORS is off, and browsers refuse cross-origin calls.
    #[arg(long, env = "TENAUTH_CORS_ORIGINS", default_value = "", global = true)]
    pub cors_origins: String,

    /// Seconds in-flight requests get to finish after SIGTERM or SIGINT before the server stops anyway.
    #[arg(
        long,
        env = "TENAUTH_SHUTDOWN_TIMEOUT",
        default_value_t = 30,
        global = true
    )]
    pub shutdown_timeout: u64,

    /// Milliseconds a client has to send a request's head (line and headers), and again its body, before it gets 408 and is disconnected.
    #[arg(long, env = "TENAUTH_CLIENT_TIMEOUT_MS", default_value_t = 5_000,
          value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub client_timeout_ms: u64,

    /// HTTP worker threads [default: the number of CPUs]. Database work runs on separate
    /// blocking threads, so more workers than cores only adds wake-ups.
    #[arg(long, env = "TENAUTH_WORKERS", value_parser = clap::value_parser!(u16).range(1..),
          global = true)]
    pub workers: Option<u16>,

    /// PostgreSQL connections of this instance, one pool shared by reads and writes (SQLite ignores it). Size it to the database server's cores (BENCHMARKS.md measures the default); with several instances, their sum must stay under PostgreSQL's `max_connections`.
    #[arg(long, env = "TENAUTH_DB_CONNECTIONS", default_value_t = DEFAULT_POSTGRES_CONNECTIONS,
          value_parser = clap::value_parser!(u32).range(1..=1000), global = true)]
    pub db_connections: u32,

    /// Seconds a push stream's receiver may keep failing (retried with exponential backoff) before the stream turns `failing` and waits for an admin's `resume`.
    #[arg(long, env = "TENAUTH_EVENTS_RETRY_FOR", default_value_t = 86_400,
          value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub events_retry_for: u64,

    /// Milliseconds a push of a security event may take as a whole (connect, send, answer).
    #[arg(long, env = "TENAUTH_EVENTS_PUSH_TIMEOUT_MS", default_value_t = 5_000,
          value_parser = clap::value_parser!(u64).range(1..=60_000), global = true)]
    pub events_push_timeout_ms: u64,

    /// `1`: push streams may use plain http to a loopback address, and reach loopback addresses (for development and tests only). Otherwise push endpoints are https to public addresses.
    #[arg(long, env = "TENAUTH_EVENTS_ALLOW_HTTP_LOOPBACK", default_value = "0",
          value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::Set,
          global = true)]
    pub events_allow_http_loopback: bool,

    /// Log line format: `text`, or `json` (one object per line with ts, level, target, msg, request_id, tenant_id).
    #[arg(
        long,
        env = "TENAUTH_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: crate::logging::LogFormat,

    /// Log filter in env_logger syntax, e.g. `info` or `tenauth=debug,actix_web=warn`.
    #[arg(long, env = "RUST_LOG", default_value = "info", global = true)]
    pub log: String,
}

/// What the dispatcher is configured with (`TENAUTH_EVENTS_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventSettings {
    /// How long a stream's receiver may keep failing before the stream turns `failing`.
    pub retry_for: Duration,
    /// Bounds each push request as a whole.
    pub push_timeout: Duration,
    pub policy: crate::domain::AddressPolicy,
}

impl Default for EventSettings {
    fn default() -> Self {
        Self {
            retry_for: Duration::from_secs(86_400),
            push_timeout: Duration::from_secs(5),
            policy: crate::domain::AddressPolicy::default(),
        }
    }
}

/// Validated settings: every field has been parsed into what the server uses.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: DatabaseUrl,
    pub bind: SocketAddr,
    /// `None` means "derive from the address actually bound" (which matters for port 0).
    pub issuer: Option<String>,
    pub keys_dir: PathBuf,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub personal_token_ttl: Duration,
    pub exchange_token_ttl: Duration,
    /// `None`: no scheduled purge.
    pub purge_interval: Option<Duration>,
    /// HTTP worker threads.
    pub workers: usize,
    /// PostgreSQL pool size.
    pub db_connections: u32,
    /// `None` means the issuer + `/docs`.
    pub service_documentation: Option<String>,
    /// How often a running server looks for new or removed keys.
    pub keys_reload_interval: Duration,
    /// How long a new key is published before it signs.
    pub keys_publish_delay: Duration,
    /// How long in-flight requests may take to finish once a shutdown is asked for.
    pub shutdown_timeout: Duration,
    /// How long a client may take to send a request's head.
    pub client_timeout: Duration,
    pub limits: LimitSettings,
    /// Origins allowed cross-origin calls; empty: CORS off.
    pub cors_origins: Vec<String>,
    /// Push delivery of security events.
    pub events: EventSettings,
}

/// One HTTP worker per CPU.
fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

impl Settings {
    /// Settings for the given database with every other value at its default; the test
    /// harness and tools start from here.
    pub fn with_database(database_url: DatabaseUrl) -> Self {
        Self {
            database_url,
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            issuer: None,
            keys_dir: PathBuf::from("keys"),
            access_token_ttl: Duration::from_secs(3600),
            refresh_token_ttl: Duration::from_secs(30 * 86_400),
            personal_token_ttl: Duration::from_secs(365 * 86_400),
            exchange_token_ttl: Duration::from_secs(900),
            purge_interval: Some(Duration::from_secs(3600)),
            workers: default_workers(),
            db_connections: DEFAULT_POSTGRES_CONNECTIONS,
            service_documentation: None,
            keys_reload_interval: Duration::from_secs(10),
            keys_publish_delay: Duration::from_secs(120),
            shutdown_timeout: Duration::from_secs(30),
            client_timeout: Duration::from_secs(5),
            limits: LimitSettings::default(),
            cors_origins: Vec::new(),
            events: EventSettings::default(),
        }
    }

    /// The lifetimes of the tokens the server issues.
    pub fn lifetimes(&self) -> TokenLifetimes {
        TokenLifetimes {
            access: self.access_token_ttl,
            refresh: self.refresh_token_ttl,
            personal: self.personal_token_ttl,
            exchange: self.exchange_token_ttl,
        }
    }

    /// The issuer identifier for a server bound to `bound`.
    pub fn issuer_for(&self, bound: SocketAddr) -> String {
        self.issuer
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
    }
}

impl TryFrom<SettingsArgs> for Settings {
    type Error = ConfigError;

    fn try_from(args: SettingsArgs) -> Result<Self, Self::Error> {
        let bind = args.bind.parse().map_err(|_| ConfigError {
            variable: "TENAUTH_BIND",
            reason: "expected IP:PORT, e.g. 127.0.0.1:8080 or 0.0.0.0:8080".to_owned(),
        })?;
        let issuer = args
            .issuer
            .map(|issuer| validate_issuer(&issuer))
            .transpose()?;
        if args.keys_dir.as_os_str().is_empty() {
            return Err(ConfigError {
                variable: "TENAUTH_KEYS_DIR",
                reason: "the directory name is empty".to_owned(),
            });
        }
        Ok(Self {
            database_url: args.database_url.parse()?,
            bind,
            issuer,
            keys_dir: args.keys_dir,
            access_token_ttl: Duration::from_secs(args.access_token_ttl),
            refresh_token_ttl: Duration::from_secs(args.refresh_token_ttl),
            personal_token_ttl: Duration::from_secs(args.personal_token_ttl),
            exchange_token_ttl: Duration::from_secs(args.exchange_token_ttl),
            purge_interval: (args.purge_interval > 0)
                .then(|| Duration::from_secs(args.purge_interval)),
            workers: args.workers.map_or_else(default_workers, usize::from),
            db_connections: args.db_connections,
            service_documentation: args
                .service_documentation
                .map(|url| validate_url("TENAUTH_SERVICE_DOCUMENTATION", &url))
                .transpose()?,
            keys_reload_interval: Duration::from_secs(args.keys_reload_interval),
            keys_publish_delay: Duration::from_secs(args.keys_publish_delay),
            shutdown_timeout: Duration::from_secs(args.shutdown_timeout),
            client_timeout: Duration::from_millis(args.client_timeout_ms),
            cors_origins: parse_origins(&args.cors_origins)?,
            events: EventSettings {
                retry_for: Duration::from_secs(args.events_retry_for),
                push_timeout: Duration::from_millis(args.events_push_timeout_ms),
                policy: crate::domain::AddressPolicy {
                    allow_loopback: args.events_allow_http_loopback,
                },
            },
            limits: LimitSettings {
                client_rate: args.rate_limit_client,
                tenant_rate: args.rate_limit_tenant,
                user_failures: args.login_failures_per_user,
                client_failures: args.login_failures_per_client,
                client_auth_failures: args.client_auth_failures,
                login_window: Duration::from_secs(args.login_window),
            },
        })
    }
}

/// A comma-separated list of origins (RFC 6454: `scheme://host[:port]`, nothing after).
fn parse_origins(list: &str) -> Result<Vec<String>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|origin| !origin.is_empty())
        .map(|origin| {
            let url = validate_url("TENAUTH_CORS_ORIGINS", origin)?;
            let after_scheme = url.split_once("://").map_or("", |(_, rest)| rest);
            if after_scheme.contains('/') {
                return Err(ConfigError {
                    variable: "TENAUTH_CORS_ORIGINS",
                    reason: "an origin is scheme://host[:port], without a path".to_owned(),
                });
            }
            Ok(url)
        })
        .collect()
}

/// RFC 8414 §2: the issuer is an https URL with no query or fragment; plain http is
/// accepted for development and loopback deployments.
fn validate_issuer(issuer: &str) -> Result<String, ConfigError> {
    validate_url("TENAUTH_ISSUER", issuer)
}

/// An http(s) URL with a host and no query, fragment, space or control character; a
/// trailing slash is dropped.
fn validate_url(variable: &'static str, issuer: &str) -> Result<String, ConfigError> {
    let invalid = |reason: &str| ConfigError {
        variable,
        reason: reason.to_owned(),
    };
    let rest = issuer
        .strip_prefix("https://")
        .or_else(|| issuer.strip_prefix("http://"))
        .ok_or_else(|| invalid("must start with https:// or http://"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(invalid("has no host"));
    }
    if issuer.contains(['?', '#']) {
        return Err(invalid("must not contain a query or a fragment"));
    }
    if issuer.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("must not contain spaces or control characters"));
    }
    Ok(issuer.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_selects_the_backend_from_the_scheme() {
        let cases = [
            ("postgres://u@h/db", Some(true)),
            ("postgresql://u@h:5432/db", Some(true)),
            ("sqlite:tenauth.db", Some(false)),
            ("sqlite:///tmp/t.db", Some(false)),
            ("data/tenauth.db", Some(false)),
            ("mysql://root@h/db", None),
            ("host=127.0.0.1 dbname=x", None),
            ("sqlite:", None),
            ("", None),
            (":memory:", None),
        ];
        for (input, expected) in cases {
            let parsed = input.parse::<DatabaseUrl>();
            let is_postgres = parsed
                .as_ref()
                .ok()
                .map(|url| matches!(url, DatabaseUrl::Postgres(_)));
            assert_eq!(is_postgres, expected, "input {input:?}");
        }
        assert_eq!(
            "sqlite:///tmp/t.db".parse::<DatabaseUrl>().unwrap(),
            DatabaseUrl::Sqlite("/tmp/t.db".into())
        );
    }

    #[test]
    fn database_url_display_hides_the_password() {
        let url: DatabaseUrl = "postgres://app:s3cret@db:5432/tenauth?sslmode=require"
            .parse()
            .unwrap();
        assert_eq!(
            url.to_string(),
            "postgres://app:***@db:5432/tenauth?sslmode=require"
        );
        assert!(!format!("{url:?}").contains("s3cret"));
    }

    /// Settings from command-line flags alone.
    fn settings_from(flags: &[&str]) -> Result<Settings, String> {
        #[derive(clap::Parser)]
        struct Command {
            #[command(flatten)]
            settings: SettingsArgs,
        }
        let command = <Command as clap::Parser>::try_parse_from(
            std::iter::once("tenauth").chain(flags.iter().copied()),
        )
        .map_err(|error| error.to_string())?;
        Settings::try_from(command.settings).map_err(|error| error.to_string())
    }

    #[test]
    fn db_connections_default_and_zero_is_refused() {
        assert_eq!(
            settings_from(&["--db-connections", "12"])
                .unwrap()
                .db_connections,
            12
        );
        assert_eq!(
            settings_from(&[]).unwrap().db_connections,
            DEFAULT_POSTGRES_CONNECTIONS
        );
        assert!(settings_from(&["--db-connections", "0"]).is_err());
    }

    #[test]
    fn workers_default_to_the_cpus_and_zero_is_refused() {
        assert_eq!(settings_from(&["--workers", "3"]).unwrap().workers, 3);
        assert!(settings_from(&["--workers", "0"]).is_err());
        assert_eq!(settings_from(&[]).unwrap().workers, default_workers());
    }

    #[test]
    fn cors_origins_are_a_list_of_bare_origins() {
        let origins = |flag: &str| {
            settings_from(&["--cors-origins", flag]).map(|settings| settings.cors_origins)
        };
        assert_eq!(
            origins("https://app.example.com, http://localhost:3000/").unwrap(),
            ["https://app.example.com", "http://localhost:3000"]
        );
        assert_eq!(origins("").unwrap(), Vec::<String>::new());
        assert!(origins("https://app.example.com/path").is_err());
        assert!(origins("app.example.com").is_err());
    }

    #[test]
    fn service_documentation_must_be_an_http_url() {
        let url = |flag: &str| {
            settings_from(&["--service-documentation", flag])
                .map(|settings| settings.service_documentation)
        };
        assert_eq!(
            url("https://docs.example.com/tenauth/").unwrap().as_deref(),
            Some("https://docs.example.com/tenauth")
        );
        assert!(url("ftp://docs.example.com").is_err());
        assert!(url("docs.example.com").is_err());
        assert_eq!(settings_from(&[]).unwrap().service_documentation, None);
    }

    #[test]
    fn issuer_must_be_an_http_url_without_query_or_fragment() {
        assert_eq!(
            validate_issuer("https://auth.example.com/").unwrap(),
            "https://auth.example.com"
        );
        for bad in [
            "auth.example.com",
            "https://",
            "https://a/?x=1",
            "https://a/#f",
        ] {
            assert!(validate_issuer(bad).is_err(), "{bad}");
        }
    }
}
