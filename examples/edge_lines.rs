//! Measures straight lines along a picture's border: `edge_lines FILE…`, one JSON line each.
//!
//! For every pair of neighbouring rows, the mean |luma difference| over the whole width (and
//! likewise for columns). A line along the border shows as a spike in the first or last 12
//! rows (columns); content edges don't, since they rarely span the whole picture. Each spike
//! is divided by the median over the interior, and the interior's 99th percentile is given
//! beside it: an edge value under the interior's p99 means no border line stands out.

use anyhow::{bail, Context, Result};

const EDGE: usize = 12;
const INNER: usize = 16;

fn main() -> Result<()> {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        bail!("usage: edge_lines FILE…");
    }
    for f in &files {
        let img = image::open(f).with_context(|| format!("cannot read {f}"))?;
        let luma = img.to_luma32f();
        let (w, h) = (luma.width() as usize, luma.height() as usize);
        if w < 2 * INNER + 2 || h < 2 * INNER + 2 {
            bail!(
                "{f}: {w}×{h} is too small (at least {0}×{0})",
                2 * INNER + 2
            );
        }
        let px = |x: usize, y: usize| luma.get_pixel(x as u32, y as u32).0[0];
        let rows: Vec<f32> = (0..h - 1)
            .map(|y| (0..w).map(|x| (px(x, y + 1) - px(x, y)).abs()).sum::<f32>() / w as f32)
            .collect();
        let cols: Vec<f32> = (0..w - 1)
            .map(|x| (0..h).map(|y| (px(x + 1, y) - px(x, y)).abs()).sum::<f32>() / h as f32)
            .collect();
        let (re, rp) = spikes(&rows);
        let (ce, cp) = spikes(&cols);
        println!(
            "{{\"file\":{f:?},\"rows_edge\":{re:.2},\"rows_p99\":{rp:.2},\"cols_edge\":{ce:.2},\"cols_p99\":{cp:.2}}}"
        );
    }
    Ok(())
}

/// (largest value near either end, the interior's 99th percentile), both over the interior median.
fn spikes(d: &[f32]) -> (f32, f32) {
    let mut inner = d[INNER..d.len() - INNER].to_vec();
    inner.sort_by(f32::total_cmp);
    let median = inner[inner.len() / 2].max(1e-6);
    let p99 = inner[(inner.len() - 1) * 99 / 100];
    let edge = d[..EDGE]
        .iter()
        .chain(&d[d.len() - EDGE..])
        .fold(0f32, |a, &v| a.max(v));
    (edge / median, p99 / median)
}
