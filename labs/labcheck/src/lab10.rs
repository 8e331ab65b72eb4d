//! Lab 10: backpropagation through time for the LSTM over a whole sequence: the constant error carousel
//! (7.16) and ∂L/∂h_t = dys[t] + dh_next (4.7).

use ndarray::{Array1, Array2, Array3, ArrayD, Axis, Ix1, Ix2, Ix3};
use rnn::bptt::{bptt, unroll};
use rnn::cells::State;
use rnn::gradcheck::numeric_gradient;
use rnn::params::Parameters;

use crate::lab04::{NO_DH_NEXT, OVERWRITE, OVERWRITE_FIX};
use crate::lab07::{Case, LstmForward, Variant, check_cell_grads, forward_first, library_lstm};
use crate::reference::{self, LSTM_PYTORCH, LstmSlip, SeqSlip};
use crate::report::{EXACT, all_close, check_shape, fail, run as run_learner, run_backward};
use crate::{Grads, rand1, rand2, rand3};

const LAB: &str = "lab 10 · lstm_bptt";

/// The name of the carousel mistake: dc carried to step t-1 without the forget gate.
pub const DC_WITHOUT_F: &str = "carrying dc to step t-1 without the forget gate";
/// The name of the mistake where the cell-state gradient is not carried from step to step.
pub const DC_DROPPED: &str = "dropping dc between steps";
/// The name of the mistake where only the last step's loss gradient is used.
pub const LAST_ONLY: &str = "using the loss gradient of the last step only";
/// The name of the mistake where the loop runs forward in time.
pub const FORWARD_IN_TIME: &str = "walking forward in time";
/// The name of the mistake where the gradients on the final state are ignored.
pub const NO_FINAL_GRAD: &str = "ignoring the gradient on the final state";

pub(crate) const LAST_ONLY_FIX: &str = "Every h_t is read by the loss, not only the last: ∂L/∂h_t = dys[t] + dh_next \
     (4.7) at every step t.";
pub(crate) const NO_DH_NEXT_FIX: &str = "h_t is read by the loss at step t *and* by step t+1, so ∂L/∂h_t = dys[t] + \
     dh_next (4.7): start dh_next at dh_last and set it to the dh_prev each step returns.";
pub(crate) const FORWARD_FIX: &str = "Step t's gradient needs what step t+1 sent back (dh_next, dc_next), so BPTT \
     starts where the forward ended: `for t in (0..t_len).rev()`.";

/// Test inputs for a sequence: inputs `(T, B, D)`, the initial state and the weights (G*H rows).
#[derive(Clone)]
pub struct SeqCase {
    /// xs `(T, B, D)`.
    pub xs: Array3<f64>,
    /// h0 `(B, H)`.
    pub h0: Array2<f64>,
    /// c0 `(B, H)` (zeros, unused, for a GRU).
    pub c0: Array2<f64>,
    /// weight_ih `(G*H, D)`.
    pub w_ih: Array2<f64>,
    /// weight_hh `(G*H, H)`.
    pub w_hh: Array2<f64>,
    /// bias_ih `(G*H)`.
    pub b_ih: Array1<f64>,
    /// bias_hh `(G*H)`.
    pub b_hh: Array1<f64>,
}

impl SeqCase {
    /// The step case at time t, with the given entering state.
    pub fn step(&self, t: usize, h: &Array2<f64>, c: &Array2<f64>) -> Case {
        Case {
            x: self.xs.index_axis(Axis(0), t).to_owned(),
            h: h.clone(),
            c: c.clone(),
            w_ih: self.w_ih.clone(),
            w_hh: self.w_hh.clone(),
            b_ih: self.b_ih.clone(),
            b_hh: self.b_hh.clone(),
        }
    }
}

/// A sequence case with its loss gradients: `(case, dys (T, B, H), dh_last (B, H), dc_last (B, H))`.
pub type SeqTest = (SeqCase, Array3<f64>, Array2<f64>, Array2<f64>);

/// Random sequence cases over a few shapes (T, B, D, H), with the loss gradients `dys (T, B, H)`, `dh_last` and
/// `dc_last` `(B, H)` (all non-zero).
pub fn seq_cases(gates: usize, seed: u64) -> Vec<SeqTest> {
    let mut rng = rnn::init::rng(seed);
    [(5, 2, 3, 4), (4, 1, 2, 3), (6, 3, 3, 3)]
        .into_iter()
        .map(|(t, b, d, h)| {
            let k = SeqCase {
                xs: rand3(t, b, d, 1.0, &mut rng),
                h0: rand2(b, h, 0.8, &mut rng),
                c0: rand2(b, h, 1.0, &mut rng),
                w_ih: rand2(gates * h, d, 0.8, &mut rng),
                w_hh: rand2(gates * h, h, 0.8, &mut rng),
                b_ih: rand1(gates * h, 0.6, &mut rng),
                b_hh: rand1(gates * h, 0.6, &mut rng),
            };
            let dys = rand3(t, b, h, 1.0, &mut rng);
            let dh_last = rand2(b, h, 1.0, &mut rng);
            let dc_last = rand2(b, h, 1.0, &mut rng);
            (k, dys, dh_last, dc_last)
        })
        .collect()
}

/// Central-difference gradients of `loss` in the order w_ih, w_hh, b_ih, b_hh, xs, h0, and c0 if `with_c`.
pub fn numeric_seq_grads(
    k: &SeqCase,
    loss: &dyn Fn(&SeqCase) -> f64,
    with_c: bool,
) -> Vec<ArrayD<f64>> {
    let two = |a: &ArrayD<f64>| a.clone().into_dimensionality::<Ix2>().unwrap();
    let one = |a: &ArrayD<f64>| a.clone().into_dimensionality::<Ix1>().unwrap();
    let mut out = vec![
        numeric_gradient(&k.w_ih.clone().into_dyn(), |p| {
            loss(&SeqCase {
                w_ih: two(p),
                ..k.clone()
            })
        }),
        numeric_gradient(&k.w_hh.clone().into_dyn(), |p| {
            loss(&SeqCase {
                w_hh: two(p),
                ..k.clone()
            })
        }),
        numeric_gradient(&k.b_ih.clone().into_dyn(), |p| {
            loss(&SeqCase {
                b_ih: one(p),
                ..k.clone()
            })
        }),
        numeric_gradient(&k.b_hh.clone().into_dyn(), |p| {
            loss(&SeqCase {
                b_hh: one(p),
                ..k.clone()
            })
        }),
        numeric_gradient(&k.xs.clone().into_dyn(), |p| {
            loss(&SeqCase {
                xs: p.clone().into_dimensionality::<Ix3>().unwrap(),
                ..k.clone()
            })
        }),
        numeric_gradient(&k.h0.clone().into_dyn(), |p| {
            loss(&SeqCase {
                h0: two(p),
                ..k.clone()
            })
        }),
    ];
    if with_c {
        out.push(numeric_gradient(&k.c0.clone().into_dyn(), |p| {
            loss(&SeqCase {
                c0: two(p),
                ..k.clone()
            })
        }));
    }
    out
}

/// The given helper: the LSTM step backward from dh and the *total* dc_t, returning this step's parameter
/// gradients, dx and dh_prev: `(cache, w_ih, w_hh, dh, dc) -> (grads, dx, dh_prev)`.
pub trait GatesBackward<C>:
    Fn(&C, &Array2<f64>, &Array2<f64>, &Array2<f64>, &Array2<f64>) -> (Grads, Array2<f64>, Array2<f64>)
{
}
impl<C, F> GatesBackward<C> for F where
    F: Fn(
        &C,
        &Array2<f64>,
        &Array2<f64>,
        &Array2<f64>,
        &Array2<f64>,
    ) -> (Grads, Array2<f64>, Array2<f64>)
{
}

/// The learner's LSTM BPTT: `(caches, w_ih, w_hh, dys, dh_last, dc_last) -> (grads, dxs, dh0, dc0)`.
pub trait LstmBptt<C>:
    Fn(
    &[C],
    &Array2<f64>,
    &Array2<f64>,
    &Array3<f64>,
    &Array2<f64>,
    &Array2<f64>,
) -> (Grads, Array3<f64>, Array2<f64>, Array2<f64>)
{
}
impl<C, F> LstmBptt<C> for F where
    F: Fn(
        &[C],
        &Array2<f64>,
        &Array2<f64>,
        &Array3<f64>,
        &Array2<f64>,
        &Array2<f64>,
    ) -> (Grads, Array3<f64>, Array2<f64>, Array2<f64>)
{
}

/// An LSTM state (or its gradient) `(h, c)` for the library.
fn lstm_state(h: &Array2<f64>, c: &Array2<f64>) -> State {
    let mut s = State::from_h(h.clone());
    s.c = Some(c.clone());
    s
}

/// The grads as the four tensors dW_ih, dW_hh, db_ih, db_hh.
pub(crate) fn grads_dyn(g: &Grads) -> Vec<ArrayD<f64>> {
    vec![
        g.w_ih.clone().into_dyn(),
        g.w_hh.clone().into_dyn(),
        g.b_ih.clone().into_dyn(),
        g.b_hh.clone().into_dyn(),
    ]
}

/// Runs the learner's (given) forward step over the sequence and returns its caches, or fails with "fix the
/// forward first" if a step is not PyTorch's.
#[track_caller]
fn learner_caches<C>(forward: &impl LstmForward<C>, k: &SeqCase) -> Vec<C> {
    let (mut h, mut c) = (k.h0.clone(), k.c0.clone());
    let mut caches = Vec::new();
    for t in 0..k.xs.dim().0 {
        let step = k.step(t, &h, &c);
        let (gh, gc, cache) = run_learner(LAB, || {
            forward(&step.x, &h, &c, &k.w_ih, &k.w_hh, &k.b_ih, &k.b_hh)
        });
        let (wh, wc) = reference::lstm_step(
            &step.x,
            &h,
            &c,
            &k.w_ih,
            &k.w_hh,
            &k.b_ih,
            &k.b_hh,
            LSTM_PYTORCH,
        );
        if forward_first(&[&gh, &gc], &[&wh, &wc], "lstm_step", "").is_err() {
            fail(
                LAB,
                format!(
                    "lstm_step (given: lab 7's step) no longer computes PyTorch's LSTM step (at t = {t}), and \
                     lstm_bptt reads what it cached.\n  Fix the forward first: restore lstm_step from \
                     solutions/lab10_lstm_bptt.rs."
                ),
            );
        }
        caches.push(cache);
        (h, c) = (wh, wc);
    }
    caches
}

/// `true` if the given `lstm_gates_backward` still gives the right answer on one step.
fn gates_backward_is_right<C>(
    forward: &impl LstmForward<C>,
    backward: &impl GatesBackward<C>,
) -> bool {
    let k = crate::lab07::cases(4, 1010, true).swap_remove(0);
    let mut rng = rnn::init::rng(1011);
    let (b, h) = k.h.dim();
    let (dh, dc) = (rand2(b, h, 1.0, &mut rng), rand2(b, h, 1.0, &mut rng));
    let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let (_, _, cache) = forward(&k.x, &k.h, &k.c, &k.w_ih, &k.w_hh, &k.b_ih, &k.b_hh);
        let (g, dx, dprev) = backward(&cache, &k.w_ih, &k.w_hh, &dh, &dc);
        let mut all = grads_dyn(&g);
        all.extend([dx.into_dyn(), dprev.into_dyn()]);
        all
    }));
    let Ok(got) = got else { return false };
    // with the h path switched off, the reference's dc is the total dc
    let want = reference::lstm_backward(
        &k.x,
        &k.h,
        &k.c,
        &k.w_ih,
        &k.w_hh,
        &k.b_ih,
        &k.b_hh,
        &dh,
        &dc,
        LstmSlip::NoHPathIntoC,
    );
    all_close(&got, &want, EXACT)
}

/// Checks the learner's `lstm_bptt` against `rnn::bptt::bptt` on an `rnn::cells::Lstm` and against finite
/// differences of `L = Σ dys ⊙ hs + Σ dh_last ⊙ h_T + Σ dc_last ⊙ c_T`, naming the classic mistakes.
/// `forward` and `gates_backward` are the lab's given step functions, which the learner's BPTT reads and calls:
/// if they were changed and are now wrong, the message says to fix them first.
#[track_caller]
pub fn check_lstm_bptt<C>(
    forward: impl LstmForward<C>,
    gates_backward: impl GatesBackward<C>,
    learner: impl LstmBptt<C>,
) {
    if !gates_backward_is_right(&forward, &gates_backward) {
        fail(
            LAB,
            "lstm_gates_backward (given, with lstm_step) no longer gives the right step backward, and \
             lstm_bptt calls it at every step, so BPTT cannot be right yet.\n  Fix lstm_gates_backward (and \
             lstm_step) first: restore them from solutions/lab10_lstm_bptt.rs.",
        );
    }
    for (k, dys, dh_last, dc_last) in seq_cases(4, 10) {
        let (t_len, b, d) = k.xs.dim();
        let h = k.h0.ncols();
        let caches = learner_caches(&forward, &k);
        let (g, dxs, dh0, dc0) = run_backward(LAB, || {
            learner(&caches, &k.w_ih, &k.w_hh, &dys, &dh_last, &dc_last)
        });
        check_shape(LAB, "dxs", dxs.shape(), &[t_len, b, d], "(T, B, D)");
        check_shape(LAB, "dh0", dh0.shape(), &[b, h], "(B, H)");
        check_shape(LAB, "dc0", dc0.shape(), &[b, h], "(B, H)");
        check_shape(LAB, "grads.w_ih", g.w_ih.shape(), &[4 * h, d], "(4H, D)");
        check_shape(LAB, "grads.w_hh", g.w_hh.shape(), &[4 * h, h], "(4H, H)");
        let mut got = grads_dyn(&g);
        got.extend([dxs.into_dyn(), dh0.into_dyn(), dc0.into_dyn()]);

        let lstm = library_lstm(&k.step(0, &k.h0, &k.c0));
        let run = unroll(&lstm, k.xs.view(), &lstm_state(&k.h0, &k.c0));
        let mut lib = lstm.zeros_like();
        let (lib_dxs, lib_d0) = bptt(
            &lstm,
            &run.caches,
            dys.view(),
            Some(&lstm_state(&dh_last, &dc_last)),
            &mut lib,
        );
        let library = vec![
            lib.weight_ih.into_dyn(),
            lib.weight_hh.into_dyn(),
            lib.bias_ih.into_dyn(),
            lib.bias_hh.into_dyn(),
            lib_dxs.into_dyn(),
            lib_d0.h.into_dyn(),
            lib_d0.c.expect("an LSTM state gradient has c").into_dyn(),
        ];
        let loss = |kk: &SeqCase| {
            let (mut hh, mut cc) = (kk.h0.clone(), kk.c0.clone());
            let mut l = 0.0;
            for t in 0..t_len {
                let x = kk.xs.index_axis(Axis(0), t).to_owned();
                (hh, cc) = reference::lstm_step(
                    &x,
                    &hh,
                    &cc,
                    &kk.w_ih,
                    &kk.w_hh,
                    &kk.b_ih,
                    &kk.b_hh,
                    LSTM_PYTORCH,
                );
                l += (&hh * &dys.index_axis(Axis(0), t)).sum();
            }
            l + (&hh * &dh_last).sum() + (&cc * &dc_last).sum()
        };
        let numeric = numeric_seq_grads(&k, &loss, true);
        let slip = |s: SeqSlip| reference::lstm_bptt(&k, &dys, &dh_last, &dc_last, s);
        let dc_fix = "dc_t = dc_next + dh_t ⊙ o_t ⊙ (1 - tanh²(c_t)) (7.10), where dc_next is what step t+1 \
                      sent back (dc_last after the last step); after the step, carry dc_next = dc_t ⊙ f_t (7.16).";
        let variants: Vec<Variant> = vec![
            (
                DC_WITHOUT_F,
                "c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t, so the gradient reaching c_{t-1} is dc_t ⊙ f_t (7.16), the \
                 constant error carousel: `dc_next = &dc * &cache.f`.",
                slip(SeqSlip::DcWithoutF),
            ),
            (DC_DROPPED, dc_fix, slip(SeqSlip::DcNotCarried)),
            (DC_DROPPED, dc_fix, slip(SeqSlip::NoDc)),
            (LAST_ONLY, LAST_ONLY_FIX, slip(SeqSlip::LastStepOnly)),
            (NO_DH_NEXT, NO_DH_NEXT_FIX, slip(SeqSlip::NoDhNext)),
            (OVERWRITE, OVERWRITE_FIX, slip(SeqSlip::Overwrite)),
            (FORWARD_IN_TIME, FORWARD_FIX, slip(SeqSlip::ForwardInTime)),
            (
                NO_FINAL_GRAD,
                "dh_last and dc_last are ∂L/∂h_T and ∂L/∂c_T from later use (the next chunk, a decoder): start \
                 with dh_next = dh_last and dc_next = dc_last, not zeros.",
                slip(SeqSlip::NoFinalGrad),
            ),
        ];
        let sum = "the sum over steps of what lstm_gates_backward returns";
        check_cell_grads(
            LAB,
            &got,
            &library,
            &numeric,
            &[
                ("dW_ih", &format!("{sum} (7.19).")),
                ("dW_hh", &format!("{sum} (7.20).")),
                ("db_ih", &format!("{sum} (7.21).")),
                ("db_hh", &format!("{sum} (7.21).")),
                (
                    "dxs",
                    "dxs[t] is the dx that lstm_gates_backward returns at step t (7.22).",
                ),
                (
                    "dh0",
                    "dh0 is the dh_prev of step 0 (7.23), after walking t from T-1 down to 0 with \
                     dh_t = dys[t] + dh_next (4.7).",
                ),
                (
                    "dc0",
                    "dc0 is dc_0 ⊙ f_0 (7.16), with dc_t = dc_next + dh_t ⊙ o_t ⊙ (1 - tanh²(c_t)) (7.10) at every step.",
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
    fn lstm_bptt_reference_matches_the_library() {
        for (k, dys, dh_last, dc_last) in seq_cases(4, 3) {
            let lstm = library_lstm(&k.step(0, &k.h0, &k.c0));
            let run = unroll(&lstm, k.xs.view(), &lstm_state(&k.h0, &k.c0));
            let mut lib = lstm.zeros_like();
            let (dxs, d0) = bptt(
                &lstm,
                &run.caches,
                dys.view(),
                Some(&lstm_state(&dh_last, &dc_last)),
                &mut lib,
            );
            let want = reference::lstm_bptt(&k, &dys, &dh_last, &dc_last, SeqSlip::None);
            let lib_all = [
                lib.weight_ih.into_dyn(),
                lib.weight_hh.into_dyn(),
                lib.bias_ih.into_dyn(),
                lib.bias_hh.into_dyn(),
                dxs.into_dyn(),
                d0.h.into_dyn(),
                d0.c.unwrap().into_dyn(),
            ];
            for (a, w) in lib_all.iter().zip(&want) {
                assert!(is_close(&a.view(), &w.view(), EXACT));
            }
        }
    }
}
