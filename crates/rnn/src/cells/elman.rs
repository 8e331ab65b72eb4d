//! The Elman RNN cell (Elman, 1990), as `torch.nn.RNN`.

use crate::linalg::{add_at_b, linear, linear_back, RepeatedWeight};
use ndarray::{s, Array1, Array2, Array3, ArrayView2, ArrayView3, ArrayViewD, ArrayViewMutD, Axis};

use super::{check_step_shapes, stack_rows, Cell, State};
use crate::activation::Nonlinearity;
use crate::bptt::Unrolled;
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

    fn config(&self) -> Option<super::CellConfig> {
        Some(super::CellConfig::new(match self.nonlinearity {
            Nonlinearity::Tanh => super::CellKind::RnnTanh,
            Nonlinearity::Relu => super::CellKind::RnnRelu,
        }))
    }

    fn zero_state(&self, batch: usize) -> State {
        State::from_h(Array2::zeros((batch, self.hidden_size())))
    }

    // ANCHOR: elman_step
    fn forward(&self, x: ArrayView2<'_, f64>, prev: &State) -> (State, ElmanCache) {
        check_step_shapes("Elman", &x, prev, self.input_size(), self.hidden_size());
        // (2.1) a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh              (B, H)
        let a = linear(&x, &self.weight_ih)
            + &self.bias_ih
            + linear(&prev.h, &self.weight_hh)
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
        let dx = linear_back(&da, &self.weight_ih);
        // (4.6) ∂L/∂h_{t-1} = ∂L/∂a_t W_hh  (this step's share of dh_next)  (B, H)
        let dh_prev = linear_back(&da, &self.weight_hh);
        (dx, State::from_h(dh_prev))
    }
    // ANCHOR_END: elman_step_backward

    // ANCHOR: elman_forward_seq
    fn forward_seq(&self, xs: ArrayView3<'_, f64>, init: &State) -> Unrolled<Self> {
        let (t_len, batch, d) = xs.dim();
        assert_eq!(
            d,
            self.input_size(),
            "Elman::forward_seq: xs has shape {:?}, expected (T, B, D) with D = {}",
            xs.dim(),
            self.input_size()
        );
        let hidden = self.hidden_size();
        assert_eq!(
            init.h.dim(),
            (batch, hidden),
            "Elman::forward_seq: the initial state has shape {:?}, expected (B, H) = {:?}",
            init.h.dim(),
            (batch, hidden)
        );
        // (2.1), the half that does not depend on h: W_ih x_t + b_ih for every step at once   (T·B, H)
        let x_rows = xs
            .to_shape((t_len * batch, d))
            .expect("(T, B, D) as (T·B, D)");
        let input_part = linear(&x_rows, &self.weight_ih) + &self.bias_ih;
        let mut outputs = Array3::zeros((t_len, batch, hidden)); // (T, B, H)
        let mut caches = Vec::with_capacity(t_len);
        // W_hh is read T times with B rows each: prepared once (see linalg::RepeatedWeight)
        let w_hh = RepeatedWeight::new(&self.weight_hh, batch);
        let mut h_prev = init.h.clone();
        for t in 0..t_len {
            // (2.1) a_t = (W_ih x_t + b_ih) + W_hh h_{t-1} + b_hh: only this product waits for h_{t-1}  (B, H)
            let a = input_part
                .slice(s![t * batch..(t + 1) * batch, ..])
                .to_owned()
                + w_hh.times(&h_prev)
                + &self.bias_hh;
            // (2.2) h_t = tanh(a_t)                                                           (B, H)
            let h = self.nonlinearity.apply(&a);
            outputs.index_axis_mut(Axis(0), t).assign(&h);
            let x = xs.index_axis(Axis(0), t).to_owned();
            caches.push(ElmanCache {
                x,
                h_prev,
                h: h.clone(),
            });
            h_prev = h;
        }
        Unrolled {
            outputs,
            last: State::from_h(h_prev),
            caches,
        }
    }
    // ANCHOR_END: elman_forward_seq

    fn backward_seq(
        &self,
        caches: &[ElmanCache],
        d_outputs: ArrayView3<'_, f64>,
        d_last: Option<&State>,
        grads: &mut Self,
        want_dx: bool,
    ) -> (Option<Array3<f64>>, State) {
        let caches: Vec<&ElmanCache> = caches.iter().collect();
        self.backward_steps(&caches, d_outputs, d_last, grads, want_dx)
    }
}

impl Elman {
    // ANCHOR: elman_backward_steps
    /// BPTT through the steps whose caches are `caches` (in time order), as [`Cell::backward_seq`]: the same
    /// sums as [`crate::bptt::bptt`] over [`Cell::backward`], in another order. Only (4.1) and (4.6) must
    /// run step by step; the weight gradients, sums over time of outer products, become one matrix
    /// product each after the loop, (4.10) and (4.11), and ∂L/∂x (if wanted) one more.
    pub fn backward_steps(
        &self,
        caches: &[&ElmanCache],
        d_outputs: ArrayView3<'_, f64>,
        d_last: Option<&State>,
        grads: &mut Elman,
        want_dx: bool,
    ) -> (Option<Array3<f64>>, State) {
        let (t_len, batch, hidden) = d_outputs.dim();
        assert_eq!(
            (t_len, hidden),
            (caches.len(), self.hidden_size()),
            "Elman::backward_steps: d_outputs is {:?}, expected (T, B, H) with T = {} cached steps, H = {}",
            d_outputs.dim(),
            caches.len(),
            self.hidden_size()
        );
        // ∂L/∂a_t of every step, step t in rows t·B..(t+1)·B                               (T·B, H)
        let mut das = Array2::zeros((t_len * batch, hidden));
        // dh_next: the gradient reaching h_t from the steps after t                         (B, H)
        let mut dh = d_last.map_or_else(|| Array2::zeros((batch, hidden)), |d| d.h.clone());
        for t in (0..t_len).rev() {
            // (4.7) ∂L/∂h_t = ∂L_t/∂h_t + dh_next                                             (B, H)
            dh += &d_outputs.index_axis(Axis(0), t);
            // (4.1) ∂L/∂a_t = ∂L/∂h_t ⊙ (1 - h_t²)                                            (B, H)
            let da = dh * &self.nonlinearity.derivative_from_output(&caches[t].h);
            // (4.6) ∂L/∂h_{t-1} (step t's share) = ∂L/∂a_t W_hh                               (B, H)
            dh = linear_back(&da, &self.weight_hh);
            das.slice_mut(s![t * batch..(t + 1) * batch, ..])
                .assign(&da);
        }
        // every step's input and previous state, stacked in the same row order as das (T·B, D), (T·B, H)
        let xs = stack_rows(caches.iter().map(|c| c.x.view()), batch, self.input_size());
        let h_prevs = stack_rows(caches.iter().map(|c| c.h_prev.view()), batch, hidden);
        // (4.10) ∂L/∂W_ih += Σ_t ∂L/∂a_tᵀ x_t = Δᵀ X                                         (H, D)
        add_at_b(&mut grads.weight_ih, &das, &xs);
        // (4.11) ∂L/∂W_hh += Σ_t ∂L/∂a_tᵀ h_{t-1} = Δᵀ H_prev                                 (H, H)
        add_at_b(&mut grads.weight_hh, &das, &h_prevs);
        // (4.4) summed over time: ∂L/∂b_ih += Σ_t Σ_batch ∂L/∂a_t, the same for b_hh           (H)
        let db = das.sum_axis(Axis(0));
        grads.bias_ih += &db;
        grads.bias_hh += &db;
        // (4.5) for every step at once: ∂L/∂X = Δ W_ih                                         (T·B, D)
        let dxs = want_dx.then(|| {
            linear_back(&das, &self.weight_ih)
                .into_shape_with_order((t_len, batch, self.input_size()))
                .expect("(T·B, D) is contiguous")
        });
        (dxs, State::from_h(dh))
    }
    // ANCHOR_END: elman_backward_steps
}
