//! The Strength section: content weight α, style weight β and smoothness, each a logarithmic
//! slider with a typed value box, and the detail weight of the last coarse-to-fine stage; the
//! weights a running picture can be steered by.

use crate::settings::Settings;
use egui::{DragValue, RichText, Slider, SliderClamping};

const ALPHA_NAME: &str = "Content weight α";
const BETA_NAME: &str = "Style weight β";
const TV_NAME: &str = "Smoothness (TV)";
const DETAIL_NAME: &str = "Detail ×α";

const ALPHA_TIP: &str = "How much of the photo's structure survives: outlines, faces, the shapes \
    of things. Raise it when the subject dissolves into brushwork.";
const BETA_TIP: &str = "How strongly the painting's colours, strokes and textures are applied. \
    Raise it for a more painterly picture. What counts is the balance β/α, not either number \
    alone. Can be changed while the picture is painting.";
const DETAIL_TIP: &str = "Coarse to fine only: the content weight of the last, full-size stage \
    as a multiple of α. The small stages lay down large strokes; a higher detail keeps the \
    photo's edges, buildings and faces legible under them. 1 weighs every stage alike.";
const TV_TIP: &str = "Smooths away speckle and pixel noise. Too much and the result looks blurry \
    or plastic; zero keeps every grain.";

/// A logarithmic slider plus a typed value box, both named for screen readers and tests.
/// Lays out as two cells of the surrounding grid (label, then slider + box). The slider spans
/// the useful range; the box accepts anything up to `typed_max`.
fn log_slider(
    ui: &mut egui::Ui,
    value: &mut f32,
    (max, typed_max): (f32, f32),
    smallest_positive: f64,
    name: &str,
    tip: &str,
) -> bool {
    let label = ui.label(name).on_hover_text(tip);
    let mut changed = false;
    ui.horizontal(|ui| {
        let slider = ui
            .add(
                Slider::new(value, 0.0..=max)
                    .logarithmic(true)
                    .smallest_positive(smallest_positive)
                    .clamping(SliderClamping::Edits)
                    .show_value(false),
            )
            .labelled_by(label.id)
            .accessible_name(name)
            .on_hover_text(tip);
        let speed = (f64::from(*value) * 0.01).max(smallest_positive);
        let typed = ui
            .add(
                DragValue::new(value)
                    .range(0.0..=typed_max)
                    .speed(speed)
                    .custom_formatter(|v, _| format_weight(v)),
            )
            .labelled_by(label.id)
            .accessible_name(format!("{name} value"))
            .on_hover_text("Drag, or click and type a number (1e-5 works too)");
        changed = slider.changed() || typed.changed();
    });
    ui.end_row();
    changed
}

/// Compact numbers for weights spanning ten decades: 0.00001 → "1e-5", 250 → "250".
fn format_weight(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(0.01..100_000.0).contains(&a) {
        let s = format!("{v:.1e}");
        return s.replace(".0e", "e");
    }
    let digits = if a >= 100.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        3
    };
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// Alpha, beta and TV: the three weights the artist steers live.
pub(crate) fn show_strength(ui: &mut egui::Ui, s: &mut Settings) {
    egui::Grid::new("strength")
        .num_columns(2)
        .spacing([10.0, 8.0])
        .show(ui, |ui| {
            let w = &mut s.weights;
            log_slider(
                ui,
                &mut w.content_weight,
                (10_000.0, 1e8),
                0.01,
                ALPHA_NAME,
                ALPHA_TIP,
            );
            log_slider(
                ui,
                &mut w.style_weight,
                (1e6, 1e10),
                0.1,
                BETA_NAME,
                BETA_TIP,
            );
            log_slider(ui, &mut w.tv_weight, (0.1, 100.0), 1e-8, TV_NAME, TV_TIP);
            if s.multiscale_start > 0 {
                log_slider(
                    ui,
                    &mut w.detail_weight,
                    (20.0, 1000.0),
                    0.1,
                    DETAIL_NAME,
                    DETAIL_TIP,
                );
            }
        });
    let w = &s.weights;
    let balance = if w.content_weight > 0.0 {
        format!(
            "β/α = {}",
            format_weight(f64::from(w.style_weight / w.content_weight))
        )
    } else {
        "β/α = ∞ (style only)".to_owned()
    };
    ui.label(
        RichText::new(format!("{balance}  ·  higher is more painterly"))
            .small()
            .weak(),
    )
    .on_hover_text("The look depends on this ratio: try ×10 steps while the picture paints.");
}

#[cfg(test)]
mod tests {
    use super::format_weight;

    #[test]
    fn weights_read_compactly() {
        assert_eq!(format_weight(0.0), "0");
        assert_eq!(format_weight(1e-5), "1e-5");
        assert_eq!(format_weight(5.0), "5");
        assert_eq!(format_weight(2.5), "2.5");
        assert_eq!(format_weight(100.0), "100");
        assert_eq!(format_weight(1e6), "1e6");
        assert_eq!(format_weight(0.125), "0.125");
    }
}
