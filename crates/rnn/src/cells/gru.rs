//! The gated recurrent unit (GRU) cell (Cho et al., 2014), as `torch.nn.GRU`, plus Cho et al.'s original
//! "reset-before" candidate as a variant.
//!
//! A GRU keeps a single state vector h (no separate cell state) and two gates:
//!
//! - the **reset gate** r decides how much of the previous state feeds the candidate state n;
//! - the **update gate** z decides, unit by unit, whether to keep the old state or take the candidate.
//!
//! In PyTorch's notation (column vectors, gate order r, z, n; ⊙ is the element-wise product):
//!
//! ```text
//! r  = σ(W_ir x + b_ir + W_hr h + b_hr)
//! z  = σ(W_iz x + b_iz + W_hz h + b_hz)
//! n  = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))      reset-after  (PyTorch, cuDNN: the default)
//! n  = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)      reset-before (Cho et al. 2014)
//! h' = (1 - z) ⊙ n + z ⊙ h
//! ```
//!
//! The two variants differ only in *where* the reset gate acts; see [`GruVariant`]. The code works with
//! batches as rows, so `W_ir x` is written `x · W_irᵀ`, and the three gates' weights are stacked in one
//! matrix exactly as PyTorch stores them: `weight_ih (3H, D)` has rows `[0, H)` for r, `[H, 2H)` for z and
//! `[2H, 3H)` for n; `weight_hh`, `bias_ih` and `bias_hh` are stacked the same way.

use crate::linalg::{add_at_b, linear, linear_back};
use ndarray::{
    concatenate, s, Array1, Array2, Array3, ArrayView2, ArrayView3, ArrayViewD, ArrayViewMutD, Axis,
};

use super::{check_step_shapes, Cell, State};
use crate::activation::{dsigmoid_from_output, dtanh_from_output, sigmoid_arr, tanh_arr};
use crate::bptt::Unrolled;
use crate::init::{pytorch_default, Rng};
use crate::params::Parameters;

/// Where the GRU's reset gate r is applied in the candidate state n.
///
/// - [`GruVariant::ResetAfter`] (the default) is what `torch.nn.GRU`, cuDNN and Keras' `reset_after=True`
///   compute: `n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`. The reset gate scales the hidden-side
///   *projection* after the matrix product. Because no hidden-side product depends on r, one fused matrix
///   product `h · W_hhᵀ` (3H rows) yields the hidden terms of all three gates at once, which is faster on a
///   GPU and is the layout cuDNN implements; PyTorch uses it so its CPU and cuDNN paths agree.
/// - [`GruVariant::ResetBefore`] is the original formulation of Cho et al. (2014):
///   `n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)`. The reset gate scales the previous state *before*
///   the matrix product, so the candidate's hidden product must wait until r is known: two dependent
///   products per step instead of one.
///
/// In practice the two train about equally well. They agree exactly when `r = 1`, or when `W_hn = 0` and
/// `b_hn = 0`, and differ otherwise, so weights trained with one variant do not transfer to the other.
///
/// In both variants `h' = (1 - z) ⊙ n + z ⊙ h`: z = 1 keeps the old state. This is PyTorch's convention
/// (and Cho et al.'s and d2l's). Other texts (Chung et al. 2014, Andrew Ng's course, Wikipedia) swap z and
/// 1 - z, writing `h' = z ⊙ n + (1 - z) ⊙ h`. Since 1 - σ(a) = σ(-a), that is the same model with the
/// update gate's weights and biases negated: convert them when moving weights between the conventions.
///
/// Serialised as `"reset_after"` / `"reset_before"`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum GruVariant {
    /// `n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`: PyTorch and cuDNN (the default).
    #[default]
    ResetAfter,
    /// `n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)`: Cho et al. (2014).
    ResetBefore,
}

/// A GRU cell, computing one step of `torch.nn.GRU` (or, with [`GruVariant::ResetBefore`], of Cho et al.'s
/// original GRU).
///
/// Parameter names, shapes and the gate order r, z, n are PyTorch's: `weight_ih (3H, D)`,
/// `weight_hh (3H, H)`, `bias_ih (3H)`, `bias_hh (3H)`, each the three gates' tensors stacked by rows
/// (`[0, H)` = r, `[H, 2H)` = z, `[2H, 3H)` = n). The state is `h` alone (`State::c` is `None`).
///
/// ```
/// use rnn::prelude::*;
/// let mut rng = rnn::init::rng(0);
/// let cell = Gru::new(3, 4, &mut rng); // D = 3, H = 4, reset-after like torch.nn.GRU
/// assert_eq!(cell.weight_hh.dim(), (12, 4)); // (3H, H)
/// let x = ndarray::Array2::<f64>::ones((2, 3)); // (B, D)
/// let (next, _cache) = cell.forward(x.view(), &cell.zero_state(2));
/// assert_eq!(next.h.dim(), (2, 4)); // (B, H)
/// assert!(next.c.is_none());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Gru {
    /// `[W_ir; W_iz; W_in]`, `(3H, D)`.
    pub weight_ih: Array2<f64>,
    /// `[W_hr; W_hz; W_hn]`, `(3H, H)`.
    pub weight_hh: Array2<f64>,
    /// `[b_ir; b_iz; b_in]`, `(3H)`.
    pub bias_ih: Array1<f64>,
    /// `[b_hr; b_hz; b_hn]`, `(3H)`.
    pub bias_hh: Array1<f64>,
    /// Where the reset gate acts (reset-after by default, as PyTorch).
    pub variant: GruVariant,
}

/// What [`Gru::forward`] saves for the backward step.
#[derive(Clone, Debug)]
pub struct GruCache {
    /// x_t, `(B, D)`.
    pub x: Array2<f64>,
    /// h_{t-1}, `(B, H)`.
    pub h_prev: Array2<f64>,
    /// Reset gate r, `(B, H)`.
    pub r: Array2<f64>,
    /// Update gate z, `(B, H)`.
    pub z: Array2<f64>,
    /// Candidate state n, `(B, H)`.
    pub n: Array2<f64>,
    /// The candidate's hidden-side term, `(B, H)`: `W_hn h_{t-1} + b_hn` (reset-after, before r scales
    /// it) or `W_hn (r ⊙ h_{t-1}) + b_hn` (reset-before).
    pub hn: Array2<f64>,
}

impl Gru {
    /// A reset-after cell (as `torch.nn.GRU`) with PyTorch's default initialisation: every tensor from
    /// U(-1/√H, 1/√H), drawn in the order `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`.
    pub fn new(input_size: usize, hidden_size: usize, rng: &mut Rng) -> Self {
        Self::with_variant(input_size, hidden_size, GruVariant::ResetAfter, rng)
    }

    /// A cell of the given variant with PyTorch's default initialisation (same draws as [`Gru::new`]).
    pub fn with_variant(
        input_size: usize,
        hidden_size: usize,
        variant: GruVariant,
        rng: &mut Rng,
    ) -> Self {
        let (d, h) = (input_size, hidden_size);
        let init = |shape: &[usize], rng: &mut Rng| pytorch_default(shape, h, rng);
        Gru {
            weight_ih: init(&[3 * h, d], rng).into_dimensionality().unwrap(),
            weight_hh: init(&[3 * h, h], rng).into_dimensionality().unwrap(),
            bias_ih: init(&[3 * h], rng).into_dimensionality().unwrap(),
            bias_hh: init(&[3 * h], rng).into_dimensionality().unwrap(),
            variant,
        }
    }
}

impl Parameters for Gru {
    fn params(&self) -> Vec<(String, ArrayViewD<'_, f64>)> {
        vec![
            ("weight_ih".into(), self.weight_ih.view().into_dyn()),
            ("weight_hh".into(), self.weight_hh.view().into_dyn()),
            ("bias_ih".into(), self.bias_ih.view().into_dyn()),
            ("bias_hh".into(), self.bias_hh.view().into_dyn()),
        ]
    }

    fn params_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, f64>)> {
        vec![
            ("weight_ih".into(), self.weight_ih.view_mut().into_dyn()),
            ("weight_hh".into(), self.weight_hh.view_mut().into_dyn()),
            ("bias_ih".into(), self.bias_ih.view_mut().into_dyn()),
            ("bias_hh".into(), self.bias_hh.view_mut().into_dyn()),
        ]
    }
}

impl Cell for Gru {
    type Cache = GruCache;

    fn input_size(&self) -> usize {
        self.weight_ih.ncols()
    }

    fn hidden_size(&self) -> usize {
        self.weight_hh.ncols()
    }

    fn kind(&self) -> &'static str {
        "gru"
    }

    fn config(&self) -> Option<super::CellConfig> {
        Some(super::CellConfig {
            gru_variant: self.variant,
            ..super::CellConfig::new(super::CellKind::Gru)
        })
    }

    fn zero_state(&self, batch: usize) -> State {
        State::from_h(Array2::zeros((batch, self.hidden_size())))
    }

    // ANCHOR: gru_step
    fn forward(&self, x: ArrayView2<'_, f64>, prev: &State) -> (State, GruCache) {
        check_step_shapes("GRU", &x, prev, self.input_size(), self.hidden_size());
        // The input side of all three gates in one product: gi = x W_ihᵀ + b_ih        (B, 3H)
        let gi = linear(&x, &self.weight_ih) + &self.bias_ih;
        // (8.9)-(8.12): the hidden side, the gates and the new state (Gru::gates, below)
        self.gates(gi.view(), x.to_owned(), &prev.h)
    }
    // ANCHOR_END: gru_step

    // ANCHOR: gru_step_backward
    fn backward(&self, cache: &GruCache, d_next: &State, grads: &mut Self) -> (Array2<f64>, State) {
        let hs = self.hidden_size();
        let GruCache { x, h_prev, r, .. } = cache;
        // (8.13)-(8.24): the gradients of the input-side and hidden-side terms, and the part of
        // ∂L/∂h_{t-1} that does not go through W_hh (Gru::gate_grads, below)     (B, 3H), (B, 3H), (B, H)
        let (dgi, dgh, mut dh_prev) = self.gate_grads(cache, &d_next.h);
        let dhn = dgh.slice(s![.., 2 * hs..]);

        // (8.25) ∂L/∂W_ih += dgiᵀ x_t                                                  (3H, D)
        add_at_b(&mut grads.weight_ih, &dgi, x);
        // (8.26) ∂L/∂b_ih += Σ_batch dgi                                               (3H)
        grads.bias_ih += &dgi.sum_axis(Axis(0));
        // (8.27) ∂L/∂b_hh += Σ_batch dgh                                               (3H)
        grads.bias_hh += &dgh.sum_axis(Axis(0));
        // (8.28) ∂L/∂x_t = dgi W_ih                                                    (B, D)
        let dx = linear_back(&dgi, &self.weight_ih);

        match self.variant {
            GruVariant::ResetAfter => {
                // (8.29a) ∂L/∂W_hh += dghᵀ h_{t-1}   (one fused product, like the forward)  (3H, H)
                add_at_b(&mut grads.weight_hh, &dgh, h_prev);
                // (8.30a) ∂L/∂h_{t-1} += dgh W_hh                                      (B, H)
                dh_prev += &linear_back(&dgh, &self.weight_hh);
            }
            GruVariant::ResetBefore => {
                let (rz, n_rows) = (s![..2 * hs, ..], s![2 * hs.., ..]);
                // [∂L/∂a_r | ∂L/∂a_z], the r and z columns of dgh                      (B, 2H)
                let dgh_rz = dgh.slice(s![.., ..2 * hs]);
                // (8.29b) ∂L/∂[W_hr; W_hz] += [∂L/∂a_r | ∂L/∂a_z]ᵀ h_{t-1}             (2H, H)
                let mut dw_rz = grads.weight_hh.slice_mut(rz);
                add_at_b(&mut dw_rz, &dgh_rz, h_prev);
                // (8.30b) ∂L/∂W_hn += ∂L/∂hnᵀ (r ⊙ h_{t-1})                            (H, H)
                let mut dw_n = grads.weight_hh.slice_mut(n_rows);
                add_at_b(&mut dw_n, &dhn, &(r * h_prev));
                // (8.31b) ∂L/∂h_{t-1} += [∂L/∂a_r | ∂L/∂a_z] [W_hr; W_hz]              (B, H)
                dh_prev += &linear_back(&dgh_rz, &self.weight_hh.slice(rz));
            }
        }
        (dx, State::from_h(dh_prev))
    }
    // ANCHOR_END: gru_step_backward

    /// [`Gru::forward_steps`]: the input side of every gate for every step as one product before the loop.
    fn forward_seq(&self, xs: ArrayView3<'_, f64>, init: &State) -> Unrolled<Self> {
        self.forward_steps(xs, init)
    }

    /// [`Gru::backward_steps`]: the weight gradients summed over time as one product each after the loop.
    fn backward_seq(
        &self,
        caches: &[GruCache],
        d_outputs: ArrayView3<'_, f64>,
        d_last: Option<&State>,
        grads: &mut Self,
        want_dx: bool,
    ) -> (Option<Array3<f64>>, State) {
        let caches: Vec<&GruCache> = caches.iter().collect();
        self.backward_steps(&caches, d_outputs, d_last, grads, want_dx)
    }
}

impl Gru {
    // ANCHOR: gru_gates
    /// The rest of one step after the input side `gi` = x_t W_ihᵀ + b_ih `(B, 3H)`: the hidden side,
    /// (8.9)-(8.12), from `h_prev` `(B, H)`; `x` `(B, D)` only goes into the cache. [`Cell::forward`] and
    /// the sequence path [`Gru::forward_steps`] compute `gi` differently and share this.
    pub(super) fn gates(
        &self,
        gi: ArrayView2<'_, f64>,
        x: Array2<f64>,
        h_prev: &Array2<f64>,
    ) -> (State, GruCache) {
        let hs = self.hidden_size();
        let (r_cols, z_cols, n_cols) = (s![.., ..hs], s![.., hs..2 * hs], s![.., 2 * hs..]);

        // The hidden side. Reset-after: one fused product for r, z and n               (B, 3H)
        // Reset-before: only r and z now; n's hidden product has to wait for r         (B, 2H)
        let gh = match self.variant {
            GruVariant::ResetAfter => linear(h_prev, &self.weight_hh) + &self.bias_hh,
            GruVariant::ResetBefore => {
                linear(h_prev, &self.weight_hh.slice(s![..2 * hs, ..]))
                    + self.bias_hh.slice(s![..2 * hs])
            }
        };

        // (8.9) r = σ(W_ir x + b_ir + W_hr h + b_hr)                                   (B, H)
        let r = sigmoid_arr(&(&gi.slice(r_cols) + &gh.slice(r_cols)));
        // (8.10) z = σ(W_iz x + b_iz + W_hz h + b_hz)                                   (B, H)
        let z = sigmoid_arr(&(&gi.slice(z_cols) + &gh.slice(z_cols)));

        let (hn, n) = match self.variant {
            GruVariant::ResetAfter => {
                // hn = W_hn h + b_hn, already computed by the fused product            (B, H)
                let hn = gh.slice(n_cols).to_owned();
                // (8.11a) n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))                 (B, H)
                let n = tanh_arr(&(&gi.slice(n_cols) + &(&r * &hn)));
                (hn, n)
            }
            GruVariant::ResetBefore => {
                // hn = W_hn (r ⊙ h) + b_hn, a second product that depends on r         (B, H)
                let hn = linear(&(&r * h_prev), &self.weight_hh.slice(s![2 * hs.., ..]))
                    + self.bias_hh.slice(s![2 * hs..]);
                // (8.11b) n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)                 (B, H)
                let n = tanh_arr(&(&gi.slice(n_cols) + &hn));
                (hn, n)
            }
        };

        // (8.12) h' = (1 - z) ⊙ n + z ⊙ h                                               (B, H)
        let h = (1.0 - &z) * &n + &z * h_prev;

        let cache = GruCache {
            x,
            h_prev: h_prev.clone(),
            r,
            z,
            n,
            hn,
        };
        (State::from_h(h), cache)
    }
    // ANCHOR_END: gru_gates

    // ANCHOR: gru_gate_grads
    /// (8.13)-(8.24) of one backward step: from `dh` = ∂L/∂h_t `(B, H)` (everything that flows into this
    /// step's output), returns the gradients of the input-side terms `dgi` = [∂L/∂a_r | ∂L/∂a_z | ∂L/∂a_n]
    /// and of the hidden-side terms `dgh` = [∂L/∂a_r | ∂L/∂a_z | ∂L/∂hn] `(B, 3H)`, and the part of
    /// ∂L/∂h_{t-1} that does not flow back through the products with `W_hh`'s gate rows (the direct path,
    /// and with reset-before the path through r ⊙ h_{t-1}). [`Cell::backward`] and
    /// [`Gru::backward_steps`] take the weight gradients from these, one step or every step at a time.
    pub(super) fn gate_grads(
        &self,
        cache: &GruCache,
        dh: &Array2<f64>,
    ) -> (Array2<f64>, Array2<f64>, Array2<f64>) {
        let hs = self.hidden_size();
        let GruCache {
            h_prev,
            r,
            z,
            n,
            hn,
            ..
        } = cache;
        // a_r, a_z, a_n below are the pre-activations inside σ, σ and tanh.

        // (8.13) ∂L/∂n = ∂L/∂h_t ⊙ (1 - z)                                              (B, H)
        let dn = dh * &(1.0 - z);
        // (8.14) ∂L/∂z = ∂L/∂h_t ⊙ (h_{t-1} - n)                                        (B, H)
        let dz = dh * &(h_prev - n);
        // (8.15) ∂L/∂h_{t-1} = ∂L/∂h_t ⊙ z   (the direct path; gate paths are added below)  (B, H)
        let mut dh_prev = dh * z;
        // (8.16) ∂L/∂a_n = ∂L/∂n ⊙ (1 - n²)                                             (B, H)
        let da_n = &dn * &dtanh_from_output(n);
        // (8.17) ∂L/∂a_z = ∂L/∂z ⊙ z ⊙ (1 - z)                                          (B, H)
        let da_z = &dz * &dsigmoid_from_output(z);

        // Where the reset gate sits decides how ∂L/∂a_n splits between r and the hidden term hn.
        let (dr, dhn) = match self.variant {
            GruVariant::ResetAfter => {
                // (8.18a) ∂L/∂hn = ∂L/∂a_n ⊙ r,  hn = W_hn h_{t-1} + b_hn              (B, H)
                let dhn = &da_n * r;
                // (8.19a) ∂L/∂r = ∂L/∂a_n ⊙ hn                                         (B, H)
                let dr = &da_n * hn;
                (dr, dhn)
            }
            GruVariant::ResetBefore => {
                // (8.18b) ∂L/∂hn = ∂L/∂a_n,  hn = W_hn (r ⊙ h_{t-1}) + b_hn            (B, H)
                let dhn = da_n.clone();
                // (8.19b) ∂L/∂(r ⊙ h_{t-1}) = ∂L/∂hn W_hn                              (B, H)
                let d_rh = linear_back(&dhn, &self.weight_hh.slice(s![2 * hs.., ..]));
                // (8.20b) ∂L/∂r = ∂L/∂(r ⊙ h_{t-1}) ⊙ h_{t-1}                          (B, H)
                let dr = &d_rh * h_prev;
                // (8.21b) ∂L/∂h_{t-1} += ∂L/∂(r ⊙ h_{t-1}) ⊙ r                         (B, H)
                dh_prev += &(&d_rh * r);
                (dr, dhn)
            }
        };
        // (8.22) ∂L/∂a_r = ∂L/∂r ⊙ r ⊙ (1 - r)                                         (B, H)
        let da_r = &dr * &dsigmoid_from_output(r);

        // Stack per gate in PyTorch's order r, z, n.
        // (8.23) ∂L/∂(x W_ihᵀ + b_ih) = [∂L/∂a_r | ∂L/∂a_z | ∂L/∂a_n]                  (B, 3H)
        let dgi = concatenate(Axis(1), &[da_r.view(), da_z.view(), da_n.view()]).unwrap();
        // (8.24) ∂L/∂(hidden-side terms) = [∂L/∂a_r | ∂L/∂a_z | ∂L/∂hn]                (B, 3H)
        let dgh = concatenate(Axis(1), &[da_r.view(), da_z.view(), dhn.view()]).unwrap();

        (dgi, dgh, dh_prev)
    }
    // ANCHOR_END: gru_gate_grads
}
