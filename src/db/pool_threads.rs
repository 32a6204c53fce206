//! The pool threads: where async code runs its database work, one thread per pooled
//! connection (reads; on PostgreSQL, async writes too).
//!
//! Diesel blocks, and actix's async workers must never wait on the database, so each read
//! crosses to another thread and back. That hop, not the query, is the dearest part of a
//! point read (an indexed SQLite lookup takes a few microseconds; waking a thread and
//! being woken costs more). On tokio's general blocking pool every request in flight
//! grew its own thread (40 under a 16-connection load), and the threads beyond the
//! connection pool's size only slept on its checkout. Here a fixed set of threads, one
//! per reader connection, takes jobs from one queue: a thread that finishes a job picks
//! up the next without sleeping while the queue is non-empty, and none ever waits for a
//! connection (the gain is measured in BENCHMARKS.md, second session).
//!
//! Reads run here, and on PostgreSQL, where every pooled connection may write, async
//! writes too (`Database::write_async`): one thread per connection either way, so a write
//! waiting on a lock holds no more than the connection it would hold anyway. Work that
//! hashes passwords stays on tokio's blocking pool ([`super::blocking`]), so a burst of
//! logins cannot hold up introspection.

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::DbError;

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of threads running jobs from one queue; they stop when it is dropped.
pub(super) struct PoolThreads {
    jobs: crossbeam_channel::Sender<Job>,
}

impl PoolThreads {
    pub(super) fn start(count: u32) -> Result<Self, DbError> {
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        for index in 0..count {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("tenauth-db-{index}"))
                .spawn(move || {
                    for job in queue {
                        // A panicking job answers its caller with an error (its reply
                        // channel is dropped) and the thread lives on.
                        let _ = catch_unwind(AssertUnwindSafe(job));
                    }
                })
                .map_err(|error| {
                    DbError::Task(format!("cannot start a database thread: {error}"))
                })?;
        }
        Ok(Self { jobs })
    }

    /// Runs `work` on one of the threads and waits for it without blocking the caller.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, DbError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let context = crate::logging::current();
        let job: Job = Box::new(move || {
            // A caller that went away (client disconnected) while the job queued costs
            // nothing more.
            if reply.is_closed() {
                return;
            }
            let _ = reply.send(crate::logging::run_with(context, work));
        });
        self.jobs
            .send(job)
            .map_err(|_| DbError::Task("the database threads have stopped".to_owned()))?;
        answer
            .await
            .map_err(|_| DbError::Task("a database read panicked".to_owned()))
    }
}
