//! The studio window: drop a photo and a painting, steer the run live, export a PNG.
//!
//! Talks to the engine only through [`crate::worker::Worker`] and the plain messages in
//! [`crate::worker::protocol`], so the UI thread never waits on compute. The shape: panels
//! (`panels/`) draw and return [`command`]s; `app/` owns the shared state and carries every
//! command out in one place; the rules and the state behind the panels are UI-free modules here
//! (`run_plan`, `slots`, `network`, `history`, `notices`, `run_state`, `presets`, `export`,
//! `memory`).

mod app;
mod command;
mod decode;
mod dialogs;
mod drops;
mod export;
mod history;
mod logs;
mod memory;
mod network;
mod notices;
mod panels;
mod persist;
mod picture;
mod presets;
mod run_plan;
mod run_state;
mod shortcuts;
mod slots;
mod task;
mod theme;
mod training;

pub use app::{StudioApp, StudioView};
pub use network::DownloadState;
pub use notices::{Level, Notice, Topic};
pub use panels::CompareMode;
pub use run_state::{LossPoint, RunPhase, RunStatus};
pub use slots::SlotKind;

use crate::weights::HubConfig;
use std::path::PathBuf;

/// Window title prefix; the state follows it ("Atelier — running 42/300").
pub const APP_NAME: &str = "Atelier";

/// The app icon, embedded so the binary is self-contained.
pub(crate) const ICON_PNG: &[u8] = include_bytes!("../../assets/icon.png");

/// What the studio needs from its surroundings; tests inject temp paths and turn persistence off.
#[derive(Debug, Clone)]
pub struct StudioOptions {
    /// Folder with `samples/` (the default content/style pair) and `icon.png`.
    pub assets_dir: PathBuf,
    /// Weights file to load at start (that file or "weights missing"); `None` uses the saved
    /// choice or the usual search path. A saved file that is gone falls back to the search,
    /// with a notice naming the file used instead.
    pub weights: Option<PathBuf>,
    /// Read and write settings in eframe storage between launches.
    pub persist: bool,
    /// Where "Download" fetches weights from and stores them; `None` reads the `HF_*`
    /// variables when the download starts (tests point this at a local server).
    pub hub: Option<HubConfig>,
    /// The brush collection's folder; `None`: the user's (`crate::brushes::dir`).
    pub brushes_dir: Option<PathBuf>,
}

impl Default for StudioOptions {
    fn default() -> Self {
        Self {
            assets_dir: default_assets_dir(),
            weights: None,
            persist: true,
            hub: None,
            brushes_dir: None,
        }
    }
}

/// The assets folder ([`crate::assets::locate`]).
pub fn default_assets_dir() -> PathBuf {
    crate::assets::locate()
}

/// Opens the studio window and returns when it closes.
///
/// `ATELIER_AUTOSTART=1` presses Start as soon as images and weights are ready, and
/// `ATELIER_SETTINGS=file` opens an Atelier PNG's or a preset's settings first (both used by the
/// screenshot script).
pub fn run(options: StudioOptions) -> anyhow::Result<()> {
    let autostart = std::env::var("ATELIER_AUTOSTART").is_ok_and(|v| v == "1");
    let settings_file = std::env::var_os("ATELIER_SETTINGS").map(PathBuf::from);
    let mut viewport = egui::ViewportBuilder::default()
        .with_title(APP_NAME)
        .with_app_id("atelier")
        // Fits a 1366×768 laptop screen with its title bar and taskbar.
        .with_inner_size([1280.0, 700.0])
        .with_min_inner_size([900.0, 600.0])
        .with_drag_and_drop(true);
    match eframe::icon_data::from_png_bytes(ICON_PNG) {
        Ok(icon) => viewport = viewport.with_icon(icon),
        Err(e) => eprintln!("atelier: app icon unreadable ({e}); using the default icon"),
    }
    let native = eframe::NativeOptions {
        viewport,
        persist_window: options.persist,
        ..Default::default()
    };
    eframe::run_native(
        APP_NAME,
        native,
        Box::new(move |cc| {
            Ok(Box::new(
                StudioApp::new(cc, options)
                    .autostart(autostart)
                    .open_settings(settings_file),
            ))
        }),
    )
    .map_err(|e| anyhow::anyhow!("couldn't open the studio window: {e}"))
}
