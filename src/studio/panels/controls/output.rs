//! The Output and Advanced sections: size (with the run's memory need), iterations, optimizer,
//! start image, seed and device; L-BFGS history, threads and preprocessing. All apply on the
//! next start.

use crate::settings::{DeviceChoice, InitKind, OptimizerKind, Preprocess, Settings};
use crate::studio::memory;
use egui::{DragValue, RichText, Slider, SliderClamping};

const SIZE_NAME: &str = "Output size";
const ITERATIONS_NAME: &str = "Iterations";

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
                let text = memory::describe(need, free);
                let short = memory::blocker(need, free).is_some();
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
