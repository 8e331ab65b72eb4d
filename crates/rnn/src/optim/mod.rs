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
//! | [`clip_by_global_norm_all`] | the same over several models: `clip_grad_norm_(list(a.parameters()) + list(b.parameters()), max_norm)` |
//! | [`clip_by_value`] | `torch.nn.utils.clip_grad_value_(params, limit)`, `np.clip(g, -limit, limit)` |
//!
//! The gradient of a model is another value of the model's type (see [`Parameters`]), so a training step
//! reads `opt.step(&mut model, &grads)`.
//!
//! Notation in the equations below: θ is one parameter tensor, g its gradient, η the learning rate, λ the
//! weight decay, t the step number (1 for the first step); squares, roots and divisions are element-wise.
//! The labels (A.1) to (A.21) are those of the book's appendix A (Optimisers); clipping is chapter 5's
//! (5.4) and (5.5).
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

use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD, IxDyn};

use crate::error::{Error, Result};
use crate::params::Parameters;

mod adagrad;
mod adam;
mod clip;
mod rmsprop;
mod sgd;

pub use adagrad::Adagrad;
pub use adam::Adam;
pub use clip::{clip_by_global_norm, clip_by_global_norm_all, clip_by_value, global_norm};
pub use rmsprop::RmsProp;
pub use sgd::{Momentum, Sgd};

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
