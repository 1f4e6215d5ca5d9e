//! The image cards in the left panel: content and style, the extra styles with their blend
//! weights, "+ Add style" with the style scale, and the mask. Each card is a drop zone and a
//! click target (the file dialog), with Open…, Samples, a path field and Load. The panel owns
//! the path fields' text and where each card was drawn (for drop targeting); the slots
//! themselves are read from [`Slots`].

use super::{expand_path, section, Command};
use crate::settings::Settings;
use crate::studio::decode::Source;
use crate::studio::dialogs::Purpose;
use crate::studio::slots::{Slot, SlotKind, Slots};
use crate::studio::theme;
use egui::{Color32, Pos2, Rect, RichText, Sense, TextureHandle};
use std::collections::HashMap;
use std::path::PathBuf;

/// What the cards show besides the slots.
pub(crate) struct ImagesView<'a> {
    pub(crate) slots: &'a Slots,
    /// The style blend weight and the style scale are shown here.
    pub(crate) settings: &'a Settings,
    /// The bundled images offered under "Samples".
    pub(crate) samples: &'a [PathBuf],
    pub(crate) dialog_open: bool,
    /// The card that would receive the files hovering over the window now.
    pub(crate) drop_target: Option<SlotKind>,
}

/// A card's path field: what is typed, and which load of its slot it last showed.
#[derive(Default)]
struct Field {
    text: String,
    shown_load: u64,
}

#[derive(Default)]
pub(crate) struct ImagesPanel {
    /// By slot id, so a field stays with its slot when extra styles renumber.
    fields: HashMap<u64, Field>,
    /// Where each card was drawn last frame, in the slots' order.
    rects: Vec<(SlotKind, Option<Rect>)>,
}

/// How one card looks.
struct CardOptions<'a> {
    drop_state: Option<bool>,
    samples: &'a [PathBuf],
    dialog_open: bool,
    /// Blend weight slider, shown for styles once there is more than one.
    blend: Option<f32>,
    /// Text of a button that removes or empties the slot ("Remove", "Clear").
    remove: Option<&'static str>,
}

impl ImagesPanel {
    /// Every card's kind and where it was drawn, for drop targeting.
    pub(crate) fn drop_rects(&self) -> &[(SlotKind, Option<Rect>)] {
        &self.rects
    }

    /// The Images and Mask sections.
    pub(crate) fn ui(&mut self, ui: &mut egui::Ui, v: &ImagesView<'_>) -> Vec<Command> {
        self.follow_loads(v.slots);
        let mut sent = Vec::new();
        let mut rects = Vec::new();
        section(
            ui,
            "Images",
            "Drop files on a slot, or anywhere: the first goes to content.",
        );
        let blending = !v.slots.extras().is_empty();
        let cards = v.slots.all().filter(|s| s.kind != SlotKind::Mask);
        for slot in cards {
            let blend = match slot.kind {
                SlotKind::Style if blending => Some(v.settings.style_blend_weight),
                SlotKind::ExtraStyle(i) => v.slots.extras().get(i).map(|e| e.weight),
                _ => None,
            };
            let remove = matches!(slot.kind, SlotKind::ExtraStyle(_)).then_some("Remove");
            let options = CardOptions {
                drop_state: v.drop_target.map(|t| t == slot.kind),
                samples: v.samples,
                dialog_open: v.dialog_open,
                blend,
                remove,
            };
            let (cmds, rect) = self.card(ui, slot, &options);
            sent.extend(cmds);
            rects.push((slot.kind, Some(rect)));
            ui.add_space(4.0);
        }
        ui.horizontal(|ui| {
            if ui
                .button("+ Add style")
                .accessible_name("Add style")
                .on_hover_text("Blend another painting into the style; each gets a blend weight")
                .clicked()
            {
                sent.push(Command::AddStyleSlot);
            }
            ui.add_space(6.0);
            let mut draft = v.settings.clone();
            show_style_scale(ui, &mut draft);
            sent.extend(super::edited(v.settings, draft));
        });

        ui.add_space(8.0);
        section(
            ui,
            "Mask (optional)",
            "White areas get the style, black ones keep the photo; grey blends.",
        );
        if let Some(mask) = v.slots.get(SlotKind::Mask) {
            let options = CardOptions {
                drop_state: v.drop_target.map(|t| t == SlotKind::Mask),
                samples: &[],
                dialog_open: v.dialog_open,
                blend: None,
                remove: Some("Clear"),
            };
            let (cmds, rect) = self.card(ui, mask, &options);
            sent.extend(cmds);
            rects.push((SlotKind::Mask, Some(rect)));
        }
        self.rects = rects;
        sent
    }

    /// A field shows the path of each new image that lands in its slot; fields of slots that
    /// are gone go too.
    fn follow_loads(&mut self, slots: &Slots) {
        self.fields
            .retain(|id, _| slots.all().any(|s| s.id() == *id));
        for slot in slots.all() {
            let field = self.fields.entry(slot.id()).or_default();
            if field.shown_load != slot.loads() {
                field.shown_load = slot.loads();
                if let Some(p) = &slot.path {
                    field.text = p.display().to_string();
                }
            }
        }
    }

    /// One card; returns what was asked and where the card is.
    fn card(
        &mut self,
        ui: &mut egui::Ui,
        slot: &Slot,
        options: &CardOptions<'_>,
    ) -> (Vec<Command>, Rect) {
        let mut sent = Vec::new();
        let text = &mut self.fields.entry(slot.id()).or_default().text;
        let card = theme::drop_card(ui.visuals(), options.drop_state).show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.horizontal(|ui| {
                // Thumbnail / drop zone; a click opens the file dialog.
                let (rect, zone) = ui.allocate_exact_size(egui::vec2(112.0, 84.0), Sense::click());
                let zone = zone
                    .accessible_name(slot.kind.drop_zone_name())
                    .on_hover_text(format!(
                        "Drop {} here, or click to choose a file",
                        slot.kind.hint()
                    ));
                paint_thumb(ui, rect, slot.thumb.as_ref(), slot.loading.is_some(), &zone);
                if zone.clicked() && !options.dialog_open {
                    sent.push(Command::OpenDialog(Purpose::OpenImage(slot.kind)));
                }
                ui.vertical(|ui| {
                    ui.label(
                        RichText::new(slot.kind.label().to_uppercase())
                            .small()
                            .strong()
                            .color(theme::ACCENT),
                    );
                    match (&slot.loading, &slot.name, &slot.image) {
                        (Some(name), _, _) => {
                            ui.horizontal(|ui| {
                                ui.spinner();
                                ui.label(format!("Loading {name}…"));
                            });
                        }
                        (None, Some(name), Some(img)) => {
                            ui.add(egui::Label::new(RichText::new(name).strong()).truncate());
                            ui.label(
                                RichText::new(format!("{} × {} px", img.width(), img.height()))
                                    .weak(),
                            );
                        }
                        _ => {
                            ui.label(RichText::new(format!("Drop {}", slot.kind.hint())).weak());
                        }
                    }
                    ui.horizontal(|ui| {
                        let open = ui
                            .add_enabled(!options.dialog_open, egui::Button::new("Open…"))
                            .accessible_name(format!(
                                "Open {} image",
                                slot.kind.label().to_lowercase()
                            ))
                            .on_hover_text("Choose a file with the system dialog");
                        if open.clicked() {
                            sent.push(Command::OpenDialog(Purpose::OpenImage(slot.kind)));
                        }
                        if !options.samples.is_empty() {
                            ui.menu_button("Samples", |ui| {
                                for s in options.samples {
                                    let name = s.file_stem().map_or_else(String::new, |n| {
                                        n.to_string_lossy().into_owned()
                                    });
                                    if ui.button(name).clicked() {
                                        sent.push(Command::LoadImage(
                                            slot.kind,
                                            Source::Path(s.clone()),
                                        ));
                                    }
                                }
                            })
                            .response
                            .accessible_name(format!("{} samples", slot.kind.label()))
                            .on_hover_text("Bundled public-domain images");
                        }
                        if let Some(text) = options.remove {
                            let enabled = slot.kind != SlotKind::Mask
                                || slot.image.is_some()
                                || slot.loading.is_some();
                            let remove = ui
                                .add_enabled(enabled, egui::Button::new(text))
                                .accessible_name(format!(
                                    "{text} {}",
                                    slot.kind.label().to_lowercase()
                                ))
                                .on_hover_text(match slot.kind {
                                    SlotKind::Mask => "Paint the whole picture again (no mask)",
                                    _ => "Stop using this painting",
                                });
                            if remove.clicked() {
                                sent.push(Command::RemoveSlot(slot.kind));
                            }
                        }
                    });
                });
            });
            ui.horizontal(|ui| {
                let load_w = 52.0;
                let field = ui
                    .add(
                        egui::TextEdit::singleline(text)
                            .id(egui::Id::unique(("atelier-path", slot.kind)))
                            .hint_text("Type or paste a file path")
                            .desired_width(ui.available_width() - load_w - 8.0),
                    )
                    .accessible_name(slot.kind.path_field_name())
                    .on_hover_text(
                        "Works everywhere, even without a file dialog: type a path and press Enter",
                    );
                let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                let load = ui
                    .add_sized([load_w, 22.0], egui::Button::new("Load"))
                    .accessible_name(format!("Load {} path", slot.kind.label().to_lowercase()))
                    .clicked();
                if (enter || load) && !text.trim().is_empty() {
                    sent.push(Command::LoadImage(
                        slot.kind,
                        Source::Path(expand_path(text.trim())),
                    ));
                }
            });
            if let Some(mut weight) = options.blend {
                let name = format!("{} blend weight", slot.kind.label());
                let tip = "How much of this painting goes into the mix, relative to the \
                               other styles' weights (they are normalized).";
                ui.horizontal(|ui| {
                    let label = ui.label("Blend").on_hover_text(tip);
                    let before = weight;
                    ui.add(
                        egui::Slider::new(&mut weight, 0.0..=10.0)
                            .clamping(egui::SliderClamping::Edits)
                            .max_decimals(2),
                    )
                    .labelled_by(label.id)
                    .accessible_name(name)
                    .on_hover_text(tip);
                    if weight != before {
                        sent.push(Command::SetBlendWeight(slot.kind, weight));
                    }
                });
            }
        });
        (sent, card.response.rect)
    }
}

/// The style images' size relative to the output.
fn show_style_scale(ui: &mut egui::Ui, s: &mut Settings) {
    let tip = "Size of the paintings relative to the output: below 1 gives finer brushwork, \
               above 1 bolder strokes.";
    ui.horizontal(|ui| {
        let label = ui.label("Style scale").on_hover_text(tip);
        ui.add(
            egui::Slider::new(&mut s.style_scale, 0.1..=4.0)
                .logarithmic(true)
                .max_decimals(2),
        )
        .labelled_by(label.id)
        .accessible_name("Style scale")
        .on_hover_text(tip);
    });
}

/// The thumbnail (dimmed while a new image decodes) or a ⊕ where there is none yet.
fn paint_thumb(
    ui: &egui::Ui,
    rect: Rect,
    thumb: Option<&TextureHandle>,
    loading: bool,
    zone: &egui::Response,
) {
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 6.0, ui.visuals().extreme_bg_color);
    match thumb {
        Some(t) => {
            let size = t.size_vec2();
            let scale = (rect.width() / size.x).min(rect.height() / size.y);
            let img_rect = Rect::from_center_size(rect.center(), size * scale);
            painter.image(
                t.id(),
                img_rect,
                Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
                if loading {
                    Color32::from_gray(110)
                } else {
                    Color32::WHITE
                },
            );
        }
        None => {
            painter.text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                "⊕",
                egui::FontId::proportional(28.0),
                ui.visuals().weak_text_color(),
            );
        }
    }
    if zone.hovered() {
        painter.rect_stroke(
            rect,
            6.0,
            egui::Stroke::new(1.0, theme::ACCENT),
            egui::StrokeKind::Inside,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::studio::panels::testing::{harness, names};
    use egui_kittest::kittest::Queryable;

    #[test]
    fn cards_send_loads_dialogs_and_new_slots() {
        let (slots, settings) = (Slots::default(), Settings::default());
        let samples = [PathBuf::from("/samples/cat.png")];
        let mut panel = ImagesPanel::default();
        let mut h = harness([380.0, 900.0], |ui| {
            panel.ui(
                ui,
                &ImagesView {
                    slots: &slots,
                    settings: &settings,
                    samples: &samples,
                    dialog_open: false,
                    drop_target: None,
                },
            )
        });
        h.run();
        h.get_by_label("Style path")
            .set_text_value_accesskit("~/painting.jpg");
        h.run();
        h.get_by_label("Load style path").click();
        h.run();
        h.get_by_label("Open content image").click();
        h.run();
        h.get_by_label("Add style").click();
        h.run();
        assert_eq!(
            names(h.state()),
            ["LoadImage", "OpenDialog", "AddStyleSlot"]
        );
        let Command::LoadImage(SlotKind::Style, Source::Path(p)) = &h.state()[0] else {
            panic!("a style load");
        };
        assert!(p.ends_with("painting.jpg") && !p.starts_with("~"), "{p:?}");
        assert!(
            matches!(
                h.state()[1],
                Command::OpenDialog(Purpose::OpenImage(SlotKind::Content))
            ),
            "the dialog is for the content"
        );
    }
}
