//! Brush training on the compute thread: one training step per turn of the worker loop, as a
//! paint run takes one iteration, so commands (pause, stop, instant pictures) are answered
//! between steps. A checkpoint every minute and at the end; a preview of the generator on the
//! studio's content picture every few seconds; the loss of every step.

use super::protocol::{BrushTraining, FinishReason, TrainBudget, TrainRequest, TrainingEvent};
use crate::engine::brush::{
    state_path, Brush, BrushInfo, BrushNet, LossPoint, Teacher, TrainState, Trainer,
};
use crate::engine::instant::Arbitrary;
use crate::engine::Vgg;
use image::RgbImage;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Seconds between checkpoints.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(60);

pub(super) struct Training {
    trainer: Trainer,
    vgg: Arc<Vgg>,
    req: TrainRequest,
    /// Seconds trained before this session (a resumed brush) plus the closed active spans.
    seconds: f64,
    /// When the current active (unpaused) span began.
    active_since: Option<Instant>,
    pub paused: bool,
    last_checkpoint: Instant,
    last_preview: Option<Instant>,
    curve: Vec<LossPoint>,
    session_steps: u64,
    session_seconds: f64,
}

impl Training {
    /// Builds the trainer (the slow part: the painting's style targets, the teacher's vector).
    pub fn start(
        req: TrainRequest,
        vgg: Arc<Vgg>,
        teacher_net: Option<Arbitrary>,
    ) -> crate::Result<(Self, BrushTraining)> {
        // The brush folder of a first training doesn't exist yet.
        if let Some(dir) = req.out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                crate::Error::io(
                    format!(
                        "cannot create the folder {} for the brush; choose another place",
                        dir.display()
                    ),
                    e,
                )
            })?;
        }
        let mut config = req.config.clone();
        let previous = if req.resume {
            Some(Brush::load(&req.out)?)
        } else {
            None
        };
        if let Some(c) = previous.as_ref().and_then(|b| b.info.settings.clone()) {
            config = c;
        }
        let teacher = match (config.distill > 0.0, teacher_net) {
            (true, Some(net)) => Some(Teacher::new(net, &req.painting)?),
            (true, None) => {
                config.distill = 0.0;
                None
            }
            _ => None,
        };
        let photos = req.photos.iter().map(|p| (**p).clone()).collect();
        let mut trainer = Trainer::new(config, &vgg, &req.painting, photos, teacher)?;
        let mut seconds = 0.0;
        let mut curve = Vec::new();
        if let Some(b) = &previous {
            let sp = state_path(&req.out);
            let state = if sp.is_file() {
                Some(TrainState::load(&sp)?)
            } else {
                None
            };
            trainer.restore(
                &b.weights,
                state.as_ref().map(|s| (&s.tensors, &s.counters)),
                b.info.steps,
            )?;
            seconds = b.info.seconds;
            if let Some(s) = state {
                curve = s.curve;
            }
        }
        let info = BrushTraining {
            steps: trainer.step,
            seconds,
            parameters: trainer.config.arch.parameter_count(),
            distill: trainer.config.distill,
            discriminator: trainer.has_discriminator(),
            curve: curve.clone(),
        };
        Ok((
            Self {
                trainer,
                vgg,
                req,
                seconds,
                active_since: Some(Instant::now()),
                paused: false,
                last_checkpoint: Instant::now(),
                last_preview: None,
                curve,
                session_steps: 0,
                session_seconds: 0.0,
            },
            info,
        ))
    }

    pub fn id(&self) -> u64 {
        self.req.id
    }

    fn elapsed(&self) -> f64 {
        self.seconds + self.active_since.map_or(0.0, |t| t.elapsed().as_secs_f64())
    }

    fn progress(&self) -> f64 {
        match self.req.budget {
            TrainBudget::Seconds(s) => self.elapsed() / s.max(1e-9),
            TrainBudget::Steps(n) => self.trainer.step as f64 / n.max(1) as f64,
        }
    }

    pub fn pause(&mut self) {
        if let Some(t) = self.active_since.take() {
            let span = t.elapsed().as_secs_f64();
            self.seconds += span;
            self.session_seconds += span;
        }
        self.paused = true;
    }

    pub fn resume(&mut self) {
        self.paused = false;
        self.active_since.get_or_insert_with(Instant::now);
    }

    /// The preview picture changed (the studio's content slot).
    pub fn set_preview(&mut self, content: Arc<RgbImage>, size: u32) {
        self.req.preview = Some(content);
        self.req.preview_size = size;
        self.last_preview = None;
    }

    /// One step; `true` when the budget is spent (the caller then ends the training with
    /// [`Training::finish`]).
    pub fn step(&mut self, send: &dyn Fn(TrainingEvent)) -> crate::Result<bool> {
        let progress = self.progress();
        if progress >= 1.0 {
            return Ok(true);
        }
        let point = self.trainer.step(&self.vgg, progress)?;
        self.curve.push(point);
        self.session_steps += 1;
        let active =
            self.session_seconds + self.active_since.map_or(0.0, |t| t.elapsed().as_secs_f64());
        let rate = self.session_steps as f64 / active.max(1e-9);
        let progress = self.progress().min(1.0);
        let seconds_left = match self.req.budget {
            TrainBudget::Seconds(s) => (s - self.elapsed()).max(0.0),
            TrainBudget::Steps(n) => n.saturating_sub(self.trainer.step) as f64 / rate.max(1e-9),
        };
        send(TrainingEvent::Progress {
            id: self.req.id,
            point,
            progress,
            steps_per_second: rate,
            seconds: self.elapsed(),
            seconds_left,
        });
        let preview_due = self
            .last_preview
            .is_none_or(|t| t.elapsed() >= self.req.preview_every);
        if preview_due {
            self.last_preview = Some(Instant::now());
            if let Some(img) = self.preview()? {
                send(TrainingEvent::Preview {
                    id: self.req.id,
                    step: self.trainer.step,
                    image: Arc::new(img),
                });
            }
        }
        if self.last_checkpoint.elapsed() >= CHECKPOINT_EVERY {
            self.checkpoint()?;
            send(TrainingEvent::Checkpoint {
                id: self.req.id,
                step: self.trainer.step,
                path: self.req.out.clone(),
            });
        }
        Ok(false)
    }

    fn preview(&self) -> crate::Result<Option<RgbImage>> {
        let Some(content) = &self.req.preview else {
            return Ok(None);
        };
        let net = BrushNet::from_generator(&self.trainer.generator)?;
        Ok(Some(net.stylize(content, self.req.preview_size)?))
    }

    fn brush(&self) -> crate::Result<Brush> {
        Ok(Brush {
            info: BrushInfo {
                version: crate::engine::brush::file::VERSION,
                arch: self.trainer.config.arch,
                settings: Some(self.trainer.config.clone()),
                painting: self.req.painting_name.clone(),
                steps: self.trainer.step,
                seconds: self.elapsed(),
                losses: self.curve.last().copied(),
            },
            weights: self.trainer.generator.params.snapshot()?,
        })
    }

    /// Writes the brush and its training state (the state first, so a brush never points at an
    /// older state than its own).
    pub fn checkpoint(&mut self) -> crate::Result<()> {
        let (tensors, counters) = self.trainer.state()?;
        TrainState {
            tensors,
            counters,
            curve: self.curve.clone(),
        }
        .save(&state_path(&self.req.out))?;
        self.brush()?.save(&self.req.out)?;
        self.last_checkpoint = Instant::now();
        Ok(())
    }

    /// Saves the final checkpoint and a thumbnail beside the brush (`name.png`: the preview
    /// picture, or the painting, painted at 96 px), and says how it ended.
    pub fn finish(mut self, reason: FinishReason) -> TrainingEvent {
        self.pause();
        let id = self.req.id;
        let saved = self.checkpoint().and_then(|()| {
            let sample = self
                .req
                .preview
                .clone()
                .unwrap_or_else(|| self.req.painting.clone());
            let net = BrushNet::from_generator(&self.trainer.generator)?;
            let thumb = net.stylize(&sample, crate::brushes::THUMBNAIL.max(32))?;
            let mut png = Vec::new();
            thumb
                .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
                .map_err(|e| crate::Error::Settings(format!("thumbnail: {e}")))?;
            crate::image_io::write_atomic(&self.req.out.with_extension("png"), &png)?;
            Ok(())
        });
        match saved {
            Ok(()) => TrainingEvent::Finished {
                id,
                reason,
                step: self.trainer.step,
                seconds: self.seconds,
                path: Some(self.req.out.clone()),
                message: None,
            },
            Err(e) => TrainingEvent::Finished {
                id,
                reason: FinishReason::Failed,
                step: self.trainer.step,
                seconds: self.seconds,
                path: None,
                message: Some(format!(
                    "the brush could not be saved to {}: {e}. Free some disk space or choose \
                     another folder, then train again with resume",
                    self.req.out.display()
                )),
            },
        }
    }
}

/// Said when a paint run and a training would otherwise share the cores.
pub(super) const PAINT_TAKES_CORES: &str =
    "brush training paused: a paint run started, and the two would share the cores. Resume the \
     training when the painting is done";

impl super::Engine {
    /// The training commands (see `Command::StartTraining`).
    pub(super) fn handle_training(&mut self, cmd: super::Command, out: &super::Outbox) {
        use super::Command;
        match cmd {
            Command::StartTraining(req) => self.start_training(*req, out),
            Command::PauseTraining => {
                if let Some(t) = self.training.as_mut().filter(|t| !t.paused) {
                    t.pause();
                    out.send(super::Event::Training(TrainingEvent::Paused {
                        id: t.id(),
                        reason: None,
                    }));
                }
            }
            Command::ResumeTraining if self.training.as_ref().is_some_and(|t| t.paused) => {
                let note = self.pause_run_for_training(out);
                if let Some(t) = self.training.as_mut() {
                    t.resume();
                    out.send(super::Event::Training(TrainingEvent::Resumed {
                        id: t.id(),
                    }));
                }
                if let Some(message) = note {
                    out.send(super::Event::Error { message });
                }
            }
            Command::StopTraining => {
                if let Some(t) = self.training.take() {
                    out.send(super::Event::Training(t.finish(FinishReason::Stopped)));
                }
            }
            Command::SetTrainingPreview { content, size } => {
                if let Some(t) = self.training.as_mut() {
                    t.set_preview(content, size);
                }
            }
            _ => {}
        }
    }

    /// Pauses a running training because a paint run starts; says so.
    pub(super) fn pause_training_for_paint(&mut self, out: &super::Outbox) {
        if let Some(t) = self.training.as_mut().filter(|t| !t.paused) {
            t.pause();
            out.send(super::Event::Training(TrainingEvent::Paused {
                id: t.id(),
                reason: Some(PAINT_TAKES_CORES.into()),
            }));
        }
    }

    /// Pauses a running paint run because a training starts or resumes; returns what to tell.
    pub(super) fn pause_run_for_training(&mut self, out: &super::Outbox) -> Option<String> {
        let run = self.run.as_mut().filter(|r| !r.paused)?;
        run.paused = true;
        out.send(super::Event::Paused);
        Some(
            "the paint run is paused while the brush trains (they would share the cores); \
             press Resume to paint, which pauses the training"
                .into(),
        )
    }

    pub(super) fn start_training(&mut self, req: TrainRequest, out: &super::Outbox) {
        let refuse = |message: String| {
            out.send(super::Event::Training(TrainingEvent::Refused { message }));
        };
        if self.training.is_some() {
            return refuse(
                "a brush is already training; stop it (its brush is saved) before starting another"
                    .into(),
            );
        }
        if req.photos.is_empty() {
            return refuse("no training photos: choose a folder with a few photos".into());
        }
        let Some((_, net)) = &self.network else {
            return refuse(
                "brush training needs the VGG network: load or download weights first".into(),
            );
        };
        let vgg = net.vgg.clone();
        let mut notes = Vec::new();
        let teacher = if req.config.distill > 0.0 || req.resume {
            match self.instant.load_arbitrary(vgg.device()) {
                Ok(a) => Some(a),
                Err(e) => {
                    notes.push(format!("training from scratch (no teacher network: {e})"));
                    None
                }
            }
        } else {
            None
        };
        let id = req.id;
        match Training::start(req, vgg, teacher) {
            Ok((t, info)) => {
                if let Some(n) = self.pause_run_for_training(out) {
                    notes.push(n);
                }
                self.training = Some(t);
                let note = (!notes.is_empty()).then(|| notes.join("; "));
                out.send(super::Event::Training(TrainingEvent::Started {
                    id,
                    info,
                    note,
                }));
            }
            Err(e) => out.send(super::Event::Training(TrainingEvent::Finished {
                id,
                reason: FinishReason::Failed,
                step: 0,
                seconds: 0.0,
                path: None,
                message: Some(e.to_string()),
            })),
        }
    }

    /// One training step, with its own panic guard (a crash ends the training, not the worker).
    pub(super) fn step_training(&mut self, out: &super::Outbox) {
        let Some(t) = self.training.as_mut().filter(|t| !t.paused) else {
            return;
        };
        let send = |e: TrainingEvent| out.send(super::Event::Training(e));
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| t.step(&send)));
        let end = match result {
            Ok(Ok(false)) => None,
            Ok(Ok(true)) => Some((FinishReason::Completed, None)),
            Ok(Err(e)) => Some((FinishReason::Failed, Some(e.to_string()))),
            Err(_) => Some((
                FinishReason::Failed,
                Some("the training crashed; its last checkpoint is kept".to_string()),
            )),
        };
        if let Some((reason, message)) = end {
            if let Some(t) = self.training.take() {
                let finished = t.finish(reason);
                if let Some(message) = message {
                    out.send(super::Event::Error {
                        message: format!("brush training stopped: {message}"),
                    });
                }
                send(finished);
            }
        }
    }
}
