//! Lab 4: the Elman step backward, and backpropagation through time with dh_next.

use ndarray::{Array1, Array2, Array3, Axis};
use rnn::bptt::{bptt, unroll};
use rnn::cells::{Cell, Elman, State};
use rnn::params::Parameters;

use crate::lab01::{SHAPES, library_cell};
use crate::report::{EXACT, Mistake, check, check_shape, is_close, run_backward};
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
pub(crate) const OVERWRITE_FIX: &str = "The same weights are used at every time step, so their gradient is the *sum* over \
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

/// One case of the step backward: random inputs, weights and incoming gradient `dh`, the non-zero
/// gradients the learner adds into (as in the middle of BPTT), and the library's answer.
struct StepCase {
    x: Array2<f64>,
    h_prev: Array2<f64>,
    h: Array2<f64>,
    cell: Elman,
    dh: Array2<f64>,
    start: Grads,
    /// `start` plus the library's increments.
    want: Grads,
    want_dx: Array2<f64>,
    want_dprev: Array2<f64>,
}

impl StepCase {
    fn new(b: usize, d: usize, h: usize, rng: &mut rnn::init::Rng) -> Self {
        let x = rand2(b, d, 1.0, rng);
        let h_prev = rand2(b, h, 0.8, rng);
        let cell = library_cell(
            &rand2(h, d, 0.7, rng),
            &rand2(h, h, 0.7, rng),
            &rand1(h, 0.5, rng),
            &rand1(h, 0.5, rng),
        );
        let dh = rand2(b, h, 1.0, rng);
        let (next, cache) = cell.forward(x.view(), &State::from_h(h_prev.clone()));
        let start = Grads {
            w_ih: rand2(h, d, 1.0, rng),
            w_hh: rand2(h, h, 1.0, rng),
            b_ih: rand1(h, 1.0, rng),
            b_hh: rand1(h, 1.0, rng),
        };
        let mut lib = cell.zeros_like();
        let (want_dx, want_dprev) = cell.backward(&cache, &State::from_h(dh.clone()), &mut lib);
        let mut want = start.clone();
        add(&mut want, &as_grads(&lib));
        StepCase {
            x,
            h_prev,
            h: next.h,
            cell,
            dh,
            start,
            want,
            want_dx,
            want_dprev: want_dprev.h,
        }
    }

    /// The learner's backward on this case, adding into a copy of `start`: (grads, dx, dh_prev).
    fn run(&self, backward: &impl StepBackward) -> (Grads, Array2<f64>, Array2<f64>) {
        let mut got = self.start.clone();
        let (dx, dh_prev) = backward(
            &self.x,
            &self.h_prev,
            &self.h,
            &self.cell.weight_ih,
            &self.cell.weight_hh,
            &self.dh,
            &mut got,
        );
        (got, dx, dh_prev)
    }
}

/// Checks `elman_step_backward` against `rnn::cells::Elman::backward`, including that it *adds* into
/// `grads` rather than overwriting them.
#[track_caller]
pub fn check_step_backward(backward: impl StepBackward) {
    let mut rng = rnn::init::rng(4);
    for (b, d, h) in SHAPES {
        let case = StepCase::new(b, d, h, &mut rng);
        let StepCase {
            x,
            h_prev,
            cell,
            dh,
            start,
            ..
        } = &case;
        let (got, dx, dh_prev) = run_backward(LAB_STEP, || case.run(&backward));
        check_shape(LAB_STEP, "dx", dx.shape(), &[b, d], "(B, D)");
        check_shape(LAB_STEP, "dh_prev", dh_prev.shape(), &[b, h], "(B, H)");

        let variants = step_variants(
            x,
            h_prev,
            &case.h,
            &cell.weight_ih,
            &cell.weight_hh,
            dh,
            start,
        );
        let pick = |k: usize| -> Vec<Mistake> {
            variants
                .iter()
                .map(|v| Mistake::new(v.name, v.fix, v.tensors[k].clone()).with_detail(&v.detail))
                .collect()
        };
        let hints = [
            "with da = dh ⊙ (1 - h²): dW_ih += daᵀ·x (4.2).",
            "with da = dh ⊙ (1 - h²): dW_hh += daᵀ·h_prev (4.3).",
            "with da = dh ⊙ (1 - h²): db_ih += Σ_rows da (4.4).",
            "with da = dh ⊙ (1 - h²): db_hh += Σ_rows da (4.4).",
            "dx = da·W_ih with da = dh ⊙ (1 - h²) (4.5).",
            "dh_prev = da·W_hh with da = dh ⊙ (1 - h²) (4.6). This is the dh_next of step t-1.",
        ];
        let got_t = [
            got.w_ih.clone().into_dyn(),
            got.w_hh.clone().into_dyn(),
            got.b_ih.clone().into_dyn(),
            got.b_hh.clone().into_dyn(),
            dx.into_dyn(),
            dh_prev.into_dyn(),
        ];
        let want_t = [
            case.want.w_ih.clone().into_dyn(),
            case.want.w_hh.clone().into_dyn(),
            case.want.b_ih.clone().into_dyn(),
            case.want.b_hh.clone().into_dyn(),
            case.want_dx.clone().into_dyn(),
            case.want_dprev.clone().into_dyn(),
        ];
        for (k, name) in ["dW_ih", "dW_hh", "db_ih", "db_hh", "dx", "dh_prev"]
            .iter()
            .enumerate()
        {
            check(
                LAB_STEP,
                name,
                got_t[k].view(),
                want_t[k].view(),
                EXACT,
                &pick(k),
                hints[k],
            );
        }
    }
}

fn add(g: &mut Grads, other: &Grads) {
    g.w_ih += &other.w_ih;
    g.w_hh += &other.w_hh;
    g.b_ih += &other.b_ih;
    g.b_hh += &other.b_hh;
}

/// One single-term change of the step backward and the six tensors it gives
/// (dW_ih, dW_hh, db_ih, db_hh after adding into `start`, then dx, dh_prev).
struct Variant {
    name: &'static str,
    detail: String,
    fix: &'static str,
    tensors: Vec<ndarray::ArrayD<f64>>,
}

/// The answers of every plausible single-term change of (4.1)-(4.6): the derivative of tanh forgotten,
/// taken at the wrong cached value or of tanh applied twice; h where h_prev belongs; a transposed product;
/// the weights swapped; a bias gradient averaged or left out; gradients overwritten instead of added.
#[allow(clippy::too_many_arguments)]
fn step_variants(
    x: &Array2<f64>,
    h_prev: &Array2<f64>,
    h: &Array2<f64>,
    w_ih: &Array2<f64>,
    w_hh: &Array2<f64>,
    dh: &Array2<f64>,
    start: &Grads,
) -> Vec<Variant> {
    let (b, d, hs) = (x.nrows(), x.ncols(), h.ncols());
    let square = d == hs;
    // The right terms, each of which one variant changes.
    // (4.1)
    let da = dh * &h.mapv(|v| 1.0 - v * v);
    let terms = |da: &Array2<f64>| -> [Array2<f64>; 3] {
        [da.t().dot(x), da.t().dot(h_prev), da.dot(w_ih)]
    };
    let build = |gw_ih: Array2<f64>,
                 gw_hh: Array2<f64>,
                 gb_ih: Array1<f64>,
                 gb_hh: Array1<f64>,
                 dx: Array2<f64>,
                 dprev: Array2<f64>,
                 overwrite: bool| {
        let base = if overwrite {
            Grads::zeros(hs, d, hs)
        } else {
            start.clone()
        };
        vec![
            (&base.w_ih + &gw_ih).into_dyn(),
            (&base.w_hh + &gw_hh).into_dyn(),
            (&base.b_ih + &gb_ih).into_dyn(),
            (&base.b_hh + &gb_hh).into_dyn(),
            dx.into_dyn(),
            dprev.into_dyn(),
        ]
    };
    let right = |da: &Array2<f64>, overwrite: bool| {
        let [gi, gh, dx] = terms(da);
        let sum = da.sum_axis(Axis(0));
        build(gi, gh, sum.clone(), sum, dx, da.dot(w_hh), overwrite)
    };
    let v = |name: &'static str,
             detail: &str,
             fix: &'static str,
             tensors: Vec<ndarray::ArrayD<f64>>| Variant {
        name,
        detail: detail.to_string(),
        fix,
        tensors,
    };
    let tanh_fix = "h = tanh(a), so ∂L/∂a = dh ⊙ (1 - h²) (4.1), with h the step's *output* (tanh already \
                    applied), before anything else.";
    let sum = da.sum_axis(Axis(0));
    let [gi, gh, dx] = terms(&da);
    let dprev = da.dot(w_hh);
    let mut out = vec![
        v(OVERWRITE, "", OVERWRITE_FIX, right(&da, true)),
        v(
            "forgetting the tanh derivative",
            "",
            tanh_fix,
            right(dh, false),
        ),
        v(
            "the tanh derivative at the wrong cached value",
            "you used 1 - h_prev² instead of 1 - h²",
            tanh_fix,
            right(&(dh * &h_prev.mapv(|v| 1.0 - v * v)), false),
        ),
        v(
            "the tanh derivative at the wrong cached value",
            "you used 1 - tanh²(h): h already is tanh(a), so it is 1 - h²",
            tanh_fix,
            right(&(dh * &h.mapv(|v| 1.0 - v.tanh() * v.tanh())), false),
        ),
        v(
            "the wrong cached value in dW_hh",
            "you used h (the step's output) where h_prev (its input) belongs",
            "W_hh multiplies h_prev in the forward, so dW_hh += daᵀ·h_prev (4.3).",
            build(
                gi.clone(),
                da.t().dot(h),
                sum.clone(),
                sum.clone(),
                dx.clone(),
                dprev.clone(),
                false,
            ),
        ),
        v(
            "a missing bias gradient",
            "db_hh got nothing",
            "Both biases are added to a, so both get Σ_rows da (4.4).",
            build(
                gi.clone(),
                gh.clone(),
                sum.clone(),
                Array1::zeros(hs),
                dx.clone(),
                dprev.clone(),
                false,
            ),
        ),
        v(
            "a missing bias gradient",
            "db_ih got nothing",
            "Both biases are added to a, so both get Σ_rows da (4.4).",
            build(
                gi.clone(),
                gh.clone(),
                Array1::zeros(hs),
                sum.clone(),
                dx.clone(),
                dprev.clone(),
                false,
            ),
        ),
        v(
            "averaging the bias gradient over the batch",
            "",
            "The loss already carries any 1/B: the bias gradient is the plain sum Σ_rows da (4.4).",
            build(
                gi.clone(),
                gh.clone(),
                &sum / b as f64,
                &sum / b as f64,
                dx.clone(),
                dprev.clone(),
                false,
            ),
        ),
        v(
            "the gradient of dh_prev taken through the wrong weight",
            "you used W_ih",
            "h_prev is multiplied by W_hh in the forward, so dh_prev = da·W_hh (4.6).",
            if square {
                build(
                    gi.clone(),
                    gh.clone(),
                    sum.clone(),
                    sum.clone(),
                    dx.clone(),
                    da.dot(w_ih),
                    false,
                )
            } else {
                vec![]
            },
        ),
        v(
            "forgetting da in dh_prev",
            "you used dh·W_hh",
            "The gradient reaches h_prev through a, so dh_prev = da·W_hh with da = dh ⊙ (1 - h²) (4.6).",
            build(
                gi.clone(),
                gh.clone(),
                sum.clone(),
                sum.clone(),
                dx.clone(),
                dh.dot(w_hh),
                false,
            ),
        ),
    ];
    let transpose_fix = "In the backward the products are the forward's, transposed, on the other side: \
                         dx = da·W_ih (`da.dot(w_ih)`, no `.t()`), dh_prev = da·W_hh, dW_ih = daᵀ·x \
                         (`da.t().dot(x)`), dW_hh = daᵀ·h_prev.";
    out.push(v(
        "multiplying by the transposed weight",
        "in dh_prev: you computed da·W_hhᵀ",
        transpose_fix,
        build(
            gi.clone(),
            gh.clone(),
            sum.clone(),
            sum.clone(),
            dx.clone(),
            da.dot(&w_hh.t()),
            false,
        ),
    ));
    out.push(v(
        "a transposed outer product",
        "in dW_hh: you computed h_prevᵀ·da",
        transpose_fix,
        build(
            gi.clone(),
            h_prev.t().dot(&da),
            sum.clone(),
            sum.clone(),
            dx.clone(),
            dprev.clone(),
            false,
        ),
    ));
    if square {
        out.push(v(
            "multiplying by the transposed weight",
            "in dx: you computed da·W_ihᵀ",
            transpose_fix,
            build(
                gi.clone(),
                gh.clone(),
                sum.clone(),
                sum.clone(),
                da.dot(&w_ih.t()),
                dprev.clone(),
                false,
            ),
        ));
        out.push(v(
            "a transposed outer product",
            "in dW_ih: you computed xᵀ·da",
            transpose_fix,
            build(
                x.t().dot(&da),
                gh.clone(),
                sum.clone(),
                sum.clone(),
                dx.clone(),
                dprev.clone(),
                false,
            ),
        ));
        out.push(v(
            "the gradient of dx taken through the wrong weight",
            "you used W_hh",
            "x is multiplied by W_ih in the forward, so dx = da·W_ih (4.5).",
            build(gi, gh, sum.clone(), sum, da.dot(w_hh), dprev, false),
        ));
    }
    out.retain(|v| !v.tensors.is_empty());
    out
}

/// `true` if the learner's step backward gives the library's answer on one small step (used to say "fix the
/// step first" instead of diagnosing BPTT).
fn step_is_right(backward: &impl StepBackward) -> bool {
    let case = StepCase::new(2, 3, 4, &mut rnn::init::rng(404));
    let Ok((got, dx, dprev)) =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| case.run(backward)))
    else {
        return false;
    };
    let want = &case.want;
    let close =
        |a: ndarray::ArrayViewD<'_, f64>, b: ndarray::ArrayViewD<'_, f64>| is_close(&a, &b, EXACT);
    close(dx.view().into_dyn(), case.want_dx.view().into_dyn())
        && close(dprev.view().into_dyn(), case.want_dprev.view().into_dyn())
        && close(got.w_ih.view().into_dyn(), want.w_ih.view().into_dyn())
        && close(got.w_hh.view().into_dyn(), want.w_hh.view().into_dyn())
        && close(got.b_ih.view().into_dyn(), want.b_ih.view().into_dyn())
        && close(got.b_hh.view().into_dyn(), want.b_hh.view().into_dyn())
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

/// Checks the learner's `bptt` against `rnn::bptt::bptt`, naming the classic mistakes. `step_backward` is the
/// learner's step, which their BPTT calls: if it is wrong, the message says to fix it first instead of
/// diagnosing BPTT.
#[track_caller]
pub fn check_bptt(step_backward: impl StepBackward, learner: impl Bptt) {
    if !step_is_right(&step_backward) {
        crate::report::fail(
            LAB_BPTT,
            "elman_step_backward is wrong (its own check, check_step_backward, says how), and bptt \
             calls it at every step, so BPTT cannot be right yet.\n  Fix elman_step_backward first.",
        );
    }
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
        let (got, dxs, dh0) = crate::report::run_backward(LAB_BPTT, || {
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
