//! Lays images out on a grid for docs/gallery.md: `contact_sheet OUT COLS CELL FILE…`.
//!
//! Cells are `CELL` pixels high, each image scaled to fit (aspect kept) and centred on white;
//! `-` leaves a cell empty (the corner above the content column). Writes JPEG or PNG by extension.

use anyhow::{bail, Context, Result};
use image::{imageops, Rgb, RgbImage};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        bail!("usage: contact_sheet OUT.jpg COLS CELL_HEIGHT FILE|- …");
    }
    let out = &args[0];
    let cols: u32 = args[1].parse().context("COLS must be a number")?;
    let cell_h: u32 = args[2].parse().context("CELL_HEIGHT must be a number")?;
    let files = &args[3..];
    if cols == 0 || cell_h == 0 {
        bail!("COLS and CELL_HEIGHT must be positive");
    }
    let cell_w = cell_h * 4 / 3;
    let gap = 6;
    let rows = (files.len() as u32).div_ceil(cols);
    let mut sheet = RgbImage::from_pixel(
        cols * (cell_w + gap) + gap,
        rows * (cell_h + gap) + gap,
        Rgb([255, 255, 255]),
    );
    for (i, f) in files.iter().enumerate() {
        if f == "-" {
            continue;
        }
        let img = atelier::image_io::load_image(std::path::Path::new(f))
            .with_context(|| format!("reading {f}"))?;
        let (w, h) = img.dimensions();
        let s = (f64::from(cell_w) / f64::from(w)).min(f64::from(cell_h) / f64::from(h));
        let (tw, th) = (
            ((f64::from(w) * s).round() as u32).max(1),
            ((f64::from(h) * s).round() as u32).max(1),
        );
        let thumb = imageops::resize(&img, tw, th, imageops::FilterType::Lanczos3);
        let (c, r) = (i as u32 % cols, i as u32 / cols);
        let x = gap + c * (cell_w + gap) + (cell_w - tw) / 2;
        let y = gap + r * (cell_h + gap) + (cell_h - th) / 2;
        imageops::replace(&mut sheet, &thumb, i64::from(x), i64::from(y));
    }
    sheet.save(out).with_context(|| format!("writing {out}"))?;
    Ok(())
}
