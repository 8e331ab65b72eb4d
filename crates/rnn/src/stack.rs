//! Deep and bidirectional recurrent networks over any [`Cell`], with dropout between layers, as
//! `torch.nn.RNN`, `torch.nn.LSTM` and `torch.nn.GRU`.
//!
//! A stack of `num_layers` layers: layer 0 reads the input sequence, layer k reads the output sequence of
//! layer k-1. A bidirectional layer holds two cells: the forward cell reads the sequence from t = 0 to T-1,
//! the reverse cell reads it from T-1 down to 0, and the layer's output at step t is the two hidden states
//! side by side, `[h→_t ; h←_t]`, so deeper layers (and the output) have `2H` features. During training,
//! dropout is applied to the output of every layer except the last.
//!
//! Everything follows PyTorch, so weights and states move both ways:
//! - parameters are named `weight_ih_l{k}`, `weight_hh_l{k}`, `bias_ih_l{k}`, `bias_hh_l{k}`, and the same
//!   with `_reverse` for the reverse direction, in `state_dict()` order;
//! - final states are ordered as `h_n`: index `layer * num_directions + direction`;
//! - outputs are `(T, B, num_directions * H)` with the forward direction's features first.
//!
//! ```
//! use rnn::prelude::*;
//! use rnn::stack::Rnn;
//!
//! let mut rng = rnn::init::rng(0);
//! // 2 layers, bidirectional, dropout 0.2 between layers: like nn.RNN(3, 4, 2, bidirectional=True, dropout=0.2)
//! let model = Rnn::new(3, 4, 2, true, 0.2, |d, h, rng| Elman::new(d, h, rng), &mut rng).unwrap();
//! let xs = ndarray::Array3::<f64>::ones((5, 2, 3)); // (T, B, D)
//! let (outputs, h_n, _cache) = model.forward(xs.view(), None, None); // None: evaluation, no dropout
//! assert_eq!(outputs.dim(), (5, 2, 8)); // (T, B, 2H)
//! assert_eq!(h_n.len(), 4); // layers * directions
//! ```

use std::path::Path;

use ndarray::{concatenate, s, stack, Array3, ArrayView3, ArrayViewD, ArrayViewMutD, Axis};
use rand::Rng as _;

use crate::bptt::reverse_time;
use crate::cells::{AnyCell, Cell, State};
use crate::checkpoint::{Checkpoint, RnnConfig};
use crate::init::Rng;
use crate::params::{rename, Parameters};
use crate::{Error, Result};

/// One layer of a stack: a forward cell and, if the network is bidirectional, a reverse cell.
#[derive(Clone, Debug)]
pub struct Layer<C> {
    /// The cell that reads the sequence from t = 0 to T-1.
    pub forward: C,
    /// The cell that reads the sequence from t = T-1 down to 0 (bidirectional networks only).
    pub reverse: Option<C>,
}

/// A multi-layer, optionally bidirectional recurrent network over any cell `C`.
///
/// The gradient of an `Rnn<C>` is another `Rnn<C>` (see [`Parameters`]), made by
/// [`Parameters::zeros_like`].
#[derive(Clone, Debug)]
pub struct Rnn<C> {
    /// The layers, bottom (reads the input) to top (produces the output).
    pub layers: Vec<Layer<C>>,
    /// Dropout probability applied to the outputs of every layer except the last, in training only.
    pub dropout: f64,
}

/// What [`Rnn::forward`] saves for [`Rnn::backward`], layer by layer.
pub struct RnnCache<C: Cell> {
    /// One entry per layer, bottom to top.
    pub layers: Vec<LayerCache<C>>,
}

// (written out because `derive` would not require `C::Cache: Clone` through the nested `LayerCache<C>`)
impl<C: Cell> Clone for RnnCache<C>
where
    C::Cache: Clone,
{
    fn clone(&self) -> Self {
        RnnCache {
            layers: self.layers.clone(),
        }
    }
}

impl<C: Cell + std::fmt::Debug> std::fmt::Debug for RnnCache<C>
where
    C::Cache: std::fmt::Debug,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RnnCache")
            .field("layers", &self.layers)
            .finish()
    }
}

/// The saved forward pass of one layer.
#[derive(Clone, Debug)]
pub struct LayerCache<C: Cell> {
    /// The forward cell's per-step caches, t = 0..T.
    pub forward: Vec<C::Cache>,
    /// The reverse cell's per-step caches, in the order it ran (over the time-reversed sequence).
    pub reverse: Option<Vec<C::Cache>>,
    /// The dropout mask applied to this layer's output `(T, B, dirs*H)`, entries 0 or 1/(1-p); `None` when
    /// no dropout was applied (evaluation, p = 0, or the last layer).
    pub mask: Option<Array3<f64>>,
}

impl<C: Cell> Rnn<C> {
    /// Builds a stack of `num_layers` layers of cells made by `make_cell(input_size, hidden_size, rng)`.
    ///
    /// Layer 0 reads `input_size` features; deeper layers read `hidden_size * num_directions`. Cells are
    /// created in PyTorch's order (l0, l0_reverse, l1, l1_reverse, ...), so the same seed gives the same
    /// weights whatever the cell. Returns [`Error::Config`] unless `num_layers ≥ 1`, both sizes are at least
    /// 1, and `0 ≤ dropout < 1`. As in PyTorch, dropout has no effect on a single-layer network.
    pub fn new(
        input_size: usize,
        hidden_size: usize,
        num_layers: usize,
        bidirectional: bool,
        dropout: f64,
        mut make_cell: impl FnMut(usize, usize, &mut Rng) -> C,
        rng: &mut Rng,
    ) -> Result<Self> {
        if num_layers == 0 {
            return Err(Error::Config(
                "a recurrent network needs at least one layer (num_layers = 0)".into(),
            ));
        }
        if input_size == 0 || hidden_size == 0 {
            return Err(Error::Config(format!(
                "input size and hidden size must be at least 1 (got input {input_size}, hidden {hidden_size})"
            )));
        }
        if !(0.0..1.0).contains(&dropout) {
            return Err(Error::Config(format!(
                "dropout is a probability of dropping a unit and must be in [0, 1), got {dropout}"
            )));
        }
        let dirs = if bidirectional { 2 } else { 1 };
        let layers = (0..num_layers)
            .map(|k| {
                // (9.1) layer 0 reads x_t (D features); layer k > 0 reads layer k-1's output (dirs*H features)
                let d = if k == 0 {
                    input_size
                } else {
                    hidden_size * dirs
                };
                let forward = make_cell(d, hidden_size, rng);
                let reverse = bidirectional.then(|| make_cell(d, hidden_size, rng));
                Layer { forward, reverse }
            })
            .collect();
        Ok(Rnn { layers, dropout })
    }

    /// Number of layers.
    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// The network as a checkpoint config describes it ([`crate::checkpoint`]), or `None` if its cells do
    /// not report their [`Cell::config`] or are not all of one kind and variant.
    pub fn config(&self) -> Option<RnnConfig> {
        let cell = self.layers[0].forward.config()?;
        if self.cells().any(|c| c.config() != Some(cell)) {
            return None;
        }
        Some(RnnConfig {
            cell,
            input_size: self.input_size(),
            hidden_size: self.hidden_size(),
            num_layers: self.num_layers(),
            bidirectional: self.num_directions() == 2,
            dropout: self.dropout,
        })
    }

    /// Saves the network as a checkpoint ([`crate::checkpoint`]): its tensors under PyTorch's names and
    /// [`Rnn::config`] as the config (none if the cells do not report theirs), atomically.
    /// [`Rnn::from_checkpoint`] rebuilds it from the file; in Python,
    /// `model.load_state_dict(safetensors.torch.load_file(path))` loads it into the `nn.RNN`, `nn.LSTM` or
    /// `nn.GRU` the config describes.
    pub fn save(&self, path: &Path) -> Result<()> {
        let config = self.config().map(|c| c.to_json());
        crate::checkpoint::save_params(path, self, config.as_ref())
    }

    /// 2 if the network is bidirectional, else 1.
    pub fn num_directions(&self) -> usize {
        if self.layers[0].reverse.is_some() {
            2
        } else {
            1
        }
    }

    /// Hidden size H of every cell (the output has `num_directions * H` features).
    pub fn hidden_size(&self) -> usize {
        self.layers[0].forward.hidden_size()
    }

    /// Input size D of layer 0.
    pub fn input_size(&self) -> usize {
        self.layers[0].forward.input_size()
    }

    /// All-zero initial states for a batch of `batch` sequences, one per layer and direction (`h_0` order).
    pub fn zero_states(&self, batch: usize) -> Vec<State> {
        self.cells().map(|c| c.zero_state(batch)).collect()
    }

    /// Every cell in PyTorch's order: l0, l0_reverse, l1, ... (the order of states and parameters).
    fn cells(&self) -> impl Iterator<Item = &C> {
        self.layers
            .iter()
            .flat_map(|l| std::iter::once(&l.forward).chain(l.reverse.as_ref()))
    }

    /// Runs the network over `xs` `(T, B, D)`.
    ///
    /// `init` holds one state per layer and direction in `h_0` order (`layer * num_directions + dir`);
    /// `None` means all zeros. `dropout_rng` switches training mode on: with `Some(rng)` and `dropout > 0`,
    /// each layer's output but the last is multiplied by a fresh mask drawn from `rng`; with `None`, no
    /// dropout (evaluation). Returns the top layer's outputs `(T, B, num_directions * H)`, the final states
    /// in `h_n` order, and the cache for [`Rnn::backward`].
    ///
    /// An empty sequence (T = 0) is zero steps of the recurrence, not an error (`torch.nn.RNN`, `LSTM`
    /// and `GRU` raise on it): the outputs are `(0, B, num_directions * H)` and the final states are the
    /// initial states (zeros for `None`); [`Rnn::backward`] then returns an empty ∂L/∂xs, passes `d_last`
    /// through unchanged as ∂L/∂init and adds no parameter gradient. So a loop over chunks of a sequence
    /// needs no special case for an empty last chunk.
    pub fn forward(
        &self,
        xs: ArrayView3<'_, f64>,
        init: Option<&[State]>,
        mut dropout_rng: Option<&mut Rng>,
    ) -> (Array3<f64>, Vec<State>, RnnCache<C>) {
        let (_, batch, d) = xs.dim();
        assert_eq!(
            d,
            self.input_size(),
            "Rnn::forward: xs has shape {:?}, expected (T, B, D) with D = {}",
            xs.dim(),
            self.input_size()
        );
        let dirs = self.num_directions();
        let zeros;
        let init = match init {
            Some(states) => states,
            None => {
                zeros = self.zero_states(batch);
                &zeros[..]
            }
        };
        assert_eq!(
            init.len(),
            self.num_layers() * dirs,
            "Rnn::forward: got {} initial states, expected num_layers * num_directions = {}",
            init.len(),
            self.num_layers() * dirs
        );
        let last_layer = self.num_layers() - 1;
        let mut input = xs.to_owned(); // (T, B, D) for layer 0, (T, B, dirs*H) above
        let mut finals = Vec::with_capacity(init.len());
        let mut caches = Vec::with_capacity(self.num_layers());
        // ANCHOR: stack_forward
        for (k, layer) in self.layers.iter().enumerate() {
            // (9.1) h→_t^(k) = cell_k(input_t, h→_{t-1}^(k)), t = 0..T                     (T, B, H)
            let fwd = layer.forward.forward_seq(input.view(), &init[k * dirs]);
            finals.push(fwd.last);
            let mut output = fwd.outputs; // (T, B, H)
            let mut reverse_caches = None;
            if let Some(rev_cell) = &layer.reverse {
                // (9.2) h←_t^(k) = cell_k^rev(input_t, h←_{t+1}^(k)): unroll over the reversed sequence
                let rev =
                    rev_cell.forward_seq(reverse_time(input.view()).view(), &init[k * dirs + 1]);
                finals.push(rev.last);
                reverse_caches = Some(rev.caches);
                // (9.3) y_t^(k) = [h→_t ; h←_t]: reverse outputs back in time order, then side by side
                let rev_out = reverse_time(rev.outputs.view()); // (T, B, H)
                output = concatenate![Axis(2), output, rev_out]; // (T, B, 2H)
            }
            // (9.4) inverted dropout between layers: keep with prob 1-p, scale kept units by 1/(1-p)
            let mut mask = None;
            if let Some(rng) = dropout_rng.as_deref_mut() {
                if k < last_layer && self.dropout > 0.0 {
                    let m = dropout_mask(output.dim(), self.dropout, rng); // (T, B, dirs*H)
                    output *= &m;
                    mask = Some(m);
                }
            }
            caches.push(LayerCache {
                forward: fwd.caches,
                reverse: reverse_caches,
                mask,
            });
            input = output; // the next layer reads this layer's output
        }
        // ANCHOR_END: stack_forward
        (input, finals, RnnCache { layers: caches })
    }

    /// Backpropagates through the whole stack.
    ///
    /// `d_outputs` `(T, B, num_directions * H)` is ∂L/∂outputs; `d_last` (optional, `h_n` order) is the
    /// gradient reaching the final states from later use (the next truncated-BPTT chunk, a decoder, a
    /// classifier reading `h_n`). Parameter gradients are *added* into `grads`. Returns ∂L/∂xs `(T, B, D)`
    /// and ∂L/∂init, one state per layer and direction in `h_0` order.
    pub fn backward(
        &self,
        cache: &RnnCache<C>,
        d_outputs: ArrayView3<'_, f64>,
        d_last: Option<&[State]>,
        grads: &mut Self,
    ) -> (Array3<f64>, Vec<State>) {
        let (dxs, d_init) = self.backward_with(cache, d_outputs, d_last, grads, true);
        (dxs.expect("asked for ∂L/∂xs"), d_init)
    }

    /// [`Rnn::backward`] with a switch for ∂L/∂xs: with `want_dx = false` the first layer skips computing
    /// the gradient of its input and `None` is returned in its place. A model fed data (one-hot characters)
    /// has no use for that gradient.
    pub fn backward_with(
        &self,
        cache: &RnnCache<C>,
        d_outputs: ArrayView3<'_, f64>,
        d_last: Option<&[State]>,
        grads: &mut Self,
        want_dx: bool,
    ) -> (Option<Array3<f64>>, Vec<State>) {
        let (dirs, h) = (self.num_directions(), self.hidden_size());
        assert_eq!(
            cache.layers.len(),
            self.num_layers(),
            "Rnn::backward: the cache has {} layers, the network {}",
            cache.layers.len(),
            self.num_layers()
        );
        assert_eq!(
            d_outputs.dim().2,
            dirs * h,
            "Rnn::backward: d_outputs has shape {:?}, expected (T, B, num_directions * H) with {} features",
            d_outputs.dim(),
            dirs * h
        );
        if let Some(d) = d_last {
            assert_eq!(
                d.len(),
                self.num_layers() * dirs,
                "Rnn::backward: got {} final-state gradients, expected num_layers * num_directions = {}",
                d.len(),
                self.num_layers() * dirs
            );
        }
        let d_last_of = |i: usize| d_last.map(|d| &d[i]);
        let mut d_init: Vec<Option<State>> = vec![None; self.num_layers() * dirs];
        // ∂L/∂(output of layer k), starting at the top layer                      (T, B, dirs*H)
        let mut d_out = Some(d_outputs.to_owned());
        // ANCHOR: stack_backward
        for (k, (layer, lc)) in self.layers.iter().zip(&cache.layers).enumerate().rev() {
            let g = grads.layers.get_mut(k).expect(GRADS_SHAPE);
            let mut d_y = d_out
                .take()
                .expect("every layer above 0 passes down ∂L/∂input");
            // (9.5) through dropout: ∂L/∂y^(k) = m ⊙ ∂L/∂(dropped y^(k)), m already holds 1/(1-p)
            if let Some(m) = &lc.mask {
                d_y *= m;
            }
            // layers above 0 pass ∂L/∂input down; layer 0 only if the caller wants ∂L/∂xs
            let want = k > 0 || want_dx;
            // (9.6) split the gradient: first H features belong to h→, the last H to h←
            let d_fwd = d_y.slice(s![.., .., ..h]); // (T, B, H)
            let (mut d_input, d_h0) = layer.forward.backward_seq(
                &lc.forward,
                d_fwd,
                d_last_of(k * dirs),
                &mut g.forward,
                want,
            );
            d_init[k * dirs] = Some(d_h0);
            if let (Some(rev_cell), Some(rev_caches)) = (&layer.reverse, &lc.reverse) {
                let g_rev = g.reverse.as_mut().expect(GRADS_SHAPE);
                // the reverse cell ran over reversed time, so its gradients are reversed in and out
                let d_rev = reverse_time(d_y.slice(s![.., .., h..])); // (T, B, H), reversed time
                let (d_input_rev, d_h0_rev) = rev_cell.backward_seq(
                    rev_caches,
                    d_rev.view(),
                    d_last_of(k * dirs + 1),
                    g_rev,
                    want,
                );
                // (9.7) the input fed both directions: ∂L/∂input_t = (via h→) + (via h←)     (T, B, D_k)
                if let (Some(d), Some(d_rev)) = (&mut d_input, d_input_rev) {
                    *d += &reverse_time(d_rev.view());
                }
                d_init[k * dirs + 1] = Some(d_h0_rev);
            }
            d_out = d_input; // becomes ∂L/∂(output of layer k-1)
        }
        // ANCHOR_END: stack_backward
        let d_init = d_init
            .into_iter()
            .map(|d| d.expect("every state visited"))
            .collect();
        (d_out, d_init)
    }
}

impl Rnn<AnyCell> {
    /// A freshly initialised network (PyTorch's default initialisation) of the architecture `config`
    /// describes. [`Error::Config`] for an invalid config.
    pub fn from_config(config: &RnnConfig, rng: &mut Rng) -> Result<Self> {
        let cell = config.cell;
        Self::with_config(
            config,
            |d, h, rng| AnyCell::from_config(&cell, d, h, rng),
            rng,
        )
    }

    /// A network of the architecture `config` describes with every parameter zero, built without drawing
    /// random numbers: the container [`Rnn::from_checkpoint`] loads weights into. [`Error::Config`] for an
    /// invalid config.
    pub fn zeros(config: &RnnConfig) -> Result<Self> {
        let cell = config.cell;
        // `make_cell` ignores the generator: nothing is drawn from it.
        Self::with_config(
            config,
            |d, h, _| AnyCell::zeros(&cell, d, h),
            &mut crate::init::rng(0),
        )
    }

    /// The network `config` describes, each cell made by `make_cell(input_size, hidden_size, rng)`.
    fn with_config(
        config: &RnnConfig,
        make_cell: impl FnMut(usize, usize, &mut Rng) -> AnyCell,
        rng: &mut Rng,
    ) -> Result<Self> {
        config.validate()?;
        Rnn::new(
            config.input_size,
            config.hidden_size,
            config.num_layers,
            config.bidirectional,
            config.dropout,
            make_cell,
            rng,
        )
    }

    /// The network stored in a checkpoint, built from the checkpoint's own config
    /// ([`crate::checkpoint`]) and loaded with its tensors, with no random initialisation.
    ///
    /// Errors: [`Error::MissingConfig`] if the file has no network config (say, PyTorch's `state_dict()`
    /// saved with `safetensors.torch.save_file`: its shapes cannot tell tanh from ReLU, so the caller must
    /// say which, with [`crate::checkpoint::RnnConfig::infer`] and [`Rnn::from_checkpoint_with`]);
    /// [`Error::CorruptCheckpoint`] if the config is invalid or the tensors do not fit it.
    ///
    /// ```
    /// use rnn::cells::AnyCell;
    /// use rnn::checkpoint::Checkpoint;
    /// use rnn::stack::Rnn;
    ///
    /// # let dir = std::env::temp_dir().join(format!("rnn-doc-from-checkpoint-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// let path = dir.join("gru.safetensors");
    /// let model = Rnn::new(3, 4, 2, true, 0.0, rnn::cells::Gru::new, &mut rnn::init::rng(0)).unwrap();
    /// model.save(&path).unwrap();
    /// let back = Rnn::<AnyCell>::from_checkpoint(&Checkpoint::load(&path).unwrap()).unwrap();
    /// assert_eq!(back.config(), model.config());
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn from_checkpoint(ckpt: &Checkpoint) -> Result<Self> {
        let Some(config) = ckpt.rnn_config()? else {
            return Err(Error::MissingConfig {
                path: ckpt.path.clone(),
                hint: missing_config_hint(ckpt),
            });
        };
        Self::from_checkpoint_with(ckpt, &config).map_err(|e| match e {
            Error::WrongModel { reason, .. } => Error::CorruptCheckpoint {
                path: ckpt.path.clone(),
                reason: format!("its tensors do not fit its own config: {reason}"),
            },
            other => other,
        })
    }

    /// The network `config` describes, with its tensors loaded from `ckpt` (checked as
    /// [`Checkpoint::load_into`] checks them, so a checkpoint whose own config says otherwise is refused).
    /// For a file without a config, start from [`crate::checkpoint::RnnConfig::infer`]:
    ///
    /// ```no_run
    /// # fn main() -> rnn::Result<()> {
    /// use rnn::cells::{AnyCell, CellKind};
    /// use rnn::checkpoint::{Checkpoint, RnnConfig};
    /// use rnn::stack::Rnn;
    ///
    /// // written in Python by safetensors.torch.save_file(nn.RNN(3, 4, nonlinearity="relu").state_dict(), ...)
    /// let ckpt = Checkpoint::load(std::path::Path::new("relu_rnn.safetensors"))?;
    /// let mut config = RnnConfig::infer(&ckpt, "")?; // sizes, depth, directions; tanh assumed
    /// config.cell.kind = CellKind::RnnRelu; // what the shapes cannot say
    /// let model = Rnn::<AnyCell>::from_checkpoint_with(&ckpt, &config)?;
    /// # Ok(()) }
    /// ```
    pub fn from_checkpoint_with(ckpt: &Checkpoint, config: &RnnConfig) -> Result<Self> {
        let mut model = Self::zeros(config)?;
        ckpt.load_into(&mut model)?;
        Ok(model)
    }
}

/// What [`Error::MissingConfig`] says for `ckpt`: what its shapes tell, what they do not, and what to do.
fn missing_config_hint(ckpt: &Checkpoint) -> String {
    let inferred = match RnnConfig::infer(ckpt, "") {
        Ok(c) => c,
        Err(e) => {
            return format!(
                "and its tensors are not those of a PyTorch nn.RNN, nn.LSTM or nn.GRU either ({e})"
            )
        }
    };
    let (what, unknown, assumed) = match inferred.cell.num_gates() {
        1 => (
            "an Elman RNN".to_string(),
            "not whether it uses tanh or ReLU",
            "tanh, as nn.RNN by default",
        ),
        3 if !inferred.cell.peephole => (
            "a cell with 3 gate blocks".to_string(),
            "not whether it is a GRU with the reset gate after the matrix product (nn.GRU) or before it \
             (Cho et al. 2014), or an LSTM with coupled input-forget gates",
            "a reset-after GRU, as nn.GRU",
        ),
        _ => (
            inferred.cell.describe(),
            "`from_checkpoint` reads only a config (here the shapes say all there is to know: only an LSTM has them)",
            "exactly what the shapes say",
        ),
    };
    format!(
        "its tensors say {what} with {}, but {unknown}. Build it with \
         `Rnn::from_checkpoint_with(&ckpt, &config)`, where `config` is `RnnConfig::infer(&ckpt, \"\")?` \
         (which assumes {assumed}) or a corrected copy of it",
        inferred.describe_sizes()
    )
}

/// PyTorch's state tensors as the library's states: `h` is `h_0` or `h_n`, `(L·dirs, B, H)`, and `c` (LSTM
/// only) is `c_0` or `c_n` of the same shape. Entry `i = layer · num_directions + direction` (direction 0
/// reads forwards, 1 backwards) becomes state `i`, with `h = h[i]` `(B, H)` and `c = c[i]`: the order in
/// which [`Rnn::forward`] takes initial states and returns final ones.
///
/// Panics if `c` does not have the shape of `h`.
///
/// ```
/// use ndarray::Array3;
/// use rnn::stack::{states_from_pytorch, states_to_pytorch};
/// let h_n = Array3::<f64>::zeros((4, 2, 5)); // 2 layers × 2 directions, B = 2, H = 5
/// let states = states_from_pytorch(h_n.view(), None);
/// assert_eq!((states.len(), states[0].h.dim()), (4, (2, 5)));
/// assert_eq!(states_to_pytorch(&states), (h_n, None));
/// ```
pub fn states_from_pytorch(h: ArrayView3<'_, f64>, c: Option<ArrayView3<'_, f64>>) -> Vec<State> {
    if let Some(c) = &c {
        assert_eq!(
            c.dim(),
            h.dim(),
            "states_from_pytorch: c has shape {:?} but h has shape {:?}; both must be (L·dirs, B, H)",
            c.dim(),
            h.dim()
        );
    }
    (0..h.dim().0)
        .map(|i| State {
            h: h.index_axis(Axis(0), i).to_owned(),
            c: c.as_ref().map(|c| c.index_axis(Axis(0), i).to_owned()),
            gates: None,
        })
        .collect()
}

/// The library's states (one per layer and direction, in `h_n` order, as [`Rnn::forward`] returns them)
/// as PyTorch's `h_n` `(L·dirs, B, H)` and, if the states carry a cell state, `c_n`: the inverse of
/// [`states_from_pytorch`].
///
/// Panics if `states` is empty, if the states differ in shape, or if some have a cell state and others not.
pub fn states_to_pytorch(states: &[State]) -> (Array3<f64>, Option<Array3<f64>>) {
    assert!(
        !states.is_empty(),
        "states_to_pytorch: no states (a network has at least one layer)"
    );
    let h: Vec<_> = states.iter().map(|s| s.h.view()).collect();
    let h = stack(Axis(0), &h).unwrap_or_else(|_| {
        panic!(
            "states_to_pytorch: the states' h have different shapes: {:?}",
            states.iter().map(|s| s.h.dim()).collect::<Vec<_>>()
        )
    });
    let with_c = states.iter().filter(|s| s.c.is_some()).count();
    if with_c == 0 {
        return (h, None);
    }
    assert_eq!(
        with_c,
        states.len(),
        "states_to_pytorch: {with_c} of {} states have a cell state c; all or none must",
        states.len()
    );
    let c: Vec<_> = states
        .iter()
        .filter_map(|s| s.c.as_ref().map(|c| c.view()))
        .collect();
    let c = stack(Axis(0), &c)
        .unwrap_or_else(|_| panic!("states_to_pytorch: the states' c have different shapes"));
    assert_eq!(
        c.dim(),
        h.dim(),
        "states_to_pytorch: c and h differ in shape"
    );
    (h, Some(c))
}

const GRADS_SHAPE: &str =
    "Rnn::backward: grads must have the network's layers and directions (make it with model.zeros_like())";

// ANCHOR: dropout_mask
/// An inverted-dropout mask of shape `dim`: each entry is `1/(1-p)` with probability `1-p`, else 0, so
/// the expected value of every masked unit is unchanged and evaluation needs no rescaling.
pub fn dropout_mask(dim: (usize, usize, usize), p: f64, rng: &mut Rng) -> Array3<f64> {
    let scale = 1.0 / (1.0 - p);
    Array3::from_shape_simple_fn(dim, || if rng.random::<f64>() < p { 0.0 } else { scale })
}
// ANCHOR_END: dropout_mask

/// The PyTorch name suffix of layer `k`'s forward (`_l{k}`) or reverse (`_l{k}_reverse`) cell.
fn suffix(k: usize, reverse: bool) -> String {
    if reverse {
        format!("_l{k}_reverse")
    } else {
        format!("_l{k}")
    }
}

impl<C: Cell> Parameters for Rnn<C> {
    /// [`Rnn::config`]: checkpoints of another network are refused by
    /// [`crate::checkpoint::Checkpoint::load_into`].
    fn rnn_config(&self) -> Option<RnnConfig> {
        self.config()
    }

    /// Every cell's parameters with PyTorch's suffixes, in `state_dict()` order:
    /// `weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, weight_ih_l0_reverse, ..., weight_ih_l1, ...`.
    fn params(&self) -> Vec<(String, ArrayViewD<'_, f64>)> {
        let mut out = Vec::new();
        for (k, layer) in self.layers.iter().enumerate() {
            let dirs = std::iter::once((&layer.forward, false))
                .chain(layer.reverse.iter().map(|c| (c, true)));
            for (cell, rev) in dirs {
                let sfx = suffix(k, rev);
                out.extend(
                    cell.params()
                        .into_iter()
                        .map(|(n, p)| (rename(&n, &sfx), p)),
                );
            }
        }
        out
    }

    fn params_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, f64>)> {
        let mut out = Vec::new();
        for (k, layer) in self.layers.iter_mut().enumerate() {
            let dirs = std::iter::once((&mut layer.forward, false))
                .chain(layer.reverse.iter_mut().map(|c| (c, true)));
            for (cell, rev) in dirs {
                let sfx = suffix(k, rev);
                out.extend(
                    cell.params_mut()
                        .into_iter()
                        .map(|(n, p)| (rename(&n, &sfx), p)),
                );
            }
        }
        out
    }
}
