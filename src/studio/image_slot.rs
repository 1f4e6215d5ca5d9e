//! The content and style slots: thumbnail, Open…, samples, a path field, and drop targets.
//! Decoding runs on a short-lived thread so a 40-megapixel JPEG never freezes the window; a newer
//! request for the same slot wins, and a failed one leaves the previous image in place.

use crate::image_io;
use egui::{Color32, ColorImage, Pos2, Rect, RichText, Sense, TextureHandle, TextureOptions};
use image::RgbImage;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;

/// Which input an image is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlotKind {
    /// The photo whose shapes are kept.
    Content,
    /// The painting whose brushwork is borrowed.
    Style,
    /// One more painting blended with the main style; the index is its position among the extras
    /// (shown as "Style 2" for index 0).
    ExtraStyle(usize),
    /// Where the style applies: white gets the style, black keeps the photo.
    Mask,
}

impl SlotKind {
    pub fn label(self) -> String {
        match self {
            SlotKind::Content => "Content".into(),
            SlotKind::Style => "Style".into(),
            SlotKind::ExtraStyle(i) => format!("Style {}", i + 2),
            SlotKind::Mask => "Mask".into(),
        }
    }

    /// Where a second dropped file goes: content and style pair up; extras and the mask take one.
    pub fn other(self) -> Option<SlotKind> {
        match self {
            SlotKind::Content => Some(SlotKind::Style),
            SlotKind::Style => Some(SlotKind::Content),
            SlotKind::ExtraStyle(_) | SlotKind::Mask => None,
        }
    }

    /// Title used for this slot's notices, so a good load can clear an old error.
    pub(crate) fn notice_title(self) -> super::notices::Topic {
        super::notices::Topic::Image(self)
    }

    /// Accessible name of the slot's drop zone (tests find the slot by it).
    pub fn drop_zone_name(self) -> String {
        format!("{} image drop zone", self.label())
    }

    /// Accessible name of the slot's path field.
    pub fn path_field_name(self) -> String {
        format!("{} path", self.label())
    }

    fn hint(self) -> &'static str {
        match self {
            SlotKind::Content => "the photo to repaint",
            SlotKind::Style => "the painting to borrow from",
            SlotKind::ExtraStyle(_) => "another painting to blend in",
            SlotKind::Mask => "a black-and-white mask (white = style)",
        }
    }
}

/// Where an image comes from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    Path(PathBuf),
    /// A drop that carried no path (e.g. from a browser).
    Bytes {
        name: String,
        bytes: Arc<Vec<u8>>,
    },
}

impl Source {
    fn name(&self) -> String {
        match self {
            Source::Path(p) => p.file_name().map_or_else(
                || p.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
            Source::Bytes { name, .. } => name.clone(),
        }
    }
}

/// The decoded image plus what the UI uploads as textures.
pub(crate) struct Decoded {
    pub(crate) image: Arc<RgbImage>,
    thumb: ColorImage,
    display: ColorImage,
}

/// A finished decode, tagged so stale ones can be dropped.
pub(crate) struct LoadResult {
    pub(crate) generation: u64,
    pub(crate) path: Option<PathBuf>,
    pub(crate) name: String,
    pub(crate) result: Result<Decoded, String>,
}

/// Thumbnails are small; the display copy is what the preview compares against.
const THUMB_SIDE: u32 = 256;
const DISPLAY_SIDE: u32 = 2048;

/// Runs decodes off the UI thread and hands results back through a channel.
pub(crate) struct Loader {
    tx: Sender<LoadResult>,
    rx: Receiver<LoadResult>,
    /// Request numbers are unique across slots, so a result finds its slot even after extra
    /// style slots were removed and renumbered.
    last_generation: u64,
    /// Reads and decodes a source; tests put in one that panics.
    pub(crate) decode: fn(&Source) -> Result<RgbImage, String>,
}

impl Default for Loader {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel();
        Self {
            tx,
            rx,
            last_generation: 0,
            decode: decode_source,
        }
    }
}

fn decode_source(source: &Source) -> Result<RgbImage, String> {
    match source {
        Source::Path(p) => image_io::load_image(p),
        Source::Bytes { bytes, .. } => image_io::load_image_bytes(bytes),
    }
    .map_err(|e| e.to_string())
}

impl Loader {
    pub(crate) fn request(&mut self, slot: &mut ImageSlot, source: Source, ctx: &egui::Context) {
        self.last_generation += 1;
        slot.generation = self.last_generation;
        slot.loading = Some(source.name());
        let (generation, tx, ctx) = (slot.generation, self.tx.clone(), ctx.clone());
        let decode = self.decode;
        let max_side = ctx.input(|i| i.max_texture_side).min(DISPLAY_SIDE as usize) as u32;
        let spawned = std::thread::Builder::new()
            .name("atelier-decode".into())
            .spawn(move || {
                let name = source.name();
                let path = match &source {
                    Source::Path(p) => Some(p.clone()),
                    Source::Bytes { .. } => None,
                };
                // A panic in a decoder must still answer, or the slot would stay "loading"
                // and Start blocked.
                let result = catch_unwind(AssertUnwindSafe(|| {
                    decode(&source).map(|img| Decoded {
                        thumb: to_color_image(&img, THUMB_SIDE),
                        display: to_color_image(&img, max_side.max(64)),
                        image: Arc::new(img),
                    })
                }))
                .unwrap_or_else(|panic| Err(super::task::crashed("decoding it", panic.as_ref())));
                let _ = tx.send(LoadResult {
                    generation,
                    path,
                    name,
                    result,
                });
                ctx.request_repaint();
            });
        if let Err(e) = spawned {
            let _ = self.tx.send(LoadResult {
                generation,
                path: None,
                name: slot.loading.clone().unwrap_or_default(),
                result: Err(format!("couldn't start a decoding thread ({e}); try again")),
            });
        }
    }

    pub(crate) fn poll(&self) -> Option<LoadResult> {
        self.rx.try_recv().ok()
    }
}

/// Downscales (never upscales) to fit `max_side` and converts for egui.
pub(crate) fn to_color_image(img: &RgbImage, max_side: u32) -> ColorImage {
    let (w, h) = img.dimensions();
    let long = w.max(h).max(1);
    if long <= max_side {
        return ColorImage::from_rgb([w as usize, h as usize], img.as_raw());
    }
    let scale = max_side as f32 / long as f32;
    let (tw, th) = (
        ((w as f32 * scale).round() as u32).max(1),
        ((h as f32 * scale).round() as u32).max(1),
    );
    let small = image::imageops::thumbnail(img, tw, th);
    ColorImage::from_rgb([tw as usize, th as usize], small.as_raw())
}

/// One input image and everything the UI shows about it.
pub(crate) struct ImageSlot {
    pub(crate) kind: SlotKind,
    pub(crate) path: Option<PathBuf>,
    pub(crate) name: Option<String>,
    pub(crate) image: Option<Arc<RgbImage>>,
    pub(crate) thumb: Option<TextureHandle>,
    /// Screen-sized copy (content: the "before" of the compare view).
    pub(crate) display: Option<TextureHandle>,
    pub(crate) path_text: String,
    /// File name being decoded right now.
    pub(crate) loading: Option<String>,
    generation: u64,
    /// Loaded instead when the first request fails and the slot is still empty (a saved path
    /// that has gone away falls back to the sample).
    pub(crate) fallback: Option<PathBuf>,
    /// The card's screen rect this frame, for drop targeting.
    pub(crate) rect: Option<Rect>,
}

/// What the artist asked a slot to do.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SlotAction {
    OpenDialog,
    Load(PathBuf),
    /// Remove the slot (extra styles) or empty it (the mask).
    Remove,
}

/// What some slots show besides the image.
#[derive(Default)]
pub(crate) struct SlotExtras<'a> {
    /// Blend weight slider, shown for styles once there is more than one.
    pub(crate) blend: Option<&'a mut f32>,
    /// Text of a button that removes or empties the slot ("Remove", "Clear").
    pub(crate) remove: Option<&'static str>,
}

impl ImageSlot {
    pub(crate) fn new(kind: SlotKind) -> Self {
        Self {
            kind,
            path: None,
            name: None,
            image: None,
            thumb: None,
            display: None,
            path_text: String::new(),
            loading: None,
            generation: 0,
            fallback: None,
            rect: None,
        }
    }

    /// The result of this request is still awaited by this slot.
    pub(crate) fn awaits(&self, generation: u64) -> bool {
        self.loading.is_some() && self.generation == generation
    }

    /// Forgets the image (the mask's Clear); a decode in flight is ignored when it lands.
    pub(crate) fn clear(&mut self) {
        *self = ImageSlot::new(self.kind);
    }

    /// Applies a decode result for this slot. `Err` carries the message for a notice.
    pub(crate) fn apply(&mut self, r: LoadResult, ctx: &egui::Context) -> Result<bool, String> {
        if r.generation != self.generation {
            return Ok(false); // superseded by a newer request
        }
        self.loading = None;
        let decoded = r.result.map_err(|e| e.to_string())?;
        let label = self.kind.label().to_lowercase();
        let opts = TextureOptions::LINEAR;
        self.thumb = Some(ctx.load_texture(format!("{label}-thumb"), decoded.thumb, opts));
        self.display = Some(ctx.load_texture(format!("{label}-display"), decoded.display, opts));
        self.image = Some(decoded.image);
        self.name = Some(r.name);
        if let Some(p) = &r.path {
            self.path_text = p.display().to_string();
        }
        self.path = r.path;
        self.fallback = None;
        Ok(true)
    }

    /// The slot card. `drop_state`: `Some(true)` this slot is the drop target, `Some(false)`
    /// files are hovering elsewhere.
    pub(crate) fn show(
        &mut self,
        ui: &mut egui::Ui,
        drop_state: Option<bool>,
        samples: &[PathBuf],
        dialog_open: bool,
        extras: SlotExtras<'_>,
    ) -> Option<SlotAction> {
        let mut action = None;
        let card = super::theme::drop_card(ui.visuals(), drop_state).show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.horizontal(|ui| {
                // Thumbnail / drop zone; a click opens the file dialog.
                let (rect, zone) = ui.allocate_exact_size(egui::vec2(112.0, 84.0), Sense::click());
                let zone = zone
                    .accessible_name(self.kind.drop_zone_name())
                    .on_hover_text(format!(
                        "Drop {} here, or click to choose a file",
                        self.kind.hint()
                    ));
                paint_thumb(ui, rect, self.thumb.as_ref(), self.loading.is_some(), &zone);
                if zone.clicked() && !dialog_open {
                    action = Some(SlotAction::OpenDialog);
                }
                ui.vertical(|ui| {
                    ui.label(
                        RichText::new(self.kind.label().to_uppercase())
                            .small()
                            .strong()
                            .color(super::theme::ACCENT),
                    );
                    match (&self.loading, &self.name, &self.image) {
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
                            ui.label(RichText::new(format!("Drop {}", self.kind.hint())).weak());
                        }
                    }
                    ui.horizontal(|ui| {
                        let open = ui
                            .add_enabled(!dialog_open, egui::Button::new("Open…"))
                            .accessible_name(format!(
                                "Open {} image",
                                self.kind.label().to_lowercase()
                            ))
                            .on_hover_text("Choose a file with the system dialog");
                        if open.clicked() {
                            action = Some(SlotAction::OpenDialog);
                        }
                        if !samples.is_empty() {
                            ui.menu_button("Samples", |ui| {
                                for s in samples {
                                    let name = s.file_stem().map_or_else(String::new, |n| {
                                        n.to_string_lossy().into_owned()
                                    });
                                    if ui.button(name).clicked() {
                                        action = Some(SlotAction::Load(s.clone()));
                                    }
                                }
                            })
                            .response
                            .accessible_name(format!("{} samples", self.kind.label()))
                            .on_hover_text("Bundled public-domain images");
                        }
                        if let Some(text) = extras.remove {
                            let enabled = self.kind != SlotKind::Mask
                                || self.image.is_some()
                                || self.loading.is_some();
                            let remove = ui
                                .add_enabled(enabled, egui::Button::new(text))
                                .accessible_name(format!(
                                    "{text} {}",
                                    self.kind.label().to_lowercase()
                                ))
                                .on_hover_text(match self.kind {
                                    SlotKind::Mask => "Paint the whole picture again (no mask)",
                                    _ => "Stop using this painting",
                                });
                            if remove.clicked() {
                                action = Some(SlotAction::Remove);
                            }
                        }
                    });
                });
            });
            ui.horizontal(|ui| {
                let load_w = 52.0;
                let field = ui
                    .add(
                        egui::TextEdit::singleline(&mut self.path_text)
                            .id(egui::Id::unique(("atelier-path", self.kind)))
                            .hint_text("Type or paste a file path")
                            .desired_width(ui.available_width() - load_w - 8.0),
                    )
                    .accessible_name(self.kind.path_field_name())
                    .on_hover_text(
                        "Works everywhere, even without a file dialog: type a path and press Enter",
                    );
                let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                let load = ui
                    .add_sized([load_w, 22.0], egui::Button::new("Load"))
                    .accessible_name(format!("Load {} path", self.kind.label().to_lowercase()))
                    .clicked();
                if (enter || load) && !self.path_text.trim().is_empty() {
                    action = Some(SlotAction::Load(expand_path(self.path_text.trim())));
                }
            });
            if let Some(weight) = extras.blend {
                let name = format!("{} blend weight", self.kind.label());
                let tip = "How much of this painting goes into the mix, relative to the \
                               other styles' weights (they are normalized).";
                ui.horizontal(|ui| {
                    let label = ui.label("Blend").on_hover_text(tip);
                    ui.add(
                        egui::Slider::new(weight, 0.0..=10.0)
                            .clamping(egui::SliderClamping::Edits)
                            .max_decimals(2),
                    )
                    .labelled_by(label.id)
                    .accessible_name(name)
                    .on_hover_text(tip);
                });
            }
        });
        self.rect = Some(card.response.rect);
        action
    }
}

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
            egui::Stroke::new(1.0, super::theme::ACCENT),
            egui::StrokeKind::Inside,
        );
    }
}

/// `~/x` → `$HOME/x`; surrounding quotes (from "copy as path") are removed.
pub(crate) fn expand_path(text: &str) -> PathBuf {
    let t = text.trim().trim_matches(|c| c == '"' || c == '\'');
    if let Some(rest) = t.strip_prefix("~/") {
        if let Some(home) = std::env::var_os("HOME") {
            return Path::new(&home).join(rest);
        }
    }
    PathBuf::from(t)
}

/// Which slots dropped files go to: the slot under the pointer first, otherwise content first;
/// a second file goes to the other of content and style (extras and the mask take one file).
pub(crate) fn drop_targets(
    files: usize,
    pointer: Option<Pos2>,
    rects: &[(SlotKind, Option<Rect>)],
) -> Vec<SlotKind> {
    let first = slot_under(pointer, rects).unwrap_or(SlotKind::Content);
    std::iter::once(first)
        .chain(first.other())
        .take(files)
        .collect()
}

pub(crate) fn slot_under(
    pointer: Option<Pos2>,
    rects: &[(SlotKind, Option<Rect>)],
) -> Option<SlotKind> {
    let p = pointer?;
    rects
        .iter()
        .find(|(_, r)| r.is_some_and(|r| r.contains(p)))
        .map(|(k, _)| *k)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A panic while decoding used to leave the slot "loading" and Start blocked for good.
    #[test]
    fn a_crashed_decode_ends_the_loading_with_an_error() {
        let ctx = egui::Context::default();
        let mut loader = Loader {
            decode: |_| panic!("decoder bug"),
            ..Loader::default()
        };
        let mut slot = ImageSlot::new(SlotKind::Content);
        loader.request(&mut slot, Source::Path("cat.png".into()), &ctx);
        assert!(slot.loading.is_some());
        let t0 = std::time::Instant::now();
        let result = loop {
            if let Some(r) = loader.poll() {
                break r;
            }
            assert!(
                t0.elapsed().as_secs() < 30,
                "the decode never reported back"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        let err = slot.apply(result, &ctx).expect_err("an error");
        assert!(
            err.contains("crashed") && err.contains("decoder bug"),
            "{err}"
        );
        assert!(slot.loading.is_none(), "the slot no longer waits");
    }

    #[test]
    fn drops_go_under_the_pointer_else_content_first() {
        let c = Rect::from_min_size(Pos2::new(0.0, 0.0), egui::vec2(100.0, 100.0));
        let s = Rect::from_min_size(Pos2::new(0.0, 120.0), egui::vec2(100.0, 100.0));
        let m = Rect::from_min_size(Pos2::new(0.0, 240.0), egui::vec2(100.0, 100.0));
        let rects = [
            (SlotKind::Content, Some(c)),
            (SlotKind::Style, Some(s)),
            (SlotKind::Mask, Some(m)),
        ];
        assert_eq!(
            drop_targets(1, Some(Pos2::new(50.0, 150.0)), &rects),
            vec![SlotKind::Style]
        );
        assert_eq!(
            drop_targets(2, Some(Pos2::new(50.0, 150.0)), &rects),
            vec![SlotKind::Style, SlotKind::Content]
        );
        assert_eq!(
            drop_targets(1, Some(Pos2::new(500.0, 5.0)), &rects),
            vec![SlotKind::Content]
        );
        assert_eq!(
            drop_targets(3, None, &rects),
            vec![SlotKind::Content, SlotKind::Style]
        );
        assert_eq!(
            drop_targets(2, Some(Pos2::new(50.0, 250.0)), &rects),
            vec![SlotKind::Mask],
            "the mask takes one file"
        );
    }

    #[test]
    fn typed_paths_are_cleaned() {
        assert_eq!(
            expand_path("  \"/a b/c.png\" "),
            PathBuf::from("/a b/c.png")
        );
    }
}
