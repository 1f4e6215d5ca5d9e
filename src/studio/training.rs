//! A brush training as the studio knows it: what the artist asked for (a [`TrainPlan`]), the
//! photos being decoded for it, then the worker's reports (progress, previews, the loss curve,
//! pauses, the end). No drawing here: the "Train a brush" section is `panels/train.rs`.

use crate::engine::brush::LossPoint;
use crate::worker::{FinishReason, TrainingEvent};
use image::RgbImage;
use std::path::PathBuf;
use std::sync::mpsc::Receiver;
use std::sync::Arc;

/// What the Train section asks for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TrainPlan {
    /// The brush's name in the palette (made safe for a file name when saved).
    pub name: String,
    /// A folder of photos; `None`: the bundled sample photos.
    pub photos: Option<PathBuf>,
    /// The time budget, active minutes (pauses don't count).
    pub minutes: f32,
    /// Train a discriminator too (crisper strokes, slower steps).
    pub adversarial: bool,
}

/// Where a training stands.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TrainPhase {
    Idle,
    /// The photos are being decoded (on a helper thread).
    Gathering,
    /// Sent to the worker; it builds the trainer (style targets, the teacher) before `Started`.
    Starting,
    Running,
    /// `reason`: set when the worker paused it (a paint run took the cores).
    Paused(Option<String>),
    /// Ended; `saved` is the brush file when there is one.
    Finished {
        reason: FinishReason,
        saved: Option<PathBuf>,
        message: Option<String>,
    },
}

/// The photos a plan decodes to: the plan again with them, or why not.
pub(crate) type Gathered = Result<(TrainPlan, Vec<Arc<RgbImage>>), String>;

/// The studio's training, fed by the worker's [`TrainingEvent`]s.
pub(crate) struct Training {
    phase: TrainPhase,
    /// The id of the training these events belong to (older ones are ignored).
    id: u64,
    next_id: u64,
    pub(crate) gathering: Option<Receiver<Gathered>>,
    /// Every step's losses, the resumed part included.
    curve: Vec<LossPoint>,
    progress: f64,
    steps: u64,
    steps_per_second: f64,
    seconds_left: f64,
    preview: Option<(u64, Arc<RgbImage>)>,
    /// A note from the start (the paint run was paused, no teacher…).
    note: Option<String>,
    /// The content the worker paints its previews on.
    preview_content: Option<Arc<RgbImage>>,
}

impl Default for Training {
    fn default() -> Self {
        Self {
            phase: TrainPhase::Idle,
            id: 0,
            next_id: 1,
            gathering: None,
            curve: Vec::new(),
            progress: 0.0,
            steps: 0,
            steps_per_second: 0.0,
            seconds_left: 0.0,
            preview: None,
            note: None,
            preview_content: None,
        }
    }
}

impl Training {
    pub(crate) fn phase(&self) -> &TrainPhase {
        &self.phase
    }

    /// Gathering, starting, running or paused: the Train button waits.
    pub(crate) fn is_active(&self) -> bool {
        !matches!(self.phase, TrainPhase::Idle | TrainPhase::Finished { .. })
    }

    /// A training the worker holds (pause, resume and stop mean something).
    pub(crate) fn is_on_worker(&self) -> bool {
        matches!(
            self.phase,
            TrainPhase::Starting | TrainPhase::Running | TrainPhase::Paused(_)
        )
    }

    /// The photos for `plan` are being decoded.
    pub(crate) fn gather(&mut self, rx: Receiver<Gathered>) {
        *self = Self {
            next_id: self.next_id,
            ..Self::default()
        };
        self.gathering = Some(rx);
        self.phase = TrainPhase::Gathering;
    }

    /// The content changed while the worker trains: the previews should follow it (once).
    pub(crate) fn follow(&mut self, content: Option<&Arc<RgbImage>>) -> Option<Arc<RgbImage>> {
        let content = content?;
        let same = self
            .preview_content
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(c, content));
        if !self.is_on_worker() || same {
            return None;
        }
        self.preview_content = Some(content.clone());
        Some(content.clone())
    }

    /// The photos are in; the request goes to the worker under the id this returns. `content`:
    /// what its previews paint.
    pub(crate) fn send(&mut self, content: Option<Arc<RgbImage>>) -> u64 {
        self.preview_content = content;
        self.gathering = None;
        self.id = self.next_id;
        self.next_id += 1;
        self.phase = TrainPhase::Starting;
        self.id
    }

    /// It could not start (no photos, no network…): back to idle with the reason.
    pub(crate) fn fail(&mut self, message: String) {
        self.gathering = None;
        self.phase = TrainPhase::Finished {
            reason: FinishReason::Failed,
            saved: None,
            message: Some(message),
        };
    }

    /// Takes one of the worker's reports; returns the saved brush when this one ends with it.
    pub(crate) fn absorb(&mut self, event: TrainingEvent) -> Option<PathBuf> {
        match event {
            TrainingEvent::Started { id, info, note } if id == self.id => {
                self.curve = info.curve;
                self.steps = info.steps;
                self.note = note;
                self.phase = TrainPhase::Running;
            }
            TrainingEvent::Progress {
                id,
                point,
                progress,
                steps_per_second,
                seconds_left,
                ..
            } if id == self.id => {
                self.curve.push(point);
                self.steps = point.step;
                self.progress = progress;
                self.steps_per_second = steps_per_second;
                self.seconds_left = seconds_left;
            }
            TrainingEvent::Preview { id, step, image } if id == self.id => {
                self.preview = Some((step, image));
            }
            TrainingEvent::Paused { id, reason } if id == self.id => {
                self.phase = TrainPhase::Paused(reason);
            }
            TrainingEvent::Resumed { id } if id == self.id => {
                self.phase = TrainPhase::Running;
            }
            TrainingEvent::Refused { message } if self.phase == TrainPhase::Starting => {
                self.fail(message);
            }
            TrainingEvent::Finished {
                id,
                reason,
                path,
                message,
                step,
                ..
            } if id == self.id => {
                self.steps = step;
                self.phase = TrainPhase::Finished {
                    reason,
                    saved: path.clone(),
                    message,
                };
                return path;
            }
            _ => {}
        }
        None
    }

    pub(crate) fn curve(&self) -> &[LossPoint] {
        &self.curve
    }

    /// 0..1 of the budget.
    pub(crate) fn progress(&self) -> f64 {
        self.progress
    }

    pub(crate) fn steps(&self) -> u64 {
        self.steps
    }

    pub(crate) fn steps_per_second(&self) -> f64 {
        self.steps_per_second
    }

    pub(crate) fn seconds_left(&self) -> f64 {
        self.seconds_left
    }

    /// The newest picture of the generator on the content, with its step.
    pub(crate) fn preview(&self) -> Option<&(u64, Arc<RgbImage>)> {
        self.preview.as_ref()
    }

    pub(crate) fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }
}

/// `name.safetensors` in `dir`, or `name-2`, `name-3`… when taken: a training never replaces a
/// brush the artist already has.
pub(crate) fn fresh_brush_path(dir: &std::path::Path, name: &str) -> Result<PathBuf, String> {
    let safe = crate::brushes::safe_name(name).map_err(|e| e.to_string())?;
    let ext = crate::brushes::EXTENSION;
    (1..1000)
        .map(|n| match n {
            1 => dir.join(format!("{safe}.{ext}")),
            n => dir.join(format!("{safe}-{n}.{ext}")),
        })
        .find(|p| !p.exists())
        .ok_or_else(|| format!("too many brushes named {safe}: choose another name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(step: u64, total: f64) -> LossPoint {
        LossPoint {
            step,
            total,
            ..LossPoint::default()
        }
    }

    /// Events of an older training never move the new one; the end names the saved brush.
    #[test]
    fn events_follow_the_current_training_only() {
        let mut t = Training::default();
        let (_tx, rx) = std::sync::mpsc::channel();
        t.gather(rx);
        assert_eq!(t.phase(), &TrainPhase::Gathering);
        let content = Arc::new(RgbImage::new(8, 8));
        let id = t.send(Some(content.clone()));
        assert_eq!(t.follow(Some(&content)), None, "already painting it");
        let other = Arc::new(RgbImage::new(8, 8));
        assert!(t.follow(Some(&other)).is_some());
        assert_eq!(t.follow(Some(&other)), None, "once");
        assert!(t.is_on_worker());
        let progress = |id, step| TrainingEvent::Progress {
            id,
            point: point(step, 10.0 / step as f64),
            progress: step as f64 / 10.0,
            steps_per_second: 2.0,
            seconds: 1.0,
            seconds_left: 4.0,
        };
        assert_eq!(t.absorb(progress(id + 7, 1)), None);
        assert!(t.curve().is_empty(), "another training's step");
        t.absorb(progress(id, 1));
        t.absorb(progress(id, 2));
        let steps: Vec<(u64, f64)> = t.curve().iter().map(|p| (p.step, p.total)).collect();
        assert_eq!(steps, [(1, 10.0), (2, 5.0)]);
        assert_eq!(t.steps(), 2);
        t.absorb(TrainingEvent::Paused {
            id,
            reason: Some("a paint run started".into()),
        });
        assert_eq!(
            t.phase(),
            &TrainPhase::Paused(Some("a paint run started".into()))
        );
        let saved = t.absorb(TrainingEvent::Finished {
            id,
            reason: FinishReason::Completed,
            step: 2,
            seconds: 3.0,
            path: Some(PathBuf::from("/b/x.safetensors")),
            message: None,
        });
        assert_eq!(saved, Some(PathBuf::from("/b/x.safetensors")));
        assert!(!t.is_active());
    }

    #[test]
    fn a_new_brush_never_takes_an_existing_name() {
        let dir = tempfile::tempdir().unwrap();
        let first = fresh_brush_path(dir.path(), "Starry night").unwrap();
        assert_eq!(first, dir.path().join("Starry night.safetensors"));
        std::fs::write(&first, b"x").unwrap();
        let second = fresh_brush_path(dir.path(), "Starry night").unwrap();
        assert_eq!(second, dir.path().join("Starry night-2.safetensors"));
        assert!(fresh_brush_path(dir.path(), "  ").is_err());
    }
}
