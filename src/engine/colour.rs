//! Keeping the content's colours (Gatys et al. 2016, "Preserving color in neural artistic style
//! transfer"), in the two ways the paper describes:
//!
//! * luminance-only transfer: the optimization runs as usual and the result keeps its luminance
//!   (YIQ Y) while the chroma (I, Q) comes from the content, applied to every frame shown;
//! * colour histogram matching: before the style targets are computed, the style image's pixel
//!   colours are mapped by an affine transform so their mean and covariance equal the content's
//!   (the Cholesky variant, `x' = L_c L_s⁻¹ (x − μ_s) + μ_c`).

use image::{imageops, Rgb, RgbImage};

/// RGB → YIQ (NTSC 1953), on 0..255 values.
fn yiq(p: [f32; 3]) -> [f32; 3] {
    let [r, g, b] = p;
    [
        0.299 * r + 0.587 * g + 0.114 * b,
        0.595_716 * r - 0.274_453 * g - 0.321_263 * b,
        0.211_456 * r - 0.522_591 * g + 0.311_135 * b,
    ]
}

/// YIQ → RGB, the exact inverse of [`yiq`]'s matrix.
fn rgb(p: [f32; 3]) -> [f32; 3] {
    let [y, i, q] = p;
    [
        y + 0.956_299 * i + 0.621_024 * q,
        y - 0.272_122 * i - 0.647_380 * q,
        y - 1.106_989 * i + 1.704_614 * q,
    ]
}

fn to_f32(p: &Rgb<u8>) -> [f32; 3] {
    [f32::from(p[0]), f32::from(p[1]), f32::from(p[2])]
}

fn to_u8(p: [f32; 3]) -> Rgb<u8> {
    Rgb(p.map(|v| v.round().clamp(0.0, 255.0) as u8))
}

/// The YIQ coordinates of every pixel, for tests and diagnostics.
pub fn to_yiq(img: &RgbImage) -> Vec<[f32; 3]> {
    img.pixels().map(|p| yiq(to_f32(p))).collect()
}

/// `result`'s luminance with `content`'s chroma. The content is resized to the result's size
/// first when they differ (a multi-scale stage, a preview of another size).
pub fn keep_luminance(result: &RgbImage, content: &RgbImage) -> RgbImage {
    let (w, h) = result.dimensions();
    let resized;
    let content = if content.dimensions() == (w, h) {
        content
    } else {
        resized = imageops::resize(content, w, h, imageops::FilterType::Triangle);
        &resized
    };
    RgbImage::from_fn(w, h, |x, y| {
        let [ly, _, _] = yiq(to_f32(result.get_pixel(x, y)));
        let [_, ci, cq] = yiq(to_f32(content.get_pixel(x, y)));
        to_u8(rgb([ly, ci, cq]))
    })
}

/// Mean and covariance of an image's RGB values (0..255).
pub fn colour_stats(img: &RgbImage) -> ([f64; 3], [[f64; 3]; 3]) {
    let n = f64::from(img.width()) * f64::from(img.height());
    let mut mean = [0f64; 3];
    for p in img.pixels() {
        for c in 0..3 {
            mean[c] += f64::from(p[c]);
        }
    }
    mean = mean.map(|m| m / n.max(1.0));
    let mut cov = [[0f64; 3]; 3];
    for p in img.pixels() {
        let d = [0, 1, 2].map(|c| f64::from(p[c]) - mean[c]);
        for i in 0..3 {
            for j in 0..3 {
                cov[i][j] += d[i] * d[j];
            }
        }
    }
    for row in &mut cov {
        for v in row.iter_mut() {
            *v /= n.max(1.0);
        }
    }
    (mean, cov)
}

/// Lower-triangular `L` with `L Lᵀ = a + εI`; the ε keeps flat (single-colour) images usable.
#[allow(clippy::needless_range_loop)] // index math reads like the formula
fn cholesky(a: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    const EPS: f64 = 1e-2;
    let mut l = [[0f64; 3]; 3];
    for i in 0..3 {
        for j in 0..=i {
            let mut s = a[i][j] + if i == j { EPS } else { 0.0 };
            for k in 0..j {
                s -= l[i][k] * l[j][k];
            }
            l[i][j] = if i == j {
                s.max(EPS).sqrt()
            } else {
                s / l[j][j]
            };
        }
    }
    l
}

/// Inverse of a lower-triangular matrix with a positive diagonal.
#[allow(clippy::needless_range_loop)]
fn invert_lower(l: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let mut inv = [[0f64; 3]; 3];
    for i in 0..3 {
        inv[i][i] = 1.0 / l[i][i];
        for j in 0..i {
            let mut s = 0.0;
            for k in j..i {
                s += l[i][k] * inv[k][j];
            }
            inv[i][j] = -s / l[i][i];
        }
    }
    inv
}

fn matmul(a: &[[f64; 3]; 3], b: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let mut m = [[0f64; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            m[i][j] = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    m
}

/// `style` recoloured so its colour mean and covariance match `reference`'s (values clamped to
/// 0..255, which is the only reason the match is not exact).
pub fn match_colours(style: &RgbImage, reference: &RgbImage) -> RgbImage {
    let (ms, cs) = colour_stats(style);
    let (mr, cr) = colour_stats(reference);
    let a = matmul(&cholesky(&cr), &invert_lower(&cholesky(&cs)));
    let mut out = style.clone();
    for p in out.pixels_mut() {
        let d = [0, 1, 2].map(|c| f64::from(p[c]) - ms[c]);
        let v = [0, 1, 2].map(|i| (mr[i] + (0..3).map(|k| a[i][k] * d[k]).sum::<f64>()) as f32);
        *p = to_u8(v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yiq_round_trips() {
        for p in [[0.0, 0.0, 0.0], [255.0, 10.0, 99.0], [3.0, 250.0, 128.0]] {
            let back = rgb(yiq(p));
            for c in 0..3 {
                assert!((back[c] - p[c]).abs() < 0.05, "{p:?} → {back:?}");
            }
        }
    }

    #[test]
    fn cholesky_inverse_is_an_inverse() {
        let a = [
            [400.0, 30.0, -20.0],
            [30.0, 900.0, 50.0],
            [-20.0, 50.0, 100.0],
        ];
        let l = cholesky(&a);
        let id = matmul(&l, &invert_lower(&l));
        for (i, row) in id.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((v - want).abs() < 1e-9, "{id:?}");
            }
        }
    }
}
