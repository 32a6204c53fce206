//! The `tenauth` command line: parses the arguments (clap) and the settings, then calls the
//! library: the server ([`crate::startup`]), the keys ([`crate::keys`]) and the lifecycle
//! service ([`crate::lifecycle`]) that the admin API calls too, with the same parsers (e.g.
//! [`crate::lifecycle::clients::ClientSpec::parse`]) and the same JSON answers
//! ([`crate::routes::views`]). No rule
//! lives here: only argument syntax (comma-separated lists, reading a password from
//! standard input) and how results are printed.

mod commands;
mod error;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

pub use error::CliError;

use crate::config::{Settings, SettingsArgs};
use crate::domain::TenantId;
use crate::lifecycle::clients::ClientRequest;

#[derive(Debug, Parser)]
#[command(
    name = "tenauth",
    version,
    about = "OAuth2 authorization server whose every token is bound to a tenant"
)]
pub struct Cli {
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
        id: TenantId,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Create a client; a confidential client's secret is printed once.
    Create {
        #[arg(long)]
        tenant: TenantId,
        #[command(flatten)]
        client: ClientArgs,
        #[command(flatten)]
        output: Output,
    },
}

/// What `client create` is told about the new client.
#[derive(Debug, Args)]
pub(crate) struct ClientArgs {
    #[arg(long)]
    name: String,
    /// Grant types (authorization_code, client_credentials, password, refresh_token), comma-separated or repeated.
    #[arg(long = "grant-type", value_delimiter = ',', required = true)]
    grant_types: Vec<String>,
    /// Scopes the client may request, comma-separated or repeated.
    #[arg(long = "scope", value_delimiter = ',')]
    scopes: Vec<String>,
    /// A public client (no secret): may not use client_credentials.
    #[arg(long)]
    public: bool,
    /// A redirect URI for authorization_code (repeat the flag for more).
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// Where logout may send the browser back (repeat the flag for more).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// A first-party client: its users are not asked for consent.
    #[arg(long)]
    skip_consent: bool,
}

impl ClientArgs {
    /// The request as the admin API would receive it. `--grant-type a, b` and
    /// `--scope a, b`: the spaces are the command line's, not the values'.
    pub(crate) fn request(&self) -> ClientRequest<'_> {
        fn trimmed(values: &[String]) -> Vec<&str> {
            values.iter().map(|value| value.trim()).collect()
        }
        ClientRequest {
            name: &self.name,
            grant_types: trimmed(&self.grant_types),
            scopes: trimmed(&self.scopes),
            confidential: !self.public,
            redirect_uris: trimmed(&self.redirect_uris),
            post_logout_redirect_uris: trimmed(&self.post_logout_redirect_uris),
            skip_consent: self.skip_consent,
        }
    }
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user.
    Create {
        #[arg(long)]
        tenant: TenantId,
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

/// Runs the command line; the process's exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::logging::init(&cli.settings.log, cli.settings.log_format);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tenauth: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one parsed command.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let settings = Settings::try_from(cli.settings)?;
    match cli.command {
        Command::Serve => commands::serve(settings),
        Command::Migrate => commands::migrate(&settings),
        Command::Keys { command } => commands::keys(&settings, command),
        Command::Bootstrap(output) => commands::bootstrap(&settings, &output),
        Command::Purge { older_than, output } => commands::purge(&settings, older_than, &output),
        Command::Tenant {
            command: TenantCommand::Create { slug, name, output },
        } => commands::create_tenant(&settings, &slug, &name, &output),
        Command::Tenant {
            command: TenantCommand::Erase { id, output },
        } => commands::erase_tenant(&settings, id, &output),
        Command::Client {
            command:
                ClientCommand::Create {
                    tenant,
                    client,
                    output,
                },
        } => commands::create_client(&settings, tenant, &client, &output),
        Command::User {
            command:
                UserCommand::Create {
                    tenant,
                    username,
                    password,
                    password_stdin,
                    output,
                },
        } => commands::create_user(
            &settings,
            tenant,
            &username,
            password,
            password_stdin,
            &output,
        ),
    }
}
