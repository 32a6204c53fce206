//! The real `tenauth` binary: CLI runs, `tenauth serve` as a child process, and an
//! installation provisioned through the CLI alone.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::app::basic_header;
use super::databases::TestDatabase;

/// Runs the `tenauth` binary with a clean environment (no inherited tenauth settings).
pub fn run_cli(args: &[&str], env: &[(&str, &str)], dir: &Path) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tenauth"));
    command.args(args).current_dir(dir);
    for (name, _) in std::env::vars() {
        if name == "DATABASE_URL" || name.starts_with("TENAUTH_") || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied());
    command.output().expect("run the tenauth binary")
}

/// The files in `dir` with the given extension.
pub fn files_with_extension(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|ext| ext == extension))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// `tenauth serve` as a child process on a free port, in `dir`.
pub struct ServeProcess {
    child: std::process::Child,
    pub port: u16,
    /// Where its standard error goes.
    pub log: PathBuf,
}

impl ServeProcess {
    /// Starts it with `env` added, its standard error written to `dir/serve.log`.
    pub fn start(db: &TestDatabase, dir: &Path, env: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.join("serve.log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_tenauth"));
        for (name, _) in std::env::vars() {
            if name == "DATABASE_URL" || name.starts_with("TENAUTH_") || name == "RUST_LOG" {
                command.env_remove(name);
            }
        }
        let child = command
            .arg("serve")
            .current_dir(dir)
            .env("DATABASE_URL", db.raw_url())
            .env("TENAUTH_BIND", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start tenauth serve");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port, log }
    }

    pub fn connect(&self) -> std::io::Result<TcpStream> {
        TcpStream::connect(("127.0.0.1", self.port))
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits (bounded) for the process to exit; its exit status.
    pub fn wait(&mut self, bound: Duration) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < bound,
                "the server did not stop within {bound:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An installation provisioned through the CLI alone, for tests that run `tenauth serve`
/// as a process: a platform admin client (`bootstrap`), tenant `acme`, its client `web`
/// (every grant, scope `read`) and its user `alice` with `password`.
pub struct CliInstallation {
    pub admin: serde_json::Value,
    pub tenant: serde_json::Value,
    pub client: serde_json::Value,
}

impl CliInstallation {
    pub fn provision(db: &TestDatabase, dir: &Path, password: &str) -> Self {
        let url = db.raw_url();
        let cli = |args: &[&str]| -> serde_json::Value {
            let output = run_cli(args, &[("DATABASE_URL", &url)], dir);
            assert!(
                output.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            serde_json::from_slice(&output.stdout).unwrap()
        };
        let admin = cli(&["bootstrap", "--json"]);
        let tenant = cli(&[
            "tenant", "create", "--slug", "acme", "--name", "Acme", "--json",
        ]);
        let tenant_id = tenant["id"].to_string();
        let client = cli(&[
            "client",
            "create",
            "--tenant",
            &tenant_id,
            "--name",
            "web",
            "--grant-type",
            "client_credentials,password,refresh_token",
            "--scope",
            "read",
            "--json",
        ]);
        cli(&[
            "user",
            "create",
            "--tenant",
            &tenant_id,
            "--username",
            "alice",
            "--password",
            password,
            "--json",
        ]);
        Self {
            admin,
            tenant,
            client,
        }
    }

    /// `Authorization: Basic …` of the admin client.
    pub fn admin_basic(&self) -> String {
        basic_of(&self.admin)
    }

    /// `Authorization: Basic …` of the tenant's client.
    pub fn client_basic(&self) -> String {
        basic_of(&self.client)
    }
}

fn basic_of(credentials: &serde_json::Value) -> String {
    basic_header(
        credentials["client_id"].as_str().unwrap(),
        credentials["client_secret"].as_str().unwrap(),
    )
}
