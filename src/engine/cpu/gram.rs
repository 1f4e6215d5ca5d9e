//! Gram matrix `G = F Fᵀ / (C·H·W)` as one GEMM per direction.
//!
//! The GEMMs go to the `gemm` crate single-threaded (its parallel mode uses rayon, which spins)
//! and are split over our own threads by row blocks of the result.

use super::threads::{parallel_for, threads, SyncPtr};
use super::{cpu_slice, four_dims};
use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};

/// `dst[m×n] = scale · lhs[m×k] · rhs[k×n]` with explicit (row, col) strides, rows split across
/// threads.
#[allow(clippy::too_many_arguments)]
fn par_gemm(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    lhs: &[f32],
    lhs_rs: isize,
    lhs_cs: isize,
    rhs: &[f32],
    rhs_rs: isize,
    rhs_cs: isize,
    scale: f32,
) {
    assert_eq!(dst.len(), m * n);
    let rows = (m.div_ceil(threads() * 2)).max(32).next_multiple_of(8);
    let dp = SyncPtr(dst.as_mut_ptr());
    parallel_for(m.div_ceil(rows), |i| {
        let r0 = i * rows;
        let r1 = (r0 + rows).min(m);
        // SAFETY: row block [r0, r1) of dst is written by this item only; the strides
        // describe in-bounds views of lhs/rhs (checked by the callers' shapes).
        unsafe {
            gemm::gemm(
                r1 - r0,
                n,
                k,
                dp.ptr().add(r0 * n),
                1,
                n as isize,
                false,
                lhs.as_ptr().offset(r0 as isize * lhs_rs),
                lhs_cs,
                lhs_rs,
                rhs.as_ptr(),
                rhs_cs,
                rhs_rs,
                0.0,
                scale,
                false,
                false,
                false,
                gemm::Parallelism::None,
            )
        }
    });
}

struct GramFwd;

impl CustomOp1 for GramFwd {
    fn name(&self) -> &'static str {
        "atelier-gram"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = four_dims(l, "gram")?;
        if n != 1 {
            bail!("gram: expected a batch of 1, got {n}");
        }
        let f = cpu_slice(s, l, "gram")?;
        let hw = h * w;
        let mut g = vec![0f32; c * c];
        let scale = 1.0 / (c * hw) as f32;
        // G = F Fᵀ: rhs = Fᵀ, i.e. F read with swapped strides.
        par_gemm(
            c,
            c,
            hw,
            &mut g,
            f,
            hw as isize,
            1,
            f,
            1,
            hw as isize,
            scale,
        );
        Ok((CpuStorage::F32(g), Shape::from((c, c))))
    }

    fn bwd(&self, x: &Tensor, _g: &Tensor, dg: &Tensor) -> Result<Option<Tensor>> {
        let x = x.detach().contiguous()?;
        let dg = dg.contiguous()?;
        Ok(Some(dg.apply_op2_no_bwd(&x, &GramBwd)?))
    }
}

/// `dF = (dG + dGᵀ) F / (C·H·W)`.
struct GramBwd;

impl CustomOp2 for GramBwd {
    fn name(&self) -> &'static str {
        "atelier-gram-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = four_dims(l2, "gram backward")?;
        if l1.dims() != [c, c] || n != 1 {
            bail!("gram backward: gradient shape {:?}", l1.shape());
        }
        let dg = cpu_slice(s1, l1, "gram backward")?;
        let f = cpu_slice(s2, l2, "gram backward")?;
        let mut sym = vec![0f32; c * c];
        for i in 0..c {
            for j in 0..c {
                sym[i * c + j] = dg[i * c + j] + dg[j * c + i];
            }
        }
        let hw = h * w;
        let mut df = vec![0f32; c * hw];
        let scale = 1.0 / (c * hw) as f32;
        par_gemm(
            c,
            hw,
            c,
            &mut df,
            &sym,
            c as isize,
            1,
            f,
            hw as isize,
            1,
            scale,
        );
        Ok((CpuStorage::F32(df), Shape::from((1, c, h, w))))
    }
}

/// Gram matrix `F Fᵀ / (C·H·W)` of `x` [1,C,H,W] → [C,C]; differentiable.
pub fn gram(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(GramFwd)
}
