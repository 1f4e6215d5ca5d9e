//! The toolbar: the brand, Start (Restart mid-run), Pause/Resume, Stop, the Presets menu,
//! Export PNG… and the network chip. It owns only the brand texture; what it shows comes in a
//! [`ToolbarView`] and what was pressed goes out as commands.

use super::{icon_button, Command};
use crate::studio::dialogs::Purpose;
use crate::studio::network::Network;
use crate::studio::presets;
use crate::studio::run_state::RunPhase;
use crate::studio::theme;
use egui::{Color32, RichText};

/// What the toolbar shows.
pub(crate) struct ToolbarView<'a> {
    /// Why Start is unavailable (its disabled tooltip); `None` when it can start.
    pub(crate) blocker: Option<String>,
    pub(crate) phase: RunPhase,
    /// A picture is on screen, no dialog is open and no export is being written.
    pub(crate) can_export: bool,
    pub(crate) dialog_open: bool,
    pub(crate) network: &'a Network,
}

pub(crate) struct ToolbarPanel {
    /// The app icon, shown small; a broken icon just means no brand mark.
    brand: Option<egui::TextureHandle>,
}

impl ToolbarPanel {
    pub(crate) fn new(ctx: &egui::Context) -> Self {
        Self {
            brand: brand_texture(ctx),
        }
    }

    pub(crate) fn ui(&mut self, ui: &mut egui::Ui, v: &ToolbarView<'_>) -> Vec<Command> {
        let mut sent = Vec::new();
        ui.horizontal(|ui| {
            if let Some(mark) = &self.brand {
                ui.add(egui::Image::from_texture((
                    mark.id(),
                    egui::vec2(24.0, 24.0),
                )))
                .on_hover_text("Atelier: neural style transfer studio");
            }
            ui.label(RichText::new("Atelier").size(17.0).strong());
            ui.add_space(10.0);
            let active = v.phase.is_active();
            let (icon, name, tip) = if active {
                (
                    "↻",
                    "Restart",
                    "Start over with the current settings (Ctrl+Enter)",
                )
            } else {
                (
                    "▶",
                    "Start",
                    "Begin painting; the preview updates live (Ctrl+Enter)",
                )
            };
            let ink = Color32::from_rgb(30, 24, 16);
            // The accent marks the one obvious action; mid-run, Restart is an ordinary button.
            let button = if active {
                icon_button(icon, name, None)
            } else {
                icon_button(icon, name, Some(ink)).fill(theme::ACCENT)
            };
            let start = ui
                .add_enabled(
                    v.blocker.is_none(),
                    button.min_size(egui::vec2(104.0, 28.0)),
                )
                .accessible_name(name)
                .on_hover_text(tip)
                .on_disabled_hover_text(v.blocker.clone().unwrap_or_default());
            if start.clicked() {
                sent.push(Command::Start);
            }
            let size = egui::vec2(86.0, 28.0);
            if v.phase == RunPhase::Paused {
                if ui
                    .add(icon_button("▶", "Resume", None).min_size(size))
                    .accessible_name("Resume")
                    .on_hover_text("Carry on painting (Space)")
                    .clicked()
                {
                    sent.push(Command::TogglePause);
                }
            } else if ui
                .add_enabled(
                    v.phase == RunPhase::Running,
                    icon_button("‖", "Pause", None).min_size(size),
                )
                .accessible_name("Pause")
                .on_hover_text(
                    "Hold the picture while you think; weights can still be changed (Space)",
                )
                .clicked()
            {
                sent.push(Command::TogglePause);
            }
            if ui
                .add_enabled(active, icon_button("■", "Stop", None).min_size(size))
                .accessible_name("Stop")
                .on_hover_text("End the run; the last frame stays for export")
                .clicked()
            {
                sent.push(Command::Stop);
            }
            ui.add_space(8.0);
            sent.extend(presets_menu(ui, v.dialog_open));
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui
                    .add_enabled(
                        v.can_export,
                        icon_button("⇩", "Export PNG…", None).min_size(egui::vec2(128.0, 28.0)),
                    )
                    .accessible_name("Export PNG…")
                    .on_hover_text(
                        "Save the frame on screen, even mid-run; the PNG remembers its settings \
                         (Ctrl+S)",
                    )
                    .on_disabled_hover_text("Available once the first frame is painted")
                    .clicked()
                {
                    sent.push(Command::OpenDialog(Purpose::ExportPng));
                }
                ui.add_space(8.0);
                super::network::chip(ui, v.network);
            });
        });
        sent
    }
}

/// The Presets menu: built-in starting points, and presets on disk.
fn presets_menu(ui: &mut egui::Ui, dialog_open: bool) -> Vec<Command> {
    let mut sent = Vec::new();
    ui.menu_button("Presets", |ui| {
        for (i, b) in presets::BUILT_IN.iter().enumerate() {
            if ui.button(b.name).on_hover_text(b.tip).clicked() {
                sent.push(Command::ApplyPreset(i));
            }
        }
        ui.separator();
        if ui
            .add_enabled(!dialog_open, egui::Button::new("Load preset…"))
            .on_hover_text("A preset .json, or a PNG made by Atelier")
            .clicked()
        {
            sent.push(Command::OpenDialog(Purpose::OpenSettings));
        }
        if ui
            .add_enabled(!dialog_open, egui::Button::new("Save preset…"))
            .on_hover_text("Write the current settings as a JSON preset")
            .clicked()
        {
            sent.push(Command::OpenDialog(Purpose::SavePreset));
        }
    })
    .response
    .accessible_name("Presets")
    .on_hover_text("Starting points, and your own saved settings");
    sent
}

/// The embedded icon as a small texture.
fn brand_texture(ctx: &egui::Context) -> Option<egui::TextureHandle> {
    let img = image::load_from_memory(crate::studio::ICON_PNG)
        .ok()?
        .to_rgba8();
    let img = image::imageops::resize(&img, 48, 48, image::imageops::FilterType::Lanczos3);
    let color = egui::ColorImage::from_rgba_unmultiplied([48, 48], img.as_raw());
    Some(ctx.load_texture("brand", color, egui::TextureOptions::LINEAR))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::studio::panels::testing::{harness, names};
    use egui_kittest::kittest::Queryable;

    fn view(network: &Network, phase: RunPhase, blocker: Option<String>) -> ToolbarView<'_> {
        ToolbarView {
            blocker,
            phase,
            can_export: true,
            dialog_open: false,
            network,
        }
    }

    #[test]
    fn start_export_and_pause_are_commands() {
        let network = Network::default();
        let mut panel = None::<ToolbarPanel>;
        let mut h = harness([1100.0, 60.0], |ui| {
            let p = panel.get_or_insert_with(|| ToolbarPanel::new(ui.ctx()));
            p.ui(ui, &view(&network, RunPhase::Idle, None))
        });
        h.run();
        h.get_by_label("Start").click();
        h.run();
        h.get_by_label("Export PNG…").click();
        h.run();
        assert_eq!(names(h.state()), ["Start", "OpenDialog"]);
    }

    #[test]
    fn a_blocked_start_sends_nothing_and_a_run_can_pause() {
        let network = Network::default();
        let mut h = harness([1100.0, 60.0], |ui| {
            ToolbarPanel { brand: None }.ui(
                ui,
                &view(&network, RunPhase::Running, Some("no weights".into())),
            )
        });
        h.run();
        // Mid-run the button reads Restart, and is blocked here.
        h.get_by_label("Restart").click();
        h.run();
        h.get_by_label("Pause").click();
        h.run();
        h.get_by_label("Stop").click();
        h.run();
        assert_eq!(names(h.state()), ["TogglePause", "Stop"]);
    }
}
