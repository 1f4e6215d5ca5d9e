//! The worker thread behind the studio: it owns the engine, takes commands, and sends events
//! and frames back, so the UI thread never waits on compute. A panic inside the engine becomes an
//! `Error` event followed by `Finished(Failed)`; the window never dies with it.
//!
//! Weights downloads run on a thread of their own (`downloads.rs`), started and cancelled right
//! from [`Worker::send`], so neither a run nor a slow connection delays the other.

mod downloads;
mod instant;
pub mod protocol;
mod training;
pub use protocol::*;

use crate::engine::{memory, RunImages, Schedule, Start, TransferConfig};
use crate::network::Network;
use crate::settings::{DeviceChoice, Preprocess, Settings};
use crate::weights::{self, HubConfig, WeightsError};
use downloads::Downloads;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::time::Instant;

/// What the worker takes from its surroundings; tests inject their own hub.
#[derive(Debug, Clone, Default)]
pub struct WorkerConfig {
    /// Where downloads come from and go to; `None` reads the `HF_*` variables
    /// ([`HubConfig::from_env`]) when a download starts.
    pub hub: Option<HubConfig>,
    /// Where `LoadNetwork(None)` and a gone saved file look; `None`: the process's
    /// (`ATELIER_WEIGHTS`, `./weights/`, next to the binary) and `hub`'s download cache.
    pub weights_search: Option<weights::SearchEnv>,
    /// The assets folder the studio resolved; the instant networks are in its `instant/`.
    /// `None`: [`crate::assets::locate`].
    pub assets_dir: Option<PathBuf>,
    /// The brush collection's folder; `None`: [`crate::brushes::dir`].
    pub brushes_dir: Option<PathBuf>,
}

/// Handle to the worker thread. Dropping it asks the thread to leave.
pub struct Worker {
    commands: Sender<Command>,
    events: Receiver<Event>,
    frames: FrameSlot,
    downloads: Downloads,
    /// The compute thread: the handle tells when it has died, which the channels can't (the
    /// download side keeps a sender of its own).
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    /// Spawns the worker thread. `notify` is called after every event/frame (the studio passes a
    /// closure calling `ctx.request_repaint()`).
    pub fn spawn(notify: Box<dyn Fn() + Send + Sync>) -> Worker {
        Self::spawn_with(notify, WorkerConfig::default())
    }

    /// [`Worker::spawn`] with an explicit configuration.
    pub fn spawn_with(notify: Box<dyn Fn() + Send + Sync>, config: WorkerConfig) -> Worker {
        let (cmd_tx, cmd_rx) = mpsc::channel();
        let (ev_tx, ev_rx) = mpsc::channel();
        let frames = FrameSlot::default();
        let outbox = Outbox {
            tx: ev_tx.clone(),
            notify: Arc::from(notify),
            frames: frames.clone(),
        };
        let mut engine = Engine {
            instant: instant::InstantEngine::in_assets(config.assets_dir.clone()),
            search: config
                .weights_search
                .clone()
                .map_or(Search::Process(config.hub.clone()), Search::Fixed),
            brushes_dir: config.brushes_dir.clone(),
            ..Engine::default()
        };
        let downloads = Downloads::new(config.hub, outbox.clone(), cmd_tx.clone());
        let spawned = std::thread::Builder::new()
            .name("atelier-worker".into())
            .spawn(move || engine.serve(&cmd_rx, &outbox));
        let thread = match spawned {
            Ok(t) => Some(t),
            Err(e) => {
                let _ = ev_tx.send(Event::Error {
                    message: format!(
                        "couldn't start the compute thread ({e}). Close other programs and restart Atelier."
                    ),
                });
                None
            }
        };
        Worker {
            commands: cmd_tx,
            events: ev_rx,
            frames,
            downloads,
            thread,
        }
    }

    /// Whether the compute thread is still there. It only ends on its own when something
    /// outside the engine's panic guard failed; the owner should then start a fresh worker.
    pub fn is_alive(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Never blocks; a dead worker simply ignores commands.
    pub fn send(&self, cmd: Command) {
        match cmd {
            Command::DownloadWeights(model) => self.downloads.start(model),
            Command::CancelDownload => self.downloads.cancel(),
            cmd => {
                if matches!(cmd, Command::Shutdown) {
                    self.downloads.cancel();
                }
                let _ = self.commands.send(cmd);
            }
        }
    }

    pub fn try_recv(&self) -> Option<Event> {
        self.events.try_recv().ok()
    }

    pub fn take_frame(&self) -> Option<Frame> {
        self.frames.take()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.downloads.cancel();
        let _ = self.commands.send(Command::Shutdown);
    }
}

/// Sends events and frames, waking the UI each time.
#[derive(Clone)]
struct Outbox {
    tx: Sender<Event>,
    notify: Arc<dyn Fn() + Send + Sync>,
    frames: FrameSlot,
}

impl Outbox {
    fn send(&self, event: Event) {
        let _ = self.tx.send(event);
        (self.notify)();
    }
}

/// What identifies a loaded network: reload only when one of these changes.
#[derive(Debug, Clone, PartialEq)]
struct NetworkKey {
    weights: Option<PathBuf>,
    device: DeviceChoice,
    preprocess: Option<Preprocess>,
}

/// Where the engine looks for weights no file is named for.
enum Search {
    /// The process's environment, with this hub's download cache when given.
    Process(Option<HubConfig>),
    Fixed(weights::SearchEnv),
}

impl Default for Search {
    fn default() -> Self {
        Search::Process(None)
    }
}

impl Search {
    fn env(&self) -> weights::SearchEnv {
        match self {
            Search::Fixed(env) => env.clone(),
            Search::Process(hub) => {
                let mut env = weights::SearchEnv::from_process(None);
                if let Some(hub) = hub {
                    env.hub = hub.clone();
                }
                env
            }
        }
    }
}

#[derive(Default)]
struct Engine {
    search: Search,
    network: Option<(NetworkKey, Network)>,
    run: Option<Run>,
    instant: instant::InstantEngine,
    /// A brush being trained; it steps when no paint run is active (never both: see
    /// `Command::StartTraining`).
    training: Option<training::Training>,
    /// Commands read past a coalesced `Instant`, handled before the channel's next ones.
    pending: VecDeque<Command>,
    brushes_dir: Option<PathBuf>,
}

struct Run {
    schedule: Schedule,
    iterations: u32,
    paused: bool,
}

impl Engine {
    fn serve(&mut self, commands: &Receiver<Command>, out: &Outbox) {
        self.guarded(out, |_| {
            out.send(Event::Devices(crate::device::available_devices(
                crate::engine::threads(),
            )));
        });
        loop {
            let busy = self.run.as_ref().is_some_and(|r| !r.paused)
                || self.training.as_ref().is_some_and(|t| !t.paused);
            let cmd = if let Some(c) = self.pending.pop_front() {
                Some(c)
            } else if busy {
                match commands.try_recv() {
                    Ok(c) => Some(c),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => return,
                }
            } else {
                match commands.recv() {
                    Ok(c) => Some(c),
                    Err(_) => return,
                }
            };
            let cmd = match cmd {
                Some(Command::PaintInstant(req)) => {
                    Some(Command::PaintInstant(self.newest_instant(req, commands)))
                }
                other => other,
            };
            let had_run = self.run.is_some();
            let had_training = self.training.is_some();
            let reloads = matches!(
                cmd,
                Some(Command::LoadNetwork(_) | Command::LoadSavedNetwork(_))
            );
            match cmd {
                Some(Command::Shutdown) => return,
                Some(cmd) => self.guarded(out, |e| e.handle(cmd, out)),
                None if self.run.as_ref().is_some_and(|r| !r.paused) => {
                    self.guarded(out, |e| e.step(out));
                }
                None => self.step_training(out),
            }
            if (had_run && self.run.is_none())
                || (had_training && self.training.is_none())
                || reloads
            {
                // What the run (or the old network) used goes back to the system.
                crate::engine::release_memory();
            }
        }
    }

    fn guarded(&mut self, out: &Outbox, f: impl FnOnce(&mut Self)) {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| f(self))) {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            out.send(Event::Error {
                message: format!(
                    "the engine crashed ({what}). Your images and settings are kept: press Start to try again, and report the bug if it repeats."
                ),
            });
            let iteration = self.run.take().map_or(0, |r| r.schedule.iteration());
            out.send(Event::Finished {
                iteration,
                reason: FinishReason::Failed,
            });
        }
    }

    fn handle(&mut self, cmd: Command, out: &Outbox) {
        match cmd {
            Command::LoadNetwork(path) => {
                // A named file is that file or an error; none: the search, in our surroundings.
                let found = match path {
                    Some(p) => Ok((p, None)),
                    None => weights::locate_in(&self.search.env()).map(|i| (i.path, None)),
                };
                self.load_weights(found, out);
            }
            Command::LoadSavedNetwork(path) => {
                let found = weights::locate_saved_in(&path, &self.search.env())
                    .map(|l| (l.info.path, l.note));
                self.load_weights(found, out);
            }
            Command::Start(req) => {
                self.stop(out);
                self.pause_training_for_paint(out);
                self.start(*req, out);
            }
            Command::Pause => {
                if let Some(run) = self.run.as_mut().filter(|r| !r.paused) {
                    run.paused = true;
                    out.send(Event::Paused);
                }
            }
            Command::Resume => {
                if self.run.as_ref().is_some_and(|r| r.paused) {
                    self.pause_training_for_paint(out);
                }
                if let Some(run) = self.run.as_mut().filter(|r| r.paused) {
                    run.paused = false;
                    out.send(Event::Resumed);
                }
            }
            Command::SetLossWeights(weights) => {
                if let Some(run) = self.run.as_mut() {
                    if let Err(e) = run.schedule.set_weights(weights) {
                        out.send(Event::Error {
                            message: format!("{e}. The run goes on with the previous weights."),
                        });
                    }
                }
            }
            Command::Stop => self.stop(out),
            Command::PaintInstant(req) => self.paint_instant(&req, out),
            Command::ListBrushes => {
                out.send(Event::Brushes(
                    self.instant.brushes(self.brushes_dir.clone()),
                ));
            }
            Command::InstantThumbnails { sample, size } => {
                match self.instant.thumbnails(&sample, size) {
                    Ok(t) => out.send(Event::InstantThumbnails(t)),
                    Err(e) => out.send(Event::InstantFailed {
                        id: 0,
                        message: format!("the style palette couldn't be drawn: {e}"),
                    }),
                }
            }
            cmd @ (Command::StartTraining(_)
            | Command::PauseTraining
            | Command::ResumeTraining
            | Command::StopTraining
            | Command::SetTrainingPreview { .. }) => self.handle_training(cmd, out),
            // `Worker::send` handles these on the caller's thread; they never get here.
            Command::DownloadWeights(_) | Command::CancelDownload => {}
            Command::Shutdown => {}
        }
    }

    /// `first` or, if newer `Instant` commands are already queued, the last of them: the
    /// others are stale. Other commands read on the way wait in `pending`, in order.
    fn newest_instant(
        &mut self,
        first: Box<InstantRequest>,
        commands: &Receiver<Command>,
    ) -> Box<InstantRequest> {
        let mut newest = first;
        let mut rest = std::mem::take(&mut self.pending);
        while let Ok(c) = commands.try_recv() {
            rest.push_back(c);
        }
        self.pending = rest
            .into_iter()
            .filter_map(|c| match c {
                Command::PaintInstant(r) => {
                    newest = r;
                    None
                }
                c => Some(c),
            })
            .collect();
        newest
    }

    /// Paints one instant picture; a run in progress simply waits for it.
    fn paint_instant(&mut self, req: &InstantRequest, out: &Outbox) {
        let t0 = Instant::now();
        let (w, h) = req.content.dimensions();
        let fits =
            crate::engine::instant::check_memory(w, h, req.size, None, memory::available_bytes());
        match fits.and_then(|_| self.instant.render(req)) {
            Ok(image) => out.send(Event::InstantReady {
                id: req.id,
                image: Arc::new(image),
                millis: t0.elapsed().as_millis() as u64,
            }),
            Err(e) => out.send(Event::InstantFailed {
                id: req.id,
                message: e.to_string(),
            }),
        }
    }

    /// Replaces the network with the one in the file found, or says why there is none.
    fn load_weights(
        &mut self,
        found: Result<(PathBuf, Option<String>), WeightsError>,
        out: &Outbox,
    ) {
        self.network = None;
        let loaded = found.map_err(|e| e.to_string()).and_then(|(path, note)| {
            let settings = Settings {
                weights_path: Some(path),
                ..Settings::default()
            };
            self.load_network(&settings, note, out)
        });
        if let Err(message) = loaded {
            out.send(Event::WeightsMissing { message });
        }
    }

    /// Loads the network the settings ask for, unless it is already loaded.
    fn ensure_network(&mut self, s: &Settings, out: &Outbox) -> Result<(), String> {
        self.load_network(s, None, out)
    }

    /// `ensure_network`; `note` goes into `WeightsLoaded` (how the file was found).
    fn load_network(
        &mut self,
        s: &Settings,
        note: Option<String>,
        out: &Outbox,
    ) -> Result<(), String> {
        let key = NetworkKey {
            weights: s.weights_path.clone(),
            device: s.device,
            preprocess: s.preprocess,
        };
        if self.network.as_ref().is_some_and(|(k, _)| *k == key) {
            return Ok(());
        }
        crate::engine::set_threads(s.threads);
        let net = Network::load(s).map_err(|e| e.to_string())?;
        let info = NetworkInfo {
            arch: net.vgg.arch().name().into(),
            path: net.vgg.path().to_path_buf(),
            layers: net.vgg.relu_names(),
            device: net.device.label.clone(),
            note,
        };
        if let Some(note) = &net.device.fallback_note {
            out.send(Event::Error {
                message: format!("GPU not used: {note}"),
            });
        }
        self.network = Some((key, net));
        out.send(Event::WeightsLoaded(info));
        Ok(())
    }

    fn stop(&mut self, out: &Outbox) {
        if let Some(run) = self.run.take() {
            out.send(Event::Finished {
                iteration: run.schedule.iteration(),
                reason: FinishReason::Stopped,
            });
        }
    }

    fn fail(&mut self, out: &Outbox, message: String, iteration: u32) {
        out.send(Event::Error { message });
        out.send(Event::Finished {
            iteration,
            reason: FinishReason::Failed,
        });
    }

    fn start(&mut self, req: RunRequest, out: &Outbox) {
        let s = &req.settings;
        // Where a run's settings enter the engine: checked here, once, and trusted after.
        if let Err(e) = s.validate() {
            return self.fail(out, e, 0);
        }
        if let Err(message) = self.ensure_network(s, out) {
            out.send(Event::WeightsMissing {
                message: message.clone(),
            });
            return self.fail(out, message, 0);
        }
        let Some((_, net)) = &self.network else {
            return self.fail(out, "no network is loaded".into(), 0);
        };
        if req.extra_styles.len() != s.extra_styles.len() {
            return self.fail(
                out,
                format!(
                    "the run has {} extra style images but the settings list {}; add or remove styles again",
                    req.extra_styles.len(),
                    s.extra_styles.len()
                ),
                0,
            );
        }
        let mut styles = vec![(req.style.clone(), s.style_blend_weight)];
        styles.extend(
            req.extra_styles
                .iter()
                .cloned()
                .zip(s.extra_styles.iter().map(|r| r.weight)),
        );
        let images = RunImages {
            content: req.content.clone(),
            styles,
            mask: req.mask.clone(),
        };
        let instant = match (s.init, &req.init_image) {
            (crate::settings::InitKind::Instant, None) => match self.instant.arbitrary() {
                Ok(net) => Some(net),
                Err(e) => return self.fail(out, e.to_string(), 0),
            },
            _ => None,
        };
        let start = Start {
            picture: req.init_image.as_deref(),
            instant,
        };
        let config = TransferConfig::from(s);
        let prepared = crate::engine::prepare(
            net.vgg.clone(),
            &config,
            images,
            start,
            memory::available_bytes(),
        );
        let schedule = match prepared {
            Ok(p) => p.schedule,
            Err(e) => return self.fail(out, e.to_string(), 0),
        };
        let iterations = schedule.total_iterations();
        let (width, height) = schedule.final_dimensions();
        out.send(Event::Started {
            width,
            height,
            iterations,
        });
        if let Ok(image) = schedule.image() {
            out.frames.put(Frame {
                iteration: 0,
                image: Arc::new(image),
            });
            out.send(Event::FrameReady { iteration: 0 });
        }
        self.run = Some(Run {
            schedule,
            iterations,
            paused: false,
        });
    }

    fn step(&mut self, out: &Outbox) {
        let Some(run) = self.run.as_mut() else {
            return;
        };
        match run.schedule.step() {
            Ok(report) => {
                let iteration = report.iteration;
                out.send(Event::Progress(Progress {
                    iteration,
                    iterations: run.iterations,
                    evaluations: report.evaluations,
                    losses: report.losses,
                    seconds_per_iteration: run.schedule.seconds_per_iteration().unwrap_or(0.0),
                    seconds_left: run.schedule.seconds_left().unwrap_or(0.0),
                    stage: report.stage,
                    stages: run.schedule.stage_count(),
                }));
                if let Ok(image) = run.schedule.image() {
                    out.frames.put(Frame {
                        iteration,
                        image: Arc::new(image),
                    });
                    out.send(Event::FrameReady { iteration });
                }
                if report.done {
                    self.run = None;
                    out.send(Event::Finished {
                        iteration,
                        reason: FinishReason::Completed,
                    });
                }
            }
            Err(e) => {
                let iteration = run.schedule.iteration();
                self.run = None;
                self.fail(out, e.to_string(), iteration);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    /// The UI thread used to probe the GPUs itself at start (a CUDA driver can take seconds).
    #[test]
    fn the_worker_reports_the_devices_first() {
        let worker = Worker::spawn(Box::new(|| {}));
        let t0 = Instant::now();
        let first = loop {
            if let Some(e) = worker.try_recv() {
                break e;
            }
            assert!(t0.elapsed() < Duration::from_secs(30), "no event");
            std::thread::sleep(Duration::from_millis(2));
        };
        let Event::Devices(list) = first else {
            panic!("first event: {first:?}");
        };
        assert!(list
            .iter()
            .any(|(d, usable, _)| *d == crate::settings::DeviceChoice::Cpu && *usable));
    }

    /// The UI used to wait forever on a worker thread that had died: its channels never
    /// disconnect. A notify that panics kills the thread from outside the engine's guard.
    #[test]
    fn a_dead_worker_thread_is_noticed() {
        let die = Arc::new(AtomicBool::new(false));
        let flag = die.clone();
        let worker = Worker::spawn(Box::new(move || {
            if flag.load(Ordering::Relaxed) {
                panic!("notify bug");
            }
        }));
        assert!(worker.is_alive());
        die.store(true, Ordering::Relaxed);
        worker.send(Command::LoadNetwork(Some(
            "/no/such/weights.safetensors".into(),
        )));
        let t0 = Instant::now();
        while worker.is_alive() {
            assert!(t0.elapsed() < Duration::from_secs(30), "still alive");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
