//! L-BFGS with a strong-Wolfe line search, on device tensors.
//!
//! Same algorithm and constants as `torch.optim.LBFGS(line_search_fn="strong_wolfe")`, so runs
//! compare one-to-one with the PyTorch reference. Fixed-step L-BFGS (neural-style's) is not offered:
//! from a content init it diverges or stalls. One call to [`Lbfgs::iterate`] is one iteration, so
//! the caller can report progress, pause, or change the objective between iterations.

mod vectors;

use candle_core::{Result, Tensor};
use std::collections::VecDeque;
use vectors::{abs_max, abs_sum, dot, dots, History};

/// The objective: loss and flat gradient at a flat point. Each call is one evaluation.
pub trait Objective {
    fn evaluate(&mut self, x: &Tensor) -> Result<(f64, Tensor)>;
}

impl<F: FnMut(&Tensor) -> Result<(f64, Tensor)>> Objective for F {
    fn evaluate(&mut self, x: &Tensor) -> Result<(f64, Tensor)> {
        self(x)
    }
}

#[derive(Debug, Clone, Copy)]
pub struct LbfgsConfig {
    pub history: usize,
    /// Step scale; 1 as in neural-style and torch's default.
    pub lr: f64,
    pub max_line_search: usize,
}

impl Default for LbfgsConfig {
    fn default() -> Self {
        Self {
            history: 100,
            lr: 1.0,
            max_line_search: 25,
        }
    }
}

/// Why an iteration did not move the point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stall {
    /// The search direction was not a descent direction or the step vanished: converged.
    Converged,
}

pub struct Lbfgs {
    cfg: LbfgsConfig,
    x: Tensor,
    loss: Option<f64>,
    grad: Option<Tensor>,
    dirs: VecDeque<Tensor>,
    steps: VecDeque<Tensor>,
    rho: VecDeque<f64>,
    h_diag: f64,
    /// The inverse-curvature scale the first iteration steps with (`-h·g`, step 1) instead of
    /// torch's tiny `1/|g|₁` probe, which costs ~15 line-search evaluations to grow out of.
    /// Known when a run carries on from an earlier one (a coarser stage, or before a slider moved).
    initial_scale: Option<f64>,
    d: Option<Tensor>,
    t: f64,
    prev_grad: Option<Tensor>,
    iterations: u64,
    evaluations: u64,
}

impl Lbfgs {
    /// Starts at `x0` (a flat tensor).
    pub fn new(x0: Tensor, cfg: LbfgsConfig) -> Self {
        Self {
            cfg,
            x: x0,
            loss: None,
            grad: None,
            dirs: VecDeque::new(),
            steps: VecDeque::new(),
            rho: VecDeque::new(),
            h_diag: 1.0,
            initial_scale: None,
            d: None,
            t: 0.0,
            prev_grad: None,
            iterations: 0,
            evaluations: 0,
        }
    }

    /// Starts the first iteration with the direction `-scale·g` and a unit step (see
    /// [`Lbfgs::curvature_scale`]); ignored unless finite and positive.
    pub fn with_initial_scale(mut self, scale: f64) -> Self {
        self.initial_scale = (scale.is_finite() && scale > 0.0).then_some(scale);
        self
    }

    /// The newest inverse-curvature scale `s·y / y·y`, once an iteration has measured one: what a
    /// following run on a similar objective can start from.
    pub fn curvature_scale(&self) -> Option<f64> {
        if self.dirs.is_empty() {
            self.initial_scale
        } else {
            Some(self.h_diag)
        }
    }

    pub fn x(&self) -> &Tensor {
        &self.x
    }

    /// Loss at the current point, once known.
    pub fn loss(&self) -> Option<f64> {
        self.loss
    }

    pub fn evaluations(&self) -> u64 {
        self.evaluations
    }

    /// Forgets the curvature history and the cached loss: for when the objective itself changed.
    /// The curvature scale is kept as the next first step's (a new weight changes it by a factor,
    /// which the line search absorbs in an evaluation or two).
    pub fn reset(&mut self) {
        self.initial_scale = self.curvature_scale();
        self.loss = None;
        self.grad = None;
        self.dirs.clear();
        self.steps.clear();
        self.rho.clear();
        self.h_diag = 1.0;
        self.d = None;
        self.prev_grad = None;
        self.iterations = 0;
    }

    fn eval(&mut self, f: &mut dyn Objective, x: &Tensor) -> Result<(f64, Tensor)> {
        self.evaluations += 1;
        f.evaluate(x)
    }

    /// One L-BFGS iteration: a direction from the history, then a strong-Wolfe line search.
    pub fn iterate(&mut self, f: &mut dyn Objective) -> Result<std::result::Result<f64, Stall>> {
        let (loss, g) = match (self.loss, self.grad.clone()) {
            (Some(l), Some(g)) => (l, g),
            _ => {
                let x = self.x.clone();
                let (l, g) = self.eval(f, &x)?;
                self.loss = Some(l);
                self.grad = Some(g.clone());
                (l, g)
            }
        };
        self.iterations += 1;
        let d = if self.iterations == 1 {
            self.dirs.clear();
            self.steps.clear();
            self.rho.clear();
            match self.initial_scale {
                Some(h) => {
                    self.h_diag = h;
                    (&g * -h)?
                }
                None => {
                    self.h_diag = 1.0;
                    g.neg()?
                }
            }
        } else {
            let (prev_g, prev_d) = match (&self.prev_grad, &self.d) {
                (Some(pg), Some(pd)) => (pg.clone(), pd.clone()),
                _ => candle_core::bail!("lbfgs: missing state after the first iteration"),
            };
            let y = (&g - &prev_g)?;
            let s = (prev_d * self.t)?;
            // Both in one read: on a GPU each read is a sync.
            let &[ys, yy] = dots(&[(&y, &s), (&y, &y)])?.as_slice() else {
                candle_core::bail!("lbfgs: expected two dots");
            };
            if ys > 1e-10 {
                if self.dirs.len() == self.cfg.history {
                    self.dirs.pop_front();
                    self.steps.pop_front();
                    self.rho.pop_front();
                }
                self.h_diag = ys / yy;
                self.dirs.push_back(y);
                self.steps.push_back(s);
                self.rho.push_back(1.0 / ys);
            }
            vectors::two_loop(
                &g,
                &History {
                    dirs: &self.dirs,
                    steps: &self.steps,
                    rho: &self.rho,
                    h_diag: self.h_diag,
                },
            )?
        };
        self.prev_grad = Some(g.clone());
        let t = if self.iterations == 1 && self.initial_scale.is_none() {
            let g1 = abs_sum(&g)?;
            (1.0f64).min(1.0 / g1) * self.cfg.lr
        } else {
            self.cfg.lr
        };
        let gtd = dot(&g, &d)?;
        // torch breaks on gtd > -tolerance_change; with the reference's tolerance of -1 that is gtd > 1.
        if !gtd.is_finite() || gtd >= 0.0 {
            self.d = Some(d);
            self.t = 0.0;
            return Ok(Err(Stall::Converged));
        }
        let x0 = self.x.clone();
        let (f_new, g_new, t) = self.strong_wolfe(f, &x0, t, &d, loss, &g, gtd)?;
        self.x = (&x0 + (&d * t)?)?;
        self.loss = Some(f_new);
        self.grad = Some(g_new);
        self.d = Some(d);
        self.t = t;
        Ok(Ok(f_new))
    }

    #[allow(clippy::too_many_arguments)]
    fn strong_wolfe(
        &mut self,
        f: &mut dyn Objective,
        x: &Tensor,
        mut t: f64,
        d: &Tensor,
        f0: f64,
        g0: &Tensor,
        gtd0: f64,
    ) -> Result<(f64, Tensor, f64)> {
        const C1: f64 = 1e-4;
        const C2: f64 = 0.9;
        const TOLERANCE_CHANGE: f64 = 1e-9;
        let max_ls = self.cfg.max_line_search;
        let d_norm = abs_max(d)?;
        let mut at = |s: &mut Self, t: f64| -> Result<(f64, Tensor, f64)> {
            let xt = (x + (d * t)?)?;
            let (fv, gv) = s.eval(f, &xt)?;
            let gtd = dot(&gv, d)?;
            Ok((fv, gv, gtd))
        };
        let (mut f_new, mut g_new, mut gtd_new) = at(self, t)?;
        let (mut t_prev, mut f_prev, mut g_prev, mut gtd_prev) = (0.0, f0, g0.clone(), gtd0);
        let mut done = false;
        let mut ls_iter = 0;
        // Bracketing phase.
        let mut bracket: Vec<(f64, f64, Tensor, f64)>;
        loop {
            if ls_iter >= max_ls {
                bracket = vec![
                    (0.0, f0, g0.clone(), gtd0),
                    (t, f_new, g_new.clone(), gtd_new),
                ];
                break;
            }
            if !f_new.is_finite() || f_new > f0 + C1 * t * gtd0 || (ls_iter > 1 && f_new >= f_prev)
            {
                bracket = vec![
                    (t_prev, f_prev, g_prev.clone(), gtd_prev),
                    (t, f_new, g_new.clone(), gtd_new),
                ];
                break;
            }
            if gtd_new.abs() <= -C2 * gtd0 {
                bracket = vec![(t, f_new, g_new.clone(), gtd_new)];
                done = true;
                break;
            }
            if gtd_new >= 0.0 {
                bracket = vec![
                    (t_prev, f_prev, g_prev.clone(), gtd_prev),
                    (t, f_new, g_new.clone(), gtd_new),
                ];
                break;
            }
            let min_step = t + 0.01 * (t - t_prev);
            let max_step = t * 10.0;
            let tmp = t;
            t = cubic_interpolate(
                t_prev,
                f_prev,
                gtd_prev,
                t,
                f_new,
                gtd_new,
                Some((min_step, max_step)),
            );
            t_prev = tmp;
            f_prev = f_new;
            g_prev = g_new.clone();
            gtd_prev = gtd_new;
            (f_new, g_new, gtd_new) = at(self, t)?;
            ls_iter += 1;
        }
        // Zoom phase.
        let mut insuf_progress = false;
        let order = |b: &Vec<(f64, f64, Tensor, f64)>| {
            if b[0].1 <= b[b.len() - 1].1 {
                (0, 1)
            } else {
                (1, 0)
            }
        };
        let (mut low, mut high) = order(&bracket);
        while !done && ls_iter < max_ls && bracket.len() == 2 {
            if (bracket[1].0 - bracket[0].0).abs() * d_norm < TOLERANCE_CHANGE {
                break;
            }
            let (b0, b1) = (&bracket[0], &bracket[1]);
            t = cubic_interpolate(b0.0, b0.1, b0.3, b1.0, b1.1, b1.3, None);
            let bmax = b0.0.max(b1.0);
            let bmin = b0.0.min(b1.0);
            let eps = 0.1 * (bmax - bmin);
            if (bmax - t).min(t - bmin) < eps {
                if insuf_progress || t >= bmax || t <= bmin {
                    t = if (t - bmax).abs() < (t - bmin).abs() {
                        bmax - eps
                    } else {
                        bmin + eps
                    };
                    insuf_progress = false;
                } else {
                    insuf_progress = true;
                }
            } else {
                insuf_progress = false;
            }
            (f_new, g_new, gtd_new) = at(self, t)?;
            ls_iter += 1;
            if !f_new.is_finite() || f_new > f0 + C1 * t * gtd0 || f_new >= bracket[low].1 {
                bracket[high] = (t, f_new, g_new.clone(), gtd_new);
                (low, high) = order(&bracket);
            } else {
                if gtd_new.abs() <= -C2 * gtd0 {
                    done = true;
                } else if gtd_new * (bracket[high].0 - bracket[low].0) >= 0.0 {
                    bracket[high] = bracket[low].clone();
                }
                bracket[low] = (t, f_new, g_new.clone(), gtd_new);
            }
        }
        let (t, f, g, _) = bracket.swap_remove(low.min(bracket.len() - 1));
        Ok((f, g, t))
    }
}

/// Minimizer of the cubic through two points with values and slopes, clamped to `bounds`.
fn cubic_interpolate(
    x1: f64,
    f1: f64,
    g1: f64,
    x2: f64,
    f2: f64,
    g2: f64,
    bounds: Option<(f64, f64)>,
) -> f64 {
    let (lo, hi) = bounds.unwrap_or(if x1 <= x2 { (x1, x2) } else { (x2, x1) });
    let d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
    let d2_square = d1 * d1 - g1 * g2;
    if d2_square >= 0.0 {
        let d2 = d2_square.sqrt();
        let min_pos = if x1 <= x2 {
            x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
        } else {
            x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
        };
        if min_pos.is_nan() {
            return (lo + hi) / 2.0;
        }
        min_pos.max(lo).min(hi)
    } else {
        (lo + hi) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    /// Rosenbrock in many dimensions: a curved valley that fixed-step methods struggle with.
    fn rosenbrock(x: &Tensor) -> Result<(f64, Tensor)> {
        let v: Vec<f64> = x.to_dtype(DType::F64)?.to_vec1()?;
        let n = v.len();
        let mut f = 0.0;
        let mut g = vec![0.0; n];
        for i in 0..n - 1 {
            let a = v[i + 1] - v[i] * v[i];
            let b = 1.0 - v[i];
            f += 100.0 * a * a + b * b;
            g[i] += -400.0 * v[i] * a - 2.0 * b;
            g[i + 1] += 200.0 * a;
        }
        let g: Vec<f32> = g.into_iter().map(|x| x as f32).collect();
        Ok((f, Tensor::from_vec(g, n, &Device::Cpu)?))
    }

    #[test]
    fn minimizes_rosenbrock() -> Result<()> {
        let x0 = Tensor::from_vec(vec![-1.2f32, 1.0, -1.2, 1.0], 4, &Device::Cpu)?;
        let mut opt = Lbfgs::new(x0, LbfgsConfig::default());
        let mut f = rosenbrock;
        let mut last = f64::INFINITY;
        for _ in 0..100 {
            match opt.iterate(&mut f)? {
                Ok(l) => last = l,
                Err(Stall::Converged) => break,
            }
        }
        assert!(last < 1e-6, "final loss {last}");
        let x: Vec<f32> = opt.x().to_vec1()?;
        for v in x {
            assert!((v - 1.0).abs() < 1e-2, "{v}");
        }
        Ok(())
    }

    /// `½ Σ aᵢ xᵢ²` with curvatures 50..150: the inverse scale is ~1/100.
    fn bowl(x: &Tensor) -> Result<(f64, Tensor)> {
        let v: Vec<f32> = x.to_vec1()?;
        let a: Vec<f32> = (0..v.len()).map(|i| 50.0 + (i % 101) as f32).collect();
        let f: f64 = v
            .iter()
            .zip(&a)
            .map(|(x, a)| 0.5 * f64::from(a * x * x))
            .sum();
        let g: Vec<f32> = v.iter().zip(&a).map(|(x, a)| a * x).collect();
        Ok((f, Tensor::from_vec(g, v.len(), &Device::Cpu)?))
    }

    /// Started with a known curvature scale, the first iteration needs one or two evaluations
    /// (plus the one at the start); torch's `1/|g|₁` probe needs many more to grow to a step.
    #[test]
    fn a_known_curvature_scale_saves_the_first_line_search() -> Result<()> {
        let x0 = Tensor::from_vec(vec![3f32; 400], 400, &Device::Cpu)?;
        let mut probe = Lbfgs::new(x0.clone(), LbfgsConfig::default());
        let mut f = bowl;
        probe.iterate(&mut f)?.expect("a step");
        let measured = probe.curvature_scale();
        assert_eq!(measured, None, "one iteration has no curvature pair yet");
        probe.iterate(&mut f)?.expect("a step");
        let h = probe.curvature_scale().expect("a measured scale");
        assert!((0.004..0.03).contains(&h), "scale {h}");

        let mut carried = Lbfgs::new(x0, LbfgsConfig::default()).with_initial_scale(h);
        let l = carried.iterate(&mut f)?.expect("a step");
        assert!(
            carried.evaluations() <= 3,
            "{} evaluations",
            carried.evaluations()
        );
        assert!(l < 0.2 * 0.5 * 100.0 * 9.0 * 400.0, "loss {l}");
        assert!(
            probe.evaluations() >= 6,
            "{} evaluations",
            probe.evaluations()
        );
        // Non-finite or non-positive scales are ignored.
        let x1 = Tensor::zeros(4, candle_core::DType::F32, &Device::Cpu)?;
        assert_eq!(
            Lbfgs::new(x1, LbfgsConfig::default())
                .with_initial_scale(f64::NAN)
                .curvature_scale(),
            None
        );
        Ok(())
    }

    /// Huge loss weights give gradients near 1e22: their products overflow f32 (max 3.4e38),
    /// which made the first direction's slope -inf and the run "converge" at once, unchanged.
    #[test]
    fn huge_gradients_still_take_steps() -> Result<()> {
        const K: f64 = 1e20;
        let huge = |x: &Tensor| -> Result<(f64, Tensor)> {
            let (f, g) = bowl(x)?;
            Ok((f * K, (g * K)?))
        };
        let x0 = Tensor::from_vec(vec![3f32; 400], 400, &Device::Cpu)?;
        let start = bowl(&x0)?.0 * K;
        let mut opt = Lbfgs::new(x0, LbfgsConfig::default());
        let mut f = huge;
        let mut last = start;
        for _ in 0..5 {
            match opt.iterate(&mut f)? {
                Ok(l) => last = l,
                Err(Stall::Converged) => break,
            }
        }
        assert!(
            opt.iterations >= 5,
            "stopped after {} iterations",
            opt.iterations
        );
        assert!(last < 0.01 * start, "loss {last:e} from {start:e}");
        Ok(())
    }

    #[test]
    fn cubic_interpolation_finds_quadratic_minimum() {
        // f = (x-1)^2: f(0)=1, f'(0)=-2; f(3)=4, f'(3)=4 → minimum at 1.
        let t = cubic_interpolate(0.0, 1.0, -2.0, 3.0, 4.0, 4.0, None);
        assert!((t - 1.0).abs() < 1e-9, "{t}");
    }
}
