//! Gram matrix `G = F Fᵀ / (C·H·W)` as GEMMs split over our threads.
//!
//! The GEMMs go to the `gemm` crate single-threaded (its parallel mode uses rayon, which spins).
//! Work is split along the long pixel axis, never by rows of `G`: every row block would re-pack
//! all of `F`, and with 2 threads on a busy machine (the helper sharing the caller's core) that
//! extra packing made an L-BFGS iteration ~8 % slower than at 1 thread. Pixel chunks pack only
//! their own slice: the forward sums per-chunk partial Grams, the backward writes disjoint
//! column blocks of `dF`.

use super::threads::{parallel_for, threads, SyncPtr};
use super::{cpu_slice, four_dims};
use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};

/// Fewest pixels per chunk and rows per block: below this a GEMM is too small to be worth a
/// work item.
const MIN_CHUNK: usize = 512;
const MIN_ROWS: usize = 64;
/// Most pixel chunks. Fixed, not per thread: the forward sums per-chunk partial Grams, so the
/// chunking sets the rounding, and a picture must not change with the thread count.
const MAX_CHUNKS: usize = 8;

/// How to cut `c` rows × `hw` pixels into work items: (row blocks, pixel chunks), each of
/// (block size, count). One item per thread is too coarse (a preempted helper holds up the
/// caller for its whole share), so aim for four per thread: up to [`MAX_CHUNKS`] pixel chunks,
/// then row blocks, which change no sum and so alone follow the thread count.
struct Split {
    c: usize,
    hw: usize,
    rows: usize,
    row_blocks: usize,
    pixels: usize,
    chunks: usize,
}

impl Split {
    fn new(c: usize, hw: usize) -> Self {
        let t = threads();
        let chunks = (hw / MIN_CHUNK).clamp(1, MAX_CHUNKS);
        let row_blocks = if t == 1 {
            1
        } else {
            (4 * t / chunks).clamp(1, (c / MIN_ROWS).max(1))
        };
        let rows = c.div_ceil(row_blocks).max(1);
        let pixels = hw.div_ceil(chunks).max(1);
        Split {
            c,
            hw,
            rows,
            row_blocks: c.div_ceil(rows),
            pixels,
            chunks: hw.div_ceil(pixels),
        }
    }

    fn items(&self) -> usize {
        self.row_blocks * self.chunks
    }

    /// Pixel chunk, rows and pixels of item `i`.
    fn item(&self, i: usize) -> (usize, std::ops::Range<usize>, std::ops::Range<usize>) {
        let (r, p) = (i % self.row_blocks, i / self.row_blocks);
        let r0 = r * self.rows;
        let p0 = p * self.pixels;
        (
            p,
            r0..(r0 + self.rows).min(self.c),
            p0..(p0 + self.pixels).min(self.hw),
        )
    }
}

/// `dst = beta·lhs·rhs` (overwritten, never read) for one block; strides are (row, column) in
/// elements.
///
/// # Safety
/// Every pointer/stride pair must describe an in-bounds `m×k`, `k×n` or `m×n` view, and `dst`
/// must not be written by anyone else meanwhile.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_block(
    (m, n, k): (usize, usize, usize),
    dst: *mut f32,
    dst_rs: isize,
    (lhs, lhs_rs, lhs_cs): (*const f32, isize, isize),
    (rhs, rhs_rs, rhs_cs): (*const f32, isize, isize),
    beta: f32,
) {
    gemm::gemm(
        m,
        n,
        k,
        dst,
        1,
        dst_rs,
        false,
        lhs,
        lhs_cs,
        lhs_rs,
        rhs,
        rhs_cs,
        rhs_rs,
        0.0,
        beta,
        false,
        false,
        false,
        gemm::Parallelism::None,
    );
}

/// `G = scale · F Fᵀ` for `F` [c × hw], row-major.
fn gram_forward(f: &[f32], c: usize, hw: usize, scale: f32) -> Vec<f32> {
    let split = Split::new(c, hw);
    let mut partial = vec![0f32; split.chunks.max(1) * c * c];
    let pp = SyncPtr(partial.as_mut_ptr());
    parallel_for(split.items(), |i| {
        let (p, rows, px) = split.item(i);
        // SAFETY: rows `rows` of partial Gram `p` are written by item i only; F[rows, px]
        // and F[:, px]ᵀ are in-bounds views of f (c rows of stride hw).
        unsafe {
            gemm_block(
                (rows.len(), c, px.len()),
                pp.ptr().add(p * c * c + rows.start * c),
                c as isize,
                (f[rows.start * hw + px.start..].as_ptr(), hw as isize, 1),
                (f[px.start..].as_ptr(), 1, hw as isize),
                scale,
            );
        }
    });
    if c > 0 {
        let (g, rest) = partial.split_at_mut(c * c);
        for part in rest.chunks_exact(c * c) {
            for (a, b) in g.iter_mut().zip(part) {
                *a += b;
            }
        }
    }
    partial.truncate(c * c);
    partial
}

/// `dF = scale · S F` for `S` [c × c] and `F` [c × hw], each item one block of `dF`.
fn gram_backward(sym: &[f32], f: &[f32], c: usize, hw: usize, scale: f32) -> Vec<f32> {
    let split = Split::new(c, hw);
    let mut df = vec![0f32; c * hw];
    let dp = SyncPtr(df.as_mut_ptr());
    parallel_for(split.items(), |i| {
        let (_, rows, px) = split.item(i);
        // SAFETY: block (rows, px) of dF is written by item i only; S[rows, :] and F[:, px]
        // are in-bounds views.
        unsafe {
            gemm_block(
                (rows.len(), px.len(), c),
                dp.ptr().add(rows.start * hw + px.start),
                hw as isize,
                (sym[rows.start * c..].as_ptr(), c as isize, 1),
                (f[px.start..].as_ptr(), hw as isize, 1),
                scale,
            );
        }
    });
    df
}

/// `dF = (dG + dGᵀ) F / (C·H·W)` for the `c × c` gradient `dG` held in rows of `stride`.
fn symmetric_backward(dg: &[f32], stride: usize, f: &[f32], c: usize, hw: usize) -> Vec<f32> {
    let mut sym = vec![0f32; c * c];
    for i in 0..c {
        for j in 0..c {
            sym[i * c + j] = dg[i * stride + j] + dg[j * stride + i];
        }
    }
    gram_backward(&sym, f, c, hw, 1.0 / (c * hw) as f32)
}

/// The second moments of `F` [1,C,H,W]: the Gram matrix `F Fᵀ / (C·H·W)` `[C, C]`, and with
/// `mean` the channel means beside it as one more column, `[C, C+1]` (what a Wasserstein
/// style term compares), so both gradients reach `F` in one backward pass.
#[derive(Clone, Copy)]
struct Moments {
    mean: bool,
}

impl Moments {
    /// The forward's and the backward's names in errors.
    fn labels(self) -> (&'static str, &'static str) {
        if self.mean {
            ("moments", "moments backward")
        } else {
            ("gram", "gram backward")
        }
    }

    /// Columns of the output: the Gram's `c`, and the mean's.
    fn cols(self, c: usize) -> usize {
        c + usize::from(self.mean)
    }
}

impl CustomOp1 for Moments {
    fn name(&self) -> &'static str {
        if self.mean {
            "atelier-moments"
        } else {
            "atelier-gram"
        }
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (what, _) = self.labels();
        let (n, c, h, w) = four_dims(l, what)?;
        if n != 1 {
            bail!("{what}: expected a batch of 1, got {n}");
        }
        let f = cpu_slice(s, l, what)?;
        let hw = h * w;
        let g = gram_forward(f, c, hw, 1.0 / (c * hw) as f32);
        if !self.mean {
            return Ok((CpuStorage::F32(g), Shape::from((c, c))));
        }
        let means = channel_means(f, c, hw);
        let mut out = Vec::with_capacity(c * (c + 1));
        for i in 0..c {
            out.extend_from_slice(&g[i * c..(i + 1) * c]);
            out.push(means[i]);
        }
        Ok((CpuStorage::F32(out), Shape::from((c, c + 1))))
    }

    fn bwd(&self, x: &Tensor, _m: &Tensor, dm: &Tensor) -> Result<Option<Tensor>> {
        let x = x.detach().contiguous()?;
        let dm = dm.contiguous()?;
        Ok(Some(dm.apply_op2_no_bwd(&x, &MomentsBwd(*self))?))
    }
}

/// Per-channel means of `F` [c × hw], each row summed in order (no thread changes a sum).
fn channel_means(f: &[f32], c: usize, hw: usize) -> Vec<f32> {
    let mut means = vec![0f32; c];
    let mp = SyncPtr(means.as_mut_ptr());
    parallel_for(c, |i| {
        // 16 f32 lanes (vectorized), added up in f64 at the end.
        let row = &f[i * hw..(i + 1) * hw];
        let mut lanes = [0f32; 16];
        let mut chunks = row.chunks_exact(16);
        for chunk in &mut chunks {
            for (l, v) in lanes.iter_mut().zip(chunk) {
                *l += v;
            }
        }
        let tail: f64 = chunks.remainder().iter().map(|v| f64::from(*v)).sum();
        let sum = lanes.iter().map(|v| f64::from(*v)).sum::<f64>() + tail;
        // SAFETY: item i writes entry i only.
        unsafe { *mp.ptr().add(i) = (sum / hw as f64) as f32 };
    });
    means
}

/// `dF = (dG + dGᵀ) F / (C·H·W)`, plus `dμ 1ᵀ / (H·W)` with the means: the mean's gradient
/// added to each row of the Gram's in one parallel pass, where candle's broadcast and sum
/// would take several.
struct MomentsBwd(Moments);

impl CustomOp2 for MomentsBwd {
    fn name(&self) -> &'static str {
        if self.0.mean {
            "atelier-moments-bwd"
        } else {
            "atelier-gram-bwd"
        }
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (_, what) = self.0.labels();
        let (n, c, h, w) = four_dims(l2, what)?;
        let k = self.0.cols(c);
        if l1.dims() != [c, k] || n != 1 {
            bail!("{what}: gradient shape {:?}", l1.shape());
        }
        let dm = cpu_slice(s1, l1, what)?;
        let f = cpu_slice(s2, l2, what)?;
        let hw = h * w;
        let mut df = symmetric_backward(dm, k, f, c, hw);
        if self.0.mean {
            let dp = SyncPtr(df.as_mut_ptr());
            parallel_for(c, |i| {
                let bias = dm[i * k + c] / hw as f32;
                // SAFETY: item i adds to row i of dF only.
                for v in unsafe { dp.slice(i * hw, hw) } {
                    *v += bias;
                }
            });
        }
        Ok((CpuStorage::F32(df), Shape::from((1, c, h, w))))
    }
}

/// Gram matrix `F Fᵀ / (C·H·W)` of `x` [1,C,H,W] → [C,C]; differentiable.
pub fn gram(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(Moments { mean: false })
}

/// `[G | μ]` of `x` [1,C,H,W] → [C, C+1]: the Gram matrix `F Fᵀ / (C·H·W)` and the channel
/// means, whose gradients reach `x` in one pass; differentiable.
pub fn gram_and_mean(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(Moments { mean: true })
}
