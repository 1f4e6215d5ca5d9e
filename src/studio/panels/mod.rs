//! The window's parts. Each panel owns its own UI state (a field's text, a selection, the zoom),
//! reads what it shows from arguments, and returns the [`Command`]s the artist gave; none of them
//! changes shared state or talks to the worker, and none reads a sibling's fields. The app lays
//! them out (app/mod.rs) and carries out what they return (app/execute.rs).

mod canvas;
pub(crate) mod controls;
pub(crate) mod history;
pub(crate) mod images;
pub(crate) mod instant;
mod loss_plot;
pub(crate) mod network;
pub(crate) mod notices;
mod palette;
pub(crate) mod preview;
pub(crate) mod settings_file;
pub(crate) mod status;
pub(crate) mod toolbar;
pub(crate) mod train;

pub use canvas::CompareMode;

use super::command::Command;
use egui::RichText;
use std::path::{Path, PathBuf};

/// Every panel of the window, each with its own state.
pub(crate) struct Panels {
    pub(crate) toolbar: toolbar::ToolbarPanel,
    pub(crate) images: images::ImagesPanel,
    pub(crate) controls: controls::ControlsPanel,
    pub(crate) settings_file: settings_file::SettingsFilePanel,
    pub(crate) network: network::NetworkPanel,
    pub(crate) status: status::StatusPanel,
    pub(crate) history: history::HistoryPanel,
    pub(crate) notices: notices::NoticesPanel,
    pub(crate) preview: preview::PreviewPanel,
    pub(crate) instant: instant::InstantPanel,
    pub(crate) train: train::TrainPanel,
}

/// A section heading with a one-line explanation underneath.
pub(crate) fn section(ui: &mut egui::Ui, title: &str, note: &str) {
    ui.label(RichText::new(title).strong().size(14.0));
    ui.label(RichText::new(note).small().weak());
    ui.add_space(2.0);
}

/// A button with a larger icon glyph before its text.
pub(crate) fn icon_button<'a>(
    icon: &'a str,
    text: &'a str,
    color: Option<egui::Color32>,
) -> egui::Button<'a> {
    let mut icon = RichText::new(icon).size(15.0);
    let mut text = RichText::new(text).strong();
    if let Some(c) = color {
        icon = icon.color(c);
        text = text.color(c);
    }
    egui::Button::new((icon, text))
}

/// A typed path as a path: `~/x` → `$HOME/x`; surrounding quotes (from "copy as path") go.
pub(crate) fn expand_path(text: &str) -> PathBuf {
    let t = text.trim().trim_matches(|c| c == '"' || c == '\'');
    if let Some(rest) = t.strip_prefix("~/") {
        if let Some(home) = std::env::var_os("HOME") {
            return Path::new(&home).join(rest);
        }
    }
    PathBuf::from(t)
}

/// `Some(EditSettings)` when the controls changed the draft they were given.
pub(crate) fn edited(
    before: &crate::settings::Settings,
    draft: crate::settings::Settings,
) -> Option<Command> {
    (draft != *before).then(|| Command::EditSettings(Box::new(draft)))
}

/// What a panel test needs: the panel alone in a small window, and what it returned.
#[cfg(test)]
pub(crate) mod testing {
    use super::Command;

    /// A harness that draws `draw` in a plain window and keeps every command it returned.
    pub(crate) fn harness<'a>(
        size: [f32; 2],
        mut draw: impl FnMut(&mut egui::Ui) -> Vec<Command> + 'a,
    ) -> egui_kittest::Harness<'a, Vec<Command>> {
        egui_kittest::Harness::builder()
            .with_size(size)
            // The studio's fonts, which have the icon glyphs.
            .with_context_setup(crate::studio::theme::apply)
            .build_ui_state(
                move |ui, sent: &mut Vec<Command>| sent.extend(draw(ui)),
                Vec::new(),
            )
    }

    /// The names of the commands sent, for assertions that read well.
    pub(crate) fn names(sent: &[Command]) -> Vec<String> {
        sent.iter().map(|c| format!("{c:?}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_paths_are_cleaned() {
        assert_eq!(
            expand_path("  \"/a b/c.png\" "),
            PathBuf::from("/a b/c.png")
        );
    }
}
