//! `StudioApp`: owns the worker handle and the UI state, drains worker events without ever
//! blocking, and lays out the window (inputs left, preview centre, status and loss curve below).

use super::controls;
use super::dialogs::{self, Outcome, PendingDialog, Purpose};
use super::export::{self, Export};
use super::history::{self, History, HistoryAction, SnapshotKind};
use super::image_slot::{self, ImageSlot, Loader, SlotAction, SlotExtras, SlotKind, Source};
use super::instant::{self, InstantPanel};
use super::loss_plot;
use super::memory::FreeMemory;
use super::network::{self, DownloadState, NetworkAction, NetworkPanel, NetworkState};
use super::notices::{Level, Notice, Notices, Topic};
use super::persist::{self, Persisted, UiPrefs};
use super::presets;
use super::preview::{CanvasInputs, CompareMode, Preview};
use super::run_plan;
use super::run_state::{format_duration, RunPhase, RunStatus};
use super::theme;
use super::{StudioOptions, APP_NAME};
use crate::device;
use crate::engine::arch::Arch;
use crate::settings::{DeviceChoice, LossWeights, Settings, StyleRef};
use crate::weights::Model;
use crate::worker::{
    Command, DownloadOutcome, Event, FinishReason, Frame, NetworkInfo, RunRequest, Worker,
    WorkerConfig,
};
use egui::{Color32, Key, Modifiers, RichText};
use image::{GrayImage, RgbImage};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Sample pair loaded on first launch so Start works at once.
const SAMPLE_CONTENT: &str = "chelsea.png";
const SAMPLE_STYLE: &str = "starry_night.jpg";
/// Events handled per frame at most, so a flood can't stall input handling.
const MAX_EVENTS_PER_FRAME: usize = 4096;

/// What a run was started with, to tell which later edits need a restart.
struct RunSnapshot {
    request: RunRequest,
    network_generation: u64,
}

/// One more style slot and its blend weight.
struct ExtraStyleSlot {
    slot: ImageSlot,
    weight: f32,
    /// Came from saved or restored settings: if its file is gone, the slot goes too.
    restored: bool,
}

/// The settings-file area: a drop zone and a path field for Atelier PNGs and presets.
#[derive(Default)]
struct SettingsFile {
    path_text: String,
    rect: Option<egui::Rect>,
}

/// The studio window's state. Everything is plain data; the accessors exist for tests and for
/// the main crate's integration.
pub struct StudioApp {
    options: StudioOptions,
    /// `ATELIER_FRAME_LOG=path`: each frame's CPU time, for measuring UI responsiveness under load.
    frame_log: Option<std::fs::File>,
    /// `ATELIER_RUN_LOG=path`: a line per run event (start, progress with the ETA, finish), with
    /// seconds since the studio opened, for timing Start → done and checking the ETA.
    run_log: Option<(std::fs::File, std::time::Instant)>,
    worker: Worker,
    settings: Settings,
    prefs: UiPrefs,
    content: ImageSlot,
    style: ImageSlot,
    extras: Vec<ExtraStyleSlot>,
    mask: ImageSlot,
    /// The mask as the worker wants it, converted once per load.
    mask_gray: Option<Arc<GrayImage>>,
    loader: Loader,
    network: NetworkPanel,
    status: RunStatus,
    run: Option<RunSnapshot>,
    /// Loss weights the worker currently has; differences are sent live.
    sent_weights: Option<LossWeights>,
    preview: Preview,
    history: History,
    /// After a restore mid-run: the stopping run's last frames must not replace the picture.
    ignore_frames: bool,
    settings_file: SettingsFile,
    /// A settings file to open on the first frame.
    pending_settings: Option<PathBuf>,
    free_memory: FreeMemory,
    export: Export,
    notices: Notices,
    dialog: Option<PendingDialog>,
    devices: Vec<(DeviceChoice, bool, String)>,
    samples: Vec<PathBuf>,
    title: String,
    autostart: bool,
    files_hovering: bool,
    drop_target: Option<SlotKind>,
    /// Files hover over the settings-file area.
    settings_drop_hover: bool,
    /// Hold-to-compare is active this frame.
    peek: bool,
    /// The app icon, shown small in the toolbar.
    brand: Option<egui::TextureHandle>,
    /// Instant mode: the right-hand panel and its state.
    instant: InstantPanel,
    /// When workers died lately (see `replace_dead_worker`).
    worker_deaths: Vec<std::time::Instant>,
    worker_gave_up: bool,
    /// The first load of the network has answered (the first launch's mode depends on it).
    first_network_answer_seen: bool,
}

impl StudioApp {
    pub fn new(cc: &eframe::CreationContext<'_>, options: StudioOptions) -> Self {
        let ctx = cc.egui_ctx.clone();
        theme::apply(&ctx);
        let restored = if options.persist {
            persist::load(cc.storage)
        } else {
            None
        };
        let Persisted { settings, prefs } = restored.unwrap_or_default();

        let worker = spawn_worker(&ctx, &options);
        // `--weights` is that file or "missing"; the file remembered from last time may be gone
        // (moved, cache cleared), and then the worker searches as if none were saved.
        let weights = options
            .weights
            .clone()
            .or_else(|| settings.weights_path.clone());
        worker.send(match (&options.weights, &settings.weights_path) {
            (None, Some(saved)) => Command::LoadSavedNetwork(saved.clone()),
            _ => Command::LoadNetwork(weights.clone()),
        });

        let samples = list_samples(&options.assets_dir);
        let mut app = Self {
            frame_log: std::env::var_os("ATELIER_FRAME_LOG")
                .and_then(|p| std::fs::File::create(p).ok()),
            run_log: std::env::var_os("ATELIER_RUN_LOG")
                .and_then(|p| std::fs::File::create(p).ok())
                .map(|f| (f, std::time::Instant::now())),
            worker,
            settings,
            content: ImageSlot::new(SlotKind::Content),
            style: ImageSlot::new(SlotKind::Style),
            extras: Vec::new(),
            mask: ImageSlot::new(SlotKind::Mask),
            mask_gray: None,
            loader: Loader::default(),
            network: NetworkPanel::new(),
            status: RunStatus::default(),
            run: None,
            sent_weights: None,
            preview: Preview::default(),
            history: History::default(),
            ignore_frames: false,
            settings_file: SettingsFile::default(),
            pending_settings: None,
            free_memory: FreeMemory::default(),
            export: Export::default(),
            notices: Notices::default(),
            dialog: None,
            // The worker probes the GPUs (Event::Devices); the UI thread never does.
            devices: device::unprobed_devices(crate::engine::threads()),
            samples,
            title: String::new(),
            autostart: false,
            files_hovering: false,
            drop_target: None,
            settings_drop_hover: false,
            peek: false,
            brand: brand_texture(&ctx),
            instant: InstantPanel::new(&options.assets_dir),
            worker_deaths: Vec::new(),
            worker_gave_up: false,
            first_network_answer_seen: false,
            prefs,
            options,
        };
        if let Some(w) = &weights {
            app.network.path_text = w.display().to_string();
        }
        app.preview.compare = app.prefs.compare;
        app.export.dir = app.prefs.export_dir.clone();

        // Saved images first; the sample pair fills empty slots and replaces vanished files.
        let sample = |name: &str| {
            let p = app.options.assets_dir.join("samples").join(name);
            p.is_file().then_some(p)
        };
        let (sample_content, sample_style) = (sample(SAMPLE_CONTENT), sample(SAMPLE_STYLE));
        if sample_content.is_none() || sample_style.is_none() {
            app.notices.push(
                Level::Warning,
                Topic::Samples,
                format!(
                    "Sample images not found in {}. Drop a photo on Content and a painting on Style to begin.",
                    app.options.assets_dir.join("samples").display()
                ),
            );
        }
        for (kind, saved, fallback) in [
            (
                SlotKind::Content,
                app.settings.content.clone(),
                sample_content,
            ),
            (SlotKind::Style, app.settings.style.clone(), sample_style),
        ] {
            let first = saved.clone().or_else(|| fallback.clone());
            let slot = match kind {
                SlotKind::Content => &mut app.content,
                _ => &mut app.style,
            };
            if saved.is_some() {
                slot.fallback = fallback;
            }
            if let Some(p) = first {
                app.loader.request(slot, Source::Path(p), &ctx);
            }
        }
        // Extra styles and the mask come back from the saved settings; the slots fill the
        // settings in again as their images load.
        let saved = app.settings.clone();
        app.set_extra_styles(&saved.extra_styles, &ctx);
        app.settings.extra_styles.clear();
        app.settings.mask = None;
        if let Some(p) = saved.mask {
            app.load_image(SlotKind::Mask, Source::Path(p), &ctx);
        }
        app
    }

    /// Press Start by itself once images and weights are ready (screenshots, demos).
    pub fn autostart(mut self, on: bool) -> Self {
        self.autostart = on;
        self
    }

    /// Restore the settings of an Atelier PNG or a preset as the window opens (demos).
    pub fn open_settings(mut self, path: Option<PathBuf>) -> Self {
        self.pending_settings = path;
        self
    }

    // ----- read-only view for tests and embedding -------------------------------------------

    /// The settings the next Start will use.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn status(&self) -> &RunStatus {
        &self.status
    }

    pub fn image_path(&self, kind: SlotKind) -> Option<&Path> {
        self.slot(kind)?.path.as_deref()
    }

    /// Width and height of the loaded image.
    pub fn image_size(&self, kind: SlotKind) -> Option<(u32, u32)> {
        self.slot(kind)?.image.as_ref().map(|i| i.dimensions())
    }

    pub fn is_loading(&self, kind: SlotKind) -> bool {
        self.slot(kind).is_some_and(|s| s.loading.is_some())
    }

    /// How many extra style slots there are (loaded or not).
    pub fn extra_style_slots(&self) -> usize {
        self.extras.len()
    }

    /// What the last Start sent to the worker (while that run is the current one).
    pub fn last_run_request(&self) -> Option<&RunRequest> {
        self.run.as_ref().map(|r| &r.request)
    }

    /// The history strip, oldest first: (snapshot number, iteration).
    pub fn snapshots(&self) -> Vec<(u64, u32)> {
        self.history.items().map(|s| (s.id, s.iteration)).collect()
    }

    /// The snapshot shown left of the divider, if one is being compared.
    pub fn comparing_snapshot(&self) -> Option<u64> {
        self.history.comparing()
    }

    pub fn network(&self) -> Option<&NetworkInfo> {
        self.network.info()
    }

    /// The worker's "weights missing" message, if that is the state.
    pub fn weights_missing(&self) -> Option<&str> {
        match &self.network.state {
            NetworkState::Missing(m) => Some(m),
            _ => None,
        }
    }

    /// The weights download in progress, if any.
    pub fn download(&self) -> Option<&DownloadState> {
        self.network.download.as_ref()
    }

    /// Iteration of the frame on screen.
    pub fn preview_iteration(&self) -> Option<u32> {
        self.preview.frame.as_ref().map(|f| f.iteration)
    }

    /// How many frames were uploaded to the preview texture.
    pub fn frames_shown(&self) -> u32 {
        self.preview.uploads
    }

    pub fn notices(&self) -> &[Notice] {
        self.notices.items()
    }

    /// What the artist changed that only a restart applies ("output size", "seed", …).
    pub fn restart_reasons(&self) -> Vec<&'static str> {
        let Some(run) = self.run.as_ref().filter(|_| self.status.is_active()) else {
            return Vec::new();
        };
        let now = run_plan::Current {
            content: self.content.image.as_ref(),
            style: self.style.image.as_ref(),
            extras: self.loaded_extras(),
            mask: self.mask_gray.as_ref(),
            settings: &self.settings,
            network_generation: self.network.generation,
        };
        run_plan::restart_reasons(&run.request, run.network_generation, &now)
    }

    pub fn window_title(&self) -> &str {
        &self.title
    }

    pub fn last_export(&self) -> Option<&Path> {
        self.export.last_saved.as_deref()
    }

    /// The slot that would receive files hovering over the window now.
    pub fn drop_target(&self) -> Option<SlotKind> {
        self.drop_target
    }

    pub fn compare_mode(&self) -> CompareMode {
        self.preview.compare
    }

    /// Why Start is unavailable, in words for its tooltip.
    pub fn start_blocker(&self) -> Option<String> {
        run_plan::start_blocker(&self.readiness())
    }

    /// What Start depends on, for [`run_plan`]'s rules.
    fn readiness(&self) -> run_plan::Readiness<'_> {
        let view = |s: &ImageSlot| run_plan::SlotView {
            label: s.kind.label(),
            loading: s.loading.is_some(),
            loaded: s.image.is_some(),
        };
        run_plan::Readiness {
            content: view(&self.content),
            style: view(&self.style),
            extras: self.extras.iter().map(|e| view(&e.slot)).collect(),
            mask: view(&self.mask),
            content_size: self.content.image.as_ref().map(|i| i.dimensions()),
            network: match &self.network.state {
                NetworkState::Loading => run_plan::NetworkView::Loading,
                NetworkState::Missing(_) => run_plan::NetworkView::Missing,
                NetworkState::Loaded(info) => {
                    run_plan::NetworkView::Loaded(Arch::from_name(&info.arch))
                }
            },
            devices: &self.devices,
            settings: &self.settings,
            free_memory: self.free_memory.bytes(),
        }
    }

    // ----- actions ---------------------------------------------------------------------------

    // ----- instant mode (see instant.rs) ------------------------------------------------------

    /// The instant picture last received, if any.
    pub fn instant_image(&self) -> Option<&Arc<RgbImage>> {
        self.instant.image.as_ref()
    }

    /// Whether the preview is in Instant mode.
    pub fn instant_mode(&self) -> bool {
        self.instant.mode == instant::Mode::Instant
    }

    /// Change-to-picture time of the last instant answer.
    pub fn instant_latency(&self) -> Option<std::time::Duration> {
        self.instant.latency
    }

    /// The instant panel's message (assets missing…), if any.
    pub fn instant_error(&self) -> Option<&str> {
        self.instant.error.as_deref()
    }

    /// Longest side of instant pictures (tests use small ones).
    pub fn set_instant_size(&mut self, size: u32) {
        self.instant.size = size;
    }

    /// Draws the Instant panel at the right, acts on it, and asks for a new picture if needed.
    fn instant_panel(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        let can_refine = self.start_blocker().is_none();
        let action = egui::Panel::right("instant")
            .resizable(false)
            .default_size(292.0)
            .frame(theme::panel_frame(ui.style(), 12, 10))
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .auto_shrink([false, false])
                    .show(ui, |ui| self.instant.ui(ui, can_refine))
                    .inner
            })
            .inner;
        match action {
            Some(instant::Action::ModeChanged) => self.show_mode(&ctx),
            Some(instant::Action::Refine) => {
                self.instant.prepare_refine();
                self.settings.init = crate::settings::InitKind::Instant;
                self.start();
                // A blocked start must not leave the picture for a later plain Start.
                let _ = self.instant.take_init();
            }
            None => {}
        }
        self.instant.sync(
            self.content.image.as_ref(),
            self.style.image.as_ref(),
            &self.worker,
        );
    }

    /// Puts the current mode's picture in the preview.
    fn show_mode(&mut self, ctx: &egui::Context) {
        if self.instant.holds_frames() {
            if let Some(image) = self.instant.image.clone() {
                self.show_instant_picture(ctx, image);
            }
        } else if let Some(frame) = self.instant.held_frame.take() {
            self.preview.set_frame(ctx, frame);
        }
    }

    /// Shows an instant picture in the preview, as the frame before any iteration.
    fn show_instant_picture(&mut self, ctx: &egui::Context, image: Arc<RgbImage>) {
        self.preview.set_frame(
            ctx,
            crate::worker::Frame {
                iteration: 0,
                image,
            },
        );
    }

    fn slot(&self, kind: SlotKind) -> Option<&ImageSlot> {
        match kind {
            SlotKind::Content => Some(&self.content),
            SlotKind::Style => Some(&self.style),
            SlotKind::ExtraStyle(i) => self.extras.get(i).map(|e| &e.slot),
            SlotKind::Mask => Some(&self.mask),
        }
    }

    fn slot_mut(&mut self, kind: SlotKind) -> Option<&mut ImageSlot> {
        match kind {
            SlotKind::Content => Some(&mut self.content),
            SlotKind::Style => Some(&mut self.style),
            SlotKind::ExtraStyle(i) => self.extras.get_mut(i).map(|e| &mut e.slot),
            SlotKind::Mask => Some(&mut self.mask),
        }
    }

    /// Every slot with its kind and where it was drawn, for drop targeting.
    fn slot_rects(&self) -> Vec<(SlotKind, Option<egui::Rect>)> {
        [&self.content, &self.style]
            .into_iter()
            .chain(self.extras.iter().map(|e| &e.slot))
            .chain([&self.mask])
            .map(|s| (s.kind, s.rect))
            .collect()
    }

    fn load_image(&mut self, kind: SlotKind, source: Source, ctx: &egui::Context) {
        let slot = match kind {
            SlotKind::Content => &mut self.content,
            SlotKind::Style => &mut self.style,
            SlotKind::ExtraStyle(i) => match self.extras.get_mut(i) {
                Some(e) => &mut e.slot,
                None => return, // removed while a file dialog was open
            },
            SlotKind::Mask => &mut self.mask,
        };
        self.loader.request(slot, source, ctx);
    }

    /// The decoded extra styles, in the order of `settings.extra_styles`.
    fn loaded_extras(&self) -> Vec<Arc<RgbImage>> {
        self.extras
            .iter()
            .filter_map(|e| e.slot.image.clone())
            .collect()
    }

    /// `settings.extra_styles` from the extra slots that hold an image, in order.
    fn sync_extras(&mut self) {
        self.settings.extra_styles = self
            .extras
            .iter()
            .filter(|e| e.slot.image.is_some())
            .map(|e| StyleRef {
                path: e.slot.path.clone().unwrap_or_else(|| {
                    PathBuf::from(e.slot.name.clone().unwrap_or_else(|| "dropped file".into()))
                }),
                weight: e.weight,
            })
            .collect();
    }

    fn add_style_slot(&mut self) -> SlotKind {
        let kind = SlotKind::ExtraStyle(self.extras.len());
        self.extras.push(ExtraStyleSlot {
            slot: ImageSlot::new(kind),
            weight: 1.0,
            restored: false,
        });
        kind
    }

    fn remove_style_slot(&mut self, index: usize) {
        if index < self.extras.len() {
            let removed = self.extras.remove(index);
            self.notices.clear_title(removed.slot.kind.notice_title());
            for (i, e) in self.extras.iter_mut().enumerate() {
                e.slot.kind = SlotKind::ExtraStyle(i);
            }
            self.sync_extras();
        }
    }

    /// Replaces the extra style slots by `refs`, keeping slots that already hold the same file
    /// and loading the others; files that don't exist are skipped and returned.
    fn set_extra_styles(&mut self, refs: &[StyleRef], ctx: &egui::Context) -> Vec<PathBuf> {
        let mut old = std::mem::take(&mut self.extras);
        let mut missing = Vec::new();
        for r in refs {
            let kind = SlotKind::ExtraStyle(self.extras.len());
            if let Some(pos) = old
                .iter()
                .position(|e| e.slot.path.as_ref() == Some(&r.path))
            {
                let mut e = old.remove(pos);
                e.slot.kind = kind;
                e.weight = r.weight;
                self.extras.push(e);
            } else if r.path.is_file() {
                self.extras.push(ExtraStyleSlot {
                    slot: ImageSlot::new(kind),
                    weight: r.weight,
                    restored: true,
                });
                self.load_image(kind, Source::Path(r.path.clone()), ctx);
            } else {
                missing.push(r.path.clone());
            }
        }
        self.sync_extras();
        missing
    }

    /// Takes settings from a PNG, a preset or a snapshot. The machine's own choices (weights
    /// file, device, threads) stay; images load from their paths, and files that aren't on this
    /// computer keep the current image (listed in a notice).
    fn adopt_settings(&mut self, mut s: Settings, source: &str, ctx: &egui::Context) {
        s.weights_path = self.settings.weights_path.clone();
        s.device = self.settings.device;
        s.threads = self.settings.threads;
        let mut missing = Vec::new();
        for (kind, want) in [
            (SlotKind::Content, s.content.take()),
            (SlotKind::Style, s.style.take()),
        ] {
            let Some(p) = want else { continue };
            if self.image_path(kind) == Some(p.as_path()) {
                continue;
            }
            if p.is_file() {
                self.load_image(kind, Source::Path(p), ctx);
            } else {
                missing.push(p);
            }
        }
        s.content = self.content.path.clone();
        s.style = self.style.path.clone();
        let extras = std::mem::take(&mut s.extra_styles);
        match s.mask.take() {
            Some(p) if self.mask.path.as_ref() == Some(&p) => {}
            Some(p) if p.is_file() => self.load_image(SlotKind::Mask, Source::Path(p), ctx),
            Some(p) => missing.push(p),
            None => {
                self.mask.clear();
                self.mask_gray = None;
            }
        }
        s.mask = self.mask.path.clone().filter(|_| self.mask.image.is_some());
        self.settings = s;
        missing.extend(self.set_extra_styles(&extras, ctx));
        if missing.is_empty() {
            self.notices.clear_title(Topic::Settings);
            self.notices
                .info(Topic::Settings, format!("Settings restored from {source}."));
        } else {
            let list: Vec<String> = missing.iter().map(|p| p.display().to_string()).collect();
            self.notices.push(
                Level::Warning,
                Topic::Settings,
                format!(
                    "Settings restored from {source}, but these images are not on this computer, \
                     so the current ones stay: {}. Load them by hand if you have them elsewhere.",
                    list.join(", ")
                ),
            );
        }
    }

    /// Open settings from an Atelier PNG or a JSON preset.
    fn load_settings_file(&mut self, path: &Path, ctx: &egui::Context) {
        match presets::read_settings_file(path) {
            Ok(s) => {
                self.settings_file.path_text = path.display().to_string();
                let name = path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                self.adopt_settings(s, &name, ctx);
            }
            Err(e) => self.notices.error(Topic::Settings, e),
        }
    }

    /// `confirmed`: the artist chose this name in the save dialog, which asked before replacing.
    fn save_preset(&mut self, path: &Path, confirmed: bool) {
        let mut s = self.settings.clone();
        s.weights_path = None; // presets travel between machines
        match presets::write_preset(path, &s, confirmed) {
            Ok(written) => {
                self.settings_file.path_text = written.path.display().to_string();
                self.notices.clear_title(Topic::Settings);
                let note = written.instead_of.map_or(String::new(), |p| {
                    format!(
                        " ({} exists and was kept)",
                        p.file_name().map_or_else(
                            || p.display().to_string(),
                            |n| n.to_string_lossy().into_owned()
                        )
                    )
                });
                self.notices.info(
                    Topic::Settings,
                    format!("Preset saved to {}{note}", written.path.display()),
                );
            }
            Err(e) => self.notices.error(Topic::Settings, e),
        }
    }

    fn start(&mut self) {
        if let Some(why) = self.start_blocker() {
            self.notices.error(Topic::CantStart, why);
            return;
        }
        self.log_run(format_args!("start"));
        let (Some(content), Some(style)) = (self.content.image.clone(), self.style.image.clone())
        else {
            return;
        };
        self.sync_extras();
        let mut settings = self.settings.clone();
        if let Some(info) = self.network.info() {
            settings.weights_path = Some(info.path.clone());
        }
        self.notices.clear_title(Topic::Run);
        self.notices.clear_title(Topic::CantStart);
        self.instant.leave_for_run();
        let request = RunRequest {
            settings: settings.clone(),
            init_image: self.instant.take_init(),
            content,
            style,
            extra_styles: self.loaded_extras(),
            mask: self.mask_gray.clone(),
        };
        debug_assert_eq!(request.extra_styles.len(), settings.extra_styles.len());
        self.worker.send(Command::Start(Box::new(request.clone())));
        self.status.begin(settings.iterations);
        self.sent_weights = Some(settings.weights.clone());
        self.ignore_frames = false;
        self.history.last_auto = 0;
        self.run = Some(RunSnapshot {
            request,
            network_generation: self.network.generation,
        });
    }

    fn toggle_pause(&mut self) {
        match self.status.phase {
            RunPhase::Running => self.worker.send(Command::Pause),
            RunPhase::Paused => self.worker.send(Command::Resume),
            _ => {}
        }
    }

    fn stop(&mut self) {
        if self.status.is_active() {
            self.worker.send(Command::Stop);
        }
    }

    fn load_weights(&mut self, path: PathBuf) {
        // The artist chose a file: a running download is no longer wanted (what arrived is kept).
        self.cancel_download();
        self.network.path_text = path.display().to_string();
        self.network.state = NetworkState::Loading;
        self.settings.weights_path = Some(path.clone());
        self.worker.send(Command::LoadNetwork(Some(path)));
    }

    fn open_dialog(&mut self, purpose: Purpose, ctx: &egui::Context) {
        if self.dialog.is_some() {
            return;
        }
        let (dir, name) = match purpose {
            Purpose::OpenImage(kind) => (
                self.slot(kind)
                    .and_then(|s| s.path.as_ref())
                    .or(self.style.path.as_ref())
                    .and_then(|p| p.parent().map(Path::to_path_buf)),
                None,
            ),
            Purpose::OpenWeights | Purpose::OpenSettings => (None, None),
            Purpose::SavePreset => (
                Some(self.export.dir.clone().unwrap_or_else(export::default_dir)),
                Some("atelier-preset.json".to_owned()),
            ),
            Purpose::ExportPng => (
                Some(self.export.dir.clone().unwrap_or_else(export::default_dir)),
                Some(self.export_name()),
            ),
        };
        match dialogs::spawn(purpose, dir, name, ctx) {
            Ok(d) => self.dialog = Some(d),
            Err(e) => self.notices.error(Topic::FileDialog, e),
        }
    }

    fn export_name(&self) -> String {
        let iteration = self.preview.frame.as_ref().map_or(0, |f| f.iteration);
        export::default_name(
            self.content.path.as_deref(),
            self.style.path.as_deref(),
            iteration,
        )
    }

    /// Writes the frame on screen with the settings that produced it.
    /// `confirmed`: chosen in the save dialog, which asked before replacing a file; otherwise an
    /// existing file is kept and the picture gets a fresh name.
    fn export_to(&mut self, path: PathBuf, confirmed: bool, ctx: &egui::Context) {
        let Some(frame) = self.preview.frame.clone() else {
            self.notices.error(
                Topic::Export,
                "Nothing to export yet: press Start and wait for the first frame.",
            );
            return;
        };
        if self.export.is_busy() {
            return;
        }
        let mut settings = self.frame_settings();
        // The saved settings reproduce this very frame.
        settings.iterations = frame.iteration;
        if let Err(e) = self
            .export
            .start(path, frame.image, settings, confirmed, ctx)
        {
            self.notices.error(Topic::Export, e);
        }
    }

    /// The settings that painted the frame on screen: the run's, with live weight changes.
    fn frame_settings(&self) -> Settings {
        let mut settings = self
            .run
            .as_ref()
            .map_or_else(|| self.settings.clone(), |r| r.request.settings.clone());
        if let Some(w) = self.sent_weights.as_ref().filter(|_| self.run.is_some()) {
            settings.weights = w.clone();
        }
        settings
    }

    fn take_snapshot(&mut self, kind: SnapshotKind, ctx: &egui::Context) {
        if let Some(frame) = self.preview.frame.clone() {
            let settings = self.frame_settings();
            self.history
                .push(ctx, frame.image, frame.iteration, settings, kind);
        }
    }

    fn history_action(&mut self, action: HistoryAction, ctx: &egui::Context) {
        match action {
            HistoryAction::Take => self.take_snapshot(SnapshotKind::Manual, ctx),
            HistoryAction::Compare(id) => self.history.toggle_compare(ctx, id),
            HistoryAction::Restore(id) => self.restore_snapshot(id, ctx),
        }
    }

    /// The snapshot's picture back in the preview and its settings back in the controls; a
    /// running run stops (its last frames are ignored).
    fn restore_snapshot(&mut self, id: u64, ctx: &egui::Context) {
        let Some(snap) = self.history.get(id) else {
            return;
        };
        let (image, iteration, settings) =
            (snap.image.clone(), snap.iteration, snap.settings.clone());
        if self.status.is_active() {
            self.worker.send(Command::Stop);
            self.ignore_frames = true;
        }
        self.history.stop_comparing();
        self.preview.set_frame(ctx, Frame { iteration, image });
        // Exports now describe the restored picture, not the last run.
        self.run = None;
        self.sent_weights = None;
        self.adopt_settings(
            settings,
            &format!("snapshot {id} (iteration {iteration})"),
            ctx,
        );
    }

    fn network_action(&mut self, action: NetworkAction, ctx: &egui::Context) {
        match action {
            NetworkAction::OpenDialog => self.open_dialog(Purpose::OpenWeights, ctx),
            NetworkAction::Load(p) => self.load_weights(p),
            NetworkAction::Download(model) => self.start_download(model),
            NetworkAction::CancelDownload => self.cancel_download(),
        }
    }

    fn start_download(&mut self, model: Model) {
        if self.network.download.is_some() {
            return;
        }
        self.notices.clear_title(Topic::Download);
        self.network.download = Some(DownloadState::new(model));
        self.worker.send(Command::DownloadWeights(model));
    }

    fn cancel_download(&mut self) {
        if let Some(d) = self.network.download.as_mut().filter(|d| !d.cancelling) {
            d.cancelling = true;
            self.worker.send(Command::CancelDownload);
        }
    }

    fn on_download_finished(&mut self, outcome: DownloadOutcome) {
        let download = self.network.download.take();
        let name = download
            .as_ref()
            .map_or(Model::default(), |d| d.model)
            .name()
            .to_uppercase();
        match outcome {
            DownloadOutcome::Done(path) => {
                // The worker loads it next; `WeightsLoaded` clears this notice.
                self.notices.info(
                    Topic::Download,
                    format!("Downloaded {}; loading it…", path.display()),
                );
                self.network.path_text = path.display().to_string();
                self.network.state = NetworkState::Loading;
                // Remembered like a chosen file, so the next launch finds it first.
                self.settings.weights_path = Some(path);
            }
            DownloadOutcome::Cancelled { .. } => {
                let kept = download.map_or(0, |d| d.received);
                self.notices.info(
                    Topic::Download,
                    format!(
                        "Download cancelled. The {} MB received are kept: Download {name} resumes from there.",
                        network::mb(kept)
                    ),
                );
            }
            DownloadOutcome::Failed { message } => {
                self.notices.error(
                    Topic::Download,
                    format!(
                        "{}. In Atelier: press Download {name} to try again (what arrived is kept), \
                         or choose a VGG16/VGG19 .safetensors file (the full model.safetensors \
                         works too) with Open weights file… or the path field.",
                        message.trim_end().trim_end_matches('.')
                    ),
                );
            }
        }
    }

    // ----- per-frame work ----------------------------------------------------------------------

    /// A fresh worker for one that died: the picture, history and settings live here and stay;
    /// a run in progress is marked failed, the network is loaded again, and instant requests
    /// are asked again. After three deaths in a minute it stops trying and says so.
    fn replace_dead_worker(&mut self, ctx: &egui::Context) {
        while let Some(event) = self.worker.try_recv() {
            self.on_event(event, ctx);
        }
        let now = std::time::Instant::now();
        self.worker_deaths
            .retain(|t| now.duration_since(*t) < std::time::Duration::from_secs(60));
        self.worker_deaths.push(now);
        let stopped = self.status.is_active().then_some(self.status.iteration);
        if let Some(iteration) = stopped {
            self.status.on_event(&Event::Finished {
                iteration,
                reason: FinishReason::Failed,
            });
        }
        let run = stopped.map_or(String::new(), |i| {
            format!(" The run stopped at iteration {i}; the picture on screen is kept.")
        });
        if self.worker_deaths.len() > 3 {
            self.notices.error(
                Topic::Run,
                format!(
                    "The compute thread keeps stopping unexpectedly.{run} Export what you want to \
                     keep, then restart Atelier, and please report the bug."
                ),
            );
            self.worker_gave_up = true;
            return;
        }
        self.worker = spawn_worker(ctx, &self.options);
        let weights = self
            .network
            .info()
            .map(|i| i.path.clone())
            .or_else(|| self.settings.weights_path.clone());
        self.network.state = NetworkState::Loading;
        self.worker.send(Command::LoadNetwork(weights));
        if self.network.download.take().is_some() {
            self.notices.error(
                Topic::Download,
                "The download stopped with the compute thread: press Download again, it resumes where it was.",
            );
        }
        self.instant.worker_restarted();
        self.notices.error(
            Topic::Run,
            format!(
                "The compute thread stopped unexpectedly and a fresh one was started.{run} Your \
                 images, history and settings are kept: press Start to go on."
            ),
        );
    }

    /// Ends the worker thread as a crash would (tests of [`Self::replace_dead_worker`]).
    #[doc(hidden)]
    pub fn end_worker_for_test(&self) {
        self.worker.send(Command::Shutdown);
    }

    /// Everything that arrives from other threads. Never blocks.
    fn pump(&mut self, ctx: &egui::Context) {
        if !self.worker_gave_up && !self.worker.is_alive() {
            self.replace_dead_worker(ctx);
        }
        if self.status.is_active() {
            // A worker that dies sends nothing: look again within a second while it should run.
            ctx.request_repaint_after(std::time::Duration::from_secs(1));
        }
        for _ in 0..MAX_EVENTS_PER_FRAME {
            let Some(event) = self.worker.try_recv() else {
                break;
            };
            self.on_event(event, ctx);
        }
        if let Some(frame) = self.worker.take_frame() {
            if self.instant.holds_frames() {
                self.instant.held_frame = Some(frame);
            } else if !self.ignore_frames {
                let iteration = frame.iteration;
                self.preview.set_frame(ctx, frame);
                if self.status.is_active()
                    && iteration >= self.history.last_auto + history::AUTO_EVERY
                {
                    self.history.last_auto = iteration;
                    self.take_snapshot(SnapshotKind::Auto, ctx);
                }
            }
        }
        if let Some(image) = self.instant.pump(ctx) {
            self.show_instant_picture(ctx, image);
        }
        while let Some(result) = self.loader.poll() {
            // Routed by request number: extra slots may have been renumbered meanwhile.
            let generation = result.generation;
            let Some(kind) = self
                .slot_rects()
                .into_iter()
                .map(|(k, _)| k)
                .find(|k| self.slot(*k).is_some_and(|s| s.awaits(generation)))
            else {
                continue; // superseded, or its slot was removed
            };
            let name = result.name.clone();
            let Some(slot) = self.slot_mut(kind) else {
                continue;
            };
            match slot.apply(result, ctx) {
                Ok(true) => {
                    let path = slot.path.clone();
                    match kind {
                        SlotKind::Content => self.settings.content = path,
                        SlotKind::Style => self.settings.style = path,
                        SlotKind::ExtraStyle(_) => self.sync_extras(),
                        SlotKind::Mask => {
                            self.mask_gray = self.mask.image.as_ref().map(|img| {
                                Arc::new(image::DynamicImage::ImageRgb8((**img).clone()).to_luma8())
                            });
                            self.settings.mask = path;
                        }
                    }
                    self.notices.clear_title(kind.notice_title());
                }
                Ok(false) => {}
                Err(e) => {
                    let kept = if slot.image.is_some() {
                        " The previous image is kept."
                    } else {
                        ""
                    };
                    let fallback = slot.fallback.take().filter(|_| slot.image.is_none());
                    let gone_extra = match kind {
                        SlotKind::ExtraStyle(i) => self
                            .extras
                            .get(i)
                            .filter(|e| e.restored && e.slot.image.is_none())
                            .map(|_| i),
                        _ => None,
                    };
                    if let Some(i) = gone_extra {
                        self.remove_style_slot(i);
                        self.notices.error(
                            Topic::LastSession,
                            format!("{name}: {e} That extra style was removed."),
                        );
                    } else if let Some(p) = fallback {
                        // Its own title, so loading the sample doesn't clear it.
                        self.notices.error(
                            Topic::LastSession,
                            format!(
                                "{name}: {e} The sample {} image is loaded instead.",
                                kind.label().to_lowercase()
                            ),
                        );
                        self.load_image(kind, Source::Path(p), ctx);
                    } else {
                        self.notices
                            .error(kind.notice_title(), format!("{name}: {e}{kept}"));
                    }
                }
            }
        }
        if let Some(outcome) = self.dialog.as_ref().and_then(PendingDialog::poll) {
            let purpose = self.dialog.take().map(|d| d.purpose);
            if let Some(purpose) = purpose {
                self.on_dialog(purpose, outcome, ctx);
            }
        }
        if let Some(result) = self.export.poll() {
            match result {
                Ok(saved) => {
                    self.notices.clear_title(Topic::Export);
                    let message = match &saved.instead_of {
                        Some(taken) => format!(
                            "Saved {}: {} already exists and was kept",
                            saved.path.display(),
                            taken.display()
                        ),
                        None => format!("Saved {}", saved.path.display()),
                    };
                    self.notices.info(Topic::Export, message);
                    self.prefs.export_dir = self.export.dir.clone();
                }
                Err(e) => self.notices.error(Topic::Export, e),
            }
        }
        self.free_memory.refresh();
        if let Some(p) = self.pending_settings.take() {
            self.load_settings_file(&p, ctx);
        }
        if self.autostart && self.start_blocker().is_none() {
            self.autostart = false;
            self.start();
        }
    }

    /// Appends a line to the `ATELIER_RUN_LOG` file, if there is one.
    fn log_run(&mut self, what: std::fmt::Arguments<'_>) {
        if let Some((f, t0)) = &mut self.run_log {
            use std::io::Write;
            let _ = writeln!(f, "{:.3} {what}", t0.elapsed().as_secs_f64());
        }
    }

    fn on_event(&mut self, event: Event, ctx: &egui::Context) {
        let Some(event) = self.instant.absorb(event) else {
            return;
        };
        match &event {
            Event::Progress(p) => self.log_run(format_args!(
                "progress {} {} {:.2}",
                p.iteration, p.stage, p.seconds_left
            )),
            Event::Finished { reason, iteration } => {
                self.log_run(format_args!("finished {reason:?} {iteration}"));
            }
            _ => {}
        }
        self.status.on_event(&event);
        match event {
            Event::WeightsLoaded(info) => {
                self.first_network_answer_seen = true;
                self.on_weights_loaded(info);
            }
            Event::WeightsMissing { message } => {
                self.network.state = NetworkState::Missing(message);
                self.network.generation += 1;
                // A first launch without weights opens on what works: the instant picture.
                if !self.first_network_answer_seen && self.preview.frame.is_none() {
                    self.instant.mode = instant::Mode::Instant;
                    self.show_mode(ctx);
                }
                self.first_network_answer_seen = true;
            }
            Event::Error { message } => self.notices.error(Topic::Run, message),
            Event::Devices(list) => self.devices = list,
            Event::DownloadProgress {
                downloaded,
                total,
                bytes_per_second,
                eta_seconds,
            } => {
                self.network.set_download_progress(
                    downloaded,
                    total,
                    bytes_per_second,
                    eta_seconds,
                );
            }
            Event::DownloadFinished(outcome) => self.on_download_finished(outcome),
            Event::Finished { reason, iteration } => {
                // The stopping run's last frame, unless a restore replaced the picture.
                let ours = !self.status.is_active()
                    && matches!(self.status.phase, RunPhase::Finished(r) if r == reason);
                if ours && !self.ignore_frames && reason != FinishReason::Failed {
                    if let Some(frame) = self.worker.take_frame() {
                        self.preview.set_frame(ctx, frame);
                    }
                    self.take_snapshot(SnapshotKind::End, ctx);
                }
                if reason == FinishReason::Completed {
                    self.notices.info(Topic::Run, format!("Finished after {iteration} iterations. Export the result below the picture."));
                }
            }
            _ => {}
        }
    }

    /// Adopts the network and unticks layers it doesn't have (a VGG19-only layer on VGG16).
    fn on_weights_loaded(&mut self, info: NetworkInfo) {
        let w = &mut self.settings.weights;
        let mut dropped: Vec<String> = Vec::new();
        w.content_layers.retain(|l| {
            let keep = info.layers.contains(l);
            if !keep {
                dropped.push(l.clone());
            }
            keep
        });
        w.style_layers.retain(|l| {
            let keep = info.layers.contains(&l.layer);
            if !keep {
                dropped.push(l.layer.clone());
            }
            keep
        });
        if w.content_layers.is_empty() && w.style_layers.is_empty() {
            let defaults = LossWeights::default();
            w.content_layers = defaults
                .content_layers
                .into_iter()
                .filter(|l| info.layers.contains(l))
                .collect();
            w.style_layers = defaults
                .style_layers
                .into_iter()
                .filter(|l| info.layers.contains(&l.layer))
                .collect();
        }
        if !dropped.is_empty() {
            self.notices.push(
                Level::Warning,
                Topic::Layers,
                format!(
                    "{} not in {}: unticked.",
                    dropped.join(", "),
                    info.arch.to_uppercase()
                ),
            );
        }
        if let Some(note) = &info.note {
            self.notices
                .push(Level::Warning, Topic::Weights, note.clone());
            // Remembered instead of the file that is gone, so the next launch loads it at once.
            self.settings.weights_path = Some(info.path.clone());
        }
        self.network.path_text = info.path.display().to_string();
        // The worker reloads when a run names the file differently (relative vs absolute path):
        // the same network again is not a change that needs a restart.
        let same = self.network.info() == Some(&info);
        self.network.state = NetworkState::Loaded(info);
        if !same {
            self.network.generation += 1;
        }
        self.notices.clear_title(Topic::Download);
    }

    fn on_dialog(&mut self, purpose: Purpose, outcome: Outcome, ctx: &egui::Context) {
        match outcome {
            Outcome::Chosen(path) => match purpose {
                Purpose::OpenImage(kind) => self.load_image(kind, Source::Path(path), ctx),
                Purpose::OpenWeights => self.load_weights(path),
                Purpose::ExportPng => self.export_to(path, true, ctx),
                Purpose::OpenSettings => self.load_settings_file(&path, ctx),
                Purpose::SavePreset => self.save_preset(&path, true),
            },
            Outcome::Cancelled => {}
            Outcome::Unavailable => {
                let what = match purpose {
                    Purpose::OpenImage(kind) => format!(
                        "type the file's path in the {} path field and press Enter, or drag the file onto the slot.",
                        kind.label().to_lowercase()
                    ),
                    Purpose::OpenWeights => "type the weights path in the Network section and press Enter.".into(),
                    Purpose::ExportPng => "type a path in the Export field under the picture and press Save.".into(),
                    Purpose::OpenSettings => "type the file's path in the Settings file field (left panel) and press Load, or drop the file on that area.".into(),
                    Purpose::SavePreset => "type a path in the Settings file field (left panel) and press Save preset.".into(),
                };
                self.notices.push(
                    Level::Warning,
                    Topic::FileDialog,
                    format!("No file dialog is available on this desktop: {what}"),
                );
            }
        }
    }

    /// Sends changed loss weights to a running (or paused) run: the artist steers live.
    fn sync_live_weights(&mut self) {
        if !self.status.is_active() || self.sent_weights.as_ref() == Some(&self.settings.weights) {
            return;
        }
        let w = &self.settings.weights;
        if w.check().is_err() {
            return; // the controls already show what's wrong
        }
        self.worker.send(Command::SetLossWeights(w.clone()));
        self.sent_weights = Some(w.clone());
        let it = self.status.iteration;
        if self.status.steer_marks.last() != Some(&it) {
            self.status.steer_marks.push(it);
        }
    }

    /// Hover highlight and drops. Files dropped outside a slot go to content first.
    fn handle_file_drops(&mut self, ctx: &egui::Context) {
        let (hovering, dropped, pointer) = ctx.input(|i| {
            (
                !i.raw.hovered_files.is_empty(),
                i.raw.dropped_files.clone(),
                i.pointer.hover_pos(),
            )
        });
        let rects = self.slot_rects();
        let on_settings =
            pointer.is_some_and(|p| self.settings_file.rect.is_some_and(|r| r.contains(p)));
        self.files_hovering = hovering;
        self.drop_target = (hovering && !on_settings)
            .then(|| image_slot::slot_under(pointer, &rects).unwrap_or(SlotKind::Content));
        self.settings_drop_hover = hovering && on_settings;
        if dropped.is_empty() {
            return;
        }
        if on_settings {
            let path = dropped[0].path().to_path_buf();
            if path.as_os_str().is_empty() {
                self.notices.error(
                    Topic::Settings,
                    "The dropped file has no path on disk: save it first, then drop or type its path.",
                );
            } else {
                self.load_settings_file(&path, ctx);
            }
            return;
        }
        let targets = image_slot::drop_targets(dropped.len(), pointer, &rects);
        let used = targets.len();
        for (file, kind) in dropped.iter().zip(targets) {
            let path = file.path();
            let source = if path.as_os_str().is_empty() {
                match file.bytes() {
                    Ok(bytes) => Source::Bytes {
                        name: "dropped file".into(),
                        bytes: Arc::new(bytes),
                    },
                    Err(e) => {
                        self.notices.error(
                            kind.notice_title(),
                            format!("couldn't read the dropped file: {e}"),
                        );
                        continue;
                    }
                }
            } else {
                Source::Path(path.to_path_buf())
            };
            self.load_image(kind, source, ctx);
        }
        if dropped.len() > used {
            let what = if used == 2 {
                "Only the first two files were used: one photo and one painting."
            } else {
                "Only the first file was used: this slot takes one image."
            };
            self.notices.push(Level::Warning, Topic::Drop, what);
        }
    }

    fn shortcuts(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() {
            self.peek = false;
            return;
        }
        let (start, pause, export, fit, actual, peek) = ctx.input_mut(|i| {
            (
                i.consume_key(Modifiers::COMMAND, Key::Enter),
                i.consume_key(Modifiers::NONE, Key::Space),
                i.consume_key(Modifiers::COMMAND, Key::S),
                i.consume_key(Modifiers::NONE, Key::F),
                i.consume_key(Modifiers::NONE, Key::Num1),
                i.key_down(Key::C),
            )
        });
        if start {
            self.start();
        }
        if pause {
            self.toggle_pause();
        }
        if export && self.preview.frame.is_some() {
            self.open_dialog(Purpose::ExportPng, ctx);
        }
        if fit {
            self.preview.fit();
        }
        if actual {
            self.preview.actual_size();
        }
        self.peek = peek;
    }

    fn update_title(&mut self, ctx: &egui::Context) {
        let state = if self.status.is_active() {
            self.status.title_state()
        } else if let Some(d) = self.network.download.as_ref() {
            format!("downloading weights {:.0}%", d.fraction() * 100.0)
        } else if self.weights_missing().is_some() {
            "weights missing".to_owned()
        } else {
            self.status.title_state()
        };
        let title = format!("{APP_NAME} — {state}");
        if title != self.title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = title;
        }
    }

    // ----- layout --------------------------------------------------------------------------------

    fn toolbar_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        ui.horizontal(|ui| {
            if let Some(mark) = &self.brand {
                ui.add(egui::Image::from_texture((mark.id(), egui::vec2(24.0, 24.0))))
                    .on_hover_text("Atelier: neural style transfer studio");
            }
            ui.label(RichText::new("Atelier").size(17.0).strong());
            ui.add_space(10.0);
            let blocker = self.start_blocker();
            let active = self.status.is_active();
            let (icon, name, tip) = if active {
                ("↻", "Restart", "Start over with the current settings (Ctrl+Enter)")
            } else {
                ("▶", "Start", "Begin painting; the preview updates live (Ctrl+Enter)")
            };
            let ink = Color32::from_rgb(30, 24, 16);
            // The accent marks the one obvious action; mid-run, Restart is an ordinary button.
            let button = if active {
                icon_button(icon, name, None)
            } else {
                icon_button(icon, name, Some(ink)).fill(theme::ACCENT)
            };
            let start = ui
                .add_enabled(blocker.is_none(), button.min_size(egui::vec2(104.0, 28.0)))
                .accessible_name(name)
                .on_hover_text(tip)
                .on_disabled_hover_text(blocker.unwrap_or_default());
            if start.clicked() {
                self.start();
            }
            let size = egui::vec2(86.0, 28.0);
            if self.status.phase == RunPhase::Paused {
                if ui
                    .add(icon_button("▶", "Resume", None).min_size(size))
                    .accessible_name("Resume")
                    .on_hover_text("Carry on painting (Space)")
                    .clicked()
                {
                    self.toggle_pause();
                }
            } else if ui
                .add_enabled(
                    self.status.phase == RunPhase::Running,
                    icon_button("‖", "Pause", None).min_size(size),
                )
                .accessible_name("Pause")
                .on_hover_text("Hold the picture while you think; weights can still be changed (Space)")
                .clicked()
            {
                self.toggle_pause();
            }
            if ui
                .add_enabled(active, icon_button("■", "Stop", None).min_size(size))
                .accessible_name("Stop")
                .on_hover_text("End the run; the last frame stays for export")
                .clicked()
            {
                self.stop();
            }
            ui.add_space(8.0);
            self.presets_menu(ui);
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let can_export = self.preview.frame.is_some() && self.dialog.is_none() && !self.export.is_busy();
                if ui
                    .add_enabled(can_export, icon_button("⇩", "Export PNG…", None).min_size(egui::vec2(128.0, 28.0)))
                    .accessible_name("Export PNG…")
                    .on_hover_text("Save the frame on screen, even mid-run; the PNG remembers its settings (Ctrl+S)")
                    .on_disabled_hover_text("Available once the first frame is painted")
                    .clicked()
                {
                    self.open_dialog(Purpose::ExportPng, &ctx);
                }
                ui.add_space(8.0);
                self.network.show_chip(ui);
            });
        });
    }

    fn controls_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        let dialog_open = self.dialog.is_some();
        section(
            ui,
            "Images",
            "Drop files on a slot, or anywhere: the first goes to content.",
        );
        let samples = self.samples.clone();
        let mut actions: Vec<(SlotKind, SlotAction)> = Vec::new();
        let blending = !self.extras.is_empty();
        for kind in [SlotKind::Content, SlotKind::Style] {
            let drop_state = self.drop_target.map(|t| t == kind);
            let extras = SlotExtras {
                blend: (kind == SlotKind::Style && blending)
                    .then_some(&mut self.settings.style_blend_weight),
                remove: None,
            };
            let slot = match kind {
                SlotKind::Content => &mut self.content,
                _ => &mut self.style,
            };
            if let Some(action) = slot.show(ui, drop_state, &samples, dialog_open, extras) {
                actions.push((kind, action));
            }
            ui.add_space(4.0);
        }
        for e in &mut self.extras {
            let kind = e.slot.kind;
            let drop_state = self.drop_target.map(|t| t == kind);
            let extras = SlotExtras {
                blend: Some(&mut e.weight),
                remove: Some("Remove"),
            };
            if let Some(action) = e.slot.show(ui, drop_state, &samples, dialog_open, extras) {
                actions.push((kind, action));
            }
            ui.add_space(4.0);
        }
        ui.horizontal(|ui| {
            if ui
                .button("+ Add style")
                .accessible_name("Add style")
                .on_hover_text("Blend another painting into the style; each gets a blend weight")
                .clicked()
            {
                self.add_style_slot();
            }
            ui.add_space(6.0);
            controls::show_style_scale(ui, &mut self.settings);
        });

        ui.add_space(8.0);
        section(
            ui,
            "Mask (optional)",
            "White areas get the style, black ones keep the photo; grey blends.",
        );
        let drop_state = self.drop_target.map(|t| t == SlotKind::Mask);
        let mask_extras = SlotExtras {
            blend: None,
            remove: Some("Clear"),
        };
        if let Some(action) = self
            .mask
            .show(ui, drop_state, &[], dialog_open, mask_extras)
        {
            actions.push((SlotKind::Mask, action));
        }
        for (kind, action) in actions {
            match action {
                SlotAction::OpenDialog => self.open_dialog(Purpose::OpenImage(kind), &ctx),
                SlotAction::Load(p) => self.load_image(kind, Source::Path(p), &ctx),
                SlotAction::Remove => match kind {
                    SlotKind::ExtraStyle(i) => self.remove_style_slot(i),
                    SlotKind::Mask => {
                        self.mask.clear();
                        self.mask_gray = None;
                        self.settings.mask = None;
                        self.notices.clear_title(kind.notice_title());
                    }
                    SlotKind::Content | SlotKind::Style => {}
                },
            }
        }
        self.sync_extras();

        ui.add_space(6.0);
        section(ui, "Strength", "These apply live while the picture paints.");
        controls::show_strength(ui, &mut self.settings);

        ui.add_space(6.0);
        egui::CollapsingHeader::new(RichText::new("Look").strong())
            .default_open(true)
            .show(ui, |ui| {
                ui.label(
                    RichText::new("Changes here apply on the next start.")
                        .small()
                        .weak(),
                );
                controls::show_look(ui, &mut self.settings);
            });

        let w = &self.settings.weights;
        let summary = format!(
            "Layers  ·  {} content, {} style",
            w.content_layers.len(),
            w.style_layers.len()
        );
        egui::CollapsingHeader::new(RichText::new(summary).strong())
            .id_salt("layers")
            .default_open(false)
            .show(ui, |ui| {
                controls::show_layers(
                    ui,
                    &mut self.settings,
                    self.network.info(),
                    &mut self.prefs.style_weight_memory,
                );
            })
            .header_response
            .accessible_name("Layers");

        let memory = run_plan::memory_need(&self.readiness());
        egui::CollapsingHeader::new(RichText::new("Output").strong())
            .default_open(true)
            .show(ui, |ui| {
                ui.label(
                    RichText::new("Changes here apply on the next start.")
                        .small()
                        .weak(),
                );
                controls::show_output(ui, &mut self.settings, &self.devices, memory);
            });

        egui::CollapsingHeader::new(RichText::new("Settings file").strong())
            .default_open(true)
            .show(ui, |ui| self.settings_file_ui(ui, dialog_open));

        egui::CollapsingHeader::new(RichText::new("Network").strong())
            .default_open(true)
            .show(ui, |ui| {
                if let Some(a) = self.network.show_status(ui, dialog_open) {
                    self.network_action(a, &ctx);
                }
            });

        egui::CollapsingHeader::new(RichText::new("Advanced").strong())
            .default_open(false)
            .show(ui, |ui| controls::show_advanced(ui, &mut self.settings));
        ui.add_space(8.0);
    }

    /// Drop zone and path field for Atelier PNGs and presets, with Load and Save preset.
    fn settings_file_ui(&mut self, ui: &mut egui::Ui, dialog_open: bool) {
        let ctx = ui.ctx().clone();
        let visuals = ui.visuals().clone();
        // Only the hovered state: other drags are for the image slots.
        let card =
            theme::drop_card(&visuals, self.settings_drop_hover.then_some(true)).show(ui, |ui| {
                ui.set_width(ui.available_width());
                // The drop zone; a click opens the file dialog, as on the image slots.
                let (rect, zone) = ui.allocate_exact_size(
                    egui::vec2(ui.available_width(), 34.0),
                    egui::Sense::click(),
                );
                let zone = zone
                    .accessible_name("Settings drop zone")
                    .on_hover_text("Drop an Atelier PNG or a preset here, or click to choose one");
                let painter = ui.painter_at(rect);
                painter.rect_filled(rect, 6.0, visuals.extreme_bg_color);
                painter.text(
                    rect.center(),
                    egui::Align2::CENTER_CENTER,
                    "⊕  Drop an Atelier PNG or a preset here",
                    egui::FontId::proportional(13.0),
                    visuals.weak_text_color(),
                );
                if zone.hovered() {
                    painter.rect_stroke(
                        rect,
                        6.0,
                        egui::Stroke::new(1.0, theme::ACCENT),
                        egui::StrokeKind::Inside,
                    );
                }
                if zone.clicked() && !dialog_open {
                    self.open_dialog(Purpose::OpenSettings, &ctx);
                }
                ui.horizontal(|ui| {
                    let field = ui
                        .add(
                            egui::TextEdit::singleline(&mut self.settings_file.path_text)
                                .id(egui::Id::unique("atelier-settings-path"))
                                .hint_text("Atelier PNG or preset .json")
                                .desired_width(ui.available_width()),
                        )
                        .accessible_name("Settings file path")
                        .on_hover_text("Type a path, then Load (settings back) or Save preset");
                    let enter = field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
                    if enter && !self.settings_file.path_text.trim().is_empty() {
                        let p = image_slot::expand_path(&self.settings_file.path_text);
                        self.load_settings_file(&p, &ctx);
                    }
                });
                ui.horizontal(|ui| {
                    let typed = !self.settings_file.path_text.trim().is_empty();
                    if ui
                        .add_enabled(typed, egui::Button::new("Load"))
                        .accessible_name("Load settings")
                        .on_hover_text("Take the settings (and images) from this PNG or preset")
                        .clicked()
                    {
                        let p = image_slot::expand_path(&self.settings_file.path_text);
                        self.load_settings_file(&p, &ctx);
                    }
                    if ui
                        .add_enabled(typed, egui::Button::new("Save preset"))
                        .accessible_name("Save preset")
                        .on_hover_text("Write the current settings to this path as a JSON preset")
                        .clicked()
                    {
                        let p = image_slot::expand_path(&self.settings_file.path_text);
                        self.save_preset(&p, false);
                    }
                    if ui
                        .add_enabled(!dialog_open, egui::Button::new("Open…"))
                        .accessible_name("Open settings…")
                        .on_hover_text("Choose an Atelier PNG or a preset with the system dialog")
                        .clicked()
                    {
                        self.open_dialog(Purpose::OpenSettings, &ctx);
                    }
                });
            });
        self.settings_file.rect = Some(card.response.rect);
    }

    /// The toolbar's Presets menu: built-in starting points, and presets on disk.
    fn presets_menu(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        let dialog_open = self.dialog.is_some();
        ui.menu_button("Presets", |ui| {
            for b in presets::BUILT_IN {
                if ui.button(b.name).on_hover_text(b.tip).clicked() {
                    let mut s = self.settings.clone();
                    (b.apply)(&mut s);
                    self.settings = s;
                    self.notices.info(
                        Topic::Settings,
                        format!("Preset \u{201c}{}\u{201d}: {}.", b.name, b.tip),
                    );
                }
            }
            ui.separator();
            if ui
                .add_enabled(!dialog_open, egui::Button::new("Load preset…"))
                .on_hover_text("A preset .json, or a PNG made by Atelier")
                .clicked()
            {
                self.open_dialog(Purpose::OpenSettings, &ctx);
            }
            if ui
                .add_enabled(!dialog_open, egui::Button::new("Save preset…"))
                .on_hover_text("Write the current settings as a JSON preset")
                .clicked()
            {
                self.open_dialog(Purpose::SavePreset, &ctx);
            }
        })
        .response
        .accessible_name("Presets")
        .on_hover_text("Starting points, and your own saved settings");
    }

    fn status_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        ui.add_space(4.0);
        ui.horizontal_top(|ui| {
            let left_w = 380.0_f32.min(ui.available_width() * 0.45);
            ui.allocate_ui_with_layout(
                egui::vec2(left_w, ui.available_height()),
                egui::Layout::top_down(egui::Align::Min),
                |ui| {
                    ui.set_width(left_w);
                    self.progress_ui(ui);
                    ui.add_space(6.0);
                    self.export_ui(ui, &ctx);
                },
            );
            ui.separator();
            loss_plot::show(ui, &self.status);
        });
    }

    fn progress_ui(&mut self, ui: &mut egui::Ui) {
        let s = &self.status;
        let (phase, color) = match s.phase {
            RunPhase::Idle => ("Ready", ui.visuals().text_color()),
            RunPhase::Starting => ("Starting…", ui.visuals().text_color()),
            RunPhase::Running => ("Painting", theme::ACCENT),
            RunPhase::Paused => ("Paused", ui.visuals().warn_fg_color),
            RunPhase::Finished(FinishReason::Completed) => {
                ("Done", Color32::from_rgb(140, 220, 170))
            }
            RunPhase::Finished(FinishReason::Stopped) => ("Stopped", ui.visuals().text_color()),
            RunPhase::Finished(FinishReason::Failed) => ("Failed", ui.visuals().error_fg_color),
        };
        ui.horizontal(|ui| {
            ui.label(RichText::new(phase).size(16.0).strong().color(color));
            if s.phase != RunPhase::Idle {
                ui.label(
                    RichText::new(format!("iteration {} / {}", s.iteration, s.iterations))
                        .monospace(),
                );
            }
            if s.stages > 1 {
                let side = self.run.as_ref().and_then(|r| {
                    let st = &r.request.settings;
                    controls::stage_sides(st.multiscale_start, st.size)
                        .get(s.stage.saturating_sub(1) as usize)
                        .copied()
                });
                let mut text = format!("stage {}/{}", s.stage, s.stages);
                if let Some(px) = side {
                    text.push_str(&format!(" · {px} px"));
                }
                ui.label(RichText::new(text).monospace().color(theme::ACCENT))
                    .on_hover_text("Coarse to fine: each stage refines a larger version");
            }
        });
        if s.phase == RunPhase::Idle {
            ui.label(
                RichText::new(
                    "Progress, speed and the loss curve appear here once you press Start.",
                )
                .small()
                .weak(),
            );
        } else {
            let bar = egui::ProgressBar::new(s.fraction())
                .desired_height(8.0)
                .fill(theme::ACCENT.gamma_multiply(0.8));
            ui.add(bar);
        }
        ui.horizontal(|ui| {
            let weak = |t: String| RichText::new(t).small().weak();
            if s.seconds_per_iteration > 0.0 {
                ui.label(weak(format!("{:.3} s/it", s.seconds_per_iteration)));
            }
            if let Some(eta) = s.eta_seconds() {
                ui.label(weak(format!("ETA {}", format_duration(eta))));
            }
            if s.width > 0 {
                ui.label(weak(format!("{} × {} px", s.width, s.height)));
            }
            if let Some(info) = self.network.info() {
                ui.label(weak(info.device.clone()));
            }
        });
        if let Some(l) = s.latest_losses() {
            ui.horizontal(|ui| {
                for (i, (name, v)) in [
                    ("total", l.total),
                    ("content", l.content),
                    ("style", l.style),
                    ("TV", l.tv),
                ]
                .into_iter()
                .enumerate()
                {
                    ui.label(RichText::new("●").color(theme::LOSS_COLORS[i]).small());
                    ui.label(
                        RichText::new(format!("{name} {}", loss_plot::format_value(v)))
                            .small()
                            .monospace(),
                    );
                }
            });
        }
    }

    fn export_ui(&mut self, ui: &mut egui::Ui, ctx: &egui::Context) {
        let name = self.export_name();
        self.export.refresh_default(&name);
        ui.label(RichText::new("Export to").small().weak());
        ui.horizontal(|ui| {
            let w = ui.available_width() - 62.0;
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut self.export.path_text)
                        .id(egui::Id::unique("atelier-export-path"))
                        .desired_width(w),
                )
                .accessible_name("Export path")
                .on_hover_text("Where Save writes the PNG. Works without a file dialog.");
            if field.changed() {
                self.export.edited = true;
            }
            let enter = field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
            let can = self.preview.frame.is_some() && !self.export.is_busy();
            let save = ui
                .add_enabled(
                    can,
                    egui::Button::new("Save").min_size(egui::vec2(54.0, 22.0)),
                )
                .on_hover_text("Save the frame on screen to this path")
                .on_disabled_hover_text("Available once the first frame is painted");
            if (save.clicked() || (enter && can)) && !self.export.path_text.trim().is_empty() {
                let path = image_slot::expand_path(&self.export.path_text);
                self.export_to(path, false, ctx);
            }
        });
    }

    fn central_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        let dialog_open = self.dialog.is_some();
        // Each variable-height block lives in its own id scope, so a notice appearing doesn't
        // renumber the widgets below it (which would drop a drag or a text field's focus).
        ui.push_id("notices", |ui| self.notices.show(ui));
        let action = ui
            .push_id("weights-card", |ui| {
                self.network.show_missing_card(ui, dialog_open)
            })
            .inner;
        if let Some(a) = action {
            self.network_action(a, &ctx);
        }
        let reasons = self.restart_reasons();
        let restart = ui.push_id("restart", |ui| {
            let mut clicked = false;
            if reasons.is_empty() {
                return false;
            }
            egui::Frame::new()
                .fill(Color32::from_rgb(50, 46, 36))
                .stroke(egui::Stroke::new(1.0, theme::ACCENT.gamma_multiply(0.6)))
                .corner_radius(6.0)
                .inner_margin(egui::Margin::symmetric(10, 6))
                .show(ui, |ui| {
                    ui.set_width(ui.available_width());
                    ui.horizontal(|ui| {
                        ui.label(RichText::new("↻").color(theme::ACCENT).strong());
                        ui.label(format!(
                            "New {}: takes effect on restart.",
                            reasons.join(", ")
                        ));
                        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                            clicked = ui.button("Restart now").clicked();
                        });
                    });
                });
            ui.add_space(4.0);
            clicked
        });
        if restart.inner {
            self.start();
        }

        // Preview tool row.
        ui.horizontal(|ui| {
            if ui
                .button("Fit")
                .on_hover_text("Fit the picture to the view (F)")
                .clicked()
            {
                self.preview.fit();
            }
            if ui
                .button("100%")
                .on_hover_text("One image pixel per screen pixel (1)")
                .clicked()
            {
                self.preview.actual_size();
            }
            ui.label(
                RichText::new(format!("{:.0}%", self.preview.shown_scale * 100.0))
                    .weak()
                    .monospace(),
            );
            ui.separator();
            let before = self.preview.compare;
            ui.selectable_value(&mut self.preview.compare, CompareMode::Result, "Result")
                .on_hover_text("The painting in progress");
            ui.selectable_value(&mut self.preview.compare, CompareMode::Split, "Split")
                .on_hover_text("Photo left, result right: drag the divider");
            if before != self.preview.compare {
                self.prefs.compare = self.preview.compare;
            }
            let hold = ui
                .add(egui::Button::new("◐ Hold to compare"))
                .accessible_name("Hold to compare")
                .on_hover_text("Press and hold (or hold C) to see the original photo");
            self.peek |= hold.is_pointer_button_down_on();
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if let Some(f) = &self.preview.frame {
                    ui.label(
                        RichText::new(format!(
                            "frame {} · {} × {}",
                            f.iteration,
                            f.image.width(),
                            f.image.height()
                        ))
                        .weak()
                        .small(),
                    );
                }
            });
        });

        let both = self.content.image.is_some() && self.style.image.is_some();
        let blocker = self.start_blocker();
        let empty_hint = if !both {
            "Drop a photo and a painting on the slots at the left".to_owned()
        } else if let Some(why) = blocker {
            why
        } else {
            "Press ▶ Start: the picture repaints itself here, live".to_owned()
        };
        let drop_hint = self.files_hovering.then_some(match self.drop_target {
            Some(SlotKind::Style) => "Drop to use as the style painting",
            Some(SlotKind::ExtraStyle(_)) => "Drop to blend in as another style",
            Some(SlotKind::Mask) => "Drop to use as the mask",
            None if self.settings_drop_hover => "Drop to restore the settings it was made with",
            _ => "Drop to use as the content photo (a second file becomes the style)",
        });
        let snapshot = self.history.compare_texture();
        let inputs = CanvasInputs {
            content: self.content.display.as_ref(),
            peek: self.peek,
            drop_hint,
            empty_hint: &empty_hint,
            snapshot: snapshot.as_ref().map(|(t, l)| (*t, l.as_str())),
        };
        self.preview.show(ui, &inputs);
    }
}

/// A button with a larger icon glyph before its text.
/// The worker, waking this window on every event.
fn spawn_worker(ctx: &egui::Context, options: &StudioOptions) -> Worker {
    let repaint = ctx.clone();
    Worker::spawn_with(
        Box::new(move || repaint.request_repaint()),
        WorkerConfig {
            hub: options.hub.clone(),
            assets_dir: Some(options.assets_dir.clone()),
            ..WorkerConfig::default()
        },
    )
}

fn icon_button<'a>(icon: &'a str, text: &'a str, color: Option<Color32>) -> egui::Button<'a> {
    let mut icon = RichText::new(icon).size(15.0);
    let mut text = RichText::new(text).strong();
    if let Some(c) = color {
        icon = icon.color(c);
        text = text.color(c);
    }
    egui::Button::new((icon, text))
}

/// The embedded icon as a small texture; a broken icon just means no brand mark.
fn brand_texture(ctx: &egui::Context) -> Option<egui::TextureHandle> {
    let img = image::load_from_memory(super::ICON_PNG).ok()?.to_rgba8();
    let img = image::imageops::resize(&img, 48, 48, image::imageops::FilterType::Lanczos3);
    let color = egui::ColorImage::from_rgba_unmultiplied([48, 48], img.as_raw());
    Some(ctx.load_texture("brand", color, egui::TextureOptions::LINEAR))
}

/// A section heading with a one-line explanation underneath.
fn section(ui: &mut egui::Ui, title: &str, note: &str) {
    ui.label(RichText::new(title).strong().size(14.0));
    ui.label(RichText::new(note).small().weak());
    ui.add_space(2.0);
}

/// Image files in `assets/samples`, sorted by name.
fn list_samples(assets: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(assets.join("samples"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                matches!(
                    e.to_ascii_lowercase().as_str(),
                    "png" | "jpg" | "jpeg" | "webp"
                )
            })
        })
        .collect();
    v.sort();
    v
}

impl eframe::App for StudioApp {
    fn logic(&mut self, ctx: &egui::Context, frame: &mut eframe::Frame) {
        if let (Some(f), Some(cpu)) = (&mut self.frame_log, frame.info().cpu_usage) {
            use std::io::Write;
            let _ = writeln!(f, "{:.6}", cpu);
        }
        self.pump(ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        self.shortcuts(&ctx);
        self.handle_file_drops(&ctx);
        let status_height = (ui.max_rect().height() * 0.2).clamp(124.0, 190.0);

        egui::Panel::top("toolbar")
            .frame(theme::panel_frame(ui.style(), 12, 8))
            .show(ui, |ui| self.toolbar_ui(ui));
        egui::Panel::left("controls")
            .resizable(true)
            .default_size(360.0)
            .size_range(320.0..=560.0)
            .frame(theme::panel_frame(ui.style(), 12, 10))
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .auto_shrink([false, false])
                    .show(ui, |ui| self.controls_ui(ui));
            });
        // After the left panel, so the controls run the full height and the status sits under
        // the picture.
        // On a laptop-sized window the picture keeps the most room: the status strip takes
        // about a fifth of the height (computed above, before the panels), up to 190 px.
        egui::Panel::bottom("status")
            .resizable(true)
            .default_size(status_height)
            .size_range(124.0..=420.0)
            .frame(theme::panel_frame(ui.style(), 12, 8))
            .show(ui, |ui| self.status_ui(ui));
        let can_take = self.preview.frame.is_some();
        let action = egui::Panel::bottom("history")
            .resizable(false)
            .exact_size(84.0)
            .frame(theme::panel_frame(ui.style(), 12, 6))
            .show(ui, |ui| self.history.show(ui, can_take))
            .inner;
        if let Some(a) = action {
            self.history_action(a, &ctx);
        }
        self.instant_panel(ui);
        egui::CentralPanel::default()
            .frame(egui::Frame::central_panel(ui.style()).inner_margin(10.0))
            .show(ui, |ui| self.central_ui(ui));

        self.sync_live_weights();
        self.update_title(&ctx);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        if self.options.persist {
            persist::save(
                storage,
                &Persisted {
                    settings: self.settings.clone(),
                    prefs: self.prefs.clone(),
                },
            );
        }
    }

    fn persist_egui_memory(&self) -> bool {
        self.options.persist
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        self.worker.send(Command::Shutdown);
    }
}
