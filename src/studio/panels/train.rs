//! The "Train a brush" section: the painting in the Style slot, a photos folder (the bundled
//! samples by default), a time budget and a name; while it trains, the generator's picture of
//! the content, the loss curve, progress with the time left, Pause and Stop. The finished brush
//! joins the Instant palette. The panel owns its form; the training's state is read from
//! [`Training`].

use super::Command;
use crate::studio::dialogs::Purpose;
use crate::studio::training::{TrainPhase, TrainPlan, Training};
use crate::worker::FinishReason;
use egui::RichText;
use egui_plot::{Legend, Line, Plot, PlotPoints};

/// The budget the slider starts at: what the brushes in docs/gallery were trained with.
pub(crate) const DEFAULT_MINUTES: f32 = 10.0;

pub(crate) struct TrainPanel {
    /// Empty: named after the painting.
    name: String,
    /// Empty: the bundled sample photos.
    photos_text: String,
    minutes: f32,
    adversarial: bool,
    /// The preview on screen and the step it shows.
    preview: Option<(u64, egui::TextureHandle)>,
}

impl Default for TrainPanel {
    fn default() -> Self {
        Self {
            name: String::new(),
            photos_text: String::new(),
            minutes: DEFAULT_MINUTES,
            // As `atelier train`: on when the engine's defaults have it.
            adversarial: crate::engine::brush::TrainConfig::default().adversarial > 0.0,
            preview: None,
        }
    }
}

/// What the section shows besides its own form.
pub(crate) struct TrainView<'a> {
    pub training: &'a Training,
    /// The style slot's file name: what a brush is trained on.
    pub painting: Option<&'a str>,
    /// Why Train can't start now (no painting, no network…), if so.
    pub blocker: Option<String>,
    pub dialog_open: bool,
}

impl TrainPanel {
    /// A folder picked in the dialog.
    pub(crate) fn set_photos(&mut self, folder: &std::path::Path) {
        self.photos_text = folder.display().to_string();
    }

    pub(crate) fn ui(&mut self, ui: &mut egui::Ui, view: &TrainView<'_>) -> Vec<Command> {
        let mut sent = Vec::new();
        let t = view.training;
        ui.label(
            RichText::new(
                "A brush is a small network trained on one painting: once trained it paints any \
                 photo in a blink, and joins the palette above.",
            )
            .small()
            .weak(),
        );
        ui.add_space(4.0);
        let editable = !t.is_active();
        ui.add_enabled_ui(editable, |ui| self.form_ui(ui, view, &mut sent));
        ui.add_space(4.0);
        match t.phase() {
            TrainPhase::Idle | TrainPhase::Finished { .. } => {
                let train = ui
                    .add_enabled(
                        view.blocker.is_none(),
                        egui::Button::new(RichText::new("Train brush").strong()),
                    )
                    .on_hover_text(view.blocker.as_deref().unwrap_or(
                        "Trains in the background; a paint run pauses it, Pause and Stop keep what it learnt",
                    ))
                    .on_disabled_hover_text(view.blocker.as_deref().unwrap_or_default());
                if train.clicked() {
                    sent.push(Command::StartTraining(self.plan(view.painting)));
                }
            }
            TrainPhase::Gathering | TrainPhase::Starting => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(RichText::new(match t.phase() {
                        TrainPhase::Gathering => "Reading the photos…",
                        _ => "Measuring the painting…",
                    }));
                });
            }
            TrainPhase::Running | TrainPhase::Paused(_) => {
                ui.horizontal(|ui| {
                    let paused = matches!(t.phase(), TrainPhase::Paused(_));
                    let label = if paused {
                        "Resume training"
                    } else {
                        "Pause training"
                    };
                    if ui.button(label).clicked() {
                        sent.push(Command::TogglePauseTraining);
                    }
                    if ui
                        .button("Stop training")
                        .on_hover_text("Stop now and keep the brush as it is")
                        .clicked()
                    {
                        sent.push(Command::StopTraining);
                    }
                });
            }
        }
        self.status_ui(ui, t);
        sent
    }

    fn form_ui(&mut self, ui: &mut egui::Ui, view: &TrainView<'_>, sent: &mut Vec<Command>) {
        ui.horizontal(|ui| {
            ui.label("Painting");
            ui.label(RichText::new(view.painting.unwrap_or("— drop one on Style —")).strong());
        });
        ui.horizontal(|ui| {
            let label = ui.label("Name");
            ui.add(
                egui::TextEdit::singleline(&mut self.name)
                    .hint_text(stem(view.painting.unwrap_or("brush")))
                    .desired_width(170.0),
            )
            .labelled_by(label.id)
            .on_hover_text("How the palette names the brush");
        });
        ui.horizontal(|ui| {
            let label = ui.label("Photos");
            ui.add(
                egui::TextEdit::singleline(&mut self.photos_text)
                    .hint_text("bundled samples")
                    .desired_width(130.0),
            )
            .labelled_by(label.id)
            .on_hover_text(
                "A folder of photos to learn from (the more kinds of picture, the better it \
                 generalizes); empty: the bundled sample photos",
            );
            if ui
                .add_enabled(!view.dialog_open, egui::Button::new("Choose…"))
                .clicked()
            {
                sent.push(Command::OpenDialog(Purpose::PhotosFolder));
            }
        });
        ui.horizontal(|ui| {
            ui.label("Minutes");
            ui.add(
                egui::Slider::new(&mut self.minutes, 1.0..=60.0)
                    .logarithmic(true)
                    .fixed_decimals(0),
            )
            .accessible_name("Training minutes")
            .on_hover_text("Time spent training (pauses don't count); 10 minutes gives a usable brush on two cores");
        });
        ui.checkbox(&mut self.adversarial, "Discriminator")
            .on_hover_text(
                "Also train a critic that compares patches with the painting: crisper strokes, \
                 slower steps",
            );
    }

    fn status_ui(&mut self, ui: &mut egui::Ui, t: &Training) {
        if let Some(note) = t.note() {
            ui.label(RichText::new(note).small().weak());
        }
        match t.phase() {
            TrainPhase::Running | TrainPhase::Paused(_) => {
                let text = format!(
                    "step {} · {:.1} steps/s · {} left",
                    t.steps(),
                    t.steps_per_second(),
                    crate::studio::run_state::format_duration(t.seconds_left())
                );
                ui.add(egui::ProgressBar::new(t.progress() as f32).text(text));
                if let TrainPhase::Paused(reason) = t.phase() {
                    ui.label(
                        RichText::new(reason.as_deref().unwrap_or("Paused"))
                            .color(ui.visuals().warn_fg_color),
                    );
                }
            }
            TrainPhase::Finished {
                reason,
                saved,
                message,
            } => {
                let text = match (reason, saved) {
                    (FinishReason::Failed, _) | (_, None) => RichText::new(format!(
                        "Training failed: {}",
                        message.as_deref().unwrap_or("no brush was saved")
                    ))
                    .color(ui.visuals().error_fg_color),
                    (_, Some(p)) => RichText::new(format!(
                        "Saved \"{}\" after {} steps: pick it in the palette above",
                        stem(&p.display().to_string()),
                        t.steps()
                    ))
                    .weak(),
                };
                ui.label(text);
            }
            _ => {}
        }
        self.preview_ui(ui, t);
        if !t.curve().is_empty() {
            curve_ui(ui, t);
        }
    }

    /// The generator's newest picture of the content, as wide as the panel.
    fn preview_ui(&mut self, ui: &mut egui::Ui, t: &Training) {
        let Some((step, image)) = t.preview() else {
            return;
        };
        if self.preview.as_ref().is_none_or(|(s, _)| s != step) {
            let (w, h) = image.dimensions();
            let c = egui::ColorImage::from_rgb([w as usize, h as usize], image.as_raw());
            let tex = ui
                .ctx()
                .load_texture("brush-preview", c, egui::TextureOptions::LINEAR);
            self.preview = Some((*step, tex));
        }
        if let Some((step, tex)) = &self.preview {
            let width = ui.available_width().min(tex.size_vec2().x.max(1.0));
            let size = tex.size_vec2() * (width / tex.size_vec2().x.max(1.0));
            ui.add(egui::Image::new(tex).fit_to_exact_size(size))
                .on_hover_text(format!("The brush on your photo at step {step}"));
        }
    }

    /// The plan the form describes.
    fn plan(&self, painting: Option<&str>) -> TrainPlan {
        let name = match self.name.trim() {
            "" => stem(painting.unwrap_or("brush")),
            n => n.to_owned(),
        };
        TrainPlan {
            name,
            photos: match self.photos_text.trim() {
                "" => None,
                p => Some(super::expand_path(p)),
            },
            minutes: self.minutes,
            adversarial: self.adversarial,
        }
    }
}

/// The distillation and style losses, each on its own log curve (their scales differ).
fn curve_ui(ui: &mut egui::Ui, t: &Training) {
    let series = |distill: bool| -> PlotPoints<'static> {
        t.curve()
            .iter()
            .filter(|p| p.distill == distill && p.total > 0.0)
            .map(|p| [p.step as f64, p.total.log10()])
            .collect()
    };
    Plot::new("brush-loss")
        .height(90.0)
        .legend(Legend::default().position(egui_plot::Corner::RightTop))
        .x_axis_label("step")
        .y_axis_label("loss (log)")
        .allow_scroll(false)
        .allow_drag(false)
        .show(ui, |plot| {
            plot.line(Line::new("copying the teacher", series(true)));
            plot.line(Line::new("style", series(false)));
        });
}

/// A file name without folders and extension.
fn stem(name: &str) -> String {
    std::path::Path::new(name)
        .file_stem()
        .map_or_else(|| name.to_owned(), |s| s.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::studio::panels::testing::{harness, names};
    use egui_kittest::kittest::Queryable;

    /// Train sends one plan named after the painting, with the form's budget; Choose… opens
    /// the folder dialog.
    #[test]
    fn train_sends_the_plan_and_choose_opens_the_folder_dialog() {
        let mut panel = TrainPanel::default();
        let training = Training::default();
        let view = TrainView {
            training: &training,
            painting: Some("starry_night.jpg"),
            blocker: None,
            dialog_open: false,
        };
        let mut h = harness([300.0, 500.0], |ui| panel.ui(ui, &view));
        h.run();
        h.get_by_label("Choose…").click();
        h.run();
        h.get_by_label("Train brush").click();
        h.run();
        assert_eq!(names(h.state()), ["OpenDialog", "StartTraining"]);
        let Some(Command::StartTraining(plan)) = h.state().last() else {
            panic!("no plan");
        };
        assert_eq!(plan.name, "starry_night");
        assert_eq!(plan.photos, None);
        assert_eq!(plan.minutes, DEFAULT_MINUTES);
    }

    /// A blocked Train sends nothing.
    #[test]
    fn a_blocked_train_sends_nothing() {
        let mut panel = TrainPanel::default();
        let training = Training::default();
        let view = TrainView {
            training: &training,
            painting: None,
            blocker: Some("Drop a painting on Style first".into()),
            dialog_open: false,
        };
        let mut h = harness([300.0, 500.0], |ui| panel.ui(ui, &view));
        h.run();
        h.get_by_label("Train brush").click();
        h.run();
        assert!(h.state().is_empty());
    }
}
