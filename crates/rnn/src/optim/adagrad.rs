//! Adagrad.

use ndarray::{ArrayD, Zip};

use super::*;
use crate::error::Result;
use crate::params::Parameters;

// ---------------------------------------------------------------------------------------------------------
// Adagrad
// ---------------------------------------------------------------------------------------------------------

/// Adagrad (Duchi et al. 2011), as `torch.optim.Adagrad(params, lr)`: each parameter's step shrinks with
/// the sum of its squared gradients.
///
/// For every parameter tensor θ with gradient g and running sum s (starting at the initial accumulator
/// value, 0 by default), at step t:
/// ```text
/// (A.7)  g ← g + λ θ                        (L2 weight decay, only if λ ≠ 0)
/// (A.8)  η_t = η / (1 + (t − 1) · decay)     (learning-rate decay, 0 by default)
/// (A.9)  s ← s + g²
/// (A.10) θ ← θ − η_t · g / (√s + ε)          (ε = 1e-10)
/// ```
/// State: `step`, `sum.<parameter>`.
///
/// ```
/// use rnn::optim::{Adagrad, Optimizer};
/// use rnn::prelude::*;
///
/// let mut model = Elman::new(2, 3, &mut rnn::init::rng(0));
/// let mut grads = model.zeros_like();
/// grads.bias_ih.fill(3.0);
/// let before = model.bias_ih[0];
/// let mut opt = Adagrad::new(0.5);
/// opt.step(&mut model, &grads); // s = 9:  θ moves by 0.5 · 3/3
/// opt.step(&mut model, &grads); // s = 18: θ moves by 0.5 · 3/√18
/// let moved = 0.5 + 0.5 * 3.0 / 18f64.sqrt();
/// assert!((before - model.bias_ih[0] - moved).abs() < 1e-9);
/// ```
#[derive(Clone, Debug)]
pub struct Adagrad {
    lr: f64,
    lr_decay: f64,
    weight_decay: f64,
    initial_accumulator_value: f64,
    eps: f64,
    slots: Slots,
}

impl Adagrad {
    /// Adagrad with learning rate `lr`, ε = 1e-10, sums starting at 0, no decay of any kind.
    pub fn new(lr: f64) -> Self {
        check_lr("Adagrad", lr);
        Adagrad {
            lr,
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
            slots: Slots::default(),
        }
    }

    /// Sets the learning-rate decay of (A.8) (default 0).
    pub fn lr_decay(mut self, lr_decay: f64) -> Self {
        assert!(
            lr_decay.is_finite() && lr_decay >= 0.0,
            "Adagrad: lr_decay must be finite and ≥ 0, got {lr_decay}"
        );
        self.lr_decay = lr_decay;
        self
    }

    /// Sets the L2 weight decay λ of (A.7) (default 0).
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        check_weight_decay("Adagrad", weight_decay);
        self.weight_decay = weight_decay;
        self
    }

    /// Sets the value the sums s start from (default 0). Takes effect at the first step.
    pub fn initial_accumulator_value(mut self, value: f64) -> Self {
        assert!(
            value.is_finite() && value >= 0.0,
            "Adagrad: the initial accumulator value must be finite and ≥ 0, got {value}"
        );
        self.initial_accumulator_value = value;
        self
    }

    /// Sets ε of (A.10) (default 1e-10).
    pub fn eps(mut self, eps: f64) -> Self {
        assert!(
            eps.is_finite() && eps >= 0.0,
            "Adagrad: eps must be finite and ≥ 0, got {eps}"
        );
        self.eps = eps;
        self
    }

    fn kinds(&self) -> [(&'static str, f64); 1] {
        [("sum", self.initial_accumulator_value)]
    }
}

impl Optimizer for Adagrad {
    fn step(&mut self, params: &mut dyn Parameters, grads: &dyn Parameters) {
        let t = self.slots.begin("Adagrad", &self.kinds(), &*params, grads);
        let (wd, eps) = (self.weight_decay, self.eps);
        // (A.8) η_t = η / (1 + (t − 1) · decay)
        let lr_t = self.lr / (1.0 + (t - 1) as f64 * self.lr_decay);
        self.slots.for_each(params, grads, |p, g, bufs| {
            let [s] = bufs else { unreachable!() };
            // ANCHOR: adagrad_update
            Zip::from(p).and(&g).and(s).for_each(|p, &g, s| {
                // (A.7) g ← g + λθ
                let g = if wd != 0.0 { g + wd * *p } else { g };
                // (A.9) s ← s + g²
                *s += g * g;
                // (A.10) θ ← θ − η_t · g / (√s + ε)
                *p -= lr_t * (g / (s.sqrt() + eps));
            });
            // ANCHOR_END: adagrad_update
        });
    }

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        check_lr("Adagrad", lr);
        self.lr = lr;
    }

    fn state(&self) -> Vec<(String, ArrayD<f64>)> {
        self.slots.export(&self.kinds())
    }

    fn load_state(&mut self, state: Vec<(String, ArrayD<f64>)>) -> Result<()> {
        let kinds = self.kinds();
        self.slots.import("Adagrad", &kinds, state)
    }
}
