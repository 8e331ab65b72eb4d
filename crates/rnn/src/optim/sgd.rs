//! Stochastic gradient descent, with and without momentum.

use ndarray::{ArrayD, Zip};

use super::*;
use crate::error::Result;
use crate::params::Parameters;

// ---------------------------------------------------------------------------------------------------------
// SGD
// ---------------------------------------------------------------------------------------------------------

/// Plain stochastic gradient descent, as `torch.optim.SGD(params, lr, weight_decay)` without momentum.
///
/// For every parameter tensor θ with gradient g:
/// ```text
/// (A.1)  g ← g + λ θ          (L2 weight decay, only if λ ≠ 0)
/// (A.2)  θ ← θ − η g
/// ```
/// SGD keeps no buffers; its state is only the step counter.
///
/// ```
/// use rnn::optim::{Optimizer, Sgd};
/// use rnn::prelude::*;
///
/// let mut model = Elman::new(2, 3, &mut rnn::init::rng(0));
/// let mut grads = model.zeros_like();
/// grads.bias_ih.fill(2.0);
/// let before = model.bias_ih[0];
/// Sgd::new(0.1).step(&mut model, &grads);
/// assert!((model.bias_ih[0] - (before - 0.1 * 2.0)).abs() < 1e-15); // (A.2)
/// ```
#[derive(Clone, Debug)]
pub struct Sgd {
    lr: f64,
    weight_decay: f64,
    slots: Slots,
}

impl Sgd {
    /// SGD with learning rate `lr` and no weight decay.
    pub fn new(lr: f64) -> Self {
        check_lr("Sgd", lr);
        Sgd {
            lr,
            weight_decay: 0.0,
            slots: Slots::default(),
        }
    }

    /// Sets the L2 weight decay λ of (A.1) (default 0).
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        check_weight_decay("Sgd", weight_decay);
        self.weight_decay = weight_decay;
        self
    }
}

impl Optimizer for Sgd {
    fn step(&mut self, params: &mut dyn Parameters, grads: &dyn Parameters) {
        self.slots.begin("Sgd", &[], &*params, grads);
        let (lr, wd) = (self.lr, self.weight_decay);
        for ((_, p), (_, g)) in params.params_mut().into_iter().zip(grads.params()) {
            // ANCHOR: sgd_update
            Zip::from(p).and(&g).for_each(|p, &g| {
                // (A.1) g ← g + λθ
                let g = if wd != 0.0 { g + wd * *p } else { g };
                // (A.2) θ ← θ − η g
                *p -= lr * g;
            });
            // ANCHOR_END: sgd_update
        }
    }

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        check_lr("Sgd", lr);
        self.lr = lr;
    }

    fn state(&self) -> Vec<(String, ArrayD<f64>)> {
        self.slots.export(&[])
    }

    fn load_state(&mut self, state: Vec<(String, ArrayD<f64>)>) -> Result<()> {
        self.slots.import("Sgd", &[], state)
    }
}

// ---------------------------------------------------------------------------------------------------------
// SGD with momentum
// ---------------------------------------------------------------------------------------------------------

/// SGD with (heavy-ball or Nesterov) momentum, as `torch.optim.SGD(params, lr, momentum, nesterov=...)`
/// with dampening 0.
///
/// For every parameter tensor θ with gradient g and velocity buffer b (which starts at zero, so that after
/// the first step b = g, exactly as PyTorch's first step `b = g.clone()`):
/// ```text
/// (A.3)  g ← g + λ θ                  (L2 weight decay, only if λ ≠ 0)
/// (A.4)  b ← μ b + g
/// (A.5)  θ ← θ − η b                  (classical momentum)
/// (A.6)  θ ← θ − η (g + μ b)          (Nesterov momentum, instead of A.5)
/// ```
/// State: `step`, `momentum_buffer.<parameter>`.
///
/// ```
/// use rnn::optim::{Momentum, Optimizer};
/// use rnn::prelude::*;
///
/// let mut model = Elman::new(2, 3, &mut rnn::init::rng(0));
/// let mut grads = model.zeros_like();
/// grads.bias_ih.fill(1.0);
/// let before = model.bias_ih[0];
/// let mut opt = Momentum::new(0.1).momentum(0.9);
/// opt.step(&mut model, &grads); // b = 1:          θ moves by 0.1
/// opt.step(&mut model, &grads); // b = 0.9·1 + 1:  θ moves by 0.19
/// assert!((before - model.bias_ih[0] - 0.29).abs() < 1e-12);
/// ```
#[derive(Clone, Debug)]
pub struct Momentum {
    lr: f64,
    momentum: f64,
    nesterov: bool,
    weight_decay: f64,
    slots: Slots,
}

impl Momentum {
    /// Momentum SGD with learning rate `lr`, momentum μ = 0.9, classical (not Nesterov), no weight decay.
    pub fn new(lr: f64) -> Self {
        check_lr("Momentum", lr);
        Momentum {
            lr,
            momentum: 0.9,
            nesterov: false,
            weight_decay: 0.0,
            slots: Slots::default(),
        }
    }

    /// Sets the momentum μ of (A.4), in [0, 1) (default 0.9).
    pub fn momentum(mut self, momentum: f64) -> Self {
        assert!(
            (0.0..1.0).contains(&momentum),
            "Momentum: μ must be in [0, 1), got {momentum}"
        );
        self.momentum = momentum;
        self
    }

    /// Uses Nesterov's update (A.6) instead of (A.5) (default false).
    pub fn nesterov(mut self, nesterov: bool) -> Self {
        self.nesterov = nesterov;
        self
    }

    /// Sets the L2 weight decay λ of (A.3) (default 0).
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        check_weight_decay("Momentum", weight_decay);
        self.weight_decay = weight_decay;
        self
    }
}

const MOMENTUM_KINDS: &[(&str, f64)] = &[("momentum_buffer", 0.0)];

impl Optimizer for Momentum {
    fn step(&mut self, params: &mut dyn Parameters, grads: &dyn Parameters) {
        self.slots
            .begin("Momentum", MOMENTUM_KINDS, &*params, grads);
        let (lr, mu, wd, nesterov) = (self.lr, self.momentum, self.weight_decay, self.nesterov);
        self.slots.for_each(params, grads, |p, g, bufs| {
            let [b] = bufs else { unreachable!() };
            // ANCHOR: momentum_update
            Zip::from(p).and(&g).and(b).for_each(|p, &g, b| {
                // (A.3) g ← g + λθ
                let g = if wd != 0.0 { g + wd * *p } else { g };
                // (A.4) b ← μ b + g
                *b = mu * *b + g;
                if nesterov {
                    // (A.6) θ ← θ − η (g + μ b)
                    *p -= lr * (g + mu * *b);
                } else {
                    // (A.5) θ ← θ − η b
                    *p -= lr * *b;
                }
            });
            // ANCHOR_END: momentum_update
        });
    }

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        check_lr("Momentum", lr);
        self.lr = lr;
    }

    fn state(&self) -> Vec<(String, ArrayD<f64>)> {
        self.slots.export(MOMENTUM_KINDS)
    }

    fn load_state(&mut self, state: Vec<(String, ArrayD<f64>)>) -> Result<()> {
        self.slots.import("Momentum", MOMENTUM_KINDS, state)
    }
}
