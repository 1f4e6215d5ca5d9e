//! What other threads report, turned into commands in the order it arrived (`pump`, once per
//! frame, never blocking), and how the studio answers each report: worker events and frames,
//! finished decodes, closed dialogs, finished exports, and a worker thread that died.

use super::StudioApp;
use crate::settings::LossWeights;
use crate::studio::command::Command;
use crate::studio::decode::{LoadResult, Source};
use crate::studio::dialogs::{Outcome, PendingDialog, Purpose};
use crate::studio::export::Saved;
use crate::studio::history::SnapshotKind;
use crate::studio::network::mb;
use crate::studio::notices::{Level, Topic};
use crate::studio::run_state::RunPhase;
use crate::studio::slots::{Landed, SlotKind};
use crate::weights::Model;
use crate::worker::{Command as Job, DownloadOutcome, Event, FinishReason, Frame, NetworkInfo};
use std::time::{Duration, Instant};

/// Events handled per frame at most, so a flood can't stall input handling.
const MAX_EVENTS_PER_FRAME: usize = 4096;

impl StudioApp {
    /// Everything that arrived from other threads, as commands, in arrival order.
    pub(super) fn pump(&mut self, ctx: &egui::Context) {
        if !self.worker_gave_up && !self.worker.is_alive() {
            // What it sent before it died comes first.
            while let Some(event) = self.worker.try_recv() {
                self.execute(Command::Worker(event), ctx);
            }
            self.execute(Command::WorkerDied, ctx);
        }
        if self.status.is_active() {
            // A worker that dies sends nothing: look again within a second while it should run.
            ctx.request_repaint_after(Duration::from_secs(1));
        }
        for _ in 0..MAX_EVENTS_PER_FRAME {
            let Some(event) = self.worker.try_recv() else {
                break;
            };
            self.execute(Command::Worker(event), ctx);
        }
        if let Some(frame) = self.worker.take_frame() {
            self.execute(Command::RunFrame(frame), ctx);
        }
        if let Some(image) = self.panels.instant.pump(ctx) {
            self.execute(Command::InstantPicture(image), ctx);
        }
        while let Some(result) = self.slots.poll() {
            self.execute(Command::ImageLoaded(result), ctx);
        }
        if let Some(outcome) = self.dialog.as_ref().and_then(PendingDialog::poll) {
            if let Some(purpose) = self.dialog.take().map(|d| d.purpose) {
                self.execute(Command::DialogClosed(purpose, outcome), ctx);
            }
        }
        if let Some(result) = self.export.poll() {
            self.execute(Command::ExportFinished(result), ctx);
        }
        let gathered = self
            .training
            .gathering
            .as_ref()
            .and_then(|rx| rx.try_recv().ok());
        if let Some(gathered) = gathered {
            self.execute(Command::TrainPhotosGathered(gathered), ctx);
        }
        if let Some(next) = self.notices.expire() {
            ctx.request_repaint_after(next + Duration::from_millis(50));
        }
        self.free_memory.refresh();
        if let Some(p) = self.pending_settings.take() {
            self.execute(Command::LoadSettingsFile(p), ctx);
        }
        if self.autostart && self.view().start_blocker().is_none() {
            self.autostart = false;
            self.execute(Command::Start, ctx);
        }
    }

    pub(super) fn on_worker_event(&mut self, event: Event, ctx: &egui::Context) {
        let Some(event) = self.panels.instant.absorb(event) else {
            return;
        };
        if matches!(event, Event::Training(_) | Event::Brushes(_)) {
            return self.on_brush_event(event);
        }
        match &event {
            Event::Progress(p) => self.logs.run(format_args!(
                "progress {} {} {:.2}",
                p.iteration, p.stage, p.seconds_left
            )),
            Event::Finished { reason, iteration } => {
                self.logs
                    .run(format_args!("finished {reason:?} {iteration}"));
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
                self.network.set_missing(message);
                // A first launch without weights opens on what works: the instant picture.
                if !self.first_network_answer_seen && self.panels.preview.frame().is_none() {
                    self.panels.instant.enter_instant_mode();
                    self.execute(Command::ShowMode, ctx);
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
                        self.panels.preview.show_frame(ctx, frame);
                    }
                    self.take_snapshot(SnapshotKind::End, ctx);
                }
                if reason == FinishReason::Completed {
                    self.notices.info(
                        Topic::Run,
                        format!(
                            "Finished after {iteration} iterations. Export the result below the picture."
                        ),
                    );
                }
            }
            _ => {}
        }
    }

    /// A run frame: on screen (with an automatic snapshot now and then), held back while the
    /// instant picture is shown, or dropped after a restore.
    pub(super) fn on_run_frame(&mut self, frame: Frame, ctx: &egui::Context) {
        if self.panels.instant.holds_frames() {
            self.panels.instant.hold_frame(frame);
        } else if !self.ignore_frames {
            let iteration = frame.iteration;
            self.panels.preview.show_frame(ctx, frame);
            if self.status.is_active() && self.history.auto_due(iteration) {
                self.take_snapshot(SnapshotKind::Auto, ctx);
            }
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
        self.panels.network.show_path(&info.path);
        self.network.set_loaded(info);
        self.notices.clear_title(Topic::Download);
    }

    fn on_download_finished(&mut self, outcome: DownloadOutcome) {
        let download = self.network.end_download();
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
                self.panels.network.show_path(&path);
                self.network.set_loading();
                // Remembered like a chosen file, so the next launch finds it first.
                self.settings.weights_path = Some(path);
            }
            DownloadOutcome::Cancelled { .. } => {
                let kept = download.map_or(0, |d| d.received);
                self.notices.info(
                    Topic::Download,
                    format!(
                        "Download cancelled. The {} MB received are kept: Download {name} resumes from there.",
                        mb(kept)
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

    /// A decode landed: the settings follow the slot, and a failure says what happened (a
    /// remembered file that is gone falls back to the sample, or takes its extra slot along).
    pub(super) fn on_image_loaded(&mut self, result: LoadResult, ctx: &egui::Context) {
        match self.slots.apply(result, ctx) {
            Landed::Stale => {}
            Landed::Loaded { kind, path } => {
                match kind {
                    SlotKind::Content => self.settings.content = path,
                    SlotKind::Style => self.settings.style = path,
                    SlotKind::ExtraStyle(_) => {
                        self.settings.extra_styles = self.slots.extra_refs();
                    }
                    SlotKind::Mask => self.settings.mask = path,
                }
                self.notices.clear_title(kind.notice_title());
            }
            Landed::Failed {
                kind,
                name,
                message: e,
                kept,
                fallback,
                gone_extra,
            } => {
                if let Some(i) = gone_extra {
                    self.execute(Command::RemoveSlot(SlotKind::ExtraStyle(i)), ctx);
                    self.notices.error(
                        Topic::LastSession,
                        format!("{name}: {e} That extra style was removed."),
                    );
                } else if let Some(p) = fallback {
                    // Its own topic, so loading the sample doesn't clear it.
                    self.notices.error(
                        Topic::LastSession,
                        format!(
                            "{name}: {e} The sample {} image is loaded instead.",
                            kind.label().to_lowercase()
                        ),
                    );
                    self.slots.load(kind, Source::Path(p), ctx);
                } else {
                    let kept = if kept {
                        " The previous image is kept."
                    } else {
                        ""
                    };
                    self.notices
                        .error(kind.notice_title(), format!("{name}: {e}{kept}"));
                }
            }
        }
    }

    pub(super) fn on_dialog_closed(
        &mut self,
        purpose: Purpose,
        outcome: Outcome,
        ctx: &egui::Context,
    ) {
        match outcome {
            Outcome::Chosen(path) => self.execute(
                match purpose {
                    Purpose::OpenImage(kind) => Command::LoadImage(kind, Source::Path(path)),
                    Purpose::OpenWeights => Command::LoadNetwork(path),
                    Purpose::ExportPng => Command::Export {
                        path,
                        confirmed: true,
                    },
                    Purpose::OpenSettings => Command::LoadSettingsFile(path),
                    Purpose::SavePreset => Command::SavePreset {
                        path,
                        confirmed: true,
                    },
                    Purpose::PhotosFolder => Command::SetTrainPhotos(path),
                },
                ctx,
            ),
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
                    Purpose::PhotosFolder => "type the folder's path in the Photos field of Train a brush.".into(),
                };
                self.notices.push(
                    Level::Warning,
                    Topic::FileDialog,
                    format!("No file dialog is available on this desktop: {what}"),
                );
            }
        }
    }

    pub(super) fn on_export_finished(&mut self, result: Result<Saved, String>) {
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
            }
            Err(e) => self.notices.error(Topic::Export, e),
        }
    }

    /// A fresh worker for one that died: the picture, history and settings live here and stay;
    /// a run in progress is marked failed, the network is loaded again, and instant requests
    /// are asked again. After three deaths in a minute it stops trying and says so.
    pub(super) fn replace_dead_worker(&mut self, ctx: &egui::Context) {
        let now = Instant::now();
        self.worker_deaths
            .retain(|t| now.duration_since(*t) < Duration::from_secs(60));
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
        self.worker = super::spawn_worker(ctx, &self.options);
        let weights = self
            .network
            .info()
            .map(|i| i.path.clone())
            .or_else(|| self.settings.weights_path.clone());
        self.network.set_loading();
        self.worker.send(Job::LoadNetwork(weights));
        if self.network.end_download().is_some() {
            self.notices.error(
                Topic::Download,
                "The download stopped with the compute thread: press Download again, it resumes where it was.",
            );
        }
        self.panels.instant.worker_restarted();
        self.notices.error(
            Topic::Run,
            format!(
                "The compute thread stopped unexpectedly and a fresh one was started.{run} Your \
                 images, history and settings are kept: press Start to go on."
            ),
        );
    }
}
