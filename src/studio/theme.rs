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
