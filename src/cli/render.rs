//! `atelier render` and `atelier losses`: the engine, headless.

use super::args::{LossArgs, RenderArgs};
use super::report::{median, peak_rss_mib, IterationBar};
use anyhow::{Context, Result};
use atelier::engine::instant::{self, Arbitrary};
use atelier::engine::loss::Targets;
use atelier::engine::transfer::prepare_styles;
use atelier::engine::{memory, pixels, LossBreakdown, RunImages, Start, TransferConfig};
use atelier::image_io::{self, save_png};
use atelier::network::Network;
use atelier::settings::{InitKind, Settings};
use image::RgbImage;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// The decoded images a run needs.
fn load_inputs(s: &Settings) -> Result<RunImages> {
    let (Some(c), Some(st)) = (&s.content, &s.style) else {
        anyhow::bail!(
            "both --content and --style are required (or --settings with a file that names them)"
        );
    };
    let content = image_io::load_image(c).context("content image")?;
    let mut styles = vec![(
        Arc::new(image_io::load_image(st).context("style image")?),
        s.style_blend_weight,
    )];
    for extra in &s.extra_styles {
        let img = image_io::load_image(&extra.path)
            .with_context(|| format!("style image {}", extra.path.display()))?;
        styles.push((Arc::new(img), extra.weight));
    }
    let mask = match &s.mask {
        Some(p) => Some(Arc::new(
            image::DynamicImage::ImageRgb8(image_io::load_image(p).context("mask image")?)
                .to_luma8(),
        )),
        None => None,
    };
    Ok(RunImages {
        content: Arc::new(content),
        styles,
        mask,
    })
}

fn breakdown_json(b: &LossBreakdown) -> serde_json::Value {
    json!({"total": b.total, "content": b.content, "style": b.style, "tv": b.tv})
}

pub fn render(args: &RenderArgs) -> Result<()> {
    let settings = args.settings().map_err(anyhow::Error::msg)?;
    // Fail on an unwritable or protected output before spending minutes on the optimization.
    let inputs = input_paths(&settings, args.loss.settings.as_deref());
    check_output(&args.out, args.force, &inputs)?;
    if let Some(p) = &args.save_preset {
        check_output(p, args.force, &inputs)?;
        if p == &args.out || same_file(p, &args.out) {
            anyhow::bail!(
                "--save-preset and --out are the same file: give the preset a .json name"
            );
        }
        settings.save_preset(p)?;
        eprintln!("saved preset {}", p.display());
    }
    atelier::engine::set_threads(settings.threads);
    let inputs = load_inputs(&settings)?;
    let net = Network::load(&settings)?;
    if let Some(note) = &net.device.fallback_note {
        eprintln!("note: {note}");
    }
    // `--init instant` paints its start with the instant network, which lives in the assets.
    let painter = match settings.init {
        InitKind::Instant => Some(
            Arbitrary::load(&instant::locate(None)?, net.vgg.device()).context("--init instant")?,
        ),
        _ => None,
    };
    let available = memory::available_bytes();
    let prepared = atelier::engine::prepare(
        net.vgg.clone(),
        &TransferConfig::from(&settings),
        inputs,
        Start {
            picture: None,
            instant: painter.as_ref(),
        },
        available,
    )?;
    let estimate = prepared.estimate;
    let mut run = prepared.schedule;
    eprintln!(
        "memory: about {} at {}×{}{}",
        memory::human(estimate.total()),
        estimate.width,
        estimate.height,
        available.map_or(String::new(), |a| format!(
            " ({} available)",
            memory::human(a)
        ))
    );
    let initial = run.current_losses()?;
    let stages = run.stage_count();
    let mut bar = IterationBar::new(u64::from(run.total_iterations()), args.json);
    let mut times: Vec<f64> = Vec::new();
    // (stage, total loss) after each iteration, for comparing runs (e.g. --init instant).
    let mut curve: Vec<(u32, f64)> = Vec::new();
    let mut stage_times: Vec<Vec<f64>> = vec![Vec::new(); stages as usize];
    // (iteration, seconds so far, projected seconds left) after each iteration: how honest the
    // ETA was, checked against the real end.
    let mut eta: Vec<(u32, f64, f64)> = Vec::new();
    let started = Instant::now();
    let syncs_before = atelier::engine::host::syncs();
    let mut failure = None;
    while !run.is_done() {
        let t0 = Instant::now();
        match run.step() {
            Ok(r) => {
                let dt = t0.elapsed().as_secs_f64();
                times.push(dt);
                curve.push((r.stage, r.losses.total));
                stage_times[(r.stage - 1) as usize].push(dt);
                let stage_label = (stages > 1).then(|| (run.stage(), stages));
                let pace = run.seconds_per_iteration().unwrap_or(dt);
                let left = run.seconds_left().unwrap_or(0.0);
                eta.push((r.iteration, started.elapsed().as_secs_f64(), left));
                bar.update(r.iteration, r.losses.total, pace, left, stage_label);
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    bar.finish();
    let loop_syncs = atelier::engine::host::syncs() - syncs_before;
    let image = run.image()?;
    let mut saved = settings.clone();
    saved.iterations = run.iteration();
    save_or_rescue(&args.out, &image, Some(&saved))?;
    if let Some(e) = failure {
        return Err(anyhow::Error::new(e).context(format!(
            "stopped after {} iterations; the last good image was written to {}",
            run.iteration(),
            args.out.display()
        )));
    }
    let fin = run.current_losses()?;
    let (width, height) = run.dimensions();
    if args.json {
        let stages_json: Vec<serde_json::Value> = run
            .stages()
            .iter()
            .zip(&stage_times)
            .map(|(s, t)| {
                json!({
                    "size": s.size,
                    "iterations": t.len(),
                    "seconds": t.iter().sum::<f64>(),
                    "seconds_per_iteration_median": median(t),
                })
            })
            .collect();
        let out = json!({
            "width": width,
            "height": height,
            "iterations": run.iteration(),
            "evaluations": run.evaluations(),
            "initial_loss": breakdown_json(&initial),
            "final_loss": breakdown_json(&fin),
            "seconds_per_iteration_median": median(&times),
            "seconds_total": times.iter().sum::<f64>(),
            "stages": stages_json,
            "loss_curve": curve,
            "eta_curve": eta,
            "memory_estimate_mib": estimate.total() as f64 / f64::from(1u32 << 20),
            "peak_rss_mib": peak_rss_mib(),
            "host_syncs_per_iteration": loop_syncs as f64 / f64::from(run.iteration().max(1)),
            "gpu_memory": atelier::gpu::memory(net.vgg.device()),
            "device": net.device.label,
            "arch": net.vgg.arch().name(),
            "out": args.out.display().to_string(),
        });
        println!("{out}");
    } else {
        eprintln!(
            "wrote {} ({}×{}, {} iterations, loss {:.1} → {:.1})",
            args.out.display(),
            width,
            height,
            run.iteration(),
            initial.total,
            fin.total
        );
    }
    Ok(())
}

/// Every file a run reads, so `--out` can never be one of them.
fn input_paths<'a>(s: &'a Settings, settings_file: Option<&'a Path>) -> Vec<&'a Path> {
    let mut v: Vec<&Path> = [s.content.as_deref(), s.style.as_deref(), s.mask.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    v.extend(s.extra_styles.iter().map(|e| e.path.as_path()));
    v.extend(s.weights_path.as_deref());
    v.extend(settings_file);
    v
}

/// Whether two paths name one file (links and `./` spellings included); a path that doesn't
/// exist is no existing file.
pub(super) fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// An output may be written: its folder is writable, it is none of `inputs` (never, even with
/// `--force`), and it doesn't exist yet unless `force` says to replace it, as image tools do.
pub(super) fn check_output(out: &Path, force: bool, inputs: &[&Path]) -> Result<()> {
    check_writable(out)?;
    if let Some(input) = inputs.iter().find(|i| same_file(out, i)) {
        anyhow::bail!(
            "{} is also an input of this run ({}): Atelier never writes over its inputs. Choose another output name",
            out.display(),
            input.display()
        );
    }
    if out.exists() && !force {
        anyhow::bail!(
            "{} already exists: pass --force (or --overwrite) to replace it, or choose another name",
            out.display()
        );
    }
    Ok(())
}

/// Saves the result; if that fails at the end of a long run (disk full, folder gone), keeps it
/// next to the target or in the temp folder and says where, so minutes of compute aren't lost.
pub(super) fn save_or_rescue(
    out: &Path,
    image: &RgbImage,
    settings: Option<&Settings>,
) -> Result<()> {
    let Err(e) = save_png(out, image, settings) else {
        return Ok(());
    };
    let name = out
        .file_stem()
        .map_or_else(|| "result".into(), |s| s.to_string_lossy().into_owned());
    let file = format!("{name}.rescued-{}.png", std::process::id());
    let beside = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from(&file), |p| p.join(&file));
    let places = [beside, std::env::temp_dir().join(&file)];
    for place in &places {
        if save_png(place, image, settings).is_ok() {
            anyhow::bail!(
                "{e}. The result is kept at {}: move it where you want it",
                place.display()
            );
        }
    }
    anyhow::bail!(
        "{e}. Keeping a copy failed too ({} and {}): free some disk space and run again",
        places[0].display(),
        places[1].display()
    )
}

pub(super) fn check_writable(out: &std::path::Path) -> Result<()> {
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    if out.is_dir() {
        anyhow::bail!(
            "--out {} is a folder; give a file name such as result.png",
            out.display()
        );
    }
    let probe = dir.join(format!(".atelier-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .with_context(|| format!("cannot write to {}: choose another --out", dir.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// `atelier losses`: the weighted losses per layer of the content (the start of a run) or of
/// `image`, scored at the content's size so pictures from any schedule share one yardstick.
pub fn losses(args: &LossArgs, image: Option<&std::path::Path>, json_out: bool) -> Result<()> {
    let settings = args
        .apply(args.base().map_err(anyhow::Error::msg)?)
        .map_err(anyhow::Error::msg)?;
    atelier::engine::set_threads(settings.threads);
    let inputs = load_inputs(&settings)?;
    let net = Network::load(&settings)?;
    let device = net.vgg.device().clone();
    let content = image_io::resize_longest(&inputs.content, settings.size);
    // Scoring is one stage without an optimizer: the render model of that bounds it.
    let config = TransferConfig::from(&settings);
    let one_pass = config.single_stage(settings.size, 1);
    memory::check(
        &one_pass,
        inputs.styles.len(),
        content.width(),
        content.height(),
        net.vgg.arch(),
        memory::available_bytes(),
    )?;
    let refs: Vec<(&RgbImage, f32)> = inputs
        .styles
        .iter()
        .map(|(i, w)| (i.as_ref(), *w))
        .collect();
    let styles = prepare_styles(&config, &content, &refs);
    let cpx = pixels::to_tensor(&content, &device)?;
    let mut spx = Vec::with_capacity(styles.len());
    for (img, w) in &styles {
        spx.push((pixels::to_tensor(img, &device)?, f64::from(*w)));
    }
    let (style_width, style_height) = styles.first().map_or((0, 0), |(i, _)| i.dimensions());
    let mut targets = Targets::new(cpx.clone(), spx)?.with_pooling(settings.pooling);
    targets.ensure(&net.vgg, &settings.weights)?;
    let scored = match image {
        Some(p) => {
            let img = image_io::load_image(p).context("--image")?;
            let img = image_io::resize_to(&img, content.width(), content.height());
            pixels::to_tensor(&img, &device)?
        }
        None => cpx.clone(),
    };
    let terms = targets.losses(&net.vgg, &scored, &settings.weights)?;
    let (c, s, tv) = terms.per_layer()?;
    let total: f64 = c.iter().chain(s.iter()).map(|(_, v)| v).sum::<f64>() + tv;
    let to_map = |v: &[(String, f64)]| {
        serde_json::Value::Object(v.iter().map(|(k, x)| (k.clone(), json!(x))).collect())
    };
    let out = json!({
        "content": to_map(&c),
        "style": to_map(&s),
        "tv": tv,
        "total": total,
        "width": content.width(),
        "height": content.height(),
        "style_width": style_width,
        "style_height": style_height,
        "image": image.map(|p| p.display().to_string()),
    });
    if json_out {
        println!("{out}");
    } else {
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(())
}
