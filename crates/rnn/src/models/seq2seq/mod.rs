//! An encoder-decoder (sequence-to-sequence) model over any recurrent cell, with optional Bahdanau
//! attention, trained by teacher forcing and decoded greedily or by beam search.
//!
//! ```text
//!  source ids (T_src, B) ─ embedding ─ encoder Rnn (masked, optionally bidirectional) ─ keys k_s (T_src, B, F)
//!                                                 │ final states h_n                         │
//!                                                 ▼                                          │ attention (11.1)-(11.3)
//!                           bridge (10.2): copy, or tanh(W [h→; h←] + b) if bidirectional    │ (optional)
//!                                                 │ s_0                                      ▼
//!  <sos> y_1 .. y_n ─ embedding ─┬──────────── decoder Rnn, one step at a time ◀── context c_t
//!                                 └─ [E y_{t-1} ; c_t] ─→ s_t ─→ out([s_t ; c_t]) ─→ logits (T_tgt, B, V)
//! ```
//!
//! The pieces, one file each:
//! - [`tokens`]: vocabularies with `<pad>`, `<sos>`, `<eos>`, `<unk>`, and padded batches;
//! - this file: the model, its configuration, the encoder and the bridge;
//! - [`decoder`](Seq2Seq::forward): the decoder step and teacher forcing, forward and backward;
//! - [`attention`]: additive attention, forward and backward;
//! - [`beam`]: greedy decoding and beam search;
//! - [`sample`]: drawing outputs at a temperature ([`Seq2Seq::sample`]);
//! - saving and loading ([`Seq2Seq::save`], [`Seq2Seq::load`]).
//!
//! **The bridge.** The decoder has as many layers as the encoder and the same hidden size H, and its
//! layer k starts from the encoder's layer k. A unidirectional encoder's final state (h, and c for an
//! LSTM) is copied as it is (10.2). A bidirectional encoder has two final states per layer, the forward
//! direction's at each source's last real step and the reverse direction's at t = 0; the decoder's
//! initial state is `tanh(W_b [h→ ; h←] + b_b)`, a learned map from 2H to H per layer (and, for an LSTM,
//! another one for c). Summing the two directions would be free, but it forces both directions to use
//! the same units for the same thing; a learned map lets the model decide, costs 2H·H + H numbers per
//! layer, and the tanh keeps the decoder's initial h in the range a tanh cell produces (Bahdanau et al.
//! initialise their decoder the same way from the backward state).
//!
//! **Attention** (optional, [`Seq2SeqConfig::attention`]): the query is the decoder's top-layer state
//! before the step, s_{t-1} (Bahdanau's choice, and the PyTorch tutorial's), so the context c_t can be
//! fed into the decoder's input at step t; it also goes, next to s_t, into the output layer (11.4).
//!
//! ```
//! use rnn::cells::CellKind;
//! use rnn::models::seq2seq::{tokens::Seq2SeqBatch, Seq2Seq, Seq2SeqConfig};
//! use rnn::params::Parameters;
//!
//! let config = Seq2SeqConfig::new(CellKind::Gru, 8, 9, 4, 5).bidirectional(true).attention(Some(6));
//! let model = Seq2Seq::new(&config, &mut rnn::init::rng(0)).unwrap();
//! let batch = Seq2SeqBatch::new(&[vec![4, 5, 6], vec![7]], &[vec![8, 4], vec![5, 5, 6]]);
//! let (loss, grads) = model.loss_and_grads(&batch);
//! assert!(loss > 0.0);
//! assert_eq!(grads.num_params(), model.num_params());
//! let best = model.beam_search(&[4, 5, 6], &rnn::models::seq2seq::BeamConfig::new(3, 10));
//! assert!(!best.is_empty());
//! ```

pub mod attention;
pub mod beam;
mod bridge;
mod decoder;
mod io;
pub mod sample;
pub mod tokens;

pub use attention::{Attention, Memory};
pub use beam::{BeamConfig, Greedy, Hypothesis, LengthPenalty};
pub use bridge::Bridge;
pub use decoder::Seq2SeqCache;

use ndarray::{Array3, ArrayView2, ArrayViewD, ArrayViewMutD};

use crate::cells::{AnyCell, CellConfig, CellKind, State};
use crate::checkpoint::RnnConfig;
use crate::init::Rng;
use crate::layers::{Dense, Embedding};
use crate::params::Parameters;
use crate::stack::{Rnn, RnnCache};
use crate::{Error, Result};

/// Everything needed to build a [`Seq2Seq`].
///
/// The encoder and the decoder share the cell, the hidden size and the number of layers (the bridge maps
/// layer k to layer k). There is no dropout: both stacks are built with `dropout = 0`.
#[derive(Clone, Debug, PartialEq)]
pub struct Seq2SeqConfig {
    /// The cell of both the encoder and the decoder (kind and variant).
    pub cell: CellConfig,
    /// Source vocabulary size (specials included).
    pub src_vocab: usize,
    /// Target vocabulary size (specials included): the output layer's V.
    pub tgt_vocab: usize,
    /// Embedding size of both embeddings.
    pub embedding_dim: usize,
    /// H, the hidden size of every encoder and decoder cell.
    pub hidden_size: usize,
    /// Layers of the encoder, and of the decoder.
    pub num_layers: usize,
    /// Whether the encoder is bidirectional (the decoder never is).
    pub bidirectional: bool,
    /// The attention size A, or `None` for no attention.
    pub attention: Option<usize>,
}

impl Seq2SeqConfig {
    /// One layer, a unidirectional encoder, no attention; change them with the builder methods.
    pub fn new(
        cell: CellKind,
        src_vocab: usize,
        tgt_vocab: usize,
        embedding_dim: usize,
        hidden_size: usize,
    ) -> Self {
        Seq2SeqConfig {
            cell: CellConfig::new(cell),
            src_vocab,
            tgt_vocab,
            embedding_dim,
            hidden_size,
            num_layers: 1,
            bidirectional: false,
            attention: None,
        }
    }

    /// Sets the number of layers.
    pub fn layers(mut self, n: usize) -> Self {
        self.num_layers = n;
        self
    }

    /// Sets whether the encoder is bidirectional.
    pub fn bidirectional(mut self, yes: bool) -> Self {
        self.bidirectional = yes;
        self
    }

    /// Sets the attention size (`None`: no attention).
    pub fn attention(mut self, size: Option<usize>) -> Self {
        self.attention = size;
        self
    }

    /// F = num_directions · H: the size of an encoder output, a key of attention.
    pub fn key_size(&self) -> usize {
        self.hidden_size * if self.bidirectional { 2 } else { 1 }
    }

    /// The encoder's stack.
    pub fn encoder_config(&self) -> RnnConfig {
        RnnConfig {
            cell: self.cell,
            input_size: self.embedding_dim,
            hidden_size: self.hidden_size,
            num_layers: self.num_layers,
            bidirectional: self.bidirectional,
            dropout: 0.0,
        }
    }

    /// The decoder's stack: it reads the embedding, and the context if there is attention.
    pub fn decoder_config(&self) -> RnnConfig {
        RnnConfig {
            input_size: self.embedding_dim + self.attention.map_or(0, |_| self.key_size()),
            bidirectional: false,
            ..self.encoder_config()
        }
    }

    /// [`Error::Config`] unless every size is at least 1 (5 for the vocabularies: the four specials and
    /// one symbol) and the cell is valid.
    pub fn validate(&self) -> Result<()> {
        if self.src_vocab < 5 || self.tgt_vocab < 5 {
            return Err(Error::Config(format!(
                "a vocabulary holds the 4 specials and at least one symbol, got sizes {} and {}",
                self.src_vocab, self.tgt_vocab
            )));
        }
        if self.embedding_dim == 0 || self.attention == Some(0) {
            return Err(Error::Config(
                "the embedding and attention sizes must be at least 1".into(),
            ));
        }
        self.encoder_config().validate()
    }
}

/// An encoder-decoder model (see the module documentation). Its gradient is another `Seq2Seq`.
#[derive(Clone, Debug)]
pub struct Seq2Seq {
    /// The source embedding `(V_src, E)`.
    pub src_embedding: Embedding,
    /// The encoder stack (reads E features; outputs F = dirs·H).
    pub encoder: Rnn<AnyCell>,
    /// The state bridge (bidirectional encoders only).
    pub bridge: Option<Bridge>,
    /// The target embedding `(V_tgt, E)`.
    pub tgt_embedding: Embedding,
    /// The decoder stack (reads E, or E + F with attention; unidirectional).
    pub decoder: Rnn<AnyCell>,
    /// Additive attention, if configured.
    pub attention: Option<Attention>,
    /// The output layer: H (+ F with attention) → V_tgt.
    pub out: Dense,
}

/// The encoder's work on a batch: what the decoder starts from and attends to, and the caches.
pub struct Encoded {
    /// The decoder's initial states, one per layer.
    pub init: Vec<State>,
    /// The attention memory, if the model has attention.
    pub memory: Option<Memory>,
    /// `(T_src, B, F)`: the encoder's outputs (the keys).
    outputs_dim: (usize, usize, usize),
    finals: Vec<State>,
    rnn: RnnCache<AnyCell>,
    bridge: Option<bridge::BridgeCache>,
    lengths: Vec<usize>,
}

impl Seq2Seq {
    /// A model with fresh random weights (PyTorch's default initialisers), drawn in the order of
    /// [`Parameters::params`]. [`Error::Config`] if the config does not hold together.
    pub fn new(config: &Seq2SeqConfig, rng: &mut Rng) -> Result<Self> {
        config.validate()?;
        let (e, h, layers) = (config.embedding_dim, config.hidden_size, config.num_layers);
        let src_embedding = Embedding::new(config.src_vocab, e, rng);
        let encoder = Rnn::from_config(&config.encoder_config(), rng)?;
        let lstm = config.cell.kind == CellKind::Lstm;
        let bridge = config
            .bidirectional
            .then(|| Bridge::new(layers, h, lstm, rng));
        let tgt_embedding = Embedding::new(config.tgt_vocab, e, rng);
        let decoder = Rnn::from_config(&config.decoder_config(), rng)?;
        let f = config.key_size();
        let attention = config.attention.map(|a| Attention::new(h, f, a, rng));
        let out_in = h + config.attention.map_or(0, |_| f);
        let out = Dense::new(out_in, config.tgt_vocab, rng);
        Ok(Seq2Seq {
            src_embedding,
            encoder,
            bridge,
            tgt_embedding,
            decoder,
            attention,
            out,
        })
    }

    /// The model's configuration.
    pub fn config(&self) -> Seq2SeqConfig {
        let enc = self
            .encoder
            .config()
            .expect("the library's cells report their config");
        Seq2SeqConfig {
            cell: enc.cell,
            src_vocab: self.src_embedding.num_embeddings(),
            tgt_vocab: self.tgt_embedding.num_embeddings(),
            embedding_dim: self.src_embedding.embedding_dim(),
            hidden_size: enc.hidden_size,
            num_layers: enc.num_layers,
            bidirectional: enc.bidirectional,
            attention: self.attention.as_ref().map(Attention::attn_size),
        }
    }

    // ANCHOR: encode
    /// Runs the encoder over `src (T_src, B)` with `lengths[b]` ≥ 1 real steps per row, and the bridge.
    pub fn encode(&self, src: ArrayView2<'_, usize>, lengths: &[usize]) -> Encoded {
        assert!(
            lengths.iter().all(|&n| n >= 1),
            "Seq2Seq::encode: every source needs at least one real step, got lengths {lengths:?}"
        );
        // (10.1) x_s = E_src[x_s]                                                (T_src, B, E)
        let xs = self.src_embedding.forward_seq(src);
        // (10.1) k_s = [h→_s ; h←_s], masked recurrence over the padded batch      (T_src, B, F)
        let (outputs, finals, rnn) =
            self.encoder
                .forward_masked(xs.view(), Some(lengths), None, None);
        let (init, bridge) = match &self.bridge {
            Some(b) => {
                let (init, cache) = b.forward(&finals, &self.decoder.zero_states(src.ncols()));
                (init, Some(cache))
            }
            // (10.2) s_0^(k) = h_n^(k) (and c_0 = c_n): a unidirectional encoder's final state, copied
            None => (finals.clone(), None),
        };
        let outputs_dim = outputs.dim();
        let memory = self
            .attention
            .as_ref()
            .map(|a| Memory::new(a, outputs, lengths));
        Encoded {
            init,
            memory,
            outputs_dim,
            finals,
            rnn,
            bridge,
            lengths: lengths.to_vec(),
        }
    }
    // ANCHOR_END: encode

    /// Backward of [`Seq2Seq::encode`]: `d_init` is ∂L/∂(decoder's initial states), `d_memory` the
    /// gradient accumulated into the memory by attention. Adds into `grads`.
    fn encode_back(
        &self,
        enc: &Encoded,
        src: ArrayView2<'_, usize>,
        d_init: &[State],
        d_memory: Option<&Memory>,
        grads: &mut Seq2Seq,
    ) {
        let d_finals = match (&self.bridge, &enc.bridge) {
            (Some(b), Some(cache)) => b.backward(
                cache,
                &enc.finals,
                d_init,
                grads.bridge.as_mut().expect("grads"),
            ),
            _ => d_init.to_vec(),
        };
        let d_outputs = match (&self.attention, &enc.memory, d_memory) {
            (Some(a), Some(mem), Some(d)) => {
                mem.backward(a, d, grads.attention.as_mut().expect("grads"))
            }
            _ => Array3::zeros(enc.outputs_dim),
        };
        let (dxs, _) = self.encoder.backward_masked(
            &enc.rnn,
            Some(&enc.lengths),
            d_outputs.view(),
            Some(&d_finals),
            &mut grads.encoder,
        );
        self.src_embedding
            .backward_seq(src, dxs.view(), &mut grads.src_embedding);
    }
}

impl Parameters for Seq2Seq {
    /// `encoder.embedding.weight`, `encoder.rnn.weight_ih_l0`, ..., `bridge.h_l0.weight`, ...,
    /// `decoder.embedding.weight`, `decoder.rnn.*`, `attention.query.weight`, ..., `decoder.out.weight`,
    /// `decoder.out.bias`.
    fn params(&self) -> Vec<(String, ArrayViewD<'_, f64>)> {
        fn named<'a>(
            prefix: &'a str,
            ps: Vec<(String, ArrayViewD<'a, f64>)>,
        ) -> impl Iterator<Item = (String, ArrayViewD<'a, f64>)> + 'a {
            ps.into_iter()
                .map(move |(n, p)| (format!("{prefix}.{n}"), p))
        }
        let mut out: Vec<_> = named("encoder.embedding", self.src_embedding.params()).collect();
        out.extend(named("encoder.rnn", self.encoder.params()));
        if let Some(b) = &self.bridge {
            out.extend(named("bridge", b.params()));
        }
        out.extend(named("decoder.embedding", self.tgt_embedding.params()));
        out.extend(named("decoder.rnn", self.decoder.params()));
        if let Some(a) = &self.attention {
            out.extend(named("attention", a.params()));
        }
        out.extend(named("decoder.out", self.out.params()));
        out
    }

    fn params_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, f64>)> {
        fn named<'a>(
            prefix: &'a str,
            ps: Vec<(String, ArrayViewMutD<'a, f64>)>,
        ) -> impl Iterator<Item = (String, ArrayViewMutD<'a, f64>)> + 'a {
            ps.into_iter()
                .map(move |(n, p)| (format!("{prefix}.{n}"), p))
        }
        let mut out: Vec<_> = named("encoder.embedding", self.src_embedding.params_mut()).collect();
        out.extend(named("encoder.rnn", self.encoder.params_mut()));
        if let Some(b) = &mut self.bridge {
            out.extend(named("bridge", b.params_mut()));
        }
        out.extend(named("decoder.embedding", self.tgt_embedding.params_mut()));
        out.extend(named("decoder.rnn", self.decoder.params_mut()));
        if let Some(a) = &mut self.attention {
            out.extend(named("attention", a.params_mut()));
        }
        out.extend(named("decoder.out", self.out.params_mut()));
        out
    }
}
