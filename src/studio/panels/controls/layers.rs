//! The Layers section: for each layer of the loaded network, whether it carries content, style,
//! and the style term's weight. Unticking a style layer remembers its weight for when it comes
//! back.

use crate::settings::{LayerWeight, Settings};
use crate::worker::NetworkInfo;
use egui::{DragValue, RichText};
use std::collections::BTreeMap;

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
