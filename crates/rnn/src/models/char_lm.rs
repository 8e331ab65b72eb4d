//! A character-level language model, as in Karpathy's char-rnn: predict the next character of a text.
//!
//! ```text
//! ids (T, B) ──encoder──▶ x (T, B, D) ──rnn (deep RNN/LSTM/GRU)──▶ h (T, B, H) ──decoder──▶ logits (T, B, V)
//! ```
//!
//! The encoder is an embedding table `(V, D)`, or nothing at all when `embedding_dim = 0`: then each
//! character enters the network as a one-hot vector of V features, as in char-rnn. Training reads the text
//! in chunks of T steps on B parallel streams ([`crate::data::TbpttBatches`]) and carries the final state
//! of each chunk into the next (truncated BPTT: gradients stop at the chunk boundary). The loss is the mean
//! cross-entropy in nats per character; bits per character are nats / ln 2 and perplexity is e^nats.
//!
//! Parameter names follow PyTorch's `word_language_model` example, so a `state_dict()` of a PyTorch model
//! with the same layout loads directly:
//!
//! | name | shape | what |
//! |---|---|---|
//! | `encoder.weight` | (V, D) | embedding table (absent for one-hot input) |
//! | `rnn.weight_ih_l{k}`, `rnn.weight_hh_l{k}`, `rnn.bias_ih_l{k}`, `rnn.bias_hh_l{k}` | as `nn.RNN/LSTM/GRU` | the recurrent stack |
//! | `decoder.weight` | (V, H) | output layer |
//! | `decoder.bias` | (V) | output bias |
//!
//! ```
//! use rnn::models::char_lm::{CharLm, CharLmConfig};
//! use rnn::data::Vocab;
//!
//! let text = "hello world, hello rnn";
//! let config = CharLmConfig::new("rnn", Vocab::from_text(text), 0, 16, 1, 0.0);
//! let model = CharLm::new(config, &mut rnn::init::rng(0)).unwrap();
//! let ids = model.config.vocab.encode(text).unwrap();
//! let eval = model.evaluate(&ids, 1, 8).unwrap();
//! // an untrained model is close to uniform: about ln V nats per character
//! assert!((eval.nats - (model.vocab_size() as f64).ln()).abs() < 0.5);
//! let s = model.sample("hel", 10, 1.0, None, 7).unwrap();
//! assert!(s.starts_with("hel") && s.chars().count() == 13);
//! ```

use std::path::Path;

use ndarray::{Array2, Array3, ArrayD, ArrayViewD, ArrayViewMutD};
use serde::{Deserialize, Serialize};

use crate::cells::{AnyCache, AnyCell, Cell, CellConfig, CellKind, State};
use crate::data::{TbpttBatches, Vocab};
use crate::init::Rng;
use crate::layers::{Dense, Embedding};
use crate::loss::softmax_cross_entropy;
use crate::params::Parameters;
use crate::stack::{dropout_mask, Rnn, RnnCache};
use crate::{Error, Result};

/// Everything needed to rebuild a [`CharLm`]: stored as JSON in the checkpoint's metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CharLmConfig {
    /// Cell kind, named as everywhere in the library ([`CellKind`], [`crate::checkpoint`]): `"rnn_tanh"`,
    /// `"rnn_relu"`, `"lstm"` or `"gru"`. [`CharLmConfig::new`] and [`CharLm::new`] store the canonical
    /// name for any spelling [`CellKind`] parses (so `"rnn"`, the name of earlier versions, becomes
    /// `"rnn_tanh"`); checkpoints with the old spelling still load.
    pub cell: String,
    /// The characters the model knows, in id order.
    pub vocab: Vocab,
    /// Embedding size D; 0 means one-hot input (D = V, no embedding table).
    pub embedding_dim: usize,
    /// Hidden size H of every layer.
    pub hidden_size: usize,
    /// Number of stacked recurrent layers.
    pub num_layers: usize,
    /// Dropout probability on the output of every recurrent layer (training only), in [0, 1).
    pub dropout: f64,
    /// The cell's variant, in the keys a network config uses ([`crate::checkpoint::variant_json`]):
    /// `{"gru_variant": "reset_before"}`, `{"peephole": true, "no_forget_gate": true}`, .... Empty, the
    /// default (and what older checkpoints hold), is the plain PyTorch cell of `cell`. Set it with
    /// [`CharLmConfig::with_cell`].
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub variant: serde_json::Map<String, serde_json::Value>,
}

impl CharLmConfig {
    /// A configuration (not yet checked: [`CharLm::new`] validates it). A cell name [`CellKind`] parses
    /// is stored in its canonical spelling (`"rnn"` → `"rnn_tanh"`, `"LSTM"` → `"lstm"`).
    pub fn new(
        cell: &str,
        vocab: Vocab,
        embedding_dim: usize,
        hidden_size: usize,
        num_layers: usize,
        dropout: f64,
    ) -> Self {
        CharLmConfig {
            cell: canonical_cell(cell),
            vocab,
            embedding_dim,
            hidden_size,
            num_layers,
            dropout,
            variant: serde_json::Map::new(),
        }
    }

    /// The same configuration with the cell `cell`, variant included (a reset-before GRU, an LSTM of
    /// Greff et al.'s variants: [`CellConfig::lstm`]).
    ///
    /// ```
    /// use rnn::cells::{CellConfig, GreffVariant, LstmOptions};
    /// use rnn::models::char_lm::{CharLm, CharLmConfig};
    /// let vocab = rnn::data::Vocab::from_text("abc");
    /// let nfg = CellConfig::lstm(LstmOptions::greff(GreffVariant::Nfg));
    /// let config = CharLmConfig::new("lstm", vocab, 0, 8, 1, 0.0).with_cell(nfg);
    /// assert_eq!(config.cell_config().unwrap(), nfg);
    /// let model = CharLm::new(config, &mut rnn::init::rng(0)).unwrap();
    /// assert_eq!(model.rnn.config().unwrap().cell, nfg);
    /// ```
    pub fn with_cell(mut self, cell: CellConfig) -> Self {
        self.cell = cell.kind.to_string();
        self.variant = crate::checkpoint::variant_json(&cell);
        self
    }

    /// The cell, kind and variant, or [`Error::Config`] for an unknown kind or a bad variant.
    pub fn cell_config(&self) -> Result<CellConfig> {
        crate::checkpoint::cell_from_variant_json(self.cell_kind()?, &self.variant)
    }

    /// The cell kind, or [`Error::Config`] if the name is unknown.
    pub fn cell_kind(&self) -> Result<CellKind> {
        self.cell.parse()
    }

    /// Input size of the recurrent stack: D, or V for one-hot input.
    pub fn input_size(&self) -> usize {
        if self.embedding_dim == 0 {
            self.vocab.len()
        } else {
            self.embedding_dim
        }
    }

    /// Checks every field, with a message naming the bad value.
    pub fn validate(&self) -> Result<()> {
        self.cell_config()?;
        if self.vocab.len() < 2 {
            return Err(Error::Config(format!(
                "a language model needs at least 2 distinct characters, the vocabulary has {}",
                self.vocab.len()
            )));
        }
        if self.hidden_size == 0 {
            return Err(Error::Config("hidden size must be at least 1".into()));
        }
        if self.num_layers == 0 {
            return Err(Error::Config("the model needs at least 1 layer".into()));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::Config(format!(
                "dropout is a probability and must be in [0, 1), got {}",
                self.dropout
            )));
        }
        Ok(())
    }
}

/// The canonical spelling of a cell name, or the name unchanged if it is not one (validation reports it).
fn canonical_cell(cell: &str) -> String {
    cell.parse::<CellKind>()
        .map(|k| k.to_string())
        .unwrap_or_else(|_| cell.to_string())
}

/// A character-level language model: encoder (embedding or one-hot) → [`Rnn`] of [`AnyCell`] → decoder.
///
/// The gradient of a `CharLm` is another `CharLm` ([`Parameters::zeros_like`]).
#[derive(Clone, Debug)]
pub struct CharLm {
    /// The configuration the model was built from.
    pub config: CharLmConfig,
    /// Embedding table `encoder.weight` (V, D); `None` for one-hot input.
    pub encoder: Option<Embedding>,
    /// The recurrent stack (`rnn.*`).
    pub rnn: Rnn<AnyCell>,
    /// The output layer: `decoder.weight` (V, H), `decoder.bias` (V).
    pub decoder: Dense,
}

/// What [`CharLm::forward`] keeps for [`CharLm::backward`].
pub struct ChunkCache {
    inputs: Array2<usize>,         // (T, B)
    rnn: RnnCache<AnyCell>,        // the stack's caches
    top: Array2<f64>,              // (T*B, H): the (dropped-out) top-layer outputs the decoder read
    top_mask: Option<Array2<f64>>, // (T*B, H) dropout mask on the top output, if any
    dlogits: Array2<f64>,          // (T*B, V): ∂loss/∂logits, computed with the loss
}

/// Cross-entropy of a model on a text.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Mean negative log-likelihood, nats per character.
    pub nats: f64,
    /// The same in bits per character (nats / ln 2).
    pub bits: f64,
    /// Perplexity, e^nats: the model is as unsure as a uniform choice among this many characters.
    pub perplexity: f64,
    /// Number of characters scored.
    pub chars: usize,
}

impl Evaluation {
    /// The evaluation for a mean loss of `nats` over `chars` characters.
    pub fn from_nats(nats: f64, chars: usize) -> Self {
        Evaluation {
            nats,
            bits: nats / std::f64::consts::LN_2,
            perplexity: nats.exp(),
            chars,
        }
    }
}

impl CharLm {
    /// A freshly initialised model: embedding N(0, 1) (as `nn.Embedding`), recurrent weights as PyTorch,
    /// decoder U(-1/√H, 1/√H) (as `nn.Linear`). Returns [`Error::Config`] for an invalid configuration.
    pub fn new(mut config: CharLmConfig, rng: &mut Rng) -> Result<Self> {
        config.validate()?;
        let cell = config.cell_config()?;
        config.cell = cell.kind.to_string();
        let (v, h) = (config.vocab.len(), config.hidden_size);
        let encoder =
            (config.embedding_dim > 0).then(|| Embedding::new(v, config.embedding_dim, rng));
        let rnn = Rnn::new(
            config.input_size(),
            h,
            config.num_layers,
            false,
            config.dropout,
            |d, h, rng| AnyCell::from_config(&cell, d, h, rng),
            rng,
        )?;
        let decoder = Dense::new(h, v, rng);
        Ok(CharLm {
            config,
            encoder,
            rnn,
            decoder,
        })
    }

    /// Vocabulary size V.
    pub fn vocab_size(&self) -> usize {
        self.config.vocab.len()
    }

    /// Zero initial states for `batch` streams, one per layer.
    pub fn zero_states(&self, batch: usize) -> Vec<State> {
        self.rnn.zero_states(batch)
    }

    /// The recurrent stack's input for `ids` `(T, B)`: embedding rows or one-hot vectors, `(T, B, D)`.
    fn encode(&self, ids: &Array2<usize>) -> Array3<f64> {
        let (t_len, batch) = ids.dim();
        let d = self.config.input_size();
        let mut xs = Array3::zeros((t_len, batch, d));
        for ((t, b), &id) in ids.indexed_iter() {
            assert!(id < self.vocab_size(), "character id {id} out of range");
            match &self.encoder {
                // (6.1) x_t = E[c_t]: row c_t of the embedding table                       (D)
                Some(e) => xs
                    .slice_mut(ndarray::s![t, b, ..])
                    .assign(&e.weight.row(id)),
                // (6.2) x_t = one_hot(c_t)                                                  (V)
                None => xs[[t, b, id]] = 1.0,
            }
        }
        xs
    }

    /// Logits `(N, V)` for top-layer outputs `(N, H)`: `h·W_decᵀ + b_dec`.
    fn decode(&self, top: &Array2<f64>) -> Array2<f64> {
        // (6.3) z_t = W_dec h_t + b_dec                                                    (N, V)
        self.decoder.forward(top.view())
    }

    // ANCHOR: char_lm_forward
    /// Forward over one chunk: `inputs` and `targets` are `(T, B)` character ids, `init` the states carried
    /// from the previous chunk (`None`: zeros). `dropout_rng` switches training mode on (dropout after every
    /// recurrent layer, including the top one, if `dropout > 0`).
    ///
    /// Returns the mean cross-entropy (nats per character), the final states (carry them into the next
    /// chunk) and the cache for [`CharLm::backward`].
    pub fn forward(
        &self,
        inputs: &Array2<usize>,
        targets: &Array2<usize>,
        init: Option<&[State]>,
        mut dropout_rng: Option<&mut Rng>,
    ) -> (f64, Vec<State>, ChunkCache) {
        assert_eq!(
            inputs.dim(),
            targets.dim(),
            "CharLm::forward: inputs are {:?} but targets are {:?}; both must be (T, B)",
            inputs.dim(),
            targets.dim()
        );
        let (t_len, batch) = inputs.dim();
        assert!(
            t_len > 0 && batch > 0,
            "CharLm::forward: the chunk is (T, B) = ({t_len}, {batch}); the loss is a mean over T·B \
             predictions, so both must be at least 1"
        );
        let (h, n) = (self.config.hidden_size, t_len * batch);
        let xs = self.encode(inputs); // (T, B, D)
        let (outputs, finals, rnn_cache) =
            self.rnn
                .forward(xs.view(), init, dropout_rng.as_deref_mut());
        // (T*B, H)
        let mut top = outputs
            .into_shape_with_order((n, h))
            .expect("contiguous (T, B, H)");
        // dropout on the top layer's output too (the stack drops only between layers)
        let top_mask = match dropout_rng {
            Some(rng) if self.config.dropout > 0.0 => {
                let m = dropout_mask((1, n, h), self.config.dropout, rng)
                    .into_shape_with_order((n, h))
                    .expect("(N, H)");
                top *= &m;
                Some(m)
            }
            _ => None,
        };
        // (6.3) the logits of every position                                                  (T*B, V)
        let logits = self.decode(&top);
        // the targets, row-major like the logits                                               (T*B)
        let flat_targets: Vec<usize> = targets.iter().copied().collect();
        // (6.4) L = mean over the T*B positions of -ln p(target)                             scalar
        let (loss, dlogits) = softmax_cross_entropy(logits.view(), &flat_targets, None);
        let cache = ChunkCache {
            inputs: inputs.clone(),
            rnn: rnn_cache,
            top,
            top_mask,
            dlogits,
        };
        (loss, finals, cache)
    }
    // ANCHOR_END: char_lm_forward

    // ANCHOR: char_lm_backward
    /// Backward over the chunk of `cache`: *adds* ∂loss/∂θ into `grads` (make it with
    /// [`Parameters::zeros_like`]). Gradients stop at the chunk's initial state (truncated BPTT).
    pub fn backward(&self, cache: &ChunkCache, grads: &mut CharLm) {
        let (t_len, batch) = cache.inputs.dim();
        let h = self.config.hidden_size;
        // ∂L/∂z of every position, kept by the forward pass                                    (N, V)
        let dlogits = &cache.dlogits;
        // (6.5) ∂L/∂W_dec, ∂L/∂b_dec, and ∂L/∂h_n = dz_n W_dec, then through the top dropout mask  (N, H)
        let mut dtop = self
            .decoder
            .backward(cache.top.view(), dlogits.view(), &mut grads.decoder);
        if let Some(m) = &cache.top_mask {
            dtop *= m;
        }
        let d_outputs = dtop
            .into_shape_with_order((t_len, batch, h))
            .expect("(T, B, H)");
        // ∂L/∂x_t is only needed to train an embedding; one-hot inputs are data
        let want_dx = self.encoder.is_some();
        // (6.6) BPTT through the stack: ∂L/∂θ_rnn, and ∂L/∂x_t if wanted                      (T, B, D)
        let (dxs, _d_init) =
            self.rnn
                .backward_with(&cache.rnn, d_outputs.view(), None, &mut grads.rnn, want_dx);
        // (6.7) ∂L/∂E[c] = Σ over the steps that read character c of ∂L/∂x_t                   (V, D)
        if let (Some(e), Some(ge), Some(dxs)) = (&self.encoder, grads.encoder.as_mut(), dxs) {
            e.backward_seq(cache.inputs.view(), dxs.view(), ge);
        }
    }
    // ANCHOR_END: char_lm_backward

    /// Mean cross-entropy of the model on `ids`, read as `batch` parallel streams in chunks of `seq_len`
    /// steps with carried state (no dropout). A tail that does not fill a whole chunk on every stream is
    /// not scored; `batch` and `seq_len` are reduced for short texts. [`Error::NotEnoughData`] below 2
    /// characters.
    pub fn evaluate(&self, ids: &[usize], batch: usize, seq_len: usize) -> Result<Evaluation> {
        if ids.len() < 2 {
            return Err(Error::NotEnoughData(format!(
                "evaluation needs at least 2 characters, got {}",
                ids.len()
            )));
        }
        let seq_len = seq_len.clamp(1, ids.len() - 1);
        let batch = batch.clamp(1, ((ids.len() - 1) / seq_len).max(1));
        let batches = TbpttBatches::new(ids, batch, seq_len)?;
        let mut states = self.zero_states(batch);
        let mut total = 0.0;
        for k in 0..batches.num_chunks() {
            let (x, y) = batches.chunk(k);
            let (loss, finals, _) = self.forward(&x, &y, Some(&states), None);
            total += loss;
            states = finals;
        }
        let chunks = batches.num_chunks();
        Ok(Evaluation::from_nats(
            total / chunks as f64,
            chunks * batches.chars_per_chunk(),
        ))
    }

    /// One step of generation for a single stream: reads character `id` from `states`, returns the logits
    /// of the next character `(V)` and the new states (one per layer).
    pub fn step(&self, id: usize, states: &[State]) -> (Vec<f64>, Vec<State>) {
        let (next, _) = self.step_cells(id, states);
        let top = &next.last().expect("at least one layer").h; // (1, H)
        (self.decode(top).into_raw_vec_and_offset().0, next)
    }

    /// One character through every layer's cell (batch 1, no dropout): the new states and each step's cache.
    fn step_cells(&self, id: usize, states: &[State]) -> (Vec<State>, Vec<AnyCache>) {
        let xs = self.encode(&Array2::from_elem((1, 1), id)); // (1, 1, D)
        let mut x = xs.index_axis_move(ndarray::Axis(0), 0); // (1, D)
        let (mut next, mut caches) = (Vec::with_capacity(states.len()), Vec::new());
        for (layer, state) in self.rnn.layers.iter().zip(states) {
            let (s, cache) = layer.forward.forward(x.view(), state);
            x = s.h.clone(); // the next layer reads this layer's output
            next.push(s);
            caches.push(cache);
        }
        (next, caches)
    }

    /// The states of every layer after reading each character of `text` (one entry per character, each
    /// holding one [`State`] per layer, batch 1): what the neuron visualisation colours.
    pub fn trace(&self, text: &str) -> Result<Vec<Vec<State>>> {
        Ok(self
            .trace_steps(text)?
            .into_iter()
            .map(|layers| layers.into_iter().map(|(s, _)| s).collect())
            .collect())
    }

    /// Like [`CharLm::trace`], with each cell's step cache too, so gates can be inspected: for every
    /// character and every layer, the new state and the [`AnyCache`] of that step (LSTM gates `i, f, g, o`,
    /// GRU gates `r, z, n`, each `(1, H)`).
    pub fn trace_steps(&self, text: &str) -> Result<Vec<Vec<(State, AnyCache)>>> {
        let ids = self.config.vocab.encode(text)?;
        let mut states = self.zero_states(1);
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let (next, caches) = self.step_cells(id, &states);
            let layers = next.iter().cloned().zip(caches).collect();
            states = next;
            out.push(layers);
        }
        Ok(out)
    }

    /// Generates `n` characters after `prime` and returns `prime` followed by them.
    ///
    /// `temperature` > 0 divides the logits before the softmax (0 means greedy); `top_k` keeps only the k
    /// most likely characters. The same `seed` gives the same text. An empty prime starts from a newline if
    /// the vocabulary has one, else from a random character. Characters of `prime` outside the vocabulary
    /// are an [`Error::UnknownChar`].
    pub fn sample(
        &self,
        prime: &str,
        n: usize,
        temperature: f64,
        top_k: Option<usize>,
        seed: u64,
    ) -> Result<String> {
        if !(temperature >= 0.0 && temperature.is_finite()) {
            return Err(Error::Config(format!(
                "temperature must be a finite number ≥ 0, got {temperature}"
            )));
        }
        if top_k == Some(0) {
            return Err(Error::Config("top-k must be at least 1".into()));
        }
        let vocab = &self.config.vocab;
        let mut rng = crate::init::rng(seed);
        let mut ids = vocab.encode(prime)?;
        let mut text = prime.to_string();
        if ids.is_empty() {
            let first = match vocab.id('\n') {
                Some(nl) => nl,
                None => {
                    use rand::Rng as _;
                    rng.random_range(0..vocab.len())
                }
            };
            ids.push(first);
        }
        let mut states = self.zero_states(1);
        let mut logits = Vec::new();
        for &id in &ids {
            let (z, s) = self.step(id, &states);
            logits = z;
            states = s;
        }
        for _ in 0..n {
            let next = if temperature == 0.0 {
                crate::sample::greedy(&logits)
            } else {
                crate::sample::sample(&logits, temperature, top_k, &mut rng)
            };
            text.push(vocab.char(next));
            let (z, s) = self.step(next, &states);
            logits = z;
            states = s;
        }
        Ok(text)
    }

    /// Every parameter as an owned tensor, with its checkpoint name.
    pub fn tensors(&self) -> Vec<(String, ArrayD<f64>)> {
        self.params()
            .into_iter()
            .map(|(n, p)| (n, p.to_owned()))
            .collect()
    }

    /// Saves the model as a checkpoint ([`crate::checkpoint`]): its tensors under the names in the table
    /// above, and `{"model": <configuration>}` as the JSON config. Atomic: a crash never leaves half a file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let config = serde_json::json!({ "model": self.config_json() });
        crate::checkpoint::save_params(path, self, Some(&config))
    }

    /// Loads a model saved by [`CharLm::save`] or by `rnn train` (whose optimiser state `optim.*` and
    /// carried states `state.*` are skipped), including those of earlier versions, which spell the tanh
    /// cell `"rnn"`. Errors name the file and what is wrong: not a checkpoint, no model configuration, a
    /// missing tensor, tensors of another network than the configuration describes, an extra tensor.
    pub fn load(path: &Path) -> Result<CharLm> {
        let mut ckpt = crate::checkpoint::Checkpoint::load(path)?;
        let value = ckpt
            .config
            .as_ref()
            .and_then(|c| c.get("model"))
            .cloned()
            .ok_or_else(|| Error::CorruptCheckpoint {
                path: path.to_path_buf(),
                reason: "it has no character-model configuration (`model` in its config)".into(),
            })?;
        let config = Self::config_from_json(path, &value)?;
        let mut model = CharLm::new(config, &mut crate::init::rng(0))?;
        ckpt.take_prefix("optim.");
        ckpt.take_prefix("state.");
        ckpt.load_into(&mut model)?;
        Ok(model)
    }

    /// The configuration as JSON, as stored in checkpoints.
    pub fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.config).expect("config serialises")
    }

    /// Rebuilds the configuration stored by [`CharLm::config_json`], with a clear error if it is not one.
    pub fn config_from_json(path: &Path, value: &serde_json::Value) -> Result<CharLmConfig> {
        let config: CharLmConfig =
            serde_json::from_value(value.clone()).map_err(|e| Error::CorruptCheckpoint {
                path: path.to_path_buf(),
                reason: format!("its metadata is not a character-model configuration ({e})"),
            })?;
        config.validate()?;
        Ok(config)
    }
}

impl Parameters for CharLm {
    /// `encoder.weight` (if any), `rnn.weight_ih_l0`, ..., `decoder.weight`, `decoder.bias`.
    fn params(&self) -> Vec<(String, ArrayViewD<'_, f64>)> {
        let mut out = Vec::new();
        if let Some(e) = &self.encoder {
            out.push(("encoder.weight".to_string(), e.weight.view().into_dyn()));
        }
        out.extend(
            self.rnn
                .params()
                .into_iter()
                .map(|(n, p)| (format!("rnn.{n}"), p)),
        );
        out.extend(
            self.decoder
                .params()
                .into_iter()
                .map(|(n, p)| (format!("decoder.{n}"), p)),
        );
        out
    }

    fn params_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, f64>)> {
        let mut out = Vec::new();
        if let Some(e) = &mut self.encoder {
            out.push(("encoder.weight".to_string(), e.weight.view_mut().into_dyn()));
        }
        out.extend(
            self.rnn
                .params_mut()
                .into_iter()
                .map(|(n, p)| (format!("rnn.{n}"), p)),
        );
        out.extend(
            self.decoder
                .params_mut()
                .into_iter()
                .map(|(n, p)| (format!("decoder.{n}"), p)),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny(cell: &str, embed: usize) -> CharLm {
        let config = CharLmConfig::new(cell, Vocab::from_text("abcdef\n"), embed, 5, 2, 0.0);
        CharLm::new(config, &mut crate::init::rng(3)).unwrap()
    }

    #[test]
    fn names_follow_pytorch() {
        let m = tiny("rnn", 4);
        let names: Vec<String> = m.params().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names[0], "encoder.weight");
        assert_eq!(names[1], "rnn.weight_ih_l0");
        assert!(names.contains(&"rnn.bias_hh_l1".to_string()));
        assert_eq!(names[names.len() - 2..], ["decoder.weight", "decoder.bias"]);
        let one_hot = tiny("rnn", 0);
        assert_eq!(one_hot.params()[0].0, "rnn.weight_ih_l0");
        assert_eq!(one_hot.rnn.input_size(), 7);
    }

    #[test]
    fn invalid_configs_are_errors() {
        let v = Vocab::from_text("ab");
        let bad = [
            CharLmConfig::new("rnn", v.clone(), 0, 0, 1, 0.0),
            CharLmConfig::new("rnn", v.clone(), 0, 4, 0, 0.0),
            CharLmConfig::new("rnn", v.clone(), 0, 4, 1, 1.5),
            CharLmConfig::new("transformer", v.clone(), 0, 4, 1, 0.0),
            CharLmConfig::new("rnn", Vocab::from_text("a"), 0, 4, 1, 0.0),
        ];
        for c in bad {
            assert!(
                matches!(
                    CharLm::new(c.clone(), &mut crate::init::rng(0)),
                    Err(Error::Config(_))
                ),
                "{c:?} should be refused"
            );
        }
    }

    #[test]
    fn sample_refuses_unknown_prime_and_is_reproducible() {
        let m = tiny("rnn", 0);
        match m.sample("abz", 5, 1.0, None, 0) {
            Err(Error::UnknownChar {
                ch: 'z',
                position: 2,
                ..
            }) => {}
            other => panic!("expected UnknownChar, got {other:?}"),
        }
        let a = m.sample("ab", 30, 0.8, Some(3), 42).unwrap();
        assert_eq!(a, m.sample("ab", 30, 0.8, Some(3), 42).unwrap());
        assert_eq!(a.chars().count(), 32);
        let g = m.sample("", 10, 0.0, None, 1).unwrap();
        assert_eq!(
            g,
            m.sample("", 10, 0.0, None, 2).unwrap(),
            "greedy ignores the seed"
        );
    }

    #[test]
    fn save_and_load_round_trip() {
        let dir = std::env::temp_dir().join(format!("rnn-char-lm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.safetensors");
        let m = tiny("gru", 3);
        m.save(&path).unwrap();
        let back = CharLm::load(&path).unwrap();
        assert_eq!(back.config, m.config);
        assert_eq!(back.tensors(), m.tensors());
        // a checkpoint of another shape is refused with a clear error
        let other = CharLm::new(
            CharLmConfig::new("gru", Vocab::from_text("abcdefg\n"), 3, 6, 2, 0.0),
            &mut crate::init::rng(0),
        )
        .unwrap();
        let mut ckpt = crate::checkpoint::Checkpoint::load(&path).unwrap();
        ckpt.tensors = other.tensors().into_iter().collect();
        ckpt.save(&path).unwrap();
        match CharLm::load(&path) {
            Err(e @ Error::WrongModel { .. }) => {
                assert!(
                    e.to_string()
                        .contains("hidden size 6, the model hidden size 5"),
                    "{e}"
                )
            }
            other => panic!("expected WrongModel, got {:?}", other.map(|m| m.config)),
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// One naming of cells: a configuration is stored with the canonical name of [`CellKind`]
    /// (`rnn_tanh`, not the old `rnn`), and checkpoints that use the old spelling still load.
    #[test]
    fn cell_names_are_stored_canonically_and_old_spellings_still_load() {
        let m = tiny("rnn", 0);
        assert_eq!(m.config.cell, "rnn_tanh");
        assert_eq!(m.config_json()["cell"], "rnn_tanh");
        assert_eq!(tiny("GRU", 0).config.cell, "gru");

        let dir = std::env::temp_dir().join(format!("rnn-char-lm-names-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("old.safetensors");
        // A checkpoint as `CharLm::save` wrote it before: `"cell": "rnn"`.
        let mut old = m.config_json();
        old["cell"] = "rnn".into();
        crate::checkpoint::save_params(&path, &m, Some(&serde_json::json!({ "model": old })))
            .unwrap();
        let back = CharLm::load(&path).unwrap();
        assert_eq!(back.config.cell, "rnn_tanh");
        assert_eq!(back.config.cell_kind().unwrap(), CellKind::RnnTanh);
        assert_eq!(back.tensors(), m.tensors());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A checkpoint of a GRU model loaded into an LSTM model of the same sizes names both cells, through
    /// the `rnn.` tensors (the comparison of layouts works under any name prefix).
    #[test]
    fn a_checkpoint_of_another_cell_is_refused_by_name() {
        let dir = std::env::temp_dir().join(format!("rnn-char-lm-cells-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gru.safetensors");
        tiny("gru", 3).save(&path).unwrap();
        let mut lstm = tiny("lstm", 3);
        let before = lstm.tensors();
        let err = crate::checkpoint::Checkpoint::load(&path)
            .unwrap()
            .load_into(&mut lstm)
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("this checkpoint holds a GRU (3 gates), the model is an LSTM (4 gates)"),
            "{err}"
        );
        assert_eq!(lstm.tensors(), before);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn config_round_trips_through_json() {
        let m = tiny("rnn", 3);
        let back = CharLm::config_from_json(Path::new("x"), &m.config_json()).unwrap();
        assert_eq!(back, m.config);
        assert!(CharLm::config_from_json(Path::new("x"), &serde_json::json!({"cell": 1})).is_err());
    }
}
