//! Regenerates `assets/icon.png` and the downscaled sample images.
//!
//! `cargo run --example make_assets -- /path/to/shared/images`
//! Only public-domain/CC0 images are copied (see assets/LICENSES.md).

use image::{imageops::FilterType, Rgba, RgbaImage};
use std::path::{Path, PathBuf};

const SAMPLES: &[&str] = &[
    "starry_night.jpg",
    "the_scream.jpg",
    "shipwreck.jpg",
    "woman-with-hat-matisse.jpg",
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
];
const MAX_SIDE: u32 = 1024;

fn main() -> anyhow::Result<()> {
    let assets = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets");
    std::fs::create_dir_all(assets.join("samples"))?;
    make_icon(256).save(assets.join("icon.png"))?;
    println!("wrote {}", assets.join("icon.png").display());
    if let Some(src) = std::env::args_os().nth(1) {
        for name in SAMPLES {
            copy_sample(
                &Path::new(&src).join(name),
                &assets.join("samples").join(name),
            )?;
        }
    }
    Ok(())
}

fn copy_sample(from: &Path, to: &Path) -> anyhow::Result<()> {
    let img = image::open(from)?;
    if img.width().max(img.height()) <= MAX_SIDE {
        std::fs::copy(from, to)?;
    } else {
        let small = img
            .resize(MAX_SIDE, MAX_SIDE, FilterType::Lanczos3)
            .to_rgb8();
        let file = std::io::BufWriter::new(std::fs::File::create(to)?);
        image::codecs::jpeg::JpegEncoder::new_with_quality(file, 90).encode_image(&small)?;
    }
    println!("wrote {}", to.display());
    Ok(())
}

// ----- icon: a wooden palette with paint dabs and a loaded brush ---------------------------------

type Rgb = [f32; 3];

fn hex(c: u32) -> Rgb {
    [
        ((c >> 16) & 255) as f32 / 255.0,
        ((c >> 8) & 255) as f32 / 255.0,
        (c & 255) as f32 / 255.0,
    ]
}

fn circle(p: (f32, f32), c: (f32, f32), r: f32) -> f32 {
    ((p.0 - c.0).powi(2) + (p.1 - c.1).powi(2)).sqrt() - r
}

/// Distance to a segment with radius growing linearly from `ra` (at a) to `rb` (at b).
fn capsule(p: (f32, f32), a: (f32, f32), b: (f32, f32), ra: f32, rb: f32) -> f32 {
    let (pax, pay) = (p.0 - a.0, p.1 - a.1);
    let (bax, bay) = (b.0 - a.0, b.1 - a.1);
    let h = ((pax * bax + pay * bay) / (bax * bax + bay * bay)).clamp(0.0, 1.0);
    ((pax - bax * h).powi(2) + (pay - bay * h).powi(2)).sqrt() - (ra + (rb - ra) * h)
}

/// Rotated ellipse, approximate distance (good enough for anti-aliased edges).
fn ellipse(p: (f32, f32), c: (f32, f32), rx: f32, ry: f32, angle: f32) -> f32 {
    let (s, co) = angle.sin_cos();
    let (dx, dy) = (p.0 - c.0, p.1 - c.1);
    let (x, y) = (dx * co + dy * s, -dx * s + dy * co);
    let k = ((x / rx).powi(2) + (y / ry).powi(2)).sqrt();
    (k - 1.0) * rx.min(ry)
}

fn palette(p: (f32, f32)) -> f32 {
    let body = ellipse(p, (124.0, 132.0), 110.0, 88.0, -0.35);
    let thumb = circle(p, (84.0, 176.0), 17.0);
    let notch = circle(p, (34.0, 196.0), 34.0);
    body.max(-thumb).max(-notch)
}

fn over(dst: &mut [f32; 4], src: Rgb, alpha: f32) {
    let a = alpha.clamp(0.0, 1.0);
    let out_a = a + dst[3] * (1.0 - a);
    if out_a > 0.0 {
        for i in 0..3 {
            dst[i] = (src[i] * a + dst[i] * dst[3] * (1.0 - a)) / out_a;
        }
    }
    dst[3] = out_a;
}

/// Coverage of a shape from its distance at one sub-sample.
fn cov(d: f32) -> f32 {
    (0.5 - d).clamp(0.0, 1.0)
}

fn shade(p: (f32, f32)) -> [f32; 4] {
    let mut px = [0.0f32; 4];
    // Soft shadow under the palette.
    let sh = palette((p.0 - 5.0, p.1 - 7.0));
    over(
        &mut px,
        [0.0; 3],
        0.35 * (1.0 - (sh / 10.0 + 0.5)).clamp(0.0, 1.0),
    );
    // Palette: wood with a darker rim and a subtle top-left highlight.
    let d = palette(p);
    let light = ((240.0 - p.0 - p.1) / 400.0).clamp(-0.15, 0.2);
    let wood = hex(0xC8955A).map(|c| (c + light).clamp(0.0, 1.0));
    over(&mut px, hex(0x7A5230), cov(d));
    over(&mut px, wood, cov(d + 5.0));
    // Paint dabs along the rim.
    for (c, r, col) in [
        ((70.0, 100.0), 17.0, 0x2B4C9B),
        ((112.0, 70.0), 16.0, 0xF2C230),
        ((160.0, 66.0), 16.0, 0xD6452F),
        ((202.0, 86.0), 15.0, 0x3E9B5A),
        ((214.0, 132.0), 14.0, 0xF4F1E8),
    ] {
        over(&mut px, hex(col), cov(circle(p, c, r)));
        // A glint so the dabs read as wet paint.
        over(
            &mut px,
            [1.0; 3],
            0.55 * cov(circle(p, (c.0 - r * 0.35, c.1 - r * 0.35), r * 0.25)),
        );
    }
    // Brush lying across: blue-loaded bristles, silver ferrule, dark handle.
    let tip = (112.0, 150.0);
    let fer_a = (140.0, 170.0);
    let fer_b = (160.0, 184.0);
    let end = (236.0, 238.0);
    over(
        &mut px,
        [0.0; 3],
        0.3 * cov(capsule((p.0 - 3.0, p.1 - 4.0), fer_b, end, 8.0, 6.0)),
    );
    over(
        &mut px,
        hex(0x5A2E1E),
        cov(capsule(p, fer_b, end, 8.0, 6.0)),
    );
    over(
        &mut px,
        hex(0x8C4A30),
        cov(capsule(p, fer_b, end, 8.0, 6.0) + 3.0),
    );
    over(
        &mut px,
        hex(0xB8BCC4),
        cov(capsule(p, fer_a, fer_b, 9.0, 8.5)),
    );
    over(
        &mut px,
        hex(0xE6E8EC),
        0.6 * cov(capsule((p.0 + 2.0, p.1 - 3.0), fer_a, fer_b, 3.0, 3.0)),
    );
    over(
        &mut px,
        hex(0x1F3C86),
        cov(capsule(p, tip, fer_a, 2.0, 10.0)),
    );
    over(
        &mut px,
        hex(0x4F78D0),
        0.8 * cov(capsule((p.0 + 1.5, p.1 - 2.0), tip, fer_a, 1.0, 4.0)),
    );
    px
}

fn make_icon(size: u32) -> RgbaImage {
    const SS: u32 = 4;
    let scale = 256.0 / size as f32;
    RgbaImage::from_fn(size, size, |x, y| {
        let mut acc = [0.0f32; 4];
        for sy in 0..SS {
            for sx in 0..SS {
                let p = (
                    (x as f32 + (sx as f32 + 0.5) / SS as f32) * scale,
                    (y as f32 + (sy as f32 + 0.5) / SS as f32) * scale,
                );
                let s = shade(p);
                // Average premultiplied colour so edges don't darken.
                for i in 0..3 {
                    acc[i] += s[i] * s[3];
                }
                acc[3] += s[3];
            }
        }
        let n = (SS * SS) as f32;
        let a = acc[3] / n;
        let rgb = |i: usize| {
            if acc[3] > 0.0 {
                (acc[i] / acc[3] * 255.0).round() as u8
            } else {
                0
            }
        };
        Rgba([rgb(0), rgb(1), rgb(2), (a * 255.0).round() as u8])
    })
}
