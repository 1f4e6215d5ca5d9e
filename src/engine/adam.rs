//! Adam on device tensors, as `torch.optim.Adam` computes it. The learning rate is in 0..255 pixel
//! units whatever the network's preprocessing, because the image is optimized in pixel space.

use candle_core::{Result, Tensor};

#[derive(Debug, Clone, Copy)]
pub struct AdamConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
}

impl AdamConfig {
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

pub struct Adam {
    cfg: AdamConfig,
    m: Option<Tensor>,
    v: Option<Tensor>,
    t: i32,
}

impl Adam {
    pub fn new(cfg: AdamConfig) -> Self {
        Self {
            cfg,
            m: None,
            v: None,
            t: 0,
        }
    }

    pub fn set_lr(&mut self, lr: f64) {
        self.cfg.lr = lr;
    }

    /// Returns `x` moved one step against `grad`.
    pub fn step(&mut self, x: &Tensor, grad: &Tensor) -> Result<Tensor> {
        let c = self.cfg;
        self.t += 1;
        let m = match &self.m {
            Some(m) => ((m * c.beta1)? + (grad * (1.0 - c.beta1))?)?,
            None => (grad * (1.0 - c.beta1))?,
        };
        let g2 = grad.sqr()?;
        let v = match &self.v {
            Some(v) => ((v * c.beta2)? + (g2 * (1.0 - c.beta2))?)?,
            None => (g2 * (1.0 - c.beta2))?,
        };
        let bc1 = 1.0 - c.beta1.powi(self.t);
        let bc2 = 1.0 - c.beta2.powi(self.t);
        let denom = ((v.sqrt()? / bc2.sqrt())? + c.eps)?;
        let x = (x - (m.div(&denom)? * (c.lr / bc1))?)?;
        self.m = Some(m);
        self.v = Some(v);
        Ok(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn first_step_moves_by_lr_against_the_gradient_sign() -> Result<()> {
        let x = Tensor::new(&[1.0f32, -2.0, 3.0], &Device::Cpu)?;
        let g = Tensor::new(&[0.5f32, -4.0, 1e-3], &Device::Cpu)?;
        let mut adam = Adam::new(AdamConfig::new(10.0));
        let x1: Vec<f32> = adam.step(&x, &g)?.to_vec1()?;
        // Bias-corrected first step is lr·sign(g) (up to eps).
        assert!((x1[0] - (1.0 - 10.0)).abs() < 1e-3, "{x1:?}");
        assert!((x1[1] - (-2.0 + 10.0)).abs() < 1e-3, "{x1:?}");
        assert!((x1[2] - (3.0 - 10.0)).abs() < 1e-2, "{x1:?}");
        Ok(())
    }
}
