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
        let mistakes = forward_variants(&x, &h_prev, &w_ih, &w_hh, &b_ih, &b_hh);
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

/// The answers that single-term changes of the Elman step give: each term of the sum dropped, the wrong
/// activation, a missing transpose, the two weights swapped. Only a change that gives exactly the learner's
/// answer is named, so a variant that coincides with the right answer on some input never misleads.
pub fn forward_variants(
    x: &Array2<f64>,
    h_prev: &Array2<f64>,
    w_ih: &Array2<f64>,
    w_hh: &Array2<f64>,
    b_ih: &Array1<f64>,
    b_hh: &Array1<f64>,
) -> Vec<Mistake> {
    let (d, h) = (x.ncols(), h_prev.ncols());
    let xw = x.dot(&w_ih.t()); // (B, H)
    let hw = h_prev.dot(&w_hh.t()); // (B, H)
    // (2.1)
    let pre = &xw + b_ih + &hw + b_hh;
    let tanh = |a: &Array2<f64>| a.mapv(f64::tanh).into_dyn();
    let bias_fix = "PyTorch's cell has two biases, b_ih and b_hh; add both.";
    let mut ms = vec![
        Mistake::new(
            "no tanh",
            "The step is h = tanh(a) with a = x·W_ihᵀ + b_ih + h_prev·W_hhᵀ + b_hh: apply `.mapv(f64::tanh)` to a.",
            pre.clone().into_dyn(),
        ),
        Mistake::new(
            "the wrong activation",
            "The Elman cell of the course (and PyTorch's default) is h = tanh(a), not σ(a).",
            pre.mapv(rnn::activation::sigmoid).into_dyn(),
        )
        .with_detail("you applied the sigmoid σ"),
        Mistake::new(
            "the wrong activation",
            "The Elman cell of the course (and PyTorch's default) is h = tanh(a), not ReLU.",
            pre.mapv(|v| v.max(0.0)).into_dyn(),
        )
        .with_detail("you applied ReLU"),
        Mistake::new("missing a bias", bias_fix, tanh(&(&pre - b_hh)))
            .with_detail("b_hh is missing"),
        Mistake::new("missing a bias", bias_fix, tanh(&(&pre - b_ih)))
            .with_detail("b_ih is missing"),
        Mistake::new("missing both biases", bias_fix, tanh(&(&pre - b_ih - b_hh))),
        Mistake::new(
            "ignoring h_prev",
            "The recurrence is the point: add h_prev·W_hhᵀ.",
            tanh(&(&pre - &hw)),
        ),
        Mistake::new(
            "ignoring the input x",
            "The step reads the input too: add x·W_ihᵀ.",
            tanh(&(&pre - &xw)),
        ),
    ];
    let transpose_fix = "Batches are rows, so the products are x·W_ihᵀ and h_prev·W_hhᵀ \
                         (`x.dot(&w_ih.t())`), not x·W_ih.";
    let hw_no_t = h_prev.dot(w_hh);
    let mut wrong = vec![("h_prev·W_hh", &xw + b_ih + &hw_no_t + b_hh)];
    if d == h {
        let xw_no_t = x.dot(w_ih);
        wrong.push(("x·W_ih", &xw_no_t + b_ih + &hw + b_hh));
        wrong.push(("x·W_ih and h_prev·W_hh", &xw_no_t + b_ih + &hw_no_t + b_hh));
        ms.push(Mistake::new(
            "swapping W_ih and W_hh",
            "W_ih multiplies the input x, W_hh the previous state h_prev: x·W_ihᵀ + h_prev·W_hhᵀ.",
            tanh(&(x.dot(&w_hh.t()) + b_ih + h_prev.dot(&w_ih.t()) + b_hh)),
        ));
    }
    for (which, a) in wrong {
        ms.push(
            Mistake::new("missing transpose", transpose_fix, tanh(&a))
                .with_detail(&format!("you computed {which}")),
        );
    }
    ms
}
