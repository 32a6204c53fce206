//! What each command does: open what it needs, call the library, print the result (a line
//! for people, or with `--json` exactly one JSON object, the admin API's view of it).

use std::future::Future;
use std::io::Read;
use std::time::Duration;

use serde::Serialize;

use super::{CliError, ClientArgs, KeysCommand, Output};
use crate::config::Settings;
use crate::db::Database;
use crate::domain::{now, Actor, GrantType, Name, Password, Slug, TenantId, ADMIN_SCOPE};
use crate::keys::{init_dir, load_or_generate_secret_hash_key, prune_unneeded_keys, rotate_key};
use crate::lifecycle::clients::{ClientRequest, ClientSpec};
use crate::lifecycle::Lifecycle;
use crate::routes::views::{
    ClientCredentials, CreatedClient, CreatedUserView, ErasedTenant, PurgeReport, TenantView,
};
use crate::secrets::SecretHasher;
use crate::startup::Application;

pub(super) fn serve(settings: Settings) -> Result<(), CliError> {
    actix_web::rt::System::new().block_on(async move {
        let application = Application::build(settings)?;
        application
            .run_until_stopped()
            .await
            .map_err(CliError::Serve)
    })
}

pub(super) fn migrate(settings: &Settings) -> Result<(), CliError> {
    let url = &settings.database_url;
    let migrated = connect(settings)?
        .migrate()
        .map_err(|source| CliError::Migration {
            url: url.clone(),
            source,
        })?;
    if migrated.applied.is_empty() {
        println!("{url}: no pending migrations");
    }
    for migration in migrated.applied {
        println!("{url}: applied {migration}");
    }
    for unresolved in migrated.unresolved_usernames {
        eprintln!("{url}: {unresolved}");
    }
    Ok(())
}

pub(super) fn keys(settings: &Settings, command: KeysCommand) -> Result<(), CliError> {
    let dir = &settings.keys_dir;
    let now = now().and_utc().timestamp();
    match command {
        KeysCommand::Init => {
            let (kid, generated) = init_dir(dir, now)?;
            let verb = if generated { "generated" } else { "kept" };
            println!(
                "{verb} signing key {kid}; secret-hash key in place in {}",
                dir.display()
            );
        }
        KeysCommand::Generate | KeysCommand::Rotate => {
            let kid = rotate_key(dir, now)?;
            println!("generated signing key {kid} in {}", dir.display());
        }
        KeysCommand::Prune => {
            let removed =
                prune_unneeded_keys(dir, now, &settings.lifetimes(), settings.keys_publish_delay)?;
            for kid in &removed {
                println!("removed signing key {kid}");
            }
            if removed.is_empty() {
                println!("no key to remove");
            }
        }
    }
    Ok(())
}

/// Who the audit trail names for changes made from the command line.
const ACTOR: Actor = Actor::Cli;

pub(super) fn bootstrap(settings: &Settings, output: &Output) -> Result<(), CliError> {
    let spec = ClientSpec::parse(&ClientRequest {
        name: "Platform admin (bootstrap)",
        grant_types: vec![GrantType::ClientCredentials.as_str()],
        scopes: vec![ADMIN_SCOPE],
        confidential: true,
        ..ClientRequest::default()
    })?;
    let lifecycle = open_lifecycle(settings)?;
    let (client, secret) =
        block_on(lifecycle.create_client(ACTOR, TenantId::PLATFORM, spec, now()))??;
    let credentials = ClientCredentials {
        client_id: client.id.to_string(),
        client_secret: secret
            .map(|secret| secret.expose().to_owned())
            .unwrap_or_default(),
    };
    print(
        output,
        &credentials,
        format!(
            "platform admin client created (shown once, keep the secret safe):\nclient_id: {}\nclient_secret: {}",
            credentials.client_id, credentials.client_secret
        ),
    );
    Ok(())
}

pub(super) fn purge(
    settings: &Settings,
    older_than_days: u64,
    output: &Output,
) -> Result<(), CliError> {
    let lifecycle = open_lifecycle(settings)?;
    let retention = Duration::from_secs(older_than_days.saturating_mul(86_400));
    let deleted = block_on(lifecycle.purge_tokens(retention, now()))??;
    print(
        output,
        &PurgeReport::from(deleted),
        format!(
            "deleted {} access tokens and {} refresh tokens that expired or were revoked over {older_than_days} days ago",
            deleted.access_tokens, deleted.refresh_tokens
        ),
    );
    Ok(())
}

pub(super) fn create_tenant(
    settings: &Settings,
    slug: &str,
    name: &str,
    output: &Output,
) -> Result<(), CliError> {
    let slug: Slug = slug
        .parse()
        .map_err(|_| CliError::Invalid("a slug is 3 to 63 lowercase letters, digits or '-'"))?;
    let name: Name = name
        .parse()
        .map_err(|_| CliError::Invalid("a name is 1 to 255 characters"))?;
    let lifecycle = open_lifecycle(settings)?;
    let tenant = block_on(lifecycle.create_tenant(ACTOR, slug, name, now()))??;
    print(
        output,
        &TenantView::from(&tenant),
        format!(
            "tenant {} created: {} ({})",
            tenant.id, tenant.slug, tenant.name
        ),
    );
    Ok(())
}

pub(super) fn erase_tenant(
    settings: &Settings,
    id: TenantId,
    output: &Output,
) -> Result<(), CliError> {
    let lifecycle = open_lifecycle(settings)?;
    let erased = block_on(lifecycle.erase_tenant(ACTOR, id, now()))??;
    print(
        output,
        &ErasedTenant { id: id.get(), erased },
        format!(
            "tenant {id} erased: {} access tokens, {} refresh tokens, {} clients, {} users, {} audit events",
            erased.access_tokens, erased.refresh_tokens, erased.clients, erased.users, erased.audit_events
        ),
    );
    Ok(())
}

pub(super) fn create_client(
    settings: &Settings,
    tenant_id: TenantId,
    client: &ClientArgs,
    output: &Output,
) -> Result<(), CliError> {
    let spec = ClientSpec::parse(&client.request())?;
    let lifecycle = open_lifecycle(settings)?;
    let (client, secret) = block_on(lifecycle.create_client(ACTOR, tenant_id, spec, now()))??;
    let created = CreatedClient::new(&client, secret);
    print(
        output,
        &created,
        format!(
            "client created in tenant {}:\nclient_id: {}\nclient_secret: {}",
            client.tenant_id,
            client.id,
            created
                .client_secret
                .as_deref()
                .unwrap_or("(public client, no secret)")
        ),
    );
    Ok(())
}

pub(super) fn create_user(
    settings: &Settings,
    tenant_id: TenantId,
    username: &str,
    password: Option<String>,
    password_stdin: bool,
    output: &Output,
) -> Result<(), CliError> {
    let username = username
        .parse()
        .map_err(|_| CliError::Invalid("a username is 1 to 128 characters, without spaces"))?;
    let password = Password::new(read_password(password, password_stdin)?)
        .map_err(|_| CliError::Invalid("a password is 8 to 1024 characters"))?;
    let lifecycle = open_lifecycle(settings)?;
    let user = block_on(lifecycle.create_user(ACTOR, tenant_id, username, password, now()))??;
    print(
        output,
        &CreatedUserView::from(&user),
        format!(
            "user {} created in tenant {}: {}",
            user.id, user.tenant_id, user.username
        ),
    );
    Ok(())
}

/// The password from `--password`, or from standard input without its line ending.
fn read_password(password: Option<String>, from_stdin: bool) -> Result<String, CliError> {
    if !from_stdin {
        return password.ok_or(CliError::Invalid("give --password or --password-stdin"));
    }
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(CliError::Stdin)?;
    Ok(input.trim_end_matches(['\r', '\n']).to_owned())
}

fn connect(settings: &Settings) -> Result<Database, CliError> {
    Database::connect(&settings.database_url).map_err(|source| CliError::Database {
        url: settings.database_url.clone(),
        source,
    })
}

/// The lifecycle service on the migrated database, so every command works on a fresh one.
fn open_lifecycle(settings: &Settings) -> Result<Lifecycle, CliError> {
    let db = connect(settings)?;
    db.migrate().map_err(|source| CliError::Migration {
        url: settings.database_url.clone(),
        source,
    })?;
    let hasher = SecretHasher::new(&load_or_generate_secret_hash_key(&settings.keys_dir)?);
    Ok(Lifecycle::new(db, hasher))
}

/// Runs a service call to completion on a runtime of its own (the services run their
/// database work on the runtime's blocking pool and pool threads).
fn block_on<F: Future>(work: F) -> Result<F::Output, CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    Ok(runtime.block_on(work))
}

fn print(output: &Output, view: &impl Serialize, human: String) {
    if output.json {
        match serde_json::to_string(view) {
            Ok(json) => println!("{json}"),
            Err(error) => eprintln!("tenauth: cannot print the answer as JSON: {error}"),
        }
    } else {
        println!("{human}");
    }
}
