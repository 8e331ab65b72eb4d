//! The LSTM over a whole sequence: the schedules behind [`Lstm`]'s [`Cell::forward_seq`] and
//! [`Cell::backward_seq`].
//!
//! They compute the same sums as [`crate::bptt::unroll`] and [`crate::bptt::bptt`] over the per-step
//! [`Cell::forward`] and [`Cell::backward`], in another order. Only what depends on the previous step
//! stays in the time loop: the recurrent product W_hh h_{t-1} and the gate math forward; the gate
//! gradients, ∂L/∂c_{t-1} and ∂L/∂h_{t-1} = ∂L/∂a_t W_hh backward. Everything else, the input half of (7.1)
//! and the weight and bias gradients (7.19)-(7.21) summed over time (and ∂L/∂x), is one matrix product
//! over all T·B rows at once, which the matrix kernels run much faster than T small ones.

use ndarray::{s, Array2, Array3, ArrayView3, Axis};

use super::{stack_rows, Cell, Lstm, LstmCache, State};
use crate::bptt::Unrolled;
use crate::linalg::{add_at_b, linear, linear_back, RepeatedWeight};

impl Lstm {
    // ANCHOR: lstm_forward_steps
    /// Runs the cell over `xs` `(T, B, D)` from `init`, as [`Cell::forward_seq`]: the same outputs, final
    /// state and caches as [`crate::bptt::unroll`] up to rounding. The input half of (7.1),
    /// W_ih x_t + b_ih, is computed for every step as one product before the loop; each step then adds
    /// only W_hh h_{t-1} + b_hh and runs the gates (`Lstm::gates`, shared with [`Cell::forward`]).
    pub fn forward_steps(&self, xs: ArrayView3<'_, f64>, init: &State) -> Unrolled<Lstm> {
        let (t_len, batch, d) = xs.dim();
        let hidden = self.hidden_size();
        assert_eq!(
            d,
            self.input_size(),
            "Lstm::forward_seq: xs has shape {:?}, expected (T, B, D) with D = {}",
            xs.dim(),
            self.input_size()
        );
        let c0 = init.c.as_ref().expect(
            "Lstm::forward_seq: the initial state has no cell state c (use Lstm::zero_state)",
        );
        for (name, m) in [("hidden", &init.h), ("cell", c0)] {
            assert_eq!(
                m.dim(),
                (batch, hidden),
                "Lstm::forward_seq: the initial {name} state has shape {:?}, expected (B, H) = {:?}",
                m.dim(),
                (batch, hidden)
            );
        }
        // (7.1), the half that does not depend on h: W_ih x_t + b_ih for every step at once  (T·B, G·H)
        let x_rows = xs
            .to_shape((t_len * batch, d))
            .expect("(T, B, D) as (T·B, D)");
        let input_part = linear(&x_rows, &self.weight_ih) + &self.bias_ih;
        let mut outputs = Array3::zeros((t_len, batch, hidden)); // (T, B, H)
        let mut caches = Vec::with_capacity(t_len);
        // W_hh is read T times with B rows each: prepared once (see linalg::RepeatedWeight)
        let w_hh = RepeatedWeight::new(&self.weight_hh, batch);
        let mut state = init.clone();
        for t in 0..t_len {
            // (7.1) a_t = (W_ih x_t + b_ih) + W_hh h_{t-1} + b_hh: only this product waits  (B, G·H)
            let a = input_part
                .slice(s![t * batch..(t + 1) * batch, ..])
                .to_owned()
                + w_hh.times(&state.h)
                + &self.bias_hh;
            let c_prev = state.c.as_ref().expect("an LSTM state has c");
            // (7.2)-(7.7): the gates, c_t and h_t, exactly as in the per-step forward          (B, H)
            let x = xs.index_axis(Axis(0), t).to_owned();
            let (next, cache) = self.gates(a, x, &state.h, c_prev, state.gates.as_ref());
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
    // ANCHOR_END: lstm_forward_steps

    // ANCHOR: lstm_backward_steps
    /// BPTT through the steps whose caches are `caches` (in time order), as [`Cell::backward_seq`]: the
    /// same sums as [`crate::bptt::bptt`] over [`Cell::backward`], in another order. Each step computes
    /// only ∂L/∂a_t and ∂L/∂c_{t-1} (`Lstm::gate_grads`, shared with [`Cell::backward`], which also adds
    /// the peephole gradients) and ∂L/∂h_{t-1} = ∂L/∂a_t W_hh; ∂L/∂a_t of every step is kept, and the
    /// weight and bias gradients, sums over time, become one matrix product or column sum each after the
    /// loop, as does ∂L/∂x (only if `want_dx`).
    pub fn backward_steps(
        &self,
        caches: &[&LstmCache],
        d_outputs: ArrayView3<'_, f64>,
        d_last: Option<&State>,
        grads: &mut Lstm,
        want_dx: bool,
    ) -> (Option<Array3<f64>>, State) {
        let (t_len, batch, hidden) = d_outputs.dim();
        assert_eq!(
            (t_len, hidden),
            (caches.len(), self.hidden_size()),
            "Lstm::backward_steps: d_outputs is {:?}, expected (T, B, H) with T = {} cached steps, H = {}",
            d_outputs.dim(),
            caches.len(),
            self.hidden_size()
        );
        // ∂L/∂a_t of every step, step t in rows t·B..(t+1)·B                             (T·B, G·H)
        let mut das = Array2::zeros((t_len * batch, self.weight_hh.nrows()));
        // dh_next and dc_next: the gradients reaching h_t and c_t from the steps after t    (B, H)
        let (mut dh, mut dc) = match d_last {
            Some(d) => (
                d.h.clone(),
                d.c.clone()
                    .expect("Lstm::backward_seq: d_last has no cell-state part c"),
            ),
            None => (
                Array2::zeros((batch, hidden)),
                Array2::zeros((batch, hidden)),
            ),
        };
        // FGR: the gradient reaching the gates of step t from the steps after t            (B, 3H)
        let mut dg = self.weight_gg.as_ref().map(|_| {
            d_last
                .and_then(|d| d.gates.clone())
                .unwrap_or_else(|| Array2::zeros((batch, 3 * hidden)))
        });
        for t in (0..t_len).rev() {
            // (4.7) ∂L/∂h_t = ∂L_t/∂h_t + dh_next                                          (B, H)
            dh += &d_outputs.index_axis(Axis(0), t);
            // (7.8)-(7.18): ∂L/∂a_t, (7.16) ∂L/∂c_{t-1} and (8.41) ∂L/∂gates_{t-1}, as in the
            // per-step backward                                                     (B, G·H), (B, H), (B, 3H)
            let (da, dc_prev, dg_prev) = self.gate_grads(caches[t], &dh, &dc, dg.as_ref(), grads);
            // (7.23) ∂L/∂h_{t-1} = ∂L/∂a_t W_hh                                            (B, H)
            dh = linear_back(&da, &self.weight_hh);
            dc = dc_prev;
            dg = dg_prev;
            das.slice_mut(s![t * batch..(t + 1) * batch, ..])
                .assign(&da);
        }
        // every step's input and previous hidden state, in the row order of das   (T·B, D), (T·B, H)
        let xs = stack_rows(caches.iter().map(|c| c.x.view()), batch, self.input_size());
        let h_prevs = stack_rows(caches.iter().map(|c| c.h_prev.view()), batch, hidden);
        // (7.19) summed over time: ∂L/∂W_ih += Σ_t ∂L/∂a_tᵀ x_t = Δᵀ X                     (G·H, D)
        add_at_b(&mut grads.weight_ih, &das, &xs);
        // (7.20) summed over time: ∂L/∂W_hh += Σ_t ∂L/∂a_tᵀ h_{t-1} = Δᵀ H_prev            (G·H, H)
        add_at_b(&mut grads.weight_hh, &das, &h_prevs);
        // (7.21) summed over time: ∂L/∂b_ih += Σ_t Σ_batch ∂L/∂a_t, the same for b_hh         (G·H)
        let db = das.sum_axis(Axis(0));
        grads.bias_ih += &db;
        grads.bias_hh += &db;
        // (7.22) for every step at once: ∂L/∂X = Δ W_ih                                      (T·B, D)
        let dxs = want_dx.then(|| {
            linear_back(&das, &self.weight_ih)
                .into_shape_with_order((t_len, batch, self.input_size()))
                .expect("(T·B, D) is contiguous")
        });
        let d_init = State {
            h: dh,
            c: Some(dc),
            gates: dg,
        };
        (dxs, d_init)
    }
    // ANCHOR_END: lstm_backward_steps
}
