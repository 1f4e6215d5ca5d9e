//! Which network is loaded, or what to do when none is. The download itself belongs to the
//! weights module; this file reserves its place (progress bar + Cancel) and the button that will
//! trigger it.

use crate::worker::NetworkInfo;
use egui::RichText;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NetworkState {
    /// `LoadWeights` sent, no answer yet.
    Loading,
    Loaded(NetworkInfo),
    /// The worker's message says where it looked and how to get weights.
    Missing(String),
}

/// A weights download in progress. Nothing creates one yet: the weights module will, through
/// [`Network::set_download_progress`], and watch `cancel`.
#[derive(Debug, Clone)]
pub(crate) struct Download {
    pub(crate) arch: String,
    pub(crate) received: u64,
    pub(crate) total: Option<u64>,
    pub(crate) cancel: Arc<AtomicBool>,
}

pub(crate) struct Network {
    pub(crate) state: NetworkState,
    /// Bumped on every load, so a run knows its network was swapped under it.
    pub(crate) generation: u64,
    pub(crate) path_text: String,
    pub(crate) download: Option<Download>,
}

/// What the artist asked for in the network section.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NetworkAction {
    OpenDialog,
    Load(PathBuf),
    Download,
}

impl Network {
    pub(crate) fn new() -> Self {
        Self {
            state: NetworkState::Loading,
            generation: 0,
            path_text: String::new(),
            download: None,
        }
    }

    pub(crate) fn info(&self) -> Option<&NetworkInfo> {
        match &self.state {
            NetworkState::Loaded(info) => Some(info),
            _ => None,
        }
    }

    /// Hook for the weights module: report bytes as they arrive.
    #[allow(dead_code)]
    pub(crate) fn set_download_progress(&mut self, arch: &str, received: u64, total: Option<u64>) {
        match &mut self.download {
            Some(d) => {
                d.received = received;
                d.total = total;
            }
            None => {
                self.download = Some(Download {
                    arch: arch.to_owned(),
                    received,
                    total,
                    cancel: Arc::new(AtomicBool::new(false)),
                });
            }
        }
    }

    /// Always-visible toolbar chip: which network is loaded, or that none is.
    pub(crate) fn show_chip(&self, ui: &mut egui::Ui) {
        let green = egui::Color32::from_rgb(140, 220, 170);
        let warn = ui.visuals().warn_fg_color;
        // Right-to-left layout: widgets are added from the right edge.
        match &self.state {
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
                ui.label(RichText::new("Weights missing").color(warn).strong());
                ui.label(RichText::new("●").color(warn));
            }
        }
    }

    /// Compact status for the left panel.
    pub(crate) fn show_status(
        &mut self,
        ui: &mut egui::Ui,
        dialog_open: bool,
    ) -> Option<NetworkAction> {
        let mut action = None;
        match &self.state {
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
            NetworkState::Missing(_) => {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    "No weights loaded: see the card above the preview",
                );
            }
        }
        // While weights are missing, the card above the preview carries these controls.
        if matches!(self.state, NetworkState::Missing(_)) {
            return None;
        }
        if ui
            .add_enabled(!dialog_open, egui::Button::new("Open weights file…"))
            .on_hover_text("Use a VGG16/VGG19 .safetensors file you already have")
            .clicked()
        {
            action = Some(NetworkAction::OpenDialog);
        }
        action.or_else(|| self.path_row(ui))
    }

    fn path_row(&mut self, ui: &mut egui::Ui) -> Option<NetworkAction> {
        let mut action = None;
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
                action = Some(NetworkAction::Load(super::image_slot::expand_path(
                    &self.path_text,
                )));
            }
        });
        action
    }

    /// The prominent card shown above the preview while nothing can run.
    pub(crate) fn show_missing_card(
        &mut self,
        ui: &mut egui::Ui,
        dialog_open: bool,
    ) -> Option<NetworkAction> {
        let NetworkState::Missing(message) = &self.state else {
            return None;
        };
        let message = message.clone();
        let mut action = None;
        egui::Frame::new()
            .fill(egui::Color32::from_rgb(66, 54, 26))
            .stroke(egui::Stroke::new(
                1.0,
                egui::Color32::from_rgb(150, 120, 60),
            ))
            .corner_radius(8.0)
            .inner_margin(12.0)
            .show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.label(
                    RichText::new("The painting network's weights are missing")
                        .strong()
                        .size(15.0)
                        .color(egui::Color32::from_rgb(240, 200, 110)),
                );
                ui.label(&message);
                ui.add_space(4.0);
                match &self.download {
                    Some(d) => {
                        // Reserved for the weights module's download.
                        ui.horizontal(|ui| {
                            let fraction =
                                d.total.map_or(0.0, |t| d.received as f32 / t.max(1) as f32);
                            let text = match d.total {
                                Some(t) => {
                                    format!("{} — {} / {} MB", d.arch, d.received >> 20, t >> 20)
                                }
                                None => format!("{} — {} MB", d.arch, d.received >> 20),
                            };
                            ui.add(
                                egui::ProgressBar::new(fraction)
                                    .text(text)
                                    .desired_width(320.0),
                            );
                            if ui.button("Cancel").clicked() {
                                d.cancel.store(true, Ordering::Relaxed);
                            }
                        });
                    }
                    None => {
                        ui.horizontal(|ui| {
                            if ui
                                .button("⬇ Download VGG19")
                                .accessible_name("Download VGG19")
                                .on_hover_text(
                                    "About 550 MB, once; stored in Atelier's cache folder",
                                )
                                .clicked()
                            {
                                action = Some(NetworkAction::Download);
                            }
                            if ui
                                .add_enabled(!dialog_open, egui::Button::new("Open weights file…"))
                                .on_hover_text(
                                    "Use a VGG16/VGG19 .safetensors file you already have",
                                )
                                .clicked()
                            {
                                action = Some(NetworkAction::OpenDialog);
                            }
                        });
                    }
                }
                if let Some(a) = self.path_row(ui) {
                    action = Some(a);
                }
            });
        ui.add_space(6.0);
        action
    }
}
