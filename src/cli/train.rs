//! `atelier train`: trains a style brush from one painting and a folder of photos, with a
//! checkpoint every minute, `--resume`, and a clean stop on Ctrl-C that keeps the last one.

use super::args::{device_choice, DeviceArg, StyleLossArg};
use anyhow::{Context, Result};
use atelier::engine::brush::{
    state_path, Brush, BrushInfo, LossPoint, Teacher, TrainConfig, TrainState, Trainer,
};
use atelier::engine::instant::{self, Arbitrary};
use atelier::image_io;
use atelier::settings::StyleLoss;
use clap::Args;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// The painting whose style the brush learns
    #[arg(long)]
    pub style: PathBuf,
    /// Folder of photos to train on (default: the bundled sample photos)
    #[arg(long)]
    pub photos: Option<PathBuf>,
    /// The brush file to write (safetensors)
    #[arg(long)]
    pub out: PathBuf,
    /// Time budget in minutes (the whole training, resumed sessions included) [default: 10]
    #[arg(long, conflicts_with = "steps")]
    pub minutes: Option<f64>,
    /// Step budget instead of a time budget
    #[arg(long)]
    pub steps: Option<u64>,
    /// Crop side of the style steps (pixels, a multiple of 16)
    #[arg(long, default_value_t = 256)]
    pub size: u32,
    /// Start the style steps at this crop side and grow to --size (0 = fixed size)
    #[arg(long, default_value_t = 0)]
    pub grow_from: u32,
    /// Fraction of the budget spent copying Magenta's arbitrary network first (0 = from scratch)
    #[arg(long)]
    pub distill: Option<f32>,
    /// The photos' longest side when crops are cut: the scale the strokes are learned at
    #[arg(long, default_value_t = 512)]
    pub photo_scale: u32,
    /// The painting's longest side for the style targets
    #[arg(long, default_value_t = 512)]
    pub style_size: u32,
    #[arg(long, default_value_t = 1e3)]
    pub content_weight: f32,
    #[arg(long, default_value_t = 1e4)]
    pub style_weight: f32,
    #[arg(long, default_value_t = 1e-5)]
    pub tv_weight: f32,
    /// What the style terms compare, as in `atelier render` [default: mixed]
    #[arg(long, value_enum)]
    pub style_loss: Option<StyleLossArg>,
    /// Weight of the patch discriminator's loss (0 = no discriminator; 1000 is a good start) [default: 0]
    #[arg(long)]
    pub adversarial: Option<f32>,
    /// Adam's learning rate for the generator
    #[arg(long, default_value_t = 2e-3)]
    pub lr: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Continue training the brush at --out from its last checkpoint
    #[arg(long)]
    pub resume: bool,
    /// VGG16/VGG19 safetensors file (default: the usual search)
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// CPU threads (0 = all cores)
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    #[arg(long, value_enum, default_value = "auto")]
    pub device: DeviceArg,
    /// Seconds between checkpoints
    #[arg(long, default_value_t = 60)]
    pub checkpoint_secs: u64,
    /// Print one JSON object (with the loss curve) as the last line of stdout
    #[arg(long)]
    pub json: bool,
    /// Replace --out if it already exists (without --resume)
    #[arg(long, alias = "overwrite")]
    pub force: bool,
}

/// The image files in `dir`, sorted by name.
pub fn photo_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let read = std::fs::read_dir(dir)
        .with_context(|| format!("--photos {}: cannot read the folder", dir.display()))?;
    let mut v: Vec<PathBuf> = read
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|e| {
                let e = e.to_string_lossy().to_ascii_lowercase();
                ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff"].contains(&e.as_str())
            })
        })
        .collect();
    v.sort();
    if v.is_empty() {
        anyhow::bail!(
            "--photos {}: no JPEG or PNG pictures in it; give a folder with a few photos",
            dir.display()
        );
    }
    Ok(v)
}

fn config(args: &TrainArgs, distill: f32) -> TrainConfig {
    TrainConfig {
        size: args.size,
        grow_from: args.grow_from,
        distill,
        photo_scale: args.photo_scale,
        style_size: args.style_size,
        content_weight: args.content_weight,
        style_weight: args.style_weight,
        tv_weight: args.tv_weight,
        style_loss: args
            .style_loss
            .map_or(TrainConfig::default().style_loss, StyleLoss::from),
        adversarial: args
            .adversarial
            .unwrap_or(TrainConfig::default().adversarial),
        learning_rate: args.lr,
        seed: args.seed,
        ..TrainConfig::default()
    }
}

/// The budget: minutes or steps, and how far through it a run is.
#[derive(Clone, Copy)]
enum Budget {
    Seconds(f64),
    Steps(u64),
}

impl Budget {
    fn progress(self, seconds: f64, steps: u64) -> f64 {
        match self {
            Budget::Seconds(s) => seconds / s,
            Budget::Steps(n) => steps as f64 / n.max(1) as f64,
        }
    }
}

pub fn run(args: &TrainArgs) -> Result<()> {
    let budget = match (args.minutes, args.steps) {
        (_, Some(0)) => anyhow::bail!("--steps must be at least 1"),
        (_, Some(n)) => Budget::Steps(n),
        (Some(m), None) if !(m > 0.0 && m <= 24.0 * 60.0) => {
            anyhow::bail!("--minutes must be between 0 and 1440, got {m}")
        }
        (Some(m), None) => Budget::Seconds(m * 60.0),
        (None, None) => Budget::Seconds(600.0),
    };
    if args.threads > atelier::settings::MAX_THREADS {
        anyhow::bail!(
            "--threads {} is more than {}: use 0 for all cores",
            args.threads,
            atelier::settings::MAX_THREADS
        );
    }
    if args.checkpoint_secs == 0 {
        anyhow::bail!("--checkpoint-secs must be at least 1");
    }
    let photos = match &args.photos {
        Some(d) => photo_files(d)?,
        None => atelier::assets::sample_photos(&atelier::assets::locate()),
    };
    if photos.is_empty() {
        anyhow::bail!("no training photos: the bundled samples are missing; pass --photos DIR");
    }
    let mut inputs: Vec<&Path> = vec![&args.style];
    inputs.extend(photos.iter().map(PathBuf::as_path));
    if args.resume {
        if !args.out.is_file() {
            anyhow::bail!(
                "--resume: {} does not exist yet; leave --resume out to start a new brush",
                args.out.display()
            );
        }
    } else {
        super::render::check_output(&args.out, args.force, &inputs)?;
    }
    atelier::engine::set_threads(args.threads);

    let painting = image_io::load_image(&args.style).context("style painting")?;
    let pictures = photos
        .iter()
        .map(|p| image_io::load_image(p).with_context(|| format!("photo {}", p.display())))
        .collect::<Result<Vec<_>>>()?;
    let settings = atelier::Settings {
        weights_path: args.weights.clone(),
        device: device_choice(args.device),
        ..atelier::Settings::default()
    };
    let net = atelier::network::Network::load(&settings)?;
    if let Some(note) = &net.device.fallback_note {
        eprintln!("note: {note}");
    }
    let device = net.vgg.device().clone();

    // A resumed brush trains on with the settings it was started with.
    let previous = if args.resume {
        Some(Brush::load(&args.out)?)
    } else {
        None
    };
    let mut cfg = match previous.as_ref().and_then(|b| b.info.settings.clone()) {
        Some(c) => c,
        None => config(args, args.distill.unwrap_or(TrainConfig::default().distill)),
    };
    let teacher = if cfg.distill > 0.0 {
        match instant::locate(None)
            .map_err(atelier::Error::from)
            .and_then(|d| Arbitrary::load(&d, &device))
        {
            Ok(net) => Some(Teacher::new(net, &painting)?),
            Err(e) => {
                eprintln!("note: training from scratch, without distillation: {e}");
                cfg.distill = 0.0;
                None
            }
        }
    } else {
        None
    };
    let mut trainer = Trainer::new(cfg.clone(), &net.vgg, &painting, pictures, teacher)?;
    let mut seconds_before = 0.0;
    let mut curve: Vec<LossPoint> = Vec::new();
    if let Some(b) = &previous {
        let sp = state_path(&args.out);
        let state = if sp.is_file() {
            Some(TrainState::load(&sp)?)
        } else {
            eprintln!(
                "note: no training state beside the brush ({}); the optimizer starts afresh",
                sp.display()
            );
            None
        };
        trainer.restore(
            &b.weights,
            state.as_ref().map(|s| (&s.tensors, &s.counters)),
            b.info.steps,
        )?;
        seconds_before = b.info.seconds;
        if let Some(s) = state {
            curve = s.curve;
        }
        eprintln!(
            "resuming at step {} ({:.1} min trained)",
            trainer.step,
            seconds_before / 60.0
        );
    }

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // A second Ctrl-C while the checkpoint is written still ends the process.
        if let Err(e) = ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
        }) {
            eprintln!("note: Ctrl-C will not save a checkpoint ({e})");
        }
    }
    let painting_name = args
        .style
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let t0 = Instant::now();
    let cpu0 = super::report::cpu_seconds();
    let steps_before = trainer.step;
    let mut last_ckpt = Instant::now();
    let mut last_print = Instant::now() - Duration::from_secs(60);
    let mut checkpoints = 0u32;
    let elapsed = |t0: Instant| seconds_before + t0.elapsed().as_secs_f64();
    let save = |trainer: &Trainer, curve: &[LossPoint], seconds: f64| -> Result<()> {
        let brush = Brush {
            info: BrushInfo {
                version: atelier::engine::brush::file::VERSION,
                arch: trainer.config.arch,
                settings: Some(trainer.config.clone()),
                painting: painting_name.clone(),
                steps: trainer.step,
                seconds,
                losses: curve.last().copied(),
            },
            weights: trainer.generator.params.snapshot()?,
        };
        let (tensors, counters) = trainer.state()?;
        // The state first: a brush never points at an older state than its own.
        TrainState {
            tensors,
            counters,
            curve: curve.to_vec(),
        }
        .save(&state_path(&args.out))?;
        brush.save(&args.out)?;
        Ok(())
    };
    let mut stopped = false;
    loop {
        let progress = budget.progress(elapsed(t0), trainer.step);
        if progress >= 1.0 {
            break;
        }
        if stop.load(Ordering::SeqCst) {
            stopped = true;
            break;
        }
        let point = trainer.step(&net.vgg, progress)?;
        curve.push(point);
        if last_ckpt.elapsed().as_secs() >= args.checkpoint_secs {
            save(&trainer, &curve, elapsed(t0))?;
            last_ckpt = Instant::now();
            checkpoints += 1;
        }
        if !args.json && last_print.elapsed().as_secs_f64() >= 5.0 {
            last_print = Instant::now();
            let rate = (trainer.step - steps_before) as f64 / t0.elapsed().as_secs_f64().max(1e-9);
            let kind = if point.distill { "distill" } else { "style" };
            eprintln!(
                "step {:>6} {:>5.1}% {kind:>7} {}px  loss {:>10.2} (content {:.2} style {:.2} adv {:.3} disc {:.3})  {rate:.2} steps/s",
                point.step,
                100.0 * progress.min(1.0),
                point.crop,
                point.total,
                point.content,
                point.style,
                point.adversarial,
                point.disc,
            );
        }
    }
    let seconds = elapsed(t0);
    save(&trainer, &curve, seconds)?;
    let session_steps = trainer.step - steps_before;
    // On a shared machine the CPU time per step says what a quiet one would do.
    let cpu_per_step = match (cpu0, super::report::cpu_seconds()) {
        (Some(a), Some(b)) if session_steps > 0 => Some((b - a) / session_steps as f64),
        _ => None,
    };
    let rate = session_steps as f64 / t0.elapsed().as_secs_f64().max(1e-9);
    if stopped {
        eprintln!(
            "stopped at step {}: the brush is saved in {}; continue with --resume",
            trainer.step,
            args.out.display()
        );
    } else if !args.json {
        eprintln!(
            "wrote {} ({} steps, {:.1} min, {rate:.2} steps/s)",
            args.out.display(),
            trainer.step,
            seconds / 60.0
        );
    }
    if args.json {
        println!(
            "{}",
            json!({
                "out": args.out.display().to_string(),
                "painting": painting_name,
                "photos": photos.len(),
                "steps": trainer.step,
                "session_steps": session_steps,
                "seconds": seconds,
                "steps_per_second": rate,
                "cpu_seconds_per_step": cpu_per_step,
                "session_seconds": t0.elapsed().as_secs_f64(),
                "stopped": stopped,
                "checkpoints": checkpoints,
                "threads": atelier::engine::threads(),
                "device": net.device.label,
                "settings": trainer.config,
                "parameters": trainer.config.arch.parameter_count(),
                "final": curve.last(),
                "curve": curve,
            })
        );
    }
    Ok(())
}
