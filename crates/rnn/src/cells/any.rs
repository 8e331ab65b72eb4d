//! A cell chosen at run time: [`AnyCell`] is an Elman cell, an LSTM or a GRU, and implements [`Cell`] by
//! delegating to whichever it holds. A program that reads the cell kind from the command line or a
//! checkpoint builds an `Rnn<AnyCell>` instead of being generic over the cell type.

use std::fmt;
use std::str::FromStr;

use ndarray::{Array2, Array3, ArrayView2, ArrayView3, ArrayViewD, ArrayViewMutD};

use ndarray::{Array1, Array2 as Matrix};

use super::{
    Cell, Elman, ElmanCache, Gru, GruCache, GruVariant, Lstm, LstmCache, LstmOptions, State,
};
use crate::activation::Nonlinearity;
use crate::bptt::Unrolled;
use crate::init::Rng;
use crate::params::Parameters;
use crate::{Error, Result};

/// The kinds of cell [`AnyCell::new`] can build: PyTorch's RNN modes.
///
/// Written (by [`fmt::Display`], in checkpoint configs, by the CLI) as `rnn_tanh`, `rnn_relu`, `lstm` and
/// `gru`: the `mode` strings of `torch.nn.RNNBase` (`RNN_TANH`, `RNN_RELU`, `LSTM`, `GRU`) in lower case.
/// This is the one naming of cell kinds in the library; see [`crate::checkpoint`] for the config format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CellKind {
    /// Elman cell with tanh (`nn.RNN`, nonlinearity `"tanh"`, the default): `rnn_tanh`.
    RnnTanh,
    /// Elman cell with ReLU (`nn.RNN`, nonlinearity `"relu"`): `rnn_relu`.
    RnnRelu,
    /// LSTM cell (`nn.LSTM`): `lstm`.
    Lstm,
    /// GRU cell (`nn.GRU`): `gru`.
    Gru,
}

impl CellKind {
    /// Every kind, in the order above.
    pub const ALL: [CellKind; 4] = [
        CellKind::RnnTanh,
        CellKind::RnnRelu,
        CellKind::Lstm,
        CellKind::Gru,
    ];

    /// The canonical name: `rnn_tanh`, `rnn_relu`, `lstm` or `gru`.
    pub fn name(self) -> &'static str {
        match self {
            CellKind::RnnTanh => "rnn_tanh",
            CellKind::RnnRelu => "rnn_relu",
            CellKind::Lstm => "lstm",
            CellKind::Gru => "gru",
        }
    }
}

impl FromStr for CellKind {
    type Err = Error;

    /// Parses `rnn_tanh`, `rnn_relu`, `lstm` or `gru`, ignoring case. The older spellings `rnn` and
    /// `elman` (used for the tanh cell by earlier versions, and by `nn.RNN`'s default) are read as
    /// `rnn_tanh`.
    ///
    /// ```
    /// use rnn::cells::CellKind;
    /// assert_eq!("LSTM".parse::<CellKind>().unwrap(), CellKind::Lstm);
    /// assert_eq!("rnn".parse::<CellKind>().unwrap(), CellKind::RnnTanh);
    /// assert_eq!(CellKind::RnnTanh.to_string(), "rnn_tanh");
    /// assert!("transformer".parse::<CellKind>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "rnn_tanh" | "rnn" | "elman" => Ok(CellKind::RnnTanh),
            "rnn_relu" => Ok(CellKind::RnnRelu),
            "lstm" => Ok(CellKind::Lstm),
            "gru" => Ok(CellKind::Gru),
            _ => Err(Error::Config(format!(
                "unknown cell kind `{s}`: expected one of rnn_tanh (or rnn), rnn_relu, lstm, gru"
            ))),
        }
    }
}

impl fmt::Display for CellKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A cell kind with its variant: everything about a cell that a checkpoint config records and that
/// shapes alone cannot always tell (tanh or ReLU, where a GRU applies its reset gate, LSTM peepholes and
/// coupled gates). [`Cell::config`] returns it for the library's cells.
///
/// ```
/// use rnn::cells::{CellConfig, CellKind, GruVariant};
/// let c = CellConfig { gru_variant: GruVariant::ResetBefore, ..CellConfig::new(CellKind::Gru) };
/// assert_eq!(c.describe(), "a reset-before GRU (3 gates)");
/// assert_eq!(CellConfig::new(CellKind::Lstm).num_gates(), 4);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CellConfig {
    /// The kind (PyTorch's mode).
    pub kind: CellKind,
    /// GRU only: where the reset gate acts (reset-after, PyTorch's, by default).
    pub gru_variant: GruVariant,
    /// LSTM only: peephole connections ([`LstmOptions::peephole`]).
    pub peephole: bool,
    /// LSTM only: coupled input-forget gate ([`LstmOptions::cifg`]).
    pub cifg: bool,
    /// LSTM only: no input gate, Greff et al.'s NIG ([`LstmOptions::no_input_gate`]).
    pub no_input_gate: bool,
    /// LSTM only: no forget gate, NFG ([`LstmOptions::no_forget_gate`]).
    pub no_forget_gate: bool,
    /// LSTM only: no output gate, NOG ([`LstmOptions::no_output_gate`]).
    pub no_output_gate: bool,
    /// LSTM only: linear candidate, NIAF ([`LstmOptions::no_input_activation`]).
    pub no_input_activation: bool,
    /// LSTM only: no tanh on the output, NOAF ([`LstmOptions::no_output_activation`]).
    pub no_output_activation: bool,
    /// LSTM only: full gate recurrence, FGR ([`LstmOptions::full_gate_recurrence`]).
    pub full_gate_recurrence: bool,
}

impl CellConfig {
    /// The plain PyTorch cell of this kind (reset-after GRU, LSTM without peepholes or coupling).
    pub fn new(kind: CellKind) -> Self {
        CellConfig {
            kind,
            gru_variant: GruVariant::ResetAfter,
            peephole: false,
            cifg: false,
            no_input_gate: false,
            no_forget_gate: false,
            no_output_gate: false,
            no_input_activation: false,
            no_output_activation: false,
            full_gate_recurrence: false,
        }
    }

    /// The LSTM cell config with these options (forget bias aside: it only matters at initialisation).
    pub fn lstm(options: LstmOptions) -> Self {
        CellConfig {
            peephole: options.peephole,
            cifg: options.cifg,
            no_input_gate: options.no_input_gate,
            no_forget_gate: options.no_forget_gate,
            no_output_gate: options.no_output_gate,
            no_input_activation: options.no_input_activation,
            no_output_activation: options.no_output_activation,
            full_gate_recurrence: options.full_gate_recurrence,
            ..CellConfig::new(CellKind::Lstm)
        }
    }

    /// The LSTM options this config records, each with its name as a checkpoint config spells it.
    pub fn lstm_flags(&self) -> [(&'static str, bool); 8] {
        [
            ("peephole", self.peephole),
            ("cifg", self.cifg),
            ("no_input_gate", self.no_input_gate),
            ("no_forget_gate", self.no_forget_gate),
            ("no_output_gate", self.no_output_gate),
            ("no_input_activation", self.no_input_activation),
            ("no_output_activation", self.no_output_activation),
            ("full_gate_recurrence", self.full_gate_recurrence),
        ]
    }

    /// The number of blocks of H rows stacked in `weight_ih` and `weight_hh`: 1 (Elman), 3 (GRU; LSTM with
    /// coupled gates or a removed gate), 4 (LSTM).
    pub fn num_gates(&self) -> usize {
        match self.kind {
            CellKind::RnnTanh | CellKind::RnnRelu => 1,
            CellKind::Gru => 3,
            CellKind::Lstm => lstm_options(self).num_gates(),
        }
    }

    /// [`Error::Config`] for a variant option on the wrong kind (a GRU variant on an LSTM, peepholes on
    /// a GRU, ...).
    pub fn validate(&self) -> Result<()> {
        if self.kind != CellKind::Gru && self.gru_variant != GruVariant::ResetAfter {
            return Err(Error::Config(format!(
                "gru_variant applies to GRU cells only, but the cell is {}",
                self.kind
            )));
        }
        if self.kind != CellKind::Lstm {
            if let Some((option, _)) = self.lstm_flags().into_iter().find(|(_, on)| *on) {
                return Err(Error::Config(format!(
                    "{option} applies to LSTM cells only, but the cell is {}",
                    self.kind
                )));
            }
            return Ok(());
        }
        lstm_options(self).validate()
    }

    /// The cell in words, for messages: "an Elman RNN with tanh (no gates)", "an LSTM (4 gates)",
    /// "a reset-before GRU (3 gates)", ...
    pub fn describe(&self) -> String {
        match self.kind {
            CellKind::RnnTanh => "an Elman RNN with tanh (no gates)".into(),
            CellKind::RnnRelu => "an Elman RNN with ReLU (no gates)".into(),
            CellKind::Gru => match self.gru_variant {
                GruVariant::ResetAfter => "a GRU (3 gates)".into(),
                GruVariant::ResetBefore => "a reset-before GRU (3 gates)".into(),
            },
            CellKind::Lstm => {
                let words = [
                    "peepholes",
                    "coupled input-forget gates",
                    "no input gate",
                    "no forget gate",
                    "no output gate",
                    "no input activation",
                    "no output activation",
                    "full gate recurrence",
                ];
                let on: Vec<&str> = words
                    .into_iter()
                    .zip(self.lstm_flags())
                    .filter_map(|(w, (_, on))| on.then_some(w))
                    .collect();
                let with = match on.split_last() {
                    None => String::new(),
                    Some((last, [])) => format!(" with {last}"),
                    Some((last, rest)) => format!(" with {} and {last}", rest.join(", ")),
                };
                format!("an LSTM{with} ({} gates)", self.num_gates())
            }
        }
    }
}

impl From<CellKind> for CellConfig {
    fn from(kind: CellKind) -> Self {
        CellConfig::new(kind)
    }
}

/// An Elman, LSTM or GRU cell, chosen at run time.
///
/// ```
/// use rnn::cells::{AnyCell, CellKind};
/// use rnn::stack::Rnn;
///
/// let kind: CellKind = "rnn".parse().unwrap();
/// let mut rng = rnn::init::rng(0);
/// let model = Rnn::new(3, 4, 2, false, 0.0, |d, h, rng| AnyCell::new(kind, d, h, rng), &mut rng).unwrap();
/// let (out, _, _) = model.forward(ndarray::Array3::zeros((5, 1, 3)).view(), None, None);
/// assert_eq!(out.dim(), (5, 1, 4));
/// ```
#[derive(Clone, Debug)]
// The LSTM is the largest cell (its optional peepholes and FGR matrix); a model holds one cell per layer
// and direction, so the unboxed size costs nothing worth an indirection on every call.
#[allow(clippy::large_enum_variant)]
pub enum AnyCell {
    /// An Elman cell.
    Elman(Elman),
    /// An LSTM cell.
    Lstm(Lstm),
    /// A GRU cell.
    Gru(Gru),
}

/// The cache of an [`AnyCell`] step: the cache of the cell it holds.
#[derive(Clone, Debug)]
// The LSTM's cache is the largest (nine tensors and the FGR gates); boxing it would add an allocation
// per step for every cell kind.
#[allow(clippy::large_enum_variant)]
pub enum AnyCache {
    /// An Elman step's cache.
    Elman(ElmanCache),
    /// An LSTM step's cache.
    Lstm(LstmCache),
    /// A GRU step's cache.
    Gru(GruCache),
}

impl AnyCell {
    /// A new cell of the given kind with PyTorch's default initialisation.
    pub fn new(kind: CellKind, input_size: usize, hidden_size: usize, rng: &mut Rng) -> Self {
        match kind {
            CellKind::RnnTanh => AnyCell::Elman(Elman::new(input_size, hidden_size, rng)),
            CellKind::RnnRelu => AnyCell::Elman(Elman::with_nonlinearity(
                input_size,
                hidden_size,
                Nonlinearity::Relu,
                rng,
            )),
            CellKind::Lstm => AnyCell::Lstm(Lstm::new(input_size, hidden_size, rng)),
            CellKind::Gru => AnyCell::Gru(Gru::new(input_size, hidden_size, rng)),
        }
    }

    /// A new cell of the given kind and variant with PyTorch's default initialisation (LSTM forget bias 0).
    pub fn from_config(
        config: &CellConfig,
        input_size: usize,
        hidden_size: usize,
        rng: &mut Rng,
    ) -> Self {
        let (d, h) = (input_size, hidden_size);
        match config.kind {
            CellKind::RnnTanh | CellKind::RnnRelu => AnyCell::new(config.kind, d, h, rng),
            CellKind::Gru => AnyCell::Gru(Gru::with_variant(d, h, config.gru_variant, rng)),
            CellKind::Lstm => AnyCell::Lstm(Lstm::with_options(d, h, lstm_options(config), rng)),
        }
    }

    /// A cell of the given kind and variant with every parameter zero, without drawing random numbers:
    /// a container for weights about to be loaded (see [`crate::stack::Rnn::from_checkpoint`]).
    pub fn zeros(config: &CellConfig, input_size: usize, hidden_size: usize) -> Self {
        let (d, h, gh) = (input_size, hidden_size, config.num_gates() * hidden_size);
        let (w_ih, w_hh) = (Matrix::zeros((gh, d)), Matrix::zeros((gh, h)));
        let (b_ih, b_hh) = (Array1::zeros(gh), Array1::zeros(gh));
        match config.kind {
            CellKind::RnnTanh | CellKind::RnnRelu => AnyCell::Elman(Elman {
                weight_ih: w_ih,
                weight_hh: w_hh,
                bias_ih: b_ih,
                bias_hh: b_hh,
                nonlinearity: if config.kind == CellKind::RnnRelu {
                    Nonlinearity::Relu
                } else {
                    Nonlinearity::Tanh
                },
            }),
            CellKind::Gru => AnyCell::Gru(Gru {
                weight_ih: w_ih,
                weight_hh: w_hh,
                bias_ih: b_ih,
                bias_hh: b_hh,
                variant: config.gru_variant,
            }),
            CellKind::Lstm => {
                let options = lstm_options(config);
                let blocks = options.blocks();
                let peep = |gate: Option<usize>| {
                    (options.peephole && gate.is_some()).then(|| Array1::zeros(h))
                };
                AnyCell::Lstm(Lstm {
                    weight_ih: w_ih,
                    weight_hh: w_hh,
                    bias_ih: b_ih,
                    bias_hh: b_hh,
                    weight_ci: peep(blocks.i),
                    weight_cf: peep(blocks.f),
                    weight_co: peep(blocks.o),
                    weight_gg: options
                        .full_gate_recurrence
                        .then(|| Matrix::zeros((3 * h, 3 * h))),
                    options,
                })
            }
        }
    }

    /// The variant's name, for messages.
    fn variant_name(&self) -> &'static str {
        match self {
            AnyCell::Elman(_) => "Elman",
            AnyCell::Lstm(_) => "Lstm",
            AnyCell::Gru(_) => "Gru",
        }
    }
}

impl From<Elman> for AnyCell {
    fn from(c: Elman) -> Self {
        AnyCell::Elman(c)
    }
}

impl From<Lstm> for AnyCell {
    fn from(c: Lstm) -> Self {
        AnyCell::Lstm(c)
    }
}

impl From<Gru> for AnyCell {
    fn from(c: Gru) -> Self {
        AnyCell::Gru(c)
    }
}

/// Calls `$body` with `$c` bound to the cell inside `$cell`, whatever its variant.
macro_rules! delegate {
    ($cell:expr, $c:ident => $body:expr) => {
        match $cell {
            AnyCell::Elman($c) => $body,
            AnyCell::Lstm($c) => $body,
            AnyCell::Gru($c) => $body,
        }
    };
}

impl Parameters for AnyCell {
    fn params(&self) -> Vec<(String, ArrayViewD<'_, f64>)> {
        delegate!(self, c => c.params())
    }

    fn params_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, f64>)> {
        delegate!(self, c => c.params_mut())
    }
}

impl Cell for AnyCell {
    type Cache = AnyCache;

    fn input_size(&self) -> usize {
        delegate!(self, c => c.input_size())
    }

    fn hidden_size(&self) -> usize {
        delegate!(self, c => c.hidden_size())
    }

    fn kind(&self) -> &'static str {
        delegate!(self, c => c.kind())
    }

    fn config(&self) -> Option<CellConfig> {
        delegate!(self, c => c.config())
    }

    fn zero_state(&self, batch: usize) -> State {
        delegate!(self, c => c.zero_state(batch))
    }

    fn forward(&self, x: ArrayView2<'_, f64>, prev: &State) -> (State, AnyCache) {
        match self {
            AnyCell::Elman(c) => {
                let (s, cache) = c.forward(x, prev);
                (s, AnyCache::Elman(cache))
            }
            AnyCell::Lstm(c) => {
                let (s, cache) = c.forward(x, prev);
                (s, AnyCache::Lstm(cache))
            }
            AnyCell::Gru(c) => {
                let (s, cache) = c.forward(x, prev);
                (s, AnyCache::Gru(cache))
            }
        }
    }

    /// The held cell's [`Cell::forward_seq`], its caches wrapped.
    fn forward_seq(&self, xs: ArrayView3<'_, f64>, init: &State) -> Unrolled<Self> {
        match self {
            AnyCell::Elman(c) => wrap_caches(c.forward_seq(xs, init), AnyCache::Elman),
            AnyCell::Lstm(c) => wrap_caches(c.forward_seq(xs, init), AnyCache::Lstm),
            AnyCell::Gru(c) => wrap_caches(c.forward_seq(xs, init), AnyCache::Gru),
        }
    }

    /// The held cell's [`Cell::backward_seq`] (through its `backward_steps`, which borrows the caches).
    /// A mismatch between the cell, `grads` and the caches falls back to [`crate::bptt::bptt`], whose
    /// [`Cell::backward`] reports it.
    fn backward_seq(
        &self,
        caches: &[AnyCache],
        d_outputs: ArrayView3<'_, f64>,
        d_last: Option<&State>,
        grads: &mut Self,
        want_dx: bool,
    ) -> (Option<Array3<f64>>, State) {
        match (self, &mut *grads) {
            (AnyCell::Elman(c), AnyCell::Elman(g)) => {
                if let Some(k) = unwrap_caches(caches, |k| match k {
                    AnyCache::Elman(k) => Some(k),
                    _ => None,
                }) {
                    return c.backward_steps(&k, d_outputs, d_last, g, want_dx);
                }
            }
            (AnyCell::Lstm(c), AnyCell::Lstm(g)) => {
                if let Some(k) = unwrap_caches(caches, |k| match k {
                    AnyCache::Lstm(k) => Some(k),
                    _ => None,
                }) {
                    return c.backward_steps(&k, d_outputs, d_last, g, want_dx);
                }
            }
            (AnyCell::Gru(c), AnyCell::Gru(g)) => {
                if let Some(k) = unwrap_caches(caches, |k| match k {
                    AnyCache::Gru(k) => Some(k),
                    _ => None,
                }) {
                    return c.backward_steps(&k, d_outputs, d_last, g, want_dx);
                }
            }
            _ => {}
        }
        // mismatches, which backward reports
        let (dxs, d_init) = crate::bptt::bptt(self, caches, d_outputs, d_last, grads);
        (want_dx.then_some(dxs), d_init)
    }

    /// Delegates to the cell inside. `grads` must hold the same kind of cell as `self` (make it with
    /// [`Parameters::zeros_like`]), and `cache` must come from this cell's forward; otherwise this panics.
    fn backward(&self, cache: &AnyCache, d_next: &State, grads: &mut Self) -> (Array2<f64>, State) {
        match (self, cache, grads) {
            (AnyCell::Elman(c), AnyCache::Elman(k), AnyCell::Elman(g)) => c.backward(k, d_next, g),
            (AnyCell::Lstm(c), AnyCache::Lstm(k), AnyCell::Lstm(g)) => c.backward(k, d_next, g),
            (AnyCell::Gru(c), AnyCache::Gru(k), AnyCell::Gru(g)) => c.backward(k, d_next, g),
            (cell, cache, grads) => panic!(
                "AnyCell::backward: the cell is {}, but grads is {} and the cache is from {}; \
                 grads must be the same variant as the cell (use cell.zeros_like()) and the cache must \
                 come from this cell's forward",
                cell.variant_name(),
                grads.variant_name(),
                match cache {
                    AnyCache::Elman(_) => "Elman",
                    AnyCache::Lstm(_) => "Lstm",
                    AnyCache::Gru(_) => "Gru",
                }
            ),
        }
    }
}

/// A run of a concrete cell as a run of [`AnyCell`]: each cache wrapped by `wrap`.
fn wrap_caches<C: Cell>(run: Unrolled<C>, wrap: fn(C::Cache) -> AnyCache) -> Unrolled<AnyCell> {
    Unrolled {
        outputs: run.outputs,
        last: run.last,
        caches: run.caches.into_iter().map(wrap).collect(),
    }
}

/// The caches inside `caches` if `pick` finds the expected kind in every one of them.
fn unwrap_caches<'a, K>(
    caches: &'a [AnyCache],
    pick: impl Fn(&'a AnyCache) -> Option<&'a K>,
) -> Option<Vec<&'a K>> {
    caches.iter().map(pick).collect()
}

/// The LSTM options of a cell config (forget bias 0: it only matters at initialisation).
fn lstm_options(config: &CellConfig) -> LstmOptions {
    LstmOptions {
        peephole: config.peephole,
        cifg: config.cifg,
        forget_bias: 0.0,
        no_input_gate: config.no_input_gate,
        no_forget_gate: config.no_forget_gate,
        no_output_gate: config.no_output_gate,
        no_input_activation: config.no_input_activation,
        no_output_activation: config.no_output_activation,
        full_gate_recurrence: config.full_gate_recurrence,
    }
}
