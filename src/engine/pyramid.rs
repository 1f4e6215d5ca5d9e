//! The image as a pyramid of levels: `x = z₀ + λ·U(z₁ + λ·U(z₂ + …))`, with `U` a 2× bilinear
//! upsampling. The optimizer moves the levels, so one step can move a broad region as easily as
//! a pixel: VGG's losses are steep for fine detail and flat for broad changes, and in plain
//! pixels the broad part of a picture is what a short run leaves unfinished (STROTSS and NNST
//! optimize such pyramids). Built from differentiable tensor ops, so the gradient in the levels
//! is exact and the pyramid runs on any device.

use candle_core::{Result, Tensor};

/// How much each coarser level counts relative to the one above it. A smooth gradient is
/// amplified 4λ² per level (each coarse value moves four pixels): at λ = 1 (16× two levels
/// down) the steps overshoot and push pixels out of range; 0.6 (1.44× per level) gave the
/// lowest losses after a default run, ahead of 0.5, 0.7 and 0.8 (docs/speed.md).
pub const LEVEL_WEIGHT: f32 = 0.6;

/// The coarsest level keeps at least this many pixels on its short side.
const MIN_SIDE: usize = 8;

/// Level sizes for one image size.
#[derive(Debug, Clone, PartialEq)]
pub struct Pyramid {
    /// `(h, w)` of each level, finest (the image) first.
    levels: Vec<(usize, usize)>,
    lambda: f64,
}

/// `[1,c,h,w]` → `[1,c,oh,ow]` (`oh ≤ 2h`, `ow ≤ 2w`): 2× bilinear upsampling with half-pixel
/// centres and clamped edges, as tensor ops so autograd gives its exact adjoint.
fn upsample(t: &Tensor, oh: usize, ow: usize) -> Result<Tensor> {
    let t = upsample_dim(t, 2, oh)?;
    upsample_dim(&t, 3, ow)
}

/// Doubles dimension `d` (2 or 3) of a 4-D tensor, then keeps the first `out` entries.
fn upsample_dim(t: &Tensor, d: usize, out: usize) -> Result<Tensor> {
    let n = t.dim(d)?;
    let (prev, next) = if n == 1 {
        (t.clone(), t.clone())
    } else {
        (
            Tensor::cat(&[&t.narrow(d, 0, 1)?, &t.narrow(d, 0, n - 1)?], d)?,
            Tensor::cat(&[&t.narrow(d, 1, n - 1)?, &t.narrow(d, n - 1, 1)?], d)?,
        )
    };
    let near = (t * 0.75)?;
    let even = (&near + (prev * 0.25)?)?;
    let odd = (&near + (next * 0.25)?)?;
    let mut dims = t.dims().to_vec();
    dims[d] = 2 * n;
    Tensor::stack(&[&even, &odd], d + 1)?
        .reshape(dims)?
        .narrow(d, 0, out)
}

impl Pyramid {
    /// Levels halve (rounding up) while the coarsest keeps at least 8 pixels on its short side,
    /// `levels` in all at most (1 = plain pixels).
    pub fn new(h: usize, w: usize, levels: usize) -> Self {
        let mut sizes = vec![(h, w)];
        while sizes.len() < levels.max(1) {
            let (lh, lw) = sizes[sizes.len() - 1];
            let (nh, nw) = (lh.div_ceil(2), lw.div_ceil(2));
            if nh.min(nw) < MIN_SIDE {
                break;
            }
            sizes.push((nh, nw));
        }
        Self {
            levels: sizes,
            lambda: f64::from(LEVEL_WEIGHT),
        }
    }

    /// Floats in the flat parameter vector.
    pub fn len(&self) -> usize {
        self.levels.iter().map(|(h, w)| 3 * h * w).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The flat parameters that give `image` (`[1,3,H,W]`): the image in the finest level,
    /// zeros in the others.
    pub fn encode(&self, image: &Tensor) -> Result<Tensor> {
        let fine = image.flatten_all()?;
        let rest = self.len() - fine.dim(0)?;
        if rest == 0 {
            return Ok(fine);
        }
        let zeros = Tensor::zeros(rest, fine.dtype(), fine.device())?;
        Tensor::cat(&[&fine, &zeros], 0)
    }

    /// The image `[1,3,H,W]` that the flat parameters `z` describe (differentiable in `z`).
    pub fn synthesize(&self, z: &Tensor) -> Result<Tensor> {
        let mut offsets = Vec::with_capacity(self.levels.len());
        let mut at = 0;
        for (h, w) in &self.levels {
            offsets.push(at);
            at += 3 * h * w;
        }
        let level = |k: usize| -> Result<Tensor> {
            let (h, w) = self.levels[k];
            z.narrow(0, offsets[k], 3 * h * w)?.reshape((1, 3, h, w))
        };
        let last = self.levels.len() - 1;
        let mut t = level(last)?;
        for k in (0..last).rev() {
            let (h, w) = self.levels[k];
            t = (level(k)? + (upsample(&t, h, w)? * self.lambda)?)?;
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn pattern(n: usize, a: usize, b: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * a) % b) as f32 - (b / 2) as f32)
            .collect()
    }

    /// The upsampling matches the formula at even and odd output sizes, and autograd's
    /// gradient is its exact adjoint: ⟨U a, b⟩ = ⟨a, Uᵀ b⟩.
    #[test]
    fn upsampling_and_its_adjoint() -> Result<()> {
        let dev = Device::Cpu;
        for (h, w, oh, ow) in [(3, 4, 6, 8), (3, 4, 5, 7), (1, 2, 2, 3)] {
            let a = Var::from_vec(pattern(3 * h * w, 37, 11), (1, 3, h, w), &dev)?;
            let b = Tensor::from_vec(pattern(3 * oh * ow, 17, 7), (1, 3, oh, ow), &dev)?;
            let ua = upsample(a.as_tensor(), oh, ow)?;
            // Output (1, 1) blends source rows 0/1 and columns 0/1 as 0.75/0.25 each (a single
            // source row is both).
            let av: Vec<f32> = a.as_tensor().flatten_all()?.to_vec1()?;
            let r1 = if h > 1 { w } else { 0 };
            let want = 0.5625 * av[0] + 0.1875 * av[1] + 0.1875 * av[r1] + 0.0625 * av[r1 + 1];
            let got: f32 = ua.flatten_all()?.to_vec1::<f32>()?[ow + 1];
            assert!((want - got).abs() < 1e-5, "{want} vs {got}");
            let l = (&ua * &b)?.sum_all()?;
            let grads = l.backward()?;
            let utb = grads.get(a.as_tensor()).expect("gradient");
            let lhs = f64::from(l.to_scalar::<f32>()?);
            let rhs = f64::from((a.as_tensor() * utb)?.sum_all()?.to_scalar::<f32>()?);
            assert!((lhs - rhs).abs() < 1e-3, "{lhs} vs {rhs}");
        }
        Ok(())
    }

    #[test]
    fn encode_then_synthesize_is_the_image() -> Result<()> {
        let p = Pyramid::new(36, 70, 4);
        assert_eq!(p.levels, vec![(36, 70), (18, 35), (9, 18)]);
        let n = 3 * 36 * 70;
        let img = Tensor::arange(0f32, n as f32, &Device::Cpu)?.reshape((1, 3, 36, 70))?;
        let z = p.encode(&img)?;
        assert_eq!(z.dim(0)?, p.len());
        let back = p.synthesize(&z)?;
        let d = (back - &img)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert_eq!(d, 0.0);
        Ok(())
    }

    /// A coarse level moves a broad region: a unit at the coarsest level shows in many pixels.
    #[test]
    fn a_coarse_level_moves_a_region() -> Result<()> {
        let p = Pyramid::new(32, 32, 3);
        let mut z = vec![0f32; p.len()];
        let coarse = 3 * 32 * 32 + 3 * 16 * 16;
        z[coarse + 3 * 8 + 3] = 1.0; // level 2 (8×8), channel 0, row 3, column 3
        let x = p.synthesize(&Tensor::from_vec(z, p.len(), &Device::Cpu)?)?;
        let v: Vec<f32> = x.flatten_all()?.to_vec1()?;
        let touched = v.iter().filter(|x| x.abs() > 1e-6).count();
        assert!(touched >= 36, "{touched} pixels moved");
        Ok(())
    }
}
