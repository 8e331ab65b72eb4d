//! The long short-term memory cell (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al.
//! 2000), exactly as one step of `torch.nn.LSTM`, plus the variants studied by Greff et al. (2015):
//! peephole connections, the coupled input-forget gate (CIFG), and the removed gates, removed
//! activations and full gate recurrence whose step is in `lstm_variants.rs`.
//!
//! One step in the book's notation (column vectors; the code below uses batches as rows):
//!
//! ```text
//! i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)        input gate
//! f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)        forget gate
//! g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)     candidate cell values
//! o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)        output gate
//! c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t                       cell state
//! h_t = o_t ⊙ tanh(c_t)                                 hidden state (the output)
//! ```
//!
//! The gates' weights are stacked by rows in PyTorch's order i, f, g, o: `weight_ih` is `(4H, D)` with rows
//! `[0, H)` for i, `[H, 2H)` for f, `[2H, 3H)` for g and `[3H, 4H)` for o; `weight_hh`, `bias_ih` and
//! `bias_hh` are stacked the same way. With the default [`LstmOptions`] the cell *is* `torch.nn.LSTM`.

use crate::linalg::{add_at_b, linear, linear_back};
use ndarray::{s, Array1, Array2, Array3, ArrayView2, ArrayView3, ArrayViewD, ArrayViewMutD, Axis};

use super::{check_step_shapes, Cell, State};
use crate::bptt::Unrolled;
use crate::init::{pytorch_default, Rng};
use crate::params::Parameters;

/// Which LSTM: the options that turn `torch.nn.LSTM` into one of its variants.
///
/// `LstmOptions::default()` (no peepholes, no coupling, forget bias 0) is exactly PyTorch's LSTM.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LstmOptions {
    /// Peephole connections (Gers & Schmidhuber 2000): the gates also look at the cell state, through
    /// *diagonal* weights (one number per unit, element-wise products). `weight_ci` and `weight_cf` (H) read
    /// c_{t-1} into the input and forget gates; `weight_co` (H) reads the new c_t into the output gate.
    pub peephole: bool,
    /// Coupled input-forget gate, "CIFG" (Greff et al. 2015): there is no input gate of its own; the cell
    /// writes exactly as much as it forgets, `i_t = 1 - f_t`. The weights then stack only G = 3 gates, in
    /// the order f, g, o: `weight_ih` is `(3H, D)`, and there is no `weight_ci` peephole.
    pub cifg: bool,
    /// A constant added to the forget gate's part of `bias_ih` at initialisation, so that a fresh cell
    /// remembers by default (f ≈ σ(forget_bias)). Jozefowicz et al. (2015) suggest 1.0; PyTorch's default
    /// is 0, which is the default here too.
    pub forget_bias: f64,
    /// NIG (Greff et al.): no input gate, i_t = 1 (8.32); its block of rows is absent.
    pub no_input_gate: bool,
    /// NFG (Greff et al.): no forget gate, f_t = 1 (8.32); its block of rows is absent, and
    /// `forget_bias` has no effect.
    pub no_forget_gate: bool,
    /// NOG (Greff et al.): no output gate, o_t = 1 (8.32); its block of rows is absent.
    pub no_output_gate: bool,
    /// NIAF (Greff et al.): no input activation function, the candidate is linear, g_t = a_g (8.34).
    pub no_input_activation: bool,
    /// NOAF (Greff et al.): no output activation function, h_t = o_t ⊙ c_t (8.36).
    pub no_output_activation: bool,
    /// FGR (Greff et al.): full gate recurrence. The gates i, f, o also read the previous step's gate
    /// activations through one stacked matrix `weight_gg` `(3H, 3H)` (8.38), and the state carries those
    /// activations ([`State::gates`], `(B, 3H)`, zeros at the start). Needs all three gates.
    pub full_gate_recurrence: bool,
}

impl LstmOptions {
    /// The number of gate blocks G stacked in the weights: 4 (i, f, g, o), less one for each gate the
    /// variant removes (CIFG, NIG, NFG, NOG); the blocks keep the order i, f, g, o.
    pub fn num_gates(&self) -> usize {
        let b = self.blocks();
        1 + [b.i, b.f, b.o].iter().flatten().count()
    }
}

/// An LSTM cell: `torch.nn.LSTM` for one layer and one step, or one of the variants of Greff et al.
/// (2015) that [`LstmOptions`] describes (see [`GreffVariant`](super::GreffVariant)).
///
/// Parameter names and shapes are PyTorch's: `weight_ih (G·H, D)`, `weight_hh (G·H, H)`,
/// `bias_ih (G·H)`, `bias_hh (G·H)`, with G blocks of H rows, one for each gate the variant has, in the
/// order i, f, g, o: G = 4 for PyTorch's LSTM; CIFG and NIG drop i (order f, g, o), NFG drops f
/// (i, g, o), NOG drops o (i, f, g). The peephole weights are present only with
/// [`LstmOptions::peephole`], and only for the gates that exist. With [`LstmOptions::full_gate_recurrence`]
/// there is one more tensor, which PyTorch has no name for: `weight_gg (3H, 3H)`, the nine matrices
/// R_{jk} (from gate j at t-1 to gate k at t, j, k ∈ {i, f, o}) stacked with the target gate k by rows
/// and the source gate j by columns, both in the order i, f, o.
///
/// ```
/// use rnn::prelude::*;
/// let cell = Lstm::new(3, 5, &mut rnn::init::rng(0));
/// assert_eq!(cell.weight_ih.dim(), (4 * 5, 3)); // rows: i, f, g, o
/// let x = ndarray::Array2::<f64>::ones((2, 3)); // (B, D)
/// let (next, _cache) = cell.forward(x.view(), &cell.zero_state(2));
/// assert_eq!(next.h.dim(), (2, 5));
/// assert!(next.c.is_some()); // the LSTM carries a cell state
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Lstm {
    /// W_ih = [W_ii; W_if; W_ig; W_io] stacked by rows, `(G·H, D)`.
    pub weight_ih: Array2<f64>,
    /// W_hh = [W_hi; W_hf; W_hg; W_ho] stacked by rows, `(G·H, H)`.
    pub weight_hh: Array2<f64>,
    /// b_ih, `(G·H)`.
    pub bias_ih: Array1<f64>,
    /// b_hh, `(G·H)`.
    pub bias_hh: Array1<f64>,
    /// Peephole c_{t-1} → input gate, `(H)`; `None` without peepholes or input gate (CIFG, NIG).
    pub weight_ci: Option<Array1<f64>>,
    /// Peephole c_{t-1} → forget gate, `(H)`; `None` without peepholes or with NFG.
    pub weight_cf: Option<Array1<f64>>,
    /// Peephole c_t → output gate, `(H)`; `None` without peepholes or with NOG.
    pub weight_co: Option<Array1<f64>>,
    /// FGR: previous gates [i; f; o]_{t-1} → pre-activations of i, f, o, `(3H, 3H)`; `None` without
    /// [`LstmOptions::full_gate_recurrence`].
    pub weight_gg: Option<Array2<f64>>,
    /// The variant this cell is.
    pub options: LstmOptions,
}

/// What [`Lstm::forward`] saves for the backward step (all `(B, H)` but `x`).
#[derive(Clone, Debug)]
pub struct LstmCache {
    /// x_t, `(B, D)`.
    pub x: Array2<f64>,
    /// h_{t-1}.
    pub h_prev: Array2<f64>,
    /// c_{t-1}.
    pub c_prev: Array2<f64>,
    /// FGR only: the previous step's gates [i, f, o]_{t-1}, `(B, 3H)`.
    pub gates_prev: Option<Array2<f64>>,
    /// Input gate i_t (equal to 1 - f_t with CIFG, to 1 with NIG).
    pub i: Array2<f64>,
    /// Forget gate f_t (1 with NFG).
    pub f: Array2<f64>,
    /// Candidate values g_t (a_g itself with NIAF).
    pub g: Array2<f64>,
    /// Output gate o_t (1 with NOG).
    pub o: Array2<f64>,
    /// Cell state c_t.
    pub c: Array2<f64>,
    /// The output activation of c_t: tanh(c_t), or c_t itself with NOAF.
    pub tanh_c: Array2<f64>,
}

impl Lstm {
    /// A standard LSTM (`torch.nn.LSTM`) with PyTorch's default initialisation U(-1/√H, 1/√H), drawn in
    /// the order weight_ih, weight_hh, bias_ih, bias_hh.
    pub fn new(input_size: usize, hidden_size: usize, rng: &mut Rng) -> Self {
        Self::with_options(input_size, hidden_size, LstmOptions::default(), rng)
    }

    /// An LSTM variant. Every tensor is drawn from U(-1/√H, 1/√H): first weight_ih, weight_hh, bias_ih,
    /// bias_hh, then the peepholes the variant has (weight_ci, weight_cf, weight_co), then weight_gg
    /// (FGR); finally `options.forget_bias` is added to the forget gate's rows of `bias_ih`.
    ///
    /// Panics if the options contradict each other ([`LstmOptions::validate`]).
    pub fn with_options(
        input_size: usize,
        hidden_size: usize,
        options: LstmOptions,
        rng: &mut Rng,
    ) -> Self {
        if let Err(e) = options.validate() {
            panic!("Lstm::with_options: {e}");
        }
        let (d, h, gh) = (input_size, hidden_size, options.num_gates() * hidden_size);
        let init = |shape: &[usize], rng: &mut Rng| pytorch_default(shape, h, rng);
        let vector = |rng: &mut Rng| init(&[h], rng).into_dimensionality().unwrap();
        let mut cell = Lstm {
            weight_ih: init(&[gh, d], rng).into_dimensionality().unwrap(),
            weight_hh: init(&[gh, h], rng).into_dimensionality().unwrap(),
            bias_ih: init(&[gh], rng).into_dimensionality().unwrap(),
            bias_hh: init(&[gh], rng).into_dimensionality().unwrap(),
            weight_ci: None,
            weight_cf: None,
            weight_co: None,
            weight_gg: None,
            options,
        };
        let blocks = options.blocks();
        if options.peephole {
            cell.weight_ci = blocks.i.map(|_| vector(rng));
            cell.weight_cf = blocks.f.map(|_| vector(rng));
            cell.weight_co = blocks.o.map(|_| vector(rng));
        }
        if options.full_gate_recurrence {
            cell.weight_gg = Some(init(&[3 * h, 3 * h], rng).into_dimensionality().unwrap());
        }
        if let Some(f) = blocks.f {
            cell.bias_ih
                .slice_mut(s![f * h..(f + 1) * h])
                .mapv_inplace(|b| b + options.forget_bias);
        }
        cell
    }
}

impl Parameters for Lstm {
    fn params(&self) -> Vec<(String, ArrayViewD<'_, f64>)> {
        let mut ps = vec![
            ("weight_ih".into(), self.weight_ih.view().into_dyn()),
            ("weight_hh".into(), self.weight_hh.view().into_dyn()),
            ("bias_ih".into(), self.bias_ih.view().into_dyn()),
            ("bias_hh".into(), self.bias_hh.view().into_dyn()),
        ];
        let peepholes = [
            ("weight_ci", &self.weight_ci),
            ("weight_cf", &self.weight_cf),
            ("weight_co", &self.weight_co),
        ];
        for (name, w) in peepholes {
            if let Some(w) = w {
                ps.push((name.into(), w.view().into_dyn()));
            }
        }
        if let Some(w) = &self.weight_gg {
            ps.push(("weight_gg".into(), w.view().into_dyn()));
        }
        ps
    }

    fn params_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, f64>)> {
        let mut ps = vec![
            ("weight_ih".into(), self.weight_ih.view_mut().into_dyn()),
            ("weight_hh".into(), self.weight_hh.view_mut().into_dyn()),
            ("bias_ih".into(), self.bias_ih.view_mut().into_dyn()),
            ("bias_hh".into(), self.bias_hh.view_mut().into_dyn()),
        ];
        let peepholes = [
            ("weight_ci", &mut self.weight_ci),
            ("weight_cf", &mut self.weight_cf),
            ("weight_co", &mut self.weight_co),
        ];
        for (name, w) in peepholes {
            if let Some(w) = w {
                ps.push((name.into(), w.view_mut().into_dyn()));
            }
        }
        if let Some(w) = &mut self.weight_gg {
            ps.push(("weight_gg".into(), w.view_mut().into_dyn()));
        }
        ps
    }
}

impl Cell for Lstm {
    type Cache = LstmCache;

    fn input_size(&self) -> usize {
        self.weight_ih.ncols()
    }

    fn hidden_size(&self) -> usize {
        self.weight_hh.ncols()
    }

    fn kind(&self) -> &'static str {
        "lstm"
    }

    fn config(&self) -> Option<super::CellConfig> {
        Some(super::CellConfig::lstm(self.options))
    }

    fn zero_state(&self, batch: usize) -> State {
        let zeros = Array2::zeros((batch, self.hidden_size()));
        // (8.38) FGR: the gates "before the first step" are zeros                          (B, 3H)
        let gates = self
            .weight_gg
            .as_ref()
            .map(|_| Array2::zeros((batch, 3 * self.hidden_size())));
        State {
            h: zeros.clone(),
            c: Some(zeros),
            gates,
        }
    }

    // ANCHOR: lstm_step
    fn forward(&self, x: ArrayView2<'_, f64>, prev: &State) -> (State, LstmCache) {
        let h = self.hidden_size();
        check_step_shapes("LSTM", &x, prev, self.input_size(), h);
        let c_prev = prev
            .c
            .as_ref()
            .expect("LSTM step: the previous state has no cell state c (use Lstm::zero_state)");
        assert_eq!(
            c_prev.dim(),
            prev.h.dim(),
            "LSTM step: previous cell state has shape {:?}, expected (B, H) = {:?}",
            c_prev.dim(),
            prev.h.dim()
        );
        // (7.1) a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh: every gate at once                (B, G·H)
        let a = linear(&x, &self.weight_ih)
            + &self.bias_ih
            + linear(&prev.h, &self.weight_hh)
            + &self.bias_hh;
        // (7.2)-(7.7): the gates, c_t and h_t from a_t (Lstm::gates, in lstm_variants.rs)
        self.gates(a, x.to_owned(), &prev.h, c_prev, prev.gates.as_ref())
    }
    // ANCHOR_END: lstm_step

    // ANCHOR: lstm_step_backward
    fn backward(
        &self,
        cache: &LstmCache,
        d_next: &State,
        grads: &mut Self,
    ) -> (Array2<f64>, State) {
        let dc_next = d_next
            .c
            .as_ref()
            .expect("LSTM backward: the state gradient has no cell-state part c");
        // (7.8)-(7.18): ∂L/∂a_t of every gate, ∂L/∂c_{t-1} and (FGR) ∂L/∂gates_{t-1}
        // (Lstm::gate_grads, in lstm_variants.rs)                               (B, G·H), (B, H), (B, 3H)
        let (da, dc_prev, dgates_prev) =
            self.gate_grads(cache, &d_next.h, dc_next, d_next.gates.as_ref(), grads);
        // (7.19) ∂L/∂W_ih += ∂L/∂a_tᵀ x_t                                                      (G·H, D)
        add_at_b(&mut grads.weight_ih, &da, &cache.x);
        // (7.20) ∂L/∂W_hh += ∂L/∂a_tᵀ h_{t-1}                                                  (G·H, H)
        add_at_b(&mut grads.weight_hh, &da, &cache.h_prev);
        // (7.21) ∂L/∂b_ih += Σ_batch ∂L/∂a_t, and the same for b_hh                               (G·H)
        let db = da.sum_axis(Axis(0));
        grads.bias_ih += &db;
        grads.bias_hh += &db;
        // (7.22) ∂L/∂x_t = ∂L/∂a_t W_ih                                                          (B, D)
        let dx = linear_back(&da, &self.weight_ih);
        // (7.23) ∂L/∂h_{t-1} = ∂L/∂a_t W_hh                                                      (B, H)
        let dh_prev = linear_back(&da, &self.weight_hh);
        let d_prev = State {
            h: dh_prev,
            c: Some(dc_prev),
            gates: dgates_prev,
        };
        (dx, d_prev)
    }
    // ANCHOR_END: lstm_step_backward

    /// [`Lstm::forward_steps`]: the input half of (7.1) for every step as one product before the loop.
    fn forward_seq(&self, xs: ArrayView3<'_, f64>, init: &State) -> Unrolled<Self> {
        self.forward_steps(xs, init)
    }

    /// [`Lstm::backward_steps`]: the weight gradients summed over time as one product each after the loop.
    fn backward_seq(
        &self,
        caches: &[LstmCache],
        d_outputs: ArrayView3<'_, f64>,
        d_last: Option<&State>,
        grads: &mut Self,
        want_dx: bool,
    ) -> (Option<Array3<f64>>, State) {
        let caches: Vec<&LstmCache> = caches.iter().collect();
        self.backward_steps(&caches, d_outputs, d_last, grads, want_dx)
    }
}
