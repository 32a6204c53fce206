//! The `tenauth` command line: a thin layer over the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use tenauth::config::{Settings, SettingsArgs};
use tenauth::db::Database;
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
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Write a new ES256 signing key to the keys directory; it signs from the next start.
    Generate,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    env_logger::Builder::new()
        .parse_filters(&cli.settings.log)
        .init();
    let settings = match Settings::try_from(cli.settings) {
        Ok(settings) => settings,
        Err(error) => return fail(&error),
    };
    let outcome = match cli.command {
        Command::Serve => serve(settings),
        Command::Migrate => migrate(&settings),
        Command::Keys {
            command: KeysCommand::Generate,
        } => tenauth::keys::generate_key(
            &settings.keys_dir,
            tenauth::domain::now().and_utc().timestamp(),
        )
        .map(|kid| {
            println!(
                "generated signing key {kid} in {}",
                settings.keys_dir.display()
            )
        })
        .map_err(|error| error.to_string()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

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
