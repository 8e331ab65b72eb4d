//! Masked recurrence over padded batches: [`Rnn::forward_masked`] and [`Rnn::backward_masked`].
//!
//! A batch of sequences of different lengths is padded to the longest, `(T_max, B, D)`, with
//! `lengths[b]` real steps in row b. With the mask m_t,b = 1 if t < `lengths[b]` else 0, every step becomes
//!
//! ```text
//! state_t = m_t ⊙ cell(x_t, state_{t-1}) + (1 - m_t) ⊙ state_{t-1}      (per batch row)
//! ```
//!
//! so a padded step leaves the state as it was, whatever the pad holds. The forward direction's final
//! state is then the state at each sequence's last real step; the reverse direction reads the pads first,
//! keeps its initial state through them, and starts at each sequence's own last real step. These are the
//! final states `torch.nn.utils.rnn.pack_padded_sequence` gives. Outputs at padded steps repeat the state
//! carried through them; a loss must mask them out.
//!
//! Backward, per step: the cell's backward sees only `m_t ⊙ ∂L/∂state_t`, and `(1 - m_t) ⊙ ∂L/∂state_t`
//! passes straight to `state_{t-1}`. With all lengths equal to T the masked paths compute what
//! [`Rnn::forward`] and [`Rnn::backward`] compute.

use ndarray::{concatenate, s, Array1, Array2, Array3, ArrayView3, Axis};

use crate::bptt::reverse_time;
use crate::cells::{Cell, State};
use crate::init::Rng;
use crate::stack::{dropout_mask, LayerCache, Rnn, RnnCache};

/// `(T, B)` masks, one `(B)` vector per step: 1.0 where `t < lengths[b]`, else 0.0. `None` = all full.
///
/// # Panics
/// If `lengths` does not have B entries or an entry exceeds T.
pub fn step_masks(lengths: Option<&[usize]>, t_len: usize, batch: usize) -> Vec<Array1<f64>> {
    if let Some(l) = lengths {
        assert_eq!(
            l.len(),
            batch,
            "masked recurrence: {} lengths for a batch of {batch}",
            l.len()
        );
        assert!(
            l.iter().all(|&n| n <= t_len),
            "masked recurrence: lengths {l:?} exceed the padded length T = {t_len}"
        );
    }
    (0..t_len)
        .map(|t| {
            Array1::from_shape_fn(batch, |b| match lengths {
                Some(l) if t >= l[b] => 0.0,
                _ => 1.0,
            })
        })
        .collect()
}

/// `m ⊙ s` row by row (`m` is `(B)`, every tensor of `s` is `(B, H)`).
fn scale_rows(s: &State, m: &Array1<f64>) -> State {
    let col = m.view().insert_axis(Axis(1)); // (B, 1)
    let mut out = s.clone();
    out.h *= &col;
    if let Some(c) = &mut out.c {
        *c *= &col;
    }
    if let Some(g) = &mut out.gates {
        *g *= &col; // an FGR LSTM's previous gates (B, 3H) are part of its state too
    }
    out
}

/// `m ⊙ new + (1 - m) ⊙ prev`, row by row.
fn blend(new: &State, prev: &State, m: &Array1<f64>) -> State {
    let mut out = scale_rows(new, m);
    out.add_assign(&scale_rows(prev, &m.mapv(|v| 1.0 - v)));
    out
}

/// One direction of one layer, masked: outputs `(T, B, H)`, the final state and the cell caches.
fn run<C: Cell>(
    cell: &C,
    xs: ArrayView3<'_, f64>,
    masks: &[Array1<f64>],
    init: &State,
) -> (Array3<f64>, State, Vec<C::Cache>) {
    let (t_len, batch, _) = xs.dim();
    assert_eq!(masks.len(), t_len, "one mask per step");
    let mut outputs = Array3::zeros((t_len, batch, cell.hidden_size())); // (T, B, H)
    let mut caches = Vec::with_capacity(t_len);
    let mut state = init.clone();
    // ANCHOR: masked_run
    for (t, m) in masks.iter().enumerate() {
        let (new, cache) = cell.forward(xs.index_axis(Axis(0), t), &state);
        // (9.8) state_t = m_t ⊙ cell(x_t, state_{t-1}) + (1 - m_t) ⊙ state_{t-1}      (B, H)
        state = blend(&new, &state, m);
        outputs.index_axis_mut(Axis(0), t).assign(&state.h);
        caches.push(cache);
    }
    // ANCHOR_END: masked_run
    (outputs, state, caches)
}

/// Backward of [`run`]: adds parameter gradients into `grads`; returns ∂L/∂xs `(T, B, D)` and ∂L/∂init.
fn run_back<C: Cell>(
    cell: &C,
    caches: &[C::Cache],
    masks: &[Array1<f64>],
    d_outputs: ArrayView3<'_, f64>,
    d_last: State,
    grads: &mut C,
) -> (Array3<f64>, State) {
    let (t_len, batch, _) = d_outputs.dim();
    // ANCHOR: masked_run_back
    let mut dxs = Array3::zeros((t_len, batch, cell.input_size())); // (T, B, D)
    let mut d_state = d_last; // ∂L/∂state_t from steps after t
    for t in (0..t_len).rev() {
        d_state.h += &d_outputs.index_axis(Axis(0), t);
        // (9.9) the cell sees m_t ⊙ ∂L/∂state_t; (1 - m_t) ⊙ ∂L/∂state_t goes straight to state_{t-1}
        let (dx, d_prev) = cell.backward(&caches[t], &scale_rows(&d_state, &masks[t]), grads);
        dxs.index_axis_mut(Axis(0), t).assign(&dx);
        d_state = scale_rows(&d_state, &masks[t].mapv(|v| 1.0 - v));
        d_state.add_assign(&d_prev);
    }
    // ANCHOR_END: masked_run_back
    (dxs, d_state)
}

impl<C: Cell> Rnn<C> {
    /// [`Rnn::forward`] over a padded batch: `xs` `(T_max, B, D)`, `lengths[b]` real steps in row b
    /// (`None`: every row has T_max). Padded steps leave the state unchanged (see the module
    /// documentation), so the final states are those at each sequence's last real step (forward) and at
    /// t = 0 (reverse), as PyTorch's packed sequences give. The cache goes to [`Rnn::backward_masked`]
    /// with the same `lengths`.
    pub fn forward_masked(
        &self,
        xs: ArrayView3<'_, f64>,
        lengths: Option<&[usize]>,
        init: Option<&[State]>,
        mut dropout_rng: Option<&mut Rng>,
    ) -> (Array3<f64>, Vec<State>, RnnCache<C>) {
        let (t_len, batch, d) = xs.dim();
        assert_eq!(
            d,
            self.input_size(),
            "Rnn::forward_masked: xs has shape {:?}, expected (T, B, D) with D = {}",
            xs.dim(),
            self.input_size()
        );
        let masks = step_masks(lengths, t_len, batch);
        let rev_masks: Vec<Array1<f64>> = masks.iter().rev().cloned().collect();
        let dirs = self.num_directions();
        let init = init.map_or_else(|| self.zero_states(batch), <[State]>::to_vec);
        assert_eq!(
            init.len(),
            self.num_layers() * dirs,
            "Rnn::forward_masked: {} initial states, expected num_layers * num_directions",
            init.len()
        );
        let last_layer = self.num_layers() - 1;
        let mut input = xs.to_owned(); // (T, B, D), then (T, B, dirs*H)
        let mut finals = Vec::with_capacity(init.len());
        let mut caches = Vec::with_capacity(self.num_layers());
        for (k, layer) in self.layers.iter().enumerate() {
            let (mut output, last, fwd_caches) =
                run(&layer.forward, input.view(), &masks, &init[k * dirs]);
            finals.push(last);
            let mut reverse = None;
            if let Some(rev_cell) = &layer.reverse {
                // the reverse cell reads reversed time: the pads at the end come first
                let rev_in = reverse_time(input.view());
                let (rev_out, last, rev_caches) =
                    run(rev_cell, rev_in.view(), &rev_masks, &init[k * dirs + 1]);
                finals.push(last);
                reverse = Some(rev_caches);
                output = concatenate![Axis(2), output, reverse_time(rev_out.view())];
                // (T, B, 2H)
            }
            let mut mask = None;
            if let Some(rng) = dropout_rng.as_deref_mut() {
                if k < last_layer && self.dropout > 0.0 {
                    let m = dropout_mask(output.dim(), self.dropout, rng); // (T, B, dirs*H)
                    output *= &m;
                    mask = Some(m);
                }
            }
            caches.push(LayerCache {
                forward: fwd_caches,
                reverse,
                mask,
            });
            input = output;
        }
        (input, finals, RnnCache { layers: caches })
    }

    /// [`Rnn::backward`] for [`Rnn::forward_masked`] (give the same `lengths`). Parameter gradients are
    /// added into `grads`; returns ∂L/∂xs `(T, B, D)` (zero at padded steps) and ∂L/∂init.
    pub fn backward_masked(
        &self,
        cache: &RnnCache<C>,
        lengths: Option<&[usize]>,
        d_outputs: ArrayView3<'_, f64>,
        d_last: Option<&[State]>,
        grads: &mut Self,
    ) -> (Array3<f64>, Vec<State>) {
        let (t_len, batch, f) = d_outputs.dim();
        let (dirs, h) = (self.num_directions(), self.hidden_size());
        assert_eq!(
            f,
            dirs * h,
            "Rnn::backward_masked: d_outputs has {f} features, expected num_directions * H"
        );
        assert_eq!(
            cache.layers.len(),
            self.num_layers(),
            "cache of another network"
        );
        let masks = step_masks(lengths, t_len, batch);
        let rev_masks: Vec<Array1<f64>> = masks.iter().rev().cloned().collect();
        let d_last_of = |i: usize, cell: &C| -> State {
            match d_last {
                Some(d) => d[i].clone(),
                None => zero_state_like(cell, batch),
            }
        };
        let mut d_init: Vec<Option<State>> = vec![None; self.num_layers() * dirs];
        let mut d_out = d_outputs.to_owned(); // ∂L/∂(output of layer k)   (T, B, dirs*H)
        for (k, (layer, lc)) in self.layers.iter().zip(&cache.layers).enumerate().rev() {
            let g = &mut grads.layers[k];
            if let Some(m) = &lc.mask {
                d_out *= m;
            }
            let (mut d_input, d0) = run_back(
                &layer.forward,
                &lc.forward,
                &masks,
                d_out.slice(s![.., .., ..h]),
                d_last_of(k * dirs, &layer.forward),
                &mut g.forward,
            );
            d_init[k * dirs] = Some(d0);
            if let (Some(rev_cell), Some(rev_caches)) = (&layer.reverse, &lc.reverse) {
                let d_rev = reverse_time(d_out.slice(s![.., .., h..])); // reversed time
                let (d_in_rev, d0) = run_back(
                    rev_cell,
                    rev_caches,
                    &rev_masks,
                    d_rev.view(),
                    d_last_of(k * dirs + 1, rev_cell),
                    g.reverse
                        .as_mut()
                        .expect("grads of a bidirectional network"),
                );
                d_input += &reverse_time(d_in_rev.view());
                d_init[k * dirs + 1] = Some(d0);
            }
            d_out = d_input;
        }
        let d_init = d_init
            .into_iter()
            .map(|d| d.expect("every state"))
            .collect();
        (d_out, d_init)
    }
}

/// A zero gradient shaped like the cell's state for `batch` rows.
fn zero_state_like<C: Cell>(cell: &C, batch: usize) -> State {
    cell.zero_state(batch)
}

/// `(T, B)` as a 2-D mask array (1.0 at real steps), for masked losses.
pub fn mask_array(lengths: Option<&[usize]>, t_len: usize, batch: usize) -> Array2<f64> {
    let mut m = Array2::zeros((t_len, batch)); // (T, B)
    for (t, row) in step_masks(lengths, t_len, batch).iter().enumerate() {
        m.row_mut(t).assign(row);
    }
    m
}
