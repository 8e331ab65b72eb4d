//! The Elman RNN cell (Elman, 1990), as `torch.nn.RNN`.

use ndarray::{Array1, Array2, ArrayView2, ArrayViewD, ArrayViewMutD, Axis};

use super::{add_at_b, check_step_shapes, Cell, State};
use crate::activation::Nonlinearity;
use crate::init::{pytorch_default, Rng};
use crate::params::Parameters;

/// An Elman cell: `h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)` (or ReLU instead of tanh).
///
/// Parameter names and shapes are PyTorch's: `weight_ih (H, D)`, `weight_hh (H, H)`, `bias_ih (H)`,
/// `bias_hh (H)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Elman {
    /// W_ih, `(H, D)`.
    pub weight_ih: Array2<f64>,
    /// W_hh, `(H, H)`.
    pub weight_hh: Array2<f64>,
    /// b_ih, `(H)`.
    pub bias_ih: Array1<f64>,
    /// b_hh, `(H)`.
    pub bias_hh: Array1<f64>,
    /// tanh (default) or ReLU.
    pub nonlinearity: Nonlinearity,
}

/// What [`Elman::forward`] saves for the backward step.
#[derive(Clone, Debug)]
pub struct ElmanCache {
    /// x_t, `(B, D)`.
    pub x: Array2<f64>,
    /// h_{t-1}, `(B, H)`.
    pub h_prev: Array2<f64>,
    /// h_t, `(B, H)`.
    pub h: Array2<f64>,
}

impl Elman {
    /// A tanh cell with PyTorch's default initialisation U(-1/√H, 1/√H).
    pub fn new(input_size: usize, hidden_size: usize, rng: &mut Rng) -> Self {
        Self::with_nonlinearity(input_size, hidden_size, Nonlinearity::Tanh, rng)
    }

    /// A cell with the given non-linearity and PyTorch's default initialisation.
    pub fn with_nonlinearity(
        input_size: usize,
        hidden_size: usize,
        nonlinearity: Nonlinearity,
        rng: &mut Rng,
    ) -> Self {
        let (d, h) = (input_size, hidden_size);
        let init = |shape: &[usize], rng: &mut Rng| pytorch_default(shape, h, rng);
        Elman {
            weight_ih: init(&[h, d], rng).into_dimensionality().unwrap(),
            weight_hh: init(&[h, h], rng).into_dimensionality().unwrap(),
            bias_ih: init(&[h], rng).into_dimensionality().unwrap(),
            bias_hh: init(&[h], rng).into_dimensionality().unwrap(),
            nonlinearity,
        }
    }
}

impl Parameters for Elman {
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

impl Cell for Elman {
    type Cache = ElmanCache;

    fn input_size(&self) -> usize {
        self.weight_ih.ncols()
    }

    fn hidden_size(&self) -> usize {
        self.weight_hh.nrows()
    }

    fn kind(&self) -> &'static str {
        "rnn"
    }

    fn zero_state(&self, batch: usize) -> State {
        State::from_h(Array2::zeros((batch, self.hidden_size())))
    }

    // ANCHOR: elman_step
    fn forward(&self, x: ArrayView2<'_, f64>, prev: &State) -> (State, ElmanCache) {
        check_step_shapes("Elman", &x, prev, self.input_size(), self.hidden_size());
        // (2.1) a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh              (B, H)
        let a = x.dot(&self.weight_ih.t())
            + &self.bias_ih
            + prev.h.dot(&self.weight_hh.t())
            + &self.bias_hh;
        // (2.2) h_t = tanh(a_t)                                           (B, H)
        let h = self.nonlinearity.apply(&a);
        let cache = ElmanCache {
            x: x.to_owned(),
            h_prev: prev.h.clone(),
            h: h.clone(),
        };
        (State::from_h(h), cache)
    }
    // ANCHOR_END: elman_step

    // ANCHOR: elman_step_backward
    fn backward(
        &self,
        cache: &ElmanCache,
        d_next: &State,
        grads: &mut Self,
    ) -> (Array2<f64>, State) {
        // (4.1) ∂L/∂a_t = ∂L/∂h_t ⊙ tanh'(a_t) = ∂L/∂h_t ⊙ (1 - h_t²)    (B, H)
        let da = &d_next.h * &self.nonlinearity.derivative_from_output(&cache.h);
        // (4.2) ∂L/∂W_ih += ∂L/∂a_tᵀ x_t                                   (H, D)
        add_at_b(&mut grads.weight_ih, &da, &cache.x);
        // (4.3) ∂L/∂W_hh += ∂L/∂a_tᵀ h_{t-1}                               (H, H)
        add_at_b(&mut grads.weight_hh, &da, &cache.h_prev);
        // (4.4) ∂L/∂b_ih += Σ_batch ∂L/∂a_t, and the same for b_hh         (H)
        let db = da.sum_axis(Axis(0));
        grads.bias_ih += &db;
        grads.bias_hh += &db;
        // (4.5) ∂L/∂x_t = ∂L/∂a_t W_ih                                     (B, D)
        let dx = da.dot(&self.weight_ih);
        // (4.6) ∂L/∂h_{t-1} = ∂L/∂a_t W_hh  (this step's share of dh_next)  (B, H)
        let dh_prev = da.dot(&self.weight_hh);
        (dx, State::from_h(dh_prev))
    }
    // ANCHOR_END: elman_step_backward
}
