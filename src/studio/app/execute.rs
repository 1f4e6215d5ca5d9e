//! `StudioApp::execute`: the one place where commands change the shared state or reach the
//! worker. The match reads as the list of everything the studio can do; the longer answers
//! follow it, and those to other threads' reports are in reports.rs.

use super::{RunSnapshot, StudioApp};
use crate::settings::{InitKind, Settings};
use crate::studio::command::Command;
use crate::studio::decode::Source;
use crate::studio::dialogs::{self, Purpose};
use crate::studio::export;
use crate::studio::history::SnapshotKind;
use crate::studio::notices::{Level, Topic};
use crate::studio::presets;
use crate::studio::run_state::RunPhase;
use crate::studio::slots::SlotKind;
use crate::worker::{Command as Job, Frame, RunRequest};
use std::path::{Path, PathBuf};

impl StudioApp {
    /// Carries out one command.
    pub(crate) fn execute(&mut self, command: Command, ctx: &egui::Context) {
        match command {
            Command::Start => self.start(),
            Command::Refine => {
                self.panels.instant.prepare_refine();
                self.settings.init = InitKind::Instant;
                self.start();
                // A blocked start must not leave the picture for a later plain Start.
                let _ = self.panels.instant.take_init();
            }
            Command::TogglePause => match self.status.phase {
                RunPhase::Running => self.worker.send(Job::Pause),
                RunPhase::Paused => self.worker.send(Job::Resume),
                _ => {}
            },
            Command::Stop => {
                if self.status.is_active() {
                    self.worker.send(Job::Stop);
                }
            }

            Command::EditSettings(settings) => self.settings = *settings,
            Command::ApplyPreset(index) => {
                if let Some(b) = presets::BUILT_IN.get(index) {
                    (b.apply)(&mut self.settings);
                    self.notices.info(
                        Topic::Settings,
                        format!("Preset \u{201c}{}\u{201d}: {}.", b.name, b.tip),
                    );
                }
            }
            Command::LoadSettingsFile(path) => self.load_settings_file(&path, ctx),
            Command::SavePreset { path, confirmed } => self.save_preset(&path, confirmed),

            Command::LoadImage(kind, source) => self.slots.load(kind, source, ctx),
            Command::AddStyleSlot => {
                self.slots.add_extra();
            }
            Command::RemoveSlot(kind) => self.remove_slot(kind),
            Command::SetBlendWeight(SlotKind::ExtraStyle(i), weight) => {
                self.slots.set_extra_weight(i, weight);
                self.settings.extra_styles = self.slots.extra_refs();
            }
            Command::SetBlendWeight(_, weight) => self.settings.style_blend_weight = weight,

            Command::LoadNetwork(path) => self.load_network(path),
            Command::DownloadWeights(model) => {
                if self.network.begin_download(model) {
                    self.notices.clear_title(Topic::Download);
                    self.worker.send(Job::DownloadWeights(model));
                }
            }
            Command::CancelDownload => {
                if self.network.cancel_download() {
                    self.worker.send(Job::CancelDownload);
                }
            }

            Command::OpenDialog(purpose) => self.open_dialog(purpose, ctx),
            Command::Export { path, confirmed } => self.export_to(path, confirmed, ctx),

            Command::TakeSnapshot => self.take_snapshot(SnapshotKind::Manual, ctx),
            Command::CompareSnapshot(id) => self.history.toggle_compare(ctx, id),
            Command::RestoreSnapshot(id) => self.restore_snapshot(id, ctx),

            Command::FitPicture => self.panels.preview.fit(),
            Command::ActualSize => self.panels.preview.actual_size(),
            Command::Peek(on) => self.panels.preview.set_key_peek(on),
            Command::ShowMode => self.show_mode(ctx),
            Command::PaintInstant(request) => self.worker.send(Job::PaintInstant(request)),
            Command::DrawSwatches { sample, size } => {
                self.worker.send(Job::InstantThumbnails { sample, size });
            }

            c @ (Command::ListBrushes
            | Command::StartTraining(_)
            | Command::TrainPhotosGathered(_)
            | Command::TogglePauseTraining
            | Command::StopTraining
            | Command::SetTrainPhotos(_)
            | Command::TrainingPreview(_)) => self.execute_brush(c, ctx),

            Command::Notify(level, topic, message) => self.notices.push(level, topic, message),
            Command::DismissNotice(id) => self.notices.dismiss(id),

            Command::Worker(event) => self.on_worker_event(event, ctx),
            Command::RunFrame(frame) => self.on_run_frame(frame, ctx),
            Command::InstantPicture(image) => {
                self.panels.preview.show_frame(
                    ctx,
                    Frame {
                        iteration: 0,
                        image,
                    },
                );
            }
            Command::ImageLoaded(result) => self.on_image_loaded(result, ctx),
            Command::DialogClosed(purpose, outcome) => self.on_dialog_closed(purpose, outcome, ctx),
            Command::ExportFinished(result) => self.on_export_finished(result),
            Command::WorkerDied => self.replace_dead_worker(ctx),
        }
    }

    fn start(&mut self) {
        if let Some(why) = self.view().start_blocker() {
            self.notices.error(Topic::CantStart, why);
            return;
        }
        self.logs.run(format_args!("start"));
        let content = self
            .slots
            .get(SlotKind::Content)
            .and_then(|s| s.image.clone());
        let style = self
            .slots
            .get(SlotKind::Style)
            .and_then(|s| s.image.clone());
        let (Some(content), Some(style)) = (content, style) else {
            return;
        };
        self.settings.extra_styles = self.slots.extra_refs();
        let mut settings = self.settings.clone();
        if let Some(info) = self.network.info() {
            settings.weights_path = Some(info.path.clone());
        }
        self.notices.clear_title(Topic::Run);
        self.notices.clear_title(Topic::CantStart);
        self.panels.instant.leave_for_run();
        let request = RunRequest {
            settings: settings.clone(),
            init_image: self.panels.instant.take_init(),
            content,
            style,
            extra_styles: self.slots.loaded_extras(),
            mask: self.slots.mask_gray().cloned(),
        };
        debug_assert_eq!(request.extra_styles.len(), settings.extra_styles.len());
        self.worker.send(Job::Start(Box::new(request.clone())));
        self.status.begin(settings.iterations);
        self.sent_weights = Some(settings.weights.clone());
        self.ignore_frames = false;
        self.history.run_started();
        self.run = Some(RunSnapshot {
            request,
            network_generation: self.network.generation(),
        });
    }

    /// Sends changed loss weights to a running (or paused) run: the artist steers live.
    pub(super) fn sync_live_weights(&mut self) {
        if !self.status.is_active() || self.sent_weights.as_ref() == Some(&self.settings.weights) {
            return;
        }
        let w = &self.settings.weights;
        if w.check().is_err() {
            return; // the controls already show what's wrong
        }
        self.worker.send(Job::SetLossWeights(w.clone()));
        self.sent_weights = Some(w.clone());
        self.status.mark_steer();
    }

    /// An extra style slot goes; the mask empties.
    fn remove_slot(&mut self, kind: SlotKind) {
        match kind {
            SlotKind::ExtraStyle(i) => {
                if self.slots.remove_extra(i) {
                    self.notices.clear_title(kind.notice_title());
                    self.settings.extra_styles = self.slots.extra_refs();
                }
            }
            SlotKind::Mask => {
                self.slots.clear_mask();
                self.settings.mask = None;
                self.notices.clear_title(kind.notice_title());
            }
            SlotKind::Content | SlotKind::Style => {}
        }
    }

    /// Takes settings from a PNG, a preset or a snapshot. The machine's own choices (weights
    /// file, device, threads) stay; images load from their paths, and files that aren't on this
    /// computer keep the current image (listed in a notice).
    fn adopt_settings(&mut self, mut s: Settings, source: &str, ctx: &egui::Context) {
        s.weights_path = self.settings.weights_path.clone();
        s.device = self.settings.device;
        s.threads = self.settings.threads;
        let mut missing = Vec::new();
        let path_of =
            |slots: &crate::studio::slots::Slots, k| slots.get(k).and_then(|s| s.path.clone());
        for (kind, want) in [
            (SlotKind::Content, s.content.take()),
            (SlotKind::Style, s.style.take()),
        ] {
            let Some(p) = want else { continue };
            if path_of(&self.slots, kind).as_ref() == Some(&p) {
                continue;
            }
            if p.is_file() {
                self.slots.load(kind, Source::Path(p), ctx);
            } else {
                missing.push(p);
            }
        }
        s.content = path_of(&self.slots, SlotKind::Content);
        s.style = path_of(&self.slots, SlotKind::Style);
        let extras = std::mem::take(&mut s.extra_styles);
        match s.mask.take() {
            Some(p) if path_of(&self.slots, SlotKind::Mask).as_ref() == Some(&p) => {}
            Some(p) if p.is_file() => self.slots.load(SlotKind::Mask, Source::Path(p), ctx),
            Some(p) => missing.push(p),
            None => self.slots.clear_mask(),
        }
        s.mask = self
            .slots
            .get(SlotKind::Mask)
            .filter(|m| m.image.is_some())
            .and_then(|m| m.path.clone());
        self.settings = s;
        missing.extend(self.slots.set_extras(&extras, ctx));
        self.settings.extra_styles = self.slots.extra_refs();
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
                self.panels.settings_file.show_path(path);
                self.adopt_settings(s, &file_name(path), ctx);
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
                self.panels.settings_file.show_path(&written.path);
                self.notices.clear_title(Topic::Settings);
                let note = written.instead_of.map_or(String::new(), |p| {
                    format!(" ({} exists and was kept)", file_name(&p))
                });
                self.notices.info(
                    Topic::Settings,
                    format!("Preset saved to {}{note}", written.path.display()),
                );
            }
            Err(e) => self.notices.error(Topic::Settings, e),
        }
    }

    fn load_network(&mut self, path: PathBuf) {
        // The artist chose a file: a running download is no longer wanted (what arrived is kept).
        if self.network.cancel_download() {
            self.worker.send(Job::CancelDownload);
        }
        self.panels.network.show_path(&path);
        self.network.set_loading();
        self.settings.weights_path = Some(path.clone());
        self.worker.send(Job::LoadNetwork(Some(path)));
    }

    fn open_dialog(&mut self, purpose: Purpose, ctx: &egui::Context) {
        if self.dialog.is_some() {
            return;
        }
        let export_dir = || Some(self.export.dir.clone().unwrap_or_else(export::default_dir));
        let (dir, name) = match purpose {
            Purpose::OpenImage(kind) => (
                self.slots
                    .get(kind)
                    .and_then(|s| s.path.as_ref())
                    .or(self
                        .slots
                        .get(SlotKind::Style)
                        .and_then(|s| s.path.as_ref()))
                    .and_then(|p| p.parent().map(Path::to_path_buf)),
                None,
            ),
            Purpose::OpenWeights | Purpose::OpenSettings | Purpose::PhotosFolder => (None, None),
            Purpose::SavePreset => (export_dir(), Some("atelier-preset.json".to_owned())),
            // Ctrl+S before the first frame: nothing to export.
            Purpose::ExportPng if self.panels.preview.frame().is_none() => return,
            Purpose::ExportPng => (export_dir(), Some(self.export_name())),
        };
        match dialogs::spawn(purpose, dir, name, ctx) {
            Ok(d) => self.dialog = Some(d),
            Err(e) => self.notices.error(Topic::FileDialog, e),
        }
    }

    /// Writes the frame on screen with the settings that produced it.
    /// `confirmed`: chosen in the save dialog, which asked before replacing a file; otherwise an
    /// existing file is kept and the picture gets a fresh name.
    fn export_to(&mut self, path: PathBuf, confirmed: bool, ctx: &egui::Context) {
        let Some(frame) = self.panels.preview.frame().cloned() else {
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

    pub(super) fn take_snapshot(&mut self, kind: SnapshotKind, ctx: &egui::Context) {
        if let Some(frame) = self.panels.preview.frame().cloned() {
            let settings = self.frame_settings();
            self.history
                .push(ctx, frame.image, frame.iteration, settings, kind);
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
            self.worker.send(Job::Stop);
            self.ignore_frames = true;
        }
        self.history.stop_comparing();
        self.panels
            .preview
            .show_frame(ctx, Frame { iteration, image });
        // Exports now describe the restored picture, not the last run.
        self.run = None;
        self.sent_weights = None;
        self.adopt_settings(
            settings,
            &format!("snapshot {id} (iteration {iteration})"),
            ctx,
        );
    }

    /// Puts the current mode's picture in the preview.
    fn show_mode(&mut self, ctx: &egui::Context) {
        if self.panels.instant.holds_frames() {
            if let Some(image) = self.panels.instant.image().cloned() {
                self.panels.preview.show_frame(
                    ctx,
                    Frame {
                        iteration: 0,
                        image,
                    },
                );
            }
        } else if let Some(frame) = self.panels.instant.take_held_frame() {
            self.panels.preview.show_frame(ctx, frame);
        }
    }
}

/// A file's name for a notice, or the whole path when it has none.
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
