//! `atelier render` and `atelier losses`: the engine, headless.

use super::args::{LossArgs, RenderArgs};
use super::report::{median, peak_rss_mib, Progress};
use anyhow::{Context, Result};
use atelier::engine::loss::Targets;
use atelier::engine::{pixels, LossBreakdown, Network, Transfer};
use atelier::image_io::{self, save_png};
use atelier::settings::Settings;
use serde_json::json;
use std::time::Instant;

fn load_inputs(s: &Settings) -> Result<(image::RgbImage, image::RgbImage)> {
    let (Some(c), Some(st)) = (&s.content, &s.style) else {
        anyhow::bail!("both --content and --style are required");
    };
    let content = image_io::load_image(c).context("content image")?;
    let style = image_io::load_image(st).context("style image")?;
    Ok((content, style))
}

fn breakdown_json(b: &LossBreakdown) -> serde_json::Value {
    json!({"total": b.total, "content": b.content, "style": b.style, "tv": b.tv})
}

pub fn render(args: &RenderArgs) -> Result<()> {
    let settings = args.settings().map_err(anyhow::Error::msg)?;
    atelier::engine::set_threads(settings.threads);
    // Fail on an unwritable output before spending minutes on the optimization.
    check_writable(&args.out)?;
    let (content, style) = load_inputs(&settings)?;
    let net = Network::load(&settings)?;
    if let Some(note) = &net.device.fallback_note {
        eprintln!("note: {note}");
    }
    let mut transfer = Transfer::new(net.vgg.clone(), &settings, &content, &[(&style, 1.0)])?;
    let initial = transfer.current_losses()?;
    let total = settings.iterations;
    let mut bar = Progress::new(u64::from(total), args.json);
    let mut times = Vec::with_capacity(total as usize);
    let mut failure = None;
    for _ in 0..total {
        let t0 = Instant::now();
        match transfer.step() {
            Ok(r) => {
                times.push(t0.elapsed().as_secs_f64());
                bar.update(r.iteration, r.losses.total, median(&times));
                if r.converged {
                    break;
                }
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    bar.finish();
    let image = transfer.image()?;
    let mut saved = settings.clone();
    saved.iterations = transfer.iteration();
    save_png(&args.out, &image, Some(&saved))?;
    if let Some(e) = failure {
        return Err(anyhow::Error::new(e).context(format!(
            "stopped after {} iterations; the last good image was written to {}",
            transfer.iteration(),
            args.out.display()
        )));
    }
    let fin = transfer.current_losses()?;
    if args.json {
        let out = json!({
            "width": transfer.width(),
            "height": transfer.height(),
            "iterations": transfer.iteration(),
            "evaluations": transfer.evaluations(),
            "initial_loss": breakdown_json(&initial),
            "final_loss": breakdown_json(&fin),
            "seconds_per_iteration_median": median(&times),
            "peak_rss_mib": peak_rss_mib(),
            "device": net.device.label,
            "arch": net.vgg.arch().name(),
            "out": args.out.display().to_string(),
        });
        println!("{out}");
    } else {
        eprintln!(
            "wrote {} ({}×{}, {} iterations, loss {:.1} → {:.1})",
            args.out.display(),
            transfer.width(),
            transfer.height(),
            transfer.iteration(),
            initial.total,
            fin.total
        );
    }
    Ok(())
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

/// `atelier losses`: the weighted losses at the start (image = content), per layer.
pub fn losses(args: &LossArgs, json_out: bool) -> Result<()> {
    let settings = args
        .apply(Settings::default())
        .map_err(anyhow::Error::msg)?;
    atelier::engine::set_threads(settings.threads);
    let (content, style) = load_inputs(&settings)?;
    let net = Network::load(&settings)?;
    let device = net.vgg.device().clone();
    let content = image_io::resize_longest(&content, settings.size);
    let style_size = (f64::from(settings.size) * f64::from(settings.style_scale)).ceil() as u32;
    let style = image_io::resize_longest(&style, style_size);
    let cpx = pixels::to_tensor(&content, &device)?;
    let spx = pixels::to_tensor(&style, &device)?;
    let mut targets = Targets::new(cpx.clone(), vec![(spx, 1.0)])?;
    targets.ensure(&net.vgg, &settings.weights)?;
    let terms = targets.losses(&net.vgg, &cpx, &settings.weights)?;
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
        "style_width": style.width(),
        "style_height": style.height(),
    });
    if json_out {
        println!("{out}");
    } else {
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(())
}
