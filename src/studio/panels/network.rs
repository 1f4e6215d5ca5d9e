//! The network's parts of the window: the toolbar chip (which network, or none), the Network
//! section in the left panel (the file and device, Open weights file…, a path field), and the
//! one-line banner above the preview while there are no weights (Download with its progress in
//! place, or a file already on disk). The panel owns the path field's text; the state is read
//! from [`Network`].

use super::{expand_path, Command};
use crate::studio::dialogs::Purpose;
use crate::studio::network::{Network, NetworkState};
use crate::weights::Model;
use egui::RichText;
use std::path::Path;

#[derive(Default)]
pub(crate) struct NetworkPanel {
    path_text: String,
}

impl NetworkPanel {
    /// The field shows the file being loaded or used.
    pub(crate) fn show_path(&mut self, path: &Path) {
        self.path_text = path.display().to_string();
    }

    /// Compact status for the left panel.
    pub(crate) fn section_ui(
        &mut self,
        ui: &mut egui::Ui,
        network: &Network,
        dialog_open: bool,
    ) -> Vec<Command> {
        let mut sent = Vec::new();
        match network.state() {
            NetworkState::Loading => {
                ui.label(RichText::new("Loading network…").weak());
            }
            NetworkState::Loaded(info) => {
                ui.horizontal(|ui| {
                    ui.label(RichText::new("●").color(egui::Color32::from_rgb(140, 220, 170)));
                    ui.label(RichText::new(info.arch.to_uppercase()).strong());
                    ui.label(RichText::new(&info.device).weak());
                });
                ui.add(
                    egui::Label::new(
                        RichText::new(info.path.display().to_string())
                            .small()
                            .weak(),
                    )
                    .truncate(),
                )
                .on_hover_text(info.path.display().to_string());
            }
            NetworkState::Missing(message) => {
                ui.colored_label(ui.visuals().warn_fg_color, "No weights loaded")
                    .on_hover_text(message);
            }
        }
        // While weights are missing, the banner above the preview has the buttons.
        if network.missing().is_some() {
            return self.path_row(ui);
        }
        if ui
            .add_enabled(!dialog_open, egui::Button::new("Open weights file…"))
            .on_hover_text("Use a VGG16/VGG19 .safetensors file you already have")
            .clicked()
        {
            sent.push(Command::OpenDialog(Purpose::OpenWeights));
        }
        sent.extend(self.path_row(ui));
        sent
    }

    fn path_row(&mut self, ui: &mut egui::Ui) -> Vec<Command> {
        let mut sent = Vec::new();
        ui.horizontal(|ui| {
            let w = (ui.available_width() - 60.0).min(480.0);
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut self.path_text)
                        .id(egui::Id::unique("atelier-weights-path"))
                        .hint_text("…or type the weights path")
                        .desired_width(w),
                )
                .accessible_name("Weights path");
            let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let load = ui
                .add_sized([52.0, 22.0], egui::Button::new("Load"))
                .accessible_name("Load weights path")
                .clicked();
            if (enter || load) && !self.path_text.trim().is_empty() {
                sent.push(Command::LoadNetwork(expand_path(&self.path_text)));
            }
        });
        sent
    }

    /// One line above the preview while there is no painting network: what is missing, the
    /// download (with its progress in place) and the way to a file already on disk. Where Atelier
    /// looked is in the hover text; the path field is in the left panel's NetworkPanel section.
    pub(crate) fn banner_ui(
        &mut self,
        ui: &mut egui::Ui,
        network: &Network,
        dialog_open: bool,
    ) -> Vec<Command> {
        let Some(message) = network.missing() else {
            return Vec::new();
        };
        let mut sent = Vec::new();
        egui::Frame::new()
            .fill(egui::Color32::from_rgb(52, 45, 28))
            .stroke(egui::Stroke::new(
                1.0,
                egui::Color32::from_rgb(120, 98, 52),
            ))
            .corner_radius(6.0)
            .inner_margin(egui::Margin::symmetric(10, 5))
            .show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.horizontal_wrapped(|ui| {
                    ui.label(
                        RichText::new("The weights are missing:")
                            .strong()
                            .color(egui::Color32::from_rgb(240, 200, 110)),
                    )
                    .on_hover_text(format!(
                        "Painting (Paint mode) needs the VGG network; Instant mode works without it.\n\n{message}"
                    ));
                    match network.download() {
                        Some(d) => {
                            // Static bar (no animation): a download must not keep the UI
                            // repainting between progress reports. Its text is its
                            // accessible label too.
                            ui.add(
                                egui::ProgressBar::new(d.fraction())
                                    .text(d.describe())
                                    .desired_width(340.0),
                            );
                            let cancel = ui
                                .add_enabled(!d.cancelling, egui::Button::new("Cancel"))
                                .accessible_name("Cancel download")
                                .on_hover_text(
                                    "Stop downloading; what arrived is kept and the next download resumes from it",
                                );
                            if cancel.clicked() {
                                sent.push(Command::CancelDownload);
                            }
                        }
                        None => {
                            let model = Model::default();
                            let name = format!("Download {}", model.name().to_uppercase());
                            let mb = model.features_bytes() / 1_000_000;
                            if ui
                                .button(
                                    RichText::new(format!("⬇ {name} ({mb} MB) to paint")).strong(),
                                )
                                .accessible_name(&name)
                                .on_hover_text(format!(
                                    "About {mb} MB from huggingface.co ({}), once: only the \
                                     layers painting needs. Stored in the Hugging Face cache \
                                     folder. Instant mode works meanwhile.",
                                    model.repo()
                                ))
                                .clicked()
                            {
                                sent.push(Command::DownloadWeights(model));
                            }
                        }
                    }
                    if ui
                        .add_enabled(!dialog_open, egui::Button::new("Open weights file…"))
                        .on_hover_text(
                            "Use a VGG16/VGG19 .safetensors file you already have (a full \
                             model.safetensors from the hub works too)",
                        )
                        .clicked()
                    {
                        sent.push(Command::OpenDialog(Purpose::OpenWeights));
                    }
                });
            });
        ui.add_space(6.0);
        sent
    }
}

/// Always-visible toolbar chip: which network is loaded, or that none is.
pub(crate) fn chip(ui: &mut egui::Ui, network: &Network) {
    let green = egui::Color32::from_rgb(140, 220, 170);
    let warn = ui.visuals().warn_fg_color;
    // Right-to-left layout: widgets are added from the right edge.
    match network.state() {
        // Static text, not a spinner: a slow load must not keep the UI repainting.
        NetworkState::Loading => {
            ui.label(RichText::new("Loading network…").weak());
        }
        NetworkState::Loaded(info) => {
            let file = info.path.file_name().map_or_else(
                || info.path.display().to_string(),
                |f| f.to_string_lossy().into_owned(),
            );
            ui.label(RichText::new(file).weak()).on_hover_text(format!(
                "{}\n{}",
                info.path.display(),
                info.device
            ));
            ui.label(RichText::new(info.arch.to_uppercase()).strong());
            ui.label(RichText::new("●").color(green));
        }
        NetworkState::Missing(_) => {
            let text = match network.download() {
                Some(d) => format!(
                    "Downloading {} {:.0}%",
                    d.model.name().to_uppercase(),
                    d.fraction() * 100.0
                ),
                None => "Weights missing".to_owned(),
            };
            ui.label(RichText::new(text).color(warn).strong());
            ui.label(RichText::new("●").color(warn));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::studio::panels::testing::{harness, names};
    use egui_kittest::kittest::Queryable;

    /// Without weights the banner offers the download; a typed path loads that file.
    #[test]
    fn the_banner_downloads_and_the_section_loads_a_typed_file() {
        let mut network = Network::default();
        network.set_missing("no weights in weights/".into());
        let mut panel = NetworkPanel::default();
        let mut h = harness([900.0, 300.0], |ui| {
            let mut sent = panel.banner_ui(ui, &network, false);
            sent.extend(panel.section_ui(ui, &network, false));
            sent
        });
        h.run();
        h.get_by_label("Download VGG19").click();
        h.run();
        h.get_by_label("Weights path")
            .set_text_value_accesskit("/w/vgg16.safetensors");
        h.run();
        h.get_by_label("Load weights path").click();
        h.run();
        assert_eq!(names(h.state()), ["DownloadWeights", "LoadNetwork"]);
        assert!(matches!(
            &h.state()[1],
            Command::LoadNetwork(p) if p == Path::new("/w/vgg16.safetensors")
        ));
    }

    #[test]
    fn a_running_download_can_be_cancelled() {
        let mut network = Network::default();
        network.set_missing("none".into());
        network.begin_download(Model::default());
        let mut panel = NetworkPanel::default();
        let mut h = harness([900.0, 100.0], |ui| panel.banner_ui(ui, &network, false));
        h.run();
        h.get_by_label("Cancel download").click();
        h.run();
        assert_eq!(names(h.state()), ["CancelDownload"]);
    }
}
