//! Which network is loaded, or what to do when none is: download it (progress bar + Cancel in
//! the card; the worker does the downloading) or choose a file.

use super::run_state::format_duration;
use crate::weights::Model;
use crate::worker::NetworkInfo;
use egui::RichText;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NetworkState {
    /// `LoadNetwork` sent, no answer yet.
    Loading,
    Loaded(NetworkInfo),
    /// The worker's message says where it looked and how to get weights.
    Missing(String),
}

/// A weights download the worker is running, as the card shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DownloadState {
    pub model: Model,
    /// Bytes present locally (resumed ones included).
    pub received: u64,
    /// `None` until the first progress report.
    pub total: Option<u64>,
    pub bytes_per_second: f64,
    pub eta_seconds: Option<f64>,
    /// Cancel was pressed; waiting for the worker to confirm.
    pub cancelling: bool,
}

impl DownloadState {
    pub(crate) fn new(model: Model) -> Self {
        Self {
            model,
            received: 0,
            total: None,
            bytes_per_second: 0.0,
            eta_seconds: None,
            cancelling: false,
        }
    }

    pub(crate) fn fraction(&self) -> f32 {
        self.total
            .map_or(0.0, |t| (self.received as f64 / t.max(1) as f64) as f32)
    }

    /// "VGG19 — 12.3 / 80.1 MB · 4.2 MB/s · 18 s left".
    pub(crate) fn describe(&self) -> String {
        let arch = self.model.name().to_uppercase();
        if self.cancelling {
            return format!("{arch} — cancelling…");
        }
        let Some(total) = self.total else {
            return format!("{arch} — connecting…");
        };
        let mut text = format!("{arch} — {} / {} MB", mb(self.received), mb(total));
        if self.bytes_per_second > 0.0 {
            text.push_str(&format!(
                " · {:.1} MB/s",
                self.bytes_per_second / 1_000_000.0
            ));
        }
        if let Some(eta) = self.eta_seconds.filter(|e| *e > 0.0) {
            text.push_str(&format!(" · {} left", format_duration(eta)));
        }
        text
    }
}

/// Megabytes with one decimal, as download sizes are quoted.
pub(crate) fn mb(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1_000_000.0)
}

pub(crate) struct NetworkPanel {
    pub(crate) state: NetworkState,
    /// Bumped on every load, so a run knows its network was swapped under it.
    pub(crate) generation: u64,
    pub(crate) path_text: String,
    pub(crate) download: Option<DownloadState>,
}

/// What the artist asked for in the network section.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NetworkAction {
    OpenDialog,
    Load(PathBuf),
    Download(Model),
    CancelDownload,
}

impl NetworkPanel {
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

    /// The worker reported progress of the running download.
    pub(crate) fn set_download_progress(
        &mut self,
        received: u64,
        total: u64,
        bytes_per_second: f64,
        eta_seconds: Option<f64>,
    ) {
        if let Some(d) = &mut self.download {
            d.received = received;
            d.total = Some(total);
            d.bytes_per_second = bytes_per_second;
            d.eta_seconds = eta_seconds;
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
                let text = match &self.download {
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
            NetworkState::Missing(message) => {
                ui.colored_label(ui.visuals().warn_fg_color, "No weights loaded")
                    .on_hover_text(message);
            }
        }
        // While weights are missing, the banner above the preview has the buttons.
        if matches!(self.state, NetworkState::Missing(_)) {
            return self.path_row(ui);
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

    /// One line above the preview while there is no painting network: what is missing, the
    /// download (with its progress in place) and the way to a file already on disk. Where Atelier
    /// looked is in the hover text; the path field is in the left panel's NetworkPanel section.
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
                    match &self.download {
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
                                action = Some(NetworkAction::CancelDownload);
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
                                action = Some(NetworkAction::Download(model));
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
                        action = Some(NetworkAction::OpenDialog);
                    }
                });
            });
        ui.add_space(6.0);
        action
    }
}
