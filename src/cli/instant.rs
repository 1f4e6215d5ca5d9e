//! `atelier instant`: one-pass stylization with the feed-forward networks.

use super::args::{device_choice, DeviceArg};
use anyhow::{Context, Result};
use atelier::engine::instant::{self, Arbitrary, Blend, Multistyle};
use atelier::image_io;
use clap::Args;
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Clone, Args)]
pub struct InstantArgs {
    /// The picture to paint
    #[arg(long)]
    pub content: PathBuf,
    /// Any picture to take the style from (the arbitrary-style network)
    #[arg(long, conflicts_with = "builtin")]
    pub style: Option<PathBuf>,
    /// Built-in styles 0-25, blended: `7` or `3:0.5,12:0.5` (weights are normalized)
    #[arg(long, conflicts_with = "brush")]
    pub builtin: Option<String>,
    /// A brush made by `atelier train` (a .safetensors file)
    #[arg(long, conflicts_with = "style")]
    pub brush: Option<PathBuf>,
    /// Output PNG
    #[arg(long)]
    pub out: PathBuf,
    /// 0..1. With --style: moves the style vector from the content's own style (0) to the
    /// style image's (1). With --builtin or --brush: mixes the painted pixels with the content's.
    #[arg(long, default_value_t = 1.0)]
    pub strength: f32,
    /// Longest side the network runs at (strokes scale with it) and of the output
    #[arg(long, default_value_t = 1024)]
    pub size: u32,
    /// Rescale the result to this longest side afterwards (Lanczos), e.g. run small, save large
    #[arg(long)]
    pub out_size: Option<u32>,
    /// Folder with the converted networks (default: assets/instant)
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// CPU threads (0 = all cores)
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    #[arg(long, value_enum, default_value = "auto")]
    pub device: DeviceArg,
    /// Print one JSON object as the last line of stdout
    #[arg(long)]
    pub json: bool,
    /// Replace --out if it already exists
    #[arg(long, alias = "overwrite")]
    pub force: bool,
}

pub fn run(args: &InstantArgs) -> Result<()> {
    let builtin = match (&args.style, &args.builtin) {
        (None, None) if args.brush.is_none() => anyhow::bail!(
            "give a style: --style PICTURE for any painting, --builtin N (0-25, or a blend \
             such as 3:0.5,12:0.5) for a built-in one, or --brush FILE for a trained brush"
        ),
        (None, None) => None,
        (_, Some(spec)) => Some(Blend::parse(spec)?),
        (Some(_), None) => None,
    };
    if !(0.0..=1.0).contains(&args.strength) {
        anyhow::bail!("--strength must be between 0 and 1, got {}", args.strength);
    }
    let sizes = instant::MIN_SIZE..=instant::MAX_SIZE;
    if !sizes.contains(&args.size) {
        anyhow::bail!(
            "--size {} is out of range: use {} to {} pixels (the longest side the network paints at)",
            args.size,
            sizes.start(),
            sizes.end()
        );
    }
    if let Some(n) = args.out_size.filter(|n| !sizes.contains(n)) {
        anyhow::bail!(
            "--out-size {n} is out of range: use {} to {} pixels, or leave it out to keep --size",
            sizes.start(),
            sizes.end()
        );
    }
    if args.threads > atelier::settings::MAX_THREADS {
        anyhow::bail!(
            "--threads {} is more than {}: use 0 for all cores",
            args.threads,
            atelier::settings::MAX_THREADS
        );
    }
    atelier::engine::set_threads(args.threads);
    super::render::check_output(&args.out, args.force, &[&args.content])?;
    for input in args.style.iter().chain(&args.brush) {
        super::render::check_output(&args.out, args.force, &[input])?;
    }
    let content = image_io::load_image(&args.content).context("content image")?;
    let (cw, ch) = content.dimensions();
    instant::check_memory(
        cw,
        ch,
        args.size,
        args.out_size,
        atelier::engine::memory::available_bytes(),
    )?;
    let style = match &args.style {
        Some(p) => Some(image_io::load_image(p).context("style image")?),
        None => None,
    };
    let dev = atelier::device::select(device_choice(args.device), atelier::engine::threads())?;
    if let Some(note) = &dev.fallback_note {
        eprintln!("note: {note}");
    }
    let t0 = Instant::now();
    let painted = if let Some(path) = &args.brush {
        let brush = atelier::engine::brush::Brush::load(path)?;
        let net = atelier::engine::brush::BrushNet::new(&brush, &dev.device)?;
        let out = net.stylize(&content, args.size)?;
        let out = if args.strength < 1.0 {
            instant::mix_with_content(&out, &content, args.strength)?
        } else {
            out
        };
        Some((out, "brush"))
    } else {
        None
    };
    let (mut img, mode) = match (painted, builtin, style) {
        (Some(p), _, _) => p,
        (None, Some(blend), _) => {
            let dir = instant::locate(args.models.as_deref())?;
            let net = Multistyle::load(&dir, &dev.device)?;
            let out = net.stylize(&content, &blend, args.size)?;
            let out = if args.strength < 1.0 {
                instant::mix_with_content(&out, &content, args.strength)?
            } else {
                out
            };
            (out, "builtin")
        }
        (None, None, Some(style)) => {
            let dir = instant::locate(args.models.as_deref())?;
            let net = Arbitrary::load(&dir, &dev.device)?;
            let mut v = net.style_vector(&style)?;
            if args.strength < 1.0 {
                let own = net.style_vector(&content)?;
                v = v.towards(&own, args.strength)?;
            }
            (net.stylize(&content, &v, args.size)?, "style")
        }
        (None, None, None) => anyhow::bail!("give --style, --builtin or --brush"),
    };
    if let Some(n) = args.out_size {
        img = instant::resize_result(&img, n);
    }
    let seconds = t0.elapsed().as_secs_f64();
    super::render::save_or_rescue(&args.out, &img, None)?;
    if args.json {
        println!(
            "{}",
            json!({
                "out": args.out.display().to_string(),
                "mode": mode,
                "width": img.width(),
                "height": img.height(),
                "strength": args.strength,
                "seconds": seconds,
                "device": dev.label,
            })
        );
    } else {
        eprintln!(
            "wrote {} ({}×{}, {mode}, {seconds:.2} s)",
            args.out.display(),
            img.width(),
            img.height()
        );
    }
    Ok(())
}
