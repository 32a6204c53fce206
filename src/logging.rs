//! Logging: `log` + `env_logger`, as text (the default) or one JSON object per line
//! (`TENAUTH_LOG_FORMAT=json`), and the request a log line was written for.
//!
//! A line written while a request is handled names its request id and, once the caller
//! has been authenticated, its tenant. The request's [`RequestContext`] is task-local
//! while its handler runs on an async worker, and is carried over to the thread that
//! runs its database work (`db::blocking`, `Database::read_async`), so protocol code logs
//! with plain `log` macros and the context is added here, in one place.
//!
//! What never reaches a log line (tested by `tests/api/observability.rs`): token values,
//! client secrets, passwords and the `Authorization` header. Code logs ids (client id,
//! jti, tenant id), never credentials.

use std::cell::RefCell;
use std::io::Write;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use crate::domain::TenantId;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Text lines: `[ts level target] msg`, then `request_id=` and `tenant_id=` where known.
    #[default]
    Text,
    /// One JSON object per line: `ts`, `level`, `target`, `msg`, and `request_id` and
    /// `tenant_id` where known.
    Json,
}

/// What is known about the request being handled.
#[derive(Debug)]
pub struct RequestContext {
    request_id: String,
    /// 0 until the caller's tenant is known (tenant ids start at 1).
    tenant_id: AtomicI64,
}

impl RequestContext {
    pub fn new(request_id: String) -> Arc<Self> {
        Arc::new(Self {
            request_id,
            tenant_id: AtomicI64::new(0),
        })
    }

    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    pub fn tenant_id(&self) -> Option<i64> {
        Some(self.tenant_id.load(Ordering::Relaxed)).filter(|&id| id > 0)
    }
}

tokio::task_local! {
    static TASK_CONTEXT: Arc<RequestContext>;
}

thread_local! {
    static THREAD_CONTEXT: RefCell<Option<Arc<RequestContext>>> = const { RefCell::new(None) };
}

/// The context of the request this code runs for, if any.
pub fn current() -> Option<Arc<RequestContext>> {
    TASK_CONTEXT
        .try_with(Arc::clone)
        .ok()
        .or_else(|| THREAD_CONTEXT.with(|context| context.borrow().clone()))
}

/// Runs `future` (a request's handling) with `context` as its context.
pub async fn scope<F: std::future::Future>(context: Arc<RequestContext>, future: F) -> F::Output {
    TASK_CONTEXT.scope(context, future).await
}

/// Runs `work` on this thread with `context` as the current context: how a request's
/// context follows its work onto another thread.
pub fn run_with<T>(context: Option<Arc<RequestContext>>, work: impl FnOnce() -> T) -> T {
    /// Puts the previous context back however `work` ends: a panicking job (caught by
    /// the thread pools) must not leave its request's context on the thread.
    struct Restore(Option<Arc<RequestContext>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            THREAD_CONTEXT.with(|slot| *slot.borrow_mut() = previous);
        }
    }
    let _restore = Restore(THREAD_CONTEXT.with(|slot| slot.replace(context)));
    work()
}

/// Records the tenant of the request being handled, once its caller is authenticated.
pub fn set_tenant(tenant_id: TenantId) {
    if let Some(context) = current() {
        context.tenant_id.store(tenant_id.get(), Ordering::Relaxed);
    }
}

/// Installs the global logger: `filter` in env_logger syntax, to standard error.
pub fn init(filter: &str, format: LogFormat) {
    let mut builder = env_logger::Builder::new();
    builder.parse_filters(filter);
    if format == LogFormat::Text {
        builder.format(|out, record| {
            write!(
                out,
                "[{} {:<5} {}] {}",
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                record.level(),
                record.target(),
                record.args()
            )?;
            if let Some(context) = current() {
                write!(out, " request_id={}", context.request_id())?;
                if let Some(tenant_id) = context.tenant_id() {
                    write!(out, " tenant_id={tenant_id}")?;
                }
            }
            writeln!(out)
        });
    }
    if format == LogFormat::Json {
        builder.format(|out, record| {
            let context = current();
            let mut line = serde_json::Map::new();
            line.insert(
                "ts".into(),
                chrono::Utc::now()
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                    .into(),
            );
            line.insert("level".into(), record.level().as_str().into());
            line.insert("target".into(), record.target().into());
            line.insert("msg".into(), record.args().to_string().into());
            if let Some(context) = &context {
                line.insert("request_id".into(), context.request_id().into());
                if let Some(tenant_id) = context.tenant_id() {
                    line.insert("tenant_id".into(), tenant_id.into());
                }
            }
            writeln!(out, "{}", serde_json::Value::Object(line))
        });
    }
    builder.init();
}
