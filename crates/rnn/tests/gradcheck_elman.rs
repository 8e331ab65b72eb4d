//! Finite-difference checks of the Elman cell and of BPTT (parameters, inputs, initial state).

use rnn::activation::Nonlinearity;
use rnn::gradcheck::{check_cell, TOLERANCE};
use rnn::prelude::*;

#[test]
fn elman_tanh_bptt_matches_finite_differences_over_shapes() {
    let mut rng = rnn::init::rng(11);
    for (d, h, t, b) in [(1, 1, 1, 1), (3, 4, 5, 2), (5, 3, 7, 3), (2, 6, 3, 4)] {
        let cell = Elman::new(d, h, &mut rng);
        let report = check_cell(&cell, t, b, &mut rng);
        eprintln!(
            "Elman tanh D={d} H={h} T={t} B={b}: worst {:.2e}",
            report.max_rel_error()
        );
        report.assert_below(TOLERANCE);
    }
}

#[test]
fn elman_relu_bptt_matches_finite_differences() {
    let mut rng = rnn::init::rng(12);
    for (d, h, t, b) in [(3, 4, 5, 2), (4, 5, 4, 3)] {
        let cell = Elman::with_nonlinearity(d, h, Nonlinearity::Relu, &mut rng);
        check_cell(&cell, t, b, &mut rng).assert_below(TOLERANCE);
    }
}

/// A cell whose backward forgets dh_next (returns zero gradient to the previous state): the classic bug.
#[derive(Clone)]
struct ForgetsDhNext(Elman);

impl Parameters for ForgetsDhNext {
    fn params(&self) -> Vec<(String, ndarray::ArrayViewD<'_, f64>)> {
        self.0.params()
    }
    fn params_mut(&mut self) -> Vec<(String, ndarray::ArrayViewMutD<'_, f64>)> {
        self.0.params_mut()
    }
}

impl Cell for ForgetsDhNext {
    type Cache = rnn::cells::ElmanCache;
    fn input_size(&self) -> usize {
        self.0.input_size()
    }
    fn hidden_size(&self) -> usize {
        self.0.hidden_size()
    }
    fn kind(&self) -> &'static str {
        "broken"
    }
    fn zero_state(&self, batch: usize) -> State {
        self.0.zero_state(batch)
    }
    fn forward(&self, x: ndarray::ArrayView2<'_, f64>, prev: &State) -> (State, Self::Cache) {
        self.0.forward(x, prev)
    }
    fn backward(
        &self,
        cache: &Self::Cache,
        d: &State,
        g: &mut Self,
    ) -> (ndarray::Array2<f64>, State) {
        let (dx, dprev) = self.0.backward(cache, d, &mut g.0);
        (dx, dprev.zeros_like())
    }
}

#[test]
fn gradcheck_catches_a_backward_that_drops_dh_next() {
    let mut rng = rnn::init::rng(13);
    let cell = ForgetsDhNext(Elman::new(3, 4, &mut rng));
    let report = check_cell(&cell, 5, 2, &mut rng);
    assert!(
        report.max_rel_error() > 1e-2,
        "a backward without dh_next should fail the check, got {:.2e}",
        report.max_rel_error()
    );
}
