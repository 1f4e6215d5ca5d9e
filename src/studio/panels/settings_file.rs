//! The Settings file section: a drop zone and a path field for Atelier PNGs and presets, with
//! Load, Save preset and Open…. The panel owns the field's text and where its card was drawn
//! (files dropped there restore settings instead of filling an image slot).

use super::{expand_path, Command};
use crate::studio::dialogs::Purpose;
use crate::studio::theme;
use egui::Key;
use std::path::Path;

#[derive(Default)]
pub(crate) struct SettingsFilePanel {
    path_text: String,
    rect: Option<egui::Rect>,
}

impl SettingsFilePanel {
    /// Where the card was drawn last frame, for drop targeting.
    pub(crate) fn drop_rect(&self) -> Option<egui::Rect> {
        self.rect
    }

    /// The field shows the file the settings came from or went to.
    pub(crate) fn show_path(&mut self, path: &Path) {
        self.path_text = path.display().to_string();
    }

    /// `hovered`: files hover over this card now.
    pub(crate) fn ui(
        &mut self,
        ui: &mut egui::Ui,
        hovered: bool,
        dialog_open: bool,
    ) -> Vec<Command> {
        let mut sent = Vec::new();
        let visuals = ui.visuals().clone();
        // Only the hovered state: other drags are for the image slots.
        let card = theme::drop_card(&visuals, hovered.then_some(true)).show(ui, |ui| {
            ui.set_width(ui.available_width());
            // The drop zone; a click opens the file dialog, as on the image slots.
            let (rect, zone) = ui
                .allocate_exact_size(egui::vec2(ui.available_width(), 34.0), egui::Sense::click());
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
                sent.push(Command::OpenDialog(Purpose::OpenSettings));
            }
            ui.horizontal(|ui| {
                let field = ui
                    .add(
                        egui::TextEdit::singleline(&mut self.path_text)
                            .id(egui::Id::unique("atelier-settings-path"))
                            .hint_text("Atelier PNG or preset .json")
                            .desired_width(ui.available_width()),
                    )
                    .accessible_name("Settings file path")
                    .on_hover_text("Type a path, then Load (settings back) or Save preset");
                let enter = field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
                if enter && !self.path_text.trim().is_empty() {
                    sent.push(Command::LoadSettingsFile(expand_path(&self.path_text)));
                }
            });
            ui.horizontal(|ui| {
                let typed = !self.path_text.trim().is_empty();
                if ui
                    .add_enabled(typed, egui::Button::new("Load"))
                    .accessible_name("Load settings")
                    .on_hover_text("Take the settings (and images) from this PNG or preset")
                    .clicked()
                {
                    sent.push(Command::LoadSettingsFile(expand_path(&self.path_text)));
                }
                if ui
                    .add_enabled(typed, egui::Button::new("Save preset"))
                    .accessible_name("Save preset")
                    .on_hover_text("Write the current settings to this path as a JSON preset")
                    .clicked()
                {
                    sent.push(Command::SavePreset {
                        path: expand_path(&self.path_text),
                        confirmed: false,
                    });
                }
                if ui
                    .add_enabled(!dialog_open, egui::Button::new("Open…"))
                    .accessible_name("Open settings…")
                    .on_hover_text("Choose an Atelier PNG or a preset with the system dialog")
                    .clicked()
                {
                    sent.push(Command::OpenDialog(Purpose::OpenSettings));
                }
            });
        });
        self.rect = Some(card.response.rect);
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::studio::panels::testing::{harness, names};
    use egui_kittest::kittest::Queryable;

    /// A typed name saves a preset that never replaces a file (confirmed only by the dialog).
    #[test]
    fn a_typed_path_loads_or_saves_unconfirmed() {
        let mut panel = SettingsFilePanel::default();
        let mut h = harness([380.0, 200.0], |ui| panel.ui(ui, false, false));
        h.run();
        h.get_by_label("Settings file path")
            .set_text_value_accesskit("mine.json");
        h.run();
        h.get_by_label("Load settings").click();
        h.run();
        h.get_by_label("Save preset").click();
        h.run();
        assert_eq!(names(h.state()), ["LoadSettingsFile", "SavePreset"]);
        assert!(matches!(
            &h.state()[1],
            Command::SavePreset { path, confirmed: false } if path == Path::new("mine.json")
        ));
        drop(h);
        assert!(panel.drop_rect().is_some(), "the card knows where it is");
    }
}
