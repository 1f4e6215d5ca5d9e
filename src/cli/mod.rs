//! Command-line front end: parses flags into `Settings` and drives the engine.

pub mod args;
pub mod bench;
pub mod render;
pub mod report;
pub mod weights_cmd;

/// Opens the studio window.
pub fn studio(weights: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let _ = weights;
    anyhow::bail!("the studio is not built yet; use `atelier render`")
}
