//! Style brushes: generator and discriminator gradients against finite differences (f64), the
//! fast inference path against the training graph, a tiny training whose loss falls, brush file
//! validation, the brush collection, and the CLI (train, resume, instant --brush).

mod common;

use atelier::engine::arch::Arch;
use atelier::engine::brush::discriminator::Discriminator;
use atelier::engine::brush::nn::Params;
use atelier::engine::brush::{Border, Brush, BrushInfo, GenArch, Generator, TrainConfig, Trainer};
use atelier::engine::ops::ConvLayer;
use atelier::engine::Vgg;
use atelier::settings::{Preprocess, StyleLoss};
use candle_core::{DType, Device, Tensor};
use image::RgbImage;
use std::path::Path;
use std::process::Command;

const TINY: GenArch = GenArch {
    channels: [2, 3, 4],
    blocks: 1,
    border: Border::Reflect,
};

/// `arch` with the other border.
fn zero_border(arch: GenArch) -> GenArch {
    GenArch {
        border: Border::Zero,
        ..arch
    }
}

fn noise(seed: u64, shape: &[usize], lo: f64, hi: f64, dtype: DType) -> Tensor {
    let mut s = seed | 1;
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            lo + (hi - lo) * ((s >> 11) as f64 / (1u64 << 53) as f64)
        })
        .collect();
    Tensor::from_vec(v, shape, &Device::Cpu)
        .unwrap()
        .to_dtype(dtype)
        .unwrap()
}

/// Checks d(Σ r·f(x))/dθ for a sample of every parameter against central differences.
fn check_param_gradients(params: &Params, f: &dyn Fn() -> Tensor, what: &str) {
    let out = f();
    let r = noise(99, out.dims(), -1.0, 1.0, DType::F64);
    let loss = |o: Tensor| (o * &r).unwrap().sum_all().unwrap();
    let grads = loss(f()).backward().unwrap();
    let eps = 1e-6;
    let mut checked = 0;
    let grad = |name: &str, var: &candle_core::Var| -> Vec<f64> {
        grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("{what}: no gradient for {name}"))
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    };
    // Finite differences carry an absolute error, so the tolerance scales with the largest
    // gradient of all: a parameter whose true gradient is 0 (a shift that a later instance
    // norm removes) then passes on noise alone.
    let gmax = params
        .iter()
        .flat_map(|(name, var)| grad(name, var))
        .fold(0.0f64, |a, v| a.max(v.abs()));
    for (name, var) in params.iter() {
        let g = grad(name, var);
        let base: Vec<f64> = var.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
        for k in 0..3.min(base.len()) {
            let i = (k * 7 + 1) % base.len();
            let at = |d: f64| {
                let mut v = base.clone();
                v[i] += d;
                var.set(&Tensor::from_vec(v, var.dims(), &Device::Cpu).unwrap())
                    .unwrap();
                loss(f()).to_scalar::<f64>().unwrap()
            };
            let fd = (at(eps) - at(-eps)) / (2.0 * eps);
            var.set(&Tensor::from_vec(base.clone(), var.dims(), &Device::Cpu).unwrap())
                .unwrap();
            let err = (fd - g[i]).abs() / (gmax * 1e-4 + g[i].abs() + 1e-12);
            assert!(
                err < 1e-4,
                "{what} {name}[{i}]: autograd {} vs finite difference {fd} (rel {err:e})",
                g[i]
            );
            checked += 1;
        }
    }
    assert!(checked > 10, "{what}: only {checked} checked");
}

#[test]
fn generator_gradients_match_finite_differences() {
    for arch in [TINY, zero_border(TINY)] {
        let g = Generator::new(arch, 3, DType::F64, &Device::Cpu).unwrap();
        // Non-square, so a transposed index would show.
        let x = noise(5, &[1, 3, 8, 12], 0.0, 1.0, DType::F64);
        let what = format!("generator, {:?} border", arch.border);
        check_param_gradients(&g.params, &|| g.forward(&x).unwrap(), &what);
    }
}

#[test]
fn discriminator_gradients_match_finite_differences() {
    let d = Discriminator::new(4, DType::F64, &Device::Cpu).unwrap();
    let x = noise(6, &[1, 3, 20, 24], 0.0, 1.0, DType::F64);
    check_param_gradients(&d.params, &|| d.forward(&x).unwrap(), "discriminator");
    // And the hinge loss reaches the fake picture (the generator's gradient).
    let fake = candle_core::Var::from_tensor(&x).unwrap();
    let g = d
        .generator_loss(fake.as_tensor())
        .unwrap()
        .backward()
        .unwrap();
    let gx = g
        .get(fake.as_tensor())
        .unwrap()
        .abs()
        .unwrap()
        .sum_all()
        .unwrap();
    assert!(gx.to_scalar::<f64>().unwrap() > 0.0);
}

#[test]
fn fast_cpu_path_equals_the_training_graph() {
    let default = GenArch::default();
    for arch in [TINY, zero_border(TINY), default, zero_border(default)] {
        let g = Generator::new(arch, 7, DType::F32, &Device::Cpu).unwrap();
        let x = noise(8, &[1, 3, 36, 28], 0.0, 1.0, DType::F32);
        let a = g.forward(&x).unwrap();
        let b = g.fast().unwrap().forward(&x).unwrap();
        let diff = (a - b).unwrap().abs().unwrap().max_all().unwrap();
        let diff = diff.to_scalar::<f32>().unwrap();
        assert!(diff < 1e-4, "{arch:?}: fast and graph differ by {diff}");
    }
}

/// A VGG16 with 3–5 channels per layer (f32, so it runs on the fast kernels).
fn tiny_vgg() -> Vgg {
    let dev = Device::Cpu;
    let mut convs = Vec::new();
    let mut cin = 3;
    for (i, _) in Arch::Vgg16.conv_shapes().iter().enumerate() {
        let cout = 3 + i % 3;
        let scale = (2.0 / (9.0 * cin as f64)).sqrt() * 1.7;
        let w = noise(
            100 + i as u64,
            &[cout, cin, 3, 3],
            -scale,
            scale,
            DType::F32,
        );
        let b = noise(200 + i as u64, &[cout], -0.05, 0.05, DType::F32);
        convs.push(ConvLayer::new(w, b).unwrap());
        cin = cout;
    }
    Vgg::from_convs(Arch::Vgg16, convs, Preprocess::Caffe, &dev, DType::F32).unwrap()
}

fn picture(seed: u32, w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let v = |k: u32| ((x * (3 + k) + y * (5 + seed + k) + seed * 31 + (x * y) % 7) % 256) as u8;
        image::Rgb([v(0), v(1), v(2)])
    })
}

fn tiny_config() -> TrainConfig {
    TrainConfig {
        size: 32,
        distill: 0.0,
        photo_scale: 48,
        style_size: 64,
        arch: TINY,
        adversarial: 0.0,
        learning_rate: 1e-2,
        ..TrainConfig::default()
    }
}

#[test]
fn a_tiny_training_lowers_the_loss() {
    let vgg = tiny_vgg();
    for style_loss in [StyleLoss::Gram, StyleLoss::Mixed] {
        let photos = vec![picture(1, 60, 50), picture(2, 50, 64)];
        let cfg = TrainConfig {
            style_loss,
            ..tiny_config()
        };
        let mut t = Trainer::new(cfg, &vgg, &picture(9, 80, 64), photos, None).unwrap();
        let losses: Vec<f64> = (0..60)
            .map(|i| t.step(&vgg, f64::from(i) / 60.0).unwrap().total)
            .collect();
        let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
        let (first, last) = (mean(&losses[..10]), mean(&losses[50..]));
        assert!(
            last < 0.7 * first,
            "{style_loss:?}: loss went from {first} to {last}: {losses:?}"
        );
    }
}

#[test]
fn brushes_trained_before_the_style_match_option_read_as_gram() {
    // What a brush file's `settings` held before `style_loss` existed.
    let old: TrainConfig = serde_json::from_str(r#"{"size":256,"distill":0.3}"#).unwrap();
    assert_eq!(old.style_loss, StyleLoss::Gram);
    assert_eq!(TrainConfig::default().style_loss, StyleLoss::Mixed);
    let now = serde_json::to_string(&TrainConfig::default()).unwrap();
    let back: TrainConfig = serde_json::from_str(&now).unwrap();
    assert_eq!(back.style_loss, StyleLoss::Mixed);
}

#[test]
fn brushes_from_before_the_border_field_keep_zero_padding() {
    // A format-1 brush's `arch` metadata, and its `settings.arch`.
    let old: GenArch = serde_json::from_str(r#"{"channels":[8,32,64],"blocks":5}"#).unwrap();
    assert_eq!(old.border, Border::Zero);
    let old: TrainConfig =
        serde_json::from_str(r#"{"arch":{"channels":[8,32,64],"blocks":5}}"#).unwrap();
    assert_eq!(old.arch.border, Border::Zero);
    // New brushes reflect, and say so.
    assert_eq!(GenArch::default().border, Border::Reflect);
    let now = serde_json::to_string(&GenArch::default()).unwrap();
    assert!(now.contains(r#""border":"reflect""#), "{now}");
    // The two borders paint different pictures from the same weights (the seed decides them).
    let zero = Generator::new(zero_border(TINY), 7, DType::F32, &Device::Cpu).unwrap();
    let reflect = Generator::new(TINY, 7, DType::F32, &Device::Cpu).unwrap();
    let weights = |g: &Generator| -> Vec<f32> {
        let s = g.params.snapshot().unwrap();
        s.values()
            .flat_map(|t| t.flatten_all().unwrap().to_vec1::<f32>().unwrap())
            .collect()
    };
    assert_eq!(weights(&zero), weights(&reflect));
    let x = noise(9, &[1, 3, 12, 16], 0.0, 1.0, DType::F32);
    let diff = (zero.forward(&x).unwrap() - reflect.forward(&x).unwrap())
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(diff > 1e-4, "the border changed nothing ({diff})");
}

#[test]
fn stripes_stay_straight_to_the_picture_edge() {
    // With reflect padding no layer can tell where the picture ends: vertical stripes come out
    // as vertical stripes, the same in the top and bottom rows as in the middle (and likewise
    // for horizontal stripes). Zero padding draws lines along the border. (A flat picture would
    // not do: instance norms blow its rounding noise up to full contrast.)
    let (h, w) = (24usize, 32usize);
    let stripes: Vec<f32> = (0..3 * h * w)
        .map(|i| (((i % w) * 7 + (i / (h * w)) * 3) % 11) as f32 / 10.0)
        .collect();
    let vertical = Tensor::from_vec(stripes, (1, 3, h, w), &Device::Cpu).unwrap();
    let horizontal = vertical.transpose(2, 3).unwrap().contiguous().unwrap();
    // The largest difference between any row (column) and the middle one.
    let bend = |arch: GenArch| -> f32 {
        let g = Generator::new(arch, 11, DType::F32, &Device::Cpu).unwrap();
        let fast = g.fast().unwrap();
        let rows = fast.forward(&vertical).unwrap();
        let cols = fast.forward(&horizontal).unwrap().transpose(2, 3).unwrap();
        [rows, cols]
            .iter()
            .map(|y| {
                let n = y.dim(2).unwrap();
                let mid = y.narrow(2, n / 2, 1).unwrap();
                let d = y.broadcast_sub(&mid).unwrap().abs().unwrap();
                d.max_all().unwrap().to_scalar::<f32>().unwrap()
            })
            .fold(0.0, f32::max)
    };
    let default = GenArch::default();
    assert!(bend(default) < 1e-4, "{}", bend(default));
    assert!(
        bend(zero_border(default)) > 1e-2,
        "{}",
        bend(zero_border(default))
    );
}

#[test]
fn the_discriminator_trains_alongside() {
    let vgg = tiny_vgg();
    let cfg = TrainConfig {
        adversarial: 0.1,
        ..tiny_config()
    };
    let mut t = Trainer::new(
        cfg,
        &vgg,
        &picture(9, 80, 64),
        vec![picture(1, 60, 50)],
        None,
    )
    .unwrap();
    assert!(t.has_discriminator());
    let p = t.step(&vgg, 0.5).unwrap();
    assert!(p.disc > 0.0 && p.adversarial != 0.0, "{p:?}");
    // Its state round-trips through a checkpoint.
    let (state, counters) = t.state().unwrap();
    assert!(state.keys().any(|k| k.starts_with("disc.")));
    assert_eq!(counters.step, 1);
}

fn brush_of(arch: GenArch) -> Brush {
    let g = Generator::new(arch, 1, DType::F32, &Device::Cpu).unwrap();
    Brush {
        info: BrushInfo {
            version: 1,
            arch,
            settings: Some(TrainConfig::default()),
            painting: "starry_night.jpg".into(),
            steps: 12,
            seconds: 3.5,
            losses: None,
        },
        weights: g.params.snapshot().unwrap(),
    }
}

fn load_err(path: &Path) -> String {
    Brush::load(path)
        .expect_err("should be refused")
        .to_string()
}

#[test]
fn brush_files_round_trip_and_bad_ones_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.safetensors");
    let brush = brush_of(TINY);
    brush.save(&good).unwrap();
    let back = Brush::load(&good).unwrap();
    assert_eq!(back.info.painting, "starry_night.jpg");
    assert_eq!(back.info.steps, 12);
    assert_eq!(back.info.settings, Some(TrainConfig::default()));
    assert_eq!(back.weights.len(), brush.weights.len());

    // Cut short.
    let bytes = std::fs::read(&good).unwrap();
    let cut = dir.path().join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = load_err(&cut);
    assert!(e.contains("damaged") || e.contains("cut short"), "{e}");

    // Not safetensors at all.
    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"hello, not a brush").unwrap();
    assert!(
        load_err(&junk).contains("not a safetensors file"),
        "{}",
        load_err(&junk)
    );

    // A VGG file.
    let e = load_err(&common::test_vgg16_file());
    assert!(
        e.contains("not an Atelier brush") && e.contains("VGG"),
        "{e}"
    );

    // Another program's safetensors file.
    let other = dir.path().join("other.safetensors");
    std::fs::write(
        &other,
        common::build(&[common::T::new("w", "F32", &[2])], &[("format", "pt")]),
    )
    .unwrap();
    assert!(load_err(&other).contains("not an Atelier brush"));

    // NaN in a weight.
    let mut nan = brush_of(TINY);
    let w = nan.weights.get_mut("e1.weight").unwrap();
    *w = (w.clone() * f64::NAN).unwrap();
    let nan_path = dir.path().join("nan.safetensors");
    nan.save(&nan_path).unwrap();
    let e = load_err(&nan_path);
    assert!(e.contains("NaN") && e.contains("e1.weight"), "{e}");

    // A tensor of the wrong shape (the architecture says otherwise).
    let mut wrong = brush_of(TINY);
    wrong.info.arch = GenArch {
        channels: [2, 3, 5],
        ..TINY
    };
    let wrong_path = dir.path().join("wrong.safetensors");
    wrong.save(&wrong_path).unwrap();
    let e = load_err(&wrong_path);
    assert!(e.contains("shape") || e.contains("missing"), "{e}");

    // The training state is not a brush.
    let e = load_err(&atelier::engine::brush::state_path(&good)).to_string();
    assert!(e.contains("cannot read"), "{e}");
}

#[test]
fn the_brush_collection_lists_saves_loads_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("brushes");
    let thumb = picture(3, 200, 120);
    let b = brush_of(TINY);
    let p = atelier::brushes::save_in(&lib, "Starry night", &b, &thumb, false).unwrap();
    assert!(p.is_file() && p.with_extension("png").is_file());
    let t = atelier::image_io::load_image(&p.with_extension("png")).unwrap();
    assert_eq!(t.width().max(t.height()), atelier::brushes::THUMBNAIL);
    // No silent replacement.
    let e = atelier::brushes::save_in(&lib, "Starry night", &b, &thumb, false).unwrap_err();
    assert!(e.to_string().contains("already exists"));
    std::fs::write(lib.join("broken.safetensors"), b"junk").unwrap();
    let (good, bad) = atelier::brushes::list_in(&lib);
    assert_eq!(good.len(), 1);
    assert_eq!(good[0].name, "Starry night");
    assert_eq!(good[0].info.painting, "starry_night.jpg");
    assert_eq!(bad.len(), 1);
    assert!(atelier::brushes::load_in(&lib, "Starry night").is_ok());
    atelier::brushes::delete_in(&lib, "Starry night").unwrap();
    assert!(!p.exists() && !p.with_extension("png").exists());
    assert!(atelier::brushes::safe_name("../../etc/passwd")
        .unwrap()
        .find('/')
        .is_none());
}

#[test]
fn the_data_dir_override_is_honoured() {
    // Only this test reads the variable in this binary.
    std::env::set_var("ATELIER_DATA_DIR", "/tmp/atelier-data-test");
    assert_eq!(
        atelier::brushes::dir().unwrap(),
        Path::new("/tmp/atelier-data-test/brushes")
    );
    std::env::remove_var("ATELIER_DATA_DIR");
}

fn atelier() -> Command {
    Command::new(env!("CARGO_BIN_EXE_atelier"))
}

fn ok(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "atelier failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().expect("no output")).expect("JSON")
}

#[test]
fn cli_trains_resumes_and_paints_with_a_brush() {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    picture(1, 90, 70).save(photos.join("a.png")).unwrap();
    picture(2, 70, 90).save(photos.join("b.png")).unwrap();
    let style = dir.path().join("painting.png");
    picture(9, 96, 80).save(&style).unwrap();
    let out = dir.path().join("b.safetensors");
    let train = |extra: &[&str]| {
        atelier()
            .args(["train", "--json", "--threads", "1", "--size", "32"])
            .args([
                "--photo-scale",
                "64",
                "--style-size",
                "64",
                "--distill",
                "0",
            ])
            .arg("--weights")
            .arg(common::test_vgg16_file())
            .arg("--style")
            .arg(&style)
            .arg("--photos")
            .arg(&photos)
            .arg("--out")
            .arg(&out)
            .args(extra)
            .output()
            .unwrap()
    };
    let j = ok(&train(&["--steps", "3"]));
    assert_eq!(j["steps"], 3);
    assert_eq!(j["curve"].as_array().unwrap().len(), 3);
    assert!(out.is_file() && atelier::engine::brush::state_path(&out).is_file());
    // An existing brush is not replaced without --resume or --force.
    let again = train(&["--steps", "3"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
    // Resume to 5 steps in all: 2 more, the curve continues.
    let j = ok(&train(&["--steps", "5", "--resume"]));
    assert_eq!(j["steps"], 5);
    assert_eq!(j["session_steps"], 2);
    assert_eq!(j["curve"].as_array().unwrap().len(), 5);

    let painted = dir.path().join("painted.png");
    let j = ok(&atelier()
        .args(["instant", "--json", "--size", "40", "--threads", "1"])
        .arg("--brush")
        .arg(&out)
        .arg("--content")
        .arg(photos.join("a.png"))
        .arg("--out")
        .arg(&painted)
        .output()
        .unwrap());
    assert_eq!(j["mode"], "brush");
    let img = atelier::image_io::load_image(&painted).unwrap();
    assert_eq!(img.width().max(img.height()), 40);

    // A foreign file as a brush: a clear error.
    let bad = atelier()
        .args(["instant", "--size", "40"])
        .arg("--brush")
        .arg(common::test_vgg16_file())
        .arg("--content")
        .arg(photos.join("a.png"))
        .arg("--out")
        .arg(dir.path().join("x.png"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not an Atelier brush"));
}

#[test]
fn the_worker_trains_previews_pauses_and_saves_a_brush() {
    use atelier::worker::{
        Command as C, Event, FinishReason, TrainBudget, TrainRequest, TrainingEvent as T, Worker,
    };
    use std::sync::Arc;
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let worker = Worker::spawn(Box::new(|| {}));
    let wait = |pred: &dyn Fn(&Event) -> bool| -> Vec<Event> {
        let t0 = Instant::now();
        let mut seen = Vec::new();
        loop {
            while let Some(e) = worker.try_recv() {
                let done = pred(&e);
                seen.push(e);
                if done {
                    return seen;
                }
            }
            assert!(
                t0.elapsed() < Duration::from_secs(120),
                "timed out; saw {seen:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    // Without a network it is refused, with a reason.
    let out = dir.path().join("w.safetensors");
    let req = TrainRequest {
        id: 7,
        painting: Arc::new(picture(9, 96, 80)),
        painting_name: "painting.png".into(),
        photos: vec![Arc::new(picture(1, 90, 70))],
        config: TrainConfig {
            grow_from: 0,
            ..tiny_config()
        },
        budget: TrainBudget::Steps(4),
        out: out.clone(),
        resume: false,
        preview: Some(Arc::new(picture(3, 50, 40))),
        preview_size: 40,
        preview_every: Duration::ZERO,
    };
    wait(&|e| matches!(e, Event::Devices(_)));
    worker.send(C::StartTraining(Box::new(req.clone())));
    wait(&|e| matches!(e, Event::Training(T::Refused { message }) if message.contains("VGG")));
    worker.send(C::LoadNetwork(Some(common::test_vgg16_file())));
    wait(&|e| matches!(e, Event::WeightsLoaded(_)));
    worker.send(C::StartTraining(Box::new(req)));
    worker.send(C::PauseTraining);
    let seen = wait(&|e| matches!(e, Event::Training(T::Paused { id: 7, .. })));
    assert!(seen
        .iter()
        .any(|e| matches!(e, Event::Training(T::Started { id: 7, .. }))));
    worker.send(C::ResumeTraining);
    let seen = wait(&|e| matches!(e, Event::Training(T::Finished { .. })));
    let progress = seen
        .iter()
        .filter(|e| matches!(e, Event::Training(T::Progress { .. })))
        .count();
    assert!(progress >= 1, "{seen:?}");
    assert!(seen
        .iter()
        .any(|e| matches!(e, Event::Training(T::Preview { image, .. }) if image.width() == 40)));
    let Some(Event::Training(T::Finished {
        reason, path, step, ..
    })) = seen.last()
    else {
        unreachable!()
    };
    assert_eq!(*reason, FinishReason::Completed);
    assert_eq!(*step, 4);
    assert_eq!(path.as_deref(), Some(out.as_path()));
    assert!(out.with_extension("png").is_file());
    assert_eq!(Brush::load(&out).unwrap().info.steps, 4);
}
