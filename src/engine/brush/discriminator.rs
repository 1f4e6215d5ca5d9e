//! A small patch discriminator (PatchGAN, Isola et al. 2017): four stride-2 3×3 convolutions
//! with leaky ReLUs and a 3×3 head give one logit per ~63×63 px patch, i.e. it judges strokes,
//! not composition. No normalization (a batch of one), hinge loss (Lim & Ye 2017, as SAGAN).

use super::nn::{self, Params};
use candle_core::{DType, Device, Result, Tensor};

/// Channels of the four strided layers.
pub const CHANNELS: [usize; 4] = [32, 64, 128, 128];
const SLOPE: f64 = 0.2;

pub struct Discriminator {
    pub params: Params,
}

impl Discriminator {
    /// Every parameter's name and shape.
    pub fn shapes() -> Vec<(String, Vec<usize>)> {
        let mut s = Vec::new();
        let mut c_in = 3;
        for (i, &c) in CHANNELS.iter().enumerate() {
            s.push((format!("d{i}.weight"), vec![c, c_in, 3, 3]));
            s.push((format!("d{i}.bias"), vec![c]));
            c_in = c;
        }
        s.push(("head.weight".into(), vec![1, c_in, 3, 3]));
        s.push(("head.bias".into(), vec![1]));
        s
    }

    pub fn new(seed: u64, dtype: DType, device: &Device) -> Result<Self> {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut params = Params::new();
        for (name, shape) in Self::shapes() {
            let t = if name.ends_with(".bias") {
                Tensor::zeros(shape[0], dtype, device)?
            } else {
                let (o, i) = (shape[0], shape[1]);
                // Leaky-ReLU gain ≈ He; the head starts small so early logits are near 0.
                let w = nn::conv_init(&mut rng, (o, i, 3, 3), i * 9, dtype, device)?;
                if name == "head.weight" {
                    (w * 0.1)?
                } else {
                    w
                }
            };
            params.insert(&name, t)?;
        }
        Ok(Self { params })
    }

    /// `x` `[N,3,H,W]` in 0..1 → logits `[N,1,H/16,W/16]` (roughly).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let p = &self.params;
        let mut h = ((x * 2.0)? - 1.0)?;
        for i in 0..CHANNELS.len() {
            let y = nn::conv(
                &h.pad_with_zeros(2, 1, 1)?.pad_with_zeros(3, 1, 1)?,
                p.t(&format!("d{i}.weight"))?,
                Some(p.t(&format!("d{i}.bias"))?),
                2,
            )?;
            h = nn::leaky_relu(&y, SLOPE)?;
        }
        nn::conv(
            &h.pad_with_zeros(2, 1, 1)?.pad_with_zeros(3, 1, 1)?,
            p.t("head.weight")?,
            Some(p.t("head.bias")?),
            1,
        )
    }

    /// The discriminator's hinge loss: `mean(relu(1 − D(real))) + mean(relu(1 + D(fake)))`.
    pub fn loss(&self, real: &Tensor, fake: &Tensor) -> Result<Tensor> {
        let r = (1.0 - self.forward(real)?)?.relu()?.mean_all()?;
        let f = (self.forward(fake)? + 1.0)?.relu()?.mean_all()?;
        r + f
    }

    /// The generator's hinge loss: `−mean(D(fake))`.
    pub fn generator_loss(&self, fake: &Tensor) -> Result<Tensor> {
        self.forward(fake)?.mean_all()?.neg()
    }
}
