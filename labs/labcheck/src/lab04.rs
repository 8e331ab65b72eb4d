//! Lab 4: the Elman step backward, and backpropagation through time with dh_next.

use ndarray::{Array1, Array2, Array3, Axis};
use rnn::bptt::{bptt, unroll};
use rnn::cells::{Cell, Elman, State};
use rnn::params::Parameters;

use crate::lab01::{SHAPES, library_cell};
use crate::report::{EXACT, Mistake, check, check_shape, run};
use crate::{Grads, rand1, rand2, rand3};

const LAB_STEP: &str = "lab 4 · elman_step_backward";
const LAB_BPTT: &str = "lab 4 · bptt";

/// The name (and fix) of the classic BPTT mistake: the gradient from the future is dropped.
pub const NO_DH_NEXT: &str = "forgetting dh_next (not accumulating dh across time: only the loss gradient at each step was used)";
const NO_DH_NEXT_FIX: &str = "h_t is read by the loss at step t *and* by step t+1, so ∂L/∂h_t = dys[t] + dh_next, \
     where dh_next is the dh_prev that the backward of step t+1 returned. Start dh_next at zero, walk t from \
     T-1 down to 0, call the step backward with dys[t] + dh_next, and keep its dh_prev as the next dh_next.";
/// The name of the mistake where dh_next replaces the loss gradient instead of being added to it.
pub const REPLACE: &str = "using dh_next instead of adding it to the loss gradient";
const REPLACE_FIX: &str = "Both paths reach h_t: ∂L/∂h_t = dys[t] + dh_next. You dropped dys[t] (except at the \
     last step, where dh_next is zero).";
/// The name of the other classic mistake: parameter gradients overwritten at each step instead of summed.
pub const OVERWRITE: &str = "overwriting the parameter gradients instead of adding to them";
const OVERWRITE_FIX: &str = "The same weights are used at every time step, so their gradient is the *sum* over \
     steps: use `grads.w_ih += &...` (and the same for the other three), never `grads.w_ih = ...`.";

/// The learner's step backward:
/// `(x, h_prev, h, w_ih, w_hh, dh, &mut grads) -> (dx, dh_prev)`, adding into `grads`.
pub trait StepBackward:
    Fn(
    &Array2<f64>,
    &Array2<f64>,
    &Array2<f64>,
    &Array2<f64>,
    &Array2<f64>,
    &Array2<f64>,
    &mut Grads,
) -> (Array2<f64>, Array2<f64>)
{
}
impl<F> StepBackward for F where
    F: Fn(
        &Array2<f64>,
        &Array2<f64>,
        &Array2<f64>,
        &Array2<f64>,
        &Array2<f64>,
        &Array2<f64>,
        &mut Grads,
    ) -> (Array2<f64>, Array2<f64>)
{
}

fn as_grads(e: &Elman) -> Grads {
    Grads {
        w_ih: e.weight_ih.clone(),
        w_hh: e.weight_hh.clone(),
        b_ih: e.bias_ih.clone(),
        b_hh: e.bias_hh.clone(),
    }
}

#[track_caller]
fn check_grads(
    lab: &str,
    got: &Grads,
    want: &Grads,
    mistakes: &[(&'static str, &'static str, Grads)],
    hint: &str,
) {
    let pick = |g: &Grads, k: usize| -> ndarray::ArrayD<f64> {
        match k {
            0 => g.w_ih.clone().into_dyn(),
            1 => g.w_hh.clone().into_dyn(),
            2 => g.b_ih.clone().into_dyn(),
            _ => g.b_hh.clone().into_dyn(),
        }
    };
    for (k, name) in ["dW_ih", "dW_hh", "db_ih", "db_hh"].iter().enumerate() {
        let ms: Vec<Mistake> = mistakes
            .iter()
            .map(|(n, f, g)| Mistake::new(n, f, pick(g, k)))
            .collect();
        check(
            lab,
            name,
            pick(got, k).view(),
            pick(want, k).view(),
            EXACT,
            &ms,
            hint,
        );
    }
}

/// Checks `elman_step_backward` against `rnn::cells::Elman::backward`, including that it *adds* into
/// `grads` rather than overwriting them.
#[track_caller]
pub fn check_step_backward(backward: impl StepBackward) {
    let mut rng = rnn::init::rng(4);
    for (b, d, h) in SHAPES {
        let x = rand2(b, d, 1.0, &mut rng);
        let h_prev = rand2(b, h, 0.8, &mut rng);
        let cell = library_cell(
            &rand2(h, d, 0.7, &mut rng),
            &rand2(h, h, 0.7, &mut rng),
            &rand1(h, 0.5, &mut rng),
            &rand1(h, 0.5, &mut rng),
        );
        let dh = rand2(b, h, 1.0, &mut rng);
        let (next, cache) = cell.forward(x.view(), &State::from_h(h_prev.clone()));
        // Start from non-zero gradients, as in the middle of BPTT.
        let start = Grads {
            w_ih: rand2(h, d, 1.0, &mut rng),
            w_hh: rand2(h, h, 1.0, &mut rng),
            b_ih: rand1(h, 1.0, &mut rng),
            b_hh: rand1(h, 1.0, &mut rng),
        };
        let mut got = start.clone();
        let (dx, dh_prev) = run(LAB_STEP, || {
            backward(
                &x,
                &h_prev,
                &next.h,
                &cell.weight_ih,
                &cell.weight_hh,
                &dh,
                &mut got,
            )
        });
        check_shape(LAB_STEP, "dx", dx.shape(), &[b, d], "(B, D)");
        check_shape(LAB_STEP, "dh_prev", dh_prev.shape(), &[b, h], "(B, H)");

        let mut lib = cell.zeros_like();
        let (want_dx, want_dprev) = cell.backward(&cache, &State::from_h(dh.clone()), &mut lib);
        let step_only = as_grads(&lib);
        let mut want = start.clone();
        want.w_ih += &step_only.w_ih;
        want.w_hh += &step_only.w_hh;
        want.b_ih += &step_only.b_ih;
        want.b_hh += &step_only.b_hh;

        // Mistake: tanh' forgotten (da = dh).
        let da_wrong = dh.clone();
        let mut no_tanh = start.clone();
        no_tanh.w_ih += &da_wrong.t().dot(&x);
        no_tanh.w_hh += &da_wrong.t().dot(&h_prev);
        no_tanh.b_ih += &da_wrong.sum_axis(Axis(0));
        no_tanh.b_hh += &da_wrong.sum_axis(Axis(0));
        let no_tanh_fix = "h = tanh(a), so ∂L/∂a = dh ⊙ (1 - h²) before anything else.";
        // Mistake: tanh' taken of h_prev instead of h.
        check_grads(
            LAB_STEP,
            &got,
            &want,
            &[
                (OVERWRITE, OVERWRITE_FIX, step_only.clone()),
                ("forgetting the tanh derivative", no_tanh_fix, no_tanh),
            ],
            "with da = dh ⊙ (1 - h²): dW_ih += daᵀ·x, dW_hh += daᵀ·h_prev, db_ih += Σ_rows da, db_hh += Σ_rows da.",
        );
        check(
            LAB_STEP,
            "dx",
            dx.view().into_dyn(),
            want_dx.view().into_dyn(),
            EXACT,
            &[Mistake::new(
                "forgetting the tanh derivative",
                no_tanh_fix,
                dh.dot(&cell.weight_ih).into_dyn(),
            )],
            "dx = da·W_ih with da = dh ⊙ (1 - h²).",
        );
        check(
            LAB_STEP,
            "dh_prev",
            dh_prev.view().into_dyn(),
            want_dprev.h.view().into_dyn(),
            EXACT,
            &[Mistake::new(
                "forgetting the tanh derivative",
                no_tanh_fix,
                dh.dot(&cell.weight_hh).into_dyn(),
            )],
            "dh_prev = da·W_hh with da = dh ⊙ (1 - h²). This is the dh_next of step t-1.",
        );
    }
}

/// The learner's BPTT: `(xs, h0, hs, w_ih, w_hh, dys) -> (grads, dxs, dh0)`, where `hs` are the forward
/// states `(T, B, H)` and `dys[t]` = ∂L_t/∂h_t is the gradient from the loss at step t alone.
pub trait Bptt:
    Fn(
    &Array3<f64>,
    &Array2<f64>,
    &Array3<f64>,
    &Array2<f64>,
    &Array2<f64>,
    &Array3<f64>,
) -> (Grads, Array3<f64>, Array2<f64>)
{
}
impl<F> Bptt for F where
    F: Fn(
        &Array3<f64>,
        &Array2<f64>,
        &Array3<f64>,
        &Array2<f64>,
        &Array2<f64>,
        &Array3<f64>,
    ) -> (Grads, Array3<f64>, Array2<f64>)
{
}

/// Checks the learner's `bptt` against `rnn::bptt::bptt`, naming the classic mistakes.
#[track_caller]
pub fn check_bptt(learner: impl Bptt) {
    let mut rng = rnn::init::rng(44);
    for (t, b, d, h) in [(6, 2, 3, 4), (4, 1, 2, 3), (5, 3, 3, 3)] {
        let xs = rand3(t, b, d, 1.0, &mut rng);
        let h0 = rand2(b, h, 0.8, &mut rng);
        let cell = library_cell(
            &rand2(h, d, 0.9, &mut rng),
            &rand2(h, h, 0.9, &mut rng),
            &rand1(h, 0.5, &mut rng),
            &rand1(h, 0.5, &mut rng),
        );
        let dys = rand3(t, b, h, 1.0, &mut rng);
        let run = unroll(&cell, xs.view(), &State::from_h(h0.clone()));
        let (got, dxs, dh0) = crate::report::run(LAB_BPTT, || {
            learner(
                &xs,
                &h0,
                &run.outputs,
                &cell.weight_ih,
                &cell.weight_hh,
                &dys,
            )
        });
        check_shape(LAB_BPTT, "dxs", dxs.shape(), &[t, b, d], "(T, B, D)");
        check_shape(LAB_BPTT, "dh0", dh0.shape(), &[b, h], "(B, H)");

        let mut lib = cell.zeros_like();
        let (want_dxs, want_dh0) = bptt(&cell, &run.caches, dys.view(), None, &mut lib);
        let want = as_grads(&lib);

        // Mistake 1: each step only gets dys[t] (dh_next dropped).
        let mut no_next = cell.zeros_like();
        let mut no_next_dxs = Array3::zeros((t, b, d));
        let mut no_next_dh0 = Array2::zeros((b, h));
        // Mistake 2: parameter gradients overwritten at each step (only step 0's survive).
        let mut overwrite = cell.zeros_like();
        for s in (0..t).rev() {
            let d_only = State::from_h(dys.index_axis(Axis(0), s).to_owned());
            let (dx, dprev) = cell.backward(&run.caches[s], &d_only, &mut no_next);
            no_next_dxs.index_axis_mut(Axis(0), s).assign(&dx);
            if s == 0 {
                no_next_dh0 = dprev.h;
            }
        }
        {
            let mut d_next = cell.zero_state(b);
            for s in (0..t).rev() {
                d_next.h += &dys.index_axis(Axis(0), s);
                let mut step = cell.zeros_like();
                let (_, dprev) = cell.backward(&run.caches[s], &d_next, &mut step);
                overwrite = step;
                d_next = dprev;
            }
        }
        // Mistake 3: dh_next replaces the loss gradient instead of being added to it.
        let mut replace = cell.zeros_like();
        {
            let mut d_next = cell.zero_state(b);
            for s in (0..t).rev() {
                if s == t - 1 {
                    d_next.h.assign(&dys.index_axis(Axis(0), s));
                }
                let (_, dprev) = cell.backward(&run.caches[s], &d_next, &mut replace);
                d_next = dprev;
            }
        }
        check_grads(
            LAB_BPTT,
            &got,
            &want,
            &[
                (NO_DH_NEXT, NO_DH_NEXT_FIX, as_grads(&no_next)),
                (OVERWRITE, OVERWRITE_FIX, as_grads(&overwrite)),
                (REPLACE, REPLACE_FIX, as_grads(&replace)),
            ],
            "walk t from T-1 down to 0; at each step call elman_step_backward with dys[t] + dh_next and add into \
             the same grads.",
        );
        check(
            LAB_BPTT,
            "dxs",
            dxs.view().into_dyn(),
            want_dxs.view().into_dyn(),
            EXACT,
            &[Mistake::new(
                NO_DH_NEXT,
                NO_DH_NEXT_FIX,
                no_next_dxs.into_dyn(),
            )],
            "dxs[t] is the dx that step t's backward returns.",
        );
        check(
            LAB_BPTT,
            "dh0",
            dh0.view().into_dyn(),
            want_dh0.h.view().into_dyn(),
            EXACT,
            &[Mistake::new(
                NO_DH_NEXT,
                NO_DH_NEXT_FIX,
                no_next_dh0.into_dyn(),
            )],
            "dh0 is the dh_prev returned by the backward of step 0.",
        );
    }
}

/// The library's Elman with these weights (re-exported for the lab file's own experiments).
pub fn cell(
    w_ih: &Array2<f64>,
    w_hh: &Array2<f64>,
    b_ih: &Array1<f64>,
    b_hh: &Array1<f64>,
) -> Elman {
    library_cell(w_ih, w_hh, b_ih, b_hh)
}
