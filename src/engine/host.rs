//! Reading tensors back on the host, counted.
//!
//! On a GPU every read waits for all the work queued before it and then copies: a sync. The
//! optimizer's hot loop needs a few per iteration (the loss for the line search, a slope or two);
//! more are a performance bug nobody sees. The engine reads device tensors only through here, so
//! [`syncs`] counts them and `atelier bench` / `render --json` report `host_syncs_per_iteration`.
//! Reads of CPU tensors are not syncs and are not counted.
//!
//! Values are read in the tensor's own precision (f64 stays f64, everything else goes through
//! f32) and widened on the host, so the same code works on Metal, which has no f64.

use candle_core::{DType, Result, Tensor, WithDType};
use std::sync::atomic::{AtomicU64, Ordering};

static SYNCS: AtomicU64 = AtomicU64::new(0);

/// Host reads of non-CPU tensors since the process started.
pub fn syncs() -> u64 {
    SYNCS.load(Ordering::Relaxed)
}

fn note(t: &Tensor) {
    if !t.device().is_cpu() {
        SYNCS.fetch_add(1, Ordering::Relaxed);
    }
}

/// The single value of a one-element tensor, as f64.
pub fn scalar_f64(t: &Tensor) -> Result<f64> {
    if t.elem_count() != 1 {
        candle_core::bail!("expected one value, got a tensor of shape {:?}", t.shape());
    }
    Ok(scalars_f64(std::slice::from_ref(t))?[0])
}

/// The values of several one-element tensors (losses, dots) in one read.
pub fn scalars_f64(ts: &[Tensor]) -> Result<Vec<f64>> {
    let Some(first) = ts.first() else {
        return Ok(Vec::new());
    };
    let wide = ts.iter().any(|t| t.dtype() == DType::F64);
    let dtype = if wide { DType::F64 } else { DType::F32 };
    let flat = ts
        .iter()
        .map(|t| t.flatten_all()?.to_dtype(dtype))
        .collect::<Result<Vec<_>>>()?;
    let all = if flat.len() == 1 {
        flat[0].clone()
    } else {
        Tensor::cat(&flat, 0)?
    };
    if all.elem_count() != ts.len() {
        candle_core::bail!("expected one value per tensor, got {}", all.elem_count());
    }
    note(first);
    Ok(if wide {
        all.to_vec1::<f64>()?
    } else {
        all.to_vec1::<f32>()?.into_iter().map(f64::from).collect()
    })
}

/// A 1-D tensor's values.
pub fn vec1<T: WithDType>(t: &Tensor) -> Result<Vec<T>> {
    note(t);
    t.to_vec1()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn reads_in_one_go_and_keeps_f64() -> Result<()> {
        let d = Device::Cpu;
        let a = Tensor::new(1.5f32, &d)?;
        let b = Tensor::new(&[2.25f32], &d)?;
        assert_eq!(scalars_f64(&[a.clone(), b])?, vec![1.5, 2.25]);
        let wide = Tensor::new(1e300f64, &d)?;
        assert_eq!(scalar_f64(&wide)?, 1e300);
        assert_eq!(scalars_f64(&[a, wide])?, vec![1.5, 1e300]);
        assert!(scalar_f64(&Tensor::new(&[1f32, 2.0], &d)?).is_err());
        assert_eq!(scalars_f64(&[])?, Vec::<f64>::new());
        // CPU reads are no syncs.
        let before = syncs();
        vec1::<f32>(&Tensor::new(&[1f32], &d)?)?;
        assert_eq!(syncs(), before);
        Ok(())
    }
}
