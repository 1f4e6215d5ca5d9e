//! The history strip: a Snapshot button, the snapshots' thumbnails (newest right), and the
//! selected one's Compare and Restore. The panel owns which thumbnail is selected; the snapshots
//! are read from [`History`].

use super::Command;
use crate::studio::history::{History, Snapshot};
use crate::studio::theme;
use egui::{Color32, Pos2, Rect, RichText, Sense};

#[derive(Default)]
pub(crate) struct HistoryPanel {
    /// The clicked thumbnail, whose Compare/Restore buttons are shown.
    selected: Option<u64>,
}

impl HistoryPanel {
    /// The strip: a Snapshot button, the thumbnails (newest right), and the selected one's
    /// Compare and Restore buttons.
    pub(crate) fn ui(
        &mut self,
        ui: &mut egui::Ui,
        history: &History,
        can_take: bool,
    ) -> Vec<Command> {
        if self.selected.is_some_and(|id| history.get(id).is_none()) {
            self.selected = None; // dropped from the strip
        }
        let mut sent = Vec::new();
        ui.horizontal(|ui| {
            ui.vertical(|ui| {
                ui.label(RichText::new("History").strong());
                let take = ui
                    .add_enabled(can_take, egui::Button::new("⊕ Snapshot"))
                    .accessible_name("Take snapshot")
                    .on_hover_text(
                        "Keep the picture on screen and its settings in the history. Snapshots \
                         are also taken at the end of each run and every 50 iterations.",
                    )
                    .on_disabled_hover_text("Available once the first frame is painted");
                if take.clicked() {
                    sent.push(Command::TakeSnapshot);
                }
            });
            ui.separator();
            if history.items().next().is_none() {
                ui.label(
                    RichText::new(
                        "Snapshots appear here: one at the end of every run, one every 50 \
                         iterations, and any you take.",
                    )
                    .small()
                    .weak(),
                );
                return;
            }
            let comparing = history.comparing();
            let actions_w = if self.selected.is_some() { 250.0 } else { 0.0 };
            let strip_w = (ui.available_width() - actions_w).max(80.0);
            ui.allocate_ui(egui::vec2(strip_w, ui.available_height()), |ui| {
                egui::ScrollArea::horizontal()
                    .id_salt("history-strip")
                    .stick_to_right(true)
                    .show(ui, |ui| {
                        ui.horizontal(|ui| {
                            for snap in history.items() {
                                let chosen = self.selected == Some(snap.id);
                                if thumb(ui, snap, chosen, comparing == Some(snap.id)).clicked() {
                                    self.selected = if chosen { None } else { Some(snap.id) };
                                }
                            }
                        });
                    });
            });
            let Some(snap) = self.selected.and_then(|id| history.get(id)) else {
                return;
            };
            let id = snap.id;
            ui.separator();
            ui.vertical(|ui| {
                ui.label(
                    RichText::new(format!(
                        "Snapshot {id} · it {} · {}",
                        snap.iteration,
                        snap.kind.describe()
                    ))
                    .small(),
                );
                ui.horizontal(|ui| {
                    let comparing = comparing == Some(id);
                    let text = if comparing { "End compare" } else { "Compare" };
                    if ui
                        .selectable_label(comparing, text)
                        .accessible_name("Compare snapshot")
                        .on_hover_text(
                            "Split the preview: this snapshot left, the picture now right",
                        )
                        .clicked()
                    {
                        sent.push(Command::CompareSnapshot(id));
                    }
                    if ui
                        .button("Restore")
                        .accessible_name("Restore snapshot")
                        .on_hover_text(
                            "Put this picture back in the preview and its settings back in the \
                             controls (a running run stops)",
                        )
                        .clicked()
                    {
                        sent.push(Command::RestoreSnapshot(id));
                    }
                });
            });
        });
        sent
    }
}

fn thumb(ui: &mut egui::Ui, snap: &Snapshot, selected: bool, comparing: bool) -> egui::Response {
    let (rect, response) = ui.allocate_exact_size(egui::vec2(76.0, 58.0), Sense::click());
    let response = response
        .accessible_name(format!("Snapshot {}", snap.id))
        .on_hover_text(format!(
            "Iteration {} ({}), {} × {} px. Click to compare or restore.",
            snap.iteration,
            snap.kind.describe(),
            snap.image.width(),
            snap.image.height()
        ));
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 4.0, ui.visuals().extreme_bg_color);
    let size = snap.thumb.size_vec2();
    let inner = rect.shrink(3.0);
    let scale = (inner.width() / size.x).min(inner.height() / size.y);
    painter.image(
        snap.thumb.id(),
        Rect::from_center_size(inner.center(), size * scale),
        Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
        Color32::WHITE,
    );
    painter.text(
        rect.left_bottom() + egui::vec2(4.0, -3.0),
        egui::Align2::LEFT_BOTTOM,
        snap.iteration.to_string(),
        egui::FontId::monospace(10.0),
        Color32::WHITE,
    );
    let stroke = if selected || comparing {
        egui::Stroke::new(2.0, theme::ACCENT)
    } else if response.hovered() {
        egui::Stroke::new(1.0, theme::ACCENT.gamma_multiply(0.6))
    } else {
        egui::Stroke::new(1.0, ui.visuals().widgets.noninteractive.bg_stroke.color)
    };
    painter.rect_stroke(rect, 4.0, stroke, egui::StrokeKind::Inside);
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;
    use crate::studio::history::SnapshotKind;
    use crate::studio::panels::testing::{harness, names};
    use egui_kittest::kittest::Queryable;
    use image::RgbImage;
    use std::sync::Arc;

    /// Take, then pick a thumbnail and compare and restore it: three commands, by number.
    #[test]
    fn a_picked_snapshot_can_be_compared_and_restored() {
        let mut history = None::<History>;
        let mut panel = HistoryPanel::default();
        let mut h = harness([900.0, 84.0], |ui| {
            let history = history.get_or_insert_with(|| {
                let mut h = History::default();
                let picture = Arc::new(RgbImage::new(8, 8));
                h.push(
                    ui.ctx(),
                    picture,
                    50,
                    Settings::default(),
                    SnapshotKind::Auto,
                );
                h
            });
            panel.ui(ui, history, true)
        });
        h.run();
        h.get_by_label("Take snapshot").click();
        h.run();
        h.get_by_label("Snapshot 1").click();
        h.run();
        h.get_by_label("Compare snapshot").click();
        h.run();
        h.get_by_label("Restore snapshot").click();
        h.run();
        assert_eq!(
            names(h.state()),
            ["TakeSnapshot", "CompareSnapshot", "RestoreSnapshot"]
        );
        assert!(matches!(h.state()[2], Command::RestoreSnapshot(1)));
    }
}
