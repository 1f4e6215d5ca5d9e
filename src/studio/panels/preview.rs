//! The preview: the restart banner (edits a running picture only takes on a restart), the tool
//! row (Fit, 100%, Result/Split, Hold to compare, the frame's size) and the canvas. The panel owns
//! the canvas (the picture on screen, zoom and pan, the compare mode) and whether a key holds the
//! photo up; the app hands it new pictures with [`PreviewPanel::show_frame`].

use super::canvas::{Canvas, CanvasInputs, CompareMode};
use super::Command;
use crate::studio::theme;
use crate::worker::Frame;
use egui::{Color32, RichText, TextureHandle};

/// What the preview shows besides its own picture.
pub(crate) struct PreviewView<'a> {
    /// Edits since Start that only a restart applies ("output size", …).
    pub(crate) restart_reasons: &'a [&'static str],
    /// The content photo, screen-sized (the "before").
    pub(crate) content: Option<&'a TextureHandle>,
    /// Both images are loaded.
    pub(crate) images_ready: bool,
    /// Why Start is unavailable, shown on an empty canvas.
    pub(crate) blocker: Option<String>,
    /// Files hover over the window: where they will go.
    pub(crate) drop_hint: Option<&'static str>,
    /// A history snapshot to compare with, and its label.
    pub(crate) snapshot: Option<(&'a TextureHandle, String)>,
}

pub(crate) struct PreviewPanel {
    canvas: Canvas,
    /// A key (C) holds the photo up.
    key_peek: bool,
}

impl PreviewPanel {
    pub(crate) fn new(compare: CompareMode) -> Self {
        let mut canvas = Canvas::default();
        canvas.compare = compare;
        Self {
            canvas,
            key_peek: false,
        }
    }

    /// Puts a picture on screen (uploaded once; kept whole for export and snapshots).
    pub(crate) fn show_frame(&mut self, ctx: &egui::Context, frame: Frame) {
        self.canvas.set_frame(ctx, frame);
    }

    /// The picture on screen.
    pub(crate) fn frame(&self) -> Option<&Frame> {
        self.canvas.frame.as_ref()
    }

    /// How many pictures were uploaded to the screen.
    pub(crate) fn uploads(&self) -> u32 {
        self.canvas.uploads
    }

    /// Result alone or split with the photo (saved between launches).
    pub(crate) fn compare(&self) -> CompareMode {
        self.canvas.compare
    }

    pub(crate) fn fit(&mut self) {
        self.canvas.fit();
    }

    pub(crate) fn actual_size(&mut self) {
        self.canvas.actual_size();
    }

    pub(crate) fn set_key_peek(&mut self, on: bool) {
        self.key_peek = on;
    }

    pub(crate) fn ui(&mut self, ui: &mut egui::Ui, v: &PreviewView<'_>) -> Vec<Command> {
        let mut sent = Vec::new();
        let restart = ui.push_id("restart", |ui| restart_banner(ui, v.restart_reasons));
        if restart.inner {
            sent.push(Command::Start);
        }

        // The tool row.
        let mut peek = self.key_peek;
        ui.horizontal(|ui| {
            if ui
                .button("Fit")
                .on_hover_text("Fit the picture to the view (F)")
                .clicked()
            {
                sent.push(Command::FitPicture);
            }
            if ui
                .button("100%")
                .on_hover_text("One image pixel per screen pixel (1)")
                .clicked()
            {
                sent.push(Command::ActualSize);
            }
            ui.label(
                RichText::new(format!("{:.0}%", self.canvas.shown_scale * 100.0))
                    .weak()
                    .monospace(),
            );
            ui.separator();
            let compare = &mut self.canvas.compare;
            ui.selectable_value(compare, CompareMode::Result, "Result")
                .on_hover_text("The painting in progress");
            ui.selectable_value(compare, CompareMode::Split, "Split")
                .on_hover_text("Photo left, result right: drag the divider");
            let hold = ui
                .add(egui::Button::new("◐ Hold to compare"))
                .accessible_name("Hold to compare")
                .on_hover_text("Press and hold (or hold C) to see the original photo");
            peek |= hold.is_pointer_button_down_on();
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if let Some(f) = &self.canvas.frame {
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

        let empty_hint = if !v.images_ready {
            "Drop a photo and a painting on the slots at the left".to_owned()
        } else if let Some(why) = v.blocker.clone() {
            why
        } else {
            "Press ▶ Start: the picture repaints itself here, live".to_owned()
        };
        let inputs = CanvasInputs {
            content: v.content,
            peek,
            drop_hint: v.drop_hint,
            empty_hint: &empty_hint,
            snapshot: v.snapshot.as_ref().map(|(t, l)| (*t, l.as_str())),
        };
        self.canvas.show(ui, &inputs);
        sent
    }
}

/// "New output size: takes effect on restart." with Restart now; `true` when it was pressed.
fn restart_banner(ui: &mut egui::Ui, reasons: &[&str]) -> bool {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::studio::panels::testing::{harness, names};
    use egui::accesskit::Role;
    use egui_kittest::kittest::Queryable;

    fn view<'a>(reasons: &'a [&'static str]) -> PreviewView<'a> {
        PreviewView {
            restart_reasons: reasons,
            content: None,
            images_ready: true,
            blocker: None,
            drop_hint: None,
            snapshot: None,
        }
    }

    #[test]
    fn restart_now_and_the_zoom_buttons_are_commands() {
        let mut panel = PreviewPanel::new(CompareMode::Result);
        let mut h = harness([900.0, 500.0], |ui| {
            panel.ui(ui, &view(&["output size", "seed"]))
        });
        h.run();
        assert!(h
            .query_by_label_contains("New output size, seed: takes effect on restart.")
            .is_some());
        h.get_by_label("Restart now").click();
        h.run();
        h.get_by_label("Fit").click();
        h.run();
        h.get_by_role_and_label(Role::Button, "100%").click();
        h.run();
        assert_eq!(names(h.state()), ["Start", "FitPicture", "ActualSize"]);
    }

    /// Result/Split is the panel's own (saved between launches), not a command.
    #[test]
    fn split_is_kept_by_the_panel() {
        let mut panel = PreviewPanel::new(CompareMode::Result);
        {
            let mut h = harness([900.0, 500.0], |ui| panel.ui(ui, &view(&[])));
            h.run();
            h.get_by_label("Split").click();
            h.run();
            assert!(h.state().is_empty());
        }
        assert_eq!(panel.compare(), CompareMode::Split);
    }
}
