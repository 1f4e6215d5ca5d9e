//! The flat-vector arithmetic of L-BFGS: dots in f64, norms, the two-loop recursion.
//!
//! Dots are in f64: with large loss weights the products of f32 gradients overflow f32, and an
//! infinite slope would end the run as "converged" with the image unchanged. On the CPU they read
//! the storage directly (no f64 copies). On CUDA the two-loop recursion keeps its 2·history dots
//! on the device as f64 scalars, so an iteration's direction costs no host sync (PyTorch's L-BFGS
//! does the same); the dots the line search branches on are read through [`host`], counted.
//! Metal has no f64: there both sides are scaled to at most 1 and multiplied in f32.

use crate::engine::host;
use candle_core::{DType, Result, Storage, Tensor};
use std::collections::VecDeque;

/// `a·b` straight from the storage of contiguous f32 CPU tensors; `None` for other tensors.
fn cpu_dot(a: &Tensor, b: &Tensor) -> Option<Result<f64>> {
    let plain = |t: &Tensor| t.device().is_cpu() && t.is_contiguous() && t.dtype() == DType::F32;
    if !plain(a) || !plain(b) {
        return None;
    }
    let (sa, la) = a.storage_and_layout();
    let (sb, lb) = b.storage_and_layout();
    let (Storage::Cpu(ca), Storage::Cpu(cb)) = (&*sa, &*sb) else {
        return None;
    };
    let read = || -> Result<f64> {
        let x = crate::engine::cpu::cpu_slice(ca, la, "lbfgs dot")?;
        let y = crate::engine::cpu::cpu_slice(cb, lb, "lbfgs dot")?;
        if x.len() != y.len() {
            candle_core::bail!("lbfgs dot: {} vs {} elements", x.len(), y.len());
        }
        Ok(dot_f64(x, y))
    };
    Some(read())
}

/// Metal's dot: both sides scaled to at most 1, multiplied in f32, scaled back in f64.
fn scaled_dot(a: &Tensor, b: &Tensor) -> Result<f64> {
    let (sa, sb) = (abs_max(a)?, abs_max(b)?);
    if sa == 0.0 || sb == 0.0 {
        return Ok(0.0);
    }
    let p = host::scalar_f64(&((a / sa)? * (b / sb)?)?.sum_all()?)?;
    Ok(p * sa * sb)
}

/// `a·b` as a number.
pub(super) fn dot(a: &Tensor, b: &Tensor) -> Result<f64> {
    Ok(dots(&[(a, b)])?[0])
}

/// Several dots; those on a GPU are read in one sync.
pub(super) fn dots(pairs: &[(&Tensor, &Tensor)]) -> Result<Vec<f64>> {
    let mut out = Vec::with_capacity(pairs.len());
    let mut on_device = Vec::new();
    for (a, b) in pairs {
        if let Some(r) = cpu_dot(a, b) {
            out.push(Some(r?));
        } else if a.device().is_metal() {
            out.push(Some(scaled_dot(a, b)?));
        } else {
            out.push(None);
            on_device.push(dot64(a, b)?);
        }
    }
    let mut read = host::scalars_f64(&on_device)?.into_iter();
    Ok(out
        .into_iter()
        .map(|v| v.or_else(|| read.next()).unwrap_or(f64::NAN))
        .collect())
}

/// `a·b` in f64 as a one-element tensor on the vectors' device.
fn dot64(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    (a.to_dtype(DType::F64)? * b.to_dtype(DType::F64)?)?.sum_all()
}

/// Eight f64 lanes, so the loop vectorizes.
pub(super) fn dot_f64(x: &[f32], y: &[f32]) -> f64 {
    let mut acc = [0f64; 8];
    let (xc, yc) = (x.chunks_exact(8), y.chunks_exact(8));
    let tail: f64 = xc
        .remainder()
        .iter()
        .zip(yc.remainder())
        .map(|(a, b)| f64::from(*a) * f64::from(*b))
        .sum();
    for (a, b) in xc.zip(yc) {
        for i in 0..8 {
            acc[i] += f64::from(a[i]) * f64::from(b[i]);
        }
    }
    acc.iter().sum::<f64>() + tail
}

pub(super) fn abs_max(a: &Tensor) -> Result<f64> {
    host::scalar_f64(&a.abs()?.max_all()?)
}

/// `|a|₁` without f32 overflow: `|a|∞ · Σ|a/|a|∞|`.
pub(super) fn abs_sum(a: &Tensor) -> Result<f64> {
    let s = abs_max(a)?;
    if s == 0.0 || !s.is_finite() {
        return Ok(s);
    }
    Ok(host::scalar_f64(&(a / s)?.abs()?.sum_all()?)? * s)
}

/// The curvature pairs the two-loop recursion reads.
pub(super) struct History<'a> {
    pub dirs: &'a VecDeque<Tensor>,
    pub steps: &'a VecDeque<Tensor>,
    pub rho: &'a VecDeque<f64>,
    pub h_diag: f64,
}

/// The L-BFGS direction `-H·g`. On CUDA without host syncs (see the module notes); elsewhere
/// with host dots, as torch's CPU L-BFGS computes it.
pub(super) fn two_loop(g: &Tensor, h: &History<'_>) -> Result<Tensor> {
    if g.device().is_cuda() {
        two_loop_on_device(g, h)
    } else {
        two_loop_on_host(g, h)
    }
}

fn two_loop_on_host(g: &Tensor, h: &History<'_>) -> Result<Tensor> {
    let n = h.dirs.len();
    let mut al = vec![0.0; n];
    let mut q = g.neg()?;
    for i in (0..n).rev() {
        al[i] = dot(&h.steps[i], &q)? * h.rho[i];
        q = (q - (&h.dirs[i] * al[i])?)?;
    }
    let mut r = (q * h.h_diag)?;
    for (((y, s), rho), a) in h.dirs.iter().zip(h.steps).zip(h.rho).zip(&al) {
        let be = dot(y, &r)? * rho;
        r = (r + (s * (a - be))?)?;
    }
    Ok(r)
}

/// The same recursion with every scalar a device tensor (f64, cast to the vectors' dtype where
/// it scales one): nothing waits for the host.
pub(super) fn two_loop_on_device(g: &Tensor, h: &History<'_>) -> Result<Tensor> {
    let n = h.dirs.len();
    let mut al = Vec::with_capacity(n);
    let mut q = g.neg()?;
    for i in (0..n).rev() {
        let a = (dot64(&h.steps[i], &q)? * h.rho[i])?;
        q = (q - h.dirs[i].broadcast_mul(&a.to_dtype(g.dtype())?)?)?;
        al.push(a);
    }
    al.reverse();
    let mut r = (q * h.h_diag)?;
    for (i, a) in al.iter().enumerate() {
        let be = (dot64(&h.dirs[i], &r)? * h.rho[i])?;
        let coef = (a - be)?.to_dtype(g.dtype())?;
        r = (r + h.steps[i].broadcast_mul(&coef)?)?;
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn vector(n: usize, a: usize, b: usize, scale: f32) -> Result<Tensor> {
        let v: Vec<f32> = (0..n)
            .map(|i| (((i * a) % b) as f32 - (b / 2) as f32) * scale)
            .collect();
        Tensor::from_vec(v, n, &Device::Cpu)
    }

    /// The device recursion (run here on the CPU) gives the host one's direction.
    #[test]
    fn the_device_two_loop_matches_the_host_one() -> Result<()> {
        let n = 1000;
        let mut dirs = VecDeque::new();
        let mut steps = VecDeque::new();
        let mut rho = VecDeque::new();
        for k in 0..7 {
            let y = vector(n, 7 + k, 31, 1e3)?;
            let s = ((&y * 1e-4)? + vector(n, 3 + 2 * k, 17, 1e-3)?)?;
            rho.push_back(1.0 / dot(&y, &s)?);
            dirs.push_back(y);
            steps.push_back(s);
        }
        let h = History {
            dirs: &dirs,
            steps: &steps,
            rho: &rho,
            h_diag: 2e-4,
        };
        let g = vector(n, 5, 23, 1e2)?;
        let want = host::vec1::<f32>(&two_loop_on_host(&g, &h)?)?;
        let got = host::vec1::<f32>(&two_loop_on_device(&g, &h)?)?;
        let scale = want.iter().fold(0f32, |m, x| m.max(x.abs()));
        let worst = want
            .iter()
            .zip(&got)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(worst <= 1e-5 * scale, "worst {worst} of {scale}");
        Ok(())
    }

    #[test]
    fn several_dots_at_once() -> Result<()> {
        let a = vector(100, 3, 11, 1.0)?;
        let b = vector(100, 5, 13, 1.0)?;
        let both = dots(&[(&a, &b), (&a, &a)])?;
        assert_eq!(both[0], dot(&a, &b)?);
        assert_eq!(both[1], dot(&a, &a)?);
        // Non-contiguous views take the tensor path and agree.
        let m = Tensor::stack(&[&a, &b], 1)?;
        let (ac, bc) = (
            m.narrow(1, 0, 1)?.squeeze(1)?,
            m.narrow(1, 1, 1)?.squeeze(1)?,
        );
        assert!(!ac.is_contiguous());
        assert!((dots(&[(&ac, &bc)])?[0] - both[0]).abs() < 1e-6 * both[0].abs());
        Ok(())
    }
}
