//! Instant mode: the candle networks against the ONNX graphs' own outputs (fixture made by
//! scripts/make_instant_fixture.py with onnxruntime), the converted weight files, the CPU
//! kernels against candle's reference ops, and the CLI's errors.

mod common;

use atelier::engine::cpu::{self, Act};
use atelier::engine::instant::{self, Arbitrary, Blend, InstantError, Multistyle, StyleVector};
use atelier::image_io;
use candle_core::{Device, Tensor, D};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/instant")
        .join(name)
}

fn assets() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/instant")
}

fn expected() -> HashMap<String, Tensor> {
    candle_core::safetensors::load(fixture("expected.safetensors"), &Device::Cpu).unwrap()
}

/// Mean absolute difference between an 8-bit image and a [1,3,H,W] 0..1 tensor, in 0..1 units.
fn mae(img: &image::RgbImage, want: &Tensor) -> f32 {
    let got = atelier::engine::pixels::to_tensor(img, &Device::Cpu).unwrap() / 255.0;
    let got = got.unwrap();
    assert_eq!(got.dims(), want.dims());
    (got - want)
        .unwrap()
        .abs()
        .unwrap()
        .mean_all()
        .unwrap()
        .to_scalar()
        .unwrap()
}

fn max_abs(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn vec_of(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

#[test]
fn arbitrary_network_matches_onnx() {
    let want = expected();
    let net = Arbitrary::load(&assets(), &Device::Cpu).unwrap();
    let style = image_io::load_image(&fixture("style.png")).unwrap();
    let content = image_io::load_image(&fixture("content.png")).unwrap();
    let content256 = image_io::load_image(&fixture("content256.png")).unwrap();

    // Predictor: the ONNX graph quantizes activations to int8, we do not; the vectors agree to
    // a small fraction of their spread.
    let v = net.style_vector(&style).unwrap();
    let want_v = vec_of(&want["style_vector"]);
    let spread = want_v.iter().map(|x| x.abs()).fold(0.0, f32::max);
    let err = max_abs(&v.0, &want_v);
    eprintln!("style vector: max |diff| {err:.4} (largest |value| {spread:.3})");
    assert!(err < 0.1 * spread, "style vector off by {err}");
    let own = net.style_vector(&content256).unwrap();
    let err_own = max_abs(&own.0, &vec_of(&want["content_vector"]));
    eprintln!("content vector: max |diff| {err_own:.4}");
    assert!(err_own < 0.1 * spread);

    // Transformer with the ONNX style vector (its own error), then end to end. The reference
    // is the ONNX graph computing in float (activation QDQ pairs made Identity, as the port
    // drops them); the graph as shipped also rounds every activation to int8, which alone moves
    // its output by ~9/255 from the float network, so it gets a looser bound.
    let exact = StyleVector(want_v);
    let out = net.stylize(&content, &exact, 128).unwrap();
    assert_eq!(out.dimensions(), (128, 96));
    let e1 = mae(&out, &want["arbitrary_float"]);
    let q1 = mae(&out, &want["arbitrary"]);
    let out = net.stylize(&content, &v, 128).unwrap();
    let e2 = mae(&out, &want["arbitrary_float"]);
    eprintln!(
        "arbitrary transform MAE vs float graph {:.3}/255 (end to end {:.3}/255), \
         vs int8-activation graph {:.3}/255",
        e1 * 255.0,
        e2 * 255.0,
        q1 * 255.0
    );
    assert!(e1 < 2.0 / 255.0, "transform MAE {}/255", e1 * 255.0);
    assert!(e2 < 2.0 / 255.0, "end-to-end MAE {}/255", e2 * 255.0);
    assert!(
        q1 < 12.0 / 255.0,
        "MAE vs the shipped graph {}/255",
        q1 * 255.0
    );
}

#[test]
fn multistyle_network_matches_onnx() {
    let want = expected();
    let net = Multistyle::load(&assets(), &Device::Cpu).unwrap();
    let content = image_io::load_image(&fixture("content.png")).unwrap();
    let blend = Blend::parse("3:0.5,12:0.3,19:0.2").unwrap();
    assert_eq!(blend.weights().to_vec(), vec_of(&want["blend"]));
    let out = net.stylize(&content, &blend, 128).unwrap();
    let e = mae(&out, &want["multistyle"]);
    eprintln!("multistyle MAE: {:.3}/255", e * 255.0);
    assert!(e < 2.0 / 255.0, "multistyle MAE {}/255", e * 255.0);
    // A different blend really is a different picture.
    let other = net
        .stylize(&content, &Blend::single(7).unwrap(), 128)
        .unwrap();
    assert!(mae(&other, &want["multistyle"]) > 10.0 / 255.0);
}

#[test]
fn any_size_keeps_the_aspect_ratio_and_strength_zero_is_the_own_style() {
    let net = Arbitrary::load(&assets(), &Device::Cpu).unwrap();
    let content = image_io::load_image(&fixture("content.png")).unwrap();
    let style = image_io::load_image(&fixture("style.png")).unwrap();
    let v = net.style_vector(&style).unwrap();
    // 70×52: not a multiple of the stride; padded and cropped back.
    let out = net.stylize(&content, &v, 70).unwrap();
    assert_eq!(out.dimensions(), (70, 52));
    let own = net.style_vector(&content).unwrap();
    assert_eq!(v.towards(&own, 0.0).unwrap(), own);
    assert_eq!(v.towards(&own, 1.0).unwrap(), v);
    assert!(matches!(
        v.towards(&own, 1.5),
        Err(atelier::Error::Instant(InstantError::Strength(_)))
    ));
    let thin = image::RgbImage::new(200, 4);
    assert!(matches!(
        net.stylize(&thin, &v, 200),
        Err(atelier::Error::Instant(InstantError::Thin { .. }))
    ));
}

#[test]
fn thumbnails_cover_every_builtin_style() {
    let net = Multistyle::load(&assets(), &Device::Cpu).unwrap();
    let content = image_io::load_image(&fixture("content.png")).unwrap();
    let thumbs = net.thumbnails(&content, 32).unwrap();
    assert_eq!(thumbs.len(), instant::NUM_BUILTIN);
    assert!(thumbs.iter().all(|t| t.dimensions() == (32, 24)));
    assert_ne!(thumbs[0], thumbs[1]);
}

#[test]
fn converted_files_have_the_expected_tensors() {
    let check = |file: &str, want: &[(&str, &[usize])], count: usize| {
        let path = assets().join(file);
        let t = candle_core::safetensors::load(&path, &Device::Cpu).unwrap();
        assert_eq!(t.len(), count, "{file}: tensor count");
        for (name, shape) in want {
            let got = t.get(*name).unwrap_or_else(|| panic!("{file}: no {name}"));
            assert_eq!(got.dims(), *shape, "{file}: {name}");
            assert_eq!(got.dtype(), candle_core::DType::F32, "{file}: {name}");
        }
        let bytes = std::fs::read(&path).unwrap();
        let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
        let meta = meta.metadata().clone().unwrap_or_default();
        assert_eq!(
            meta.get("format").map(String::as_str),
            Some("atelier-instant-1")
        );
    };
    check(
        "arbitrary_predict.safetensors",
        &[
            ("conv0.weight", &[32, 3, 3, 3]),
            ("block0.depthwise.weight", &[32, 1, 3, 3]),
            ("block0.project.weight", &[16, 32, 1, 1]),
            ("block16.project.bias", &[320]),
            ("conv1.weight", &[1280, 320, 1, 1]),
            ("bottleneck.weight", &[100, 1280, 1, 1]),
        ],
        // stem, 16 blocks × 3 + block 0 × 2, head, bottleneck: weight + bias each
        2 * (1 + 16 * 3 + 2 + 1 + 1),
    );
    check(
        "arbitrary_transform.safetensors",
        &[
            ("contract.conv1.weight", &[8, 3, 9, 9]),
            ("contract.conv3.bias", &[32]),
            ("residual.5.conv2.weight", &[32, 32, 3, 3]),
            ("residual.5.conv2.gamma.weight", &[32, 100]),
            ("expand.conv3.beta.bias", &[3]),
            ("expand.conv3.weight", &[3, 8, 9, 9]),
        ],
        // 3 contract convs, 10 residual + 3 expand convs with gamma and beta layers
        2 * 3 + 13 * 6,
    );
    check(
        "multistyle26.safetensors",
        &[
            ("contract.0.w", &[32, 3, 9, 9]),
            ("res.5.1.norm.gamma", &[26, 32]),
            ("expand.2.w", &[3, 4, 9, 9]),
            ("expand.2.norm.beta", &[26, 3]),
        ],
        18 * 3,
    );
}

#[test]
fn missing_weights_and_bad_blends_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let e = instant::locate(Some(dir.path())).unwrap_err();
    assert!(matches!(e, InstantError::Missing { .. }));
    let msg = e.to_string();
    assert!(msg.contains("arbitrary_predict.safetensors") && msg.contains("assets/instant"));
    assert_eq!(instant::locate(None).unwrap(), assets());

    assert!(matches!(
        Blend::parse("30"),
        Err(InstantError::BuiltinIndex { index: 30 })
    ));
    for bad in ["", "x", "3:y", "3:-1", "3:0", "1;2"] {
        assert!(
            matches!(Blend::parse(bad), Err(InstantError::Blend { .. })),
            "{bad:?} should be rejected"
        );
    }
    let b = Blend::parse("3:1, 12:3 ,3").unwrap();
    assert_eq!(b.weights()[3], 0.4);
    assert_eq!(b.weights()[12], 0.6);
}

fn atelier(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_atelier"))
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `atelier instant <common> <extra>` must fail with a message containing every `needle`.
#[track_caller]
fn instant_fails(common: &[&str], extra: &[&str], needles: &[&str]) {
    let args: Vec<&str> = ["instant"]
        .iter()
        .chain(common)
        .chain(extra)
        .copied()
        .collect();
    let r = atelier(&args);
    assert!(!r.status.success(), "{args:?} succeeded");
    let err = stderr(&r);
    for n in needles {
        assert!(err.contains(n), "{args:?}: no {n:?} in {err}");
    }
}

#[test]
fn cli_errors_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.png");
    let content = fixture("content.png");
    let (c, o) = (content.to_str().unwrap(), out.to_str().unwrap());
    let base = ["--content", c, "--out", o];

    instant_fails(&base, &[], &["--style", "--builtin"]);
    instant_fails(
        &base,
        &["--builtin", "30"],
        &["built-in style 30 does not exist; use 0 to 25"],
    );
    let empty = dir.path().to_str().unwrap();
    instant_fails(
        &base,
        &["--builtin", "1", "--models", empty],
        &["instant-mode networks are missing"],
    );
    instant_fails(
        &base,
        &["--builtin", "1", "--strength", "2"],
        &["--strength must be between 0 and 1"],
    );
    assert!(!out.exists(), "nothing is written on an error");

    // And the happy path writes a PNG of the requested size.
    let r = atelier(&[
        "instant",
        "--content",
        c,
        "--builtin",
        "3:0.5,12:0.5",
        "--out",
        o,
        "--size",
        "64",
        "--threads",
        "1",
        "--strength",
        "0.8",
    ]);
    assert!(r.status.success(), "{}", stderr(&r));
    let img = image_io::load_image(&out).unwrap();
    assert_eq!(img.dimensions(), (64, 48));
}

#[test]
fn init_instant_starts_the_optimizer_from_the_instant_picture() {
    let vgg = atelier::engine::Vgg::load(&common::test_vgg16_file(), &Device::Cpu, None).unwrap();
    let content = image_io::load_image(&fixture("content.png")).unwrap();
    let style = image_io::load_image(&fixture("style.png")).unwrap();
    let settings = atelier::Settings {
        size: 40,
        init: atelier::settings::InitKind::Instant,
        ..atelier::Settings::default()
    };
    // The engine loads no files: the network that paints the start is passed in.
    let net = instant::Arbitrary::load(&instant::locate(None).unwrap(), &Device::Cpu).unwrap();
    let t = atelier::engine::Transfer::with_options(
        std::sync::Arc::new(vgg),
        &(&settings).into(),
        &content,
        &[(&style, 1.0)],
        atelier::engine::TransferOptions {
            instant: Some(&net),
            ..Default::default()
        },
    )
    .unwrap();
    let start = t.image().unwrap();
    let at_size = atelier::engine::transfer::prepare_content(&content, 40);
    let want = instant::init_image(&at_size, &style, &net).unwrap();
    assert_eq!(start.dimensions(), (40, 30));
    assert_eq!(start, want);
    assert_ne!(
        start, at_size,
        "the start is painted, not the plain content"
    );
    let json = serde_json::to_string(&settings.init).unwrap();
    assert_eq!(json, "\"instant\"");
}

// ---- CPU kernels against candle's own ops -------------------------------------------------

fn rand(shape: &[usize], seed: u64) -> Tensor {
    let n: usize = shape.iter().product();
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let v: Vec<f32> = (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

fn close(a: &Tensor, b: &Tensor, tol: f32) {
    assert_eq!(a.dims(), b.dims());
    let d: f32 = (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar()
        .unwrap();
    assert!(d < tol, "max |diff| {d}");
}

#[test]
fn conv_kernels_match_candle() {
    for (c_in, c_out, k, stride, h, w) in [
        (3, 8, 9, 1, 21, 30),
        (8, 16, 3, 2, 19, 26),
        (5, 11, 1, 1, 7, 9),
        (4, 3, 9, 1, 12, 12),
        // wide enough for the copy-free paths (whole 192-pixel tiles inside the input)
        (2, 5, 9, 1, 10, 400),
        (4, 9, 1, 1, 20, 20),
    ] {
        let x = rand(&[1, c_in, h, w], 1);
        let wt = rand(&[c_out, c_in, k, k], 2);
        let b = rand(&[c_out], 3);
        let conv = std::sync::Arc::new(cpu::ConvKxK::new(&wt, Some(&b), stride).unwrap());
        let got = cpu::conv_kxk(&x, &conv, Act::Relu).unwrap();
        let want = x
            .conv2d(&wt, 0, stride, 1, 1)
            .unwrap()
            .broadcast_add(&b.reshape((1, c_out, 1, 1)).unwrap())
            .unwrap()
            .relu()
            .unwrap();
        close(&got, &want, 1e-4);
    }
}

#[test]
fn depthwise_norm_and_resample_kernels_match_candle() {
    for (stride, h, w) in [(1, 9, 12), (2, 10, 14), (2, 9, 7)] {
        let c = 5;
        let x = rand(&[1, c, h, w], 4);
        let wt = rand(&[c, 1, 3, 3], 5);
        let b = rand(&[c], 6);
        let got = cpu::depthwise3x3(&x, &wt, &b, stride, Act::Relu6).unwrap();
        let (_, t, bo) = cpu::same_pad(h, stride);
        let (_, l, r) = cpu::same_pad(w, stride);
        let xp = x
            .pad_with_zeros(2, t, bo)
            .unwrap()
            .pad_with_zeros(3, l, r)
            .unwrap();
        let want = xp
            .conv2d(&wt, 0, stride, 1, c)
            .unwrap()
            .broadcast_add(&b.reshape((1, c, 1, 1)).unwrap())
            .unwrap()
            .clamp(0f32, 6f32)
            .unwrap();
        close(&got, &want, 1e-5);
    }

    let x = (rand(&[1, 3, 10, 12], 7) * 5.0).unwrap();
    let (g, be) = ([0.5f32, -1.0, 2.0], [0.1f32, 0.0, -0.3]);
    let got = cpu::instance_norm(&x, &g, &be, 1e-5, 1, Act::Sigmoid).unwrap();
    let inner = x.narrow(2, 1, 8).unwrap().narrow(3, 1, 10).unwrap();
    let mean = inner
        .mean_keepdim(D::Minus1)
        .unwrap()
        .mean_keepdim(D::Minus2)
        .unwrap();
    let d = inner.broadcast_sub(&mean).unwrap();
    let var = d
        .sqr()
        .unwrap()
        .mean_keepdim(D::Minus1)
        .unwrap()
        .mean_keepdim(D::Minus2)
        .unwrap();
    let gt = Tensor::new(&g, &Device::Cpu)
        .unwrap()
        .reshape((1, 3, 1, 1))
        .unwrap();
    let bt = Tensor::new(&be, &Device::Cpu)
        .unwrap()
        .reshape((1, 3, 1, 1))
        .unwrap();
    let want = d
        .broadcast_div(&(var + 1e-5).unwrap().sqrt().unwrap())
        .unwrap()
        .broadcast_mul(&gt)
        .unwrap()
        .broadcast_add(&bt)
        .unwrap();
    close(&got, &candle_nn::ops::sigmoid(&want).unwrap(), 1e-5);

    // Upsample ×2 then reflect-pad 2: row 0 of the padded result is upsampled row 2 = source row 1.
    let x = Tensor::arange(0f32, 12.0, &Device::Cpu)
        .unwrap()
        .reshape((1, 1, 3, 4))
        .unwrap();
    let y = cpu::upsample_reflect_pad(&x, 2, 2).unwrap();
    assert_eq!(y.dims(), &[1, 1, 10, 12]);
    let row0: Vec<f32> = y
        .get(0)
        .unwrap()
        .get(0)
        .unwrap()
        .get(0)
        .unwrap()
        .to_vec1()
        .unwrap();
    assert_eq!(
        row0,
        vec![5.0, 4.0, 4.0, 4.0, 5.0, 5.0, 6.0, 6.0, 7.0, 7.0, 7.0, 6.0]
    );
}
