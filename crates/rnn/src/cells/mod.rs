//! Recurrent cells: one time step of a recurrent network, forward and backward.
//!
//! A cell maps `(x_t, state_{t-1})` to `state_t`. The Elman cell's state is `h`; the LSTM's is `(h, c)`;
//! the GRU's is `h`. Every cell implements [`Cell`], and [`crate::bptt`] unrolls *any* cell over time and
//! back-propagates through it: the unrolling is written once.

use ndarray::{Array2, Array3, ArrayView2, ArrayView3};

use crate::params::Parameters;

mod any;
mod elman;
mod gru;
mod gru_seq;
mod lstm;
mod lstm_seq;
mod lstm_variants;

pub use any::{AnyCache, AnyCell, CellConfig, CellKind};
pub use elman::{Elman, ElmanCache};
pub use gru::{Gru, GruCache, GruVariant};
pub use lstm::{Lstm, LstmCache, LstmOptions};
pub use lstm_variants::GreffVariant;

/// The recurrent state carried from one time step to the next (and its gradient, which has the same shape).
///
/// `h` is the hidden state `(B, H)`, which is also the cell's output at that step. `c` is the LSTM's cell
/// state `(B, H)`; it is `None` for cells without one. `gates` is what an LSTM with full gate recurrence
/// (Greff et al.'s FGR, [`LstmOptions::full_gate_recurrence`]) carries besides: the previous step's gate
/// activations i, f, o side by side, `(B, 3H)`; it is `None` for every other cell.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    /// Hidden state h, `(B, H)`.
    pub h: Array2<f64>,
    /// Cell state c, `(B, H)` (LSTM only).
    pub c: Option<Array2<f64>>,
    /// Gate activations [i, f, o] of the step that made this state, `(B, 3H)` (FGR LSTM only).
    pub gates: Option<Array2<f64>>,
}

impl State {
    /// A state holding only `h`.
    pub fn from_h(h: Array2<f64>) -> Self {
        State {
            h,
            c: None,
            gates: None,
        }
    }

    /// A zero state (or zero gradient) with the same shapes as `self`.
    pub fn zeros_like(&self) -> Self {
        State {
            h: Array2::zeros(self.h.raw_dim()),
            c: self.c.as_ref().map(|c| Array2::zeros(c.raw_dim())),
            gates: self.gates.as_ref().map(|g| Array2::zeros(g.raw_dim())),
        }
    }

    /// `self += other`, used to accumulate state gradients.
    pub fn add_assign(&mut self, other: &State) {
        self.h += &other.h;
        match (&mut self.c, &other.c) {
            (Some(c), Some(oc)) => *c += oc,
            (None, None) => {}
            _ => panic!("State::add_assign: one state has a cell state c and the other does not"),
        }
        match (&mut self.gates, &other.gates) {
            (Some(g), Some(og)) => *g += og,
            (None, None) => {}
            _ => panic!("State::add_assign: one state has gates (FGR) and the other does not"),
        }
    }

    /// Batch size B.
    pub fn batch(&self) -> usize {
        self.h.nrows()
    }
}

/// One time step of a recurrent network, with its hand-written backward.
///
/// The gradient accumulator for a cell is another value of the same type (see [`Parameters`]):
/// `backward` *adds* this step's parameter gradients into `grads`, which is how gradients of shared weights
/// sum over time steps in BPTT.
pub trait Cell: Parameters + Clone {
    /// What the forward step saves for the backward step.
    type Cache;

    /// Input size D.
    fn input_size(&self) -> usize;

    /// Hidden size H.
    fn hidden_size(&self) -> usize;

    /// A short name of the cell's family for messages: "rnn", "lstm" or "gru". (Checkpoint configs name
    /// the cell exactly, variant included: see [`Cell::config`].)
    fn kind(&self) -> &'static str;

    /// The cell's kind and variant as a checkpoint config records them, so that loading a checkpoint can
    /// refuse one written for another cell (a tanh file into a ReLU model, ...). The library's cells return
    /// `Some`; the default, `None`, means "not recorded" (only tensor names and shapes are then checked).
    fn config(&self) -> Option<CellConfig> {
        None
    }

    /// The all-zeros initial state for a batch of `batch` sequences.
    fn zero_state(&self, batch: usize) -> State;

    /// Forward step: `x` is `(B, D)`, `prev` the state at t-1; returns the state at t and the cache.
    fn forward(&self, x: ArrayView2<'_, f64>, prev: &State) -> (State, Self::Cache);

    /// Backward step: given `d_next` = ∂L/∂state_t (everything that flows into state_t), adds the parameter
    /// gradients into `grads` and returns `(∂L/∂x_t, ∂L/∂state_{t-1})`.
    fn backward(
        &self,
        cache: &Self::Cache,
        d_next: &State,
        grads: &mut Self,
    ) -> (Array2<f64>, State);

    /// Runs the cell over a whole sequence `xs` `(T, B, D)` from `init`: exactly what
    /// [`crate::bptt::unroll`] computes (and, by default, calls).
    ///
    /// A cell may override this with a faster schedule that gives the same numbers up to rounding (the
    /// Elman cell computes the input half of (2.1) for every step as one matrix product before the loop);
    /// tests compare every override with `unroll`.
    fn forward_seq(&self, xs: ArrayView3<'_, f64>, init: &State) -> crate::bptt::Unrolled<Self> {
        crate::bptt::unroll(self, xs, init)
    }

    /// Backpropagation through a whole sequence of this cell's steps: exactly what [`crate::bptt::bptt`]
    /// computes (and, by default, calls), plus a switch for the input gradient.
    ///
    /// `caches` are the forward steps' caches in time order, `d_outputs` `(T, B, H)` is ∂L/∂h_t from the
    /// loss, `d_last` the gradient reaching the final state from later use. Parameter gradients are added
    /// into `grads`. Returns `(∂L/∂xs (T, B, D), ∂L/∂init)`, with `None` instead of ∂L/∂xs when
    /// `want_dx` is false: the first layer of a model fed one-hot characters has no use for it, and a cell
    /// may then skip the product that computes it.
    ///
    /// A cell may override this with a faster schedule that gives the same numbers up to rounding (the
    /// Elman cell sums its weight gradients over all steps as one matrix product after the loop); tests
    /// compare every override with the step-by-step [`crate::bptt::bptt`].
    fn backward_seq(
        &self,
        caches: &[Self::Cache],
        d_outputs: ArrayView3<'_, f64>,
        d_last: Option<&State>,
        grads: &mut Self,
        want_dx: bool,
    ) -> (Option<Array3<f64>>, State) {
        let (dxs, d_init) = crate::bptt::bptt(self, caches, d_outputs, d_last, grads);
        (want_dx.then_some(dxs), d_init)
    }
}

/// Panics with a readable message unless `x` is `(B, expected_d)` and `prev.h` is `(B, hidden)`.
pub(crate) fn check_step_shapes(
    kind: &str,
    x: &ArrayView2<'_, f64>,
    prev: &State,
    input: usize,
    hidden: usize,
) {
    assert_eq!(
        x.ncols(),
        input,
        "{kind} step: input x has shape {:?}, expected (B, D) with D = {input}",
        x.dim()
    );
    assert_eq!(
        prev.h.dim(),
        (x.nrows(), hidden),
        "{kind} step: previous hidden state has shape {:?}, expected (B, H) = {:?}",
        prev.h.dim(),
        (x.nrows(), hidden)
    );
}

/// Stacks `(B, n)` steps into `(T·B, n)`, step t in rows t·B..(t+1)·B: the row order in which the
/// sequence paths ([`Cell::forward_seq`], [`Cell::backward_seq`]) keep quantities of every step.
pub(crate) fn stack_rows<'a>(
    steps: impl ExactSizeIterator<Item = ArrayView2<'a, f64>>,
    batch: usize,
    n: usize,
) -> Array2<f64> {
    let mut out = Array2::zeros((steps.len() * batch, n));
    for (t, step) in steps.enumerate() {
        out.slice_mut(ndarray::s![t * batch..(t + 1) * batch, ..])
            .assign(&step);
    }
    out
}
