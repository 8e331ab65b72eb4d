//! A cell chosen at run time: [`AnyCell`] is an Elman cell, an LSTM or a GRU, and implements [`Cell`] by
//! delegating to whichever it holds. A program that reads the cell kind from the command line or a
//! checkpoint builds an `Rnn<AnyCell>` instead of being generic over the cell type.

use std::fmt;
use std::str::FromStr;

use ndarray::{Array2, Array3, ArrayView2, ArrayView3, ArrayViewD, ArrayViewMutD};

use super::{Cell, Elman, ElmanCache, Gru, GruCache, Lstm, LstmCache, State};
use crate::activation::Nonlinearity;
use crate::bptt::Unrolled;
use crate::init::Rng;
use crate::params::Parameters;
use crate::{Error, Result};

/// The kinds of cell [`AnyCell::new`] can build, named after PyTorch's RNN modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellKind {
    /// Elman cell with tanh (`nn.RNN`, nonlinearity `"tanh"`).
    RnnTanh,
    /// Elman cell with ReLU (`nn.RNN`, nonlinearity `"relu"`).
    RnnRelu,
    /// LSTM cell (`nn.LSTM`).
    Lstm,
    /// GRU cell (`nn.GRU`).
    Gru,
}

impl FromStr for CellKind {
    type Err = Error;

    /// Parses `rnn` (or `elman`, `rnn_tanh`), `rnn_relu`, `lstm` or `gru`, ignoring case.
    ///
    /// ```
    /// use rnn::cells::CellKind;
    /// assert_eq!("LSTM".parse::<CellKind>().unwrap(), CellKind::Lstm);
    /// assert!("transformer".parse::<CellKind>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "rnn" | "elman" | "rnn_tanh" => Ok(CellKind::RnnTanh),
            "rnn_relu" => Ok(CellKind::RnnRelu),
            "lstm" => Ok(CellKind::Lstm),
            "gru" => Ok(CellKind::Gru),
            _ => Err(Error::Config(format!(
                "unknown cell kind `{s}`: expected one of rnn, rnn_relu, lstm, gru"
            ))),
        }
    }
}

impl fmt::Display for CellKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CellKind::RnnTanh => "rnn",
            CellKind::RnnRelu => "rnn_relu",
            CellKind::Lstm => "lstm",
            CellKind::Gru => "gru",
        })
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
