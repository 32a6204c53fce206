//! The SQLite file guard: notices the database file being deleted or replaced under a
//! running server, which SQLite itself does not.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::DbError;

/// The identity of the SQLite file opened at start-up, to notice it being replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FileIdentity {
    device: u64,
    inode: u64,
}

impl FileIdentity {
    pub(super) fn of(path: &Path) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        let metadata = std::fs::metadata(path).ok()?;
        Some(Self {
            device: metadata.dev(),
            inode: metadata.ino(),
        })
    }
}

/// Watches that the SQLite file at the configured path is still the one the pools opened.
/// Connections to a deleted or replaced file keep "working" on the orphaned inode while
/// everything they write is lost; answering 503 is the honest reply. The check is a
/// `stat`, done at most every [`FILE_CHECK_INTERVAL_MS`] and remembered in between.
#[derive(Debug)]
pub(super) struct SqliteFileGuard {
    path: PathBuf,
    opened: FileIdentity,
    started: std::time::Instant,
    /// Milliseconds since `started` of the last check, and its outcome.
    last_check_ms: AtomicU64,
    present: AtomicBool,
}

const FILE_CHECK_INTERVAL_MS: u64 = 200;

impl SqliteFileGuard {
    /// Watches `path`, which is `opened` now.
    pub(super) fn watch(path: PathBuf, opened: FileIdentity) -> Self {
        Self {
            path,
            opened,
            started: std::time::Instant::now(),
            last_check_ms: AtomicU64::new(0),
            present: AtomicBool::new(true),
        }
    }

    /// Fails when the file is gone or replaced; `force` looks now rather than trusting a
    /// look less than [`FILE_CHECK_INTERVAL_MS`] old.
    pub(super) fn check(&self, force: bool) -> Result<(), DbError> {
        let now_ms = self.started.elapsed().as_millis() as u64;
        let last = self.last_check_ms.load(Ordering::Relaxed);
        if force || now_ms.saturating_sub(last) >= FILE_CHECK_INTERVAL_MS {
            let present = FileIdentity::of(&self.path).as_ref() == Some(&self.opened);
            self.present.store(present, Ordering::Relaxed);
            self.last_check_ms.store(now_ms, Ordering::Relaxed);
        }
        if self.present.load(Ordering::Relaxed) {
            Ok(())
        } else {
            Err(DbError::FileReplaced)
        }
    }
}
