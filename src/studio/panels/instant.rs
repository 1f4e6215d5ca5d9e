//! The Instant panel: a mode switch (Instant shows a one-pass picture the moment anything
//! changes; Paint shows the optimization), the source (the style image through the arbitrary
//! network, a blend of the 26 built-in styles, or one of the artist's trained brushes, both
//! picked on a thumbnail palette), a strength slider, and Refine, which starts the optimization
//! from the instant picture.
//!
//! The panel only decides *when* to ask: [`InstantPanel::sync`] returns a `PaintInstant` command
//! whenever the content, style, source, blend, strength or size differs from the last one sent.
//! A slider drag sends one per frame; the worker runs only the newest, so the preview follows
//! the hand without a queue building up. It takes its events from the worker with
//! [`InstantPanel::absorb`] and holds back run frames while it shows the instant picture.

use super::palette::{self, Brushes};
use super::Command;
use crate::engine::instant::NUM_BUILTIN;
use crate::worker::{Blend, BrushList, Event, Frame, InstantRequest, InstantSource};
use egui::RichText;
use image::RgbImage;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest side of the instant picture by default: fast on a CPU, sharp enough to judge.
pub const DEFAULT_SIZE: u32 = 512;
/// Sizes offered in the panel.
const SIZES: [u32; 4] = [256, 384, 512, 768];
/// The swatches are rendered at this longest side (once, by the worker) and shown smaller.
const THUMB_SIZE: u32 = 96;
/// The palette's sample picture, in `assets/samples`.
const THUMB_SAMPLE: &str = "chelsea.png";

/// What the preview shows and what Start means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The optimization's frames (the classic studio).
    Paint,
    /// The instant picture, redrawn on every change.
    Instant,
}

/// Where the instant picture's style comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    StyleImage,
    Builtin,
    /// A brush trained with "Train a brush".
    Brush,
}

/// What the last request was made of; a difference means a new request.
#[derive(Clone)]
struct Sent {
    content: Arc<RgbImage>,
    style: Option<Arc<RgbImage>>,
    source: SourceKind,
    strength: f32,
    weights: [f32; NUM_BUILTIN],
    size: u32,
    brush: Option<PathBuf>,
    /// Bumped when the brush files may have changed (a training saved one).
    brushes_version: u64,
}

impl Sent {
    fn same(&self, o: &Sent) -> bool {
        Arc::ptr_eq(&self.content, &o.content)
            && match (&self.style, &o.style) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                (None, None) => true,
                _ => false,
            }
            && self.source == o.source
            && self.strength == o.strength
            && self.weights == o.weights
            && self.size == o.size
            && self.brush == o.brush
            && self.brushes_version == o.brushes_version
    }
}

pub(crate) struct InstantPanel {
    mode: Mode,
    source: SourceKind,
    /// 0..1: 1 is the full style.
    strength: f32,
    /// Built-in blend weights, 0 = not in the blend (normalized by the engine).
    weights: [f32; NUM_BUILTIN],
    size: u32,
    sent: Option<Sent>,
    next_id: u64,
    /// Id and send time of the newest request, until its answer comes.
    waiting: Option<(u64, Instant)>,
    /// The newest instant picture and the request it answers.
    image: Option<Arc<RgbImage>>,
    shown_id: u64,
    /// Change-to-picture time of the last answer (as the artist waits for it) and the worker's
    /// compute time.
    latency: Option<Duration>,
    compute_millis: Option<u64>,
    /// A new picture arrived and is not on screen yet.
    fresh: bool,
    error: Option<String>,
    thumbs_asked: bool,
    new_thumbs: Option<Vec<Arc<RgbImage>>>,
    thumbs: Vec<egui::TextureHandle>,
    /// A run frame that arrived while the preview showed the instant picture.
    held_frame: Option<Frame>,
    /// The starting picture for the next Start (set by Refine).
    init: Option<Arc<RgbImage>>,
    sample: PathBuf,
    brushes: Brushes,
    brushes_asked: bool,
    brushes_version: u64,
    brush: Option<PathBuf>,
}

impl InstantPanel {
    pub fn new(assets: &std::path::Path) -> Self {
        let mut weights = [0.0; NUM_BUILTIN];
        weights[0] = 1.0;
        Self {
            mode: Mode::Paint,
            source: SourceKind::StyleImage,
            strength: 1.0,
            weights,
            size: DEFAULT_SIZE,
            sent: None,
            next_id: 1,
            waiting: None,
            image: None,
            shown_id: 0,
            latency: None,
            compute_millis: None,
            fresh: false,
            error: None,
            thumbs_asked: false,
            new_thumbs: None,
            thumbs: Vec::new(),
            held_frame: None,
            init: None,
            sample: assets.join("samples").join(THUMB_SAMPLE),
            brushes: Brushes::default(),
            brushes_asked: false,
            brushes_version: 0,
            brush: None,
        }
    }

    /// The newest instant picture.
    pub(crate) fn image(&self) -> Option<&Arc<RgbImage>> {
        self.image.as_ref()
    }

    pub(crate) fn mode(&self) -> Mode {
        self.mode
    }

    /// Change-to-picture time of the last answer.
    pub(crate) fn latency(&self) -> Option<Duration> {
        self.latency
    }

    /// The panel's message (assets missing…), if any.
    pub(crate) fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Longest side of instant pictures.
    pub(crate) fn set_size(&mut self, size: u32) {
        self.size = size;
    }

    /// The first launch without a painting network opens on what works: the instant picture.
    pub(crate) fn enter_instant_mode(&mut self) {
        self.mode = Mode::Instant;
    }

    /// Keeps a run frame back while the instant picture is on screen.
    pub(crate) fn hold_frame(&mut self, frame: Frame) {
        self.held_frame = Some(frame);
    }

    /// The run frame held back, once (Paint mode shows it).
    pub(crate) fn take_held_frame(&mut self) -> Option<Frame> {
        self.held_frame.take()
    }

    /// The worker was replaced: what was sent to the old one is asked again of the new one.
    pub fn worker_restarted(&mut self) {
        self.sent = None;
        self.waiting = None;
        self.thumbs_asked = false;
        self.brushes_asked = false;
    }

    /// The worker's listing of the brush collection.
    pub(crate) fn set_brushes(&mut self, list: BrushList) {
        self.brushes.set(list);
        if self
            .brush
            .as_ref()
            .is_some_and(|b| !self.brushes.contains(b))
        {
            self.brush = None;
        }
    }

    /// A brush just trained: picked, and painted afresh (its file is new).
    pub(crate) fn pick_brush(&mut self, path: PathBuf) {
        self.source = SourceKind::Brush;
        self.brush = Some(path);
        self.brushes_version += 1;
    }

    /// The brushes listed, by name.
    pub(crate) fn brush_names(&self) -> Vec<String> {
        self.brushes.names()
    }

    /// Run frames are held back while the preview shows the instant picture.
    pub fn holds_frames(&self) -> bool {
        self.mode == Mode::Instant
    }

    /// A run starts: the preview follows it (a frame held from an older run is stale).
    pub fn leave_for_run(&mut self) {
        self.mode = Mode::Paint;
        self.held_frame = None;
    }

    /// The starting picture Refine chose, once.
    pub fn take_init(&mut self) -> Option<Arc<RgbImage>> {
        self.init.take()
    }

    /// What Refine starts from: the picture on screen, unless the engine makes the same one
    /// sharper at the run's own size (the style image at full strength).
    pub fn prepare_refine(&mut self) {
        self.init = match self.source {
            SourceKind::StyleImage if self.strength >= 1.0 => None,
            _ => self.image.clone(),
        };
    }

    /// Takes the instant events; gives back the others.
    pub fn absorb(&mut self, event: Event) -> Option<Event> {
        match event {
            Event::InstantReady { id, image, millis } => {
                if id >= self.shown_id {
                    if let Some((w, t0)) = self.waiting {
                        if w == id {
                            self.latency = Some(t0.elapsed());
                            self.waiting = None;
                        }
                    }
                    self.shown_id = id;
                    self.image = Some(image);
                    self.compute_millis = Some(millis);
                    self.fresh = true;
                    self.error = None;
                }
                None
            }
            Event::InstantFailed { id, message } => {
                if self.waiting.is_some_and(|(w, _)| w == id) {
                    self.waiting = None;
                }
                self.error = Some(message);
                None
            }
            Event::InstantThumbnails(t) => {
                self.new_thumbs = Some(t);
                None
            }
            e => Some(e),
        }
    }

    /// Uploads new swatches; returns a new instant picture to show, if any.
    pub fn pump(&mut self, ctx: &egui::Context) -> Option<Arc<RgbImage>> {
        if let Some(t) = self.new_thumbs.take() {
            self.thumbs = t
                .iter()
                .enumerate()
                .map(|(i, img)| {
                    let (w, h) = img.dimensions();
                    let c = egui::ColorImage::from_rgb([w as usize, h as usize], img.as_raw());
                    ctx.load_texture(format!("builtin-{i}"), c, egui::TextureOptions::LINEAR)
                })
                .collect();
        }
        if self.fresh && self.mode == Mode::Instant {
            self.fresh = false;
            return self.image.clone();
        }
        None
    }

    /// What to ask the worker for: the swatches once, and a new picture if anything it
    /// depends on changed (Instant mode only).
    pub fn sync(
        &mut self,
        content: Option<&Arc<RgbImage>>,
        style: Option<&Arc<RgbImage>>,
    ) -> Vec<Command> {
        let mut sent = Vec::new();
        if self.mode != Mode::Instant {
            return sent;
        }
        if !self.thumbs_asked {
            self.thumbs_asked = true;
            sent.push(Command::DrawSwatches {
                sample: self.sample.clone(),
                size: THUMB_SIZE,
            });
        }
        if !self.brushes_asked {
            self.brushes_asked = true;
            sent.push(Command::ListBrushes);
        }
        let Some(content) = content else { return sent };
        let now = Sent {
            content: content.clone(),
            style: style.cloned(),
            source: self.source,
            strength: self.strength,
            weights: self.weights,
            size: self.size,
            brush: self.brush.clone(),
            brushes_version: self.brushes_version,
        };
        if self.sent.as_ref().is_some_and(|s| s.same(&now)) {
            return sent;
        }
        let source = match self.source {
            SourceKind::StyleImage => match style {
                Some(image) => InstantSource::Style {
                    image: image.clone(),
                    strength: self.strength,
                },
                None => return sent,
            },
            SourceKind::Builtin => {
                let pairs: Vec<(usize, f32)> = self
                    .weights
                    .iter()
                    .enumerate()
                    .filter(|(_, w)| **w > 0.0)
                    .map(|(i, w)| (i, *w))
                    .collect();
                match Blend::from_pairs(&pairs, "palette") {
                    Ok(blend) => InstantSource::Builtin {
                        blend,
                        strength: self.strength,
                    },
                    Err(_) => return sent, // nothing selected: keep the last picture
                }
            }
            SourceKind::Brush => match &self.brush {
                Some(path) => InstantSource::Brush {
                    path: path.clone(),
                    strength: self.strength,
                },
                None => return sent,
            },
        };
        let id = self.next_id;
        self.next_id += 1;
        sent.push(Command::PaintInstant(Box::new(InstantRequest {
            id,
            content: content.clone(),
            source,
            size: self.size,
        })));
        // The clock runs from the first change not yet answered: a drag's latency is the wait
        // after the hand stops, not per frame.
        let since = self.waiting.map_or_else(Instant::now, |(_, t)| t);
        self.waiting = Some((id, since));
        self.sent = Some(now);
        sent
    }

    /// The panel; `can_refine` says whether Start would be allowed.
    pub fn ui(&mut self, ui: &mut egui::Ui, can_refine: bool) -> Vec<Command> {
        let mut sent = Vec::new();
        ui.label(RichText::new("Mode").strong().size(14.0));
        let before = self.mode;
        ui.horizontal(|ui| {
            ui.selectable_value(&mut self.mode, Mode::Instant, "Instant")
                .accessible_name("Instant mode")
                .on_hover_text(
                    "A painted picture in a blink, redrawn whenever you change something",
                );
            ui.selectable_value(&mut self.mode, Mode::Paint, "Paint")
                .accessible_name("Paint mode")
                .on_hover_text("The optimization: slower, finer, steerable while it runs");
        });
        if before != self.mode {
            sent.push(Command::ShowMode);
        }
        ui.add_space(6.0);
        if self.mode == Mode::Paint {
            ui.label(
                RichText::new(
                    "Switch to Instant to preview styles immediately, then Refine to paint \
                     from that picture.",
                )
                .small()
                .weak(),
            );
            return sent;
        }

        ui.label(RichText::new("Style from").strong());
        ui.horizontal(|ui| {
            ui.selectable_value(&mut self.source, SourceKind::StyleImage, "Style image")
                .on_hover_text(
                    "The painting in the Style slot, through the arbitrary-style network",
                );
            ui.selectable_value(&mut self.source, SourceKind::Builtin, "Built-in")
                .on_hover_text("A blend of the 26 built-in styles: pick them below");
            ui.selectable_value(&mut self.source, SourceKind::Brush, "Brushes")
                .on_hover_text("Your brushes: networks trained on one painting each");
        });
        ui.horizontal(|ui| {
            ui.label("Strength");
            ui.add(egui::Slider::new(&mut self.strength, 0.0..=1.0).fixed_decimals(2))
                .accessible_name("Instant strength")
                .on_hover_text(match self.source {
                    SourceKind::StyleImage => {
                        "Moves the style towards the photo's own: lower keeps a painted look \
                         with the photo's colours and textures"
                    }
                    SourceKind::Builtin | SourceKind::Brush => {
                        "Mixes the painted picture with the photo"
                    }
                });
        });
        ui.horizontal(|ui| {
            let label = ui.label("Preview size");
            egui::ComboBox::from_id_salt("instant-size")
                .selected_text(format!("{} px", self.size))
                .show_ui(ui, |ui| {
                    for s in SIZES {
                        ui.selectable_value(&mut self.size, s, format!("{s} px"));
                    }
                })
                .response
                .labelled_by(label.id)
                .accessible_name("Preview size");
        });

        match self.source {
            SourceKind::Builtin => {
                ui.add_space(4.0);
                palette::builtin_ui(ui, &mut self.weights, &self.thumbs);
            }
            SourceKind::Brush => {
                ui.add_space(4.0);
                palette::brushes_ui(ui, &mut self.brushes, &mut self.brush);
            }
            SourceKind::StyleImage => {}
        }

        ui.add_space(6.0);
        let status = match (&self.error, self.waiting, self.latency) {
            (Some(e), _, _) => {
                RichText::new(e.as_str()).color(egui::Color32::from_rgb(255, 130, 120))
            }
            (None, Some(_), _) => RichText::new("Painting…").weak(),
            (None, None, Some(l)) => RichText::new(format!(
                "Ready in {:.2} s (compute {} ms)",
                l.as_secs_f64(),
                self.compute_millis.unwrap_or(0)
            ))
            .weak(),
            _ => RichText::new("").weak(),
        };
        ui.label(status);
        ui.add_space(4.0);
        let refine = ui
            .add_enabled(
                can_refine && self.image.is_some(),
                egui::Button::new(RichText::new("Refine").strong()),
            )
            .on_hover_text("Start the optimization from this picture (Paint mode shows it)");
        if refine.clicked() {
            sent.push(Command::Refine);
        }
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::studio::panels::testing::{harness, names};
    use egui_kittest::kittest::Queryable;

    /// Switching to Instant is a command (the preview changes picture); then one request per
    /// change, never the same one twice.
    #[test]
    fn instant_mode_asks_once_per_change() {
        let mut panel = InstantPanel::new(std::path::Path::new("assets"));
        {
            let mut h = harness([300.0, 700.0], |ui| panel.ui(ui, true));
            h.run();
            h.get_by_label("Instant mode").click();
            h.run();
            assert_eq!(names(h.state()), ["ShowMode"]);
        }
        assert_eq!(panel.mode(), Mode::Instant);
        let (content, style) = (Arc::new(RgbImage::new(4, 4)), Arc::new(RgbImage::new(4, 4)));
        let first = panel.sync(Some(&content), Some(&style));
        assert_eq!(
            names(&first),
            ["DrawSwatches", "ListBrushes", "PaintInstant"]
        );
        assert!(panel.sync(Some(&content), Some(&style)).is_empty());
        panel.set_size(256);
        assert_eq!(
            names(&panel.sync(Some(&content), Some(&style))),
            ["PaintInstant"]
        );
    }
}
