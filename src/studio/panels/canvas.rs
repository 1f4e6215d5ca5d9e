//! The canvas: the picture on screen (the newest frame only, kept whole for export and
//! snapshots), fit/zoom/pan, and a before/after compare with the photo or a snapshot.

use crate::studio::picture::{to_color_image, FRAME_TEXTURE};
use crate::worker::Frame;
use egui::{Align2, Color32, FontId, Pos2, Rect, Sense, TextureHandle, Vec2};
use serde::{Deserialize, Serialize};

/// How the content photo is shown next to the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum CompareMode {
    /// The result alone (hold the compare button or C to peek at the photo).
    #[default]
    Result,
    /// Photo left of a draggable divider, result right of it.
    Split,
}

const MIN_ZOOM: f32 = 0.05;
const MAX_ZOOM: f32 = 16.0;

pub(crate) struct Canvas {
    texture: Option<TextureHandle>,
    /// Newest frame, kept whole for export.
    pub(crate) frame: Option<Frame>,
    /// How many frames were uploaded (each one new).
    pub(crate) uploads: u32,
    /// `None` fits the picture to the view.
    pub(crate) zoom: Option<f32>,
    pan: Vec2,
    pub(crate) compare: CompareMode,
    /// Divider position in the split view, 0..1 of the picture's width.
    pub(crate) split: f32,
    dragging_split: bool,
    /// Scale at which the picture was last drawn (for the zoom label).
    pub(crate) shown_scale: f32,
}

impl Default for Canvas {
    fn default() -> Self {
        Self {
            texture: None,
            frame: None,
            uploads: 0,
            zoom: None,
            pan: Vec2::ZERO,
            compare: CompareMode::Result,
            split: 0.5,
            dragging_split: false,
            shown_scale: 1.0,
        }
    }
}

/// What else the canvas draws besides the frame.
pub(crate) struct CanvasInputs<'a> {
    /// The content photo, screen-sized.
    pub(crate) content: Option<&'a TextureHandle>,
    /// Show the photo instead of the result (hold-to-compare).
    pub(crate) peek: bool,
    /// Files hover over the window: say where they will go.
    pub(crate) drop_hint: Option<&'a str>,
    /// Shown centred when there is no frame yet.
    pub(crate) empty_hint: &'a str,
    /// A history snapshot to compare with: it takes the photo's place left of the divider.
    pub(crate) snapshot: Option<(&'a TextureHandle, &'a str)>,
}

impl Canvas {
    /// Uploads a new frame, reusing the texture; the only per-frame work the UI does.
    pub(crate) fn set_frame(&mut self, ctx: &egui::Context, frame: Frame) {
        let max_side = ctx.input(|i| i.max_texture_side) as u32;
        let image = to_color_image(&frame.image, max_side);
        match &mut self.texture {
            Some(t) => t.set(image, FRAME_TEXTURE),
            None => self.texture = Some(ctx.load_texture("preview-frame", image, FRAME_TEXTURE)),
        }
        self.frame = Some(frame);
        self.uploads += 1;
    }

    pub(crate) fn fit(&mut self) {
        self.zoom = None;
        self.pan = Vec2::ZERO;
    }

    pub(crate) fn actual_size(&mut self) {
        self.zoom = Some(1.0);
        self.pan = Vec2::ZERO;
    }

    /// Picture size in image pixels: the frame's, else the photo's.
    fn picture_size(&self, content: Option<&TextureHandle>) -> Option<Vec2> {
        if let Some(f) = &self.frame {
            return Some(Vec2::new(f.image.width() as f32, f.image.height() as f32));
        }
        content.map(TextureHandle::size_vec2)
    }

    pub(crate) fn show(&mut self, ui: &mut egui::Ui, input: &CanvasInputs<'_>) {
        let (rect, response) = ui.allocate_exact_size(ui.available_size(), Sense::click_and_drag());
        let response = response.accessible_name("Preview");
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 8.0, ui.visuals().extreme_bg_color);

        let Some(size) = self.picture_size(input.content) else {
            painter.text(
                rect.center(),
                Align2::CENTER_CENTER,
                input.empty_hint,
                FontId::proportional(18.0),
                ui.visuals().weak_text_color(),
            );
            draw_drop_hint(&painter, rect, input.drop_hint);
            return;
        };

        let fit = ((rect.width() - 24.0) / size.x)
            .min((rect.height() - 24.0) / size.y)
            .max(MIN_ZOOM);
        let mut scale = self.zoom.unwrap_or(fit);

        // Zoom about the pointer: wheel or pinch; pan by dragging; double-click toggles fit/100 %.
        if let Some(pointer) = response.hover_pos() {
            let (scroll, pinch) = ui.input(|i| (i.smooth_scroll_delta.y, i.zoom_delta()));
            let factor = pinch * (scroll / 400.0).exp();
            if (factor - 1.0).abs() > 1e-4 {
                let new_scale = (scale * factor).clamp(MIN_ZOOM, MAX_ZOOM);
                let center = rect.center() + self.pan;
                let toward = pointer - center;
                self.pan += toward - toward * (new_scale / scale);
                scale = new_scale;
                self.zoom = Some(scale);
            }
        }
        if response.double_clicked() {
            if self.zoom.is_some() {
                self.fit();
            } else {
                self.actual_size();
            }
            scale = self.zoom.unwrap_or(fit);
        }

        let img_rect = Rect::from_center_size(rect.center() + self.pan, size * scale);
        let split_x = img_rect.left() + self.split * img_rect.width();
        let split_mode = (self.compare == CompareMode::Split || input.snapshot.is_some())
            && self.frame.is_some()
            && !input.peek;
        let (before, before_label) = match input.snapshot {
            Some((tex, label)) => (Some(tex), label),
            None => (input.content, "Before"),
        };
        if response.drag_started() {
            self.dragging_split = split_mode
                && response
                    .interact_pointer_pos()
                    .is_some_and(|p| (p.x - split_x).abs() < 12.0);
        }
        if response.dragged() {
            if self.dragging_split {
                if let Some(p) = response.interact_pointer_pos() {
                    self.split = ((p.x - img_rect.left()) / img_rect.width()).clamp(0.0, 1.0);
                }
            } else {
                self.pan += response.drag_delta();
                if self.zoom.is_none() {
                    self.zoom = Some(scale);
                }
            }
        }
        if response.drag_stopped() {
            self.dragging_split = false;
        }
        self.shown_scale = scale;

        let full_uv = Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0));
        let frame_tex = self.texture.as_ref().filter(|_| self.frame.is_some());
        match (frame_tex, input.content) {
            (Some(tex), _) if split_mode && before.is_some() => {
                let before = before.map_or(tex, |b| b);
                let left = Rect::from_min_max(img_rect.min, Pos2::new(split_x, img_rect.bottom()));
                let right = Rect::from_min_max(Pos2::new(split_x, img_rect.top()), img_rect.max);
                let uv_l = Rect::from_min_max(Pos2::ZERO, Pos2::new(self.split, 1.0));
                let uv_r = Rect::from_min_max(Pos2::new(self.split, 0.0), Pos2::new(1.0, 1.0));
                painter.image(before.id(), left, uv_l, Color32::WHITE);
                painter.image(tex.id(), right, uv_r, Color32::WHITE);
                let after = if input.snapshot.is_some() {
                    "Now"
                } else {
                    "After"
                };
                draw_divider(&painter, img_rect, split_x, rect, (before_label, after));
            }
            (Some(_), Some(content)) if input.peek => {
                painter.image(content.id(), img_rect, full_uv, Color32::WHITE);
                badge(
                    &painter,
                    img_rect,
                    rect,
                    Align2::LEFT_TOP,
                    "Before (content)",
                );
            }
            (Some(tex), _) => {
                painter.image(tex.id(), img_rect, full_uv, Color32::WHITE);
            }
            (None, Some(content)) => {
                // No frame yet: the photo, dimmed, with a hint.
                painter.image(content.id(), img_rect, full_uv, Color32::from_gray(90));
                painter.text(
                    rect.center(),
                    Align2::CENTER_CENTER,
                    input.empty_hint,
                    FontId::proportional(18.0),
                    Color32::from_gray(235),
                );
            }
            (None, None) => {}
        }
        draw_drop_hint(&painter, rect, input.drop_hint);
        if response.hovered() && !split_mode {
            ui.ctx().set_cursor_icon(if response.dragged() {
                egui::CursorIcon::Grabbing
            } else {
                egui::CursorIcon::Grab
            });
        } else if split_mode
            && (self.dragging_split
                || response
                    .hover_pos()
                    .is_some_and(|p| (p.x - split_x).abs() < 12.0))
        {
            ui.ctx().set_cursor_icon(egui::CursorIcon::ResizeHorizontal);
        }
    }
}

fn draw_divider(
    painter: &egui::Painter,
    img_rect: Rect,
    x: f32,
    clip: Rect,
    (before, after): (&str, &str),
) {
    let top = img_rect.top().max(clip.top());
    let bottom = img_rect.bottom().min(clip.bottom());
    painter.line_segment(
        [Pos2::new(x, top), Pos2::new(x, bottom)],
        egui::Stroke::new(2.0, Color32::WHITE),
    );
    let knob = Pos2::new(x, (top + bottom) / 2.0);
    painter.circle(
        knob,
        11.0,
        Color32::from_black_alpha(170),
        egui::Stroke::new(2.0, Color32::WHITE),
    );
    painter.text(
        knob,
        Align2::CENTER_CENTER,
        "↔",
        FontId::proportional(13.0),
        Color32::WHITE,
    );
    badge(painter, img_rect, clip, Align2::LEFT_TOP, before);
    badge(painter, img_rect, clip, Align2::RIGHT_TOP, after);
}

/// A small label pinned to a corner of the picture (kept inside the view).
fn badge(painter: &egui::Painter, img_rect: Rect, clip: Rect, corner: Align2, text: &str) {
    let r = img_rect.intersect(clip).shrink(8.0);
    if r.width() < 40.0 {
        return;
    }
    let pos = corner.pos_in_rect(&r);
    let galley =
        painter.layout_no_wrap(text.to_owned(), FontId::proportional(12.0), Color32::WHITE);
    let rect = corner
        .anchor_size(pos, galley.size())
        .expand2(egui::vec2(6.0, 3.0));
    let rect = rect.translate(egui::vec2(
        if corner == Align2::RIGHT_TOP {
            -6.0
        } else {
            6.0
        },
        3.0,
    ));
    painter.rect_filled(rect, 4.0, Color32::from_black_alpha(150));
    painter.galley(rect.min + egui::vec2(6.0, 3.0), galley, Color32::WHITE);
}

fn draw_drop_hint(painter: &egui::Painter, rect: Rect, hint: Option<&str>) {
    if let Some(text) = hint {
        painter.rect_filled(rect, 8.0, Color32::from_black_alpha(160));
        painter.rect_stroke(
            rect.shrink(6.0),
            8.0,
            egui::Stroke::new(2.0, crate::studio::theme::ACCENT),
            egui::StrokeKind::Inside,
        );
        painter.text(
            rect.center(),
            Align2::CENTER_CENTER,
            text,
            FontId::proportional(20.0),
            Color32::WHITE,
        );
    }
}
