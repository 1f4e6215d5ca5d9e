//! Each kernel against plain reference code (naive f64 loops or candle's own ops), plus finite
//! differences for every gradient and a small end-to-end network.

use atelier::engine::cpu::{conv3x3, gram, gram_and_mean, max_pool2x2, set_threads, Conv3x3};
use candle_core::{Device, Module, Result, Tensor, Var, D};
use std::sync::{Arc, Mutex};

/// Tests change the global thread count; run them one at a time.
static LOCK: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// uniform in [-1, 1)
    fn f(&mut self) -> f32 {
        ((self.next() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.f() * scale).collect()
    }
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }
}

fn t4(v: Vec<f32>, d: (usize, usize, usize, usize)) -> Tensor {
    Tensor::from_vec(v, d, &Device::Cpu).unwrap()
}

fn flat(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

/// Naive conv3x3 pad 1 in f64: returns (y, Σ|w·x| + |b|) per output, the scale of rounding.
#[allow(clippy::too_many_arguments)]
fn ref_conv(
    x: &[f32],
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    wt: &[f32],
    k: usize,
    b: &[f32],
    relu: bool,
) -> (Vec<f64>, Vec<f64>) {
    let mut y = vec![0f64; n * k * h * w];
    let mut s = vec![0f64; n * k * h * w];
    for img in 0..n {
        for ko in 0..k {
            for i in 0..h {
                for j in 0..w {
                    let mut acc = b[ko] as f64;
                    let mut sc = (b[ko] as f64).abs();
                    for ci in 0..c {
                        for dy in 0..3 {
                            for dx in 0..3 {
                                let (ii, jj) = (i as isize + dy - 1, j as isize + dx - 1);
                                if ii < 0 || jj < 0 || ii >= h as isize || jj >= w as isize {
                                    continue;
                                }
                                let xv =
                                    x[((img * c + ci) * h + ii as usize) * w + jj as usize] as f64;
                                let wv =
                                    wt[((ko * c + ci) * 3 + dy as usize) * 3 + dx as usize] as f64;
                                acc += xv * wv;
                                sc += (xv * wv).abs();
                            }
                        }
                    }
                    let o = ((img * k + ko) * h + i) * w + j;
                    y[o] = if relu { acc.max(0.0) } else { acc };
                    s[o] = sc;
                }
            }
        }
    }
    (y, s)
}

/// Naive input gradient of Σ r ⊙ relu?(conv(x)) in f64: dx = convᵀ(r ⊙ [pre > 0]).
#[allow(clippy::too_many_arguments)]
fn ref_conv_grad(
    x: &[f32],
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    wt: &[f32],
    k: usize,
    b: &[f32],
    relu: bool,
    r: &[f32],
) -> (Vec<f64>, Vec<f64>) {
    let (y, _) = ref_conv(x, n, c, h, w, wt, k, b, false);
    let mut dx = vec![0f64; n * c * h * w];
    let mut s = vec![0f64; n * c * h * w];
    for img in 0..n {
        for ko in 0..k {
            for i in 0..h {
                for j in 0..w {
                    let o = ((img * k + ko) * h + i) * w + j;
                    let g = if relu && y[o] <= 0.0 {
                        0.0
                    } else {
                        r[o] as f64
                    };
                    for ci in 0..c {
                        for dy in 0..3 {
                            for dx_ in 0..3 {
                                let (ii, jj) = (i as isize + dy - 1, j as isize + dx_ - 1);
                                if ii < 0 || jj < 0 || ii >= h as isize || jj >= w as isize {
                                    continue;
                                }
                                let xi = ((img * c + ci) * h + ii as usize) * w + jj as usize;
                                let wv =
                                    wt[((ko * c + ci) * 3 + dy as usize) * 3 + dx_ as usize] as f64;
                                dx[xi] += g * wv;
                                s[xi] += (g * wv).abs();
                            }
                        }
                    }
                }
            }
        }
    }
    (dx, s)
}

fn check_close(got: &[f32], want: &[f64], scale: &[f64], rtol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    // Winograd mixes a tile's inputs before cancelling them, so an output whose own terms are
    // all ~0 still carries rounding from its neighbours: floor the scale at the mean.
    let mean = scale.iter().sum::<f64>() / scale.len().max(1) as f64;
    let mut worst = 0f64;
    for i in 0..got.len() {
        let err = (got[i] as f64 - want[i]).abs() / (scale[i].max(mean) + 1e-6);
        worst = worst.max(err);
        assert!(
            err <= rtol,
            "{what}: element {i}: got {} want {} (scale {}, rel err {err:.2e})",
            got[i],
            want[i],
            scale[i]
        );
    }
    eprintln!("{what}: worst rel err {worst:.2e}");
}

/// Forward and input gradient of conv3x3 against the naive f64 reference.
fn conv_case(rng: &mut Rng, n: usize, c: usize, k: usize, h: usize, w: usize, relu: bool) {
    let x = rng.vec(n * c * h * w, 1.0);
    let wt = rng.vec(k * c * 9, 0.5);
    let b = rng.vec(k, 0.3);
    let r = rng.vec(n * k * h * w, 1.0);
    let conv = Arc::new(
        Conv3x3::new(
            &t4(wt.clone(), (k, c, 3, 3)),
            &Tensor::from_vec(b.clone(), k, &Device::Cpu).unwrap(),
        )
        .unwrap(),
    );
    let xv = Var::from_tensor(&t4(x.clone(), (n, c, h, w))).unwrap();
    let y = conv3x3(xv.as_tensor(), &conv, relu).unwrap();
    assert_eq!(y.dims(), [n, k, h, w]);
    let what = format!("conv n{n} c{c} k{k} {h}x{w} relu={relu}");
    let (yr, ys) = ref_conv(&x, n, c, h, w, &wt, k, &b, relu);
    check_close(&flat(&y), &yr, &ys, 1e-4, &format!("{what} fwd"));
    let loss = (y * t4(r.clone(), (n, k, h, w)))
        .unwrap()
        .sum_all()
        .unwrap();
    let grads = loss.backward().unwrap();
    let dx = grads.get(xv.as_tensor()).unwrap();
    let (dr, ds) = ref_conv_grad(&x, n, c, h, w, &wt, k, &b, relu, &r);
    check_close(&flat(dx), &dr, &ds, 1e-4, &format!("{what} bwd"));
}

#[test]
fn conv_random_small_shapes() {
    let _g = lock();
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for threads in [1, 2] {
        set_threads(threads);
        for case in 0..40 {
            let h = rng.range(1, 13);
            let w = rng.range(1, 13);
            let c = [1, 3, 5, 8, 17][rng.range(0, 4)];
            let k = [1, 3, 7, 8, 9, 16, 19][rng.range(0, 6)];
            let n = if case % 7 == 0 { 2 } else { 1 };
            conv_case(&mut rng, n, c, k, h, w, case % 2 == 0);
        }
    }
}

#[test]
fn conv_real_widths() {
    let _g = lock();
    let mut rng = Rng(0x0bad_cafe_f00d_0001);
    for threads in [1, 2] {
        set_threads(threads);
        conv_case(&mut rng, 1, 3, 64, 9, 14, true);
        conv_case(&mut rng, 1, 64, 64, 13, 10, true);
        conv_case(&mut rng, 1, 64, 128, 7, 21, true);
        conv_case(&mut rng, 1, 128, 128, 6, 5, false);
    }
}

/// Against candle's own conv2d on sizes big enough for several blocks and both parallel paths.
#[test]
fn conv_matches_candle_conv2d() -> Result<()> {
    let _g = lock();
    let mut rng = Rng(0x5eed_5eed_5eed_0002);
    for (c, k, h, w) in [
        (64, 64, 96, 128),
        (128, 256, 24, 36),
        (256, 256, 22, 30),
        (512, 512, 12, 16),
        (3, 64, 50, 77),
        // 2 blocks of tile rows with shared V at 2 threads
        (128, 256, 40, 64),
    ] {
        for threads in [1, 2] {
            set_threads(threads);
            let x = t4(rng.vec(c * h * w, 1.0), (1, c, h, w));
            let wt = t4(rng.vec(k * c * 9, 0.1), (k, c, 3, 3));
            let b = Tensor::from_vec(rng.vec(k, 0.1), k, &Device::Cpu)?;
            let conv = Arc::new(Conv3x3::new(&wt, &b)?);
            let y = conv3x3(&x, &conv, true)?;
            let yr = x
                .conv2d(&wt, 1, 1, 1, 1)?
                .broadcast_add(&b.reshape((1, k, 1, 1))?)?
                .relu()?;
            let d = (&y - &yr)?.abs()?.max_all()?.to_scalar::<f32>()?;
            let m = yr.abs()?.max_all()?.to_scalar::<f32>()?;
            eprintln!(
                "conv vs candle c{c} k{k} {h}x{w} t{threads}: max diff {d:.2e} / max {m:.2e}"
            );
            assert!(d <= 1e-4 * m, "max diff {d} vs max {m}");
        }
    }
    Ok(())
}

/// Central differences of a linear loss: exact up to rounding.
#[test]
fn conv_grad_finite_differences() -> Result<()> {
    let _g = lock();
    set_threads(1);
    let mut rng = Rng(0xfd00_0000_0000_0003);
    let (n, c, k, h, w) = (1, 4, 5, 7, 9);
    let x = rng.vec(n * c * h * w, 1.0);
    let wt = t4(rng.vec(k * c * 9, 0.5), (k, c, 3, 3));
    let b = Tensor::from_vec(rng.vec(k, 0.3), k, &Device::Cpu)?;
    let conv = Arc::new(Conv3x3::new(&wt, &b)?);
    let r = t4(rng.vec(n * k * h * w, 1.0), (n, k, h, w));
    let loss = |xs: &[f32]| -> f64 {
        let y = conv3x3(&t4(xs.to_vec(), (n, c, h, w)), &conv, false).unwrap();
        flat(&y)
            .iter()
            .zip(flat(&r))
            .map(|(a, b)| *a as f64 * b as f64)
            .sum()
    };
    let xv = Var::from_tensor(&t4(x.clone(), (n, c, h, w)))?;
    let y = conv3x3(xv.as_tensor(), &conv, false)?;
    let g = flat(
        y.mul(&r)?
            .sum_all()?
            .backward()?
            .get(xv.as_tensor())
            .unwrap(),
    );
    for i in (0..x.len()).step_by(5) {
        let eps = 0.5f32; // linear in x: any step is exact
        let mut xp = x.clone();
        xp[i] += eps;
        let mut xm = x.clone();
        xm[i] -= eps;
        let fd = (loss(&xp) - loss(&xm)) / (2.0 * eps as f64);
        assert!(
            (fd - g[i] as f64).abs() < 1e-3,
            "x[{i}]: fd {fd} vs grad {}",
            g[i]
        );
    }
    Ok(())
}

fn ref_pool(x: &[f32], planes: usize, h: usize, w: usize) -> (Vec<f32>, Vec<usize>) {
    let (oh, ow) = (h.div_ceil(2), w.div_ceil(2));
    let mut y = vec![0f32; planes * oh * ow];
    let mut arg = vec![0usize; planes * oh * ow];
    for p in 0..planes {
        for i in 0..oh {
            for j in 0..ow {
                let mut best: Option<(f32, usize)> = None;
                for di in 0..2 {
                    for dj in 0..2 {
                        let (ii, jj) = (2 * i + di, 2 * j + dj);
                        if ii < h && jj < w {
                            let idx = (p * h + ii) * w + jj;
                            if best.is_none_or(|(v, _)| x[idx] > v) {
                                best = Some((x[idx], idx));
                            }
                        }
                    }
                }
                let (v, idx) = best.unwrap();
                y[(p * oh + i) * ow + j] = v;
                arg[(p * oh + i) * ow + j] = idx;
            }
        }
    }
    (y, arg)
}

#[test]
fn max_pool_forward_backward_ceil_mode() -> Result<()> {
    let _g = lock();
    let mut rng = Rng(0x9001_0000_0000_0004);
    for threads in [1, 2] {
        set_threads(threads);
        for case in 0..40 {
            let (n, c) = (rng.range(1, 2), rng.range(1, 5));
            // small odd sizes, and rows wide enough for the 16-window SIMD path
            let (h, w) = if case % 3 == 2 {
                (rng.range(1, 9), rng.range(30, 80))
            } else {
                (rng.range(1, 13), rng.range(1, 13))
            };
            // quantized values: plenty of ties, which must go to the first element
            let x: Vec<f32> = (0..n * c * h * w)
                .map(|_| (rng.f() * 4.0).round())
                .collect();
            let xv = Var::from_tensor(&t4(x.clone(), (n, c, h, w)))?;
            let y = max_pool2x2(xv.as_tensor())?;
            let (oh, ow) = (h.div_ceil(2), w.div_ceil(2));
            assert_eq!(y.dims(), [n, c, oh, ow]);
            let (yr, arg) = ref_pool(&x, n * c, h, w);
            assert_eq!(flat(&y), yr);
            let r = rng.vec(n * c * oh * ow, 1.0);
            let g = y
                .mul(&t4(r.clone(), (n, c, oh, ow)))?
                .sum_all()?
                .backward()?;
            let dx = flat(g.get(xv.as_tensor()).unwrap());
            let mut want = vec![0f32; x.len()];
            for (o, &idx) in arg.iter().enumerate() {
                want[idx] = r[o];
            }
            assert_eq!(dx, want, "pool grad {n}x{c}x{h}x{w}");
        }
    }
    Ok(())
}

/// The trap in candle 0.11: its max_pool2d gives 0.25 at the max. Ours gives 1.
#[test]
fn max_pool_grad_is_one_at_max() -> Result<()> {
    let _g = lock();
    set_threads(1);
    let x = Var::from_tensor(&t4(vec![1., 5., 2., 3.], (1, 1, 2, 2)))?;
    let g = max_pool2x2(x.as_tensor())?.sum_all()?.backward()?;
    assert_eq!(flat(g.get(x.as_tensor()).unwrap()), [0., 1., 0., 0.]);
    // ties: the first element in row-major order
    let x = Var::from_tensor(&t4(vec![7., 7., 7., 7., 1., 2.], (1, 1, 3, 2)))?;
    let g = max_pool2x2(x.as_tensor())?.sum_all()?.backward()?;
    assert_eq!(
        flat(g.get(x.as_tensor()).unwrap()),
        [1., 0., 0., 0., 0., 1.]
    );
    Ok(())
}

#[test]
fn max_pool_grad_finite_differences() -> Result<()> {
    let _g = lock();
    set_threads(1);
    let (h, w) = (5usize, 7usize);
    // distinct values 0.1 apart, so a 0.01 step never changes the argmax
    let mut x: Vec<f32> = (0..h * w).map(|i| i as f32 * 0.1).collect();
    let mut rng = Rng(77);
    for i in (1..x.len()).rev() {
        x.swap(i, rng.range(0, i));
    }
    let r = rng.vec(h.div_ceil(2) * w.div_ceil(2), 1.0);
    let rt = t4(r.clone(), (1, 1, h.div_ceil(2), w.div_ceil(2)));
    let loss = |xs: &[f32]| -> f64 {
        let y = max_pool2x2(&t4(xs.to_vec(), (1, 1, h, w))).unwrap();
        flat(&y)
            .iter()
            .zip(&r)
            .map(|(a, b)| *a as f64 * *b as f64)
            .sum()
    };
    let xv = Var::from_tensor(&t4(x.clone(), (1, 1, h, w)))?;
    let g = flat(
        max_pool2x2(xv.as_tensor())?
            .mul(&rt)?
            .sum_all()?
            .backward()?
            .get(xv.as_tensor())
            .unwrap(),
    );
    for i in 0..x.len() {
        let eps = 0.01f32;
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp[i] += eps;
        xm[i] -= eps;
        let fd = (loss(&xp) - loss(&xm)) / (2.0 * eps as f64);
        assert!(
            (fd - g[i] as f64).abs() < 1e-3,
            "x[{i}]: fd {fd} vs grad {}",
            g[i]
        );
    }
    Ok(())
}

#[test]
fn gram_matches_matmul_and_gradient() -> Result<()> {
    let _g = lock();
    let mut rng = Rng(0x6a4a_0000_0000_0005);
    for threads in [1, 2] {
        set_threads(threads);
        // The last two are cut into pixel chunks with a ragged last chunk (and at 2 threads
        // the 130 channels also into row blocks).
        for (c, h, w) in [
            (1, 1, 1),
            (3, 5, 7),
            (64, 9, 13),
            (130, 6, 11),
            (7, 41, 53),
            (130, 23, 47),
        ] {
            let x = t4(rng.vec(c * h * w, 1.0), (1, c, h, w));
            let xv = Var::from_tensor(&x)?;
            let g = gram(xv.as_tensor())?;
            let f = x.reshape((c, h * w))?;
            let norm = (c * h * w) as f64;
            let gr = (f.matmul(&f.t()?)? / norm)?;
            let d = (&g - &gr)?.abs()?.max_all()?.to_scalar::<f32>()?;
            assert!(d < 1e-5, "gram c{c}: diff {d}");
            // gradient of Σ R ⊙ G is (R + Rᵀ) F / (C·H·W)
            let r = Tensor::from_vec(rng.vec(c * c, 1.0), (c, c), &Device::Cpu)?;
            let dx = g.mul(&r)?.sum_all()?.backward()?;
            let dx = dx.get(xv.as_tensor()).unwrap();
            let want = ((&r + &r.t()?)?.matmul(&f)? / norm)?.reshape((1, c, h, w))?;
            let d = (dx - want)?.abs()?.max_all()?.to_scalar::<f32>()?;
            assert!(d < 1e-5, "gram grad c{c}: diff {d}");
        }
    }
    Ok(())
}

/// [12]'s moments op: the Gram matrix beside the channel means, and one backward for both
/// that equals the two gradients added (the Gram's and the mean's broadcast).
#[test]
fn gram_and_mean_match_their_parts_and_gradients() -> Result<()> {
    let _g = lock();
    let mut rng = Rng(0x6a4a_0000_0000_0015);
    for threads in [1, 2] {
        set_threads(threads);
        for (c, h, w) in [(1, 1, 1), (3, 5, 7), (64, 9, 13), (130, 23, 47)] {
            let x = t4(rng.vec(c * h * w, 1.0), (1, c, h, w));
            let xv = Var::from_tensor(&x)?;
            let both = gram_and_mean(xv.as_tensor())?;
            assert_eq!(both.dims(), [c, c + 1]);
            let f = x.reshape((c, h * w))?;
            let (cn, hw) = ((c * h * w) as f64, (h * w) as f64);
            let want_g = (f.matmul(&f.t()?)? / cn)?;
            let want_m = (f.sum_keepdim(1)? / hw)?;
            let want = Tensor::cat(&[&want_g, &want_m], 1)?;
            let d = (&both - &want)?.abs()?.max_all()?.to_scalar::<f32>()?;
            assert!(d < 1e-5, "moments c{c}: diff {d}");
            // Σ R ⊙ [G | μ]: (R_G + R_Gᵀ) F / (C·H·W) + r_μ 1ᵀ / (H·W)
            let r = Tensor::from_vec(rng.vec(c * (c + 1), 1.0), (c, c + 1), &Device::Cpu)?;
            let dx = both.mul(&r)?.sum_all()?.backward()?;
            let dx = dx.get(xv.as_tensor()).unwrap();
            let rg = r.narrow(1, 0, c)?.contiguous()?;
            let rm = r.narrow(1, c, 1)?;
            let want = (((&rg + &rg.t()?)?.matmul(&f)? / cn)?.broadcast_add(&(rm / hw)?)?)
                .reshape((1, c, h, w))?;
            let d = (dx - want)?.abs()?.max_all()?.to_scalar::<f32>()?;
            assert!(d < 1e-5, "moments grad c{c}: diff {d}");
        }
    }
    Ok(())
}

#[test]
fn gram_grad_finite_differences() -> Result<()> {
    let _g = lock();
    set_threads(1);
    let mut rng = Rng(0x6a4a_0000_0000_0006);
    let (c, h, w) = (3, 2, 3);
    let x = rng.vec(c * h * w, 1.0);
    let r = Tensor::from_vec(rng.vec(c * c, 1.0), (c, c), &Device::Cpu)?;
    let rv = flat(&r);
    let loss = |xs: &[f32]| -> f64 {
        let g = gram(&t4(xs.to_vec(), (1, c, h, w))).unwrap();
        flat(&g)
            .iter()
            .zip(&rv)
            .map(|(a, b)| *a as f64 * *b as f64)
            .sum()
    };
    let xv = Var::from_tensor(&t4(x.clone(), (1, c, h, w)))?;
    let g = flat(
        gram(xv.as_tensor())?
            .mul(&r)?
            .sum_all()?
            .backward()?
            .get(xv.as_tensor())
            .unwrap(),
    );
    for i in 0..x.len() {
        let eps = 1e-2f32; // quadratic: central differences are exact up to rounding
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp[i] += eps;
        xm[i] -= eps;
        let fd = (loss(&xp) - loss(&xm)) / (2.0 * eps as f64);
        assert!(
            (fd - g[i] as f64).abs() < 1e-4,
            "x[{i}]: fd {fd} vs grad {}",
            g[i]
        );
    }
    Ok(())
}

/// A ceil-mode 2×2 max pool from candle primitives (pad with -inf, reshape, max): its gradient
/// goes to the maximum (ties would be shared, but random data has none).
fn stock_pool(x: &Tensor) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    let (oh, ow) = (h.div_ceil(2), w.div_ceil(2));
    let mut x = x.clone();
    if h % 2 == 1 {
        let pad = Tensor::full(f32::NEG_INFINITY, (n, c, 1, w), x.device())?;
        x = Tensor::cat(&[&x, &pad], 2)?;
    }
    if w % 2 == 1 {
        let pad = Tensor::full(f32::NEG_INFINITY, (n, c, 2 * oh, 1), x.device())?;
        x = Tensor::cat(&[&x, &pad], 3)?;
    }
    x.reshape((n, c, oh, 2, ow, 2))?.max(D::Minus1)?.max(3)
}

#[test]
fn stock_pool_is_right() -> Result<()> {
    let _g = lock();
    let mut rng = Rng(0x5700_0000_0000_0007);
    let (n, c, h, w) = (1, 3, 7, 9);
    let x = rng.vec(n * c * h * w, 1.0);
    let xv = Var::from_tensor(&t4(x.clone(), (n, c, h, w)))?;
    let y = stock_pool(xv.as_tensor())?;
    let (yr, arg) = ref_pool(&x, n * c, h, w);
    assert_eq!(flat(&y), yr);
    let dx = flat(y.sum_all()?.backward()?.get(xv.as_tensor()).unwrap());
    let mut want = vec![0f32; x.len()];
    for &i in &arg {
        want[i] = 1.0;
    }
    assert_eq!(dx, want);
    Ok(())
}

/// conv(3→8)+relu → pool → conv(8→16)+relu → pool → conv(16→6)+relu, loss = sum: the input
/// gradient through our ops vs the same network from candle's conv2d/relu and `stock_pool`.
#[test]
fn end_to_end_mini_network() -> Result<()> {
    let _g = lock();
    let mut rng = Rng(0xe2e0_0000_0000_0008);
    let dev = Device::Cpu;
    let chans = [(3, 8), (8, 16), (16, 6)];
    let mut layers = vec![];
    for &(c, k) in &chans {
        let w = t4(rng.vec(k * c * 9, 0.4), (k, c, 3, 3));
        let b = Tensor::from_vec(rng.vec(k, 0.2), k, &dev)?;
        layers.push((w, b));
    }
    for (threads, h, w) in [(1, 21, 30), (2, 21, 30), (1, 16, 16), (2, 33, 19)] {
        set_threads(threads);
        let x = t4(rng.vec(3 * h * w, 2.0), (1, 3, h, w));
        // ours
        let xv = Var::from_tensor(&x)?;
        let mut y = xv.as_tensor().clone();
        for (i, (wt, b)) in layers.iter().enumerate() {
            y = conv3x3(&y, &Arc::new(Conv3x3::new(wt, b)?), true)?;
            if i < 2 {
                y = max_pool2x2(&y)?;
            }
        }
        let g1 = y.sum_all()?.backward()?;
        let dx1 = g1.get(xv.as_tensor()).unwrap();
        // stock
        let xs = Var::from_tensor(&x)?;
        let mut z = xs.as_tensor().clone();
        for (i, (wt, b)) in layers.iter().enumerate() {
            let k = b.dims1()?;
            z = z
                .conv2d(wt, 1, 1, 1, 1)?
                .broadcast_add(&b.reshape((1, k, 1, 1))?)?;
            z = candle_core::Module::forward(&Relu, &z)?;
            if i < 2 {
                z = stock_pool(&z)?;
            }
        }
        let g2 = z.sum_all()?.backward()?;
        let dx2 = g2.get(xs.as_tensor()).unwrap();
        let dy = (&y - &z)?.abs()?.max_all()?.to_scalar::<f32>()?;
        let my = z.abs()?.max_all()?.to_scalar::<f32>()?;
        let dd = (dx1 - dx2)?.abs()?.max_all()?.to_scalar::<f32>()?;
        let md = dx2.abs()?.max_all()?.to_scalar::<f32>()?;
        eprintln!(
            "e2e {h}x{w} t{threads}: fwd diff {dy:.2e}/{my:.2e}, grad diff {dd:.2e}/{md:.2e}"
        );
        assert!(my > 0.0 && md > 0.0);
        assert!(dy <= 1e-4 * my, "forward differs: {dy} vs {my}");
        assert!(dd <= 1e-4 * md, "gradient differs: {dd} vs {md}");
    }
    Ok(())
}

struct Relu;
impl Module for Relu {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.relu()
    }
}

#[test]
fn non_contiguous_input_is_accepted() -> Result<()> {
    let _g = lock();
    set_threads(1);
    let mut rng = Rng(0xc0c0_0000_0000_0009);
    let x = t4(rng.vec(3 * 5 * 6, 1.0), (1, 3, 6, 5)).transpose(2, 3)?; // [1,3,5,6], strided
    assert!(!x.is_contiguous());
    let w = t4(rng.vec(4 * 3 * 9, 0.5), (4, 3, 3, 3));
    let b = Tensor::from_vec(rng.vec(4, 0.1), 4, &Device::Cpu)?;
    let conv = Arc::new(Conv3x3::new(&w, &b)?);
    let y = conv3x3(&x, &conv, false)?;
    let yr = conv3x3(&x.contiguous()?, &conv, false)?;
    assert_eq!(flat(&y), flat(&yr));
    assert_eq!(
        flat(&max_pool2x2(&x)?),
        flat(&max_pool2x2(&x.contiguous()?)?)
    );
    Ok(())
}

/// The AVX2 and portable code paths (normally unused on an AVX-512 machine).
/// `ATELIER_CPU_ISA` caps the instruction set the kernels pick.
#[test]
fn conv_fallback_isas() {
    let _g = lock();
    let mut rng = Rng(0x15a0_0000_0000_000a);
    for isa in ["avx2", "portable"] {
        std::env::set_var("ATELIER_CPU_ISA", isa);
        set_threads(1);
        conv_case(&mut rng, 1, 5, 9, 11, 13, true);
        conv_case(&mut rng, 1, 64, 64, 9, 37, false);
        set_threads(2);
        conv_case(&mut rng, 2, 17, 19, 6, 70, true);
        // max pool's scalar rows (the AVX-512 rows are covered by the other pool tests)
        let (h, w) = (7usize, 41usize);
        let x: Vec<f32> = (0..2 * h * w).map(|_| (rng.f() * 3.0).round()).collect();
        let xv = Var::from_tensor(&t4(x.clone(), (1, 2, h, w))).unwrap();
        let y = max_pool2x2(xv.as_tensor()).unwrap();
        let (yr, arg) = ref_pool(&x, 2, h, w);
        assert_eq!(flat(&y), yr);
        let dx = flat(
            y.sum_all()
                .unwrap()
                .backward()
                .unwrap()
                .get(xv.as_tensor())
                .unwrap(),
        );
        let mut want = vec![0f32; x.len()];
        for &i in &arg {
            want[i] = 1.0;
        }
        assert_eq!(dx, want, "{isa} pool grad");
    }
    std::env::remove_var("ATELIER_CPU_ISA");
}
