//! The long short-term memory cell (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al.
//! 2000), exactly as one step of `torch.nn.LSTM`, plus two variants studied by Greff et al. (2015):
//! peephole connections and the coupled input-forget gate (CIFG).
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
use crate::activation::{dsigmoid_from_output, dtanh_from_output, sigmoid_arr, tanh_arr};
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
}

impl LstmOptions {
    /// The number of gate blocks G stacked in the weights: 4 (i, f, g, o), or 3 (f, g, o) with CIFG.
    pub fn num_gates(&self) -> usize {
        if self.cifg {
            3
        } else {
            4
        }
    }
}

/// An LSTM cell: `torch.nn.LSTM` for one layer and one step, optionally with peepholes or CIFG.
///
/// Parameter names and shapes are PyTorch's, with G = 4 gates in the order i, f, g, o (G = 3, order
/// f, g, o, with [`LstmOptions::cifg`]): `weight_ih (G·H, D)`, `weight_hh (G·H, H)`, `bias_ih (G·H)`,
/// `bias_hh (G·H)`. The peephole weights are present only with [`LstmOptions::peephole`].
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
    /// Peephole c_{t-1} → input gate, `(H)`; `None` without peepholes or with CIFG.
    pub weight_ci: Option<Array1<f64>>,
    /// Peephole c_{t-1} → forget gate, `(H)`; `None` without peepholes.
    pub weight_cf: Option<Array1<f64>>,
    /// Peephole c_t → output gate, `(H)`; `None` without peepholes.
    pub weight_co: Option<Array1<f64>>,
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
    /// Input gate i_t (equal to 1 - f_t with CIFG).
    pub i: Array2<f64>,
    /// Forget gate f_t.
    pub f: Array2<f64>,
    /// Candidate values g_t.
    pub g: Array2<f64>,
    /// Output gate o_t.
    pub o: Array2<f64>,
    /// Cell state c_t.
    pub c: Array2<f64>,
    /// tanh(c_t).
    pub tanh_c: Array2<f64>,
}

impl Lstm {
    /// A standard LSTM (`torch.nn.LSTM`) with PyTorch's default initialisation U(-1/√H, 1/√H), drawn in
    /// the order weight_ih, weight_hh, bias_ih, bias_hh.
    pub fn new(input_size: usize, hidden_size: usize, rng: &mut Rng) -> Self {
        Self::with_options(input_size, hidden_size, LstmOptions::default(), rng)
    }

    /// An LSTM variant. Every tensor is drawn from U(-1/√H, 1/√H): first weight_ih, weight_hh, bias_ih,
    /// bias_hh, then the peepholes weight_ci (unless CIFG), weight_cf, weight_co; finally
    /// `options.forget_bias` is added to the forget gate's rows of `bias_ih`.
    pub fn with_options(
        input_size: usize,
        hidden_size: usize,
        options: LstmOptions,
        rng: &mut Rng,
    ) -> Self {
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
            options,
        };
        if options.peephole {
            if !options.cifg {
                cell.weight_ci = Some(vector(rng));
            }
            cell.weight_cf = Some(vector(rng));
            cell.weight_co = Some(vector(rng));
        }
        let f = cell.forget_block();
        cell.bias_ih
            .slice_mut(s![f * h..(f + 1) * h])
            .mapv_inplace(|b| b + options.forget_bias);
        cell
    }

    /// Index of the forget gate's block of H rows: 1 (order i, f, g, o), or 0 with CIFG (order f, g, o).
    /// The candidate g and the output gate o are the two blocks after it.
    fn forget_block(&self) -> usize {
        if self.options.cifg {
            0
        } else {
            1
        }
    }
}

/// Columns `[k·H, (k+1)·H)` of a `(B, G·H)` array: gate block k.
fn block(a: &Array2<f64>, k: usize, h: usize) -> Array2<f64> {
    a.slice(s![.., k * h..(k + 1) * h]).to_owned()
}

/// The gradient accumulator of a peephole that the cell has (panics if `grads` was built without it).
fn peephole_grad<'a>(grad: &'a mut Option<Array1<f64>>, name: &str) -> &'a mut Array1<f64> {
    grad.as_mut().unwrap_or_else(|| {
        panic!("LSTM backward: the gradient accumulator has no {name}, but the cell has peepholes")
    })
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
        Some(super::CellConfig {
            peephole: self.options.peephole,
            cifg: self.options.cifg,
            ..super::CellConfig::new(super::CellKind::Lstm)
        })
    }

    fn zero_state(&self, batch: usize) -> State {
        let zeros = Array2::zeros((batch, self.hidden_size()));
        State {
            h: zeros.clone(),
            c: Some(zeros),
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
        // (7.2)-(7.7): the gates, c_t and h_t from a_t (Lstm::gates, below)
        self.gates(a, x.to_owned(), &prev.h, c_prev)
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
        // (7.8)-(7.18): ∂L/∂a_t of every gate, and ∂L/∂c_{t-1} (Lstm::gate_grads, below)  (B, G·H), (B, H)
        let (da, dc_prev) = self.gate_grads(cache, &d_next.h, dc_next, grads);
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

impl Lstm {
    // ANCHOR: lstm_gates
    /// (7.2)-(7.7) and the peepholes (8.1)-(8.3) of one step: the gates, c_t and h_t from the
    /// pre-activation `a` = a_t `(B, G·H)` of (7.1) and the previous state `h_prev`, `c_prev` `(B, H)`;
    /// `x` `(B, D)` only goes into the cache. [`Cell::forward`] and the sequence path
    /// [`Lstm::forward_steps`] compute a_t differently and share this.
    pub(super) fn gates(
        &self,
        a: Array2<f64>,
        x: Array2<f64>,
        h_prev: &Array2<f64>,
        c_prev: &Array2<f64>,
    ) -> (State, LstmCache) {
        let h = self.hidden_size();
        let fb = self.forget_block(); // gate blocks: [i,] f, g, o
        let (mut a_f, a_g, mut a_o) =
            (block(&a, fb, h), block(&a, fb + 1, h), block(&a, fb + 2, h));
        // (8.1) peephole: a_f += w_cf ⊙ c_{t-1}                                                  (B, H)
        if let Some(w_cf) = &self.weight_cf {
            a_f += &(c_prev * w_cf);
        }
        // (7.3) f_t = σ(a_f)                                                                     (B, H)
        let f = sigmoid_arr(&a_f);
        let i = if self.options.cifg {
            // (8.3) CIFG: i_t = 1 - f_t                                                          (B, H)
            f.mapv(|f| 1.0 - f)
        } else {
            let mut a_i = block(&a, 0, h);
            // (8.1) peephole: a_i += w_ci ⊙ c_{t-1}                                              (B, H)
            if let Some(w_ci) = &self.weight_ci {
                a_i += &(c_prev * w_ci);
            }
            // (7.2) i_t = σ(a_i)                                                                 (B, H)
            sigmoid_arr(&a_i)
        };
        // (7.4) g_t = tanh(a_g)                                                                  (B, H)
        let g = tanh_arr(&a_g);
        // (7.6) c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t                                                  (B, H)
        let c = &f * c_prev + &i * &g;
        // (8.2) peephole: a_o += w_co ⊙ c_t (the output gate sees the *new* cell state)          (B, H)
        if let Some(w_co) = &self.weight_co {
            a_o += &(&c * w_co);
        }
        // (7.5) o_t = σ(a_o)                                                                     (B, H)
        let o = sigmoid_arr(&a_o);
        // (7.7) h_t = o_t ⊙ tanh(c_t)                                                            (B, H)
        let tanh_c = tanh_arr(&c);
        let h_next = &o * &tanh_c;
        let cache = LstmCache {
            x,
            h_prev: h_prev.clone(),
            c_prev: c_prev.clone(),
            i,
            f,
            g,
            o,
            c: c.clone(),
            tanh_c,
        };
        let next = State {
            h: h_next,
            c: Some(c),
        };
        (next, cache)
    }
    // ANCHOR_END: lstm_gates

    // ANCHOR: lstm_gate_grads
    /// (7.8)-(7.18) and the peepholes (8.4)-(8.8) of one backward step: from `dh` = ∂L/∂h_t and
    /// `dc_next` = the gradient reaching c_t from step t+1 `(B, H)`, returns ∂L/∂a_t `(B, G·H)` (in the
    /// weights' gate order) and ∂L/∂c_{t-1} `(B, H)`, and adds the peephole weights' gradients into
    /// `grads`. The weight and bias gradients, ∂L/∂x_t and ∂L/∂h_{t-1} all follow from ∂L/∂a_t: one step
    /// at a time in [`Cell::backward`], for every step at once in [`Lstm::backward_steps`].
    pub(super) fn gate_grads(
        &self,
        cache: &LstmCache,
        dh: &Array2<f64>,
        dc_next: &Array2<f64>,
        grads: &mut Lstm,
    ) -> (Array2<f64>, Array2<f64>) {
        let LstmCache {
            c_prev,
            i,
            f,
            g,
            o,
            c,
            tanh_c,
            ..
        } = cache;
        // (7.8)  ∂L/∂o_t = ∂L/∂h_t ⊙ tanh(c_t)                                                   (B, H)
        let d_o = dh * tanh_c;
        // (7.9)  ∂L/∂a_o = ∂L/∂o_t ⊙ o_t ⊙ (1 - o_t)                                             (B, H)
        let da_o = d_o * dsigmoid_from_output(o);
        // (7.10) ∂L/∂c_t = dc_next (from step t+1) + ∂L/∂h_t ⊙ o_t ⊙ (1 - tanh²(c_t))            (B, H)
        let mut dc = dc_next + &(dh * o * dtanh_from_output(tanh_c));
        if let Some(w_co) = &self.weight_co {
            // (8.4) peephole: c_t also reaches the loss through a_o, dc += ∂L/∂a_o ⊙ w_co        (B, H)
            dc += &(&da_o * w_co);
            // (8.5) ∂L/∂w_co += Σ_batch ∂L/∂a_o ⊙ c_t                                               (H)
            *peephole_grad(&mut grads.weight_co, "weight_co") += &(&da_o * c).sum_axis(Axis(0));
        }
        // (7.11) ∂L/∂i_t = ∂L/∂c_t ⊙ g_t                                                         (B, H)
        let d_i = &dc * g;
        // (7.12) ∂L/∂g_t = ∂L/∂c_t ⊙ i_t                                                         (B, H)
        let d_g = &dc * i;
        // (7.13) ∂L/∂f_t = ∂L/∂c_t ⊙ c_{t-1}                                                     (B, H)
        let mut d_f = &dc * c_prev;
        if self.options.cifg {
            // (8.6) CIFG: i_t = 1 - f_t, so the input gate's gradient reaches f_t negated        (B, H)
            d_f -= &d_i;
        }
        // (7.14) ∂L/∂a_f = ∂L/∂f_t ⊙ f_t ⊙ (1 - f_t)                                             (B, H)
        let da_f = d_f * dsigmoid_from_output(f);
        // (7.15) ∂L/∂a_g = ∂L/∂g_t ⊙ (1 - g_t²)                                                  (B, H)
        let da_g = d_g * dtanh_from_output(g);
        // (7.16) ∂L/∂c_{t-1} = ∂L/∂c_t ⊙ f_t: the constant error carousel, where the gradient
        //        flows back through a product with f_t alone, with no weight matrix in the way   (B, H)
        let mut dc_prev = &dc * f;
        if let Some(w_cf) = &self.weight_cf {
            // (8.7) peephole: dc_prev += ∂L/∂a_f ⊙ w_cf                                          (B, H)
            dc_prev += &(&da_f * w_cf);
            // (8.8) ∂L/∂w_cf += Σ_batch ∂L/∂a_f ⊙ c_{t-1}                                           (H)
            *peephole_grad(&mut grads.weight_cf, "weight_cf") +=
                &(&da_f * c_prev).sum_axis(Axis(0));
        }
        // (7.17) ∂L/∂a_i = ∂L/∂i_t ⊙ i_t ⊙ (1 - i_t)  (no a_i with CIFG)                         (B, H)
        let da_i = (!self.options.cifg).then(|| d_i * dsigmoid_from_output(i));
        if let (Some(da_i), Some(w_ci)) = (&da_i, &self.weight_ci) {
            // (8.7) peephole: dc_prev += ∂L/∂a_i ⊙ w_ci                                          (B, H)
            dc_prev += &(da_i * w_ci);
            // (8.8) ∂L/∂w_ci += Σ_batch ∂L/∂a_i ⊙ c_{t-1}                                           (H)
            *peephole_grad(&mut grads.weight_ci, "weight_ci") += &(da_i * c_prev).sum_axis(Axis(0));
        }
        // (7.18) ∂L/∂a_t = [∂L/∂a_i, ∂L/∂a_f, ∂L/∂a_g, ∂L/∂a_o], in the weights' gate order    (B, G·H)
        let blocks: Vec<_> = da_i
            .iter()
            .chain([&da_f, &da_g, &da_o])
            .map(|d| d.view())
            .collect();
        let da = ndarray::concatenate(Axis(1), &blocks).expect("every gate block is (B, H)");
        (da, dc_prev)
    }
    // ANCHOR_END: lstm_gate_grads
}
