//! STUB: replaced by the LSTM implementation.
use ndarray::{Array2, ArrayView2, ArrayViewD, ArrayViewMutD};

use super::{Cell, State};
use crate::init::Rng;
use crate::params::Parameters;

/// Options of the LSTM cell.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LstmOptions {}

/// LSTM cell (stub).
#[derive(Clone, Debug, PartialEq)]
pub struct Lstm {
    /// W_ih
    pub weight_ih: Array2<f64>,
}

/// Cache (stub).
#[derive(Clone, Debug)]
pub struct LstmCache;

impl Lstm {
    /// New cell (stub).
    pub fn new(_d: usize, _h: usize, _rng: &mut Rng) -> Self {
        todo!()
    }
}

impl Parameters for Lstm {
    fn params(&self) -> Vec<(String, ArrayViewD<'_, f64>)> {
        todo!()
    }
    fn params_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, f64>)> {
        todo!()
    }
}

impl Cell for Lstm {
    type Cache = LstmCache;
    fn input_size(&self) -> usize {
        todo!()
    }
    fn hidden_size(&self) -> usize {
        todo!()
    }
    fn kind(&self) -> &'static str {
        "lstm"
    }
    fn zero_state(&self, _batch: usize) -> State {
        todo!()
    }
    fn forward(&self, _x: ArrayView2<'_, f64>, _prev: &State) -> (State, LstmCache) {
        todo!()
    }
    fn backward(&self, _c: &LstmCache, _d: &State, _g: &mut Self) -> (Array2<f64>, State) {
        todo!()
    }
}
