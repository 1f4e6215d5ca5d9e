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

/// A PNG with only a header of this size and a token IDAT, as a hostile file would have.
fn header_only_png(
    width: u32,
    height: u32,
    color: png::ColorType,
    depth: png::BitDepth,
) -> Vec<u8> {
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, width, height);
        enc.set_color(color);
        enc.set_depth(depth);
        let _ = enc.write_header().unwrap();
    }
    // The encoder closed with IEND; put a token IDAT before it.
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
    bytes
}

/// 16384² passes the pixel-count check, but at 16-bit RGBA it decodes to 2 GiB before the RGB
/// copy: refused by bytes, before allocating, with the limit named.
#[test]
fn a_deep_huge_image_is_refused_by_its_decoded_bytes() {
    let bytes = header_only_png(16_384, 16_384, png::ColorType::Rgba, png::BitDepth::Sixteen);
    let e = image_io::load_image_bytes(&bytes).unwrap_err();
    assert!(matches!(e, ImageError::TooMuchMemory { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("Rgba16") && text.contains("at most 2.0 GiB"),
        "{text}"
    );
    // The same size at 8 bits RGB is still within the budget (it fails later, as truncated).
    let ok = header_only_png(16_384, 16_384, png::ColorType::Rgb, png::BitDepth::Eight);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("wide.png");
    std::fs::write(&p, &ok).unwrap();
    assert!(image_io::probe_image(&p).is_ok());
}

/// A 3 GB file that is no image is refused from its first bytes, without being read.
#[test]
#[cfg(target_os = "linux")]
fn a_huge_non_image_is_sniffed_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("backup.png");
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(3 << 30).unwrap(); // sparse: no disk used
    drop(f);
    let before = common::status_mib("VmHWM");
    let e = image_io::load_image(&p).unwrap_err();
    assert!(matches!(e, ImageError::UnknownFormat { .. }), "{e}");
    let grew = common::status_mib("VmHWM") - before;
    assert!(
        grew < 256.0,
        "reading the file raised the peak by {grew:.0} MiB"
    );
}

/// Settings live in a small iTXt chunk; one that inflates to 64 MiB (4 GB works the same way)
/// is refused at the cap instead of being inflated on the UI thread.
#[test]
fn a_settings_chunk_bomb_is_capped() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bomb.png");
    // Deflate 256 MiB of spaces piecewise, so the test itself never holds them.
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let piece = vec![b' '; 1 << 20];
    for _ in 0..256 {
        std::io::Write::write_all(&mut z, &piece).unwrap();
    }
    let inflated = z.finish().unwrap();
    let mut body = b"iTXt".to_vec();
    body.extend(image_io::SETTINGS_KEYWORD.as_bytes());
    body.extend([0, 1, 0, 0, 0]); // end of keyword, compressed, deflate, no language, no translation
    body.extend(&inflated);
    let mut bytes = std::fs::read(sample("chelsea.png")).unwrap();
    let iend = 8 + 25; // right after IHDR, where Atelier writes its settings
    let mut chunk = ((body.len() - 4) as u32).to_be_bytes().to_vec();
    chunk.extend(&body);
    chunk.extend(crc32(&body).to_be_bytes());
    bytes.splice(iend..iend, chunk);
    std::fs::write(&p, &bytes).unwrap();
    assert!(
        bytes.len() < 1 << 20,
        "the bomb is small: {} bytes",
        bytes.len()
    );
    let before = common::status_mib("VmHWM");
    let e = image_io::read_png_settings(&p).unwrap_err();
    assert!(e.to_string().contains("1 MiB"), "{e}");
    let grew = common::status_mib("VmHWM") - before;
    assert!(
        grew < 64.0,
        "reading the chunk raised the peak by {grew:.0} MiB"
    );
}

#[test]
fn a_huge_header_is_refused_before_allocating() {
    let bytes = header_only_png(40_000, 40_000, png::ColorType::Rgb, png::BitDepth::Eight);
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
        &["--seed", "5", "--init", "noise", "--force"],
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

fn atelier(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_atelier"))
        .args(args)
        .output()
        .unwrap()
}

/// Item 1 of [8]: the CLI never writes over an input, and replaces an existing file only when
/// told to (`--force`, alias `--overwrite`), as image tools do.
#[test]
fn render_never_overwrites_inputs_or_existing_files_unasked() {
    let weights = common::test_vgg16_file();
    let dir = tempfile::tempdir().unwrap();
    let content = dir.path().join("photo.png");
    std::fs::copy(sample("chelsea.png"), &content).unwrap();
    let before = std::fs::read(&content).unwrap();
    let photo = content.to_str().unwrap();

    let (o, _) = render(dir.path(), &["--out", photo], &content, &weights);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("also an input"), "{}", stderr(&o));
    // Not even with --force, and not through another spelling of the path.
    let dotted = format!("{}/./photo.png", dir.path().display());
    let (o, _) = render(
        dir.path(),
        &["--out", &dotted, "--force"],
        &content,
        &weights,
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("also an input"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&content).unwrap(),
        before,
        "the photo is untouched"
    );

    let (o, out) = render(dir.path(), &[], &content, &weights);
    assert!(o.status.success(), "{}", stderr(&o));
    let first = std::fs::read(&out).unwrap();
    let (o, _) = render(
        dir.path(),
        &["--seed", "9", "--init", "noise"],
        &content,
        &weights,
    );
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("already exists") && e.contains("--force"), "{e}");
    assert_eq!(std::fs::read(&out).unwrap(), first, "kept until --force");
    let (o, _) = render(
        dir.path(),
        &["--seed", "9", "--init", "noise", "--overwrite"],
        &content,
        &weights,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_ne!(std::fs::read(&out).unwrap(), first, "replaced when asked");

    // A preset is a file too.
    let preset = dir.path().join("look.json");
    std::fs::write(&preset, "{}").unwrap();
    let (o, _) = render(
        dir.path(),
        &[
            "--save-preset",
            preset.to_str().unwrap(),
            "--out",
            "/dev/null/x.png",
        ],
        &content,
        &weights,
    );
    assert!(!o.status.success());
    assert_eq!(std::fs::read_to_string(&preset).unwrap(), "{}");
}

/// Item 2 of [8]: when the final save fails (here the output's folder vanished during the
/// run), the result is kept elsewhere and the message says where.
#[test]
fn a_failed_final_save_keeps_the_result_and_says_where() {
    use std::io::BufRead;
    let weights = common::test_vgg16_file();
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("exports");
    std::fs::create_dir(&sub).unwrap();
    let out = sub.join("result.png");
    let mut child = Command::new(env!("CARGO_BIN_EXE_atelier"))
        .args(["render", "--threads", "1", "--size", "48", "--iters", "150"])
        .arg("--content")
        .arg(sample("chelsea.png"))
        .arg("--style")
        .arg(sample("starry_night.jpg"))
        .arg("--weights")
        .arg(&weights)
        .arg("--out")
        .arg(&out)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut log = String::new();
    // "memory: …" is printed once the output was checked and the run is about to start.
    while err.read_line(&mut log).unwrap() > 0 && !log.contains("memory:") {}
    std::fs::remove_dir_all(&sub).unwrap();
    std::io::Read::read_to_string(&mut err, &mut log).unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "{log}");
    let kept = log
        .split("The result is kept at ")
        .nth(1)
        .and_then(|r| r.split(": move it").next())
        .unwrap_or_else(|| panic!("no rescue path in: {log}"));
    let img = image_io::load_image(Path::new(kept)).expect("the kept result is a picture");
    assert_eq!(img.width(), 48);
    let settings = image_io::read_png_settings(Path::new(kept)).unwrap();
    assert!(settings.is_some(), "it keeps its settings too");
    let _ = std::fs::remove_file(kept);
}

/// Item 8 of [8]: `instant` and `losses` estimate their memory and refuse with the numbers.
#[test]
fn instant_and_losses_refuse_runs_that_cannot_fit() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("i.png");
    let o = Command::new(env!("CARGO_BIN_EXE_atelier"))
        .env("ATELIER_MEMORY_LIMIT", "1G")
        .args(["instant", "--builtin", "3", "--size", "8192"])
        .arg("--content")
        .arg(sample("chelsea.png"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("8192 px needs about") && e.contains("available"),
        "{e}"
    );
    assert!(!out.exists());

    let o = Command::new(env!("CARGO_BIN_EXE_atelier"))
        .env("ATELIER_MEMORY_LIMIT", "200M")
        .args(["losses", "--size", "2048"])
        .arg("--content")
        .arg(sample("chelsea.png"))
        .arg("--style")
        .arg(sample("starry_night.jpg"))
        .arg("--weights")
        .arg(common::test_vgg16_file())
        .output()
        .unwrap();
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("needs about") && e.contains("available"), "{e}");
}

/// Item 9 of [8]: every flag has a range, and the message names the flag.
#[test]
fn every_flag_is_range_checked_by_name() {
    let weights = common::test_vgg16_file();
    let dir = tempfile::tempdir().unwrap();
    let content = sample("chelsea.png");
    for (flag, value) in [
        ("--style-scale", "1e6"),
        ("--style-scale", "0"),
        ("--threads", "100000"),
        ("--iters", "0"),
        ("--iters", "99999999"),
        ("--history", "0"),
        ("--pyramid", "20"),
        ("--size", "100000"),
        ("--multiscale-start", "3"),
        ("--tv-weight", "-1"),
        ("--range-weight", "nan"),
        ("--content-weight", "inf"),
    ] {
        let (o, out) = render(dir.path(), &[flag, value], &content, &weights);
        assert!(!o.status.success(), "{flag} {value} was accepted");
        let e = stderr(&o);
        assert!(e.contains(flag), "{flag} {value}: {e}");
        assert!(!out.exists());
    }
    let out = dir.path().join("i.png");
    for (flag, value) in [
        ("--out-size", "0"),
        ("--size", "0"),
        ("--threads", "100000"),
    ] {
        let o = atelier(&[
            "instant",
            "--builtin",
            "3",
            "--content",
            content.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            flag,
            value,
        ]);
        assert!(!o.status.success(), "instant {flag} {value} was accepted");
        let e = stderr(&o);
        assert!(
            e.contains(flag) && !e.contains("disk space"),
            "{flag} {value}: {e}"
        );
        assert!(!out.exists());
    }
}

/// Item 12 of [8]: a NaN or Inf under L-BFGS (not only Adam) stops with an error and keeps the
/// last good image; it is never taken for convergence (exit 0, picture unchanged).
#[test]
fn nan_under_lbfgs_stops_with_an_error_and_keeps_the_last_good_image() {
    let weights = common::test_vgg16_file();
    let dir = tempfile::tempdir().unwrap();
    let (o, out) = render(
        dir.path(),
        &["--style-weight", "3e38", "--iters", "5"],
        &sample("chelsea.png"),
        &weights,
    );
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("NaN or infinite") && e.contains("last good image"),
        "{e}"
    );
    assert!(image_io::load_image(&out).is_ok());
}

/// Item 3 of [8]: a shared picture names its inputs by file name only, and `--settings
/// picture.png` still works where the files sit next to the picture (or in the working
/// directory), from anywhere.
#[test]
fn shared_pictures_name_files_not_folders_and_still_reproduce() {
    let weights = common::test_vgg16_file();
    let project = tempfile::tempdir().unwrap();
    let photos = project.path().join("alice").join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    let content = photos.join("cat.png");
    std::fs::copy(sample("chelsea.png"), &content).unwrap();
    let out_dir = project.path().join("shared");
    std::fs::create_dir(&out_dir).unwrap();
    let (o, _) = render(
        &out_dir,
        &["--out", out_dir.join("pic.png").to_str().unwrap()],
        &content,
        &weights,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let pic = out_dir.join("pic.png");
    let bytes = std::fs::read(&pic).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        !text.contains("alice"),
        "the picture names the user's folders"
    );
    let s = image_io::read_png_settings(&pic).unwrap().unwrap();
    assert_eq!(s.content.as_deref(), Some(Path::new("cat.png")));
    assert_eq!(s.style.as_deref(), Some(Path::new("starry_night.jpg")));
    assert_eq!(
        s.weights_path.as_deref().and_then(Path::file_name),
        weights.file_name()
    );

    // Someone else got the picture and its inputs in one folder, and runs from elsewhere.
    let friend = tempfile::tempdir().unwrap();
    let inbox = friend.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    std::fs::copy(&pic, inbox.join("pic.png")).unwrap();
    std::fs::copy(&content, inbox.join("cat.png")).unwrap();
    std::fs::copy(sample("starry_night.jpg"), inbox.join("starry_night.jpg")).unwrap();
    let again = friend.path().join("again.png");
    let o = Command::new(env!("CARGO_BIN_EXE_atelier"))
        .current_dir(friend.path())
        .args(["render", "--settings", "inbox/pic.png", "--threads", "1"])
        .arg("--weights")
        .arg(&weights)
        .arg("--out")
        .arg(&again)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        image_io::load_image(&again).unwrap(),
        image_io::load_image(&pic).unwrap(),
        "the same settings paint the same picture"
    );
}
