//! Nearest-neighbour upsampling by an integer factor followed by reflect padding, as one gather:
//! the "resize, pad, convolve" step of the instant networks' decoders (factor 1 = padding only).

use super::threads::{parallel_for, SyncPtr};
use super::{cpu_slice, four_dims};
use candle_core::{bail, CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};

/// Mirror index without repeating the edge (numpy/ONNX "reflect"); needs `pad < n`.
fn reflect(i: isize, n: usize) -> usize {
    let n = n as isize;
    let r = if i < 0 {
        -i
    } else if i >= n {
        2 * (n - 1) - i
    } else {
        i
    };
    r as usize
}

struct Op {
    up: usize,
    pad: usize,
}

impl CustomOp1 for Op {
    fn name(&self) -> &'static str {
        "atelier-upsample-reflect-pad"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = four_dims(l, "upsample_reflect_pad")?;
        let (uh, uw) = (h * self.up, w * self.up);
        if self.pad >= uh || self.pad >= uw {
            bail!(
                "reflect padding {} needs a plane larger than {uh}×{uw}",
                self.pad
            );
        }
        let x = cpu_slice(s, l, "upsample_reflect_pad")?;
        let (oh, ow) = (uh + 2 * self.pad, uw + 2 * self.pad);
        let p = self.pad as isize;
        let cols: Vec<usize> = (0..ow)
            .map(|j| reflect(j as isize - p, uw) / self.up)
            .collect();
        let mut y: Vec<f32> = Vec::with_capacity(n * c * oh * ow);
        let yp = SyncPtr(y.as_mut_ptr());
        parallel_for(n * c, |pl| {
            let src = &x[pl * h * w..][..h * w];
            // SAFETY: each plane is written by one work item.
            let dst = unsafe { yp.slice(pl * oh * ow, oh * ow) };
            let pad = self.pad;
            for i in 0..oh {
                let row = &src[reflect(i as isize - p, uh) / self.up * w..][..w];
                let out = &mut dst[i * ow..][..ow];
                // Edges through the index table, the interior as straight copies.
                for j in (0..pad).chain(pad + uw..ow) {
                    out[j] = row[cols[j]];
                }
                let mid = &mut out[pad..pad + uw];
                match self.up {
                    1 => mid.copy_from_slice(row),
                    2 => {
                        for (d, &v) in mid.chunks_exact_mut(2).zip(row) {
                            d[0] = v;
                            d[1] = v;
                        }
                    }
                    up => {
                        for (d, &v) in mid.chunks_exact_mut(up).zip(row) {
                            d.fill(v);
                        }
                    }
                }
            }
        });
        // SAFETY: every plane was written above.
        unsafe { y.set_len(n * c * oh * ow) };
        Ok((CpuStorage::F32(y), Shape::from((n, c, oh, ow))))
    }
}

/// Upsamples `x` by `up` (nearest) and reflect-pads it by `pad` on every side. f32 CPU only.
pub fn upsample_reflect_pad(x: &Tensor, up: usize, pad: usize) -> Result<Tensor> {
    if up == 0 {
        bail!("upsample factor must be at least 1");
    }
    x.contiguous()?.apply_op1_no_bwd(&Op { up, pad })
}

#[cfg(test)]
mod tests {
    use super::reflect;

    #[test]
    fn reflect_mirrors_without_repeating_the_edge() {
        let got: Vec<usize> = (-2..6).map(|i| reflect(i, 4)).collect();
        assert_eq!(got, vec![2, 1, 0, 1, 2, 3, 2, 1]);
    }
}
