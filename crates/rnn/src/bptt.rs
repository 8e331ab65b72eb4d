//! Unrolling a cell over time, and backpropagation through time (BPTT), written once for every [`Cell`].
//!
//! Forward: `state_t = cell(x_t, state_{t-1})` for t = 0..T, outputs `h_t` stacked into `(T, B, H)`.
//! Backward: walk t = T-1 down to 0, feeding each step the gradient that reaches its state from *two*
//! places: the loss at that step (`d_outputs[t]`) and the future (`dh_next`, returned by step t+1).
//! Forgetting the second term is the classic BPTT bug; the tests catch it.
//!
//! Truncated BPTT: call [`unroll`] on a chunk starting from the previous chunk's [`Unrolled::last`] state
//! (detached: gradients stop at the chunk boundary), or pass `d_last` to continue gradients into a state
//! that was used later.

use ndarray::{s, Array2, Array3, ArrayView3, Axis};

use crate::cells::{Cell, State};

/// The result of running a cell over a sequence.
#[derive(Clone, Debug)]
pub struct Unrolled<C: Cell> {
    /// Hidden state at every step, `(T, B, H)`.
    pub outputs: Array3<f64>,
    /// The final state (h_T, and c_T for an LSTM): carry it into the next chunk for truncated BPTT.
    pub last: State,
    /// One cache per time step, for [`bptt`].
    pub caches: Vec<C::Cache>,
}

// ANCHOR: unroll
/// Runs `cell` over `xs` `(T, B, D)` starting from `init`.
///
/// ```
/// use rnn::prelude::*;
/// let cell = Elman::new(2, 4, &mut rnn::init::rng(0));
/// let xs = ndarray::Array3::<f64>::ones((5, 3, 2)); // (T, B, D)
/// let run = rnn::bptt::unroll(&cell, xs.view(), &cell.zero_state(3));
/// assert_eq!(run.outputs.dim(), (5, 3, 4));
/// assert_eq!(run.last.h, run.outputs.index_axis(ndarray::Axis(0), 4));
/// ```
pub fn unroll<C: Cell>(cell: &C, xs: ArrayView3<'_, f64>, init: &State) -> Unrolled<C> {
    let (t_len, batch, _) = xs.dim();
    let mut outputs = Array3::zeros((t_len, batch, cell.hidden_size())); // (T, B, H)
    let mut caches = Vec::with_capacity(t_len);
    let mut state = init.clone();
    for t in 0..t_len {
        // (2.4) state_t = cell(x_t, state_{t-1}): the same weights at every step
        let (next, cache) = cell.forward(xs.index_axis(Axis(0), t), &state);
        outputs.index_axis_mut(Axis(0), t).assign(&next.h);
        caches.push(cache);
        state = next;
    }
    Unrolled {
        outputs,
        last: state,
        caches,
    }
}
// ANCHOR_END: unroll

// ANCHOR: bptt
/// Backpropagation through time.
///
/// `d_outputs` `(T, B, H)` is ∂L/∂h_t for the loss terms that read each output; `d_last` (optional) is the
/// gradient flowing into the final state from later use (e.g. the next chunk, or a decoder). Parameter
/// gradients are *added* into `grads`. Returns `(∂L/∂xs (T, B, D), ∂L/∂init)`.
pub fn bptt<C: Cell>(
    cell: &C,
    caches: &[C::Cache],
    d_outputs: ArrayView3<'_, f64>,
    d_last: Option<&State>,
    grads: &mut C,
) -> (Array3<f64>, State) {
    let (t_len, batch, hidden) = d_outputs.dim();
    assert_eq!(
        t_len,
        caches.len(),
        "bptt: d_outputs has {t_len} time steps but the forward pass cached {}",
        caches.len()
    );
    assert_eq!(
        hidden,
        cell.hidden_size(),
        "bptt: d_outputs is (T, B, {hidden}), expected H = {}",
        cell.hidden_size()
    );
    // (T, B, D)
    let mut dxs = Array3::zeros((t_len, batch, cell.input_size()));
    // dh_next: the gradient reaching state_t from the steps after t (zero past the end unless d_last is given)
    let mut d_next = match d_last {
        Some(d) => d.clone(),
        None => cell.zero_state(batch),
    };
    for t in (0..t_len).rev() {
        // (4.7) ∂L/∂h_t = ∂L_t/∂h_t (the loss at step t) + dh_next (from step t+1)   (B, H)
        d_next.h += &d_outputs.index_axis(Axis(0), t);
        let (dx, d_prev) = cell.backward(&caches[t], &d_next, grads);
        dxs.index_axis_mut(Axis(0), t).assign(&dx);
        d_next = d_prev;
    }
    (dxs, d_next)
}
// ANCHOR_END: bptt

/// Reverses a `(T, B, D)` sequence in time (used by bidirectional layers).
pub fn reverse_time(xs: ArrayView3<'_, f64>) -> Array3<f64> {
    xs.slice(s![..;-1, .., ..]).to_owned()
}

/// Stacks a list of `(B, H)` arrays into `(T, B, H)`.
pub fn stack_time(steps: &[Array2<f64>]) -> Array3<f64> {
    let views: Vec<_> = steps.iter().map(|a| a.view()).collect();
    ndarray::stack(Axis(0), &views).expect("stack_time: all steps must have the same (B, H) shape")
}
