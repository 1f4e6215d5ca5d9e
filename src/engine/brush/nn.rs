//! Differentiable building blocks for training, in plain candle tensor ops (narrow, cat,
//! matmul, elementwise), so the same code runs on any device and in f64 for gradient checks,
//! and autograd gives weight gradients (the VGG's fast ops only give input gradients).
//! Inference uses the fast CPU kernels instead (see `generator::Fast`); tests keep both equal.

pub use crate::engine::cpu::Border;
use candle_core::{DType, Device, Result, Tensor, Var, D};
use std::collections::BTreeMap;

/// The instance norm's epsilon (the instant networks' value).
pub const EPS: f64 = 1e-5;

/// Named trainable tensors, in name order (stable for files and optimizer state).
#[derive(Default)]
pub struct Params {
    vars: BTreeMap<String, Var>,
}

impl Params {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a tensor as a trainable variable.
    pub fn insert(&mut self, name: &str, t: Tensor) -> Result<()> {
        self.vars.insert(name.to_string(), Var::from_tensor(&t)?);
        Ok(())
    }

    pub fn get(&self, name: &str) -> Result<&Var> {
        self.vars
            .get(name)
            .ok_or_else(|| candle_core::Error::Msg(format!("parameter {name} is missing")))
    }

    /// The tensor behind `name` (tracked by autograd).
    pub fn t(&self, name: &str) -> Result<&Tensor> {
        Ok(self.get(name)?.as_tensor())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Var)> {
        self.vars.iter()
    }

    /// Total number of scalars.
    pub fn count(&self) -> usize {
        self.vars.values().map(|v| v.elem_count()).sum()
    }

    /// A detached copy of every tensor, by name (for saving and for the fast path).
    pub fn snapshot(&self) -> Result<BTreeMap<String, Tensor>> {
        self.vars
            .iter()
            .map(|(k, v)| Ok((k.clone(), v.as_tensor().detach().copy()?)))
            .collect()
    }

    /// Replaces each value by the tensor of the same name in `values` (shapes must match).
    pub fn load(&mut self, values: &BTreeMap<String, Tensor>) -> Result<()> {
        for (k, v) in &self.vars {
            let Some(new) = values.get(k) else {
                candle_core::bail!("parameter {k} is missing");
            };
            if new.dims() != v.dims() {
                candle_core::bail!(
                    "parameter {k} has shape {:?}, expected {:?}",
                    new.dims(),
                    v.dims()
                );
            }
            v.set(&new.to_device(v.device())?.to_dtype(v.dtype())?)?;
        }
        Ok(())
    }
}

/// He-style random init for a conv weight `[o, i, k, k]` with fan-in `i·k·k` (or `fan_in`).
pub fn conv_init(
    rng: &mut impl rand::Rng,
    shape: (usize, usize, usize, usize),
    fan_in: usize,
    dtype: DType,
    device: &Device,
) -> Result<Tensor> {
    use rand_distr::Distribution;
    let std = (2.0 / fan_in.max(1) as f64).sqrt();
    let normal =
        rand_distr::Normal::new(0.0, std).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
    let n = shape.0 * shape.1 * shape.2 * shape.3;
    let v: Vec<f64> = (0..n).map(|_| normal.sample(rng)).collect();
    Tensor::from_vec(v, shape, device)?.to_dtype(dtype)
}

/// Rows (dim 2) or columns (dim 3) `start, start+stride, …` (`count` of them).
fn strided(x: &Tensor, dim: usize, start: usize, count: usize, stride: usize) -> Result<Tensor> {
    if stride == 1 {
        return x.narrow(dim, start, count);
    }
    let len = x.dim(dim)?;
    let want = count * stride;
    let avail = len - start;
    let mut t = x.narrow(dim, start, want.min(avail))?;
    if avail < want {
        t = t.pad_with_zeros(dim, 0, want - avail)?;
    }
    // Split the axis into (count, stride) and keep phase 0.
    let mut dims = t.dims().to_vec();
    dims[dim] = count;
    dims.insert(dim + 1, stride);
    t.contiguous()?
        .reshape(dims)?
        .narrow(dim + 1, 0, 1)?
        .squeeze(dim + 1)
}

/// "Valid" convolution of an already padded `x` `[N,C,H,W]` with `w` `[O,C,k,k]`, by im2col
/// (k² shifted views) and one matmul.
pub fn conv(x: &Tensor, w: &Tensor, bias: Option<&Tensor>, stride: usize) -> Result<Tensor> {
    let (n, c, h, wd) = x.dims4()?;
    let (o, ci, k, _) = w.dims4()?;
    if ci != c {
        candle_core::bail!("conv: input has {c} channels, weights expect {ci}");
    }
    if h < k || wd < k {
        candle_core::bail!("conv: input {h}×{wd} is smaller than the {k}×{k} kernel");
    }
    let (ho, wo) = ((h - k) / stride + 1, (wd - k) / stride + 1);
    let cols = if k == 1 && stride == 1 {
        x.reshape((n, c, h * wd))?
    } else {
        let mut taps = Vec::with_capacity(k * k);
        for dy in 0..k {
            let rows = strided(x, 2, dy, ho, stride)?;
            for dx in 0..k {
                taps.push(strided(&rows, 3, dx, wo, stride)?);
            }
        }
        // [N, C, k², Ho, Wo] → [N, C·k², Ho·Wo], the order of w's flattening.
        Tensor::stack(&taps, 2)?.reshape((n, c * k * k, ho * wo))?
    };
    let y = w.reshape((o, c * k * k))?.broadcast_matmul(&cols)?;
    let y = y.reshape((n, o, ho, wo))?;
    match bias {
        Some(b) => y.broadcast_add(&b.reshape((1, o, 1, 1))?),
        None => Ok(y),
    }
}

/// 3×3 depthwise convolution, padding 1 with the given border, stride 1 (no bias): nine
/// shifted, per-channel scaled copies. `w` is `[C,1,3,3]`.
pub fn depthwise3x3(x: &Tensor, w: &Tensor, border: Border) -> Result<Tensor> {
    let (_, c, h, wd) = x.dims4()?;
    let p = match border {
        Border::Zero => x.pad_with_zeros(2, 1, 1)?.pad_with_zeros(3, 1, 1)?,
        Border::Reflect => reflect_pad1(x)?,
    };
    let w = w.reshape((c, 9))?;
    let mut acc: Option<Tensor> = None;
    for dy in 0..3 {
        for dx in 0..3 {
            let tap = p.narrow(2, dy, h)?.narrow(3, dx, wd)?;
            let wk = w.narrow(1, dy * 3 + dx, 1)?.reshape((1, c, 1, 1))?;
            let term = tap.broadcast_mul(&wk)?;
            acc = Some(match acc {
                Some(a) => (a + term)?,
                None => term,
            });
        }
    }
    acc.ok_or_else(|| candle_core::Error::Msg("depthwise: empty kernel".into()))
}

/// Reflect padding by 1 (no edge repeat), as the fast kernels' `upsample_reflect_pad(x, 1, 1)`.
pub fn reflect_pad1(x: &Tensor) -> Result<Tensor> {
    let mut x = x.clone();
    for dim in [2, 3] {
        let n = x.dim(dim)?;
        if n < 2 {
            candle_core::bail!("reflect padding needs at least 2 pixels, got {n}");
        }
        let before = x.narrow(dim, 1, 1)?;
        let after = x.narrow(dim, n - 2, 1)?;
        x = Tensor::cat(&[&before, &x, &after], dim)?;
    }
    Ok(x)
}

/// Nearest-neighbour ×2 upsampling (broadcast, so the gradient sums each 2×2 block).
pub fn upsample2(x: &Tensor) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    x.reshape((n, c, h, 1, w, 1))?
        .broadcast_as((n, c, h, 2, w, 2))?
        .contiguous()?
        .reshape((n, c, 2 * h, 2 * w))
}

/// Instance norm with a learned per-channel scale and shift (`[C]` each).
pub fn instance_norm(x: &Tensor, gamma: &Tensor, beta: &Tensor) -> Result<Tensor> {
    let c = x.dim(1)?;
    let mean = x.mean_keepdim(D::Minus1)?.mean_keepdim(D::Minus2)?;
    let d = x.broadcast_sub(&mean)?;
    let var = d.sqr()?.mean_keepdim(D::Minus1)?.mean_keepdim(D::Minus2)?;
    d.broadcast_div(&(var + EPS)?.sqrt()?)?
        .broadcast_mul(&gamma.reshape((1, c, 1, 1))?)?
        .broadcast_add(&beta.reshape((1, c, 1, 1))?)
}

/// `1 / (1 + e^(−x))` from core ops (differentiable on every device).
pub fn sigmoid(x: &Tensor) -> Result<Tensor> {
    (x.neg()?.exp()? + 1.0)?.recip()
}

/// `max(x, slope·x)`.
pub fn leaky_relu(x: &Tensor, slope: f64) -> Result<Tensor> {
    x.maximum(&(x * slope)?)
}
