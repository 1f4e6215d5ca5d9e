//! The status strip under the picture: the run's phase, iteration, stage, speed, ETA and latest
//! losses; the Export field with Save; and the loss curves. The panel owns the export field's
//! text, which follows the default name until the artist types their own.

use super::{expand_path, loss_plot, Command};
use crate::settings::{stage_sizes, Settings};
use crate::studio::export;
use crate::studio::run_state::{format_duration, RunPhase, RunStatus};
use crate::studio::theme;
use crate::worker::FinishReason;
use egui::{Color32, Key, RichText};
use std::path::Path;

/// What the strip shows.
pub(crate) struct StatusView<'a> {
    pub(crate) status: &'a RunStatus,
    /// The settings of the current run (its coarse-to-fine stage sizes).
    pub(crate) run_settings: Option<&'a Settings>,
    /// Where the network runs ("CPU (2 threads)").
    pub(crate) device: Option<&'a str>,
    /// The export's default file name, and the folder of the last export.
    pub(crate) export_name: String,
    pub(crate) export_dir: Option<&'a Path>,
    /// A picture is on screen and no export is being written.
    pub(crate) can_save: bool,
}

#[derive(Default)]
pub(crate) struct StatusPanel {
    export_text: String,
    /// The artist typed in the export field: it no longer follows the default name.
    export_edited: bool,
}

impl StatusPanel {
    pub(crate) fn ui(&mut self, ui: &mut egui::Ui, v: &StatusView<'_>) -> Vec<Command> {
        let mut sent = Vec::new();
        ui.add_space(4.0);
        ui.horizontal_top(|ui| {
            let left_w = 380.0_f32.min(ui.available_width() * 0.45);
            ui.allocate_ui_with_layout(
                egui::vec2(left_w, ui.available_height()),
                egui::Layout::top_down(egui::Align::Min),
                |ui| {
                    ui.set_width(left_w);
                    progress_ui(ui, v);
                    ui.add_space(6.0);
                    sent.extend(self.export_ui(ui, v));
                },
            );
            ui.separator();
            loss_plot::show(ui, v.status);
        });
        sent
    }

    fn export_ui(&mut self, ui: &mut egui::Ui, v: &StatusView<'_>) -> Vec<Command> {
        let mut sent = Vec::new();
        if !self.export_edited {
            let dir = v
                .export_dir
                .map_or_else(export::default_dir, Path::to_path_buf);
            self.export_text = dir.join(&v.export_name).display().to_string();
        }
        ui.label(RichText::new("Export to").small().weak());
        ui.horizontal(|ui| {
            let w = ui.available_width() - 62.0;
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut self.export_text)
                        .id(egui::Id::unique("atelier-export-path"))
                        .desired_width(w),
                )
                .accessible_name("Export path")
                .on_hover_text("Where Save writes the PNG. Works without a file dialog.");
            if field.changed() {
                self.export_edited = true;
            }
            let enter = field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
            let save = ui
                .add_enabled(
                    v.can_save,
                    egui::Button::new("Save").min_size(egui::vec2(54.0, 22.0)),
                )
                .on_hover_text("Save the frame on screen to this path")
                .on_disabled_hover_text("Available once the first frame is painted");
            if (save.clicked() || (enter && v.can_save)) && !self.export_text.trim().is_empty() {
                sent.push(Command::Export {
                    path: expand_path(&self.export_text),
                    confirmed: false,
                });
            }
        });
        sent
    }
}

/// Phase, iteration and stage; the bar; speed, ETA, size and device; the latest losses.
fn progress_ui(ui: &mut egui::Ui, v: &StatusView<'_>) {
    let s = v.status;
    let (phase, color) = match s.phase {
        RunPhase::Idle => ("Ready", ui.visuals().text_color()),
        RunPhase::Starting => ("Starting…", ui.visuals().text_color()),
        RunPhase::Running => ("Painting", theme::ACCENT),
        RunPhase::Paused => ("Paused", ui.visuals().warn_fg_color),
        RunPhase::Finished(FinishReason::Completed) => ("Done", Color32::from_rgb(140, 220, 170)),
        RunPhase::Finished(FinishReason::Stopped) => ("Stopped", ui.visuals().text_color()),
        RunPhase::Finished(FinishReason::Failed) => ("Failed", ui.visuals().error_fg_color),
    };
    ui.horizontal(|ui| {
        ui.label(RichText::new(phase).size(16.0).strong().color(color));
        if s.phase != RunPhase::Idle {
            ui.label(
                RichText::new(format!("iteration {} / {}", s.iteration, s.iterations)).monospace(),
            );
        }
        if s.stages > 1 {
            let side = v.run_settings.and_then(|st| {
                stage_sizes(st.multiscale_start, st.size)
                    .get(s.stage.saturating_sub(1) as usize)
                    .copied()
            });
            let mut text = format!("stage {}/{}", s.stage, s.stages);
            if let Some(px) = side {
                text.push_str(&format!(" · {px} px"));
            }
            ui.label(RichText::new(text).monospace().color(theme::ACCENT))
                .on_hover_text("Coarse to fine: each stage refines a larger version");
        }
    });
    if s.phase == RunPhase::Idle {
        ui.label(
            RichText::new("Progress, speed and the loss curve appear here once you press Start.")
                .small()
                .weak(),
        );
    } else {
        let bar = egui::ProgressBar::new(s.fraction())
            .desired_height(8.0)
            .fill(theme::ACCENT.gamma_multiply(0.8));
        ui.add(bar);
    }
    ui.horizontal(|ui| {
        let weak = |t: String| RichText::new(t).small().weak();
        if s.seconds_per_iteration > 0.0 {
            ui.label(weak(format!("{:.3} s/it", s.seconds_per_iteration)));
        }
        if let Some(eta) = s.eta_seconds() {
            ui.label(weak(format!("ETA {}", format_duration(eta))));
        }
        if s.width > 0 {
            ui.label(weak(format!("{} × {} px", s.width, s.height)));
        }
        if let Some(device) = v.device {
            ui.label(weak(device.to_owned()));
        }
    });
    if let Some(l) = s.latest_losses() {
        ui.horizontal(|ui| {
            for (i, (name, v)) in [
                ("total", l.total),
                ("content", l.content),
                ("style", l.style),
                ("TV", l.tv),
            ]
            .into_iter()
            .enumerate()
            {
                ui.label(RichText::new("●").color(theme::LOSS_COLORS[i]).small());
                ui.label(
                    RichText::new(format!("{name} {}", loss_plot::format_value(v)))
                        .small()
                        .monospace(),
                );
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::studio::panels::testing::harness;
    use egui_kittest::kittest::Queryable;
    use std::path::PathBuf;

    fn view(status: &RunStatus, can_save: bool) -> StatusView<'_> {
        StatusView {
            status,
            run_settings: None,
            device: Some("CPU (2 threads)"),
            export_name: "cat_starry_iter7.png".into(),
            export_dir: Some(Path::new("/pictures")),
            can_save,
        }
    }

    /// Save writes where the field says, never replacing a file (only the dialog confirms).
    #[test]
    fn save_exports_to_the_default_name_unconfirmed() {
        let status = RunStatus::default();
        let mut panel = StatusPanel::default();
        let mut h = harness([900.0, 190.0], |ui| panel.ui(ui, &view(&status, true)));
        h.run();
        h.get_by_label("Save").click();
        h.run();
        let [Command::Export { path, confirmed }] = h.state().as_slice() else {
            panic!("one export");
        };
        assert_eq!(path, &PathBuf::from("/pictures/cat_starry_iter7.png"));
        assert!(!confirmed);
    }

    #[test]
    fn nothing_to_save_sends_nothing() {
        let status = RunStatus::default();
        let mut panel = StatusPanel::default();
        let mut h = harness([900.0, 190.0], |ui| panel.ui(ui, &view(&status, false)));
        h.run();
        h.get_by_label("Save").click();
        h.run();
        assert!(h.state().is_empty());
    }
}
