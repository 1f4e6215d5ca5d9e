//! The brush's generator: a small feed-forward stylizer designed for CPU inference.
//!
//! Encoder (full, ½, ¼ resolution), residual blocks at ¼ resolution, decoder back up, instance
//! norms with a learned scale and shift, a sigmoid out. Why this shape:
//! - the costly work happens at ¼ resolution, where a pixel costs 1/16th;
//! - the residual blocks are depthwise-separable (3×3 depthwise + 1×1 pointwise, twice): at 64
//!   channels a block costs 9 344 MACs per ¼-res pixel instead of 73 728 for two full 3×3
//!   convolutions, so five blocks (receptive field ~ 84 px) cost under 3 000 MACs per output pixel;
//! - 3×3 kernels everywhere (the first layer too, not Johnson's 9×9), so the stride-1 layers run
//!   on the Winograd kernels and the strided ones on the k×k GEMM kernel (src/engine/cpu/);
//! - no bias before an instance norm (the norm removes it);
//! - every 3×3 filter mirrors the picture at its edge (reflect padding). Zero padding in the
//!   depthwise layers told the network where the edge was, and brushes trained with it painted a
//!   bright line along the border and a second one a few pixels in.
//!
//! The default (8/32/64 channels, 5 blocks) has 72 123 parameters and 5 992 MACs per pixel; the
//! decoder runs its pointwise convolutions before upsampling (4× cheaper) and keeps the
//! full-resolution tensors at 8 channels, since at 1080p memory traffic costs more than MACs.
//! Two forward paths compute the same function: [`Generator::forward`] from differentiable candle
//! ops (training, any device, f64), and [`Fast`] from the fast f32 CPU kernels (inference).

use super::nn::{self, Border, Params};
use crate::engine::cpu::{self, Act};
use candle_core::{DType, Device, Result, Tensor};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The generator's shape; stored in every brush file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GenArch {
    /// Channels at full, ½ and ¼ resolution.
    pub channels: [usize; 3],
    /// Residual blocks at ¼ resolution.
    pub blocks: usize,
    /// The depthwise layers' padding (the full convolutions always reflect). Brushes from
    /// before this field (format 1) padded with zeros.
    #[serde(default = "zero_border")]
    pub border: Border,
}

fn zero_border() -> Border {
    Border::Zero
}

impl Default for GenArch {
    fn default() -> Self {
        Self {
            channels: [8, 32, 64],
            blocks: 5,
            border: Border::Reflect,
        }
    }
}

/// The generator halves the resolution twice: sizes must be multiples of this.
pub const STRIDE: usize = 4;

impl GenArch {
    /// Every parameter's name and shape, in a fixed order.
    pub fn shapes(&self) -> Vec<(String, Vec<usize>)> {
        let [c1, c2, c3] = self.channels;
        let mut s = Vec::new();
        let conv_in = |name: &str, o: usize, i: usize, s: &mut Vec<(String, Vec<usize>)>| {
            s.push((format!("{name}.weight"), vec![o, i, 3, 3]));
            s.push((format!("{name}.gamma"), vec![o]));
            s.push((format!("{name}.beta"), vec![o]));
        };
        conv_in("e1", c1, 3, &mut s);
        conv_in("e2", c2, c1, &mut s);
        conv_in("e3", c3, c2, &mut s);
        for r in 0..self.blocks {
            for j in 1..=2 {
                s.push((format!("r{r}.dw{j}"), vec![c3, 1, 3, 3]));
                s.push((format!("r{r}.pw{j}"), vec![c3, c3, 1, 1]));
                s.push((format!("r{r}.gamma{j}"), vec![c3]));
                s.push((format!("r{r}.beta{j}"), vec![c3]));
            }
        }
        for (name, o, i) in [("d1", c2, c3), ("d2", c1, c2)] {
            s.push((format!("{name}.pw"), vec![o, i, 1, 1]));
            s.push((format!("{name}.dw"), vec![o, 1, 3, 3]));
            s.push((format!("{name}.gamma"), vec![o]));
            s.push((format!("{name}.beta"), vec![o]));
        }
        s.push(("out.weight".into(), vec![3, c1, 3, 3]));
        s.push(("out.bias".into(), vec![3]));
        s
    }

    /// Multiply-accumulates per output pixel.
    pub fn macs_per_pixel(&self) -> usize {
        let [c1, c2, c3] = self.channels;
        let full = 9 * 3 * c1 + 9 * c1 + 9 * c1 * 3;
        let half = 9 * c1 * c2 + 9 * c2 + c2 * c1 * 4;
        let quarter = 9 * c2 * c3 + self.blocks * 2 * (9 * c3 + c3 * c3) + c3 * c2 * 4;
        full + half / 4 + quarter / 16
    }

    pub fn parameter_count(&self) -> usize {
        self.shapes()
            .iter()
            .map(|(_, s)| s.iter().product::<usize>())
            .sum()
    }

    /// Fresh random parameters (He init; the residual branches start small so each block is
    /// close to the identity, and the output conv starts small so the first picture is mid-grey
    /// plus a little of the input).
    pub fn init(&self, seed: u64, dtype: DType, device: &Device) -> Result<Params> {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut p = Params::new();
        for (name, shape) in self.shapes() {
            let t = if name.ends_with(".gamma") || name.contains(".gamma") {
                let v = if name.contains(".gamma2") { 0.1 } else { 1.0 };
                Tensor::full(v, shape[0], device)?.to_dtype(dtype)?
            } else if name.contains(".beta") || name == "out.bias" {
                Tensor::zeros(shape[0], dtype, device)?
            } else {
                let (o, i, k) = (shape[0], shape[1], shape[2]);
                let fan_in = if name.contains(".dw") {
                    k * k
                } else {
                    i * k * k
                };
                let w = nn::conv_init(&mut rng, (o, i, k, k), fan_in, dtype, device)?;
                if name == "out.weight" {
                    (w * 0.1)?
                } else {
                    w
                }
            };
            p.insert(&name, t)?;
        }
        Ok(p)
    }
}

/// The trainable generator.
pub struct Generator {
    pub arch: GenArch,
    pub params: Params,
}

impl Generator {
    pub fn new(arch: GenArch, seed: u64, dtype: DType, device: &Device) -> Result<Self> {
        Ok(Self {
            arch,
            params: arch.init(seed, dtype, device)?,
        })
    }

    /// `x` `[N,3,H,W]` in 0..1 (H, W multiples of 4) → the stylized picture, same shape, 0..1.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let p = &self.params;
        let conv_in = |x: &Tensor, name: &str, stride: usize| -> Result<Tensor> {
            let y = nn::conv(
                &nn::reflect_pad1(x)?,
                p.t(&format!("{name}.weight"))?,
                None,
                stride,
            )?;
            nn::instance_norm(
                &y,
                p.t(&format!("{name}.gamma"))?,
                p.t(&format!("{name}.beta"))?,
            )?
            .relu()
        };
        let x = conv_in(x, "e1", 1)?;
        let x = conv_in(&x, "e2", 2)?;
        let mut x = conv_in(&x, "e3", 2)?;
        for r in 0..self.arch.blocks {
            let mut h = x.clone();
            for j in 1..=2 {
                h = nn::depthwise3x3(&h, p.t(&format!("r{r}.dw{j}"))?, self.arch.border)?;
                h = nn::conv(&h, p.t(&format!("r{r}.pw{j}"))?, None, 1)?;
                h = nn::instance_norm(
                    &h,
                    p.t(&format!("r{r}.gamma{j}"))?,
                    p.t(&format!("r{r}.beta{j}"))?,
                )?;
                if j == 1 {
                    h = h.relu()?;
                }
            }
            x = (x + h)?;
        }
        let mut x = x;
        for name in ["d1", "d2"] {
            let h = nn::conv(&x, p.t(&format!("{name}.pw"))?, None, 1)?;
            let h = nn::upsample2(&h)?;
            let h = nn::depthwise3x3(&h, p.t(&format!("{name}.dw"))?, self.arch.border)?;
            x = nn::instance_norm(
                &h,
                p.t(&format!("{name}.gamma"))?,
                p.t(&format!("{name}.beta"))?,
            )?
            .relu()?;
        }
        let y = nn::conv(
            &nn::reflect_pad1(&x)?,
            p.t("out.weight")?,
            Some(p.t("out.bias")?),
            1,
        )?;
        nn::sigmoid(&y)
    }

    /// The fast CPU network with the current weights (for previews while training).
    pub fn fast(&self) -> Result<Fast> {
        Fast::new(self.arch, &self.params.snapshot()?)
    }
}

/// A conv whose output feeds an instance norm.
struct NormConv {
    wino: Option<Arc<cpu::Conv3x3>>,
    kxk: Option<Arc<cpu::ConvKxK>>,
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

/// Pointwise (at the low resolution, where it is 4× cheaper), ×2 upsampling, depthwise 3×3, norm.
struct Up {
    dw: (Tensor, Tensor),
    pw: Arc<cpu::ConvKxK>,
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

struct Block {
    dw: [(Tensor, Tensor); 2],
    pw: [Arc<cpu::ConvKxK>; 2],
    gamma: [Vec<f32>; 2],
    beta: [Vec<f32>; 2],
}

/// The generator on the fast f32 CPU kernels: Winograd for the stride-1 3×3 convolutions (their
/// 1-pixel zero-pad ring is skipped by the following norm), the k×k GEMM kernel for the strided
/// and 1×1 ones, the depthwise kernel, one-pass instance norms with fused ReLU, fused
/// upsample + reflect pad, and the sigmoid fused into the last convolution. Forward only.
pub struct Fast {
    border: Border,
    e: [NormConv; 3],
    blocks: Vec<Block>,
    d: [Up; 2],
    out: Arc<cpu::ConvKxK>,
}

fn get(values: &BTreeMap<String, Tensor>, name: &str) -> Result<Tensor> {
    values
        .get(name)
        .ok_or_else(|| candle_core::Error::Msg(format!("parameter {name} is missing")))?
        .to_device(&Device::Cpu)?
        .to_dtype(DType::F32)
}

impl Fast {
    /// Builds the kernels from parameter values (as [`Params::snapshot`] or a brush file gives).
    pub fn new(arch: GenArch, values: &BTreeMap<String, Tensor>) -> Result<Self> {
        let vec = |n: &str| -> Result<Vec<f32>> { get(values, n)?.to_vec1() };
        let norm_conv = |name: &str, stride: usize| -> Result<NormConv> {
            let w = get(values, &format!("{name}.weight"))?;
            let zeros = Tensor::zeros(w.dim(0)?, DType::F32, &Device::Cpu)?;
            let (wino, kxk) = if stride == 1 {
                (Some(Arc::new(cpu::Conv3x3::new(&w, &zeros)?)), None)
            } else {
                (None, Some(Arc::new(cpu::ConvKxK::new(&w, None, stride)?)))
            };
            Ok(NormConv {
                wino,
                kxk,
                gamma: vec(&format!("{name}.gamma"))?,
                beta: vec(&format!("{name}.beta"))?,
            })
        };
        let c3 = arch.channels[2];
        let zeros3 = Tensor::zeros(c3, DType::F32, &Device::Cpu)?;
        let blocks = (0..arch.blocks)
            .map(|r| {
                let dw = |j: usize| -> Result<(Tensor, Tensor)> {
                    Ok((get(values, &format!("r{r}.dw{j}"))?, zeros3.clone()))
                };
                let pw = |j: usize| -> Result<Arc<cpu::ConvKxK>> {
                    let w = get(values, &format!("r{r}.pw{j}"))?;
                    Ok(Arc::new(cpu::ConvKxK::new(&w, None, 1)?))
                };
                Ok(Block {
                    dw: [dw(1)?, dw(2)?],
                    pw: [pw(1)?, pw(2)?],
                    gamma: [vec(&format!("r{r}.gamma1"))?, vec(&format!("r{r}.gamma2"))?],
                    beta: [vec(&format!("r{r}.beta1"))?, vec(&format!("r{r}.beta2"))?],
                })
            })
            .collect::<Result<_>>()?;
        let up = |name: &str| -> Result<Up> {
            let dw = get(values, &format!("{name}.dw"))?;
            let zeros = Tensor::zeros(dw.dim(0)?, DType::F32, &Device::Cpu)?;
            let pw = get(values, &format!("{name}.pw"))?;
            Ok(Up {
                dw: (dw, zeros),
                pw: Arc::new(cpu::ConvKxK::new(&pw, None, 1)?),
                gamma: vec(&format!("{name}.gamma"))?,
                beta: vec(&format!("{name}.beta"))?,
            })
        };
        let out_w = get(values, "out.weight")?;
        let out_b = get(values, "out.bias")?;
        Ok(Self {
            border: arch.border,
            e: [
                norm_conv("e1", 1)?,
                norm_conv("e2", 2)?,
                norm_conv("e3", 2)?,
            ],
            blocks,
            d: [up("d1")?, up("d2")?],
            out: Arc::new(cpu::ConvKxK::new(&out_w, Some(&out_b), 1)?),
        })
    }

    fn norm_conv(&self, l: &NormConv, x: &Tensor) -> Result<Tensor> {
        let x = cpu::upsample_reflect_pad(x, 1, 1)?;
        let (y, margin) = match (&l.wino, &l.kxk) {
            (Some(w), _) => (cpu::conv3x3(&x, w, false)?, 1),
            (_, Some(k)) => (cpu::conv_kxk(&x, k, Act::None)?, 0),
            _ => candle_core::bail!("generator layer without weights"),
        };
        cpu::instance_norm(&y, &l.gamma, &l.beta, nn::EPS, margin, Act::Relu)
    }

    /// `x` `[1,3,H,W]` f32 CPU in 0..1, H and W multiples of 4 → the stylized picture in 0..1.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut x = x.clone();
        for l in &self.e {
            x = self.norm_conv(l, &x)?;
        }
        for b in &self.blocks {
            let mut h = x.clone();
            for j in 0..2 {
                let (w, bias) = &b.dw[j];
                h = cpu::depthwise3x3_border(&h, w, bias, self.border, Act::None)?;
                h = cpu::conv_kxk(&h, &b.pw[j], Act::None)?;
                let act = if j == 0 { Act::Relu } else { Act::None };
                h = cpu::instance_norm(&h, &b.gamma[j], &b.beta[j], nn::EPS, 0, act)?;
            }
            x = (x + h)?;
        }
        for l in &self.d {
            let h = cpu::conv_kxk(&x, &l.pw, Act::None)?;
            let h = cpu::upsample_reflect_pad(&h, 2, 0)?;
            let h = cpu::depthwise3x3_border(&h, &l.dw.0, &l.dw.1, self.border, Act::None)?;
            x = cpu::instance_norm(&h, &l.gamma, &l.beta, nn::EPS, 0, Act::Relu)?;
        }
        cpu::conv_kxk(
            &cpu::upsample_reflect_pad(&x, 1, 1)?,
            &self.out,
            Act::Sigmoid,
        )
    }
}
