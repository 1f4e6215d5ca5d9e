//! The studio's look: a calm dark canvas so the artwork carries the colour, one warm accent.

use egui::{Color32, CornerRadius, Stroke, Theme};

/// Warm ochre used for the primary action and selections.
pub(crate) const ACCENT: Color32 = Color32::from_rgb(232, 168, 76);
/// Loss curve colours: total, content, style, TV.
pub(crate) const LOSS_COLORS: [Color32; 4] = [
    Color32::from_rgb(235, 235, 235),
    Color32::from_rgb(110, 170, 255),
    Color32::from_rgb(232, 168, 76),
    Color32::from_rgb(130, 210, 140),
];

pub(crate) fn apply(ctx: &egui::Context) {
    // Ubuntu-Light lacks ▶ ■ ● ↻ ↔ ◐; the bundled Hack font has them, so it backs it up.
    let mut fonts = egui::FontDefinitions::default();
    if fonts.font_data.contains_key("Hack") {
        if let Some(list) = fonts.families.get_mut(&egui::FontFamily::Proportional) {
            if !list.iter().any(|f| f == "Hack") {
                list.push("Hack".to_owned());
            }
        }
    }
    ctx.set_fonts(fonts);
    ctx.set_theme(Theme::Dark);
    ctx.style_mut_of(Theme::Dark, |style| {
        let s = &mut style.spacing;
        s.item_spacing = egui::vec2(8.0, 6.0);
        s.button_padding = egui::vec2(10.0, 4.0);
        s.interact_size.y = 22.0;
        s.slider_width = 150.0;
        s.combo_width = 150.0;
        s.tooltip_width = 320.0;

        let v = &mut style.visuals;
        v.panel_fill = Color32::from_rgb(32, 33, 36);
        v.window_fill = Color32::from_rgb(38, 39, 43);
        v.extreme_bg_color = Color32::from_rgb(20, 20, 22);
        v.faint_bg_color = Color32::from_rgb(40, 41, 45);
        v.selection.bg_fill = ACCENT.gamma_multiply(0.55);
        v.selection.stroke = Stroke::new(1.0, ACCENT);
        v.hyperlink_color = ACCENT;
        v.slider_trailing_fill = true;
        for w in [
            &mut v.widgets.inactive,
            &mut v.widgets.hovered,
            &mut v.widgets.active,
            &mut v.widgets.open,
        ] {
            w.corner_radius = CornerRadius::same(5);
        }
        v.widgets.noninteractive.corner_radius = CornerRadius::same(5);
        v.window_corner_radius = CornerRadius::same(8);
    });
}

/// The frame of a card that takes dropped files. `drop_state`: `Some(true)` files hover over
/// this card, `Some(false)` a drag is on elsewhere (hint that it could land here), `None` idle.
pub(crate) fn drop_card(visuals: &egui::Visuals, drop_state: Option<bool>) -> egui::Frame {
    let (stroke, fill) = match drop_state {
        Some(true) => (Stroke::new(2.0, ACCENT), ACCENT.gamma_multiply(0.15)),
        Some(false) => (
            Stroke::new(1.0, ACCENT.gamma_multiply(0.5)),
            visuals.faint_bg_color,
        ),
        None => (
            Stroke::new(1.0, visuals.widgets.noninteractive.bg_stroke.color),
            visuals.faint_bg_color,
        ),
    };
    egui::Frame::new()
        .fill(fill)
        .stroke(stroke)
        .corner_radius(8.0)
        .inner_margin(8.0)
}

/// A side or top panel's frame with `x`, `y` inner margins.
pub(crate) fn panel_frame(style: &egui::Style, x: i8, y: i8) -> egui::Frame {
    egui::Frame::side_top_panel(style).inner_margin(egui::Margin::symmetric(x, y))
}
