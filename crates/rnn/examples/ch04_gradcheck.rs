//! Chapter 4: gradient checking of BPTT, for a correct Elman cell and two deliberately broken ones.
//!
//! ```console
//! cargo run --release -p rnn --example ch04_gradcheck
//! ```
//!
//! Each cell is unrolled over T = 6 steps with a batch of B = 2, and every gradient BPTT computes
//! (the four parameters, the inputs xs and the initial state h0) is compared with central differences
//! by `rnn::gradcheck::check_cell`. The correct cell passes at about 1e-10; the broken ones fail by
//! orders of magnitude, and the report says which tensors are wrong.

use ndarray::{Array2, ArrayView2, ArrayViewD, ArrayViewMutD};
use rnn::cells::ElmanCache;
use rnn::gradcheck::{check_cell, Report, TOLERANCE};
use rnn::prelude::*;

// ANCHOR: forgets_dh_next
/// Bug 1: the backward step drops the gradient to the previous hidden state, so the gradient reaching
/// h_t is only the loss at step t: `dh_next` from the future is lost.
#[derive(Clone)]
struct ForgetsDhNext(Elman);

impl ForgetsDhNext {
    fn backward_step(
        &self,
        cache: &ElmanCache,
        d_next: &State,
        grads: &mut Self,
    ) -> (Array2<f64>, State) {
        let (dx, dh_prev) = self.0.backward(cache, d_next, &mut grads.0);
        (dx, dh_prev.zeros_like()) // wrong: should return dh_prev
    }
}
// ANCHOR_END: forgets_dh_next

// ANCHOR: overwrites_grads
/// Bug 2: the backward step *overwrites* the parameter gradients instead of adding to them, so only the
/// last step BPTT visits (t = 1, the first of the sequence) survives.
#[derive(Clone)]
struct OverwritesGrads(Elman);

impl OverwritesGrads {
    fn backward_step(
        &self,
        cache: &ElmanCache,
        d_next: &State,
        grads: &mut Self,
    ) -> (Array2<f64>, State) {
        grads.0.zero(); // wrong: throws away the steps already visited
        self.0.backward(cache, d_next, &mut grads.0)
    }
}
// ANCHOR_END: overwrites_grads

/// The rest of `Parameters` and `Cell` just forwards to the inner Elman cell.
macro_rules! wrap_elman {
    ($name:ident) => {
        impl Parameters for $name {
            fn params(&self) -> Vec<(String, ArrayViewD<'_, f64>)> {
                self.0.params()
            }
            fn params_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, f64>)> {
                self.0.params_mut()
            }
        }
        impl Cell for $name {
            type Cache = ElmanCache;
            fn input_size(&self) -> usize {
                self.0.input_size()
            }
            fn hidden_size(&self) -> usize {
                self.0.hidden_size()
            }
            fn kind(&self) -> &'static str {
                "rnn"
            }
            fn zero_state(&self, batch: usize) -> State {
                self.0.zero_state(batch)
            }
            fn forward(&self, x: ArrayView2<'_, f64>, prev: &State) -> (State, ElmanCache) {
                self.0.forward(x, prev)
            }
            fn backward(
                &self,
                cache: &ElmanCache,
                d_next: &State,
                grads: &mut Self,
            ) -> (Array2<f64>, State) {
                self.backward_step(cache, d_next, grads)
            }
        }
    };
}
wrap_elman!(ForgetsDhNext);
wrap_elman!(OverwritesGrads);

fn show(title: &str, report: &Report) {
    let verdict = if report.max_rel_error() <= TOLERANCE {
        "PASS"
    } else {
        "FAIL"
    };
    println!("{title}");
    for t in &report.tensors {
        println!(
            "  {:<10} rel error {:.2e}   worst element {:?}: analytic {:+.6e}, numeric {:+.6e}",
            t.name, t.rel_error, t.worst_index, t.analytic, t.numeric
        );
    }
    println!(
        "  => worst {:.2e}: {verdict} (bar {TOLERANCE:.0e})\n",
        report.max_rel_error()
    );
}

fn main() {
    let (d, h, t_len, batch) = (3, 4, 6, 2);
    println!("Elman cell D = {d}, H = {h}, unrolled over T = {t_len} steps, batch B = {batch}");
    println!(
        "central differences, step {:.0e}, f64\n",
        rnn::gradcheck::STEP
    );

    // ANCHOR: check
    // The same weights and the same random data (seed 4) for all three cells.
    let cell = Elman::new(d, h, &mut rnn::init::rng(4));
    let correct = check_cell(&cell, t_len, batch, &mut rnn::init::rng(5));
    let forgets = check_cell(
        &ForgetsDhNext(cell.clone()),
        t_len,
        batch,
        &mut rnn::init::rng(5),
    );
    let overwrites = check_cell(
        &OverwritesGrads(cell.clone()),
        t_len,
        batch,
        &mut rnn::init::rng(5),
    );
    // ANCHOR_END: check

    show("correct Elman backward", &correct);
    show("broken: forgets dh_next", &forgets);
    show("broken: overwrites instead of accumulating", &overwrites);
}
