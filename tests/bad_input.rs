//! Bad input gets a clear error, a non-zero exit and nothing half-written; unusual but valid
//! images (16-bit, grayscale, CMYK, alpha, EXIF-rotated) just work.

mod common;

use atelier::image_io::{self, ImageError};
use image::{ImageBuffer, Luma, Rgb, Rgba};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("assets/samples")
        .join(name)
}

fn render(dir: &Path, extra: &[&str], content: &Path, weights: &Path) -> (Output, PathBuf) {
    let out = dir.join("out.png");
    let mut defaults = vec!["render", "--threads", "1"];
    for (flag, v) in [("--size", "24"), ("--iters", "2")] {
        if !extra.contains(&flag) {
            defaults.extend([flag, v]);
        }
    }
    let o = Command::new(env!("CARGO_BIN_EXE_atelier"))
        .args(defaults)
        .arg("--content")
        .arg(content)
        .arg("--style")
        .arg(sample("starry_night.jpg"))
        .arg("--weights")
        .arg(weights)
        .args(if extra.contains(&"--out") {
            vec![]
        } else {
            vec!["--out".into(), out.clone()]
        })
        .args(extra)
        .output()
        .unwrap();
    (o, out)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn broken_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.png");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(
        image_io::load_image(&empty),
        Err(ImageError::Empty { .. })
    ));
    let text = dir.path().join("notes.png");
    std::fs::write(&text, b"this is not a picture at all").unwrap();
    assert!(matches!(
        image_io::load_image(&text),
        Err(ImageError::UnknownFormat { .. })
    ));
    let png = std::fs::read(sample("chelsea.png")).unwrap();
    let cut = dir.path().join("cut.png");
    std::fs::write(&cut, &png[..png.len() / 3]).unwrap();
    let e = image_io::load_image(&cut).unwrap_err();
    assert!(matches!(e, ImageError::Decode { .. }), "{e}");
    assert!(e.to_string().contains("truncated"), "{e}");
    let missing = dir.path().join("nope.jpg");
    assert!(matches!(
        image_io::load_image(&missing),
        Err(ImageError::Read { .. })
    ));
}

#[test]
fn a_huge_header_is_refused_before_allocating() {
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, 40_000, 40_000);
        enc.set_color(png::ColorType::Rgb);
        // Only the header: the pixel data would be 4.8 GB.
        let _ = enc.write_header().unwrap();
    }
    // The encoder closed with IEND; put a token IDAT before it, as a hostile file would have.
    bytes.truncate(bytes.len() - 12);
    for (kind, data) in [
        (
            &b"IDAT"[..],
            &[0x78u8, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01][..],
        ),
        (&b"IEND"[..], &[][..]),
    ] {
        bytes.extend((data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend(data);
        bytes.extend(&body);
        bytes.extend(crc32(&body).to_be_bytes());
    }
    let e = image_io::load_image_bytes(&bytes).unwrap_err();
    assert!(
        matches!(
            e,
            ImageError::TooLarge {
                width: 40_000,
                height: 40_000,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("scale it down"), "{e}");
}

#[test]
fn unusual_images_load_correctly() {
    let dir = tempfile::tempdir().unwrap();
    // 16-bit RGB
    let p16 = dir.path().join("deep.png");
    ImageBuffer::<Rgb<u16>, _>::from_pixel(5, 4, Rgb([65535u16, 32896, 0]))
        .save(&p16)
        .unwrap();
    let img = image_io::load_image(&p16).unwrap();
    assert_eq!(img.get_pixel(0, 0).0, [255, 128, 0]);
    // Grayscale
    let pg = dir.path().join("gray.png");
    ImageBuffer::<Luma<u8>, _>::from_pixel(3, 3, Luma([77u8]))
        .save(&pg)
        .unwrap();
    assert_eq!(
        image_io::load_image(&pg).unwrap().get_pixel(1, 1).0,
        [77, 77, 77]
    );
    // Alpha: transparent becomes white, opaque keeps its colour, half is mixed.
    let pa = dir.path().join("alpha.png");
    let mut a = ImageBuffer::<Rgba<u8>, _>::from_pixel(3, 1, Rgba([0u8, 0, 0, 0]));
    a.put_pixel(1, 0, Rgba([10, 20, 30, 255]));
    a.put_pixel(2, 0, Rgba([0, 0, 0, 128]));
    a.save(&pa).unwrap();
    let img = image_io::load_image(&pa).unwrap();
    assert_eq!(img.get_pixel(0, 0).0, [255, 255, 255]);
    assert_eq!(img.get_pixel(1, 0).0, [10, 20, 30]);
    assert_eq!(img.get_pixel(2, 0).0, [127, 127, 127]);
    // CMYK JPEG: left half red, right half blue.
    let img = image_io::load_image(&fixture("cmyk.jpg")).unwrap();
    assert_eq!(img.dimensions(), (16, 12));
    let l = img.get_pixel(2, 6).0;
    let r = img.get_pixel(13, 6).0;
    assert!(l[0] > 180 && l[2] < 90, "left should be red, got {l:?}");
    assert!(r[2] > 180 && r[0] < 90, "right should be blue, got {r:?}");
    // EXIF orientation 6 (rotate 90° clockwise): 16×12 stored, 12×16 shown, red on top.
    let img = image_io::load_image(&fixture("exif_rotate90.jpg")).unwrap();
    assert_eq!(img.dimensions(), (12, 16));
    let top = img.get_pixel(6, 2).0;
    assert!(
        top[0] > 180 && top[2] < 90,
        "top should be red, got {top:?}"
    );
}

#[test]
fn cli_rejects_bad_input_and_writes_nothing() {
    let weights = common::test_vgg16_file();
    let dir = tempfile::tempdir().unwrap();
    let content = sample("chelsea.png");

    let empty = dir.path().join("empty.jpg");
    std::fs::write(&empty, b"").unwrap();
    let (o, out) = render(dir.path(), &[], &empty, &weights);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("empty"), "{}", stderr(&o));
    assert!(!out.exists());

    let (o, out) = render(dir.path(), &["--size", "0"], &content, &weights);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("too small"), "{}", stderr(&o));
    assert!(!out.exists());

    let (o, out) = render(dir.path(), &["--style-weight", "-3"], &content, &weights);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("style weight"), "{}", stderr(&o));
    assert!(!out.exists());

    let (o, _) = render(
        dir.path(),
        &["--out", "/proc/definitely/not/writable.png"],
        &content,
        &weights,
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("cannot write"), "{}", stderr(&o));

    let (o, out) = render(
        dir.path(),
        &["--style-layers", "relu9_9"],
        &content,
        &weights,
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("relu9_9"), "{}", stderr(&o));
    assert!(!out.exists());
}

#[test]
fn wrong_or_corrupt_weights_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let content = sample("chelsea.png");
    // A VGG16 with one convolution missing: no longer a VGG.
    let mut t = common::vgg_with_data(atelier::engine::arch::Arch::Vgg16, "F32", 3);
    t.retain(|t| t.name != "features.28.weight");
    let partial = dir.path().join("partial.safetensors");
    std::fs::write(&partial, common::build(&t, &[])).unwrap();
    let (o, out) = render(dir.path(), &[], &content, &partial);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("partial.safetensors") && e.contains("features.28.weight"),
        "{e}"
    );
    assert!(!out.exists());

    // NaN in a weight.
    let mut t = common::vgg_with_data(atelier::engine::arch::Arch::Vgg16, "F32", 3);
    let mut bytes = t[4].data.as_ref().unwrap().as_ref().clone();
    bytes[0..4].copy_from_slice(&f32::NAN.to_le_bytes());
    t[4].data = Some(std::sync::Arc::new(bytes));
    let nan = dir.path().join("nan.safetensors");
    std::fs::write(&nan, common::build(&t, &[])).unwrap();
    let (o, out) = render(dir.path(), &[], &content, &nan);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("NaN"), "{e}");
    assert!(!out.exists());

    // Not safetensors at all.
    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"<html>404</html>").unwrap();
    let (o, _) = render(dir.path(), &[], &content, &junk);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("junk.safetensors"), "{}", stderr(&o));
}

#[test]
fn nan_during_optimization_stops_with_an_error_and_keeps_the_last_good_image() {
    let weights = common::test_vgg16_file();
    let dir = tempfile::tempdir().unwrap();
    let (o, out) = render(
        dir.path(),
        &["--optimizer", "adam", "--lr", "1e38", "--iters", "5"],
        &sample("chelsea.png"),
        &weights,
    );
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("NaN or infinite"), "{e}");
    assert!(e.contains("last good image"), "{e}");
    let img = image_io::load_image(&out).expect("the last good image is written");
    assert_eq!(img.width(), 24);
}

#[test]
fn results_carry_their_settings_and_reproduce() {
    let weights = common::test_vgg16_file();
    let dir = tempfile::tempdir().unwrap();
    let (o1, out) = render(
        dir.path(),
        &["--seed", "5", "--init", "noise"],
        &sample("chelsea.png"),
        &weights,
    );
    assert!(o1.status.success(), "{}", stderr(&o1));
    let first = std::fs::read(&out).unwrap();
    let s = image_io::read_png_settings(&out)
        .unwrap()
        .expect("settings chunk");
    assert_eq!(s.size, 24);
    assert_eq!(s.seed, 5);
    assert_eq!(s.init, atelier::settings::InitKind::Noise);
    assert_eq!(s.iterations, 2);
    let (o2, out) = render(
        dir.path(),
        &["--seed", "5", "--init", "noise"],
        &sample("chelsea.png"),
        &weights,
    );
    assert!(o2.status.success());
    assert_eq!(
        std::fs::read(&out).unwrap(),
        first,
        "same seed and settings, same output"
    );
    // No temporary files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}
