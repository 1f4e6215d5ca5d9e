//! Adam over a [`Params`] set, with its moments exposed so a checkpoint can carry them (candle-nn's
//! optimizer keeps them private, and a resumed run that restarts Adam's moments takes a jump).

use super::nn::Params;
use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor};
use std::collections::BTreeMap;

pub struct Adam {
    pub lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    /// Steps taken (for the bias correction).
    pub t: u64,
    m: BTreeMap<String, Tensor>,
    v: BTreeMap<String, Tensor>,
}

impl Adam {
    pub fn new(lr: f64, beta1: f64) -> Self {
        Self {
            lr,
            beta1,
            beta2: 0.999,
            eps: 1e-8,
            t: 0,
            m: BTreeMap::new(),
            v: BTreeMap::new(),
        }
    }

    /// One step for every parameter that has a gradient in `grads`.
    pub fn step(&mut self, params: &Params, grads: &GradStore) -> Result<()> {
        self.t += 1;
        let t = i32::try_from(self.t).unwrap_or(i32::MAX);
        let bc1 = 1.0 - self.beta1.powi(t);
        let bc2 = 1.0 - self.beta2.powi(t);
        for (name, var) in params.iter() {
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            let m = match self.m.get(name) {
                Some(m) => ((m * self.beta1)? + (g * (1.0 - self.beta1))?)?,
                None => (g * (1.0 - self.beta1))?,
            };
            let v = match self.v.get(name) {
                Some(v) => ((v * self.beta2)? + (g.sqr()? * (1.0 - self.beta2))?)?,
                None => (g.sqr()? * (1.0 - self.beta2))?,
            };
            let denom = ((v.sqrt()? / bc2.sqrt())? + self.eps)?;
            let update = (m.div(&denom)? * (self.lr / bc1))?;
            var.set(&(var.as_tensor() - update)?)?;
            self.m.insert(name.clone(), m);
            self.v.insert(name.clone(), v);
        }
        Ok(())
    }

    /// The moments as named tensors (`{prefix}m.{param}`, `{prefix}v.{param}`).
    pub fn state(&self, prefix: &str) -> BTreeMap<String, Tensor> {
        let mut s = BTreeMap::new();
        for (k, m) in &self.m {
            s.insert(format!("{prefix}m.{k}"), m.clone());
        }
        for (k, v) in &self.v {
            s.insert(format!("{prefix}v.{k}"), v.clone());
        }
        s
    }

    /// Restores moments saved by [`Adam::state`]; those missing start at zero.
    pub fn restore(&mut self, prefix: &str, t: u64, state: &BTreeMap<String, Tensor>) {
        self.t = t;
        for (k, v) in state {
            if let Some(name) = k.strip_prefix(&format!("{prefix}m.")) {
                self.m.insert(name.to_string(), v.clone());
            } else if let Some(name) = k.strip_prefix(&format!("{prefix}v.")) {
                self.v.insert(name.to_string(), v.clone());
            }
        }
    }
}
