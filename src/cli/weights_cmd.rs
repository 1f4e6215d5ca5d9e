//! `atelier weights fetch|list|verify`.

use anyhow::Result;
use atelier::weights::{self, FetchProgress, HubConfig, Model};
use clap::{Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModelArg {
    Vgg19,
    Vgg16,
}

#[derive(Debug, Clone, Subcommand)]
pub enum WeightsCmd {
    /// Download the VGG feature weights (only the ~80 MB the engine needs) from the Hugging Face hub
    Fetch {
        #[arg(long, value_enum, default_value = "vgg19")]
        model: ModelArg,
        /// Where to write the features file (default: the hub cache, where Atelier looks)
        #[arg(long)]
        out: Option<PathBuf>,
        /// Convert a full model.safetensors you downloaded yourself instead of using the network
        #[arg(long)]
        from: Option<PathBuf>,
    },
    /// Show the known models and where they are on this machine
    List,
    /// Check a weights file: architecture, shapes, finite values, sha256 of the file and of its
    /// features (the value a download is pinned to, see ATELIER_WEIGHTS_SHA256)
    Verify { path: PathBuf },
}

pub fn run(cmd: &WeightsCmd) -> Result<()> {
    let cfg = HubConfig::from_env();
    match cmd {
        WeightsCmd::Fetch { model, out, from } => {
            let model = match model {
                ModelArg::Vgg19 => Model::Vgg19,
                ModelArg::Vgg16 => Model::Vgg16,
            };
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:30.cyan/blue} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let mut progress = |p: &FetchProgress| {
                bar.set_length(p.total);
                bar.set_position(p.downloaded);
            };
            let cancel = AtomicBool::new(false);
            let path = match from {
                Some(src) => {
                    let dest = out
                        .clone()
                        .unwrap_or_else(|| weights::default_path(model, &cfg));
                    weights::convert_local(src, &dest, None, &mut progress, &cancel)?
                }
                None => weights::fetch(model, &cfg, out.as_deref(), &mut progress, &cancel)?,
            };
            bar.finish_and_clear();
            let v = weights::verify(&path)?;
            println!(
                "{} weights ready: {} ({} MB, sha256 {}, features sha256 {})",
                v.info.arch,
                path.display(),
                v.info.file_size >> 20,
                v.sha256,
                v.features_sha256
            );
        }
        WeightsCmd::List => {
            for m in weights::list(&cfg) {
                let here = if m.local.is_empty() {
                    "not downloaded".to_string()
                } else {
                    m.local
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                println!(
                    "{}{}  {}  {} MB download  {}",
                    m.model.name(),
                    if m.is_default { " (default)" } else { "" },
                    m.repo,
                    m.download_bytes >> 20,
                    here
                );
            }
        }
        WeightsCmd::Verify { path } => {
            let v = weights::verify(path)?;
            println!(
                "ok: {} {} preprocess={} sha256={} features_sha256={}",
                path.display(),
                v.info.arch,
                v.info.preprocess.as_deref().unwrap_or("torch (default)"),
                v.sha256,
                v.features_sha256
            );
        }
    }
    Ok(())
}
