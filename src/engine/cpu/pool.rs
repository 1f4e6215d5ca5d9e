//! 2×2 stride-2 max pooling in ceil mode, with a correct gradient.
//!
//! candle 0.11's own `max_pool2d` backward spreads the gradient over the window (0.25 at the
//! max), so the forward and the backward (which re-finds the argmax from the input rather than
//! storing indices) are both done here. NaN inputs are not given special treatment.

use super::threads::{parallel_for, with_simd, SyncPtr};
use super::{cpu_slice, four_dims};
use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};

/// One row of output windows from input rows `r0`, `r1` (`r1` = `r0` for a last odd row).
/// Window max = max of its elements; written branch-free so it vectorizes.
#[inline(always)]
fn pool_row(simd: bool, r0: &[f32], r1: &[f32], y: &mut [f32]) {
    let w = r0.len();
    let full = w / 2;
    #[cfg(target_arch = "x86_64")]
    let done = if simd {
        // SAFETY: feature detected.
        unsafe { simd::pool_row(r0, r1, y) }
    } else {
        0
    };
    #[cfg(not(target_arch = "x86_64"))]
    let done = {
        let _ = simd;
        0
    };
    for ((o, a), b) in y[done..full]
        .iter_mut()
        .zip(r0[2 * done..].chunks_exact(2))
        .zip(r1[2 * done..].chunks_exact(2))
    {
        *o = a[0].max(a[1]).max(b[0].max(b[1]));
    }
    if w % 2 == 1 {
        y[full] = r0[w - 1].max(r1[w - 1]);
    }
}

/// Gradient for one row of windows: each window's `g` goes to its first element equal to the
/// window max (row-major order), every other element gets 0 (so `dx` needs no zeroing).
/// `d1` is `None` for a last odd row.
#[inline(always)]
fn pool_row_bwd(
    simd: bool,
    r0: &[f32],
    r1: &[f32],
    g: &[f32],
    d0: &mut [f32],
    d1: Option<&mut [f32]>,
) {
    let w = r0.len();
    let full = w / 2;
    match d1 {
        Some(d1) => {
            #[cfg(target_arch = "x86_64")]
            let done = if simd {
                // SAFETY: feature detected.
                unsafe { simd::pool_row_bwd(r0, r1, g, d0, d1) }
            } else {
                0
            };
            #[cfg(not(target_arch = "x86_64"))]
            let done = {
                let _ = simd;
                0
            };
            for j in done..full {
                let (a, b, c, d) = (r0[2 * j], r0[2 * j + 1], r1[2 * j], r1[2 * j + 1]);
                let m = a.max(b).max(c.max(d));
                let gv = g[j];
                let (ea, eb, ec) = (a == m, b == m, c == m);
                d0[2 * j] = if ea { gv } else { 0.0 };
                d0[2 * j + 1] = if eb && !ea { gv } else { 0.0 };
                d1[2 * j] = if ec && !ea && !eb { gv } else { 0.0 };
                d1[2 * j + 1] = if !ea && !eb && !ec { gv } else { 0.0 };
            }
            if w % 2 == 1 {
                let (a, c) = (r0[w - 1], r1[w - 1]);
                let ea = a >= c || c.is_nan();
                d0[w - 1] = if ea { g[full] } else { 0.0 };
                d1[w - 1] = if ea { 0.0 } else { g[full] };
            }
        }
        None => {
            for j in 0..full {
                let (a, b) = (r0[2 * j], r0[2 * j + 1]);
                let ea = a >= b || b.is_nan();
                d0[2 * j] = if ea { g[j] } else { 0.0 };
                d0[2 * j + 1] = if ea { 0.0 } else { g[j] };
            }
            if w % 2 == 1 {
                d0[w - 1] = g[full];
            }
        }
    }
}

/// Whether the AVX-512 row kernels may be used (checked once per op).
fn use_simd() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f") && super::gemm::isa_cap().is_none()
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::*;

    /// Even / odd elements of 32 floats.
    #[inline(always)]
    unsafe fn split(p: *const f32) -> (__m512, __m512) {
        let ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        let (a, b) = (_mm512_loadu_ps(p), _mm512_loadu_ps(p.add(16)));
        (
            _mm512_permutex2var_ps(a, ev, b),
            _mm512_permutex2var_ps(a, od, b),
        )
    }

    /// Stores even / odd lanes interleaved as 32 floats.
    #[inline(always)]
    unsafe fn merge(p: *mut f32, e: __m512, o: __m512) {
        let lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        let hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        _mm512_storeu_ps(p, _mm512_permutex2var_ps(e, lo, o));
        _mm512_storeu_ps(p.add(16), _mm512_permutex2var_ps(e, hi, o));
    }

    /// Full windows of 16 at a time; returns how many output columns were done.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn pool_row(r0: &[f32], r1: &[f32], y: &mut [f32]) -> usize {
        let full = r0.len() / 2;
        let mut j = 0;
        while j + 16 <= full {
            let (a, b) = split(r0.as_ptr().add(2 * j));
            let (c, d) = split(r1.as_ptr().add(2 * j));
            let m = _mm512_max_ps(_mm512_max_ps(a, b), _mm512_max_ps(c, d));
            _mm512_storeu_ps(y.as_mut_ptr().add(j), m);
            j += 16;
        }
        j
    }

    /// Backward of [`pool_row`] with the same first-maximum rule as the scalar code.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn pool_row_bwd(
        r0: &[f32],
        r1: &[f32],
        g: &[f32],
        d0: &mut [f32],
        d1: &mut [f32],
    ) -> usize {
        let full = r0.len() / 2;
        let mut j = 0;
        while j + 16 <= full {
            let (a, b) = split(r0.as_ptr().add(2 * j));
            let (c, d) = split(r1.as_ptr().add(2 * j));
            let m = _mm512_max_ps(_mm512_max_ps(a, b), _mm512_max_ps(c, d));
            let gv = _mm512_loadu_ps(g.as_ptr().add(j));
            let ea = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(a, m);
            let eb = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(b, m) & !ea;
            let ec = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(c, m) & !ea & !eb;
            let ed = !(ea | eb | ec);
            merge(
                d0.as_mut_ptr().add(2 * j),
                _mm512_maskz_mov_ps(ea, gv),
                _mm512_maskz_mov_ps(eb, gv),
            );
            merge(
                d1.as_mut_ptr().add(2 * j),
                _mm512_maskz_mov_ps(ec, gv),
                _mm512_maskz_mov_ps(ed, gv),
            );
            j += 16;
        }
        j
    }
}

/// Channel planes per parallel work item.
fn plane_chunk(planes: usize, plane_len: usize) -> usize {
    // ~64K floats per item
    ((1 << 16) / plane_len.max(1)).clamp(1, planes.max(1))
}

struct PoolFwd;

impl CustomOp1 for PoolFwd {
    fn name(&self) -> &'static str {
        "atelier-maxpool2x2"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = four_dims(l, "max_pool2x2")?;
        let x = cpu_slice(s, l, "max_pool2x2")?;
        let (oh, ow) = (h.div_ceil(2), w.div_ceil(2));
        let planes = n * c;
        let simd = use_simd();
        let mut y: Vec<f32> = Vec::with_capacity(planes * oh * ow);
        let yp = SyncPtr(y.as_mut_ptr());
        let chunk = plane_chunk(planes, h * w);
        parallel_for(planes.div_ceil(chunk), |i| {
            for pl in i * chunk..((i + 1) * chunk).min(planes) {
                let xp = &x[pl * h * w..][..h * w];
                // SAFETY: each plane is written by one work item.
                let yo = unsafe { yp.slice(pl * oh * ow, oh * ow) };
                with_simd(|| {
                    for oi in 0..oh {
                        let r0 = &xp[2 * oi * w..][..w];
                        let r1 = if 2 * oi + 1 < h {
                            &xp[(2 * oi + 1) * w..][..w]
                        } else {
                            r0
                        };
                        pool_row(simd, r0, r1, &mut yo[oi * ow..][..ow]);
                    }
                });
            }
        });
        // SAFETY: every output row of every plane was written above.
        unsafe { y.set_len(planes * oh * ow) };
        Ok((CpuStorage::F32(y), Shape::from((n, c, oh, ow))))
    }

    fn bwd(&self, x: &Tensor, _y: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        let x = x.detach().contiguous()?;
        let dy = dy.contiguous()?;
        Ok(Some(x.apply_op2_no_bwd(&dy, &PoolBwd)?))
    }
}

/// dx: each window's gradient goes to its (first) maximum; everything else is 0.
struct PoolBwd;

impl CustomOp2 for PoolBwd {
    fn name(&self) -> &'static str {
        "atelier-maxpool2x2-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = four_dims(l1, "max_pool2x2 backward")?;
        let (oh, ow) = (h.div_ceil(2), w.div_ceil(2));
        if l2.dims() != [n, c, oh, ow] {
            bail!("max_pool2x2 backward: gradient shape {:?}", l2.shape());
        }
        let x = cpu_slice(s1, l1, "max_pool2x2 backward")?;
        let dy = cpu_slice(s2, l2, "max_pool2x2 backward")?;
        let planes = n * c;
        let simd = use_simd();
        let mut dx: Vec<f32> = Vec::with_capacity(planes * h * w);
        let dp = SyncPtr(dx.as_mut_ptr());
        let chunk = plane_chunk(planes, h * w);
        parallel_for(planes.div_ceil(chunk), |i| {
            for pl in i * chunk..((i + 1) * chunk).min(planes) {
                let xp = &x[pl * h * w..][..h * w];
                let g = &dy[pl * oh * ow..][..oh * ow];
                // SAFETY: each plane is written by one work item.
                let d = unsafe { dp.slice(pl * h * w, h * w) };
                with_simd(|| {
                    for oi in 0..oh {
                        let gr = &g[oi * ow..][..ow];
                        let r0 = &xp[2 * oi * w..][..w];
                        if 2 * oi + 1 < h {
                            let r1 = &xp[(2 * oi + 1) * w..][..w];
                            let (d0, d1) = d[2 * oi * w..][..2 * w].split_at_mut(w);
                            pool_row_bwd(simd, r0, r1, gr, d0, Some(d1));
                        } else {
                            pool_row_bwd(simd, r0, r0, gr, &mut d[2 * oi * w..][..w], None);
                        }
                    }
                });
            }
        });
        // SAFETY: every row of every plane was written above.
        unsafe { dx.set_len(planes * h * w) };
        Ok((CpuStorage::F32(dx), Shape::from((n, c, h, w))))
    }
}

/// 2×2 stride-2 max pooling in ceil mode (odd H/W give ceil(H/2), the last window partial),
/// gradient all to the first maximum of each window.
pub fn max_pool2x2(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(PoolFwd)
}
