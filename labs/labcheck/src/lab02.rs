//! Lab 2: unrolling the Elman step over a sequence `(T, B, D)`.

use ndarray::{Array1, Array2, Array3, Axis};
use rnn::bptt::unroll;
use rnn::cells::State;

use crate::lab01::library_cell;
use crate::report::{EXACT, Mistake, check, check_shape};
use crate::{rand1, rand2, rand3};

const LAB: &str = "lab 2 · unroll";

/// Checks the learner's `unroll(xs, h0, w_ih, w_hh, b_ih, b_hh) -> hs (T, B, H)` against
/// `rnn::bptt::unroll`.
#[track_caller]
pub fn check_unroll(
    unroll_fn: impl Fn(
        &Array3<f64>,
        &Array2<f64>,
        &Array2<f64>,
        &Array2<f64>,
        &Array1<f64>,
        &Array1<f64>,
    ) -> Array3<f64>,
) {
    let mut rng = rnn::init::rng(2);
    for (t, b, d, h) in [(5, 2, 3, 4), (1, 1, 2, 3), (7, 3, 2, 2)] {
        let xs = rand3(t, b, d, 1.0, &mut rng);
        let h0 = rand2(b, h, 0.8, &mut rng);
        let w_ih = rand2(h, d, 0.7, &mut rng);
        let w_hh = rand2(h, h, 0.7, &mut rng);
        let b_ih = rand1(h, 0.5, &mut rng);
        let b_hh = rand1(h, 0.5, &mut rng);
        let got = crate::report::run(LAB, || unroll_fn(&xs, &h0, &w_ih, &w_hh, &b_ih, &b_hh));
        check_shape(LAB, "hs", got.shape(), &[t, b, h], "(T, B, H)");
        let cell = library_cell(&w_ih, &w_hh, &b_ih, &b_hh);
        let want = unroll(&cell, xs.view(), &State::from_h(h0.clone())).outputs;

        // Mistake: every step starts again from h0.
        let mut restart = Array3::zeros((t, b, h));
        for s in 0..t {
            let x = xs.index_axis(Axis(0), s).to_owned();
            let one = x.dot(&w_ih.t()) + &b_ih + h0.dot(&w_hh.t()) + &b_hh;
            restart
                .index_axis_mut(Axis(0), s)
                .assign(&one.mapv(f64::tanh));
        }
        // Mistake: storing h_{t-1} instead of h_t.
        let mut shifted = Array3::zeros((t, b, h));
        shifted.index_axis_mut(Axis(0), 0).assign(&h0);
        for s in 1..t {
            shifted
                .index_axis_mut(Axis(0), s)
                .assign(&want.index_axis(Axis(0), s - 1));
        }
        // Mistake: starting from zeros instead of h0.
        let from_zero = unroll(&cell, xs.view(), &State::from_h(Array2::zeros((b, h)))).outputs;
        // Mistake: walking the sequence backwards (t = T-1 down to 0), storing each state at its own t.
        let mut backwards = Array3::zeros((t, b, h));
        {
            let mut hh = h0.clone();
            for s in (0..t).rev() {
                let x = xs.index_axis(Axis(0), s).to_owned();
                hh = (x.dot(&w_ih.t()) + &b_ih + hh.dot(&w_hh.t()) + &b_hh).mapv(f64::tanh);
                backwards.index_axis_mut(Axis(0), s).assign(&hh);
            }
        }
        // Mistake: the states right, stored in reverse order.
        let mut reversed = want.clone();
        reversed.invert_axis(Axis(0));
        let mistakes = [
            Mistake::new(
                "ignoring h0 (starting from zeros)",
                "The sequence starts from the state it is given: start the running h at h0, not at zeros.",
                from_zero.into_dyn(),
            ),
            Mistake::new(
                "walking the sequence backwards",
                "Step t reads xs[t] and h_{t-1}: loop t = 0, 1, ..., T-1 (forwards), starting from h0.",
                backwards.into_dyn(),
            ),
            Mistake::new(
                "storing the states in reverse order",
                "hs[t] is the state after step t: write it at index t.",
                reversed.into_dyn(),
            ),
            Mistake::new(
                "not carrying the hidden state",
                "Every step started again from h0. Keep a variable `h`, start it at h0, and set h = step(x_t, h) \
                 inside the loop so step t sees h_{t-1}.",
                restart.into_dyn(),
            ),
            Mistake::new(
                "outputs shifted by one step",
                "hs[t] must be the state *after* step t (h_t), not the one before it (h_{t-1}).",
                shifted.into_dyn(),
            ),
        ];
        check(
            LAB,
            "hs",
            got.view().into_dyn(),
            want.view().into_dyn(),
            EXACT,
            &mistakes,
            "loop t = 0..T, h = elman_step(xs[t], h), and store h in hs[t].",
        );
    }
}
