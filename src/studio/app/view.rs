//! [`StudioView`]: the studio read-only, for tests and embedders (what the settings are, what
//! is loaded, where the run stands, what the window says), and the queries the app itself
//! asks before it acts (what blocks Start, what needs a restart, the memory need). It changes
//! nothing.

use super::StudioApp;
use crate::settings::Settings;
use crate::studio::network::DownloadState;
use crate::studio::notices::Notice;
use crate::studio::panels::instant::Mode;
use crate::studio::panels::CompareMode;
use crate::studio::run_plan;
use crate::studio::run_state::RunStatus;
use crate::studio::slots::{Slot, SlotKind};
use crate::worker::{NetworkInfo, RunRequest};
use image::RgbImage;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A read-only look at a [`StudioApp`].
#[derive(Clone, Copy)]
pub struct StudioView<'a> {
    app: &'a StudioApp,
}

impl<'a> StudioView<'a> {
    pub(super) fn new(app: &'a StudioApp) -> Self {
        Self { app }
    }

    /// The settings the next Start will use.
    pub fn settings(&self) -> &'a Settings {
        &self.app.settings
    }

    pub fn status(&self) -> &'a RunStatus {
        &self.app.status
    }

    fn slot(&self, kind: SlotKind) -> Option<&'a Slot> {
        self.app.slots.get(kind)
    }

    pub fn image_path(&self, kind: SlotKind) -> Option<&'a Path> {
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
        self.app.slots.extras().len()
    }

    /// What the last Start sent to the worker (while that run is the current one).
    pub fn last_run_request(&self) -> Option<&'a RunRequest> {
        self.app.run.as_ref().map(|r| &r.request)
    }

    /// The history strip, oldest first: (snapshot number, iteration).
    pub fn snapshots(&self) -> Vec<(u64, u32)> {
        self.app
            .history
            .items()
            .map(|s| (s.id, s.iteration))
            .collect()
    }

    /// The snapshot shown left of the divider, if one is being compared.
    pub fn comparing_snapshot(&self) -> Option<u64> {
        self.app.history.comparing()
    }

    pub fn network(&self) -> Option<&'a NetworkInfo> {
        self.app.network.info()
    }

    /// The worker's "weights missing" message, if that is the state.
    pub fn weights_missing(&self) -> Option<&'a str> {
        self.app.network.missing()
    }

    /// The weights download in progress, if any.
    pub fn download(&self) -> Option<&'a DownloadState> {
        self.app.network.download()
    }

    /// Iteration of the frame on screen.
    pub fn preview_iteration(&self) -> Option<u32> {
        self.app.panels.preview.frame().map(|f| f.iteration)
    }

    /// How many frames were uploaded to the preview texture.
    pub fn frames_shown(&self) -> u32 {
        self.app.panels.preview.uploads()
    }

    pub fn notices(&self) -> &'a [Notice] {
        self.app.notices.items()
    }

    pub fn window_title(&self) -> &'a str {
        &self.app.title
    }

    pub fn last_export(&self) -> Option<&'a Path> {
        self.app.export.last_saved.as_deref()
    }

    /// The slot that would receive files hovering over the window now.
    pub fn drop_target(&self) -> Option<SlotKind> {
        self.app.drops.target()
    }

    pub fn compare_mode(&self) -> CompareMode {
        self.app.panels.preview.compare()
    }

    /// The instant picture last received, if any.
    pub fn instant_image(&self) -> Option<&'a Arc<RgbImage>> {
        self.app.panels.instant.image()
    }

    /// Whether the preview is in Instant mode.
    pub fn instant_mode(&self) -> bool {
        self.app.panels.instant.mode() == Mode::Instant
    }

    /// Change-to-picture time of the last instant answer.
    pub fn instant_latency(&self) -> Option<Duration> {
        self.app.panels.instant.latency()
    }

    /// The instant panel's message (assets missing…), if any.
    pub fn instant_error(&self) -> Option<&'a str> {
        self.app.panels.instant.error()
    }

    /// Why Start is unavailable, in words for its tooltip.
    pub fn start_blocker(&self) -> Option<String> {
        run_plan::start_blocker(&self.readiness())
    }

    /// Why Train brush is unavailable, in words for its tooltip.
    pub fn train_blocker(&self) -> Option<String> {
        let app = self.app;
        let style = app.slots.get(SlotKind::Style);
        if style.is_some_and(|s| s.loading.is_some()) {
            return Some("The painting is still loading".into());
        }
        if style.and_then(|s| s.image.as_ref()).is_none() {
            return Some("Drop a painting on Style first: the brush learns its style".into());
        }
        if app.network.info().is_none() {
            return Some(
                "Training measures the style with the VGG network: load or download it first"
                    .into(),
            );
        }
        if app.training.is_active() {
            return Some("A brush is training: stop it first".into());
        }
        None
    }

    /// The brush training: its phase and numbers (tests).
    pub fn training_finished(&self) -> Option<(bool, Option<&'a std::path::Path>)> {
        match self.app.training.phase() {
            crate::studio::training::TrainPhase::Finished { reason, saved, .. } => Some((
                *reason == crate::worker::FinishReason::Completed,
                saved.as_deref(),
            )),
            _ => None,
        }
    }

    /// The brushes the Instant palette lists, by name.
    pub fn brush_names(&self) -> Vec<String> {
        self.app.panels.instant.brush_names()
    }

    /// What the artist changed that only a restart applies ("output size", "seed", …).
    pub fn restart_reasons(&self) -> Vec<&'static str> {
        let app = self.app;
        let Some(run) = app.run.as_ref().filter(|_| app.status.is_active()) else {
            return Vec::new();
        };
        let image = |k| app.slots.get(k).and_then(|s: &Slot| s.image.as_ref());
        let now = run_plan::Current {
            content: image(SlotKind::Content),
            style: image(SlotKind::Style),
            extras: app.slots.loaded_extras(),
            mask: app.slots.mask_gray(),
            settings: &app.settings,
            network_generation: app.network.generation(),
        };
        run_plan::restart_reasons(&run.request, run.network_generation, &now)
    }

    /// The run's estimated peak memory next to the free memory (shown under the size).
    pub(crate) fn memory_need(&self) -> Option<(u64, Option<u64>)> {
        run_plan::memory_need(&self.readiness())
    }

    /// What Start depends on, for [`run_plan`]'s rules.
    fn readiness(&self) -> run_plan::Readiness<'a> {
        let app = self.app;
        let view = |k| app.slots.get(k).map(Slot::view).unwrap_or_default();
        run_plan::Readiness {
            content: view(SlotKind::Content),
            style: view(SlotKind::Style),
            extras: app.slots.extras().iter().map(|e| e.slot.view()).collect(),
            mask: view(SlotKind::Mask),
            content_size: self.image_size(SlotKind::Content),
            network: app.network.view(),
            devices: &app.devices,
            settings: &app.settings,
            free_memory: app.free_memory.bytes(),
        }
    }
}
