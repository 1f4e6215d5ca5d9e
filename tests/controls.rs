//! The artist controls: several styles with blend weights, keeping the content's colours,
//! coarse-to-fine multi-scale runs, masks, settings from PNGs and presets, and the memory check.
//! Tiny random VGG16 weights and images of at most 64 pixels keep every test fast.

mod common;

use atelier::engine::colour::{colour_stats, keep_luminance, match_colours, to_yiq};
use atelier::engine::memory::{self, estimate_peak_bytes, MemoryEstimate};
use atelier::engine::schedule::{plan, stage_sizes};
use atelier::engine::{arch::Arch, Schedule, Transfer, Vgg};
use atelier::engine::{RunImages, TransferConfig};
use atelier::settings::{ColourMode, LayerWeight, OptimizerKind, Settings, StyleRef};
use atelier::worker::{Command, Event, FinishReason, RunRequest, Worker, WorkerConfig};
use candle_core::Device;
use image::{GrayImage, Luma, Rgb, RgbImage};
use std::process::Command as Process;
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::Duration;

fn vgg() -> Arc<Vgg> {
    static V: OnceLock<Arc<Vgg>> = OnceLock::new();
    V.get_or_init(|| {
        Arc::new(Vgg::load(&common::test_vgg16_file(), &Device::Cpu, None).expect("tiny vgg"))
    })
    .clone()
}

/// A colourful deterministic picture: gradients plus hashed noise, tinted by `seed`.
fn picture(w: u32, h: u32, seed: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let n = (x.wrapping_mul(73_856_093)
            ^ y.wrapping_mul(19_349_663)
            ^ seed.wrapping_mul(83_492_791))
            % 61;
        let t = seed % 3;
        let a = (x * 255 / w.max(1)) as u8;
        let b = (y * 255 / h.max(1)) as u8;
        let c = (n * 4) as u8;
        match t {
            0 => Rgb([a, b / 2, c]),
            1 => Rgb([c / 2, a, b]),
            _ => Rgb([b, c, a / 3 + 100]),
        }
    })
}

/// Style weight high enough for the tiny network to move pixels visibly in a few iterations.
fn settings(size: u32, iterations: u32) -> Settings {
    let mut s = Settings {
        size,
        iterations,
        weights_path: Some(common::test_vgg16_file()),
        ..Settings::default()
    };
    s.weights.style_weight = 1e9;
    s.weights.content_weight = 1.0;
    s
}

fn losses(s: &Settings, content: &RgbImage, styles: &[(&RgbImage, f32)]) -> f64 {
    let t = Transfer::new(vgg(), &TransferConfig::from(s), content, styles).expect("transfer");
    t.current_losses().expect("losses").style
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-30)
}

#[test]
fn blend_weights_are_normalized_and_zero_weight_styles_change_nothing() {
    let s = settings(32, 1);
    let content = picture(32, 24, 1);
    let a = picture(40, 40, 2);
    let b = picture(40, 40, 3);
    let only_a = losses(&s, &content, &[(&a, 1.0)]);
    let only_b = losses(&s, &content, &[(&b, 1.0)]);
    assert!(
        !close(only_a, only_b, 1e-3),
        "the two styles differ: {only_a} vs {only_b}"
    );
    // A zero-weight style has no effect.
    let zero_b = losses(&s, &content, &[(&a, 1.0), (&b, 0.0)]);
    let zero_a = losses(&s, &content, &[(&a, 0.0), (&b, 2.5)]);
    assert!(close(zero_b, only_a, 1e-6), "{zero_b} vs {only_a}");
    assert!(close(zero_a, only_b, 1e-6), "{zero_a} vs {only_b}");
    // The same style twice, any weights, is the style once.
    let twice = losses(&s, &content, &[(&a, 3.0), (&a, 0.25)]);
    assert!(close(twice, only_a, 1e-5), "{twice} vs {only_a}");
    // Weights are normalized: 3:1 is 6:2, and differs from 1:3.
    let w31 = losses(&s, &content, &[(&a, 3.0), (&b, 1.0)]);
    let w62 = losses(&s, &content, &[(&a, 6.0), (&b, 2.0)]);
    let w13 = losses(&s, &content, &[(&a, 1.0), (&b, 3.0)]);
    assert!(close(w31, w62, 1e-5), "{w31} vs {w62}");
    assert!(!close(w31, w13, 1e-3), "{w31} vs {w13}");
    // All weights zero is refused with a message saying so.
    let err = Transfer::new(vgg(), &TransferConfig::from(&s), &content, &[(&a, 0.0)])
        .err()
        .expect("refused");
    assert!(err.to_string().contains("positive blend weight"), "{err}");
}

/// Mean |Δ| of the I and Q channels between two images of one size.
fn chroma_distance(a: &RgbImage, b: &RgbImage) -> (f32, f32) {
    let (ya, yb) = (to_yiq(a), to_yiq(b));
    let n = ya.len() as f32;
    let (mut di, mut dy) = (0f32, 0f32);
    for (p, q) in ya.iter().zip(&yb) {
        di += ((p[1] - q[1]).abs() + (p[2] - q[2]).abs()) / 2.0;
        dy += (p[0] - q[0]).abs();
    }
    (di / n, dy / n)
}

#[test]
fn luminance_mode_keeps_the_content_chroma_and_the_result_luminance() {
    let content = picture(32, 24, 4);
    let style = picture(32, 32, 5);
    let run = |colour| {
        let s = Settings {
            colour,
            ..settings(32, 3)
        };
        let mut sched = Schedule::new(
            vgg(),
            &TransferConfig::from(&s),
            RunImages {
                content: Arc::new(content.clone()),
                styles: vec![(Arc::new(style.clone()), 1.0)],
                mask: None,
            },
        )
        .expect("schedule");
        while !sched.is_done() {
            sched.step().expect("step");
        }
        sched.image().expect("image")
    };
    let plain = run(ColourMode::Style);
    let kept = run(ColourMode::Luminance);
    let (chroma_plain, _) = chroma_distance(&plain, &content);
    let (chroma_kept, _) = chroma_distance(&kept, &content);
    let (_, luma_vs_plain) = chroma_distance(&kept, &plain);
    assert!(
        chroma_plain > 3.0,
        "the style run changed the colours ({chroma_plain})"
    );
    // Within 8-bit rounding (plus clamping where the mix leaves the RGB cube).
    assert!(
        chroma_kept < 1.5,
        "I/Q of the result ≈ the content's: {chroma_kept}"
    );
    assert!(
        luma_vs_plain < 1.5,
        "luminance is the optimized image's: {luma_vs_plain}"
    );

    // The function itself, at different sizes: chroma from the (resized) content.
    let grey = RgbImage::from_pixel(16, 16, Rgb([128, 128, 128]));
    let red = RgbImage::from_pixel(8, 8, Rgb([200, 40, 40]));
    let out = keep_luminance(&grey, &red);
    let (c, _) = chroma_distance(
        &out,
        &image::imageops::resize(&red, 16, 16, image::imageops::FilterType::Triangle),
    );
    assert!(c < 1.0, "{c}");
    assert!((to_yiq(&out)[0][0] - 128.0).abs() < 1.0);
}

#[test]
fn histogram_mode_moves_the_style_colours_to_the_content_statistics() {
    let content = picture(48, 40, 7); // bluish
    let style = picture(40, 48, 6); // reddish
    let (mc, cc) = colour_stats(&content);
    let (ms0, _) = colour_stats(&style);
    let matched = match_colours(&style, &content);
    let (ms, cs) = colour_stats(&matched);
    let before: f64 = (0..3).map(|i| (ms0[i] - mc[i]).abs()).sum();
    assert!(before > 30.0, "the test images differ in colour ({before})");
    for i in 0..3 {
        assert!(
            (ms[i] - mc[i]).abs() < 2.0,
            "mean {i}: {} vs {}",
            ms[i],
            mc[i]
        );
        for j in 0..3 {
            let tol = 0.06 * (cc[i][i] * cc[j][j]).sqrt() + 2.0;
            assert!(
                (cs[i][j] - cc[i][j]).abs() < tol,
                "cov[{i}][{j}]: {} vs {}",
                cs[i][j],
                cc[i][j]
            );
        }
    }
    // And the run's style targets use the recoloured style.
    let s = settings(32, 1);
    let h = Settings {
        colour: ColourMode::Histogram,
        ..s.clone()
    };
    let plain = losses(&s, &content, &[(&style, 1.0)]);
    let hist = losses(&h, &content, &[(&style, 1.0)]);
    let pre = losses(
        &s,
        &content,
        &[(
            &match_colours(
                &atelier::image_io::resize_longest(&style, 32),
                &atelier::image_io::resize_longest(&content, 32),
            ),
            1.0,
        )],
    );
    assert!(!close(plain, hist, 1e-3), "{plain} vs {hist}");
    assert!(close(hist, pre, 1e-5), "{hist} vs {pre}");
}

#[test]
fn multiscale_stages_double_and_end_at_the_single_stage_size() {
    assert_eq!(stage_sizes(16, 64), vec![16, 32, 64]);
    let s = Settings {
        multiscale_start: 16,
        ..settings(64, 7)
    };
    let p = plan(&TransferConfig::from(&s));
    assert_eq!(
        p.iter().map(|s| (s.size, s.iterations)).collect::<Vec<_>>(),
        vec![(16, 4), (32, 2), (64, 1)]
    );
    let content = Arc::new(picture(64, 48, 8));
    let style = Arc::new(picture(48, 48, 9));
    let mut sched = Schedule::new(
        vgg(),
        &TransferConfig::from(&s),
        RunImages {
            content: content.clone(),
            styles: vec![(style.clone(), 1.0)],
            mask: None,
        },
    )
    .expect("schedule");
    // Each stage sees the style at its own size × style_scale: the first stage's losses are a
    // 16-pixel run's, whose style image is 16 × style_scale pixels.
    let small = Settings {
        size: 16,
        ..s.clone()
    };
    let at_16 = Transfer::new(
        vgg(),
        &TransferConfig::from(&small),
        &content,
        &[(&style, 1.0)],
    )
    .unwrap();
    let first = sched.current_losses().unwrap();
    assert!(close(
        first.style,
        at_16.current_losses().unwrap().style,
        1e-6
    ));
    let larger_style = Settings {
        style_scale: 2.0,
        ..small
    };
    let other = Transfer::new(
        vgg(),
        &TransferConfig::from(&larger_style),
        &content,
        &[(&style, 1.0)],
    )
    .unwrap();
    assert!(!close(
        first.style,
        other.current_losses().unwrap().style,
        1e-3
    ));
    let mut seen = vec![(sched.stage(), sched.dimensions())];
    let mean = |i: &RgbImage| {
        i.as_raw().iter().map(|&v| f64::from(v)).sum::<f64>() / i.as_raw().len() as f64
    };
    while !sched.is_done() {
        let before = sched.image().unwrap();
        let r = sched.step().expect("step");
        seen.push((sched.stage(), sched.dimensions()));
        assert_eq!(r.iteration, sched.iteration());
        if r.stage_changed {
            // The next stage starts from the previous result, upsampled (`before` is one
            // iteration older, hence the tolerance; a broken upsampling gives a black image).
            let after = sched.image().unwrap();
            let (w, h) = after.dimensions();
            let up = image::imageops::resize(&before, w, h, image::imageops::FilterType::Triangle);
            assert!(
                (mean(&after) - mean(&up)).abs() < 15.0,
                "{} vs {}",
                mean(&after),
                mean(&up)
            );
        }
    }
    seen.dedup();
    assert_eq!(seen, vec![(1, (16, 12)), (2, (32, 24)), (3, (64, 48))]);
    assert!(sched.iteration() <= 7);
    let single = Transfer::new(
        vgg(),
        &TransferConfig::from(&settings(64, 1)),
        &content,
        &[(&style, 1.0)],
    )
    .unwrap();
    assert_eq!(
        sched.image().unwrap().dimensions(),
        (single.width(), single.height())
    );
    assert_eq!(sched.final_dimensions(), (64, 48));
}

fn half_mask(w: u32, h: u32) -> GrayImage {
    GrayImage::from_fn(w, h, |x, _| Luma([if x < w / 2 { 0 } else { 255 }]))
}

#[test]
fn masks_confine_change_across_stages() {
    let content = Arc::new(picture(48, 48, 10));
    let style = Arc::new(picture(48, 48, 11));
    // The mask is given at another size: it is resized to each stage's.
    let mask = Arc::new(half_mask(100, 100));
    let mut s = Settings {
        multiscale_start: 24,
        ..settings(48, 6)
    };
    s.weights.style_layers = vec![
        LayerWeight::new("relu1_1", 1.0),
        LayerWeight::new("relu2_1", 1.0),
    ];
    let mut sched = Schedule::new(
        vgg(),
        &TransferConfig::from(&s),
        RunImages {
            content: content.clone(),
            styles: vec![(style, 1.0)],
            mask: Some(mask),
        },
    )
    .expect("schedule");
    while !sched.is_done() {
        sched.step().expect("step");
    }
    let out = sched.image().unwrap();
    assert_eq!(out.dimensions(), (48, 48));
    let (mut outside, mut inside, mut n_in) = (0u32, 0f64, 0u32);
    for (x, y, p) in out.enumerate_pixels() {
        let c = content.get_pixel(x, y);
        let d: Vec<i32> = (0..3)
            .map(|k| (i32::from(p[k]) - i32::from(c[k])).abs())
            .collect();
        if x < 22 {
            outside = outside.max(*d.iter().max().unwrap() as u32);
        } else if x >= 26 {
            inside += f64::from(d.iter().sum::<i32>()) / 3.0;
            n_in += 1;
        }
    }
    assert!(
        outside <= 1,
        "outside the mask the content stays (max Δ {outside})"
    );
    let inside = inside / f64::from(n_in);
    assert!(
        inside > 2.0,
        "inside the mask the style changed the image (mean Δ {inside})"
    );
}

fn atelier() -> Process {
    Process::new(env!("CARGO_BIN_EXE_atelier"))
}

fn run_ok(cmd: &mut Process) -> String {
    let out = cmd.output().expect("run atelier");
    assert!(
        out.status.success(),
        "atelier failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn settings_round_trip_through_png_and_preset_and_flags_override_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let save = |name: &str, img: &RgbImage| {
        let p = d.join(name);
        img.save(&p).unwrap();
        p
    };
    let content = save("content.png", &picture(40, 30, 12));
    let a = save("a.png", &picture(32, 32, 13));
    let b = save("b.png", &picture(32, 32, 14));
    let mask = d.join("mask.png");
    half_mask(40, 30).save(&mask).unwrap();
    let (out, preset) = (d.join("out.png"), d.join("look.json"));
    let mut style_arg = a.clone().into_os_string();
    style_arg.push(",");
    style_arg.push(&b);
    let stderr = run_ok(
        atelier()
            .args(["render", "--size", "32", "--iters", "3", "--threads", "1"])
            .args(["--multiscale-start", "16", "--colour", "luminance"])
            .args(["--style-blend-weights", "3,1", "--style-scale", "0.75"])
            .arg("--content")
            .arg(&content)
            .arg("--style")
            .arg(&style_arg)
            .arg("--mask")
            .arg(&mask)
            .arg("--weights")
            .arg(common::test_vgg16_file())
            .arg("--save-preset")
            .arg(&preset)
            .arg("--out")
            .arg(&out),
    );
    assert!(
        stderr.contains("memory: about"),
        "the estimate is shown: {stderr}"
    );
    // The picture names its files without folders; read back, they are found next to it.
    let raw = atelier::image_io::read_png_settings(&out)
        .unwrap()
        .expect("settings chunk");
    assert_eq!(
        raw.content.as_deref(),
        Some(std::path::Path::new("content.png"))
    );
    let from_png = Settings::load_from_file(&out).unwrap();
    let mut from_preset = Settings::load_preset(&preset).unwrap();
    // The weights, named by file only, are not next to the picture: the usual search applies.
    assert_eq!(from_png.weights_path, None);
    from_preset.weights_path = None;
    assert_eq!(from_png.style.as_deref(), Some(a.as_path()));
    assert_eq!(
        from_png.extra_styles,
        vec![StyleRef {
            path: b.clone(),
            weight: 1.0
        }]
    );
    assert_eq!(from_png.style_blend_weight, 3.0);
    assert_eq!(from_png.mask.as_deref(), Some(mask.as_path()));
    assert_eq!(from_png.colour, ColourMode::Luminance);
    assert_eq!(
        (from_png.multiscale_start, from_png.style_scale),
        (16, 0.75)
    );
    assert!(from_png.iterations <= 3);
    assert_eq!(
        Settings {
            iterations: from_png.iterations,
            ..from_preset.clone()
        },
        from_png
    );
    // Both files give the same settings back; a flag overrides what they say.
    for source in [&out, &preset] {
        let out2 = d.join("again.png");
        run_ok(
            atelier()
                .args(["render", "--iters", "2", "--colour", "histogram", "--force"])
                .arg("--weights")
                .arg(common::test_vgg16_file())
                .arg("--settings")
                .arg(source)
                .arg("--out")
                .arg(&out2),
        );
        let again = Settings::load_from_file(&out2).unwrap();
        assert_eq!(again.colour, ColourMode::Histogram);
        assert_eq!(
            Settings {
                iterations: from_png.iterations,
                colour: ColourMode::Luminance,
                ..again
            },
            from_png
        );
    }
    // A preset round-trips by itself, and a broken one says what is wrong.
    let p2 = d.join("p2.json");
    from_png.save_preset(&p2).unwrap();
    assert_eq!(Settings::load_preset(&p2).unwrap(), from_png);
    std::fs::write(&p2, "{ \"size\": \"big\" ").unwrap();
    let err = Settings::load_preset(&p2).unwrap_err().to_string();
    assert!(err.contains("not valid settings JSON"), "{err}");
    let err = Settings::load_from_file(&content).unwrap_err().to_string();
    assert!(err.contains("without Atelier settings"), "{err}");
}

#[test]
fn memory_estimate_grows_with_size_and_refuses_what_does_not_fit() {
    let s = Settings::default();
    let sizes = [(256, 192), (512, 384), (1024, 768), (2048, 1536)];
    let est: Vec<u64> = sizes
        .iter()
        .map(|&(w, h)| {
            let s = Settings {
                size: w,
                ..s.clone()
            };
            peak(&s, w, h, Arch::Vgg16)
        })
        .collect();
    assert!(est.windows(2).all(|p| p[0] < p[1]), "{est:?}");
    // More history, deeper layers and VGG19 cost more; Adam less than L-BFGS.
    let big = Settings {
        size: 1024,
        ..s.clone()
    };
    let base = peak(&big, 1024, 768, Arch::Vgg16);
    let short = Settings {
        lbfgs_history: 5,
        ..big.clone()
    };
    assert!(peak(&short, 1024, 768, Arch::Vgg16) < base);
    let adam = Settings {
        optimizer: OptimizerKind::Adam,
        ..big.clone()
    };
    assert!(peak(&adam, 1024, 768, Arch::Vgg16) < base);
    assert!(peak(&big, 1024, 768, Arch::Vgg19) > base);
    let mut shallow = big.clone();
    shallow.weights.style_layers = vec![LayerWeight::new("relu1_1", 1.0)];
    shallow.weights.content_layers = vec!["relu2_1".into()];
    assert!(peak(&shallow, 1024, 768, Arch::Vgg16) < base);
    // Multi-scale peaks at the final stage: no more than a single-stage run.
    let ms = Settings {
        multiscale_start: 256,
        ..big.clone()
    };
    assert!(peak(&ms, 1024, 768, Arch::Vgg16) <= base);

    // 2048 px in 1 GiB: refused, with both numbers and what to do.
    let s2048 = Settings {
        size: 2048,
        ..s.clone()
    };
    let e = peak(&s2048, 2048, 1536, Arch::Vgg16);
    let err = check(&s2048, 2048, 1536, Arch::Vgg16, Some(1 << 30))
        .unwrap_err()
        .to_string();
    assert!(err.contains(&memory::human(e)), "{err}");
    assert!(err.contains("1.0 GiB is available"), "{err}");
    assert!(
        err.contains("smaller size") && err.contains("L-BFGS history"),
        "{err}"
    );
    let ok = check(&s2048, 2048, 1536, Arch::Vgg16, Some(1 << 40)).unwrap();
    assert_eq!(ok.total(), e);
    assert!(check(&s2048, 2048, 1536, Arch::Vgg16, None).is_ok());
}

/// A worker whose every notification waits until the test has looked at the events and the
/// frame, so no frame is overwritten unseen.
struct Lockstep {
    worker: Worker,
    wake: mpsc::Receiver<()>,
    ack: mpsc::Sender<()>,
}

impl Lockstep {
    fn spawn() -> Self {
        let (wake_tx, wake) = mpsc::channel();
        let (ack, ack_rx) = mpsc::channel::<()>();
        let pair = Mutex::new((wake_tx, ack_rx));
        let worker = Worker::spawn_with(
            Box::new(move || {
                let p = pair.lock().unwrap();
                if p.0.send(()).is_ok() {
                    let _ = p.1.recv_timeout(Duration::from_secs(60));
                }
            }),
            WorkerConfig::default(),
        );
        Self { worker, wake, ack }
    }

    /// Events and frames until the run finishes.
    fn run(&self, req: RunRequest) -> (Vec<Event>, Vec<Arc<RgbImage>>) {
        self.worker.send(Command::Start(Box::new(req)));
        let (mut events, mut frames) = (Vec::new(), Vec::new());
        loop {
            self.wake
                .recv_timeout(Duration::from_secs(120))
                .expect("worker event");
            let mut finished = false;
            while let Some(e) = self.worker.try_recv() {
                finished |= matches!(e, Event::Finished { .. });
                events.push(e);
            }
            if let Some(f) = self.worker.take_frame() {
                frames.push(f.image);
            }
            let _ = self.ack.send(());
            if finished {
                return (events, frames);
            }
        }
    }
}

fn request(s: &Settings, content: &RgbImage, style: &RgbImage, extra: &[&RgbImage]) -> RunRequest {
    RunRequest {
        settings: s.clone(),
        content: Arc::new(content.clone()),
        style: Arc::new(style.clone()),
        extra_styles: extra.iter().map(|i| Arc::new((*i).clone())).collect(),
        mask: None,
        init_image: None,
    }
}

fn first_style_loss(events: &[Event]) -> f64 {
    events
        .iter()
        .find_map(|e| match e {
            Event::Progress(p) => Some(p.losses.style),
            _ => None,
        })
        .expect("a progress event")
}

#[test]
fn worker_runs_stages_and_honours_masks_and_extra_styles() {
    let ls = Lockstep::spawn();
    let content = picture(32, 24, 15);
    let (a, b) = (picture(32, 32, 16), picture(32, 32, 17));
    let mut s = Settings {
        multiscale_start: 16,
        ..settings(32, 4)
    };
    s.weights.style_layers = vec![
        LayerWeight::new("relu1_1", 1.0),
        LayerWeight::new("relu2_1", 1.0),
    ];
    let mut req = request(&s, &content, &a, &[]);
    req.settings.mask = Some("mask.png".into());
    req.mask = Some(Arc::new(half_mask(32, 24)));
    let (events, frames) = ls.run(req);
    let progress: Vec<(u32, u32, u32)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Progress(p) => Some((p.iteration, p.stage, p.stages)),
            _ => None,
        })
        .collect();
    assert!(
        matches!(
            events.last(),
            Some(Event::Finished {
                reason: FinishReason::Completed,
                ..
            })
        ),
        "{events:#?}"
    );
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Started {
            width: 32,
            height: 24,
            ..
        }
    )));
    let stages: Vec<u32> = progress.iter().map(|p| p.1).collect();
    assert_eq!(stages.first(), Some(&1), "{progress:?}");
    assert_eq!(stages.last(), Some(&2), "{progress:?}");
    assert!(stages.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert!(progress.iter().all(|p| p.2 == 2), "{progress:?}");
    let sizes: Vec<(u32, u32)> = frames.iter().map(|f| f.dimensions()).collect();
    assert!(
        sizes.contains(&(16, 12)) && sizes.contains(&(32, 24)),
        "{sizes:?}"
    );
    assert_eq!(sizes.last(), Some(&(32, 24)));
    // The last frame keeps the content where the mask is black.
    let last = frames.last().unwrap();
    for y in 0..24 {
        for x in 0..14 {
            let (p, c) = (last.get_pixel(x, y), content.get_pixel(x, y));
            for k in 0..3 {
                assert!(
                    (i32::from(p[k]) - i32::from(c[k])).abs() <= 1,
                    "({x},{y}) outside the mask changed: {p:?} vs {c:?}"
                );
            }
        }
    }

    // An extra style is honoured: a weighted with 0 and b as the extra equals b alone.
    let one = Settings {
        iterations: 1,
        multiscale_start: 0,
        ..s.clone()
    };
    let mut with_extra = one.clone();
    with_extra.style_blend_weight = 0.0;
    with_extra.extra_styles = vec![StyleRef {
        path: "b.png".into(),
        weight: 1.0,
    }];
    let (e_extra, _) = ls.run(request(&with_extra, &content, &a, &[&b]));
    let (e_b, _) = ls.run(request(&one, &content, &b, &[]));
    let (e_a, _) = ls.run(request(&one, &content, &a, &[]));
    let (lx, lb, la) = (
        first_style_loss(&e_extra),
        first_style_loss(&e_b),
        first_style_loss(&e_a),
    );
    assert!(close(lx, lb, 1e-5), "{lx} vs {lb}");
    assert!(!close(lx, la, 1e-3), "{lx} vs {la}");
    // A mismatch between the images and the settings' list is an error, not a silent drop.
    let (e_bad, _) = ls.run(request(&with_extra, &content, &a, &[]));
    assert!(e_bad
        .iter()
        .any(|e| matches!(e, Event::Error { message } if message.contains("extra style"))));
}

#[test]
fn worker_refuses_a_run_that_would_not_fit_in_memory() {
    let s = Settings {
        size: 8192,
        ..settings(8192, 1)
    };
    let content = picture(64, 64, 18);
    let need = peak(&s, 8192, 8192, Arch::Vgg16);
    let Some(avail) = memory::available_bytes() else {
        eprintln!("SKIPPED: available memory is unknown on this system");
        return;
    };
    if need as f64 <= avail as f64 * memory::HEADROOM {
        eprintln!("SKIPPED: this machine could fit {need} bytes");
        return;
    }
    let ls = Lockstep::spawn();
    let (events, frames) = ls.run(request(&s, &content, &picture(32, 32, 19), &[]));
    let msg = events
        .iter()
        .find_map(|e| match e {
            Event::Error { message } => Some(message.clone()),
            _ => None,
        })
        .expect("an error event");
    assert!(
        msg.contains(&memory::human(need)) && msg.contains("available"),
        "{msg}"
    );
    assert!(matches!(
        events.last(),
        Some(Event::Finished {
            reason: FinishReason::Failed,
            ..
        })
    ));
    assert!(frames.is_empty());
}

/// The thread count changes who computes what, never a sum's order: the same settings give
/// the same picture at 1 and 2 threads (presets and PNG metadata promise a repeatable render).
#[test]
fn same_picture_at_one_and_two_threads() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (content, style) = (d.join("content.png"), d.join("style.png"));
    // 96×72: relu1_1 has 6912 pixels, so the Gram matrices are cut into pixel chunks.
    picture(96, 72, 21).save(&content).unwrap();
    picture(64, 64, 22).save(&style).unwrap();
    let render = |threads: &str| {
        let out = d.join(format!("out-{threads}.png"));
        run_ok(
            atelier()
                .args([
                    "render",
                    "--size",
                    "96",
                    "--iters",
                    "3",
                    "--threads",
                    threads,
                ])
                .arg("--content")
                .arg(&content)
                .arg("--style")
                .arg(&style)
                .arg("--weights")
                .arg(common::test_vgg16_file())
                .arg("--out")
                .arg(&out),
        );
        image::open(&out).unwrap().to_rgb8()
    };
    let (one, two) = (render("1"), render("2"));
    let differing = one
        .pixels()
        .zip(two.pixels())
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(
        differing, 0,
        "{differing} pixels differ between 1 and 2 threads"
    );
}

/// A run of `s` on one content and one style picture, no mask.
fn plain_schedule(s: &Settings, content: RgbImage, style: RgbImage) -> Schedule {
    Schedule::new(
        vgg(),
        &TransferConfig::from(s),
        RunImages {
            content: Arc::new(content),
            styles: vec![(Arc::new(style), 1.0)],
            mask: None,
        },
    )
    .expect("schedule")
}

/// Stage 2 starts from stage 1's curvature scale, rescaled to its pixels: its first L-BFGS
/// iteration steps straight to a useful point instead of growing torch's tiny `1/|g|₁` probe
/// tenfold per evaluation (~15 evaluations at 512 px before).
#[test]
fn a_new_stage_starts_with_the_previous_curvature() {
    let s = Settings {
        multiscale_start: 32,
        stage_iterations: vec![6, 3],
        ..settings(64, 9)
    };
    let mut sched = plain_schedule(&s, picture(64, 48, 3), picture(48, 48, 4));
    let mut stage_1_first = None;
    let mut stage_2_first = None;
    let mut before = 0;
    let mut first_of_stage = true;
    while !sched.is_done() {
        let r = sched.step().expect("step");
        let evals = r.evaluations - before;
        before = r.evaluations;
        if first_of_stage {
            match r.stage {
                1 => stage_1_first = Some(evals),
                _ => stage_2_first = Some(evals),
            }
        }
        first_of_stage = r.stage_changed;
    }
    // The very first iteration has no scale to start from: it probes (and counts its start).
    let (one, two) = (stage_1_first.unwrap(), stage_2_first.unwrap());
    assert!(one >= 4, "stage 1's first iteration: {one} evaluations");
    assert!(two <= 3, "stage 2's first iteration: {two} evaluations");
}

/// `stage_iterations` replaces the split and must give one count per stage.
#[test]
fn explicit_stage_iterations_are_used_and_checked() {
    let s = Settings {
        multiscale_start: 16,
        stage_iterations: vec![5, 4, 2],
        ..settings(64, 11)
    };
    let p = plan(&TransferConfig::from(&s));
    assert_eq!(
        p.iter().map(|s| (s.size, s.iterations)).collect::<Vec<_>>(),
        vec![(16, 5), (32, 4), (64, 2)]
    );
    let wrong = Settings {
        stage_iterations: vec![5, 4],
        ..s.clone()
    };
    let e = wrong.validate().expect_err("two counts for three stages");
    assert!(e.contains("3 stages") && e.contains("16 → 32 → 64"), "{e}");
    let zero = Settings {
        stage_iterations: vec![5, 0, 2],
        ..s
    };
    assert!(zero.validate().is_err());
    // The CLI flag sets them, and --iters afterwards would clear them.
    let cli = Settings::default();
    assert!(cli.stage_iterations.is_empty());
}

/// The ETA counts the stages still to come at their own (higher) cost per iteration.
#[test]
fn seconds_left_projects_the_later_stages_by_their_cost() {
    use atelier::engine::schedule::{iteration_cost, stage_dims};
    let s = Settings {
        multiscale_start: 32,
        stage_iterations: vec![4, 2],
        ..settings(64, 6)
    };
    let content = picture(64, 48, 5);
    let mut sched = plain_schedule(&s, content.clone(), picture(48, 48, 6));
    let ratio = iteration_cost(stage_dims(&content, 64)) / iteration_cost(stage_dims(&content, 32));
    // Four times the pixels; at such tiny sizes the fixed part dominates.
    assert!(ratio > 1.05 && ratio < 4.0, "64 px costs {ratio}× 32 px");
    assert_eq!(
        sched.seconds_left(),
        None,
        "no pace before the first iteration"
    );
    assert!(close(
        sched.iterations_left_at_this_cost(),
        4.0 + 2.0 * ratio,
        1e-9
    ));
    sched.step().expect("step");
    assert!(close(
        sched.iterations_left_at_this_cost(),
        3.0 + 2.0 * ratio,
        1e-9
    ));
    assert!(sched.seconds_left().is_some_and(|s| s > 0.0));
    while sched.stage() == 1 {
        sched.step().expect("step");
    }
    assert!(close(sched.iterations_left_at_this_cost(), 2.0, 1e-9));
    while !sched.is_done() {
        sched.step().expect("step");
    }
    assert_eq!(sched.seconds_left(), Some(0.0));
}

/// Σ (x − clamp(x))² of the run's current image: what clamping to a picture throws away.
fn out_of_range(sched: &Schedule) -> f64 {
    let t = sched.transfer().unwrap().image_tensor().unwrap();
    let v: Vec<f32> = t.flatten_all().unwrap().to_vec1().unwrap();
    v.iter()
        .map(|&x| f64::from(x - x.clamp(0.0, 255.0)).powi(2))
        .sum()
}

/// The range term keeps the optimized pixels inside 0..255, so the saved (clamped) picture is
/// what the optimizer scored; with the term off the strong style pushes pixels outside. (The
/// tiny network's style term is ~1e8 times a real one's, so its weight is scaled up alike.)
#[test]
fn the_range_term_keeps_pixels_inside_what_a_picture_holds() {
    let run = |range_weight: f32| {
        let mut s = Settings {
            multiscale_start: 0,
            ..settings(40, 12)
        };
        s.weights.range_weight = range_weight;
        let mut sched = plain_schedule(&s, picture(40, 30, 7), picture(40, 40, 8));
        while !sched.is_done() {
            sched.step().expect("step");
        }
        out_of_range(&sched)
    };
    let (off, on) = (run(0.0), run(1e6));
    assert!(off > 100.0, "without the term pixels leave 0..255 ({off})");
    assert!(on < off / 10.0, "with it: {on} (without: {off})");
}

/// `losses --image` scores any picture at the content's size: the content itself scores as at
/// the start of a run (no content loss), another picture of another size is resized and scored.
#[test]
fn losses_scores_any_picture() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let content = d.join("c.png");
    picture(48, 36, 1).save(&content).unwrap();
    let style = d.join("s.png");
    picture(40, 40, 2).save(&style).unwrap();
    let other = d.join("o.png");
    picture(96, 72, 3).save(&other).unwrap();
    let score = |image: Option<&std::path::Path>| -> serde_json::Value {
        let mut cmd = atelier();
        cmd.args(["losses", "--json", "--size", "48"])
            .arg("--content")
            .arg(&content)
            .arg("--style")
            .arg(&style)
            .arg("--weights")
            .arg(common::test_vgg16_file());
        if let Some(p) = image {
            cmd.arg("--image").arg(p);
        }
        let out = cmd.output().expect("run atelier");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        serde_json::from_str(text.lines().last().unwrap()).unwrap()
    };
    let start = score(None);
    let same = score(Some(&content));
    assert_eq!(start["total"], same["total"]);
    assert_eq!(same["content"]["relu4_2"].as_f64(), Some(0.0));
    let o = score(Some(&other));
    assert!(o["content"]["relu4_2"].as_f64().unwrap() > 0.0, "{o}");
    assert_eq!(
        (o["width"].clone(), o["height"].clone()),
        (48.into(), 36.into())
    );
}

/// The engine's memory model for a whole `Settings` (the engine takes its config and style count).
fn peak(s: &Settings, w: u32, h: u32, arch: Arch) -> u64 {
    estimate_peak_bytes(&s.into(), s.style_count(), w, h, arch)
}

fn check(
    s: &Settings,
    w: u32,
    h: u32,
    arch: Arch,
    available: Option<u64>,
) -> atelier::Result<MemoryEstimate> {
    memory::check(&s.into(), s.style_count(), w, h, arch, available)
}

/// One run set-up (`engine::prepare`) serves the CLI and the studio's worker: a picture too
/// small to paint is refused by both, with the same words.
#[test]
fn cli_and_worker_refuse_a_tiny_content_with_the_same_words() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = picture(12, 9, 3);
    let style = picture(32, 32, 4);
    let (tiny_path, style_path) = (dir.path().join("tiny.png"), dir.path().join("style.png"));
    tiny.save(&tiny_path).unwrap();
    style.save(&style_path).unwrap();
    let out = atelier()
        .args(["render", "--size", "24", "--iters", "1", "--threads", "1"])
        .arg("--content")
        .arg(&tiny_path)
        .arg("--style")
        .arg(&style_path)
        .arg("--weights")
        .arg(common::test_vgg16_file())
        .arg("--out")
        .arg(dir.path().join("out.png"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let cli = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(cli.contains("12×9 pixels, too small to paint"), "{cli}");
    assert!(!dir.path().join("out.png").exists());

    let (events, _) = Lockstep::spawn().run(request(&settings(24, 1), &tiny, &style, &[]));
    let worker = events
        .iter()
        .find_map(|e| match e {
            Event::Error { message } => Some(message.clone()),
            _ => None,
        })
        .expect("an error event");
    assert!(cli.contains(&worker), "CLI: {cli}\nworker: {worker}");
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Finished {
            reason: FinishReason::Failed,
            ..
        }
    )));
}

/// One VGG detection: the loader and `atelier weights verify`'s inspection judge a file alike,
/// with the same words (the loader used to run a detection of its own).
#[test]
fn the_loader_and_the_inspection_judge_a_weights_file_alike() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = common::vgg_with_data(Arch::Vgg16, "F32", 5);
    // A stray tensor: features.1 is a ReLU in VGG16, it has no bias.
    let mut stray = common::T::new("features.1.bias", "F32", &[64]);
    stray.data = Some(Arc::new(common::f32_bytes(&common::values(9, 64))));
    t.push(stray);
    let path = dir.path().join("stray.safetensors");
    std::fs::write(&path, common::build(&t, &[])).unwrap();
    let inspected = atelier::weights::inspect(&path).unwrap_err().to_string();
    let loaded = Vgg::load(&path, &Device::Cpu, None)
        .expect_err("refused")
        .to_string();
    assert!(inspected.contains("features.1.bias"), "{inspected}");
    assert_eq!(loaded, inspected);
    // And a good file is taken by both as the same network.
    let good = dir.path().join("good.safetensors");
    std::fs::write(
        &good,
        common::build(&common::vgg_with_data(Arch::Vgg16, "F16", 5), &[]),
    )
    .unwrap();
    let info = atelier::weights::inspect(&good).unwrap();
    let vgg = Vgg::load(&good, &Device::Cpu, None).unwrap();
    assert_eq!(info.arch, vgg.arch());
}

/// [12]: files written before the style match and pooling options existed load as what made
/// them (Gram matrices, max pooling), not as today's defaults; both options change the loss.
#[test]
fn presets_from_before_the_style_match_keep_gram_and_max_pooling() {
    use atelier::settings::{Pooling, StyleLoss};
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/preset-before-12.json");
    let old = Settings::load_preset(&fixture).expect("the old preset loads");
    assert_eq!(old.weights.style_loss, StyleLoss::Gram);
    assert_eq!(old.pooling, Pooling::Max);
    let now = Settings::default();
    assert_ne!(
        (now.weights.style_loss, now.pooling),
        (old.weights.style_loss, old.pooling),
        "the defaults moved on, so an old file must say what it was"
    );
    // Each option changes what the style term measures.
    let (content, style) = (picture(40, 32, 1), picture(36, 36, 2));
    let mut s = settings(40, 1);
    s.weights.style_loss = StyleLoss::Gram;
    s.pooling = Pooling::Max;
    let gram_max = losses(&s, &content, &[(&style, 1.0)]);
    s.weights.style_loss = StyleLoss::Mixed;
    let mixed_max = losses(&s, &content, &[(&style, 1.0)]);
    s.pooling = Pooling::Average;
    let mixed_avg = losses(&s, &content, &[(&style, 1.0)]);
    assert!(gram_max.is_finite() && mixed_max.is_finite() && mixed_avg.is_finite());
    assert!(
        !close(gram_max, mixed_max, 1e-3),
        "{gram_max} vs {mixed_max}"
    );
    assert!(
        !close(mixed_max, mixed_avg, 1e-3),
        "{mixed_max} vs {mixed_avg}"
    );
}
