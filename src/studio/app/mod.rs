//! `StudioApp`: the shared state (settings, slots, network, run, history, notices), the worker
//! handle and the panels. Each frame it turns what other threads reported into commands
//! (reports.rs), reads shortcuts and drops, lays out the panels (inputs left, preview centre,
//! status and history below, Instant right) and carries out every command they return in one
//! place (execute.rs). Tests and embedders read it through [`StudioView`] (view.rs).

mod brushes;
mod execute;
mod reports;
mod view;

pub use view::StudioView;

use super::command::Command;
use super::dialogs::PendingDialog;
use super::drops::Drops;
use super::export::Export;
use super::history::History;
use super::logs::Logs;
use super::memory::FreeMemory;
use super::network::Network;
use super::notices::{Level, Notices, Topic};
use super::panels::controls::{ControlsPanel, ControlsView};
use super::panels::images::{ImagesPanel, ImagesView};
use super::panels::instant::InstantPanel;
use super::panels::network::NetworkPanel;
use super::panels::preview::{PreviewPanel, PreviewView};
use super::panels::status::{StatusPanel, StatusView};
use super::panels::toolbar::{ToolbarPanel, ToolbarView};
use super::panels::train::TrainView;
use super::panels::Panels;
use super::persist::{self, Persisted, UiPrefs};
use super::run_state::RunStatus;
use super::shortcuts::Shortcuts;
use super::slots::{SlotKind, Slots};
use super::theme;
use super::training::Training;
use super::{StudioOptions, APP_NAME};
use crate::device;
use crate::settings::{DeviceChoice, LossWeights, Settings};
use crate::worker::{Command as Job, RunRequest, Worker, WorkerConfig};
use egui::RichText;
use std::path::{Path, PathBuf};

/// Sample pair loaded on first launch so Start works at once.
const SAMPLE_CONTENT: &str = "chelsea.png";
const SAMPLE_STYLE: &str = "starry_night.jpg";

/// What a run was started with, to tell which later edits need a restart.
struct RunSnapshot {
    request: RunRequest,
    network_generation: u64,
}

/// The studio window. Shared state is changed only by [`StudioApp::execute`].
pub struct StudioApp {
    options: StudioOptions,
    logs: Logs,
    worker: Worker,
    /// When workers died lately (see `replace_dead_worker`).
    worker_deaths: Vec<std::time::Instant>,
    worker_gave_up: bool,

    /// The settings the next Start uses.
    settings: Settings,
    slots: Slots,
    network: Network,
    status: RunStatus,
    run: Option<RunSnapshot>,
    /// Loss weights the worker currently has; differences are sent live.
    sent_weights: Option<LossWeights>,
    /// After a restore mid-run: the stopping run's last frames must not replace the picture.
    ignore_frames: bool,
    history: History,
    notices: Notices,
    /// `(device, usable, label)`; the worker probes the GPUs (Event::Devices), never this thread.
    devices: Vec<(DeviceChoice, bool, String)>,
    free_memory: FreeMemory,
    export: Export,
    dialog: Option<PendingDialog>,
    samples: Vec<PathBuf>,
    title: String,
    /// Press Start as soon as it can (screenshots, demos).
    autostart: bool,
    /// A settings file to open on the first frame.
    pending_settings: Option<PathBuf>,
    /// The first load of the network has answered (the first launch's mode depends on it).
    first_network_answer_seen: bool,

    /// The brush training, if any, and the settings the next one starts from.
    training: Training,
    train_config: crate::engine::brush::TrainConfig,
    /// Replaces the Minutes slider's budget (tests train a few steps).
    train_budget: Option<crate::worker::TrainBudget>,

    shortcuts: Shortcuts,
    drops: Drops,
    panels: Panels,
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
            (None, Some(saved)) => Job::LoadSavedNetwork(saved.clone()),
            _ => Job::LoadNetwork(weights.clone()),
        });

        let mut panels = Panels {
            toolbar: ToolbarPanel::new(&ctx),
            images: ImagesPanel::default(),
            controls: ControlsPanel::new(prefs.style_weight_memory),
            settings_file: Default::default(),
            network: NetworkPanel::default(),
            status: StatusPanel::default(),
            history: Default::default(),
            notices: Default::default(),
            preview: PreviewPanel::new(prefs.compare),
            instant: InstantPanel::new(&options.assets_dir),
            train: Default::default(),
        };
        if let Some(w) = &weights {
            panels.network.show_path(w);
        }
        let mut notices = Notices::default();
        // Saved images first; the sample pair fills empty slots and replaces vanished files.
        let samples_dir = options.assets_dir.join("samples");
        let sample = |name: &str| Some(samples_dir.join(name)).filter(|p| p.is_file());
        let samples = [sample(SAMPLE_CONTENT), sample(SAMPLE_STYLE)];
        if samples.iter().any(Option::is_none) {
            notices.push(
                Level::Warning,
                Topic::Samples,
                format!(
                    "Sample images not found in {}. Drop a photo on Content and a painting on Style to begin.",
                    samples_dir.display()
                ),
            );
        }
        let mut export = Export::default();
        export.dir = prefs.export_dir;
        let mut slots = Slots::default();
        slots.restore(&settings, samples, &ctx);
        let mut settings = settings;
        // The slots fill these in again as their images load.
        settings.extra_styles.clear();
        settings.mask = None;

        Self {
            logs: Logs::from_env(),
            worker,
            worker_deaths: Vec::new(),
            worker_gave_up: false,
            settings,
            slots,
            network: Network::default(),
            status: RunStatus::default(),
            run: None,
            sent_weights: None,
            ignore_frames: false,
            history: History::default(),
            notices,
            devices: device::unprobed_devices(crate::engine::threads()),
            free_memory: FreeMemory::default(),
            export,
            dialog: None,
            samples: list_samples(&options.assets_dir),
            title: String::new(),
            autostart: false,
            pending_settings: None,
            first_network_answer_seen: false,
            training: Training::default(),
            train_config: brushes::default_config(),
            train_budget: None,
            shortcuts: Shortcuts::default(),
            drops: Drops::default(),
            panels,
            options,
        }
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

    /// What the studio holds, read-only (tests, embedding).
    pub fn view(&self) -> StudioView<'_> {
        StudioView::new(self)
    }

    /// Longest side of instant pictures (tests use small ones).
    pub fn set_instant_size(&mut self, size: u32) {
        self.panels.instant.set_size(size);
    }

    /// The settings and budget of the next brush training, instead of the defaults and the
    /// Minutes slider (tests train a tiny network for a few steps).
    pub fn set_training(
        &mut self,
        config: crate::engine::brush::TrainConfig,
        budget: crate::worker::TrainBudget,
    ) {
        self.train_config = config;
        self.train_budget = Some(budget);
    }

    /// Ends the worker thread as a crash would (tests of the dead-worker replacement).
    #[doc(hidden)]
    pub fn end_worker_for_test(&self) {
        self.worker.send(Job::Shutdown);
    }

    /// Draws every panel; returns what the artist asked for.
    fn layout(&mut self, ui: &mut egui::Ui) -> Vec<Command> {
        let mut sent = Vec::new();
        let status_height = (ui.max_rect().height() * 0.2).clamp(124.0, 190.0);
        let view = self.view();
        let (blocker, memory) = (view.start_blocker(), view.memory_need());
        let restart_reasons = view.restart_reasons();
        let has_frame = self.panels.preview.frame().is_some();

        let toolbar = ToolbarView {
            blocker: blocker.clone(),
            phase: self.status.phase,
            can_export: has_frame && self.dialog.is_none() && !self.export.is_busy(),
            dialog_open: self.dialog.is_some(),
            network: &self.network,
        };
        egui::Panel::top("toolbar")
            .frame(theme::panel_frame(ui.style(), 12, 8))
            .show(ui, |ui| sent.extend(self.panels.toolbar.ui(ui, &toolbar)));
        egui::Panel::left("controls")
            .resizable(true)
            .default_size(360.0)
            .size_range(320.0..=560.0)
            .frame(theme::panel_frame(ui.style(), 12, 10))
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .auto_shrink([false, false])
                    .show(ui, |ui| sent.extend(self.left_panel(ui, memory)));
            });
        // After the left panel, so the controls run the full height and the status sits under
        // the picture. On a laptop-sized window the picture keeps the most room: the status
        // strip takes about a fifth of the height (computed above, before the panels).
        let status = StatusView {
            status: &self.status,
            run_settings: self.run.as_ref().map(|r| &r.request.settings),
            device: self.network.info().map(|i| i.device.as_str()),
            export_name: self.export_name(),
            export_dir: self.export.dir.as_deref(),
            can_save: has_frame && !self.export.is_busy(),
        };
        egui::Panel::bottom("status")
            .resizable(true)
            .default_size(status_height)
            .size_range(124.0..=420.0)
            .frame(theme::panel_frame(ui.style(), 12, 8))
            .show(ui, |ui| sent.extend(self.panels.status.ui(ui, &status)));
        egui::Panel::bottom("history")
            .resizable(false)
            .exact_size(84.0)
            .frame(theme::panel_frame(ui.style(), 12, 6))
            .show(ui, |ui| {
                sent.extend(self.panels.history.ui(ui, &self.history, has_frame));
            });
        egui::Panel::right("instant")
            .resizable(false)
            .default_size(292.0)
            .frame(theme::panel_frame(ui.style(), 12, 10))
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .auto_shrink([false, false])
                    .show(ui, |ui| {
                        sent.extend(self.panels.instant.ui(ui, blocker.is_none()));
                        ui.add_space(8.0);
                        sent.extend(self.train_section(ui));
                    });
            });
        let preview = PreviewView {
            restart_reasons: &restart_reasons,
            content: self
                .slots
                .get(SlotKind::Content)
                .and_then(|s| s.display.as_ref()),
            images_ready: [SlotKind::Content, SlotKind::Style]
                .iter()
                .all(|k| self.slots.get(*k).is_some_and(|s| s.image.is_some())),
            blocker,
            drop_hint: self.drops.hint(),
            snapshot: self.history.compare_texture(),
        };
        let dialog_open = self.dialog.is_some();
        egui::CentralPanel::default()
            .frame(egui::Frame::central_panel(ui.style()).inner_margin(10.0))
            .show(ui, |ui| {
                // Each variable-height block lives in its own id scope, so a notice appearing
                // doesn't renumber the widgets below it (which would drop a drag or a text
                // field's focus).
                let notices = &self.notices;
                let panels = &mut self.panels;
                ui.push_id("notices", |ui| sent.extend(panels.notices.ui(ui, notices)));
                ui.push_id("weights-card", |ui| {
                    sent.extend(panels.network.banner_ui(ui, &self.network, dialog_open));
                });
                sent.extend(panels.preview.ui(ui, &preview));
            });
        sent
    }

    /// "Train a brush", under the Instant panel.
    fn train_section(&mut self, ui: &mut egui::Ui) -> Vec<Command> {
        let view = TrainView {
            training: &self.training,
            painting: self
                .slots
                .get(SlotKind::Style)
                .and_then(|s| s.path.as_deref())
                .and_then(|p| p.file_name())
                .and_then(|n| n.to_str()),
            blocker: self.view().train_blocker(),
            dialog_open: self.dialog.is_some(),
        };
        let panel = &mut self.panels.train;
        egui::CollapsingHeader::new(RichText::new("Train a brush").strong().size(14.0))
            .default_open(false)
            .show(ui, |ui| panel.ui(ui, &view))
            .body_returned
            .unwrap_or_default()
    }

    /// The left column: images, the knobs, the settings file and the network.
    fn left_panel(
        &mut self,
        ui: &mut egui::Ui,
        memory: Option<(u64, Option<u64>)>,
    ) -> Vec<Command> {
        let dialog_open = self.dialog.is_some();
        let mut sent = self.panels.images.ui(
            ui,
            &ImagesView {
                slots: &self.slots,
                settings: &self.settings,
                samples: &self.samples,
                dialog_open,
                drop_target: self.drops.target(),
            },
        );
        sent.extend(self.panels.controls.ui(
            ui,
            &ControlsView {
                settings: &self.settings,
                network: self.network.info(),
                devices: &self.devices,
                memory,
            },
        ));
        egui::CollapsingHeader::new(egui::RichText::new("Settings file").strong())
            .default_open(true)
            .show(ui, |ui| {
                let hovered = self.drops.over_settings();
                sent.extend(self.panels.settings_file.ui(ui, hovered, dialog_open));
            });
        egui::CollapsingHeader::new(egui::RichText::new("Network").strong())
            .default_open(true)
            .show(ui, |ui| {
                sent.extend(
                    self.panels
                        .network
                        .section_ui(ui, &self.network, dialog_open),
                );
            });
        sent.extend(self.panels.controls.advanced_ui(ui, &self.settings));
        sent
    }

    /// `content-stem_style-stem_iterN.png` for the picture on screen.
    fn export_name(&self) -> String {
        let iteration = self.panels.preview.frame().map_or(0, |f| f.iteration);
        let path = |k| self.slots.get(k).and_then(|s| s.path.as_deref());
        super::export::default_name(path(SlotKind::Content), path(SlotKind::Style), iteration)
    }

    fn update_title(&mut self, ctx: &egui::Context) {
        let state = if self.status.is_active() {
            self.status.title_state()
        } else if let Some(d) = self.network.download() {
            format!("downloading weights {:.0}%", d.fraction() * 100.0)
        } else if self.network.missing().is_some() {
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
}

/// The worker, waking this window on every event.
fn spawn_worker(ctx: &egui::Context, options: &StudioOptions) -> Worker {
    let repaint = ctx.clone();
    Worker::spawn_with(
        Box::new(move || repaint.request_repaint()),
        WorkerConfig {
            hub: options.hub.clone(),
            assets_dir: Some(options.assets_dir.clone()),
            brushes_dir: options.brushes_dir.clone(),
            ..WorkerConfig::default()
        },
    )
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
        self.logs.frame(frame.info().cpu_usage);
        self.pump(ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        // Keys and drops first, as the panels will show their effect this frame.
        let mut input = self.shortcuts.read(&ctx);
        input.extend(self.drops.read(
            &ctx,
            self.panels.images.drop_rects(),
            self.panels.settings_file.drop_rect(),
        ));
        for command in input {
            self.execute(command, &ctx);
        }
        for command in self.layout(ui) {
            self.execute(command, &ctx);
        }
        // The instant picture follows what changed this frame.
        let content = self
            .slots
            .get(SlotKind::Content)
            .and_then(|s| s.image.as_ref());
        let style = self
            .slots
            .get(SlotKind::Style)
            .and_then(|s| s.image.as_ref());
        let mut follow = self.panels.instant.sync(content, style);
        follow.extend(self.training.follow(content).map(Command::TrainingPreview));
        for command in follow {
            self.execute(command, &ctx);
        }
        self.sync_live_weights();
        self.update_title(&ctx);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        if self.options.persist {
            persist::save(
                storage,
                &Persisted {
                    settings: self.settings.clone(),
                    prefs: UiPrefs {
                        compare: self.panels.preview.compare(),
                        export_dir: self.export.dir.clone(),
                        style_weight_memory: self.panels.controls.style_weight_memory().clone(),
                    },
                },
            );
        }
    }

    fn persist_egui_memory(&self) -> bool {
        self.options.persist
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        self.worker.send(Job::Shutdown);
    }
}
