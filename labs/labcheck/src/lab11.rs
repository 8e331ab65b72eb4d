//! Lab 11: backpropagation through time for the GRU (PyTorch's reset-after form, (8.9)-(8.12)), the step
//! backward (8.13)-(8.30a) and the loop over the sequence (4.7).

use ndarray::{Array2, Array3, ArrayD, Axis};
use rnn::bptt::{bptt, unroll};
use rnn::cells::State;
use rnn::params::Parameters;

use crate::lab04::{NO_DH_NEXT, OVERWRITE};
use crate::lab07::{Variant, check_cell_grads, forward_first};
use crate::lab08::{GruBackward, GruForward, library_gru};
use crate::lab10::{
    FORWARD_FIX, FORWARD_IN_TIME, LAST_ONLY, LAST_ONLY_FIX, NO_DH_NEXT_FIX, NO_FINAL_GRAD, SeqCase,
    grads_dyn, numeric_seq_grads, seq_cases,
};
use crate::reference::{self, GruForm, GruSlip, SeqSlip};
use crate::report::{EXACT, all_close, check_shape, fail, run as run_learner, run_backward};
use crate::{Grads, rand1, rand2};

const LAB_STEP: &str = "lab 11 · gru_step_backward";
const LAB_BPTT: &str = "lab 11 · gru_bptt";

/// Checks the learner's GRU step backward (lab 11's, on lab 11's given forward) against
/// `rnn::cells::Gru::backward` and finite differences, naming the classic mistakes: z's role flipped, the
/// reset gate's backward of Cho et al.'s form, the direct path forgotten, overwriting.
#[track_caller]
pub fn check_gru_step_backward<C>(forward: impl GruForward<C>, backward: impl GruBackward<C>) {
    crate::lab08::check_step_backward(
        LAB_STEP,
        "lab 8's check_gru_forward; gru_step is given, restore it from solutions/lab11_gru_bptt.rs",
        forward,
        backward,
    );
}

/// The learner's GRU BPTT: `(caches, w_ih, w_hh, dys, dh_last) -> (grads, dxs, dh0)`.
pub trait GruBptt<C>:
    Fn(
    &[C],
    &Array2<f64>,
    &Array2<f64>,
    &Array3<f64>,
    &Array2<f64>,
) -> (Grads, Array3<f64>, Array2<f64>)
{
}
impl<C, F> GruBptt<C> for F where
    F: Fn(
        &[C],
        &Array2<f64>,
        &Array2<f64>,
        &Array3<f64>,
        &Array2<f64>,
    ) -> (Grads, Array3<f64>, Array2<f64>)
{
}

/// `true` if the learner's step backward gives the library's answer on one step (with non-zero gradients to
/// add into).
fn step_is_right<C>(forward: &impl GruForward<C>, backward: &impl GruBackward<C>) -> bool {
    let k = crate::lab07::cases(3, 1110, false).swap_remove(0);
    let mut rng = rnn::init::rng(1111);
    let (b, h) = k.h.dim();
    let d = k.x.ncols();
    let dh = rand2(b, h, 1.0, &mut rng);
    let start = Grads {
        w_ih: rand2(3 * h, d, 1.0, &mut rng),
        w_hh: rand2(3 * h, h, 1.0, &mut rng),
        b_ih: rand1(3 * h, 1.0, &mut rng),
        b_hh: rand1(3 * h, 1.0, &mut rng),
    };
    let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let (_, cache) = forward(&k.x, &k.h, &k.w_ih, &k.w_hh, &k.b_ih, &k.b_hh);
        let mut g = start.clone();
        let (dx, dprev) = backward(&cache, &k.w_ih, &k.w_hh, &dh, &mut g);
        let mut all: Vec<ArrayD<f64>> = grads_dyn(&g)
            .iter()
            .zip(grads_dyn(&start))
            .map(|(a, s)| a - &s)
            .collect();
        all.extend([dx.into_dyn(), dprev.into_dyn()]);
        all
    }));
    let Ok(got) = got else { return false };
    let want = reference::gru_backward(
        &k.x,
        &k.h,
        &k.w_ih,
        &k.w_hh,
        &k.b_ih,
        &k.b_hh,
        &dh,
        GruSlip::None,
    );
    all_close(&got, &want, EXACT)
}

/// Checks the learner's `gru_bptt` against `rnn::bptt::bptt` on an `rnn::cells::Gru` and finite differences of
/// `L = Σ dys ⊙ hs + Σ dh_last ⊙ h_T`, naming the classic mistakes. Its BPTT calls the learner's step backward:
/// if that is wrong, the message says to fix it first.
#[track_caller]
pub fn check_gru_bptt<C>(
    forward: impl GruForward<C>,
    step_backward: impl GruBackward<C>,
    learner: impl GruBptt<C>,
) {
    if !step_is_right(&forward, &step_backward) {
        fail(
            LAB_BPTT,
            "gru_step_backward is wrong (its own check, check_gru_step_backward, says how), and gru_bptt calls it \
             at every step, so BPTT cannot be right yet.\n  Fix gru_step_backward first.",
        );
    }
    for (k, dys, dh_last, _) in seq_cases(3, 11) {
        let (t_len, b, d) = k.xs.dim();
        let h = k.h0.ncols();
        // the given forward, step by step
        let mut hh = k.h0.clone();
        let mut caches = Vec::new();
        for t in 0..t_len {
            let x = k.xs.index_axis(Axis(0), t).to_owned();
            let (got_h, cache) = run_learner(LAB_BPTT, || {
                forward(&x, &hh, &k.w_ih, &k.w_hh, &k.b_ih, &k.b_hh)
            });
            let want_h = reference::gru_step(
                &x,
                &hh,
                &k.w_ih,
                &k.w_hh,
                &k.b_ih,
                &k.b_hh,
                GruForm::PyTorch,
            );
            if let Err(m) = forward_first(
                &[&got_h],
                &[&want_h],
                "gru_step (given)",
                "lab 8's check_gru_forward",
            ) {
                fail(LAB_BPTT, m);
            }
            caches.push(cache);
            hh = want_h;
        }
        let (g, dxs, dh0) = run_backward(LAB_BPTT, || {
            learner(&caches, &k.w_ih, &k.w_hh, &dys, &dh_last)
        });
        check_shape(LAB_BPTT, "dxs", dxs.shape(), &[t_len, b, d], "(T, B, D)");
        check_shape(LAB_BPTT, "dh0", dh0.shape(), &[b, h], "(B, H)");
        check_shape(
            LAB_BPTT,
            "grads.w_ih",
            g.w_ih.shape(),
            &[3 * h, d],
            "(3H, D)",
        );
        check_shape(
            LAB_BPTT,
            "grads.w_hh",
            g.w_hh.shape(),
            &[3 * h, h],
            "(3H, H)",
        );
        let mut got = grads_dyn(&g);
        got.extend([dxs.into_dyn(), dh0.into_dyn()]);

        let gru = library_gru(&k.step(0, &k.h0, &k.c0));
        let run = unroll(&gru, k.xs.view(), &State::from_h(k.h0.clone()));
        let mut lib = gru.zeros_like();
        let d_last = State::from_h(dh_last.clone());
        let (lib_dxs, lib_d0) = bptt(&gru, &run.caches, dys.view(), Some(&d_last), &mut lib);
        let library = vec![
            lib.weight_ih.into_dyn(),
            lib.weight_hh.into_dyn(),
            lib.bias_ih.into_dyn(),
            lib.bias_hh.into_dyn(),
            lib_dxs.into_dyn(),
            lib_d0.h.into_dyn(),
        ];
        let loss = |kk: &SeqCase| {
            let mut hh = kk.h0.clone();
            let mut l = 0.0;
            for t in 0..t_len {
                let x = kk.xs.index_axis(Axis(0), t).to_owned();
                hh = reference::gru_step(
                    &x,
                    &hh,
                    &kk.w_ih,
                    &kk.w_hh,
                    &kk.b_ih,
                    &kk.b_hh,
                    GruForm::PyTorch,
                );
                l += (&hh * &dys.index_axis(Axis(0), t)).sum();
            }
            l + (&hh * &dh_last).sum()
        };
        let numeric = numeric_seq_grads(&k, &loss, false);
        let slip = |s: SeqSlip| reference::gru_bptt(&k, &dys, &dh_last, s, GruSlip::None);
        let variants: Vec<Variant> = vec![
            (LAST_ONLY, LAST_ONLY_FIX, slip(SeqSlip::LastStepOnly)),
            (NO_DH_NEXT, NO_DH_NEXT_FIX, slip(SeqSlip::NoDhNext)),
            (
                OVERWRITE,
                "The same weights are used at every step, so their gradient is the sum over steps: pass the same \
                 `&mut grads` to gru_step_backward at every step (it adds with +=), never a fresh one.",
                slip(SeqSlip::Overwrite),
            ),
            (FORWARD_IN_TIME, FORWARD_FIX, slip(SeqSlip::ForwardInTime)),
            (
                NO_FINAL_GRAD,
                "dh_last is ∂L/∂h_T from later use (the next chunk, a decoder): start with dh_next = dh_last, not \
                 zeros.",
                slip(SeqSlip::NoFinalGrad),
            ),
        ];
        let sum = "the sum over steps of what gru_step_backward adds, all into one grads";
        check_cell_grads(
            LAB_BPTT,
            &got,
            &library,
            &numeric,
            &[
                ("dW_ih", &format!("{sum} (8.25).")),
                ("dW_hh", &format!("{sum} (8.29a).")),
                ("db_ih", &format!("{sum} (8.26).")),
                ("db_hh", &format!("{sum} (8.27).")),
                (
                    "dxs",
                    "dxs[t] is the dx that gru_step_backward returns at step t (8.28).",
                ),
                (
                    "dh0",
                    "dh0 is the dh_prev of step 0 (8.30a), after walking t from T-1 down to 0 with \
                     dh_t = dys[t] + dh_next (4.7).",
                ),
            ],
            &variants,
        );
    }
}

#[cfg(test)]
mod tests {
    //! The sequence reference agrees with the library when no slip is switched on.

    use super::*;
    use crate::report::is_close;

    #[test]
    fn gru_bptt_reference_matches_the_library() {
        for (k, dys, dh_last, _) in seq_cases(3, 4) {
            let gru = library_gru(&k.step(0, &k.h0, &k.c0));
            let run = unroll(&gru, k.xs.view(), &State::from_h(k.h0.clone()));
            let mut lib = gru.zeros_like();
            let d_last = State::from_h(dh_last.clone());
            let (dxs, d0) = bptt(&gru, &run.caches, dys.view(), Some(&d_last), &mut lib);
            let want = reference::gru_bptt(&k, &dys, &dh_last, SeqSlip::None, GruSlip::None);
            let lib_all = [
                lib.weight_ih.into_dyn(),
                lib.weight_hh.into_dyn(),
                lib.bias_ih.into_dyn(),
                lib.bias_hh.into_dyn(),
                dxs.into_dyn(),
                d0.h.into_dyn(),
            ];
            for (a, w) in lib_all.iter().zip(&want) {
                assert!(is_close(&a.view(), &w.view(), EXACT));
            }
        }
    }

    #[test]
    fn cho_backward_reference_matches_the_library_on_cho_values() {
        // The ResetBefore slip is the backward of (8.11b): on a forward that *is* (8.11b), it must agree with
        // the library's GruVariant::ResetBefore.
        for k in crate::lab07::cases(3, 5, false) {
            let mut gru = library_gru(&k);
            gru.variant = rnn::cells::GruVariant::ResetBefore;
            let (b, h) = k.h.dim();
            let dh = rand2(b, h, 1.0, &mut rnn::init::rng(6));
            let (_, cache) =
                rnn::cells::Cell::forward(&gru, k.x.view(), &State::from_h(k.h.clone()));
            let mut lib = gru.zeros_like();
            let (dx, dprev) =
                rnn::cells::Cell::backward(&gru, &cache, &State::from_h(dh.clone()), &mut lib);
            let want = [
                lib.weight_ih.into_dyn(),
                lib.weight_hh.into_dyn(),
                lib.bias_ih.into_dyn(),
                lib.bias_hh.into_dyn(),
                dx.into_dyn(),
                dprev.h.into_dyn(),
            ];
            let got =
                reference::gru_backward_cho(&k.x, &k.h, &k.w_ih, &k.w_hh, &k.b_ih, &k.b_hh, &dh);
            for (a, w) in got.iter().zip(&want) {
                assert!(is_close(&a.view(), &w.view(), EXACT));
            }
        }
    }
}
