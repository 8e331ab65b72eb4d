//! STUB: replaced by the GRU implementation.
use ndarray::{Array2, ArrayView2, ArrayViewD, ArrayViewMutD};

use super::{Cell, State};
use crate::init::Rng;
use crate::params::Parameters;

/// Which GRU.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum GruVariant {
    /// stub
    #[default]
    ResetAfter,
}

/// GRU cell (stub).
#[derive(Clone, Debug, PartialEq)]
pub struct Gru {
    /// W_ih
    pub weight_ih: Array2<f64>,
}

/// Cache (stub).
#[derive(Clone, Debug)]
pub struct GruCache;

impl Gru {
    /// New cell (stub).
    pub fn new(_d: usize, _h: usize, _rng: &mut Rng) -> Self {
        todo!()
    }
}

impl Parameters for Gru {
    fn params(&self) -> Vec<(String, ArrayViewD<'_, f64>)> {
        todo!()
    }
    fn params_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, f64>)> {
        todo!()
    }
}

impl Cell for Gru {
    type Cache = GruCache;
    fn input_size(&self) -> usize {
        todo!()
    }
    fn hidden_size(&self) -> usize {
        todo!()
    }
    fn kind(&self) -> &'static str {
        "gru"
    }
    fn zero_state(&self, _batch: usize) -> State {
        todo!()
    }
    fn forward(&self, _x: ArrayView2<'_, f64>, _prev: &State) -> (State, GruCache) {
        todo!()
    }
    fn backward(&self, _c: &GruCache, _d: &State, _g: &mut Self) -> (Array2<f64>, State) {
        todo!()
    }
}
