//! The Instant panel's palettes: the 26 built-in styles (click one, Ctrl/⌘-click to blend
//! several) and the artist's own brushes (click one). The thumbnails come from the worker: it
//! renders the built-ins' swatches and decodes the brushes' saved thumbnails.

use crate::engine::instant::NUM_BUILTIN;
use crate::worker::BrushList;
use egui::RichText;
use std::path::{Path, PathBuf};

/// The swatches are shown at this size, four to a row.
const THUMB_SHOWN: f32 = 58.0;
const PALETTE_COLUMNS: usize = 4;

/// 26 swatches: click picks one style, Ctrl/⌘-click adds or removes it from the blend;
/// the blend's styles get a weight slider each.
pub(crate) fn builtin_ui(
    ui: &mut egui::Ui,
    weights: &mut [f32; NUM_BUILTIN],
    thumbs: &[egui::TextureHandle],
) {
    ui.label(
        RichText::new("Click a style; Ctrl-click to blend several.")
            .small()
            .weak(),
    );
    if thumbs.len() != NUM_BUILTIN {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(RichText::new("Drawing the palette…").weak());
        });
    }
    let add = ui.input(|i| i.modifiers.command);
    let mut clicked = None;
    // Fixed: a width-based count feeds back into the panel's width and makes it grow.
    let cols = PALETTE_COLUMNS;
    egui::Grid::new("builtin-palette")
        .spacing([4.0, 4.0])
        .show(ui, |ui| {
            for (i, weight) in weights.iter().enumerate() {
                let selected = *weight > 0.0;
                let name = format!("Built-in style {}", i + 1);
                let button = match thumbs.get(i) {
                    Some(t) => egui::Button::image(
                        egui::Image::new(t).fit_to_exact_size(egui::vec2(THUMB_SHOWN, THUMB_SHOWN)),
                    ),
                    None => egui::Button::new(format!("{}", i + 1))
                        .min_size(egui::vec2(THUMB_SHOWN, THUMB_SHOWN)),
                };
                let r = ui
                    .add(button.selected(selected))
                    .accessible_name(name.clone())
                    .on_hover_text(name);
                if r.clicked() {
                    clicked = Some(i);
                }
                if (i + 1) % cols == 0 {
                    ui.end_row();
                }
            }
        });
    if let Some(i) = clicked {
        if add {
            let others = weights.iter().enumerate().any(|(j, w)| j != i && *w > 0.0);
            weights[i] = if weights[i] > 0.0 && others { 0.0 } else { 1.0 };
        } else {
            *weights = [0.0; NUM_BUILTIN];
            weights[i] = 1.0;
        }
    }
    let chosen: Vec<usize> = (0..NUM_BUILTIN).filter(|&i| weights[i] > 0.0).collect();
    if chosen.len() > 1 {
        ui.add_space(4.0);
        ui.label(RichText::new("Blend weights").strong());
        for i in chosen {
            ui.horizontal(|ui| {
                if let Some(t) = thumbs.get(i) {
                    ui.add(egui::Image::new(t).fit_to_exact_size(egui::vec2(20.0, 20.0)));
                }
                ui.add(
                    egui::Slider::new(&mut weights[i], 0.05..=1.0)
                        .text(format!("Style {}", i + 1))
                        .fixed_decimals(2),
                );
            });
        }
    }
}

/// The brush collection as the palette shows it: the worker's list and its thumbnails on the GPU.
#[derive(Default)]
pub(crate) struct Brushes {
    list: Option<BrushList>,
    /// Uploaded lazily, one per brush (`None`: the brush has no thumbnail).
    textures: Vec<Option<egui::TextureHandle>>,
    uploaded: bool,
}

impl Brushes {
    /// A new listing from the worker.
    pub(crate) fn set(&mut self, list: BrushList) {
        self.list = Some(list);
        self.uploaded = false;
    }

    pub(crate) fn names(&self) -> Vec<String> {
        self.list
            .iter()
            .flat_map(|l| l.brushes.iter().map(|b| b.name.clone()))
            .collect()
    }

    /// Whether `path` is one of the listed brushes.
    pub(crate) fn contains(&self, path: &Path) -> bool {
        self.list
            .as_ref()
            .is_some_and(|l| l.brushes.iter().any(|b| b.path == path))
    }

    fn upload(&mut self, ctx: &egui::Context) {
        if self.uploaded {
            return;
        }
        self.uploaded = true;
        self.textures = self
            .list
            .iter()
            .flat_map(|l| l.brushes.iter())
            .map(|b| {
                b.thumbnail.as_ref().map(|img| {
                    let (w, h) = img.dimensions();
                    let c = egui::ColorImage::from_rgb([w as usize, h as usize], img.as_raw());
                    ctx.load_texture(
                        format!("brush-{}", b.path.display()),
                        c,
                        egui::TextureOptions::LINEAR,
                    )
                })
            })
            .collect();
    }
}

/// The artist's brushes: click one to paint with it.
pub(crate) fn brushes_ui(ui: &mut egui::Ui, brushes: &mut Brushes, selected: &mut Option<PathBuf>) {
    brushes.upload(ui.ctx());
    let Some(list) = &brushes.list else {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(RichText::new("Looking for your brushes…").weak());
        });
        return;
    };
    if let Some(problem) = &list.problem {
        ui.label(RichText::new(problem).color(ui.visuals().warn_fg_color));
        return;
    }
    if list.brushes.is_empty() {
        ui.label(
            RichText::new("No brushes yet: train one from a painting below (Train a brush).")
                .small()
                .weak(),
        );
        return;
    }
    ui.label(RichText::new("Click a brush.").small().weak());
    let mut clicked = None;
    egui::Grid::new("brush-palette")
        .spacing([4.0, 4.0])
        .show(ui, |ui| {
            for (i, b) in list.brushes.iter().enumerate() {
                let size = egui::vec2(THUMB_SHOWN, THUMB_SHOWN);
                let button = match brushes.textures.get(i).and_then(Option::as_ref) {
                    Some(t) => egui::Button::image(egui::Image::new(t).fit_to_exact_size(size)),
                    None => {
                        egui::Button::new(b.name.chars().take(6).collect::<String>()).min_size(size)
                    }
                };
                let hover = format!(
                    "{}: trained on {} for {} steps ({:.0} min)",
                    b.name,
                    b.painting,
                    b.steps,
                    b.seconds / 60.0
                );
                let r = ui
                    .add(button.selected(selected.as_deref() == Some(b.path.as_path())))
                    .accessible_name(format!("Brush {}", b.name))
                    .on_hover_text(hover);
                if r.clicked() {
                    clicked = Some(b.path.clone());
                }
                if (i + 1) % PALETTE_COLUMNS == 0 {
                    ui.end_row();
                }
            }
        });
    if let Some(p) = clicked {
        *selected = Some(p);
    }
}
