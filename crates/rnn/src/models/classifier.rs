//! A sequence model over any recurrent stack: input encoding → [`Rnn`] (any cell, layers, bidirectional,
//! dropout) with masked recurrence over padded batches → a readout → a [`Dense`] head to K outputs.
//!
//! ```text
//!  ids (T, B) ──encoder / one-hot──┐
//!                                  ├─→ xs (T, B, D) ─→ Rnn::forward_masked(lengths) ─→ outputs (T, B, F)
//!  floats (T, B, D) ───────────────┘                              │ h_n                │   F = dirs·H
//!                                                                 ▼                    ▼
//!                       Readout::Last: [h→ at each row's last real step ; h← at t = 0]  (B, F)
//!                       Readout::Mean / Max: masked mean / max over real steps          (B, F)
//!                       Readout::EveryStep: every (t, b), pads masked in the loss       (T·B, F)
//!                                                                 │
//!                                                       head: Dense F → K ─→ logits (B, K) or (T·B, K)
//! ```
//!
//! Losses ([`Classifier::loss`]): cross-entropy over K classes for one label per sequence, masked
//! per-step cross-entropy for [`Readout::EveryStep`], mean squared error for a regression head (K = 1).
//!
//! ```
//! use rnn::cells::CellKind;
//! use rnn::params::Parameters;
//! use rnn::models::classifier::{Classifier, ClassifierConfig, InputConfig, Readout, SeqInput, Targets};
//!
//! let mut rng = rnn::init::rng(0);
//! // tokens from a vocabulary of 5, embedded in 4 dims, a bidirectional GRU, 3 classes
//! let config = ClassifierConfig::new(CellKind::Gru, InputConfig::Embedding { vocab: 5, dim: 4 }, 6, Readout::Last, 3)
//!     .layers(2)
//!     .bidirectional(true);
//! let model = Classifier::new(&config, &mut rng).unwrap();
//! let ids = ndarray::array![[1, 2], [3, 0], [4, 0]]; // (T, B): row 1 has 1 real step, then pads
//! let lengths = [3, 1];
//! let (logits, cache) = model.forward(SeqInput::Tokens(ids.view()), Some(&lengths), None);
//! assert_eq!(logits.dim(), (2, 3)); // (B, K)
//! let (loss, d_logits) = model.loss(logits.view(), Targets::Classes(&[2, 0]), Some(&lengths));
//! assert!(loss > 0.0);
//! let mut grads = model.zeros_like();
//! model.backward(&cache, d_logits.view(), &mut grads);
//! ```

use ndarray::{Array2, Array3, ArrayView2, ArrayView3, ArrayViewD, ArrayViewMutD, Axis};
use serde::{Deserialize, Serialize};

use crate::cells::{AnyCell, CellConfig, CellKind, State};
use crate::checkpoint::RnnConfig;
use crate::init::Rng;
use crate::layers::{Dense, Embedding};
use crate::params::Parameters;
use crate::stack::{Rnn, RnnCache};
use crate::stack_mask::mask_array;
use crate::{Error, Result};

/// How the per-step outputs become the head's features.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Readout {
    /// The top layer's final states: the forward direction's at each row's last real step and (if
    /// bidirectional) the reverse direction's at t = 0, side by side (PyTorch's `h_n` with packed sequences).
    Last,
    /// The masked mean of the top layer's outputs over each row's real steps.
    Mean,
    /// The masked max over real steps, feature by feature; its gradient goes to the step of the max.
    Max,
    /// A head at every step (sequence tagging, next-symbol prediction); the pads are masked in the loss.
    EveryStep,
}

/// What the model reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InputConfig {
    /// Float features `(T, B, D)`, fed to the stack as they are.
    Features {
        /// D.
        dim: usize,
    },
    /// Token ids `(T, B)`, one-hot encoded (D = vocab).
    OneHot {
        /// Vocabulary size.
        vocab: usize,
    },
    /// Token ids `(T, B)` through a learned embedding `encoder.weight (vocab, dim)`.
    Embedding {
        /// Vocabulary size.
        vocab: usize,
        /// Embedding size D.
        dim: usize,
    },
}

impl InputConfig {
    /// D, the number of features the stack reads.
    pub fn rnn_input_size(&self) -> usize {
        match *self {
            InputConfig::Features { dim } | InputConfig::Embedding { dim, .. } => dim,
            InputConfig::OneHot { vocab } => vocab,
        }
    }
}

/// Everything needed to build a [`Classifier`].
#[derive(Clone, Debug, PartialEq)]
pub struct ClassifierConfig {
    /// The recurrent stack.
    pub rnn: RnnConfig,
    /// The input encoding (its size must be `rnn.input_size`).
    pub input: InputConfig,
    /// The readout.
    pub readout: Readout,
    /// K, the number of outputs (classes, or 1 for regression).
    pub num_outputs: usize,
}

impl ClassifierConfig {
    /// One layer, one direction, no dropout; change them with the builder methods.
    pub fn new(
        cell: CellKind,
        input: InputConfig,
        hidden_size: usize,
        readout: Readout,
        num_outputs: usize,
    ) -> Self {
        ClassifierConfig {
            rnn: RnnConfig {
                cell: CellConfig::new(cell),
                input_size: input.rnn_input_size(),
                hidden_size,
                num_layers: 1,
                bidirectional: false,
                dropout: 0.0,
            },
            input,
            readout,
            num_outputs,
        }
    }

    /// Sets the number of layers.
    pub fn layers(mut self, n: usize) -> Self {
        self.rnn.num_layers = n;
        self
    }

    /// Sets whether the stack is bidirectional.
    pub fn bidirectional(mut self, yes: bool) -> Self {
        self.rnn.bidirectional = yes;
        self
    }

    /// Sets the dropout between layers.
    pub fn dropout(mut self, p: f64) -> Self {
        self.rnn.dropout = p;
        self
    }
}

/// A recurrent sequence classifier / regressor / tagger (see the module documentation).
#[derive(Clone, Debug)]
pub struct Classifier {
    /// The embedding, for [`InputConfig::Embedding`].
    pub encoder: Option<Embedding>,
    /// The recurrent stack.
    pub rnn: Rnn<AnyCell>,
    /// The head: F = dirs·H features → K outputs.
    pub head: Dense,
    /// The readout.
    pub readout: Readout,
    /// The input encoding.
    pub input: InputConfig,
}

/// A batch of inputs: float features or token ids.
#[derive(Clone, Copy, Debug)]
pub enum SeqInput<'a> {
    /// `(T, B, D)` features.
    Features(ArrayView3<'a, f64>),
    /// `(T, B)` token ids.
    Tokens(ArrayView2<'a, usize>),
}

/// The targets of a batch, for [`Classifier::loss`].
#[derive(Clone, Copy, Debug)]
pub enum Targets<'a> {
    /// One class per sequence `(B)`: cross-entropy.
    Classes(&'a [usize]),
    /// One class per step `(T, B)`, for [`Readout::EveryStep`]: cross-entropy over real steps.
    StepClasses(ArrayView2<'a, usize>),
    /// One value per sequence `(B)`, for K = 1: mean squared error.
    Values(&'a [f64]),
}

/// What [`Classifier::forward`] keeps for [`Classifier::backward`].
pub struct ClassifierCache {
    ids: Option<Array2<usize>>,
    lengths: Vec<usize>,
    rnn: RnnCache<AnyCell>,
    finals: Vec<State>,
    /// `(N, F)`: the head's input.
    features: Array2<f64>,
    /// `(B, F)`: for [`Readout::Max`], the step of each max.
    argmax: Option<Array2<usize>>,
    t_len: usize,
}

impl Classifier {
    /// A model with fresh random weights (PyTorch's default initialisers). [`Error::Config`] if the config
    /// does not hold together.
    pub fn new(config: &ClassifierConfig, rng: &mut Rng) -> Result<Self> {
        if config.rnn.input_size != config.input.rnn_input_size() {
            return Err(Error::Config(format!(
                "the input encoding gives {} features but the stack reads {}",
                config.input.rnn_input_size(),
                config.rnn.input_size
            )));
        }
        if config.num_outputs == 0 {
            return Err(Error::Config("a head needs at least one output".into()));
        }
        let encoder = match config.input {
            InputConfig::Embedding { vocab, dim } => Some(Embedding::new(vocab, dim, rng)),
            _ => None,
        };
        let rnn = Rnn::from_config(&config.rnn, rng)?;
        let dirs = if config.rnn.bidirectional { 2 } else { 1 };
        let head = Dense::new(dirs * config.rnn.hidden_size, config.num_outputs, rng);
        Ok(Classifier {
            encoder,
            rnn,
            head,
            readout: config.readout,
            input: config.input,
        })
    }

    /// The stack's input `(T, B, D)`: the features, the one-hot ids or their embeddings.
    fn encode(&self, input: SeqInput<'_>) -> Array3<f64> {
        match (input, self.input) {
            (SeqInput::Features(xs), InputConfig::Features { .. }) => xs.to_owned(),
            (SeqInput::Tokens(ids), InputConfig::OneHot { vocab }) => {
                let (t, b) = ids.dim();
                let flat: Vec<usize> = ids.iter().copied().collect();
                crate::layers::one_hot(&flat, vocab)
                    .into_shape_with_order((t, b, vocab))
                    .expect("(T·B, V) reshapes to (T, B, V)")
            }
            (SeqInput::Tokens(ids), InputConfig::Embedding { .. }) => {
                self.encoder.as_ref().expect("embedding").forward_seq(ids)
            }
            (_, cfg) => panic!("Classifier: this model reads {cfg:?}, got the other kind of input"),
        }
    }

    /// Runs the model. `lengths[b]` is the number of real steps of row b (≥ 1; `None`: all T). Returns
    /// the logits, `(B, K)`, or `(T·B, K)` with row `t·B + b` for [`Readout::EveryStep`], and the cache.
    /// `dropout_rng` switches training mode on, as in [`Rnn::forward`].
    pub fn forward(
        &self,
        input: SeqInput<'_>,
        lengths: Option<&[usize]>,
        dropout_rng: Option<&mut Rng>,
    ) -> (Array2<f64>, ClassifierCache) {
        let xs = self.encode(input); // (T, B, D)
        let (t_len, batch, _) = xs.dim();
        let lengths: Vec<usize> = lengths.map_or_else(|| vec![t_len; batch], <[usize]>::to_vec);
        assert!(
            lengths.iter().all(|&n| n >= 1),
            "Classifier: every sequence needs at least one real step, got lengths {lengths:?}"
        );
        let (outputs, finals, rnn) =
            self.rnn
                .forward_masked(xs.view(), Some(&lengths), None, dropout_rng);
        let (features, argmax) = super::readout::read(
            self.readout,
            &outputs,
            &finals,
            &lengths,
            self.rnn.num_directions(),
        );
        let logits = self.head.forward(features.view()); // (N, K)
        let ids = match input {
            SeqInput::Tokens(ids) => Some(ids.to_owned()),
            SeqInput::Features(_) => None,
        };
        let cache = ClassifierCache {
            ids,
            lengths,
            rnn,
            finals,
            features,
            argmax,
            t_len,
        };
        (logits, cache)
    }

    /// The loss of `logits` against `targets` and ∂loss/∂logits (same shape as `logits`): the mean
    /// cross-entropy over sequences ([`Targets::Classes`]) or over real steps ([`Targets::StepClasses`],
    /// pads excluded by `lengths`), or the mean squared error ([`Targets::Values`], K = 1).
    pub fn loss(
        &self,
        logits: ArrayView2<'_, f64>,
        targets: Targets<'_>,
        lengths: Option<&[usize]>,
    ) -> (f64, Array2<f64>) {
        match targets {
            Targets::Classes(ys) => crate::loss::softmax_cross_entropy(logits, ys, None),
            Targets::StepClasses(ys) => {
                let (t, b) = ys.dim();
                let mask = mask_array(lengths, t, b); // (T, B)
                let flat: Vec<usize> = ys.iter().copied().collect(); // row t·B + b
                let m: Vec<f64> = mask.iter().copied().collect();
                crate::loss::softmax_cross_entropy(logits, &flat, Some(&m))
            }
            Targets::Values(ys) => {
                assert_eq!(
                    logits.ncols(),
                    1,
                    "Classifier::loss: regression needs K = 1 output"
                );
                let target = ndarray::ArrayView1::from(ys);
                let (l, d) = crate::loss::mse(logits.column(0), target);
                (l, d.insert_axis(Axis(1)))
            }
        }
    }

    /// Backpropagates `d_logits` = ∂L/∂logits through the head, the readout, the stack and the encoder;
    /// parameter gradients are *added* into `grads` (make it with [`Parameters::zeros_like`]).
    pub fn backward(
        &self,
        cache: &ClassifierCache,
        d_logits: ArrayView2<'_, f64>,
        grads: &mut Self,
    ) {
        let d_features = self
            .head
            .backward(cache.features.view(), d_logits, &mut grads.head); // (N, F)
        let batch = cache.lengths.len();
        let (d_outputs, d_last) = super::readout::read_back(
            self.readout,
            d_features.view(),
            &cache.finals,
            cache.argmax.as_ref(),
            &cache.lengths,
            (cache.t_len, batch, self.head.in_features()),
            self.rnn.num_directions(),
        );
        let (dxs, _) = self.rnn.backward_masked(
            &cache.rnn,
            Some(&cache.lengths),
            d_outputs.view(),
            d_last.as_deref(),
            &mut grads.rnn,
        );
        if let (Some(enc), Some(g), Some(ids)) = (&self.encoder, &mut grads.encoder, &cache.ids) {
            enc.backward_seq(ids.view(), dxs.view(), g);
        }
    }

    /// The most likely class of each row of the logits (evaluation mode).
    pub fn predict(&self, input: SeqInput<'_>, lengths: Option<&[usize]>) -> Vec<usize> {
        let (logits, _) = self.forward(input, lengths, None);
        argmax_rows(logits.view())
    }
}

/// The index of the largest entry of every row.
pub fn argmax_rows(logits: ArrayView2<'_, f64>) -> Vec<usize> {
    logits
        .rows()
        .into_iter()
        .map(|r| (0..r.len()).fold(0, |best, k| if r[k] > r[best] { k } else { best }))
        .collect()
}

/// The fraction of rows whose predicted class equals the target, counting only rows with mask 1 (`None`:
/// all rows); use [`mask_array`] for per-step predictions.
pub fn accuracy(predicted: &[usize], targets: &[usize], mask: Option<&[f64]>) -> f64 {
    assert_eq!(
        predicted.len(),
        targets.len(),
        "accuracy: one prediction per target"
    );
    let (mut right, mut counted) = (0.0, 0.0);
    for (n, (p, y)) in predicted.iter().zip(targets).enumerate() {
        let w = mask.map_or(1.0, |m| m[n]);
        counted += w;
        if p == y {
            right += w;
        }
    }
    right / f64::max(counted, 1.0)
}

impl Parameters for Classifier {
    /// `encoder.weight` (if any), `rnn.weight_ih_l0`, ..., `head.weight`, `head.bias`.
    fn params(&self) -> Vec<(String, ArrayViewD<'_, f64>)> {
        let mut out = Vec::new();
        if let Some(e) = &self.encoder {
            out.push(("encoder.weight".to_string(), e.weight.view().into_dyn()));
        }
        let rnn = self
            .rnn
            .params()
            .into_iter()
            .map(|(n, p)| (format!("rnn.{n}"), p));
        let head = self
            .head
            .params()
            .into_iter()
            .map(|(n, p)| (format!("head.{n}"), p));
        out.extend(rnn.chain(head));
        out
    }

    fn params_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, f64>)> {
        let mut out = Vec::new();
        if let Some(e) = &mut self.encoder {
            out.push(("encoder.weight".to_string(), e.weight.view_mut().into_dyn()));
        }
        let rnn = self
            .rnn
            .params_mut()
            .into_iter()
            .map(|(n, p)| (format!("rnn.{n}"), p));
        let head = self
            .head
            .params_mut()
            .into_iter()
            .map(|(n, p)| (format!("head.{n}"), p));
        out.extend(rnn.chain(head));
        out
    }
}
