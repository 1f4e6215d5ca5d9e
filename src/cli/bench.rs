//! `atelier bench`: medians of the hot paths, printed as JSON, for side-by-side comparison with
//! the PyTorch reference (`ref_gatys.py --bench-fwd-bwd`).

use super::args::device_choice;
use super::report::{cpu_seconds, median, peak_rss_mib};
use anyhow::{Context, Result};
use atelier::engine::instant::{self, Arbitrary, Blend, Multistyle};
use atelier::engine::{pixels, Transfer};
use atelier::image_io;
use atelier::network::Network;
use atelier::settings::{Pooling, Settings, StyleLoss};
use candle_core::Var;
use clap::Args;
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Content image (default: the bundled 4:3 sample, so 256 means 192×256)
    #[arg(long)]
    pub content: Option<PathBuf>,
    /// Style image for the full-iteration measurement (default: the bundled Starry Night)
    #[arg(long)]
    pub style: Option<PathBuf>,
    #[arg(long, default_value_t = 256)]
    pub size: u32,
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
    /// Deepest layer of the forward/backward measurement
    #[arg(long, default_value = "relu5_1")]
    pub layer: String,
    #[arg(long, value_enum, default_value = "auto")]
    pub device: super::args::DeviceArg,
    /// Accepted for symmetry with other commands; output is always JSON
    #[arg(long)]
    pub json: bool,
    /// Measure instant mode (the feed-forward networks) instead of the optimizer
    #[arg(long)]
    pub instant: bool,
    /// Measure a brush (`atelier train`) at 512 px and at 1920×1080 instead
    #[arg(long, conflicts_with = "instant")]
    pub brush: Option<PathBuf>,
}

fn sample(name: &str) -> Result<PathBuf> {
    crate::assets_dir()
        .map(|d| d.join("samples").join(name))
        .filter(|p| p.exists())
        .with_context(|| format!("bundled sample {name} not found; pass the image explicitly"))
}

pub fn bench(args: &BenchArgs) -> Result<()> {
    atelier::engine::set_threads(args.threads);
    let settings = Settings {
        size: args.size,
        weights_path: args.weights.clone(),
        threads: args.threads,
        device: super::args::device_choice(args.device),
        ..Settings::default()
    };
    let content_path = match &args.content {
        Some(p) => p.clone(),
        None => sample("coffee-4x3.png")?,
    };
    let style_path = match &args.style {
        Some(p) => p.clone(),
        None => sample("starry_night.jpg")?,
    };
    if args.instant {
        return instant_bench(args, content_path, style_path);
    }
    if let Some(brush) = &args.brush {
        return brush_bench(args, brush, content_path);
    }
    let content = image_io::load_image(&content_path)?;
    let style = image_io::load_image(&style_path)?;
    let net = Network::load(&settings)?;
    let vgg = net.vgg.clone();
    let img = image_io::resize_longest(&content, args.size);
    let x0 = pixels::to_tensor(&img, vgg.device())?;
    let taps = [args.layer.as_str()];
    let (mut fwd, mut fb) = (Vec::new(), Vec::new());
    for rep in 0..args.reps + 1 {
        let t0 = Instant::now();
        let f = vgg.features(&x0, &taps)?;
        f[&args.layer].sum_all()?.to_scalar::<f32>()?;
        let t1 = Instant::now();
        let var = Var::from_tensor(&x0)?;
        let f = vgg.features(var.as_tensor(), &taps)?;
        let grads = f[&args.layer].sum_all()?.backward()?;
        let g = grads
            .get(var.as_tensor())
            .context("no gradient reached the image")?;
        g.sum_all()?.to_scalar::<f32>()?;
        let t2 = Instant::now();
        if rep > 0 {
            fwd.push((t1 - t0).as_secs_f64());
            fb.push((t2 - t1).as_secs_f64());
        }
    }
    // The reference's iteration: plain pixels, no range term, max pooling and Gram matrices
    // (the same work as ref_gatys.py).
    let mut s = Settings {
        iterations: (args.reps + 2) as u32,
        pyramid_levels: 1,
        pooling: Pooling::Max,
        ..settings.clone()
    };
    s.weights.range_weight = 0.0;
    s.weights.style_loss = StyleLoss::Gram;
    let mut transfer = Transfer::new(vgg.clone(), &(&s).into(), &content, &[(&style, 1.0)])?;
    let mut iters = Vec::new();
    let mut syncs = 0;
    for i in 0..args.reps + 2 {
        let t0 = Instant::now();
        let s0 = atelier::engine::host::syncs();
        transfer.step()?;
        // The first L-BFGS iteration runs a longer line search; skip it and one warm-up.
        if i >= 2 {
            iters.push(t0.elapsed().as_secs_f64());
            syncs += atelier::engine::host::syncs() - s0;
        }
    }
    let out = json!({
        "kind": "vgg_fwd_bwd_to_layer",
        "arch": vgg.arch().name(),
        "layer": args.layer,
        "size": args.size,
        "hw": [img.height(), img.width()],
        "threads": atelier::engine::threads(),
        "device": net.device.label,
        "reps": args.reps,
        "median_fwd_s": median(&fwd),
        "median_fwd_bwd_s": median(&fb),
        "min_fwd_bwd_s": fb.iter().cloned().fold(f64::INFINITY, f64::min),
        "median_lbfgs_iter_s": median(&iters),
        "lbfgs_evaluations": transfer.evaluations(),
        "host_syncs_per_iteration": syncs as f64 / iters.len().max(1) as f64,
        "gpu_memory": atelier::gpu::memory(vgg.device()),
        "peak_rss_mib": peak_rss_mib(),
    });
    println!("{out}");
    Ok(())
}

/// `atelier bench --instant`: medians of style prediction, the arbitrary transform and the
/// 26-style network at `--size` (longest side; 1024 on the bundled 4:3 sample = 1024×768), and
/// of the packaged tool's pipeline shape for comparison (network at 384, Lanczos up to size).
fn instant_bench(args: &BenchArgs, content: PathBuf, style: PathBuf) -> Result<()> {
    atelier::engine::set_threads(args.threads);
    let dev = atelier::device::select(device_choice(args.device), atelier::engine::threads())?;
    let dir = instant::locate(None)?;
    let content = image_io::resize_longest(&image_io::load_image(&content)?, args.size);
    let style = image_io::load_image(&style)?;
    let arb = Arbitrary::load(&dir, &dev.device)?;
    let multi = Multistyle::load(&dir, &dev.device)?;
    let blend = Blend::single(0)?;
    let (mut predict, mut transform, mut total, mut small, mut builtin) =
        (vec![], vec![], vec![], vec![], vec![]);
    for rep in 0..args.reps + 1 {
        let t0 = Instant::now();
        let v = arb.style_vector(&style)?;
        let t1 = Instant::now();
        let out = arb.stylize(&content, &v, args.size)?;
        let t2 = Instant::now();
        let low = instant::resize_result(&arb.stylize(&content, &v, 384)?, args.size);
        let t3 = Instant::now();
        let b = multi.stylize(&content, &blend, args.size)?;
        let t4 = Instant::now();
        anyhow::ensure!(out.dimensions() == content.dimensions() && low.width() == b.width());
        if rep > 0 {
            predict.push((t1 - t0).as_secs_f64());
            transform.push((t2 - t1).as_secs_f64());
            total.push((t2 - t0).as_secs_f64());
            small.push((t3 - t2).as_secs_f64() + (t1 - t0).as_secs_f64());
            builtin.push((t4 - t3).as_secs_f64());
        }
    }
    let out = json!({
        "kind": "instant",
        "size": args.size,
        "hw": [content.height(), content.width()],
        "threads": atelier::engine::threads(),
        "device": dev.label,
        "reps": args.reps,
        "median_predict_s": median(&predict),
        "median_transform_s": median(&transform),
        "median_total_s": median(&total),
        "median_total_384_upscaled_s": median(&small),
        "median_builtin_s": median(&builtin),
        "gpu_memory": atelier::gpu::memory(&dev.device),
        "peak_rss_mib": peak_rss_mib(),
    });
    println!("{out}");
    Ok(())
}

/// `atelier bench --brush P`: medians of one brush picture at 512 px (longest side of the
/// content) and at exactly 1920×1080, with the CPU time per picture (on a shared machine,
/// CPU time ÷ threads is what the wall time would be with the cores to itself) and the peak
/// memory after each size.
fn brush_bench(args: &BenchArgs, brush: &std::path::Path, content: PathBuf) -> Result<()> {
    use atelier::engine::brush::{Brush, BrushNet};
    let dev = atelier::device::select(device_choice(args.device), atelier::engine::threads())?;
    let b = Brush::load(brush)?;
    let net = BrushNet::new(&b, &dev.device)?;
    let content = image_io::load_image(&content)?;
    let mut sizes = Vec::new();
    for (label, img) in [
        ("512", image_io::resize_longest(&content, 512)),
        ("1920x1080", image_io::resize_to(&content, 1920, 1080)),
    ] {
        let longest = img.width().max(img.height());
        let (mut wall, mut cpu) = (Vec::new(), Vec::new());
        for rep in 0..args.reps + 1 {
            let (t0, c0) = (Instant::now(), cpu_seconds());
            let out = net.stylize(&img, longest)?;
            let (t1, c1) = (Instant::now(), cpu_seconds());
            anyhow::ensure!(out.dimensions() == img.dimensions());
            if rep > 0 {
                wall.push((t1 - t0).as_secs_f64());
                if let (Some(a), Some(b)) = (c0, c1) {
                    cpu.push(b - a);
                }
            }
        }
        sizes.push(json!({
            "size": label,
            "hw": [img.height(), img.width()],
            "median_s": median(&wall),
            "min_s": wall.iter().cloned().fold(f64::INFINITY, f64::min),
            "median_cpu_s": if cpu.is_empty() { None } else { Some(median(&cpu)) },
            "peak_rss_mib": peak_rss_mib(),
        }));
    }
    let arch = b.info.arch;
    let out = json!({
        "kind": "brush",
        "brush": brush.display().to_string(),
        "parameters": arch.parameter_count(),
        "macs_per_pixel": arch.macs_per_pixel(),
        "threads": atelier::engine::threads(),
        "device": dev.label,
        "reps": args.reps,
        "sizes": sizes,
    });
    println!("{out}");
    Ok(())
}
