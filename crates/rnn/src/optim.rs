//! Optimisers and gradient clipping: how a gradient becomes a parameter update.
//!
//! Every optimiser here follows `torch.optim` (same defaults, same update equations, same order of
//! operations where rounding could differ, same state names), so a training run can be compared with
//! PyTorch number for number:
//!
//! | here | PyTorch |
//! |---|---|
//! | [`Sgd`] | `torch.optim.SGD(params, lr, weight_decay=...)` |
//! | [`Momentum`] | `torch.optim.SGD(params, lr, momentum=0.9, nesterov=...)` |
//! | [`Adagrad`] | `torch.optim.Adagrad(params, lr)` |
//! | [`RmsProp`] | `torch.optim.RMSprop(params, lr)` |
//! | [`Adam`] | `torch.optim.Adam(params, lr)` |
//! | [`clip_by_global_norm`] | `torch.nn.utils.clip_grad_norm_(params, max_norm)` |
//! | [`clip_by_value`] | `torch.nn.utils.clip_grad_value_(params, limit)`, `np.clip(g, -limit, limit)` |
//!
//! The gradient of a model is another value of the model's type (see [`Parameters`]), so a training step
//! reads `opt.step(&mut model, &grads)`.
//!
//! Notation in the equations below: θ is one parameter tensor, g its gradient, η the learning rate, λ the
//! weight decay, t the step number (1 for the first step); squares, roots and divisions are element-wise.
//!
//! ```
//! use rnn::optim::{clip_by_global_norm, Adam, Optimizer};
//! use rnn::prelude::*;
//!
//! let mut model = Elman::new(2, 3, &mut rnn::init::rng(0));
//! let mut grads = model.zeros_like(); // a backward pass would fill this
//! grads.bias_ih.fill(10.0);
//! let norm = clip_by_global_norm(&mut grads, 5.0); // √3·10 ≈ 17.3 > 5: scaled down
//! assert!((norm - 300f64.sqrt()).abs() < 1e-12);
//!
//! let before = model.bias_ih.clone();
//! let mut opt = Adam::new(1e-3);
//! opt.step(&mut model, &grads);
//! // Adam's first step moves every parameter with a non-zero gradient by ≈ η against the gradient's sign.
//! assert!((&before - &model.bias_ih).iter().all(|d| (d - 1e-3).abs() < 1e-9));
//! ```
//!
//! # State and resuming
//! [`Optimizer::state`] lists everything an optimiser remembers between steps (its step counter `step` and
//! one buffer per parameter and kind, named `kind.parameter` as in `exp_avg.weight_ih_l0`), so a
//! checkpoint can store it and [`Optimizer::load_state`] can continue bit-identically after a restart.

use std::collections::{BTreeMap, BTreeSet};

use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD, IxDyn, Zip};

use crate::error::{Error, Result};
use crate::params::Parameters;

/// A rule that turns gradients into parameter updates, with state that can be saved and restored.
///
/// The trait is object-safe: `Box<dyn Optimizer>` lets a program choose the optimiser at run time.
pub trait Optimizer {
    /// Updates `params` in place from `grads` (which must have the same names and shapes, in the same
    /// order), and advances the step counter.
    ///
    /// # Panics
    /// If `grads` does not match `params`, or if the optimiser already holds state for different parameters
    /// (use one optimiser per model).
    fn step(&mut self, params: &mut dyn Parameters, grads: &dyn Parameters);

    /// The learning rate η.
    fn lr(&self) -> f64;

    /// Changes the learning rate (for schedules such as decay); the state is kept.
    fn set_lr(&mut self, lr: f64);

    /// Everything the optimiser remembers between steps: `step` (a 0-d tensor holding the number of steps
    /// taken) and, after the first step, one buffer per parameter and kind (`exp_avg.weight_ih`, ...).
    fn state(&self) -> Vec<(String, ArrayD<f64>)>;

    /// Restores a state saved by [`Optimizer::state`] of the same kind of optimiser with the same settings.
    ///
    /// Returns [`Error::OptimizerState`] (and changes nothing) if an entry is missing, unexpected,
    /// duplicated, or has a shape that does not fit. Without the model at hand only the state's own
    /// consistency can be checked; [`Optimizer::load_state_for`] also checks it against the model.
    fn load_state(&mut self, state: Vec<(String, ArrayD<f64>)>) -> Result<()>;

    /// [`Optimizer::load_state`], after checking that every per-parameter buffer names a parameter of
    /// `params` with the same shape, and that every parameter has every kind of buffer the state holds.
    fn load_state_for(
        &mut self,
        params: &dyn Parameters,
        state: Vec<(String, ArrayD<f64>)>,
    ) -> Result<()> {
        check_state_fits(params, &state)?;
        self.load_state(state)
    }
}

// ---------------------------------------------------------------------------------------------------------
// State bookkeeping shared by all optimisers.
// ---------------------------------------------------------------------------------------------------------

/// The step counter and the per-parameter buffers of one optimiser.
#[derive(Clone, Debug, Default)]
struct Slots {
    /// Steps taken so far.
    step: u64,
    /// One entry per parameter tensor, in [`Parameters`] order: its name and one buffer per kind.
    /// `None` until the first step (or a load) tells the optimiser which parameters it serves.
    entries: Option<Vec<(String, Vec<ArrayD<f64>>)>>,
}

impl Slots {
    /// Checks `grads` against `params`, creates the buffers on the first step (kind name, initial value),
    /// checks them on later steps, and advances the counter. Returns the new step number t (1 for the first).
    fn begin(
        &mut self,
        who: &str,
        kinds: &[(&str, f64)],
        params: &dyn Parameters,
        grads: &dyn Parameters,
    ) -> u64 {
        let ps = params.params();
        let gs = grads.params();
        assert_eq!(
            ps.len(),
            gs.len(),
            "{who}::step: the model has {} parameter tensors but the gradient has {}",
            ps.len(),
            gs.len()
        );
        for ((pn, p), (gn, g)) in ps.iter().zip(&gs) {
            assert_eq!(
                pn, gn,
                "{who}::step: parameter `{pn}` is paired with gradient `{gn}`"
            );
            assert_eq!(
                p.shape(),
                g.shape(),
                "{who}::step: parameter `{pn}` has shape {:?} but its gradient has shape {:?}",
                p.shape(),
                g.shape()
            );
        }
        if !kinds.is_empty() {
            match &self.entries {
                None => {
                    let entries = ps
                        .iter()
                        .map(|(name, p)| {
                            let bufs = kinds
                                .iter()
                                .map(|&(_, init)| ArrayD::from_elem(p.raw_dim(), init))
                                .collect();
                            (name.clone(), bufs)
                        })
                        .collect();
                    self.entries = Some(entries);
                }
                Some(entries) => {
                    let fits = |(name, bufs): &(String, Vec<ArrayD<f64>>),
                                p: &ArrayViewD<'_, f64>| {
                        bufs.len() == kinds.len()
                            && bufs.iter().all(|b| b.shape() == p.shape())
                            && ps.iter().filter(|(pn, _)| pn == name).count() == 1
                    };
                    let in_order = entries.len() == ps.len()
                        && entries
                            .iter()
                            .zip(&ps)
                            .all(|(e, (pn, p))| &e.0 == pn && fits(e, p));
                    if !in_order {
                        // A state loaded from a checkpoint comes in name order: match it up by name.
                        let mut by_name: BTreeMap<&str, &(String, Vec<ArrayD<f64>>)> =
                            entries.iter().map(|e| (e.0.as_str(), e)).collect();
                        let reordered: Option<Vec<_>> = (by_name.len() == ps.len())
                            .then(|| {
                                ps.iter()
                                    .map(|(pn, p)| {
                                        by_name.remove(pn.as_str()).filter(|e| fits(e, p)).cloned()
                                    })
                                    .collect()
                            })
                            .flatten();
                        let Some(reordered) = reordered else {
                            panic!(
                                "{who}::step: the optimiser holds state for parameters {} but is used with {} \
                                 (or its settings changed after the first step); use one optimiser per model",
                                describe_entries(entries),
                                describe_views(&ps)
                            );
                        };
                        self.entries = Some(reordered);
                    }
                }
            }
        }
        self.step += 1;
        self.step
    }

    /// Calls `update(θ, g, buffers)` for every parameter tensor. [`Slots::begin`] must have run this step.
    fn for_each(
        &mut self,
        params: &mut dyn Parameters,
        grads: &dyn Parameters,
        mut update: impl FnMut(ArrayViewMutD<'_, f64>, ArrayViewD<'_, f64>, &mut [ArrayD<f64>]),
    ) {
        let entries = self
            .entries
            .as_mut()
            .expect("Slots::begin creates the buffers before the update");
        for (((_, p), (_, g)), (_, bufs)) in params
            .params_mut()
            .into_iter()
            .zip(grads.params())
            .zip(entries.iter_mut())
        {
            update(p, g, bufs);
        }
    }

    /// `step` first, then every buffer as `kind.parameter`, parameter by parameter.
    fn export(&self, kinds: &[(&str, f64)]) -> Vec<(String, ArrayD<f64>)> {
        let mut out = vec![(
            "step".to_string(),
            ArrayD::from_elem(IxDyn(&[]), self.step as f64),
        )];
        if let Some(entries) = &self.entries {
            for (name, bufs) in entries {
                for ((kind, _), buf) in kinds.iter().zip(bufs) {
                    out.push((format!("{kind}.{name}"), buf.clone()));
                }
            }
        }
        out
    }

    /// Validates `state` (see [`Optimizer::load_state`]) and, only if it is valid, replaces `self` with it.
    fn import(
        &mut self,
        who: &str,
        kinds: &[(&str, f64)],
        state: Vec<(String, ArrayD<f64>)>,
    ) -> Result<()> {
        let bad = |msg: String| Error::OptimizerState(format!("{who}: {msg}"));
        let expected = {
            let mut e = vec!["`step`".to_string()];
            e.extend(kinds.iter().map(|(k, _)| format!("`{k}.<parameter>`")));
            e.join(", ")
        };
        let mut step = None;
        let mut order: Vec<String> = Vec::new();
        let mut found: BTreeMap<(String, usize), ArrayD<f64>> = BTreeMap::new();
        for (key, value) in state {
            if key == "step" {
                if step.is_some() {
                    return Err(bad("`step` appears twice".into()));
                }
                step = Some(step_count(&value).map_err(|m| bad(format!("`step` {m}")))?);
                continue;
            }
            let kind = key.split_once('.').and_then(|(kind, param)| {
                kinds
                    .iter()
                    .position(|(k, _)| *k == kind)
                    .map(|k| (k, param))
            });
            let Some((k, param)) = kind else {
                return Err(bad(format!(
                    "unexpected entry `{key}` (this optimiser's state has {expected})"
                )));
            };
            if !order.iter().any(|p| p == param) {
                order.push(param.to_string());
            }
            if found.insert((param.to_string(), k), value).is_some() {
                return Err(bad(format!("`{key}` appears twice")));
            }
        }
        let step = step.ok_or_else(|| bad(format!("`step` is missing (expected {expected})")))?;
        let mut entries = Vec::with_capacity(order.len());
        for name in order {
            let mut bufs: Vec<ArrayD<f64>> = Vec::with_capacity(kinds.len());
            for (k, (kind, _)) in kinds.iter().enumerate() {
                let buf = found
                    .remove(&(name.clone(), k))
                    .ok_or_else(|| bad(format!("`{kind}.{name}` is missing")))?;
                if let Some(first) = bufs.first() {
                    if first.shape() != buf.shape() {
                        return Err(bad(format!(
                            "`{kind}.{name}` has shape {:?} but `{}.{name}` has shape {:?}",
                            buf.shape(),
                            kinds[0].0,
                            first.shape()
                        )));
                    }
                }
                bufs.push(buf);
            }
            entries.push((name, bufs));
        }
        let entries = if entries.is_empty() && (step == 0 || kinds.is_empty()) {
            None
        } else {
            Some(entries)
        };
        if let (Some(mine), Some(theirs)) = (&self.entries, &entries) {
            let shapes =
                |e: &[(String, Vec<ArrayD<f64>>)]| -> BTreeMap<String, Option<Vec<usize>>> {
                    e.iter()
                        .map(|(n, b)| (n.clone(), b.first().map(|x| x.shape().to_vec())))
                        .collect()
                };
            let same = mine.len() == theirs.len() && shapes(mine) == shapes(theirs);
            if !same {
                return Err(bad(format!(
                    "the state is for parameters {} but this optimiser already serves {}",
                    describe_entries(theirs),
                    describe_entries(mine)
                )));
            }
        }
        self.step = step;
        self.entries = entries;
        Ok(())
    }
}

/// Reads a step counter stored as a 0-d or 1-element tensor.
fn step_count(value: &ArrayD<f64>) -> std::result::Result<u64, String> {
    if value.len() != 1 {
        return Err(format!(
            "must hold one number, but has shape {:?}",
            value.shape()
        ));
    }
    let v = value.iter().next().copied().unwrap_or(f64::NAN);
    if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= 2f64.powi(53)) {
        return Err(format!("must be a whole number ≥ 0, but is {v}"));
    }
    Ok(v as u64)
}

fn describe_entries(entries: &[(String, Vec<ArrayD<f64>>)]) -> String {
    let items: Vec<String> = entries
        .iter()
        .map(|(n, b)| match b.first() {
            Some(b) => format!("{n} {:?}", b.shape()),
            None => n.clone(),
        })
        .collect();
    format!("[{}]", items.join(", "))
}

fn describe_views(views: &[(String, ArrayViewD<'_, f64>)]) -> String {
    let items: Vec<String> = views
        .iter()
        .map(|(n, v)| format!("{n} {:?}", v.shape()))
        .collect();
    format!("[{}]", items.join(", "))
}

/// Checks per-parameter entries `kind.parameter` of a state against a model (used by
/// [`Optimizer::load_state_for`]). Entries without a dot (`step`) are not per-parameter.
fn check_state_fits(params: &dyn Parameters, state: &[(String, ArrayD<f64>)]) -> Result<()> {
    let shapes: BTreeMap<String, Vec<usize>> = params
        .params()
        .into_iter()
        .map(|(n, p)| (n, p.shape().to_vec()))
        .collect();
    let mut kinds: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (key, value) in state {
        let Some((kind, param)) = key.split_once('.') else {
            continue;
        };
        match shapes.get(param) {
            None => {
                return Err(Error::OptimizerState(format!(
                    "`{key}` is for a parameter `{param}` the model does not have (it has: {})",
                    shapes.keys().cloned().collect::<Vec<_>>().join(", ")
                )))
            }
            Some(shape) if shape.as_slice() != value.shape() => {
                return Err(Error::OptimizerState(format!(
                    "`{key}` has shape {:?} but the model's `{param}` has shape {shape:?}",
                    value.shape()
                )))
            }
            Some(_) => {}
        }
        kinds.entry(kind).or_default().insert(param);
    }
    for (kind, covered) in kinds {
        if let Some(name) = shapes.keys().find(|n| !covered.contains(n.as_str())) {
            return Err(Error::OptimizerState(format!(
                "the state has no `{kind}.{name}` for the model's parameter `{name}`"
            )));
        }
    }
    Ok(())
}

fn check_lr(who: &str, lr: f64) {
    assert!(
        lr.is_finite() && lr >= 0.0,
        "{who}: the learning rate must be finite and ≥ 0, got {lr}"
    );
}

fn check_weight_decay(who: &str, weight_decay: f64) {
    assert!(
        weight_decay.is_finite() && weight_decay >= 0.0,
        "{who}: weight decay must be finite and ≥ 0, got {weight_decay}"
    );
}

// ---------------------------------------------------------------------------------------------------------
// SGD
// ---------------------------------------------------------------------------------------------------------

/// Plain stochastic gradient descent, as `torch.optim.SGD(params, lr, weight_decay)` without momentum.
///
/// For every parameter tensor θ with gradient g:
/// ```text
/// (O.1)  g ← g + λ θ          (L2 weight decay, only if λ ≠ 0)
/// (O.2)  θ ← θ − η g
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
/// assert!((model.bias_ih[0] - (before - 0.1 * 2.0)).abs() < 1e-15); // (O.2)
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

    /// Sets the L2 weight decay λ of (O.1) (default 0).
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
                // (O.1) g ← g + λθ
                let g = if wd != 0.0 { g + wd * *p } else { g };
                // (O.2) θ ← θ − η g
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
/// (O.3)  g ← g + λ θ                  (L2 weight decay, only if λ ≠ 0)
/// (O.4)  b ← μ b + g
/// (O.5)  θ ← θ − η b                  (classical momentum)
/// (O.6)  θ ← θ − η (g + μ b)          (Nesterov momentum, instead of O.5)
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

    /// Sets the momentum μ of (O.4), in [0, 1) (default 0.9).
    pub fn momentum(mut self, momentum: f64) -> Self {
        assert!(
            (0.0..1.0).contains(&momentum),
            "Momentum: μ must be in [0, 1), got {momentum}"
        );
        self.momentum = momentum;
        self
    }

    /// Uses Nesterov's update (O.6) instead of (O.5) (default false).
    pub fn nesterov(mut self, nesterov: bool) -> Self {
        self.nesterov = nesterov;
        self
    }

    /// Sets the L2 weight decay λ of (O.3) (default 0).
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
                // (O.3) g ← g + λθ
                let g = if wd != 0.0 { g + wd * *p } else { g };
                // (O.4) b ← μ b + g
                *b = mu * *b + g;
                if nesterov {
                    // (O.6) θ ← θ − η (g + μ b)
                    *p -= lr * (g + mu * *b);
                } else {
                    // (O.5) θ ← θ − η b
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

// ---------------------------------------------------------------------------------------------------------
// Adagrad
// ---------------------------------------------------------------------------------------------------------

/// Adagrad (Duchi et al. 2011), as `torch.optim.Adagrad(params, lr)`: each parameter's step shrinks with
/// the sum of its squared gradients.
///
/// For every parameter tensor θ with gradient g and running sum s (starting at the initial accumulator
/// value, 0 by default), at step t:
/// ```text
/// (O.7)  g ← g + λ θ                        (L2 weight decay, only if λ ≠ 0)
/// (O.8)  η_t = η / (1 + (t − 1) · decay)     (learning-rate decay, 0 by default)
/// (O.9)  s ← s + g²
/// (O.10) θ ← θ − η_t · g / (√s + ε)          (ε = 1e-10)
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

    /// Sets the learning-rate decay of (O.8) (default 0).
    pub fn lr_decay(mut self, lr_decay: f64) -> Self {
        assert!(
            lr_decay.is_finite() && lr_decay >= 0.0,
            "Adagrad: lr_decay must be finite and ≥ 0, got {lr_decay}"
        );
        self.lr_decay = lr_decay;
        self
    }

    /// Sets the L2 weight decay λ of (O.7) (default 0).
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

    /// Sets ε of (O.10) (default 1e-10).
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
        // (O.8) η_t = η / (1 + (t − 1) · decay)
        let lr_t = self.lr / (1.0 + (t - 1) as f64 * self.lr_decay);
        self.slots.for_each(params, grads, |p, g, bufs| {
            let [s] = bufs else { unreachable!() };
            // ANCHOR: adagrad_update
            Zip::from(p).and(&g).and(s).for_each(|p, &g, s| {
                // (O.7) g ← g + λθ
                let g = if wd != 0.0 { g + wd * *p } else { g };
                // (O.9) s ← s + g²
                *s += g * g;
                // (O.10) θ ← θ − η_t · g / (√s + ε)
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

// ---------------------------------------------------------------------------------------------------------
// RMSprop
// ---------------------------------------------------------------------------------------------------------

/// RMSprop (Hinton's lecture 6e), as `torch.optim.RMSprop(params, lr)`: divide the gradient by a running
/// root-mean-square of recent gradients.
///
/// For every parameter tensor θ with gradient g, running mean square v (starting at 0), smoothing α = 0.99
/// and ε = 1e-8 (added *outside* the square root, as PyTorch does):
/// ```text
/// (O.11) g ← g + λ θ                         (L2 weight decay, only if λ ≠ 0)
/// (O.12) v ← α v + (1 − α) g²
/// (O.13) m ← α m + (1 − α) g                 (centered only; m starts at 0)
/// (O.14) d = √v + ε,   or d = √(v − m²) + ε when centered
/// (O.15) θ ← θ − η g / d                     (without momentum)
/// (O.16) b ← μ b + g / d ;  θ ← θ − η b      (with momentum μ > 0, instead of O.15)
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

    /// Sets the smoothing constant α of (O.12), in [0, 1] (default 0.99).
    pub fn alpha(mut self, alpha: f64) -> Self {
        assert!(
            (0.0..=1.0).contains(&alpha),
            "RmsProp: alpha must be in [0, 1], got {alpha}"
        );
        self.alpha = alpha;
        self
    }

    /// Sets ε of (O.14) (default 1e-8).
    pub fn eps(mut self, eps: f64) -> Self {
        assert!(
            eps.is_finite() && eps >= 0.0,
            "RmsProp: eps must be finite and ≥ 0, got {eps}"
        );
        self.eps = eps;
        self
    }

    /// Sets the L2 weight decay λ of (O.11) (default 0).
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        check_weight_decay("RmsProp", weight_decay);
        self.weight_decay = weight_decay;
        self
    }

    /// Sets the momentum μ of (O.16), in [0, 1) (default 0: no momentum buffer).
    pub fn momentum(mut self, momentum: f64) -> Self {
        assert!(
            (0.0..1.0).contains(&momentum),
            "RmsProp: momentum must be in [0, 1), got {momentum}"
        );
        self.momentum = momentum;
        self
    }

    /// Centers the second moment by the running mean of the gradient, (O.13) and (O.14) (default false).
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
            // (O.11) g ← g + λθ
            let g = if wd != 0.0 {
                &g + &(&p * wd)
            } else {
                g.to_owned()
            };
            // (O.12) v ← α v + (1 − α) g²
            Zip::from(&mut *v)
                .and(&g)
                .for_each(|v, &g| *v = alpha * *v + (1.0 - alpha) * g * g);
            // (O.14) d = √v + ε  (or, centered, (O.13) m ← α m + (1 − α) g and d = √(v − m²) + ε)
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
                    // (O.16) b ← μ b + g / d ;  θ ← θ − η b
                    Zip::from(&mut *b)
                        .and(&g)
                        .and(&d)
                        .for_each(|b, &g, &d| *b = mu * *b + g / d);
                    p.zip_mut_with(&*b, |p, &b| *p -= lr * b);
                }
                None => {
                    // (O.15) θ ← θ − η g / d
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

// ---------------------------------------------------------------------------------------------------------
// Adam
// ---------------------------------------------------------------------------------------------------------

/// Adam (Kingma and Ba 2015), as `torch.optim.Adam(params, lr)`: momentum on the gradient, divided by a
/// running root-mean-square, both corrected for their zero start.
///
/// For every parameter tensor θ with gradient g, first moment m and second moment v (both starting at 0),
/// β₁ = 0.9, β₂ = 0.999, ε = 1e-8, at step t:
/// ```text
/// (O.17) g ← g + λ θ                          (L2 weight decay, only if λ ≠ 0; not AdamW)
/// (O.18) m ← β₁ m + (1 − β₁) g
/// (O.19) v ← β₂ v + (1 − β₂) g²
/// (O.20) m̂ = m / (1 − β₁ᵗ),   v̂ = v / (1 − β₂ᵗ)   (bias correction)
/// (O.21) θ ← θ − η m̂ / (√v̂ + ε)
/// ```
/// As in PyTorch, (O.20)–(O.21) are computed as `θ ← θ − (η / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)`.
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

    /// Sets β₁ and β₂ of (O.18) and (O.19), each in [0, 1) (default (0.9, 0.999)).
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

    /// Sets ε of (O.21) (default 1e-8).
    pub fn eps(mut self, eps: f64) -> Self {
        assert!(
            eps.is_finite() && eps >= 0.0,
            "Adam: eps must be finite and ≥ 0, got {eps}"
        );
        self.eps = eps;
        self
    }

    /// Sets the L2 weight decay λ of (O.17) (default 0).
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
        // (O.20) bias corrections 1 − β₁ᵗ and 1 − β₂ᵗ, folded into the step size and the denominator.
        let bias_correction1 = 1.0 - b1.powf(t as f64);
        let bias_correction2 = 1.0 - b2.powf(t as f64);
        let step_size = self.lr / bias_correction1;
        let bias_correction2_sqrt = bias_correction2.sqrt();
        self.slots.for_each(params, grads, |p, g, bufs| {
            let [m, v] = bufs else { unreachable!() };
            // ANCHOR: adam_update
            Zip::from(p).and(&g).and(m).and(v).for_each(|p, &g, m, v| {
                // (O.17) g ← g + λθ
                let g = if wd != 0.0 { g + wd * *p } else { g };
                // (O.18) m ← β₁ m + (1 − β₁) g
                *m = b1 * *m + (1.0 - b1) * g;
                // (O.19) v ← β₂ v + (1 − β₂) g²
                *v = b2 * *v + (1.0 - b2) * g * g;
                // (O.20)-(O.21) θ ← θ − η m̂ / (√v̂ + ε)
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

// ---------------------------------------------------------------------------------------------------------
// Gradient clipping
// ---------------------------------------------------------------------------------------------------------

/// The L2 norm of all gradients together, as if every tensor were flattened into one long vector:
///
/// ```text
/// (C.1)  ‖g‖ = √( Σ over tensors Σ over elements g² )
/// ```
///
/// ```
/// use rnn::prelude::*;
/// let mut grads = Elman::new(1, 1, &mut rnn::init::rng(0)).zeros_like();
/// grads.weight_ih[[0, 0]] = 3.0;
/// grads.bias_hh[0] = 4.0;
/// assert_eq!(rnn::optim::global_norm(&grads), 5.0);
/// ```
pub fn global_norm(grads: &dyn Parameters) -> f64 {
    let sum_of_squares: f64 = grads
        .params()
        .iter()
        .map(|(_, g)| g.iter().map(|x| x * x).sum::<f64>())
        .sum();
    sum_of_squares.sqrt()
}

/// Clamps every gradient element to `[-limit, limit]`, like char-rnn's `np.clip(g, -5, 5)` and
/// `torch.nn.utils.clip_grad_value_`:
///
/// ```text
/// (C.2)  g ← min(max(g, −limit), limit)
/// ```
/// Clipping by value changes the gradient's direction; [`clip_by_global_norm`] does not. NaN stays NaN.
///
/// # Panics
/// If `limit` is negative or NaN.
///
/// ```
/// use rnn::prelude::*;
/// let mut grads = Elman::new(1, 2, &mut rnn::init::rng(0)).zeros_like();
/// grads.bias_ih = ndarray::array![-7.0, 0.5];
/// rnn::optim::clip_by_value(&mut grads, 5.0);
/// assert_eq!(grads.bias_ih, ndarray::array![-5.0, 0.5]);
/// ```
// ANCHOR: clip_by_value
pub fn clip_by_value(grads: &mut dyn Parameters, limit: f64) {
    assert!(
        limit >= 0.0,
        "clip_by_value: the limit must be ≥ 0, got {limit}"
    );
    for (_, mut g) in grads.params_mut() {
        // (C.2) g ← min(max(g, −limit), limit)
        g.mapv_inplace(|x| x.clamp(-limit, limit));
    }
}
// ANCHOR_END: clip_by_value

/// Rescales all gradients together so that their global norm (C.1) is at most `max_norm`, as
/// `torch.nn.utils.clip_grad_norm_`, and returns the norm *before* clipping (worth logging: it is the
/// best early warning of exploding gradients).
///
/// ```text
/// (C.3)  c = max_norm / (‖g‖ + 1e-6)
/// (C.4)  g ← c · g      only if c < 1
/// ```
/// The direction of the gradient is kept. If the norm is infinite or NaN the gradients are left unchanged
/// and the non-finite norm is returned, so the caller can skip the step.
///
/// # Panics
/// If `max_norm` is negative or NaN.
///
/// ```
/// use rnn::prelude::*;
/// let mut grads = Elman::new(1, 2, &mut rnn::init::rng(0)).zeros_like();
/// grads.bias_ih = ndarray::array![3.0, 4.0];
/// let norm = rnn::optim::clip_by_global_norm(&mut grads, 1.0);
/// assert_eq!(norm, 5.0);
/// assert!((grads.bias_ih[0] - 0.6).abs() < 1e-6 && (grads.bias_ih[1] - 0.8).abs() < 1e-6);
/// ```
// ANCHOR: clip_by_global_norm
pub fn clip_by_global_norm(grads: &mut dyn Parameters, max_norm: f64) -> f64 {
    assert!(
        max_norm >= 0.0,
        "clip_by_global_norm: max_norm must be ≥ 0, got {max_norm}"
    );
    // (C.1) ‖g‖ over all tensors together
    let norm = global_norm(&*grads);
    // (C.3) c = max_norm / (‖g‖ + 1e-6)
    let coef = max_norm / (norm + 1e-6);
    // (C.4) g ← c · g, only if c < 1 (a non-finite norm makes c NaN or 0: leave g alone)
    if norm.is_finite() && coef < 1.0 {
        for (_, mut g) in grads.params_mut() {
            g.mapv_inplace(|x| x * coef);
        }
    }
    norm
}
// ANCHOR_END: clip_by_global_norm
