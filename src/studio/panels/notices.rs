//! The notices above the preview: one banner each, newest last, coloured by level, with a
//! Dismiss button. Stateless: it draws [`Notices`] and returns the dismissal.

use super::Command;
use crate::studio::notices::{Level, Notices};
use egui::{Color32, RichText};

#[derive(Default)]
pub(crate) struct NoticesPanel;

impl NoticesPanel {
    pub(crate) fn ui(&mut self, ui: &mut egui::Ui, notices: &Notices) -> Vec<Command> {
        let mut dismiss = None;
        for n in notices.items() {
            let (fill, accent, icon) = match n.level {
                Level::Error => (
                    Color32::from_rgb(72, 30, 32),
                    Color32::from_rgb(255, 130, 120),
                    "!",
                ),
                Level::Warning => (
                    Color32::from_rgb(66, 54, 26),
                    Color32::from_rgb(240, 200, 110),
                    "!",
                ),
                Level::Info => (
                    Color32::from_rgb(28, 52, 44),
                    Color32::from_rgb(140, 220, 170),
                    "●",
                ),
            };
            egui::Frame::new()
                .fill(fill)
                .stroke(egui::Stroke::new(1.0, accent.gamma_multiply(0.5)))
                .corner_radius(6.0)
                .inner_margin(egui::Margin::symmetric(10, 6))
                .show(ui, |ui| {
                    ui.set_width(ui.available_width());
                    ui.horizontal(|ui| {
                        ui.label(RichText::new(icon).color(accent).strong());
                        let mut head = n.title.label();
                        if n.repeats > 1 {
                            head.push_str(&format!(" (×{})", n.repeats));
                        }
                        ui.label(RichText::new(head).color(accent).strong());
                        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                            if ui
                                .small_button("×")
                                .on_hover_text("Dismiss")
                                .accessible_name(format!("Dismiss {}", n.title.label()))
                                .clicked()
                            {
                                dismiss = Some(n.id());
                            }
                            ui.add(egui::Label::new(&n.message).wrap());
                        });
                    });
                });
            ui.add_space(4.0);
        }
        dismiss.map(Command::DismissNotice).into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::studio::notices::Topic;
    use crate::studio::panels::testing::harness;
    use egui_kittest::kittest::Queryable;

    #[test]
    fn dismiss_names_the_notice() {
        let mut notices = Notices::default();
        notices.error(Topic::Export, "the disk is full");
        notices.info(Topic::Run, "Finished");
        let id = notices.items()[0].id();
        let mut h = harness([700.0, 200.0], |ui| NoticesPanel.ui(ui, &notices));
        h.run();
        h.get_by_label("Dismiss Export").click();
        h.run();
        assert!(matches!(h.state().as_slice(), [Command::DismissNotice(d)] if *d == id));
    }
}
