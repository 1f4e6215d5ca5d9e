//! A strip of snapshots taken during and between runs: at the end of each run, every
//! [`AUTO_EVERY`] iterations while painting, and on demand. One can be compared with the picture
//! on screen or restored (its picture back in the preview, its settings back in the controls).

use super::image_slot::to_color_image;
use crate::settings::Settings;
use egui::{Color32, Pos2, Rect, RichText, Sense, TextureHandle, TextureOptions};
use image::RgbImage;
use std::collections::VecDeque;
use std::sync::Arc;

/// At most this many snapshots are kept; the oldest goes first.
pub(crate) const CAPACITY: usize = 24;
/// A snapshot is taken automatically this many iterations apart while a run paints.
pub(crate) const AUTO_EVERY: u32 = 50;
const THUMB_SIDE: u32 = 96;

/// Why a snapshot was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotKind {
    /// Every [`AUTO_EVERY`] iterations.
    Auto,
    /// The Snapshot button.
    Manual,
    /// The run ended (completed or stopped).
    End,
}

impl SnapshotKind {
    fn describe(self) -> &'static str {
        match self {
            SnapshotKind::Auto => "during the run",
            SnapshotKind::Manual => "taken by hand",
            SnapshotKind::End => "end of the run",
        }
    }
}

pub(crate) struct Snapshot {
    /// Stable number, shown and used as the accessible name ("Snapshot 3").
    pub(crate) id: u64,
    pub(crate) kind: SnapshotKind,
    pub(crate) iteration: u32,
    pub(crate) image: Arc<RgbImage>,
    /// The settings that painted it (live weight changes included).
    pub(crate) settings: Settings,
    thumb: TextureHandle,
}

/// What the artist asked of the strip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HistoryAction {
    Take,
    /// Start or end comparing the selected snapshot with the preview.
    Compare(u64),
    Restore(u64),
}

#[derive(Default)]
pub(crate) struct History {
    items: VecDeque<Snapshot>,
    next_id: u64,
    /// The clicked thumbnail, whose Compare/Restore buttons are shown.
    pub(crate) selected: Option<u64>,
    /// The snapshot drawn left of the split divider, and its full-size texture.
    comparing: Option<(u64, TextureHandle)>,
    /// Iteration of the last automatic snapshot in the current run.
    pub(crate) last_auto: u32,
}

impl History {
    pub(crate) fn items(&self) -> impl Iterator<Item = &Snapshot> {
        self.items.iter()
    }

    pub(crate) fn get(&self, id: u64) -> Option<&Snapshot> {
        self.items.iter().find(|s| s.id == id)
    }

    /// Keeps `image` unless it is the newest snapshot already (then only its kind is updated, so
    /// a run's last frame isn't stored twice).
    pub(crate) fn push(
        &mut self,
        ctx: &egui::Context,
        image: Arc<RgbImage>,
        iteration: u32,
        settings: Settings,
        kind: SnapshotKind,
    ) {
        if let Some(last) = self.items.back_mut() {
            if Arc::ptr_eq(&last.image, &image) {
                if kind != SnapshotKind::Auto {
                    last.kind = kind;
                }
                return;
            }
        }
        self.next_id += 1;
        let thumb = ctx.load_texture(
            format!("snapshot-{}", self.next_id),
            to_color_image(&image, THUMB_SIDE),
            TextureOptions::LINEAR,
        );
        self.items.push_back(Snapshot {
            id: self.next_id,
            kind,
            iteration,
            image,
            settings,
            thumb,
        });
        while self.items.len() > CAPACITY {
            if let Some(old) = self.items.pop_front() {
                if self.selected == Some(old.id) {
                    self.selected = None;
                }
                if self.comparing.as_ref().is_some_and(|c| c.0 == old.id) {
                    self.comparing = None;
                }
            }
        }
    }

    /// The snapshot texture and its label while comparing.
    pub(crate) fn compare_texture(&self) -> Option<(&TextureHandle, String)> {
        let (id, tex) = self.comparing.as_ref()?;
        let snap = self.get(*id)?;
        Some((tex, format!("Snapshot {} · it {}", snap.id, snap.iteration)))
    }

    pub(crate) fn comparing(&self) -> Option<u64> {
        self.comparing.as_ref().map(|c| c.0)
    }

    pub(crate) fn toggle_compare(&mut self, ctx: &egui::Context, id: u64) {
        if self.comparing() == Some(id) {
            self.comparing = None;
            return;
        }
        let Some(snap) = self.get(id) else { return };
        let side = ctx.input(|i| i.max_texture_side) as u32;
        let tex = ctx.load_texture(
            "snapshot-compare",
            to_color_image(&snap.image, side),
            super::preview::FRAME_TEXTURE,
        );
        self.comparing = Some((id, tex));
    }

    pub(crate) fn stop_comparing(&mut self) {
        self.comparing = None;
    }

    /// The strip: a Snapshot button, the thumbnails (newest right), and the selected one's
    /// Compare and Restore buttons.
    pub(crate) fn show(&mut self, ui: &mut egui::Ui, can_take: bool) -> Option<HistoryAction> {
        let mut action = None;
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
                    action = Some(HistoryAction::Take);
                }
            });
            ui.separator();
            if self.items.is_empty() {
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
            let comparing = self.comparing();
            let actions_w = if self.selected.is_some() { 250.0 } else { 0.0 };
            let strip_w = (ui.available_width() - actions_w).max(80.0);
            ui.allocate_ui(egui::vec2(strip_w, ui.available_height()), |ui| {
                egui::ScrollArea::horizontal()
                    .id_salt("history-strip")
                    .stick_to_right(true)
                    .show(ui, |ui| {
                        ui.horizontal(|ui| {
                            for snap in &self.items {
                                let chosen = self.selected == Some(snap.id);
                                if thumb(ui, snap, chosen, comparing == Some(snap.id)).clicked() {
                                    self.selected = if chosen { None } else { Some(snap.id) };
                                }
                            }
                        });
                    });
            });
            let Some(snap) = self.selected.and_then(|id| self.get(id)) else {
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
                        action = Some(HistoryAction::Compare(id));
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
                        action = Some(HistoryAction::Restore(id));
                    }
                });
            });
        });
        action
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
        egui::Stroke::new(2.0, super::theme::ACCENT)
    } else if response.hovered() {
        egui::Stroke::new(1.0, super::theme::ACCENT.gamma_multiply(0.6))
    } else {
        egui::Stroke::new(1.0, ui.visuals().widgets.noninteractive.bg_stroke.color)
    };
    painter.rect_stroke(rect, 4.0, stroke, egui::StrokeKind::Inside);
    response
}
