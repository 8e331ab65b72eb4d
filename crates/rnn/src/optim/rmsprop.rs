//! RMSprop.

use ndarray::{ArrayD, Zip};

use super::*;
use crate::error::Result;
use crate::params::Parameters;

// ---------------------------------------------------------------------------------------------------------
// RMSprop
// ---------------------------------------------------------------------------------------------------------

/// RMSprop (Hinton's lecture 6e), as `torch.optim.RMSprop(params, lr)`: divide the gradient by a running
/// root-mean-square of recent gradients.
///
/// For every parameter tensor θ with gradient g, running mean square v (starting at 0), smoothing α = 0.99
/// and ε = 1e-8 (added *outside* the square root, as PyTorch does):
/// ```text
/// (A.11) g ← g + λ θ                         (L2 weight decay, only if λ ≠ 0)
/// (A.12) v ← α v + (1 − α) g²
/// (A.13) m ← α m + (1 − α) g                 (centered only; m starts at 0)
/// (A.14) d = √v + ε,   or d = √(v − m²) + ε when centered
/// (A.15) θ ← θ − η g / d                     (without momentum)
/// (A.16) b ← μ b + g / d ;  θ ← θ − η b      (with momentum μ > 0, instead of A.15)
/// ```
/// State: `step`, `square_avg.<parameter>`, and `momentum_buffer.<parameter>` if μ > 0,
/// `grad_avg.<parameter>` if centered.
///
/// ```
/// use rnn::optim::{Optimizer, RmsProp};
/// use rnn::prelude::*;
///
/// let mut model = Elman::new(2, 3, &mut rnn::init::rng(0));
/// let mut grads = model.zeros_like();
/// grads.bias_ih.fill(2.0);
/// let before = model.bias_ih[0];
/// RmsProp::new(0.01).step(&mut model, &grads);
/// // v = 0.01 · 4 = 0.04, d = 0.2 + 1e-8: the first step is ≈ 10 η, as in PyTorch.
/// assert!((before - model.bias_ih[0] - 0.01 * 2.0 / (0.2 + 1e-8)).abs() < 1e-12);
/// ```
#[derive(Clone, Debug)]
pub struct RmsProp {
    lr: f64,
    alpha: f64,
    eps: f64,
    weight_decay: f64,
    momentum: f64,
    centered: bool,
    slots: Slots,
}

impl RmsProp {
    /// RMSprop with learning rate `lr`, α = 0.99, ε = 1e-8, not centered, no momentum, no weight decay.
    pub fn new(lr: f64) -> Self {
        check_lr("RmsProp", lr);
        RmsProp {
            lr,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
            slots: Slots::default(),
        }
    }

    /// Sets the smoothing constant α of (A.12), in [0, 1] (default 0.99).
    pub fn alpha(mut self, alpha: f64) -> Self {
        assert!(
            (0.0..=1.0).contains(&alpha),
            "RmsProp: alpha must be in [0, 1], got {alpha}"
        );
        self.alpha = alpha;
        self
    }

    /// Sets ε of (A.14) (default 1e-8).
    pub fn eps(mut self, eps: f64) -> Self {
        assert!(
            eps.is_finite() && eps >= 0.0,
            "RmsProp: eps must be finite and ≥ 0, got {eps}"
        );
        self.eps = eps;
        self
    }

    /// Sets the L2 weight decay λ of (A.11) (default 0).
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        check_weight_decay("RmsProp", weight_decay);
        self.weight_decay = weight_decay;
        self
    }

    /// Sets the momentum μ of (A.16), in [0, 1) (default 0: no momentum buffer).
    pub fn momentum(mut self, momentum: f64) -> Self {
        assert!(
            (0.0..1.0).contains(&momentum),
            "RmsProp: momentum must be in [0, 1), got {momentum}"
        );
        self.momentum = momentum;
        self
    }

    /// Centers the second moment by the running mean of the gradient, (A.13) and (A.14) (default false).
    pub fn centered(mut self, centered: bool) -> Self {
        self.centered = centered;
        self
    }

    fn kinds(&self) -> Vec<(&'static str, f64)> {
        let mut kinds = vec![("square_avg", 0.0)];
        if self.momentum > 0.0 {
            kinds.push(("momentum_buffer", 0.0));
        }
        if self.centered {
            kinds.push(("grad_avg", 0.0));
        }
        kinds
    }
}

impl Optimizer for RmsProp {
    fn step(&mut self, params: &mut dyn Parameters, grads: &dyn Parameters) {
        self.slots.begin("RmsProp", &self.kinds(), &*params, grads);
        let (lr, alpha, eps, wd, mu) = (
            self.lr,
            self.alpha,
            self.eps,
            self.weight_decay,
            self.momentum,
        );
        let centered = self.centered;
        self.slots.for_each(params, grads, |mut p, g, bufs| {
            // The buffers are [square_avg, momentum_buffer if μ > 0, grad_avg if centered].
            let (v, rest) = bufs.split_first_mut().expect("square_avg");
            let mut rest = rest.iter_mut();
            let b = if mu > 0.0 { rest.next() } else { None };
            let m = if centered { rest.next() } else { None };
            // ANCHOR: rmsprop_update
            // (A.11) g ← g + λθ
            let g = if wd != 0.0 {
                &g + &(&p * wd)
            } else {
                g.to_owned()
            };
            // (A.12) v ← α v + (1 − α) g²
            Zip::from(&mut *v)
                .and(&g)
                .for_each(|v, &g| *v = alpha * *v + (1.0 - alpha) * g * g);
            // (A.14) d = √v + ε  (or, centered, (A.13) m ← α m + (1 − α) g and d = √(v − m²) + ε)
            let d = match m {
                Some(m) => {
                    Zip::from(&mut *m)
                        .and(&g)
                        .for_each(|m, &g| *m = alpha * *m + (1.0 - alpha) * g);
                    Zip::from(&*v)
                        .and(&*m)
                        .map_collect(|&v, &m| (v - m * m).sqrt() + eps)
                }
                None => v.mapv(|v| v.sqrt() + eps),
            };
            match b {
                Some(b) => {
                    // (A.16) b ← μ b + g / d ;  θ ← θ − η b
                    Zip::from(&mut *b)
                        .and(&g)
                        .and(&d)
                        .for_each(|b, &g, &d| *b = mu * *b + g / d);
                    p.zip_mut_with(&*b, |p, &b| *p -= lr * b);
                }
                None => {
                    // (A.15) θ ← θ − η g / d
                    Zip::from(p)
                        .and(&g)
                        .and(&d)
                        .for_each(|p, &g, &d| *p -= lr * (g / d));
                }
            }
            // ANCHOR_END: rmsprop_update
        });
    }

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        check_lr("RmsProp", lr);
        self.lr = lr;
    }

    fn state(&self) -> Vec<(String, ArrayD<f64>)> {
        self.slots.export(&self.kinds())
    }

    fn load_state(&mut self, state: Vec<(String, ArrayD<f64>)>) -> Result<()> {
        let kinds = self.kinds();
        self.slots.import("RmsProp", &kinds, state)
    }
}
