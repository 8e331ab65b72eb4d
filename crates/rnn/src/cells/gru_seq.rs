//! The GRU over a whole sequence: the schedules behind [`Gru`]'s [`Cell::forward_seq`] and
//! [`Cell::backward_seq`].
//!
//! They compute the same sums as [`crate::bptt::unroll`] and [`crate::bptt::bptt`] over the per-step
//! [`Cell::forward`] and [`Cell::backward`], in another order. The input side x_t W_ihᵀ + b_ih of every
//! gate never depends on the state, in either [`GruVariant`], so it is one product over all T·B rows
//! before the loop. The hidden side stays in the loop: one fused product with reset-after; with
//! reset-before the r and z rows, then W_hn (r ⊙ h_{t-1}), which must wait for r.
//!
//! Backward, each step computes the gate gradients and ∂L/∂h_{t-1}, whose products with W_hh's rows
//! must run step by step. The weight gradients are sums over time of outer products of things the loop
//! has saved, in both variants: with reset-before, ∂L/∂W_hn sums ∂L/∂hnᵀ (r ⊙ h_{t-1}) and r ⊙ h_{t-1}
//! is in the cache. So every weight gradient is one product after the loop, the biases column sums,
//! and ∂L/∂x one product if wanted.

use ndarray::{s, Array2, Array3, ArrayView3, Axis};

use super::{stack_rows, Cell, Gru, GruCache, GruVariant, State};
use crate::bptt::Unrolled;
use crate::linalg::{add_at_b, linear, linear_back};

impl Gru {
    // ANCHOR: gru_forward_steps
    /// Runs the cell over `xs` `(T, B, D)` from `init`, as [`Cell::forward_seq`]: the same outputs, final
    /// state and caches as [`crate::bptt::unroll`] up to rounding. The input side of all three gates,
    /// x_t W_ihᵀ + b_ih, is computed for every step as one product before the loop; each step then runs
    /// only the hidden side and the gates (`Gru::gates`, shared with [`Cell::forward`]).
    pub fn forward_steps(&self, xs: ArrayView3<'_, f64>, init: &State) -> Unrolled<Gru> {
        let (t_len, batch, d) = xs.dim();
        let hidden = self.hidden_size();
        assert_eq!(
            d,
            self.input_size(),
            "Gru::forward_seq: xs has shape {:?}, expected (T, B, D) with D = {}",
            xs.dim(),
            self.input_size()
        );
        assert_eq!(
            init.h.dim(),
            (batch, hidden),
            "Gru::forward_seq: the initial state has shape {:?}, expected (B, H) = {:?}",
            init.h.dim(),
            (batch, hidden)
        );
        // the input side of every gate for every step at once: GI = X W_ihᵀ + b_ih          (T·B, 3H)
        let x_rows = xs
            .to_shape((t_len * batch, d))
            .expect("(T, B, D) as (T·B, D)");
        let gi = linear(&x_rows, &self.weight_ih) + &self.bias_ih;
        let mut outputs = Array3::zeros((t_len, batch, hidden)); // (T, B, H)
        let mut caches = Vec::with_capacity(t_len);
        let mut h_prev = init.h.clone();
        for t in 0..t_len {
            // step t's rows of GI                                                            (B, 3H)
            let gi_t = gi.slice(s![t * batch..(t + 1) * batch, ..]);
            // (8.9)-(8.12): the hidden side, the gates and h_t, exactly as in the per-step forward (B, H)
            let x = xs.index_axis(Axis(0), t).to_owned();
            let (next, cache) = self.gates(gi_t, x, &h_prev);
            outputs.index_axis_mut(Axis(0), t).assign(&next.h);
            caches.push(cache);
            h_prev = next.h;
        }
        Unrolled {
            outputs,
            last: State::from_h(h_prev),
            caches,
        }
    }
    // ANCHOR_END: gru_forward_steps

    // ANCHOR: gru_backward_steps
    /// BPTT through the steps whose caches are `caches` (in time order), as [`Cell::backward_seq`]: the
    /// same sums as [`crate::bptt::bptt`] over [`Cell::backward`], in another order. Each step computes
    /// the gate gradients (`Gru::gate_grads`, shared with [`Cell::backward`]) and ∂L/∂h_{t-1}; the
    /// gradients of the input-side and hidden-side terms of every step are kept, and the weight and bias
    /// gradients, sums over time, become one matrix product or column sum each after the loop, as does
    /// ∂L/∂x (only if `want_dx`).
    pub fn backward_steps(
        &self,
        caches: &[&GruCache],
        d_outputs: ArrayView3<'_, f64>,
        d_last: Option<&State>,
        grads: &mut Gru,
        want_dx: bool,
    ) -> (Option<Array3<f64>>, State) {
        let (t_len, batch, hidden) = d_outputs.dim();
        assert_eq!(
            (t_len, hidden),
            (caches.len(), self.hidden_size()),
            "Gru::backward_steps: d_outputs is {:?}, expected (T, B, H) with T = {} cached steps, H = {}",
            d_outputs.dim(),
            caches.len(),
            self.hidden_size()
        );
        let hs = hidden;
        let (rz_rows, n_rows) = (s![..2 * hs, ..], s![2 * hs.., ..]);
        // dgi and dgh of every step, step t in rows t·B..(t+1)·B                    (T·B, 3H) each
        let mut dgis = Array2::zeros((t_len * batch, 3 * hs));
        let mut dghs = Array2::zeros((t_len * batch, 3 * hs));
        // dh_next: the gradient reaching h_t from the steps after t                         (B, H)
        let mut dh = d_last.map_or_else(|| Array2::zeros((batch, hidden)), |d| d.h.clone());
        for t in (0..t_len).rev() {
            // (4.7) ∂L/∂h_t = ∂L_t/∂h_t + dh_next                                             (B, H)
            dh += &d_outputs.index_axis(Axis(0), t);
            // (8.13)-(8.24), as in the per-step backward                    (B, 3H), (B, 3H), (B, H)
            let (dgi, dgh, mut dh_prev) = self.gate_grads(caches[t], &dh);
            match self.variant {
                // (8.30a) ∂L/∂h_{t-1} += dgh W_hh                                             (B, H)
                GruVariant::ResetAfter => dh_prev += &linear_back(&dgh, &self.weight_hh),
                // (8.31b) ∂L/∂h_{t-1} += [∂L/∂a_r | ∂L/∂a_z] [W_hr; W_hz]                     (B, H)
                GruVariant::ResetBefore => {
                    dh_prev +=
                        &linear_back(&dgh.slice(s![.., ..2 * hs]), &self.weight_hh.slice(rz_rows))
                }
            }
            dh = dh_prev;
            let rows = s![t * batch..(t + 1) * batch, ..];
            dgis.slice_mut(rows).assign(&dgi);
            dghs.slice_mut(rows).assign(&dgh);
        }
        // every step's input and previous state, in the row order of dgis   (T·B, D), (T·B, H)
        let xs = stack_rows(caches.iter().map(|c| c.x.view()), batch, self.input_size());
        let h_prevs = stack_rows(caches.iter().map(|c| c.h_prev.view()), batch, hidden);
        // (8.25) summed over time: ∂L/∂W_ih += Σ_t dgi_tᵀ x_t = DGIᵀ X                      (3H, D)
        add_at_b(&mut grads.weight_ih, &dgis, &xs);
        // (8.26) summed over time: ∂L/∂b_ih += Σ_t Σ_batch dgi_t                               (3H)
        grads.bias_ih += &dgis.sum_axis(Axis(0));
        // (8.27) summed over time: ∂L/∂b_hh += Σ_t Σ_batch dgh_t                               (3H)
        grads.bias_hh += &dghs.sum_axis(Axis(0));
        match self.variant {
            GruVariant::ResetAfter => {
                // (8.29a) summed over time: ∂L/∂W_hh += Σ_t dgh_tᵀ h_{t-1} = DGHᵀ H_prev    (3H, H)
                add_at_b(&mut grads.weight_hh, &dghs, &h_prevs);
            }
            GruVariant::ResetBefore => {
                // (8.29b) summed over time: ∂L/∂[W_hr; W_hz] += DGH_rzᵀ H_prev               (2H, H)
                let mut dw_rz = grads.weight_hh.slice_mut(rz_rows);
                add_at_b(&mut dw_rz, &dghs.slice(s![.., ..2 * hs]), &h_prevs);
                // every step's r ⊙ h_{t-1}, in the same row order                             (T·B, H)
                let rh = stack_rows(caches.iter().map(|c| c.r.view()), batch, hidden) * &h_prevs;
                // (8.30b) summed over time: ∂L/∂W_hn += Σ_t ∂L/∂hn_tᵀ (r ⊙ h_{t-1})           (H, H)
                let mut dw_n = grads.weight_hh.slice_mut(n_rows);
                add_at_b(&mut dw_n, &dghs.slice(s![.., 2 * hs..]), &rh);
            }
        }
        // (8.28) for every step at once: ∂L/∂X = DGI W_ih                                   (T·B, D)
        let dxs = want_dx.then(|| {
            linear_back(&dgis, &self.weight_ih)
                .into_shape_with_order((t_len, batch, self.input_size()))
                .expect("(T·B, D) is contiguous")
        });
        (dxs, State::from_h(dh))
    }
    // ANCHOR_END: gru_backward_steps
}
