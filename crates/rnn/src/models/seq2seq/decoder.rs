//! The decoder, one step at a time, and teacher forcing: forward and hand-written backward through the
//! decoder, attention, the bridge and the encoder.
//!
//! One decoder step reads the previous target token y_{t-1} (`<sos>` at t = 0) and the previous states:
//!
//! ```text
//! (10.3)  s_t = f_dec(E_tgt[y_{t-1}], s_{t-1})                 without attention
//! (11.4)  s_t = f_dec([E_tgt[y_{t-1}] ; c_t], s_{t-1}),   z_t = W_out [s_t ; c_t] + b_out   with attention
//! (10.4)  z_t = W_out s_t + b_out                             without attention
//! ```
//!
//! where f_dec is the whole decoder stack (layer k reads layer k-1's new state) and c_t is attention's
//! context for the query s_{t-1} (the top layer's state). The same step serves teacher forcing (where
//! y_{t-1} is the true previous token) and decoding ([`super::beam`], where it is the model's own choice),
//! so a beam's score is exactly what teacher forcing computes for the same tokens.
//!
//! Teacher forcing: the loss is the mean cross-entropy over the real target tokens (each row's target and
//! its `<eos>`; the pads count for nothing),
//!
//! ```text
//! (10.5)  L = -(1 / Σ_b n_b) Σ_b Σ_{t < n_b} log softmax(z_{t,b})[y_{t,b}]
//! ```

use ndarray::{concatenate, s, Array2, Array3, ArrayView2, ArrayView3, Axis};

use super::attention::{cols, AttentionCache, Memory};
use super::tokens::Seq2SeqBatch;
use super::{Encoded, Seq2Seq};
use crate::cells::{AnyCache, Cell, State};
use crate::params::Parameters;
use crate::stack_mask::mask_array;

/// What one decoder step keeps for its backward.
pub(crate) struct StepCache {
    /// y_{t-1}, `(B)`.
    ids: Vec<usize>,
    /// Each layer's cell cache, bottom to top.
    cells: Vec<AnyCache>,
    /// Attention's cache, if the model has attention.
    attention: Option<AttentionCache>,
    /// The output layer's input `[s_t ; c_t]` (or `s_t`), `(B, H [+ F])`.
    out_in: Array2<f64>,
}

impl StepCache {
    /// The weights α_{t,s} of batch row 0, `(T_src)`, if the step attended.
    pub(crate) fn attention_weights(&self) -> Option<ndarray::Array1<f64>> {
        self.attention
            .as_ref()
            .map(|a| a.alpha.column(0).to_owned())
    }
}

/// What [`Seq2Seq::forward`] keeps for [`Seq2Seq::backward`].
pub struct Seq2SeqCache {
    encoded: Encoded,
    steps: Vec<StepCache>,
}

impl Seq2SeqCache {
    /// The attention weights α_{t,s}, `(T_tgt, B, T_src)` (zero at padded source positions), for
    /// heatmaps; `None` without attention.
    pub fn attention(&self) -> Option<Array3<f64>> {
        let t_src = self.encoded.outputs_dim.0;
        let batch = self.encoded.outputs_dim.1;
        let first = self.steps.first()?.attention.as_ref()?;
        debug_assert_eq!(first.alpha.dim(), (t_src, batch));
        let mut out = Array3::zeros((self.steps.len(), batch, t_src));
        for (t, step) in self.steps.iter().enumerate() {
            let alpha = &step.attention.as_ref().expect("every step attends").alpha;
            out.index_axis_mut(Axis(0), t).assign(&alpha.t());
        }
        Some(out)
    }
}

impl Seq2Seq {
    // ANCHOR: decoder_step
    /// One decoder step: `ids` = y_{t-1} `(B)`, `states` = s_{t-1} (one per layer), `memory` the
    /// encoder's outputs if the model attends. Returns the logits z_t `(B, V)`, the new states and the cache.
    pub(crate) fn step(
        &self,
        ids: &[usize],
        states: &[State],
        memory: Option<&Memory>,
    ) -> (Array2<f64>, Vec<State>, StepCache) {
        let top = states.len() - 1;
        let emb = self.tgt_embedding.forward(ids); // E_tgt[y_{t-1}]          (B, E)
        let (input, context, attention) = match (&self.attention, memory) {
            (Some(a), Some(mem)) => {
                // (11.1)-(11.3) the query is s_{t-1}, the top layer's state before the step
                // c_t                                                            (B, F)
                let (c, cache) = a.forward(states[top].h.view(), mem);
                // (11.4) the decoder reads [E_tgt[y_{t-1}] ; c_t]                  (B, E + F)
                (concatenate![Axis(1), emb, c], Some(c), Some(cache))
            }
            (None, _) => (emb, None, None),
            (Some(_), None) => panic!("Seq2Seq::step: a model with attention needs the memory"),
        };
        let mut new_states = Vec::with_capacity(states.len());
        let mut cells = Vec::with_capacity(states.len());
        let mut x = input;
        for (layer, prev) in self.decoder.layers.iter().zip(states) {
            // (10.3) s_t^(k) = f_k(s_t^(k-1), s_{t-1}^(k)), with s_t^(-1) the step's input     (B, H)
            let (state, cache) = layer.forward.forward(x.view(), prev);
            x = state.h.clone();
            new_states.push(state);
            cells.push(cache);
        }
        let out_in = match context {
            // (11.4) the output layer reads [s_t ; c_t]                         (B, H + F)
            Some(c) => concatenate![Axis(1), x, c],
            None => x,
        };
        // (10.4) z_t = W_out [s_t (; c_t)] + b_out                              (B, V)
        let logits = self.out.forward(out_in.view());
        let cache = StepCache {
            ids: ids.to_vec(),
            cells,
            attention,
            out_in,
        };
        (logits, new_states, cache)
    }
    // ANCHOR_END: decoder_step

    /// Backward of [`Seq2Seq::step`]. On entry `d_states` holds ∂L/∂s_t (from later steps); on return,
    /// ∂L/∂s_{t-1}. Adds parameter gradients into `grads` and ∂L/∂memory into `d_memory`.
    fn step_back(
        &self,
        cache: &StepCache,
        memory: Option<&Memory>,
        d_logits: ArrayView2<'_, f64>,
        d_states: &mut [State],
        d_memory: Option<&mut Memory>,
        grads: &mut Seq2Seq,
    ) {
        let top = d_states.len() - 1;
        let h = self.decoder.hidden_size();
        let e = self.tgt_embedding.embedding_dim();
        // (10.7) ∂L/∂[s_t ; c_t] = W_outᵀ ∂L/∂z_t (and ∂L/∂W_out, ∂L/∂b_out)     (B, H [+ F])
        let d_out_in = self
            .out
            .backward(cache.out_in.view(), d_logits, &mut grads.out);
        d_states[top].h += &d_out_in.slice(s![.., ..h]);
        let mut d_context =
            (self.attention.is_some()).then(|| cols(d_out_in.view(), h, d_out_in.ncols()));
        let mut dx = None;
        for (k, (layer, g)) in self
            .decoder
            .layers
            .iter()
            .zip(grads.decoder.layers.iter_mut())
            .enumerate()
            .rev()
        {
            // (10.7) back through layer k's step: ∂L/∂(its input) and ∂L/∂s_{t-1}^(k)
            let (d_in, d_prev) =
                layer
                    .forward
                    .backward(&cache.cells[k], &d_states[k], &mut g.forward);
            d_states[k] = d_prev;
            if k > 0 {
                d_states[k - 1].h += &d_in; // layer k read layer k-1's new state
            } else {
                dx = Some(d_in);
            }
        }
        let dx = dx.expect("at least one layer"); // (B, E [+ F])
        self.tgt_embedding
            .backward(&cache.ids, dx.slice(s![.., ..e]), &mut grads.tgt_embedding);
        if let (Some(a), Some(att), Some(mem), Some(d_mem), Some(dc)) = (
            &self.attention,
            &cache.attention,
            memory,
            d_memory,
            d_context.as_mut(),
        ) {
            // (11.4) c_t reached both the decoder's input and the output layer
            *dc += &dx.slice(s![.., e..]);
            let dq = a.backward(
                att,
                mem,
                dc.view(),
                d_mem,
                grads.attention.as_mut().expect("grads"),
            );
            // (11.1) the query was s_{t-1}^(top): its gradient joins ∂L/∂s_{t-1}
            d_states[top].h += &dq;
        }
    }

    // ANCHOR: teacher_forcing
    /// Teacher forcing over a batch: the logits `(T_tgt, B, V)` at every decoder step, and the cache.
    pub fn forward(&self, batch: &Seq2SeqBatch) -> (Array3<f64>, Seq2SeqCache) {
        let encoded = self.encode(batch.src.view(), &batch.src_lengths);
        let (t_tgt, b) = batch.tgt_in.dim();
        let v = self.out.out_features();
        let mut logits = Array3::zeros((t_tgt, b, v)); // (T_tgt, B, V)
        let mut steps = Vec::with_capacity(t_tgt);
        let mut states = encoded.init.clone();
        for t in 0..t_tgt {
            // (10.3) teacher forcing: the input at step t is the true y_{t-1} (y_0 = <sos>)
            let ids: Vec<usize> = batch.tgt_in.row(t).to_vec();
            let (z, next, cache) = self.step(&ids, &states, encoded.memory.as_ref());
            logits.index_axis_mut(Axis(0), t).assign(&z);
            states = next;
            steps.push(cache);
        }
        (logits, Seq2SeqCache { encoded, steps })
    }

    /// The teacher-forcing loss (10.5) of `logits` from [`Seq2Seq::forward`], and ∂L/∂logits
    /// `(T_tgt, B, V)` (zero at padded steps).
    pub fn loss(&self, batch: &Seq2SeqBatch, logits: ArrayView3<'_, f64>) -> (f64, Array3<f64>) {
        let (t, b) = batch.tgt_out.dim();
        // (10.5) mean cross-entropy over real target tokens; ∂L/∂z is (3.5)
        let mask = mask_array(Some(&batch.tgt_lengths), t, b); // (T_tgt, B)
        crate::loss::sequence_cross_entropy(logits, batch.tgt_out.view(), Some(mask.view()))
    }
    // ANCHOR_END: teacher_forcing

    /// Backpropagates ∂L/∂logits through the decoder, attention, the bridge and the encoder; parameter
    /// gradients are *added* into `grads` (make it with [`Parameters::zeros_like`]).
    pub fn backward(
        &self,
        batch: &Seq2SeqBatch,
        cache: &Seq2SeqCache,
        d_logits: ArrayView3<'_, f64>,
        grads: &mut Seq2Seq,
    ) {
        let enc = &cache.encoded;
        let mut d_states: Vec<State> = enc.init.iter().map(State::zeros_like).collect();
        let mut d_memory = enc.memory.as_ref().map(Memory::zeros_like);
        for (t, step) in cache.steps.iter().enumerate().rev() {
            self.step_back(
                step,
                enc.memory.as_ref(),
                d_logits.index_axis(Axis(0), t),
                &mut d_states,
                d_memory.as_mut(),
                grads,
            );
        }
        // d_states is now ∂L/∂s_0, the decoder's initial states
        self.encode_back(enc, batch.src.view(), &d_states, d_memory.as_ref(), grads);
    }

    /// The loss of a batch and its gradients, in one call.
    pub fn loss_and_grads(&self, batch: &Seq2SeqBatch) -> (f64, Seq2Seq) {
        let (logits, cache) = self.forward(batch);
        let (loss, d) = self.loss(batch, logits.view());
        let mut grads = self.zeros_like();
        self.backward(batch, &cache, d.view(), &mut grads);
        (loss, grads)
    }

    /// log P(y | x) by teacher forcing (10.8): the sum of the log-probabilities of `tgt`'s tokens and,
    /// if `ended`, of the `<eos>` after them. Beam search's [`super::Hypothesis::log_prob`] is this number.
    pub fn sequence_log_prob(&self, src: &[usize], tgt: &[usize], ended: bool) -> f64 {
        let batch = Seq2SeqBatch::new(&[src.to_vec()], &[tgt.to_vec()]);
        let (logits, _) = self.forward(&batch);
        let n = tgt.len() + usize::from(ended);
        (0..n)
            .map(|t| {
                let lp = crate::loss::log_softmax(logits.slice(s![t, .., ..]));
                // (10.8) log P(y | x) = Σ_t log p_t[y_t]
                lp[[0, batch.tgt_out[[t, 0]]]]
            })
            .sum()
    }
}

/// The rows `rows` (repeats allowed) of every tensor of the states, for beam search.
pub(crate) fn select_states(states: &[State], rows: &[usize]) -> Vec<State> {
    let pick = |a: &Array2<f64>| a.select(Axis(0), rows);
    states
        .iter()
        .map(|s| State {
            h: pick(&s.h),
            c: s.c.as_ref().map(pick),
            gates: s.gates.as_ref().map(pick),
        })
        .collect()
}
