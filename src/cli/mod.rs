//! Command-line front end: parses flags into `Settings` and drives the engine.

pub mod args;
pub mod bench;
pub mod instant;
pub mod render;
pub mod report;
pub mod train;
pub mod weights_cmd;

/// Opens the studio window.
pub fn studio(weights: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let mut options = atelier::studio::StudioOptions::default();
    if weights.is_some() {
        options.weights = weights;
    }
    if std::env::var_os("ATELIER_NO_PERSIST").is_some() {
        options.persist = false;
    }
    atelier::studio::run(options)
}
