//! Named parameter tensors: what optimisers update, checkpoints save and gradient checks perturb.
//!
//! A model's gradients have exactly the model's shapes, so the gradient of a model is simply *another value
//! of the same type*: `grads: Lstm` holds `∂L/∂weight_ih` in its `weight_ih` field. [`Parameters`] lets
//! generic code (optimisers, [`crate::checkpoint`], [`crate::gradcheck`]) walk those tensors by name, in a
//! fixed order.

use ndarray::{ArrayViewD, ArrayViewMutD};

use crate::checkpoint::RnnConfig;

/// A value that owns named `f64` tensors, listed in a fixed order.
///
/// Names follow PyTorch (`weight_ih`, `bias_hh`, ...); containers such as [`crate::stack::Rnn`] add suffixes
/// (`weight_ih_l1_reverse`) exactly as `torch.nn.LSTM.state_dict()` does.
///
/// ```
/// use rnn::prelude::*;
/// let cell = Elman::new(2, 3, &mut rnn::init::rng(1));
/// let names: Vec<String> = cell.params().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]);
/// assert_eq!(cell.num_params(), 3 * 2 + 3 * 3 + 3 + 3);
/// ```
pub trait Parameters {
    /// Every parameter tensor with its name, in a fixed order.
    fn params(&self) -> Vec<(String, ArrayViewD<'_, f64>)>;

    /// Every parameter tensor, mutable, in the same order as [`Parameters::params`].
    fn params_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, f64>)>;

    /// The recurrent network this value is, as a checkpoint config describes it, if it is one:
    /// [`crate::stack::Rnn`] returns its [`RnnConfig`] (when its cells report [`crate::cells::Cell::config`]).
    /// [`crate::checkpoint::Checkpoint::load_into`] compares it with the checkpoint's config and refuses a
    /// checkpoint of another network. The default, `None`, means only tensor names and shapes are checked.
    fn rnn_config(&self) -> Option<RnnConfig> {
        None
    }

    /// Total number of scalars.
    fn num_params(&self) -> usize {
        self.params().iter().map(|(_, p)| p.len()).sum()
    }

    /// Sets every parameter to zero (used to reset gradient accumulators).
    fn zero(&mut self) {
        for (_, mut p) in self.params_mut() {
            p.fill(0.0);
        }
    }

    /// A copy with every tensor zeroed: a fresh gradient accumulator with the right shapes.
    fn zeros_like(&self) -> Self
    where
        Self: Clone + Sized,
    {
        let mut g = self.clone();
        g.zero();
        g
    }

    /// `self += alpha * other`, tensor by tensor (both must have the same names and shapes).
    fn add_scaled(&mut self, alpha: f64, other: &Self)
    where
        Self: Sized,
    {
        let theirs = other.params();
        for ((name, mut mine), (oname, o)) in self.params_mut().into_iter().zip(theirs) {
            assert_eq!(name, oname, "add_scaled: parameter lists differ");
            mine.scaled_add(alpha, &o);
        }
    }
}

/// Prefixes or suffixes the names of a child's parameters: used by containers to build PyTorch names.
///
/// `rename("weight_ih", "_l1_reverse")` gives `"weight_ih_l1_reverse"`.
pub fn rename(name: &str, suffix: &str) -> String {
    format!("{name}{suffix}")
}
