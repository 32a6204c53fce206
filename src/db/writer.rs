//! SQLite's single writer: one thread that owns the one write connection and runs every
//! write of the process, in arrival order, committing what has queued up together.
//!
//! SQLite allows one writer at a time. Sharing one connection through a pool made the
//! blocked request threads wake one another at each hand-over, in no particular order,
//! and paid `BEGIN IMMEDIATE`'s lock calls and a WAL append per request. Here requests
//! queue on a channel; the writer takes everything queued (up to [`MAX_BATCH`]), opens one
//! `BEGIN IMMEDIATE` transaction, runs each job inside its own savepoint (so a job that
//! fails rolls back alone), commits once, and only then tells each caller how its job
//! ended. A caller is never told "done" for work that did not commit: if the commit fails,
//! every job of the batch gets the error.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::result::Error as DieselError;
use diesel::Connection;

use super::{DbConnection, DbError};

/// The most jobs committed by one transaction.
const MAX_BATCH: usize = 64;

type Manager = <DbConnection as Connection>::TransactionManager;

/// Tells a caller how its job ended, once its batch has committed (or failed to).
trait Completion: Send {
    fn finish(self: Box<Self>, committed: Result<(), DbError>);
}

/// A queued write: runs inside the batch's transaction, in its own savepoint.
trait WriteJob: Send {
    fn run(self: Box<Self>, conn: &mut DbConnection) -> Box<dyn Completion>;
    /// The batch could not even begin: answer without running.
    fn abort(self: Box<Self>, error: DbError);
}

enum Request {
    Write(Box<dyn WriteJob>),
    /// Runs on the writer connection outside any batch (migrations).
    Exclusive(Box<dyn FnOnce(&mut DbConnection) + Send>),
}

/// Where a job's outcome goes: a blocked thread's channel, or an async caller's oneshot
/// (which wakes its task directly: no thread in between).
type Reply<T, E> = Box<dyn FnOnce(Result<T, E>) + Send>;

struct Job<F, T, E> {
    work: F,
    reply: Reply<T, E>,
}

struct Done<T, E> {
    outcome: Result<T, E>,
    reply: Reply<T, E>,
}

impl<T: Send, E: From<DbError> + Send> Completion for Done<T, E> {
    fn finish(self: Box<Self>, committed: Result<(), DbError>) {
        let answer = match committed {
            Ok(()) => self.outcome,
            Err(error) => Err(error.into()),
        };
        (self.reply)(answer);
    }
}

impl<F, T, E> WriteJob for Job<F, T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send,
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &mut DbConnection) -> Box<dyn Completion> {
        let outcome = in_transaction(conn, Manager::begin_transaction, self.work);
        Box::new(Done {
            outcome,
            reply: self.reply,
        })
    }

    fn abort(self: Box<Self>, error: DbError) {
        (self.reply)(Err(error.into()));
    }
}

/// Runs `work` between `begin` and a commit, or a rollback if it fails: diesel's
/// `Connection::transaction` with a chosen way to begin. Nested inside an open
/// transaction, diesel's manager makes this a savepoint.
pub(super) fn in_transaction<T, E: From<DbError>>(
    conn: &mut DbConnection,
    begin: impl FnOnce(&mut DbConnection) -> diesel::QueryResult<()>,
    work: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E> {
    begin(conn).map_err(DbError::from)?;
    match work(conn) {
        Ok(value) => {
            Manager::commit_transaction(conn).map_err(DbError::from)?;
            Ok(value)
        }
        Err(error) => match Manager::rollback_transaction(conn) {
            Ok(()) | Err(DieselError::BrokenTransactionManager) => Err(error),
            Err(rollback_error) => Err(DbError::from(rollback_error).into()),
        },
    }
}

/// `BEGIN IMMEDIATE`: take the write lock before reading, so that another process's write
/// makes us wait on the busy timeout instead of failing a read-then-write upgrade.
pub(super) fn begin_immediate(conn: &mut DbConnection) -> diesel::QueryResult<()> {
    match conn {
        DbConnection::Sqlite(sqlite) => {
            AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")
        }
        DbConnection::Postgres(_) => Manager::begin_transaction(conn),
    }
}

/// The handle to the writer thread; cloning it shares the one thread.
#[derive(Clone)]
pub(super) struct SqliteWriter {
    requests: mpsc::Sender<Request>,
}

impl SqliteWriter {
    /// Starts the writer thread on `conn`. It stops when every handle is dropped.
    pub(super) fn start(conn: DbConnection) -> Result<Self, DbError> {
        let (requests, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("tenauth-sqlite-writer".to_owned())
            .spawn(move || run(conn, queue))
            .map_err(|error| DbError::Unavailable(format!("cannot start the writer: {error}")))?;
        Ok(Self { requests })
    }

    /// Queues `work` and waits for its batch to commit.
    pub(super) fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let (reply, answer) = mpsc::sync_channel(1);
        self.queue(
            work,
            Box::new(move |outcome| {
                let _ = reply.send(outcome);
            }),
        )?;
        answer
            .recv()
            .unwrap_or_else(|_| Err(DbError::Task("a write job panicked".to_owned()).into()))
    }

    /// [`SqliteWriter::write`] for async code: queues `work` from the calling task and
    /// awaits the commit without any thread in between (the writer's answer wakes the
    /// task), so a write costs two thread hand-offs instead of four.
    pub(super) async fn write_async<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.queue(
            work,
            Box::new(move |outcome| {
                let _ = reply.send(outcome);
            }),
        )?;
        answer
            .await
            .unwrap_or_else(|_| Err(DbError::Task("a write job panicked".to_owned()).into()))
    }

    fn queue<T, E, F>(&self, work: F, reply: Reply<T, E>) -> Result<(), E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        // The request's log context follows its work onto the writer thread.
        let context = crate::logging::current();
        let work = move |conn: &mut DbConnection| crate::logging::run_with(context, || work(conn));
        self.requests
            .send(Request::Write(Box::new(Job { work, reply })))
            .map_err(|_| DbError::Unavailable("the writer has stopped".to_owned()).into())
    }

    /// Runs `work` on the writer connection outside any transaction, between batches.
    pub(super) fn exclusive<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> T + Send + 'static,
    ) -> Result<T, DbError> {
        let (reply, answer) = mpsc::sync_channel(1);
        let job = move |conn: &mut DbConnection| {
            let _ = reply.send(work(conn));
        };
        self.requests
            .send(Request::Exclusive(Box::new(job)))
            .map_err(|_| DbError::Unavailable("the writer has stopped".to_owned()))?;
        answer
            .recv()
            .map_err(|_| DbError::Task("an exclusive job panicked".to_owned()))
    }
}

fn run(mut conn: DbConnection, queue: mpsc::Receiver<Request>) {
    let mut pending = None;
    loop {
        let first = match pending.take() {
            Some(request) => request,
            None => match queue.recv() {
                Ok(request) => request,
                Err(_) => return,
            },
        };
        let mut batch = match first {
            Request::Exclusive(job) => {
                let _ = catch_unwind(AssertUnwindSafe(|| job(&mut conn)));
                continue;
            }
            Request::Write(job) => vec![job],
        };
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(Request::Write(job)) => batch.push(job),
                // An exclusive job waits for the batch before it.
                Ok(exclusive) => {
                    pending = Some(exclusive);
                    break;
                }
                Err(_) => break,
            }
        }
        run_batch(&mut conn, batch);
    }
}

fn run_batch(conn: &mut DbConnection, batch: Vec<Box<dyn WriteJob>>) {
    if let Err(error) = begin_immediate(conn) {
        let error = DbError::from(error);
        for job in batch {
            job.abort(DbError::Unavailable(error.to_string()));
        }
        return;
    }
    let mut completions = Vec::with_capacity(batch.len());
    for job in batch {
        match catch_unwind(AssertUnwindSafe(|| job.run(conn))) {
            Ok(completion) => completions.push(completion),
            Err(_) => {
                // The savepoint state is unknown after a panic: give the whole batch up.
                log::error!("a write job panicked; rolling back its batch");
                let _ = Manager::rollback_transaction(conn);
                for completion in completions {
                    completion.finish(Err(DbError::Task(
                        "a write in the same batch failed".to_owned(),
                    )));
                }
                return;
            }
        }
    }
    let committed = Manager::commit_transaction(conn).map_err(DbError::from);
    if committed.is_err() {
        let _ = Manager::rollback_transaction(conn);
    }
    for completion in completions {
        completion.finish(match &committed {
            Ok(()) => Ok(()),
            Err(error) => Err(DbError::Unavailable(error.to_string())),
        });
    }
}
