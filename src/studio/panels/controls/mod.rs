//! The run's knobs in the left panel: Strength (steers a running picture live), Look, Layers,
//! Output and Advanced (the next start). The sections edit a draft of the settings and the panel
//! returns it as one `EditSettings` when anything changed; which edits steer live and which need
//! a restart is the app's business (run_plan.rs), so these stay plain. The panel owns the
//! weights of unticked style layers, restored when a layer is ticked again.

mod layers;
mod look;
mod output;
mod strength;

use super::{edited, section, Command};
use crate::settings::{DeviceChoice, Settings};
use crate::worker::NetworkInfo;
use egui::RichText;
use std::collections::BTreeMap;

/// What the knobs show besides the settings.
pub(crate) struct ControlsView<'a> {
    pub(crate) settings: &'a Settings,
    /// The loaded network, whose layers the Layers section lists.
    pub(crate) network: Option<&'a NetworkInfo>,
    /// `(device, usable, label)` as the worker reported them.
    pub(crate) devices: &'a [(DeviceChoice, bool, String)],
    /// The run's estimated memory need and the free memory, shown under the size.
    pub(crate) memory: Option<(u64, Option<u64>)>,
}

#[derive(Default)]
pub(crate) struct ControlsPanel {
    /// Weights of unticked style layers (saved between launches).
    style_weight_memory: BTreeMap<String, f32>,
}

impl ControlsPanel {
    pub(crate) fn new(style_weight_memory: BTreeMap<String, f32>) -> Self {
        Self {
            style_weight_memory,
        }
    }

    /// What survives a restart.
    pub(crate) fn style_weight_memory(&self) -> &BTreeMap<String, f32> {
        &self.style_weight_memory
    }

    /// Strength, Look, Layers and Output.
    pub(crate) fn ui(&mut self, ui: &mut egui::Ui, v: &ControlsView<'_>) -> Vec<Command> {
        let mut draft = v.settings.clone();
        ui.add_space(6.0);
        section(ui, "Strength", "These apply live while the picture paints.");
        strength::show_strength(ui, &mut draft);

        ui.add_space(6.0);
        egui::CollapsingHeader::new(RichText::new("Look").strong())
            .default_open(true)
            .show(ui, |ui| {
                ui.label(
                    RichText::new("Changes here apply on the next start; the style match live.")
                        .small()
                        .weak(),
                );
                look::show_look(ui, &mut draft);
            });

        let w = &draft.weights;
        let summary = format!(
            "Layers  ·  {} content, {} style",
            w.content_layers.len(),
            w.style_layers.len()
        );
        egui::CollapsingHeader::new(RichText::new(summary).strong())
            .id_salt("layers")
            .default_open(false)
            .show(ui, |ui| {
                layers::show_layers(ui, &mut draft, v.network, &mut self.style_weight_memory);
            })
            .header_response
            .accessible_name("Layers");

        egui::CollapsingHeader::new(RichText::new("Output").strong())
            .default_open(true)
            .show(ui, |ui| {
                next_start_note(ui);
                output::show_output(ui, &mut draft, v.devices, v.memory);
            });
        edited(v.settings, draft).into_iter().collect()
    }

    /// The Advanced section, folded away by default.
    pub(crate) fn advanced_ui(&mut self, ui: &mut egui::Ui, settings: &Settings) -> Vec<Command> {
        let mut draft = settings.clone();
        egui::CollapsingHeader::new(RichText::new("Advanced").strong())
            .default_open(false)
            .show(ui, |ui| output::show_advanced(ui, &mut draft));
        ui.add_space(8.0);
        edited(settings, draft).into_iter().collect()
    }
}

fn next_start_note(ui: &mut egui::Ui) {
    ui.label(
        RichText::new("Changes here apply on the next start.")
            .small()
            .weak(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::studio::panels::testing::harness;
    use egui_kittest::kittest::Queryable;

    fn network() -> NetworkInfo {
        NetworkInfo {
            arch: "vgg16".into(),
            path: "vgg16.safetensors".into(),
            layers: [
                "relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1",
            ]
            .map(String::from)
            .to_vec(),
            device: "CPU".into(),
            note: None,
        }
    }

    /// A typed weight comes back as the whole edited settings; nothing else changed.
    #[test]
    fn a_typed_weight_is_one_settings_edit() {
        let settings = Settings::default();
        let info = network();
        let mut panel = ControlsPanel::default();
        let mut h = harness([380.0, 1400.0], |ui| {
            panel.ui(
                ui,
                &ControlsView {
                    settings: &settings,
                    network: Some(&info),
                    devices: &[],
                    memory: Some((1 << 30, Some(8 << 30))),
                },
            )
        });
        h.run();
        assert!(h.state().is_empty(), "nothing sent until something changes");
        h.get_by_label("Content weight α value")
            .set_value_accesskit(42.0);
        h.run();
        let [Command::EditSettings(s)] = h.state().as_slice() else {
            panic!("one settings edit");
        };
        assert_eq!(s.weights.content_weight, 42.0);
        let mut expected = Settings::default();
        expected.weights.content_weight = 42.0;
        assert_eq!(**s, expected);
    }

    /// Unticking a style layer remembers its weight in the panel.
    #[test]
    fn an_unticked_style_layer_keeps_its_weight() {
        let mut settings = Settings::default();
        settings.weights.style_layers[0].weight = 0.5;
        let layer = settings.weights.style_layers[0].layer.clone();
        let info = network();
        let mut panel = ControlsPanel::default();
        {
            let mut h = harness([380.0, 1400.0], |ui| {
                panel.ui(
                    ui,
                    &ControlsView {
                        settings: &settings,
                        network: Some(&info),
                        devices: &[],
                        memory: None,
                    },
                )
            });
            h.run();
            h.get_by_label("Layers").click();
            h.run();
            h.get_by_label(&format!("{layer} style")).click();
            h.run();
            let Some(Command::EditSettings(s)) = h.state().last() else {
                panic!("a settings edit");
            };
            assert!(s.weights.style_layers.iter().all(|l| l.layer != layer));
        }
        assert_eq!(panel.style_weight_memory().get(&layer), Some(&0.5));
    }
}
