//! Chapter 7: gradient checking of BPTT through an LSTM, for the correct cell and for a broken one whose
//! carousel forgets the forget gate.
//!
//! ```console
//! cargo run --release -p rnn --example ch07_gradcheck
//! ```
//!
//! Each cell is unrolled over T = 6 steps with a batch of B = 2, and every gradient BPTT computes (the four
//! parameters, the inputs xs and the initial state h0, c0) is compared with central differences by
//! `rnn::gradcheck::check_cell`, whose loss reads every h_t and the final h_T and c_T. The broken cell
//! passes ∂L/∂c_t back to c_{t-1} unchanged, as if f_t were 1: the mistake of writing (7.16) without its
//! f_t.

use ndarray::{Array2, ArrayView2, ArrayViewD, ArrayViewMutD};
use rnn::cells::{LstmCache, LstmOptions};
use rnn::gradcheck::{check_cell, Report, TOLERANCE};
use rnn::prelude::*;

// ANCHOR: carousel_without_f
/// The broken cell: the gradient reaching c_{t-1} along the cell state is ∂L/∂c_t, not ∂L/∂c_t ⊙ f_t.
#[derive(Clone)]
struct CarouselWithoutF(Lstm);

impl CarouselWithoutF {
    fn backward_step(
        &self,
        cache: &LstmCache,
        d_next: &State,
        grads: &mut Self,
    ) -> (Array2<f64>, State) {
        let (dx, mut d_prev) = self.0.backward(cache, d_next, &mut grads.0);
        let dc_next = d_next.c.as_ref().expect("an LSTM state gradient has c");
        // (7.10) ∂L/∂c_t, recomputed from the cache                                            (B, H)
        let dc = dc_next + &(&d_next.h * &cache.o * cache.tanh_c.mapv(|t| 1.0 - t * t));
        d_prev.c = Some(dc); // wrong: (7.16) is ∂L/∂c_t ⊙ f_t
        (dx, d_prev)
    }
}
// ANCHOR_END: carousel_without_f

impl Parameters for CarouselWithoutF {
    fn params(&self) -> Vec<(String, ArrayViewD<'_, f64>)> {
        self.0.params()
    }
    fn params_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, f64>)> {
        self.0.params_mut()
    }
}

impl Cell for CarouselWithoutF {
    type Cache = LstmCache;
    fn input_size(&self) -> usize {
        self.0.input_size()
    }
    fn hidden_size(&self) -> usize {
        self.0.hidden_size()
    }
    fn kind(&self) -> &'static str {
        "lstm"
    }
    fn zero_state(&self, batch: usize) -> State {
        self.0.zero_state(batch)
    }
    fn forward(&self, x: ArrayView2<'_, f64>, prev: &State) -> (State, LstmCache) {
        self.0.forward(x, prev)
    }
    fn backward(
        &self,
        cache: &LstmCache,
        d_next: &State,
        grads: &mut Self,
    ) -> (Array2<f64>, State) {
        self.backward_step(cache, d_next, grads)
    }
}

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
    println!("LSTM cell D = {d}, H = {h}, unrolled over T = {t_len} steps, batch B = {batch}");
    println!(
        "central differences, step {:.0e}, f64\n",
        rnn::gradcheck::STEP
    );

    // The same weights and the same random data (seed 5) for every check.
    let cell = Lstm::new(d, h, &mut rnn::init::rng(4));
    let opened = Lstm::with_options(
        d,
        h,
        LstmOptions {
            forget_bias: 1.0,
            ..LstmOptions::default()
        },
        &mut rnn::init::rng(4),
    );
    let correct = check_cell(&cell, t_len, batch, &mut rnn::init::rng(5));
    let with_bias = check_cell(&opened, t_len, batch, &mut rnn::init::rng(5));
    let broken = check_cell(
        &CarouselWithoutF(cell.clone()),
        t_len,
        batch,
        &mut rnn::init::rng(5),
    );

    show("correct LSTM backward (PyTorch's cell)", &correct);
    show("correct LSTM backward, forget bias 1", &with_bias);
    show("broken: the carousel without f_t, dc_prev = dc", &broken);
}
