//! The `tenauth` command line: a thin layer over the library.

use std::collections::BTreeSet;
use std::io::Read;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use serde_json::json;

use tenauth::config::{Settings, SettingsArgs};
use tenauth::db::Database;
use tenauth::domain::{now, GrantType, Scope, TenantId};
use tenauth::keys::load_or_generate_secret_hash_key;
use tenauth::oauth::secrets::SecretHasher;
use tenauth::provisioning::{self, ClientSpec};
use tenauth::startup::Application;

#[derive(Debug, Parser)]
#[command(
    name = "tenauth",
    version,
    about = "OAuth2 authorization server whose every token is bound to a tenant"
)]
struct Cli {
    #[command(flatten)]
    settings: SettingsArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Migrate the database, then serve HTTP.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Create a platform admin client (client_credentials, scope `admin`) and print its credentials once.
    Bootstrap(Output),
    /// Delete access and refresh tokens that expired or were revoked more than DAYS ago, in batches.
    Purge {
        /// Retention in days.
        #[arg(long, default_value_t = 7)]
        older_than: u64,
        #[command(flatten)]
        output: Output,
    },
    /// Manage tenants.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Manage OAuth clients.
    Client {
        #[command(subcommand)]
        command: ClientCommand,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Debug, Args)]
struct Output {
    /// Print exactly one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Prepare a keys directory shared by several instances: a signing key and the secret-hashing key, each only if missing (run once before starting them).
    Init,
    /// Write a new ES256 signing key to the keys directory (the newest key signs).
    Generate,
    /// Add a key that signs from now on: running servers pick it up within TENAUTH_KEYS_RELOAD_INTERVAL; older keys stay published until pruned.
    Rotate,
    /// Remove the keys retired longer ago than any token lives (the longer of the access and personal token lifetimes); the newest key always stays.
    Prune,
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Create a tenant (and its personal-access client).
    Create {
        /// 3 to 63 lowercase letters, digits or '-'.
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        output: Output,
    },
    /// Erase a deleted tenant: remove every row of it, keeping one audit event that it happened.
    Erase {
        /// The tenant's id.
        id: i64,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Create a client; a confidential client's secret is printed once.
    Create {
        #[arg(long)]
        tenant: i64,
        #[arg(long)]
        name: String,
        /// Grant types (client_credentials, password, refresh_token), comma-separated or repeated.
        #[arg(long = "grant-type", value_delimiter = ',', required = true)]
        grant_types: Vec<String>,
        /// Scopes the client may request, comma-separated or repeated.
        #[arg(long = "scope", value_delimiter = ',')]
        scopes: Vec<String>,
        /// A public client (no secret): may use only the password and refresh_token grants.
        #[arg(long)]
        public: bool,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user.
    Create {
        #[arg(long)]
        tenant: i64,
        #[arg(long)]
        username: String,
        /// The password (visible to other local users in the process list; prefer --password-stdin).
        #[arg(
            long,
            conflicts_with = "password_stdin",
            required_unless_present = "password_stdin"
        )]
        password: Option<String>,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        output: Output,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tenauth::logging::init(&cli.settings.log, cli.settings.log_format);
    let settings = match Settings::try_from(cli.settings) {
        Ok(settings) => settings,
        Err(error) => return fail(&error),
    };
    let outcome = match cli.command {
        Command::Serve => serve(settings),
        Command::Migrate => migrate(&settings),
        Command::Keys {
            command: KeysCommand::Init,
        } => tenauth::keys::KeyStore::load_or_generate(
            &settings.keys_dir,
            now().and_utc().timestamp(),
        )
        .and_then(|(keys, generated)| {
            load_or_generate_secret_hash_key(&settings.keys_dir)?;
            let verb = if generated { "generated" } else { "kept" };
            println!(
                "{verb} signing key {}; secret-hash key in place in {}",
                keys.signing_key().kid,
                settings.keys_dir.display()
            );
            Ok(())
        })
        .map_err(|error| error.to_string()),
        Command::Keys {
            command: KeysCommand::Prune,
        } => {
            let longest = settings.access_token_ttl.max(settings.personal_token_ttl);
            tenauth::keys::prune_keys(
                &settings.keys_dir,
                now().and_utc().timestamp(),
                i64::try_from(longest.as_secs()).unwrap_or(i64::MAX),
                i64::try_from(settings.keys_publish_delay.as_secs()).unwrap_or(i64::MAX),
            )
            .map(|removed| {
                for kid in &removed {
                    println!("removed signing key {kid}");
                }
                if removed.is_empty() {
                    println!("no key to remove");
                }
            })
            .map_err(|error| error.to_string())
        }
        Command::Keys {
            command: KeysCommand::Generate | KeysCommand::Rotate,
        } => tenauth::keys::rotate_key(&settings.keys_dir, now().and_utc().timestamp())
            .map(|kid| {
                println!(
                    "generated signing key {kid} in {}",
                    settings.keys_dir.display()
                )
            })
            .map_err(|error| error.to_string()),
        Command::Bootstrap(output) => bootstrap(&settings, &output),
        Command::Purge { older_than, output } => purge(&settings, older_than, &output),
        Command::Tenant {
            command: TenantCommand::Create { slug, name, output },
        } => create_tenant(&settings, &slug, &name, &output),
        Command::Tenant {
            command: TenantCommand::Erase { id, output },
        } => erase_tenant(&settings, TenantId::new(id), &output),
        Command::Client {
            command:
                ClientCommand::Create {
                    tenant,
                    name,
                    grant_types,
                    scopes,
                    public,
                    output,
                },
        } => parse_client_spec(name, &grant_types, &scopes, !public)
            .and_then(|spec| create_client(&settings, TenantId::new(tenant), &spec, &output)),
        Command::User {
            command:
                UserCommand::Create {
                    tenant,
                    username,
                    password,
                    password_stdin,
                    output,
                },
        } => read_password(password, password_stdin).and_then(|password| {
            create_user(
                &settings,
                TenantId::new(tenant),
                &username,
                password,
                &output,
            )
        }),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

/// Who the audit trail names for changes made from the command line.
const CLI_ACTOR: &str = "cli";

fn fail(message: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("tenauth: {message}");
    ExitCode::FAILURE
}

fn serve(settings: Settings) -> Result<(), String> {
    actix_web::rt::System::new().block_on(async move {
        let application = Application::build(settings).map_err(|error| error.to_string())?;
        application
            .run_until_stopped()
            .await
            .map_err(|error| format!("server error: {error}"))
    })
}

/// Opens the database and applies pending migrations, so every command works on a fresh one.
fn open_database(settings: &Settings) -> Result<Database, String> {
    let url = &settings.database_url;
    let db = Database::connect(url)
        .map_err(|error| format!("cannot open the database {url}: {error}"))?;
    db.migrate()
        .map_err(|error| format!("cannot migrate the database {url}: {error}"))?;
    Ok(db)
}

fn migrate(settings: &Settings) -> Result<(), String> {
    let url = &settings.database_url;
    let db = Database::connect(url)
        .map_err(|error| format!("cannot open the database {url}: {error}"))?;
    let applied = db
        .migrate()
        .map_err(|error| format!("cannot migrate the database {url}: {error}"))?;
    if applied.is_empty() {
        println!("{url}: no pending migrations");
    }
    for migration in applied {
        println!("{url}: applied {migration}");
    }
    Ok(())
}

fn secret_hasher(settings: &Settings) -> Result<SecretHasher, String> {
    let key =
        load_or_generate_secret_hash_key(&settings.keys_dir).map_err(|error| error.to_string())?;
    Ok(SecretHasher::new(&key))
}

fn print(output: &Output, value: serde_json::Value, human: String) {
    if output.json {
        println!("{value}");
    } else {
        println!("{human}");
    }
}

fn bootstrap(settings: &Settings, output: &Output) -> Result<(), String> {
    let spec = ClientSpec {
        name: "Platform admin (bootstrap)".to_owned(),
        grant_types: BTreeSet::from([GrantType::ClientCredentials]),
        scopes: tenauth::domain::ADMIN_SCOPE
            .parse()
            .map_err(|_| "invalid scope".to_owned())?,
        confidential: true,
    };
    let db = open_database(settings)?;
    let (client, secret) = provisioning::create_client(
        &db,
        &secret_hasher(settings)?,
        CLI_ACTOR,
        TenantId::PLATFORM,
        &spec,
        now(),
    )
    .map_err(|error| error.to_string())?;
    let secret = secret
        .map(|secret| secret.expose().to_owned())
        .unwrap_or_default();
    print(
        output,
        json!({ "client_id": client.id, "client_secret": secret }),
        format!(
            "platform admin client created (shown once, keep the secret safe):\nclient_id: {}\nclient_secret: {secret}",
            client.id
        ),
    );
    Ok(())
}

fn purge(settings: &Settings, older_than_days: u64, output: &Output) -> Result<(), String> {
    let db = open_database(settings)?;
    let retention = std::time::Duration::from_secs(older_than_days.saturating_mul(86_400));
    let deleted = tenauth::purge::purge_tokens(&db, retention, now())
        .map_err(|error| format!("purge failed: {error}"))?;
    print(
        output,
        json!({
            "deleted_access_tokens": deleted.access_tokens,
            "deleted_refresh_tokens": deleted.refresh_tokens,
        }),
        format!(
            "deleted {} access tokens and {} refresh tokens that expired or were revoked over {older_than_days} days ago",
            deleted.access_tokens, deleted.refresh_tokens
        ),
    );
    Ok(())
}

fn erase_tenant(settings: &Settings, id: TenantId, output: &Output) -> Result<(), String> {
    let db = open_database(settings)?;
    let erased = tenauth::tenants::erase_tenant(&db, CLI_ACTOR, id, now())
        .map_err(|error| error.to_string())?;
    print(
        output,
        json!({ "id": id, "erased": erased }),
        format!(
            "tenant {id} erased: {} access tokens, {} refresh tokens, {} clients, {} users, {} audit events",
            erased.access_tokens, erased.refresh_tokens, erased.clients, erased.users, erased.audit_events
        ),
    );
    Ok(())
}

fn create_tenant(
    settings: &Settings,
    slug: &str,
    name: &str,
    output: &Output,
) -> Result<(), String> {
    let db = open_database(settings)?;
    let tenant = provisioning::create_tenant(&db, CLI_ACTOR, slug, name, now())
        .map_err(|error| error.to_string())?;
    print(
        output,
        json!({
            "id": tenant.id,
            "slug": tenant.slug,
            "name": tenant.name,
            "status": tenant.status,
            "created_at": tenant.created_at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }),
        format!(
            "tenant {} created: {} ({})",
            tenant.id, tenant.slug, tenant.name
        ),
    );
    Ok(())
}

fn parse_client_spec(
    name: String,
    grant_types: &[String],
    scopes: &[String],
    confidential: bool,
) -> Result<ClientSpec, String> {
    let grant_types = grant_types
        .iter()
        .map(|grant| {
            grant
                .trim()
                .parse::<GrantType>()
                .map_err(|_| format!("unknown grant type {grant:?}"))
        })
        .collect::<Result<_, _>>()?;
    let scopes = Scope::from_tokens(scopes.iter().map(|scope| scope.trim()))
        .map_err(|_| "a scope is malformed".to_owned())?;
    Ok(ClientSpec {
        name,
        grant_types,
        scopes,
        confidential,
    })
}

fn create_client(
    settings: &Settings,
    tenant_id: TenantId,
    spec: &ClientSpec,
    output: &Output,
) -> Result<(), String> {
    let db = open_database(settings)?;
    let (client, secret) = provisioning::create_client(
        &db,
        &secret_hasher(settings)?,
        CLI_ACTOR,
        tenant_id,
        spec,
        now(),
    )
    .map_err(|error| error.to_string())?;
    let secret = secret.map(|secret| secret.expose().to_owned());
    print(
        output,
        json!({
            "client_id": client.id,
            "client_secret": secret,
            "tenant_id": client.tenant_id,
            "name": client.name,
            "grant_types": client.grant_types,
            "scopes": client.scopes,
        }),
        format!(
            "client created in tenant {}:\nclient_id: {}\nclient_secret: {}",
            client.tenant_id,
            client.id,
            secret.as_deref().unwrap_or("(public client, no secret)")
        ),
    );
    Ok(())
}

fn read_password(password: Option<String>, from_stdin: bool) -> Result<String, String> {
    if !from_stdin {
        return password.ok_or_else(|| "give --password or --password-stdin".to_owned());
    }
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|error| format!("cannot read the password: {error}"))?;
    Ok(input.trim_end_matches(['\r', '\n']).to_owned())
}

fn create_user(
    settings: &Settings,
    tenant_id: TenantId,
    username: &str,
    password: String,
    output: &Output,
) -> Result<(), String> {
    let db = open_database(settings)?;
    let user = provisioning::create_user(&db, CLI_ACTOR, tenant_id, username, password, now())
        .map_err(|error| error.to_string())?;
    print(
        output,
        json!(user),
        format!(
            "user {} created in tenant {}: {}",
            user.id, user.tenant_id, user.username
        ),
    );
    Ok(())
}
