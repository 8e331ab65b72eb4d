//! Additive (Bahdanau) attention over the encoder's outputs, forward and backward.
//!
//! At decoder step t the query q_t is the decoder's top-layer hidden state *before* the step, s_{t-1}
//! (Bahdanau, Cho & Bengio 2015; at t = 0 it is the bridged initial state). Every encoder output k_s, a
//! key, gets a score, the scores become weights over the real (unpadded) source positions, and the
//! context is the weighted sum of the keys:
//!
//! ```text
//! (11.1) e_{t,s} = vᵀ tanh(W_q q_t + b_q + W_k k_s)
//! (11.2) α_{t,s} = exp(e_{t,s}) / Σ_{s' < n} exp(e_{t,s'})   for s < n (the source's length), else 0
//! (11.3) c_t     = Σ_s α_{t,s} k_s
//! ```
//!
//! The names follow the PyTorch tutorial's `BahdanauAttention` (`Wa`, `Ua`, `Va`) as three linear layers:
//! `query` (W_q with its bias b_q, `(A, H)`), `key` (W_k, `(A, F)`, no bias: a second bias would only
//! repeat b_q) and `v` (`(1, A)`, no bias: a constant added to every score cancels in the softmax and
//! would have a zero gradient). A is the attention size, F = num_directions · H the size of a key.
//!
//! W_k k_s does not depend on t, so [`Memory::new`] computes it once for every source position; its
//! gradient is summed over the decoder's steps and sent back through W_k once ([`Memory::backward`]).

use ndarray::{s, Array2, Array3, ArrayView2, ArrayView3, ArrayViewD, ArrayViewMutD, Axis};

use crate::init::Rng;
use crate::layers::Dense;
use crate::linalg::{add_at_b, linear, linear_back};
use crate::params::Parameters;

/// Bahdanau's additive attention (see the module documentation).
#[derive(Clone, Debug, PartialEq)]
pub struct Attention {
    /// W_q and b_q, `(A, H)` and `(A)`: the query's projection.
    pub query: Dense,
    /// W_k, `(A, F)`: the keys' projection (no bias).
    pub key: Array2<f64>,
    /// vᵀ, `(1, A)`: turns a tanh vector into a score (no bias).
    pub v: Array2<f64>,
}

/// The encoder's outputs as attention reads them, for one batch.
#[derive(Clone, Debug, PartialEq)]
pub struct Memory {
    /// k_s, `(T_src, B, F)`: the encoder's top-layer outputs.
    pub keys: Array3<f64>,
    /// W_k k_s, `(T_src, B, A)`.
    pub proj: Array3<f64>,
    /// Real source steps per row.
    pub lengths: Vec<usize>,
}

/// What one attention step keeps for its backward.
#[derive(Clone, Debug)]
pub struct AttentionCache {
    /// The query q_t, `(B, H)`.
    q: Array2<f64>,
    /// u_{t,s} = tanh(W_q q_t + b_q + W_k k_s), `(T_src, B, A)`.
    u: Array3<f64>,
    /// α_{t,s}, `(T_src, B)`.
    pub alpha: Array2<f64>,
}

impl Attention {
    /// Attention from decoder states of size `hidden` to keys of size `key_size`, with attention size
    /// `attn_size`, each layer initialised as `nn.Linear` (U(-1/√in, 1/√in)).
    pub fn new(hidden: usize, key_size: usize, attn_size: usize, rng: &mut Rng) -> Self {
        let query = Dense::new(hidden, attn_size, rng);
        let key = Dense::new(key_size, attn_size, rng).weight;
        let v = Dense::new(attn_size, 1, rng).weight;
        Attention { query, key, v }
    }

    /// A (A).
    pub fn attn_size(&self) -> usize {
        self.key.nrows()
    }

    /// One step: the query `q (B, H)` against the memory. Returns the context `c_t (B, F)` and the cache
    /// (which holds the weights α_{t,s}, `(T_src, B)`).
    pub fn forward(&self, q: ArrayView2<'_, f64>, mem: &Memory) -> (Array2<f64>, AttentionCache) {
        let (t_src, batch, f) = mem.keys.dim();
        assert_eq!(
            q.nrows(),
            batch,
            "Attention::forward: the query has {} rows, the memory a batch of {batch}",
            q.nrows()
        );
        // ANCHOR: attention_forward
        let qp = self.query.forward(q); // W_q q_t + b_q                        (B, A)
        let v = self.v.row(0);
        // (11.1) u_{t,s} = tanh(W_q q_t + b_q + W_k k_s)                       (T_src, B, A)
        let u = (&mem.proj + &qp.view().insert_axis(Axis(0))).mapv(f64::tanh);
        // (11.1) e_{t,s} = vᵀ u_{t,s}                                          (T_src, B)
        let e = (&u * &v).sum_axis(Axis(2));
        let mut alpha = Array2::zeros((t_src, batch)); // (T_src, B)
        for b in 0..batch {
            let n = mem.lengths[b];
            let m = (0..n).map(|s| e[[s, b]]).fold(f64::NEG_INFINITY, f64::max);
            // (11.2) α_{t,s} = exp(e_{t,s} - m) / Σ_{s'<n} exp(e_{t,s'} - m), 0 at the pads
            let z: f64 = (0..n).map(|s| (e[[s, b]] - m).exp()).sum();
            for s in 0..n {
                alpha[[s, b]] = (e[[s, b]] - m).exp() / z;
            }
        }
        // (11.3) c_t = Σ_s α_{t,s} k_s                                          (B, F)
        let mut c = Array2::zeros((batch, f));
        for s in 0..t_src {
            c += &(&mem.keys.index_axis(Axis(0), s) * &alpha.row(s).insert_axis(Axis(1)));
        }
        // ANCHOR_END: attention_forward
        let cache = AttentionCache {
            q: q.to_owned(),
            u,
            alpha,
        };
        (c, cache)
    }

    /// Backward of one step: given `dc = ∂L/∂c_t (B, F)`, adds the parameter gradients of W_q, b_q and v
    /// into `grads`, adds ∂L/∂k_s into `d_mem.keys` and ∂L/∂(W_k k_s) into `d_mem.proj` (both summed
    /// over the decoder's steps), and returns `∂L/∂q_t (B, H)`.
    pub fn backward(
        &self,
        cache: &AttentionCache,
        mem: &Memory,
        dc: ArrayView2<'_, f64>,
        d_mem: &mut Memory,
        grads: &mut Attention,
    ) -> Array2<f64> {
        let (t_src, batch, _) = mem.keys.dim();
        let alpha = &cache.alpha;
        // ANCHOR: attention_backward
        // (11.5) ∂L/∂α_{t,s} = k_sᵀ ∂L/∂c_t                                     (T_src, B)
        let mut d_alpha = Array2::zeros((t_src, batch));
        for s in 0..t_src {
            let k = mem.keys.index_axis(Axis(0), s); // (B, F)
            d_alpha.row_mut(s).assign(&(&k * &dc).sum_axis(Axis(1)));
            // (11.5) ∂L/∂k_s += α_{t,s} ∂L/∂c_t                                 (B, F)
            let mut dk = d_mem.keys.index_axis_mut(Axis(0), s);
            dk += &(&dc * &alpha.row(s).insert_axis(Axis(1)));
        }
        // (11.6) ∂L/∂e_{t,s} = α_{t,s} (∂L/∂α_{t,s} - Σ_{s'} α_{t,s'} ∂L/∂α_{t,s'})   (T_src, B)
        let mean = (alpha * &d_alpha).sum_axis(Axis(0)); // (B)
        let de = alpha * &(&d_alpha - &mean.insert_axis(Axis(0)));
        // (11.7) ∂L/∂v += Σ_{s,b} ∂L/∂e_{t,s} u_{t,s}                           (1, A)
        let u = &cache.u;
        let a = self.attn_size();
        let u_rows = u
            .as_standard_layout()
            .into_owned()
            .into_shape_with_order((t_src * batch, a))
            .expect("(T_src·B, A)");
        let de_rows = de
            .as_standard_layout()
            .into_owned()
            .into_shape_with_order((t_src * batch, 1))
            .expect("(T_src·B, 1)");
        add_at_b(&mut grads.v, &de_rows, &u_rows);
        // (11.7) ∂L/∂(pre-tanh)_{t,s} = (1 - u²) ⊙ v ∂L/∂e_{t,s}                (T_src, B, A)
        let v = self.v.row(0);
        let mut du = u.mapv(|x| 1.0 - x * x);
        du *= &(&de.view().insert_axis(Axis(2)) * &v);
        // (11.8) W_k k_s enters every step: ∂L/∂(W_k k_s) += ∂L/∂(pre-tanh)_{t,s}
        d_mem.proj += &du;
        // (11.8) ∂L/∂(W_q q_t + b_q) = Σ_s ∂L/∂(pre-tanh)_{t,s}                  (B, A)
        let dqp = du.sum_axis(Axis(0));
        // (11.8) ∂L/∂W_q += Σ_b ∂L/∂(W_q q + b_q) q_tᵀ, ∂L/∂b_q += Σ_b ..., ∂L/∂q_t = W_qᵀ ...   (B, H)
        self.query
            .backward(cache.q.view(), dqp.view(), &mut grads.query)
        // ANCHOR_END: attention_backward
    }
}

impl Memory {
    /// The memory of the encoder's outputs `keys (T_src, B, F)`: computes W_k k_s for every position.
    pub fn new(attention: &Attention, keys: Array3<f64>, lengths: &[usize]) -> Self {
        let (t, b, f) = keys.dim();
        assert_eq!(
            f,
            attention.key.ncols(),
            "Memory::new: keys have {f} features, attention expects {}",
            attention.key.ncols()
        );
        assert_eq!(lengths.len(), b, "Memory::new: one length per batch row");
        let rows = keys
            .as_standard_layout()
            .into_owned()
            .into_shape_with_order((t * b, f))
            .expect("(T·B, F)");
        // (11.1) W_k k_s, for every s at once                                   (T_src, B, A)
        let proj = linear(&rows, &attention.key)
            .into_shape_with_order((t, b, attention.attn_size()))
            .expect("(T, B, A)");
        Memory {
            keys,
            proj,
            lengths: lengths.to_vec(),
        }
    }

    /// A zero gradient accumulator shaped like `self`.
    pub fn zeros_like(&self) -> Self {
        Memory {
            keys: Array3::zeros(self.keys.raw_dim()),
            proj: Array3::zeros(self.proj.raw_dim()),
            lengths: self.lengths.clone(),
        }
    }

    /// The memory of the batch rows `rows` (repeats allowed): beam search gives every hypothesis the
    /// memory of its source.
    pub fn select(&self, rows: &[usize]) -> Self {
        Memory {
            keys: self.keys.select(Axis(1), rows),
            proj: self.proj.select(Axis(1), rows),
            lengths: rows.iter().map(|&r| self.lengths[r]).collect(),
        }
    }

    /// Backward of [`Memory::new`]: given the accumulated gradients `d` (of the keys directly and of
    /// W_k k_s), adds ∂L/∂W_k into `grads` and returns the total ∂L/∂k_s, `(T_src, B, F)`.
    pub fn backward(
        &self,
        attention: &Attention,
        d: &Memory,
        grads: &mut Attention,
    ) -> Array3<f64> {
        let (t, b, f) = self.keys.dim();
        let a = attention.attn_size();
        let rows = |x: ArrayView3<'_, f64>, n: usize| {
            x.as_standard_layout()
                .into_owned()
                .into_shape_with_order((t * b, n))
                .expect("(T·B, n)")
        };
        let keys = rows(self.keys.view(), f);
        let dproj = rows(d.proj.view(), a);
        // (11.8) ∂L/∂W_k += Σ_{s,b} ∂L/∂(W_k k_s) k_sᵀ                           (A, F)
        add_at_b(&mut grads.key, &dproj, &keys);
        // (11.8) ∂L/∂k_s = (direct, (11.5)) + W_kᵀ ∂L/∂(W_k k_s)                 (T_src, B, F)
        let through = linear_back(&dproj, &attention.key)
            .into_shape_with_order((t, b, f))
            .expect("(T, B, F)");
        &d.keys + &through
    }
}

/// Columns `lo..hi` of a `(B, n)` array, owned.
pub(crate) fn cols(x: ArrayView2<'_, f64>, lo: usize, hi: usize) -> Array2<f64> {
    x.slice(s![.., lo..hi]).to_owned()
}

impl Parameters for Attention {
    /// `query.weight (A, H)`, `query.bias (A)`, `key.weight (A, F)`, `v.weight (1, A)`.
    fn params(&self) -> Vec<(String, ArrayViewD<'_, f64>)> {
        vec![
            ("query.weight".into(), self.query.weight.view().into_dyn()),
            ("query.bias".into(), self.query.bias.view().into_dyn()),
            ("key.weight".into(), self.key.view().into_dyn()),
            ("v.weight".into(), self.v.view().into_dyn()),
        ]
    }

    fn params_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, f64>)> {
        vec![
            (
                "query.weight".into(),
                self.query.weight.view_mut().into_dyn(),
            ),
            ("query.bias".into(), self.query.bias.view_mut().into_dyn()),
            ("key.weight".into(), self.key.view_mut().into_dyn()),
            ("v.weight".into(), self.v.view_mut().into_dyn()),
        ]
    }
}
