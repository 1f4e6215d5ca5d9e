//! Carrying out the brush commands: gathering the photos for a training (on a helper thread),
//! sending it to the worker, and taking the worker's training reports and brush listings.

use super::StudioApp;
use crate::engine::brush::TrainConfig;
use crate::image_io;
use crate::studio::command::Command;
use crate::studio::notices::Topic;
use crate::studio::slots::SlotKind;
use crate::studio::task;
use crate::studio::training::{fresh_brush_path, Gathered, TrainPlan};
use crate::worker::{Command as Job, Event, TrainBudget, TrainRequest, TrainingEvent};
use image::RgbImage;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A training's photos are scaled to this longest side at most: crops are cut at about 512 px
/// (`TrainConfig::photo_scale`), and forty 24-megapixel photos would not fit in memory.
const PHOTO_LONGEST: u32 = 1024;
/// More photos than this add memory, not variety.
const MAX_PHOTOS: usize = 200;
/// The adversarial weight the Discriminator box turns on when the settings have none (the
/// weight measured in docs/brushes.md; `atelier train` leaves it off by default).
const ADVERSARIAL_ON: f32 = 1000.0;
/// Previews of the generator on the content: this long side, this often.
const PREVIEW_SIZE: u32 = 256;
const PREVIEW_EVERY: Duration = Duration::from_secs(3);

impl StudioApp {
    /// The brush commands (see `Command`'s brushes group).
    pub(super) fn execute_brush(&mut self, command: Command, ctx: &egui::Context) {
        match command {
            Command::ListBrushes => self.worker.send(Job::ListBrushes),
            Command::StartTraining(plan) => {
                if let Some(why) = self.view().train_blocker() {
                    self.notices.error(Topic::Training, why);
                    return;
                }
                let photos = match &plan.photos {
                    Some(dir) => photo_files(dir),
                    None => Ok(crate::assets::sample_photos(&self.options.assets_dir)),
                };
                let files = match photos {
                    Ok(f) => f,
                    Err(e) => return self.training.fail(e),
                };
                let work = move || gather(plan, &files);
                match task::spawn("atelier-photos", "reading the photos", ctx, work) {
                    Ok(rx) => self.training.gather(rx),
                    Err(e) => self
                        .training
                        .fail(format!("couldn't start reading the photos ({e})")),
                }
            }
            Command::TrainPhotosGathered(gathered) => self.send_training(gathered),
            Command::TogglePauseTraining => {
                if matches!(
                    self.training.phase(),
                    crate::studio::training::TrainPhase::Paused(_)
                ) {
                    self.worker.send(Job::ResumeTraining);
                } else if self.training.is_on_worker() {
                    self.worker.send(Job::PauseTraining);
                }
            }
            Command::StopTraining if self.training.is_on_worker() => {
                self.worker.send(Job::StopTraining);
            }
            Command::SetTrainPhotos(dir) => self.panels.train.set_photos(&dir),
            Command::TrainingPreview(content) => self.worker.send(Job::SetTrainingPreview {
                content,
                size: PREVIEW_SIZE,
            }),
            _ => {}
        }
    }

    /// The photos are decoded: the training goes to the worker, painting the content.
    fn send_training(&mut self, gathered: Gathered) {
        let (plan, photos) = match gathered {
            Ok(g) => g,
            Err(e) => return self.training.fail(e),
        };
        let painting = self
            .slots
            .get(SlotKind::Style)
            .and_then(|s| s.image.clone().zip(Some(s.path.clone())));
        let Some((painting, path)) = painting else {
            return self
                .training
                .fail("the Style slot is empty: drop a painting on it".into());
        };
        let Some(dir) = self.brushes_dir() else {
            return self
                .training
                .fail("no folder for brushes: set HOME, XDG_DATA_HOME or ATELIER_DATA_DIR".into());
        };
        let out = match fresh_brush_path(&dir, &plan.name) {
            Ok(p) => p,
            Err(e) => return self.training.fail(e),
        };
        let mut config = self.train_config.clone();
        config.adversarial = match (plan.adversarial, config.adversarial > 0.0) {
            (false, _) => 0.0,
            (true, true) => config.adversarial,
            (true, false) => ADVERSARIAL_ON,
        };
        let content = self
            .slots
            .get(SlotKind::Content)
            .and_then(|s| s.image.clone());
        let id = self.training.send(content.clone());
        self.worker.send(Job::StartTraining(Box::new(TrainRequest {
            id,
            painting,
            painting_name: path
                .as_deref()
                .and_then(Path::file_name)
                .map_or_else(|| "painting".into(), |n| n.to_string_lossy().into_owned()),
            photos,
            config,
            budget: self
                .train_budget
                .unwrap_or(TrainBudget::Seconds(f64::from(plan.minutes) * 60.0)),
            out,
            resume: false,
            preview: content,
            preview_size: PREVIEW_SIZE,
            preview_every: PREVIEW_EVERY,
        })));
    }

    /// The worker's training reports and brush listings.
    pub(super) fn on_brush_event(&mut self, event: Event) {
        match event {
            Event::Training(e) => {
                // A failed step already came as an error notice; the end shows in the panel.
                if let TrainingEvent::Refused { message } = &e {
                    self.notices.error(Topic::Training, message.clone());
                }
                if let Some(saved) = self.training.absorb(e) {
                    // The new brush joins the palette, picked.
                    self.panels.instant.pick_brush(saved);
                    self.worker.send(Job::ListBrushes);
                }
            }
            Event::Brushes(list) => {
                for (path, why) in &list.damaged {
                    self.notices.push(
                        crate::studio::notices::Level::Warning,
                        Topic::Training,
                        format!("Brush {} can't be used: {why}", path.display()),
                    );
                }
                self.panels.instant.set_brushes(list);
            }
            _ => {}
        }
    }

    /// Where brushes are kept: the options' folder or the user's.
    pub(super) fn brushes_dir(&self) -> Option<PathBuf> {
        self.options
            .brushes_dir
            .clone()
            .or_else(crate::brushes::dir)
    }
}

/// The pictures in `dir` (not its subfolders), sorted, at most [`MAX_PHOTOS`].
fn photo_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let read = std::fs::read_dir(dir).map_err(|e| {
        format!(
            "can't read the photos folder {} ({e}): choose another folder",
            dir.display()
        )
    })?;
    let mut files: Vec<PathBuf> = read
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                matches!(
                    e.to_ascii_lowercase().as_str(),
                    "png" | "jpg" | "jpeg" | "webp" | "bmp" | "tif" | "tiff"
                )
            })
        })
        .collect();
    files.sort();
    files.truncate(MAX_PHOTOS);
    if files.is_empty() {
        return Err(format!(
            "{} has no photos (PNG, JPEG, WebP…): choose a folder of photos",
            dir.display()
        ));
    }
    Ok(files)
}

/// Decodes the photos (smaller ones are kept as they are), skipping files that aren't pictures.
fn gather(plan: TrainPlan, files: &[PathBuf]) -> Result<(TrainPlan, Vec<Arc<RgbImage>>), String> {
    let mut photos = Vec::new();
    let mut skipped = Vec::new();
    for f in files {
        match image_io::load_image(f) {
            Ok(img) if img.width().max(img.height()) > PHOTO_LONGEST => {
                photos.push(Arc::new(image_io::resize_longest(&img, PHOTO_LONGEST)));
            }
            Ok(img) if img.width().min(img.height()) >= 64 => photos.push(Arc::new(img)),
            Ok(_) => skipped.push(f.display().to_string()),
            Err(e) => skipped.push(format!("{} ({e})", f.display())),
        }
    }
    if photos.is_empty() {
        return Err(format!(
            "none of the photos could be used (at least 64 pixels on each side): {}",
            skipped.join(", ")
        ));
    }
    Ok((plan, photos))
}

/// The default training settings the studio starts from (tests make them tiny).
pub(super) fn default_config() -> TrainConfig {
    TrainConfig::default()
}
