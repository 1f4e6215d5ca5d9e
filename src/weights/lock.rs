//! `<dest>.lock`: one download per destination at a time, across processes (the CLI and the
//! studio) and threads, so two runs never append to the same `.part`.
//!
//! The lock file is created with `create_new` and holds the owner's pid; the guard removes it
//! when dropped (success, error, cancel, panic). A lock left behind is stale, and taken over,
//! when its pid is not running (Linux: no `/proc/<pid>`; our own pid counts only for locks this
//! process holds, because a container's app gets the same pid after every restart), or when it
//! was not touched for [`STALE_AFTER`] (a running download touches it every minute; this
//! catches owners we cannot check, e.g. on other systems or after pid reuse).
//!
//! Taking over re-reads the lock just before removing it, so only a lock still as judged is
//! removed; two processes taking over the same stale lock in the same instant remain possible
//! in theory, one of them then fails its `create_new` and reports the other as running.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use super::error::WeightsError;

type Result<T> = std::result::Result<T, WeightsError>;

/// A lock untouched this long has no live owner.
const STALE_AFTER: Duration = Duration::from_secs(2 * 3600);
/// How often a running download refreshes its lock's modification time.
const HEARTBEAT: Duration = Duration::from_secs(60);
/// An empty or unreadable lock younger than this is still being written by its owner.
const BEING_WRITTEN: Duration = Duration::from_secs(10);

/// Locks held by this process (their paths): the in-process half of the lock.
static HELD: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

fn held() -> MutexGuard<'static, Option<HashSet<PathBuf>>> {
    HELD.lock().unwrap_or_else(|p| p.into_inner())
}

/// `<dest>.lock`.
pub fn lock_path(dest: &Path) -> PathBuf {
    let mut s = dest.as_os_str().to_owned();
    s.push(".lock");
    PathBuf::from(s)
}

/// Held while a download writes `<dest>.part`; dropping it releases the lock.
#[derive(Debug)]
pub(crate) struct DownloadLock {
    path: PathBuf,
    content: String,
    last_touch: Instant,
}

impl DownloadLock {
    /// Takes the lock of `dest`, or says who holds it. The folder must exist.
    pub(crate) fn acquire(dest: &Path) -> Result<Self> {
        let path = lock_path(dest);
        let busy = |holder: String| WeightsError::Busy {
            dest: dest.to_path_buf(),
            lock: path.clone(),
            holder,
        };
        if !held().get_or_insert_with(HashSet::new).insert(path.clone()) {
            return Err(busy(format!("pid {}", std::process::id())));
        }
        // From here on, every early return must unregister: the guard does it once built.
        let unregister = || {
            if let Some(set) = held().as_mut() {
                set.remove(&path);
            }
        };
        let content = format!("{}\n{}\n", std::process::id(), unique_token());
        for _ in 0..3 {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    let lock = DownloadLock {
                        path: path.clone(),
                        content: content.clone(),
                        last_touch: Instant::now(),
                    };
                    if let Err(e) = f.write_all(content.as_bytes()) {
                        let _ = fs::remove_file(&path);
                        return Err(WeightsError::io("write", &path, e));
                    }
                    return Ok(lock);
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    let seen = fs::read_to_string(&path).unwrap_or_default();
                    match judge(&path, &seen) {
                        Verdict::Stale => remove_if_unchanged(&path, &seen),
                        Verdict::Running(holder) => {
                            unregister();
                            return Err(busy(holder));
                        }
                    }
                }
                Err(e) => {
                    unregister();
                    return Err(WeightsError::io("create", &path, e));
                }
            }
        }
        unregister();
        Err(busy("another process that keeps taking it".into()))
    }

    /// Tells other processes this download is alive (at most once a minute; best effort).
    pub(crate) fn touch(&mut self) {
        if self.last_touch.elapsed() < HEARTBEAT {
            return;
        }
        self.last_touch = Instant::now();
        if let Ok(f) = File::options().write(true).open(&self.path) {
            let _ = f.set_modified(SystemTime::now());
        }
    }
}

impl Drop for DownloadLock {
    fn drop(&mut self) {
        // Only our own file: after a takeover (we looked dead) it belongs to someone else.
        remove_if_unchanged(&self.path, &self.content);
        if let Some(set) = held().as_mut() {
            set.remove(&self.path);
        }
    }
}

enum Verdict {
    Stale,
    /// Who holds it, for the message ("pid 1234").
    Running(String),
}

fn judge(path: &Path, content: &str) -> Verdict {
    let age = fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .unwrap_or_default();
    if age > STALE_AFTER {
        return Verdict::Stale;
    }
    let Some(pid) = content
        .lines()
        .next()
        .and_then(|l| l.trim().parse::<u32>().ok())
    else {
        return if age < BEING_WRITTEN {
            Verdict::Running("a process that has not written its pid yet".into())
        } else {
            Verdict::Stale // torn by a crash right after it was created
        };
    };
    // Ours but not in `HELD`: left by an earlier process that had the same pid.
    let alive = pid != std::process::id() && pid_alive(pid).unwrap_or(true);
    if alive {
        Verdict::Running(format!("pid {pid}"))
    } else {
        Verdict::Stale
    }
}

/// `None` where the system gives no cheap answer (no `/proc`).
fn pid_alive(pid: u32) -> Option<bool> {
    let proc = Path::new("/proc");
    proc.join("self")
        .exists()
        .then(|| proc.join(pid.to_string()).exists())
}

fn remove_if_unchanged(path: &Path, expected: &str) {
    if fs::read_to_string(path).is_ok_and(|now| now == expected) {
        let _ = fs::remove_file(path);
    }
}

/// Tells this lock from any other, also one of an earlier process with the same pid.
fn unique_token() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{nanos}-{}", SERIAL.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_is_exclusive_in_process_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("w.safetensors");
        let lock = DownloadLock::acquire(&dest).unwrap();
        assert!(lock_path(&dest).exists());
        let err = DownloadLock::acquire(&dest).unwrap_err();
        assert!(matches!(err, WeightsError::Busy { .. }), "{err}");
        drop(lock);
        assert!(!lock_path(&dest).exists());
        // A lock file with our pid that this process does not hold: an earlier incarnation's.
        fs::write(lock_path(&dest), format!("{}\nold\n", std::process::id())).unwrap();
        let lock = DownloadLock::acquire(&dest).unwrap();
        drop(lock);
        assert!(!lock_path(&dest).exists());
    }
}
