//! The Look section: whose colours the result has, how the painting's style is matched, the
//! network's pooling, and coarse to fine (painting a small version first). The style match
//! steers a running picture; the others apply on the next start.

use crate::settings::{stage_sizes, ColourMode, Pooling, Settings, StyleLoss};
use egui::{DragValue, RichText};

const COLOUR_CHOICES: [(ColourMode, &str, &str); 3] = [
    (
        ColourMode::Style,
        "Style colours",
        "The painting's palette, as in the classic method.",
    ),
    (
        ColourMode::Luminance,
        "Keep content colours (luminance)",
        "Only light and dark are painted; the photo keeps its own colours.",
    ),
    (
        ColourMode::Histogram,
        "Match content colours (histogram)",
        "The painting's colours are first shifted to the photo's, then painted.",
    ),
];

const STYLE_LOSS_CHOICES: [(StyleLoss, &str, &str); 3] = [
    (
        StyleLoss::Mixed,
        "Mixed (default)",
        "Means and covariances on the shallow layers (colour, contrast, brush texture), Gram \
         matrices on the deep ones: rich darks and a legible photo for ~3 % more time.",
    ),
    (
        StyleLoss::Gram,
        "Gram matrices",
        "The classic method (Gatys et al., neural-style).",
    ),
    (
        StyleLoss::Wasserstein,
        "Means and covariances",
        "On every layer (style-transfer-pytorch's loss): slower per step.",
    ),
];

/// The first stage when coarse-to-fine is switched on: 256 px as the default settings (where
/// the painting's strokes get their size), always below the output size.
fn default_multiscale_start(size: u32) -> u32 {
    (size / 2).clamp(1, 256)
}

/// Colours and coarse-to-fine: how the picture is painted (next run).
pub(crate) fn show_look(ui: &mut egui::Ui, s: &mut Settings) {
    let label = ui
        .label("Colours")
        .on_hover_text("Whose colours the result has.");
    for (mode, text, tip) in COLOUR_CHOICES {
        ui.radio_value(&mut s.colour, mode, text)
            .labelled_by(label.id)
            .accessible_name(text)
            .on_hover_text(tip);
    }
    ui.add_space(6.0);
    let label = ui
        .label("Style match")
        .on_hover_text("What the picture's features must share with the painting's.");
    for (kind, text, tip) in STYLE_LOSS_CHOICES {
        ui.radio_value(&mut s.weights.style_loss, kind, text)
            .labelled_by(label.id)
            .accessible_name(format!("Style match: {text}"))
            .on_hover_text(tip);
    }
    ui.add_space(6.0);
    ui.horizontal(|ui| {
        let label = ui.label("Pooling").on_hover_text(
            "How the network shrinks its maps between blocks: the maximum, as VGG was trained, \
             or the average (Gatys et al.'s choice), whose gradient reaches every pixel.",
        );
        for (kind, text) in [(Pooling::Max, "Max"), (Pooling::Average, "Average")] {
            ui.selectable_value(&mut s.pooling, kind, text)
                .labelled_by(label.id)
                .accessible_name(format!("Pooling: {text}"));
        }
    });
    ui.add_space(6.0);
    let mut on = s.multiscale_start > 0;
    let tip = "Paint a small version first, then enlarge and refine it: bigger coherent \
               strokes at large sizes, and a faster start.";
    ui.horizontal(|ui| {
        if ui
            .checkbox(&mut on, "Coarse to fine")
            .accessible_name("Coarse to fine")
            .on_hover_text(tip)
            .changed()
        {
            s.multiscale_start = if on {
                default_multiscale_start(s.size)
            } else {
                0
            };
        }
        ui.add_enabled_ui(on, |ui| {
            let label = ui.label("from");
            ui.add(
                DragValue::new(&mut s.multiscale_start)
                    .range(if on { 16..=8192 } else { 0..=8192 })
                    .suffix(" px")
                    .speed(4),
            )
            .labelled_by(label.id)
            .accessible_name("Coarse to fine start size")
            .on_hover_text("Longest side of the first stage; each next stage doubles it");
        });
    });
    if on {
        let sides = stage_sizes(s.multiscale_start, s.size);
        let text = if sides.len() > 1 {
            let list: Vec<String> = sides.iter().map(u32::to_string).collect();
            format!("{} stages: {} px", sides.len(), list.join(" → "))
        } else {
            "Start size is not below the output size: one stage.".to_owned()
        };
        ui.label(RichText::new(text).small().weak());
    }
}

#[cfg(test)]
mod tests {
    /// The stages the Look section lists are the engine's schedule (one rule, in settings.rs).
    #[test]
    fn coarse_to_fine_stages_double_up_to_the_size() {
        use super::default_multiscale_start;
        use crate::settings::stage_sizes as stage_sides;
        assert_eq!(stage_sides(0, 512), [512]);
        assert_eq!(stage_sides(128, 512), [128, 256, 512]);
        assert_eq!(stage_sides(200, 512), [200, 400, 512]);
        assert_eq!(stage_sides(256, 512), [256, 512]);
        assert_eq!(stage_sides(512, 512), [512]);
        assert_eq!(default_multiscale_start(512), 256);
        assert_eq!(default_multiscale_start(2048), 256);
        assert_eq!(default_multiscale_start(100), 50);
    }
}
