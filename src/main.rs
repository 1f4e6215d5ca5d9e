//! The `atelier` binary: the studio by default, the engine headless with a subcommand.

mod cli;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "atelier",
    version,
    about = "Neural style transfer studio and CLI"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Open the studio window (the default)
    Studio {
        /// VGG weights file to use
        #[arg(long)]
        weights: Option<PathBuf>,
    },
    /// Stylize an image headlessly
    Render(cli::args::RenderArgs),
    /// Print the weighted losses, per layer, of the content image (the start of a run) or of any
    /// picture (--image), under the objective the flags describe
    Losses {
        #[command(flatten)]
        args: cli::args::LossArgs,
        /// Score this picture instead of the content image; it is resized (Lanczos) to the
        /// content's size at --size when its size differs
        #[arg(long)]
        image: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Stylize in one pass with a feed-forward network (any style picture, or built-in styles)
    Instant(cli::instant::InstantArgs),
    /// Train a style brush: a small fast network that paints like one painting
    Train(cli::train::TrainArgs),
    /// Measure forward, forward+backward and a full optimizer iteration (JSON)
    Bench(cli::bench::BenchArgs),
    /// Download, list or verify VGG weights
    #[command(subcommand)]
    Weights(cli::weights_cmd::WeightsCmd),
}

/// Where the bundled samples live, found once ([`atelier::assets::locate`]).
pub fn assets_dir() -> Option<PathBuf> {
    Some(atelier::assets::locate()).filter(|p| p.join("samples").is_dir())
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => cli::studio(None),
        Some(Command::Studio { weights }) => cli::studio(weights),
        Some(Command::Render(a)) => cli::render::render(&a),
        Some(Command::Losses { args, image, json }) => {
            cli::render::losses(&args, image.as_deref(), json)
        }
        Some(Command::Instant(a)) => cli::instant::run(&a),
        Some(Command::Train(a)) => cli::train::run(&a),
        Some(Command::Bench(a)) => cli::bench::bench(&a),
        Some(Command::Weights(c)) => cli::weights_cmd::run(&c),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
