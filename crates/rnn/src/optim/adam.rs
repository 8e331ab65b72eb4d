//! Adam.

use ndarray::{ArrayD, Zip};

use super::*;
use crate::error::Result;
use crate::params::Parameters;

// ---------------------------------------------------------------------------------------------------------
// Adam
// ---------------------------------------------------------------------------------------------------------

/// Adam (Kingma and Ba 2015), as `torch.optim.Adam(params, lr)`: momentum on the gradient, divided by a
/// running root-mean-square, both corrected for their zero start.
///
/// For every parameter tensor θ with gradient g, first moment m and second moment v (both starting at 0),
/// β₁ = 0.9, β₂ = 0.999, ε = 1e-8, at step t:
/// ```text
/// (A.17) g ← g + λ θ                          (L2 weight decay, only if λ ≠ 0; not AdamW)
/// (A.18) m ← β₁ m + (1 − β₁) g
/// (A.19) v ← β₂ v + (1 − β₂) g²
/// (A.20) m̂ = m / (1 − β₁ᵗ),   v̂ = v / (1 − β₂ᵗ)   (bias correction)
/// (A.21) θ ← θ − η m̂ / (√v̂ + ε)
/// ```
/// As in PyTorch, (A.20)–(A.21) are computed as `θ ← θ − (η / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)`.
///
/// State: `step`, `exp_avg.<parameter>` (m), `exp_avg_sq.<parameter>` (v).
///
/// ```
/// use rnn::optim::{Adam, Optimizer};
/// use rnn::prelude::*;
///
/// let mut model = Elman::new(2, 3, &mut rnn::init::rng(0));
/// let mut grads = model.zeros_like();
/// grads.bias_ih.fill(-4.0);
/// let before = model.bias_ih[0];
/// Adam::new(0.01).step(&mut model, &grads);
/// // First step: m̂ = g and v̂ = g², so θ moves by η · g / (|g| + ε) ≈ η against the gradient.
/// assert!((model.bias_ih[0] - before - 0.01 * 4.0 / (4.0 + 1e-8)).abs() < 1e-12);
/// ```
#[derive(Clone, Debug)]
pub struct Adam {
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    slots: Slots,
}

impl Adam {
    /// Adam with learning rate `lr`, betas (0.9, 0.999), ε = 1e-8, no weight decay.
    pub fn new(lr: f64) -> Self {
        check_lr("Adam", lr);
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            slots: Slots::default(),
        }
    }

    /// Sets β₁ and β₂ of (A.18) and (A.19), each in [0, 1) (default (0.9, 0.999)).
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Self {
        for (name, b) in [("beta1", beta1), ("beta2", beta2)] {
            assert!(
                (0.0..1.0).contains(&b),
                "Adam: {name} must be in [0, 1), got {b}"
            );
        }
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }

    /// Sets ε of (A.21) (default 1e-8).
    pub fn eps(mut self, eps: f64) -> Self {
        assert!(
            eps.is_finite() && eps >= 0.0,
            "Adam: eps must be finite and ≥ 0, got {eps}"
        );
        self.eps = eps;
        self
    }

    /// Sets the L2 weight decay λ of (A.17) (default 0).
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        check_weight_decay("Adam", weight_decay);
        self.weight_decay = weight_decay;
        self
    }
}

const ADAM_KINDS: &[(&str, f64)] = &[("exp_avg", 0.0), ("exp_avg_sq", 0.0)];

impl Optimizer for Adam {
    fn step(&mut self, params: &mut dyn Parameters, grads: &dyn Parameters) {
        let t = self.slots.begin("Adam", ADAM_KINDS, &*params, grads);
        let (b1, b2, eps, wd) = (self.beta1, self.beta2, self.eps, self.weight_decay);
        // (A.20) bias corrections 1 − β₁ᵗ and 1 − β₂ᵗ, folded into the step size and the denominator.
        let bias_correction1 = 1.0 - b1.powf(t as f64);
        let bias_correction2 = 1.0 - b2.powf(t as f64);
        let step_size = self.lr / bias_correction1;
        let bias_correction2_sqrt = bias_correction2.sqrt();
        self.slots.for_each(params, grads, |p, g, bufs| {
            let [m, v] = bufs else { unreachable!() };
            // ANCHOR: adam_update
            Zip::from(p).and(&g).and(m).and(v).for_each(|p, &g, m, v| {
                // (A.17) g ← g + λθ
                let g = if wd != 0.0 { g + wd * *p } else { g };
                // (A.18) m ← β₁ m + (1 − β₁) g
                *m = b1 * *m + (1.0 - b1) * g;
                // (A.19) v ← β₂ v + (1 − β₂) g²
                *v = b2 * *v + (1.0 - b2) * g * g;
                // (A.20)-(A.21) θ ← θ − η m̂ / (√v̂ + ε)
                let denom = v.sqrt() / bias_correction2_sqrt + eps;
                *p -= step_size * (*m / denom);
            });
            // ANCHOR_END: adam_update
        });
    }

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        check_lr("Adam", lr);
        self.lr = lr;
    }

    fn state(&self) -> Vec<(String, ArrayD<f64>)> {
        self.slots.export(ADAM_KINDS)
    }

    fn load_state(&mut self, state: Vec<(String, ArrayD<f64>)>) -> Result<()> {
        self.slots.import("Adam", ADAM_KINDS, state)
    }
}
