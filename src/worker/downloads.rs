//! Weights downloads, on a thread of their own: started and cancelled right from
//! [`super::Worker::send`], so neither a run nor a slow connection delays the other.

use super::{Command, DownloadOutcome, Event, Outbox};
use crate::weights::{self, FetchProgress, HubConfig, Model, WeightsError};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Download progress is forwarded at most this often (the last report always goes).
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// Starts download threads, one at a time, and cancels them.
pub(super) struct Downloads {
    hub: Option<HubConfig>,
    outbox: Outbox,
    /// To load the weights once they are downloaded.
    commands: Sender<Command>,
    /// The running download's cancel flag; `None` while none runs. The download thread clears
    /// it before sending `DownloadFinished`, so a new download can start as soon as the UI
    /// hears the old one ended.
    current: Arc<Mutex<Option<Arc<AtomicBool>>>>,
}

impl Downloads {
    pub(super) fn new(hub: Option<HubConfig>, outbox: Outbox, commands: Sender<Command>) -> Self {
        Downloads {
            hub,
            outbox,
            commands,
            current: Arc::default(),
        }
    }

    pub(super) fn start(&self, model: Model) {
        let mut current = lock(&self.current);
        if current.is_some() {
            return; // the running download reports on its own
        }
        let cancel = Arc::new(AtomicBool::new(false));
        let hub = self.hub.clone();
        let out = self.outbox.clone();
        let commands = self.commands.clone();
        let slot = self.current.clone();
        let flag = cancel.clone();
        let spawned = std::thread::Builder::new()
            .name("atelier-download".into())
            .spawn(move || {
                let hub = hub.unwrap_or_else(HubConfig::from_env);
                let outcome = catch_unwind(AssertUnwindSafe(|| download(model, &hub, &flag, &out)))
                    .unwrap_or_else(|_| DownloadOutcome::Failed {
                        message: format!(
                            "the download crashed. {}. Report the bug if it repeats.",
                            weights::manual_hint(model, &hub)
                        ),
                    });
                *lock(&slot) = None;
                let loaded = match &outcome {
                    DownloadOutcome::Done(path) => Some(path.clone()),
                    _ => None,
                };
                // The event goes first, so `WeightsLoaded` always follows `DownloadFinished`.
                out.send(Event::DownloadFinished(outcome));
                if let Some(path) = loaded {
                    let _ = commands.send(Command::LoadNetwork(Some(path)));
                }
            });
        match spawned {
            Ok(_) => *current = Some(cancel),
            Err(e) => {
                let message = format!(
                    "couldn't start the download thread ({e}). Close other programs and try again."
                );
                let failed = DownloadOutcome::Failed { message };
                self.outbox.send(Event::DownloadFinished(failed));
            }
        }
    }

    pub(super) fn cancel(&self) {
        if let Some(flag) = lock(&self.current).as_ref() {
            flag.store(true, Ordering::Relaxed);
        }
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs one download on the calling thread, forwarding throttled progress.
fn download(model: Model, hub: &HubConfig, cancel: &AtomicBool, out: &Outbox) -> DownloadOutcome {
    let mut last: Option<Instant> = None;
    let mut progress = |p: &FetchProgress| {
        let complete = p.total > 0 && p.downloaded >= p.total;
        if !complete && last.is_some_and(|t| t.elapsed() < PROGRESS_INTERVAL) {
            return;
        }
        last = Some(Instant::now());
        out.send(Event::DownloadProgress {
            downloaded: p.downloaded,
            total: p.total,
            bytes_per_second: p.bytes_per_second,
            eta_seconds: p.eta_seconds,
        });
    };
    match weights::fetch(model, hub, None, &mut progress, cancel) {
        Ok(path) => DownloadOutcome::Done(path),
        Err(e @ WeightsError::Cancelled { .. }) => DownloadOutcome::Cancelled {
            message: e.to_string(),
        },
        Err(e) => DownloadOutcome::Failed {
            message: e.to_string(),
        },
    }
}
