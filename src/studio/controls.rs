//! The run's knobs. They edit `Settings` in place; the app decides what can be steered live and
//! what needs a restart, so these functions stay plain.

use crate::settings::{
    ColourMode, DeviceChoice, InitKind, LayerWeight, OptimizerKind, Preprocess, Settings,
};
use crate::worker::NetworkInfo;
use egui::{DragValue, RichText, Slider, SliderClamping};
use std::collections::BTreeMap;

pub(crate) const ALPHA_NAME: &str = "Content weight α";
pub(crate) const BETA_NAME: &str = "Style weight β";
pub(crate) const TV_NAME: &str = "Smoothness (TV)";
pub(crate) const SIZE_NAME: &str = "Output size";
pub(crate) const ITERATIONS_NAME: &str = "Iterations";

const ALPHA_TIP: &str = "How much of the photo's structure survives: outlines, faces, the shapes \
    of things. Raise it when the subject dissolves into brushwork.";
const BETA_TIP: &str = "How strongly the painting's colours, strokes and textures are applied. \
    Raise it for a more painterly picture. What counts is the balance β/α, not either number \
    alone. Can be changed while the picture is painting.";
const TV_TIP: &str = "Smooths away speckle and pixel noise. Too much and the result looks blurry \
    or plastic; zero keeps every grain.";

/// A logarithmic slider plus a typed value box, both named for screen readers and tests.
/// Lays out as two cells of the surrounding grid (label, then slider + box). The slider spans
/// the useful range; the box accepts anything up to `typed_max`.
pub(crate) fn log_slider(
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
pub(crate) fn format_weight(v: f64) -> String {
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

/// One row per network layer: use it for content, for style, and the style term's weight.
pub(crate) fn show_layers(
    ui: &mut egui::Ui,
    s: &mut Settings,
    network: Option<&NetworkInfo>,
    memory: &mut BTreeMap<String, f32>,
) {
    let Some(net) = network else {
        ui.label(RichText::new("The layer list appears once the network is loaded.").weak());
        return;
    };
    ui.label(
        RichText::new(
            "Early layers carry colour and fine texture, deeper ones larger motifs. Content \
             usually uses one deep layer (relu4_2).",
        )
        .small()
        .weak(),
    );
    let mut content_changed = false;
    let mut style_changed = false;
    egui::Grid::new("layers")
        .num_columns(4)
        .striped(true)
        .spacing([14.0, 4.0])
        .show(ui, |ui| {
            ui.label(RichText::new("Layer").strong());
            ui.label(RichText::new("Content").strong())
                .on_hover_text("Which layers hold the photo's structure");
            ui.label(RichText::new("Style").strong())
                .on_hover_text("Which layers the painting's texture is matched on");
            ui.label(RichText::new("Weight").strong())
                .on_hover_text("Relative strength of each style layer");
            ui.end_row();
            for layer in &net.layers {
                ui.label(RichText::new(layer).monospace());
                let mut c_on = s.weights.content_layers.contains(layer);
                if ui
                    .checkbox(&mut c_on, "")
                    .accessible_name(format!("{layer} content"))
                    .changed()
                {
                    content_changed = true;
                    if c_on {
                        s.weights.content_layers.push(layer.clone());
                    } else {
                        s.weights.content_layers.retain(|l| l != layer);
                    }
                }
                let pos = s
                    .weights
                    .style_layers
                    .iter()
                    .position(|l| &l.layer == layer);
                let mut st_on = pos.is_some();
                if ui
                    .checkbox(&mut st_on, "")
                    .accessible_name(format!("{layer} style"))
                    .changed()
                {
                    style_changed = true;
                    match pos {
                        Some(i) if !st_on => {
                            let lw = s.weights.style_layers.remove(i);
                            memory.insert(lw.layer, lw.weight);
                        }
                        None if st_on => {
                            let weight = memory.get(layer).copied().unwrap_or(1.0);
                            s.weights
                                .style_layers
                                .push(LayerWeight::new(layer.clone(), weight));
                        }
                        _ => {}
                    }
                }
                let idx = s
                    .weights
                    .style_layers
                    .iter()
                    .position(|l| &l.layer == layer);
                let mut shown = idx.map_or_else(
                    || memory.get(layer).copied().unwrap_or(1.0),
                    |i| s.weights.style_layers[i].weight,
                );
                let r = ui.add_enabled(
                    idx.is_some(),
                    DragValue::new(&mut shown)
                        .range(0.0..=100.0)
                        .speed(0.02)
                        .max_decimals(2),
                );
                let r = r.accessible_name(format!("{layer} style weight"));
                if r.changed() {
                    if let Some(i) = idx {
                        s.weights.style_layers[i].weight = shown;
                    }
                }
                ui.end_row();
            }
        });
    let order = |l: &str| net.layers.iter().position(|n| n == l).unwrap_or(usize::MAX);
    if content_changed {
        s.weights.content_layers.sort_by_key(|l| order(l));
    }
    if style_changed {
        s.weights.style_layers.sort_by_key(|l| order(&l.layer));
    }
    if s.weights.content_layers.is_empty() && s.weights.style_layers.is_empty() {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            "Tick at least one layer: with none there is nothing to paint towards.",
        );
    }
}

/// The style images' size relative to the output.
pub(crate) fn show_style_scale(ui: &mut egui::Ui, s: &mut Settings) {
    let tip = "Size of the paintings relative to the output: below 1 gives finer brushwork, \
               above 1 bolder strokes.";
    ui.horizontal(|ui| {
        let label = ui.label("Style scale").on_hover_text(tip);
        ui.add(
            Slider::new(&mut s.style_scale, 0.1..=4.0)
                .logarithmic(true)
                .max_decimals(2),
        )
        .labelled_by(label.id)
        .accessible_name("Style scale")
        .on_hover_text(tip);
    });
}

pub(crate) const COLOUR_CHOICES: [(ColourMode, &str, &str); 3] = [
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

/// Coarse-to-fine stage sides: `start`, doubled while below `size`, then `size` itself
/// (a single stage when `start` is 0 or not below `size`).
pub(crate) fn stage_sides(start: u32, size: u32) -> Vec<u32> {
    if start == 0 || start >= size {
        return vec![size];
    }
    let mut sides = vec![start];
    let mut side = start;
    while side.saturating_mul(2) < size {
        side *= 2;
        sides.push(side);
    }
    sides.push(size);
    sides
}

/// The first stage when coarse-to-fine is switched on: 256 px as the default settings (where
/// the painting's strokes get their size), always below the output size.
pub(crate) fn default_multiscale_start(size: u32) -> u32 {
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
        let sides = stage_sides(s.multiscale_start, s.size);
        let text = if sides.len() > 1 {
            let list: Vec<String> = sides.iter().map(u32::to_string).collect();
            format!("{} stages: {} px", sides.len(), list.join(" → "))
        } else {
            "Start size is not below the output size: one stage.".to_owned()
        };
        ui.label(RichText::new(text).small().weak());
    }
}

/// Size, length, optimizer, start image, seed and device: all take effect on the next run.
/// `memory` is the run's estimated need and the free memory, shown under the size.
pub(crate) fn show_output(
    ui: &mut egui::Ui,
    s: &mut Settings,
    devices: &[(DeviceChoice, bool, String)],
    memory: Option<(u64, Option<u64>)>,
) {
    egui::Grid::new("output")
        .num_columns(2)
        .spacing([10.0, 8.0])
        .show(ui, |ui| {
            let tip = "Longest side of the result in pixels. Time grows with the pixel count: \
                       512 is a quick study, 1024+ a print.";
            let label = ui.label(SIZE_NAME).on_hover_text(tip);
            ui.horizontal(|ui| {
                ui.add(
                    Slider::new(&mut s.size, 64..=4096)
                        .logarithmic(true)
                        .clamping(SliderClamping::Edits)
                        .show_value(false),
                )
                .labelled_by(label.id)
                .accessible_name(SIZE_NAME)
                .on_hover_text(tip);
                ui.add(
                    DragValue::new(&mut s.size)
                        .range(16..=8192)
                        .suffix(" px")
                        .speed(4),
                )
                .labelled_by(label.id)
                .accessible_name(format!("{SIZE_NAME} value"));
            });
            ui.end_row();

            if let Some((need, free)) = memory {
                ui.label("");
                let text = super::memory::describe(need, free);
                let short = super::memory::blocker(need, free).is_some();
                let text = if short {
                    RichText::new(format!("{text}: too large")).color(ui.visuals().warn_fg_color)
                } else {
                    RichText::new(text).small().weak()
                };
                ui.label(text)
                    .on_hover_text("Estimated peak memory of the run at this size");
                ui.end_row();
            }

            let tip = "How long the picture keeps refining. You can stop early and export any \
                       frame.";
            let label = ui.label(ITERATIONS_NAME).on_hover_text(tip);
            ui.horizontal(|ui| {
                ui.add(
                    Slider::new(&mut s.iterations, 10..=5000)
                        .logarithmic(true)
                        .clamping(SliderClamping::Edits)
                        .show_value(false),
                )
                .labelled_by(label.id)
                .accessible_name(ITERATIONS_NAME)
                .on_hover_text(tip);
                ui.add(
                    DragValue::new(&mut s.iterations)
                        .range(1..=100_000)
                        .speed(2),
                )
                .labelled_by(label.id)
                .accessible_name(format!("{ITERATIONS_NAME} value"));
            });
            ui.end_row();

            ui.label("Optimizer").on_hover_text(
                "L-BFGS converges in fewer steps (best quality); Adam takes cheaper, steadier \
                 steps, nice to watch live.",
            );
            ui.horizontal(|ui| {
                ui.selectable_value(&mut s.optimizer, OptimizerKind::Lbfgs, "L-BFGS");
                ui.selectable_value(&mut s.optimizer, OptimizerKind::Adam, "Adam");
            });
            ui.end_row();

            let adam = s.optimizer == OptimizerKind::Adam;
            let tip = "Adam's step size in pixel units: higher moves faster but can flicker.";
            let label = ui
                .add_enabled(adam, egui::Label::new("Learning rate"))
                .on_hover_text(tip)
                .on_disabled_hover_text("Only used by Adam");
            ui.add_enabled_ui(adam, |ui| {
                ui.horizontal(|ui| {
                    ui.add(
                        Slider::new(&mut s.learning_rate, 0.0..=100.0)
                            .logarithmic(true)
                            .smallest_positive(0.01)
                            .clamping(SliderClamping::Edits)
                            .show_value(false),
                    )
                    .labelled_by(label.id)
                    .accessible_name("Learning rate")
                    .on_hover_text(tip);
                    ui.add(
                        DragValue::new(&mut s.learning_rate)
                            .range(0.0..=255.0)
                            .speed(0.1)
                            .max_decimals(2),
                    )
                    .labelled_by(label.id)
                    .accessible_name("Learning rate value");
                });
            });
            ui.end_row();

            ui.label("Start from").on_hover_text(
                "The picture the optimizer begins with. Content keeps the photo legible, style \
                 gives looser results, noise the most inventive ones.",
            );
            ui.horizontal(|ui| {
                ui.selectable_value(&mut s.init, InitKind::Content, "Content");
                ui.selectable_value(&mut s.init, InitKind::Style, "Style");
                ui.selectable_value(&mut s.init, InitKind::Noise, "Noise");
                ui.selectable_value(&mut s.init, InitKind::Instant, "Instant")
                    .on_hover_text("The instant picture of this style (what Refine starts from)");
            });
            ui.end_row();

            let label = ui.label("Seed").on_hover_text(
                "Same seed and settings give the same picture; change it for a variation.",
            );
            ui.horizontal(|ui| {
                ui.add(DragValue::new(&mut s.seed).speed(1))
                    .labelled_by(label.id)
                    .accessible_name("Seed");
                if ui
                    .button("Random")
                    .accessible_name("Random seed")
                    .on_hover_text("Pick a random seed")
                    .clicked()
                {
                    s.seed = random_seed();
                }
            });
            ui.end_row();

            let label = ui
                .label("Device")
                .on_hover_text("Where the computation runs.");
            let current = devices
                .iter()
                .find(|d| d.0 == s.device)
                .map_or_else(|| format!("{:?}", s.device), |d| d.2.clone());
            egui::ComboBox::from_id_salt("device")
                .selected_text(current)
                .width(190.0)
                .show_ui(ui, |ui| {
                    for (choice, usable, label) in devices {
                        ui.add_enabled_ui(*usable, |ui| {
                            ui.selectable_value(&mut s.device, *choice, label);
                        });
                    }
                })
                .response
                .labelled_by(label.id)
                .accessible_name("Device");
            ui.end_row();
        });
    if let Some((_, false, label)) = devices.iter().find(|d| d.0 == s.device) {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!("{label}: pick another device before starting."),
        );
    }
}

/// Rarely touched knobs, folded away by default.
pub(crate) fn show_advanced(ui: &mut egui::Ui, s: &mut Settings) {
    egui::Grid::new("advanced")
        .num_columns(2)
        .spacing([10.0, 8.0])
        .show(ui, |ui| {
            let label = ui
                .label("L-BFGS history")
                .on_hover_text("Steps L-BFGS remembers; more is smoother but uses memory.");
            ui.add(DragValue::new(&mut s.lbfgs_history).range(1..=500))
                .labelled_by(label.id)
                .accessible_name("L-BFGS history");
            ui.end_row();

            let label = ui.label("CPU threads").on_hover_text("0 uses every core.");
            ui.add(DragValue::new(&mut s.threads).range(0..=256))
                .labelled_by(label.id)
                .accessible_name("CPU threads");
            ui.end_row();

            let label = ui.label("Preprocessing").on_hover_text(
                "How pixels are fed to the network. Leave on Auto: the weights file says.",
            );
            let text = match s.preprocess {
                None => "Auto (from weights)",
                Some(Preprocess::Caffe) => "Caffe (BGR, mean)",
                Some(Preprocess::Torch) => "Torch (RGB, mean/std)",
            };
            egui::ComboBox::from_id_salt("preprocess")
                .selected_text(text)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut s.preprocess, None, "Auto (from weights)");
                    ui.selectable_value(
                        &mut s.preprocess,
                        Some(Preprocess::Caffe),
                        "Caffe (BGR, mean)",
                    );
                    ui.selectable_value(
                        &mut s.preprocess,
                        Some(Preprocess::Torch),
                        "Torch (RGB, mean/std)",
                    );
                })
                .response
                .labelled_by(label.id)
                .accessible_name("Preprocessing");
            ui.end_row();
        });
}

/// A seed from the clock: good enough for "give me a variation", no RNG crate needed.
fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    (nanos ^ (nanos >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15) % 1_000_000
}

#[cfg(test)]
mod tests {
    use super::format_weight;

    #[test]
    fn coarse_to_fine_stages_double_up_to_the_size() {
        use super::{default_multiscale_start, stage_sides};
        assert_eq!(stage_sides(0, 512), [512]);
        assert_eq!(stage_sides(128, 512), [128, 256, 512]);
        assert_eq!(stage_sides(200, 512), [200, 400, 512]);
        assert_eq!(stage_sides(256, 512), [256, 512]);
        assert_eq!(stage_sides(512, 512), [512]);
        assert_eq!(default_multiscale_start(512), 256);
        assert_eq!(default_multiscale_start(2048), 256);
        assert_eq!(default_multiscale_start(100), 50);
    }

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
