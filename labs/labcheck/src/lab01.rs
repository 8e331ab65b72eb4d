//! Lab 1: one forward step of an Elman RNN, h_t = tanh(x_t·W_ihᵀ + b_ih + h_{t-1}·W_hhᵀ + b_hh).

use ndarray::{Array1, Array2};
use rnn::activation::Nonlinearity;
use rnn::cells::{Cell, Elman, State};

use crate::report::{EXACT, Mistake, check, check_shape, run};
use crate::{rand1, rand2};

const LAB: &str = "lab 1 · elman_step";

/// The shapes every check runs on: (B, D, H). The first has D = H, where a missing transpose does not
/// panic in the matrix product, so the check can name it before a non-square shape panics.
pub const SHAPES: [(usize, usize, usize); 3] = [(3, 4, 4), (2, 3, 4), (1, 5, 2)];

/// The library's Elman cell with the given weights.
pub fn library_cell(
    w_ih: &Array2<f64>,
    w_hh: &Array2<f64>,
    b_ih: &Array1<f64>,
    b_hh: &Array1<f64>,
) -> Elman {
    Elman {
        weight_ih: w_ih.clone(),
        weight_hh: w_hh.clone(),
        bias_ih: b_ih.clone(),
        bias_hh: b_hh.clone(),
        nonlinearity: Nonlinearity::Tanh,
    }
}

/// Checks the learner's `elman_step(x, h_prev, w_ih, w_hh, b_ih, b_hh) -> h` against `rnn::cells::Elman`.
#[track_caller]
pub fn check_elman_step(
    step: impl Fn(
        &Array2<f64>,
        &Array2<f64>,
        &Array2<f64>,
        &Array2<f64>,
        &Array1<f64>,
        &Array1<f64>,
    ) -> Array2<f64>,
) {
    let mut rng = rnn::init::rng(1);
    for (b, d, h) in SHAPES {
        let x = rand2(b, d, 1.0, &mut rng);
        let h_prev = rand2(b, h, 0.8, &mut rng);
        let w_ih = rand2(h, d, 0.7, &mut rng);
        let w_hh = rand2(h, h, 0.7, &mut rng);
        let b_ih = rand1(h, 0.5, &mut rng);
        let b_hh = rand1(h, 0.5, &mut rng);
        let got = run(LAB, || step(&x, &h_prev, &w_ih, &w_hh, &b_ih, &b_hh));
        check_shape(LAB, "h", got.shape(), &[b, h], "(B, H)");
        let cell = library_cell(&w_ih, &w_hh, &b_ih, &b_hh);
        let (want, _) = cell.forward(x.view(), &State::from_h(h_prev.clone()));
        let pre = x.dot(&w_ih.t()) + &b_ih + h_prev.dot(&w_hh.t()) + &b_hh;
        let mut mistakes = vec![
            Mistake::new(
                "no tanh",
                "The step is h = tanh(a) with a = x·W_ihᵀ + b_ih + h_prev·W_hhᵀ + b_hh: apply `.mapv(f64::tanh)` to a.",
                pre.clone().into_dyn(),
            ),
            Mistake::new(
                "missing a bias",
                "PyTorch's cell has two biases, b_ih and b_hh; add both.",
                (&pre - &b_hh).mapv(f64::tanh).into_dyn(),
            ),
            Mistake::new(
                "missing a bias",
                "PyTorch's cell has two biases, b_ih and b_hh; add both.",
                (&pre - &b_ih).mapv(f64::tanh).into_dyn(),
            ),
            Mistake::new(
                "ignoring h_prev",
                "The recurrence is the point: add h_prev·W_hhᵀ.",
                (x.dot(&w_ih.t()) + &b_ih + &b_hh)
                    .mapv(f64::tanh)
                    .into_dyn(),
            ),
        ];
        let transpose_fix = "Batches are rows, so the products are x·W_ihᵀ and h_prev·W_hhᵀ \
                             (`x.dot(&w_ih.t())`), not x·W_ih.";
        let with_t = x.dot(&w_ih.t());
        let hh_no_t = h_prev.dot(&w_hh);
        let mut wrong = vec![&with_t + &b_ih + &hh_no_t + &b_hh];
        if d == h {
            let ih_no_t = x.dot(&w_ih);
            wrong.push(&ih_no_t + &b_ih + h_prev.dot(&w_hh.t()) + &b_hh);
            wrong.push(&ih_no_t + &b_ih + &hh_no_t + &b_hh);
        }
        for a in wrong {
            mistakes.push(Mistake::new(
                "missing transpose",
                transpose_fix,
                a.mapv(f64::tanh).into_dyn(),
            ));
        }
        check(
            LAB,
            "h",
            got.view().into_dyn(),
            want.h.view().into_dyn(),
            EXACT,
            &mistakes,
            "compare your formula term by term with h = tanh(x·W_ihᵀ + b_ih + h_prev·W_hhᵀ + b_hh).",
        );
    }
}
