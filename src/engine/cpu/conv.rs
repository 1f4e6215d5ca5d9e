//! The 3×3 convolution as candle custom ops: forward = Winograd with fused bias+ReLU,
//! backward = input gradient only (weights are constants when optimizing an image).

use super::winograd::{conv as wino_conv, WinoWeights};
use super::{cpu_slice, four_dims};
use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, DType, Layout, Result, Shape, Tensor};
use std::sync::Arc;

/// A 3×3 stride-1 pad-1 convolution with its weights pre-transformed once (Winograd/packed).
///
/// Holds two transformed copies: the weights for the forward pass and the flipped, transposed
/// weights whose convolution is the input gradient.
pub struct Conv3x3 {
    c_in: usize,
    c_out: usize,
    bias: Vec<f32>,
    fwd: WinoWeights,
    bwd: WinoWeights,
}

impl Conv3x3 {
    /// `weight` [out,in,3,3] f32 and `bias` [out] on the CPU device.
    pub fn new(weight: &Tensor, bias: &Tensor) -> Result<Self> {
        let (c_out, c_in, kh, kw) = weight.dims4()?;
        if (kh, kw) != (3, 3) {
            bail!(
                "Conv3x3: weight must be [out,in,3,3], got {:?}",
                weight.shape()
            );
        }
        if bias.dims() != [c_out] {
            bail!("Conv3x3: bias must be [{c_out}], got {:?}", bias.shape());
        }
        let w: Vec<f32> = weight.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?;
        let b: Vec<f32> = bias.to_dtype(DType::F32)?.to_vec1()?;
        // dX = conv(dY, W') with W'[c][k][dy][dx] = W[k][c][2-dy][2-dx]
        let mut wt = vec![0f32; w.len()];
        for k in 0..c_out {
            for c in 0..c_in {
                for t in 0..9 {
                    wt[(c * c_out + k) * 9 + (8 - t)] = w[(k * c_in + c) * 9 + t];
                }
            }
        }
        Ok(Conv3x3 {
            c_in,
            c_out,
            bias: b,
            fwd: WinoWeights::new(&w, c_out, c_in),
            bwd: WinoWeights::new(&wt, c_in, c_out),
        })
    }

    pub fn in_channels(&self) -> usize {
        self.c_in
    }

    pub fn out_channels(&self) -> usize {
        self.c_out
    }
}

/// Forward op: `y = relu?(conv(x) + b)`.
struct ConvFwd {
    conv: Arc<Conv3x3>,
    relu: bool,
}

impl CustomOp1 for ConvFwd {
    fn name(&self) -> &'static str {
        "atelier-conv3x3"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = four_dims(l, "conv3x3")?;
        if c != self.conv.c_in {
            bail!(
                "conv3x3: input has {c} channels, weights expect {}",
                self.conv.c_in
            );
        }
        let x = cpu_slice(s, l, "conv3x3")?;
        let y = wino_conv(
            x,
            None,
            n,
            h,
            w,
            &self.conv.fwd,
            Some(&self.conv.bias),
            self.relu,
        );
        Ok((CpuStorage::F32(y), Shape::from((n, self.conv.c_out, h, w))))
    }

    fn bwd(&self, _x: &Tensor, y: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        let dy = dy.contiguous()?;
        let op = ConvBwd {
            conv: self.conv.clone(),
        };
        let dx = if self.relu {
            let y = y.contiguous()?;
            dy.apply_op2_no_bwd(&y, &op)?
        } else {
            // The mask input is unused without ReLU; pass dy itself.
            dy.apply_op2_no_bwd(&dy, &ConvBwdNoMask(op))?
        };
        Ok(Some(dx))
    }
}

/// Input gradient `dx = conv(dy ⊙ [y > 0], W flipped+transposed)`.
struct ConvBwd {
    conv: Arc<Conv3x3>,
}

impl ConvBwd {
    fn run(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        mask: Option<&[f32]>,
    ) -> Result<(CpuStorage, Shape)> {
        let (n, k, h, w) = four_dims(l1, "conv3x3 backward")?;
        if k != self.conv.c_out {
            bail!(
                "conv3x3 backward: gradient has {k} channels, expected {}",
                self.conv.c_out
            );
        }
        let dy = cpu_slice(s1, l1, "conv3x3 backward")?;
        let dx = wino_conv(dy, mask, n, h, w, &self.conv.bwd, None, false);
        Ok((CpuStorage::F32(dx), Shape::from((n, self.conv.c_in, h, w))))
    }
}

impl CustomOp2 for ConvBwd {
    fn name(&self) -> &'static str {
        "atelier-conv3x3-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        if l1.shape() != l2.shape() {
            bail!("conv3x3 backward: gradient and output shapes differ");
        }
        let y = cpu_slice(s2, l2, "conv3x3 backward")?;
        self.run(s1, l1, Some(y))
    }
}

struct ConvBwdNoMask(ConvBwd);

impl CustomOp2 for ConvBwdNoMask {
    fn name(&self) -> &'static str {
        "atelier-conv3x3-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        _s2: &CpuStorage,
        _l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.0.run(s1, l1, None)
    }
}

/// `y = relu?(conv3x3(x) + b)`, differentiable w.r.t. `x` only.
pub fn conv3x3(x: &Tensor, conv: &Arc<Conv3x3>, relu: bool) -> Result<Tensor> {
    let x = x.contiguous()?;
    x.apply_op1(ConvFwd {
        conv: conv.clone(),
        relu,
    })
}
