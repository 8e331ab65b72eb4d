//! Lab 8: the GRU step, forward and backward, in PyTorch's form (gates r, z, n;
//! n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)); h' = (1 - z) ⊙ n + z ⊙ h).

use ndarray::{Array1, Array2};

use crate::lab07::{
    Case, Variant, cases, check_cell_grads, forward_first, numeric_cell_grads, overwrite_variant,
};
use crate::reference::{self, GruForm, GruSlip};
use crate::report::{EXACT, Mistake, check, check_shape, run as run_learner};
use crate::{Grads, rand1, rand2};
use rnn::cells::{Cell, Gru, GruVariant, State};
use rnn::params::Parameters;

const LAB_FWD: &str = "lab 8 · gru_step";
const LAB_BWD: &str = "lab 8 · gru_step_backward";

/// The name of the classic GRU mistake about z.
pub const FLIPPED_Z: &str = "treating z as update-the-other-way";
/// The name of the GRU gate-order mistake.
pub const GATE_ORDER: &str = "wrong gate order";

/// The learner's GRU forward: `(x, h_prev, w_ih, w_hh, b_ih, b_hh) -> (h, cache)`.
pub trait GruForward<C>:
    Fn(
    &Array2<f64>,
    &Array2<f64>,
    &Array2<f64>,
    &Array2<f64>,
    &Array1<f64>,
    &Array1<f64>,
) -> (Array2<f64>, C)
{
}
impl<C, F> GruForward<C> for F where
    F: Fn(
        &Array2<f64>,
        &Array2<f64>,
        &Array2<f64>,
        &Array2<f64>,
        &Array1<f64>,
        &Array1<f64>,
    ) -> (Array2<f64>, C)
{
}

/// The learner's GRU backward: `(cache, w_ih, w_hh, dh, &mut grads) -> (dx, dh_prev)`.
pub trait GruBackward<C>:
    Fn(&C, &Array2<f64>, &Array2<f64>, &Array2<f64>, &mut Grads) -> (Array2<f64>, Array2<f64>)
{
}
impl<C, F> GruBackward<C> for F where
    F: Fn(&C, &Array2<f64>, &Array2<f64>, &Array2<f64>, &mut Grads) -> (Array2<f64>, Array2<f64>)
{
}

/// The library's GRU (PyTorch's reset-after form) with the case's weights.
pub fn library_gru(k: &Case) -> Gru {
    Gru {
        weight_ih: k.w_ih.clone(),
        weight_hh: k.w_hh.clone(),
        bias_ih: k.b_ih.clone(),
        bias_hh: k.b_hh.clone(),
        variant: GruVariant::ResetAfter,
    }
}

fn run(k: &Case, form: GruForm) -> Array2<f64> {
    reference::gru_step(&k.x, &k.h, &k.w_ih, &k.w_hh, &k.b_ih, &k.b_hh, form)
}

/// Checks the forward step against `rnn::cells::Gru` (PyTorch's equations), naming the classic mistakes.
#[track_caller]
pub fn check_gru_forward<C>(forward: impl GruForward<C>) {
    for k in cases(3, 8, false) {
        let (b, h) = k.h.dim();
        let (got, _) = run_learner(LAB_FWD, || {
            forward(&k.x, &k.h, &k.w_ih, &k.w_hh, &k.b_ih, &k.b_hh)
        });
        check_shape(LAB_FWD, "h", got.shape(), &[b, h], "(B, H)");
        let (next, _) = library_gru(&k).forward(k.x.view(), &State::from_h(k.h.clone()));
        let want = next.h;
        let mistakes = [
            Mistake::new(
                FLIPPED_Z,
                "In PyTorch's GRU, z is how much of the *old* state to keep: h' = (1 - z) ⊙ n + z ⊙ h. You \
                 computed z ⊙ n + (1 - z) ⊙ h (the convention of some textbooks), which swaps the meaning of z \
                 and breaks compatibility with PyTorch weights.",
                run(&k, GruForm::FlippedZ).into_dyn(),
            ),
            Mistake::new(
                GATE_ORDER,
                "PyTorch stacks the gates in the order r, z, n: rows 0..H are the reset gate r, H..2H the update \
                 gate z, 2H..3H the candidate n. You read z from block 0 and r from block 1.",
                run(&k, GruForm::OrderZrn).into_dyn(),
            ),
            Mistake::new(
                RESET_BEFORE,
                "PyTorch applies r *after* the recurrent matmul: n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)). \
                 You computed W_hn (r ⊙ h) + b_hn, the 2014 paper's variant.",
                run(&k, GruForm::ResetBeforeMatmul).into_dyn(),
            ),
        ];
        check(
            LAB_FWD,
            "h",
            got.view().into_dyn(),
            want.view().into_dyn(),
            EXACT,
            &mistakes,
            "gi = x·W_ihᵀ + b_ih and gh = h·W_hhᵀ + b_hh, each (B, 3H) = [r | z | n] blocks; r = σ(gi_r + gh_r), \
             z = σ(gi_z + gh_z), n = tanh(gi_n + r ⊙ gh_n), h' = (1 - z) ⊙ n + z ⊙ h.",
        );
    }
}

/// The name of the mistake where the reset gate's backward is Cho et al.'s (8.11b) form.
pub const RESET_BEFORE: &str =
    "applying the reset gate before the matmul (the original Cho et al. variant)";
/// The name of the mistake where dh_prev misses the direct path (8.15).
pub const NO_DIRECT_PATH: &str = "forgetting the direct path dh ⊙ z in dh_prev";

/// Checks the backward step against `rnn::cells::Gru::backward` and finite differences, and that it adds
/// into `grads`.
#[track_caller]
pub fn check_gru_backward<C>(forward: impl GruForward<C>, backward: impl GruBackward<C>) {
    check_step_backward(LAB_BWD, "check_gru_forward", forward, backward);
}

/// [`check_gru_backward`] under the name of lab `lab`, whose forward is checked by `forward_check`.
#[track_caller]
pub(crate) fn check_step_backward<C>(
    lab: &str,
    forward_check: &str,
    forward: impl GruForward<C>,
    backward: impl GruBackward<C>,
) {
    let mut rng = rnn::init::rng(88);
    for k in cases(3, 80, false) {
        let (b, h) = k.h.dim();
        let d = k.x.ncols();
        let r = rand2(b, h, 1.0, &mut rng);
        let (fh, cache) = run_learner(LAB_FWD, || {
            forward(&k.x, &k.h, &k.w_ih, &k.w_hh, &k.b_ih, &k.b_hh)
        });
        let want_h = run(&k, GruForm::PyTorch);
        if let Err(m) = forward_first(&[&fh], &[&want_h], "gru_step", forward_check) {
            crate::report::fail(lab, m);
        }
        let start = Grads {
            w_ih: rand2(3 * h, d, 1.0, &mut rng),
            w_hh: rand2(3 * h, h, 1.0, &mut rng),
            b_ih: rand1(3 * h, 1.0, &mut rng),
            b_hh: rand1(3 * h, 1.0, &mut rng),
        };
        let mut g = start.clone();
        let (dx, dh_prev) =
            crate::report::run_backward(lab, || backward(&cache, &k.w_ih, &k.w_hh, &r, &mut g));
        check_shape(lab, "dx", dx.shape(), &[b, d], "(B, D)");
        check_shape(lab, "dh_prev", dh_prev.shape(), &[b, h], "(B, H)");
        let zero = Array2::zeros((b, h));
        let mut numeric = numeric_cell_grads(&k, &r, &zero, &|kk| {
            (run(kk, GruForm::PyTorch), zero.clone())
        });
        numeric.truncate(6);
        let gru = library_gru(&k);
        let (_, lib_cache) = gru.forward(k.x.view(), &State::from_h(k.h.clone()));
        let mut lib = gru.zeros_like();
        let (lib_dx, lib_dprev) = gru.backward(&lib_cache, &State::from_h(r.clone()), &mut lib);
        let library = vec![
            lib.weight_ih.into_dyn(),
            lib.weight_hh.into_dyn(),
            lib.bias_ih.into_dyn(),
            lib.bias_hh.into_dyn(),
            lib_dx.into_dyn(),
            lib_dprev.h.into_dyn(),
        ];
        let got = vec![
            (g.w_ih - &start.w_ih).into_dyn(),
            (g.w_hh - &start.w_hh).into_dyn(),
            (g.b_ih - &start.b_ih).into_dyn(),
            (g.b_hh - &start.b_hh).into_dyn(),
            dx.into_dyn(),
            dh_prev.into_dyn(),
        ];
        let slip = |which: GruSlip| {
            reference::gru_backward(&k.x, &k.h, &k.w_ih, &k.w_hh, &k.b_ih, &k.b_hh, &r, which)
        };
        let variants: Vec<Variant> = vec![
            overwrite_variant(&slip(GruSlip::None), &start),
            (
                NO_DIRECT_PATH,
                "h' = (1 - z) ⊙ n + z ⊙ h reads h directly too: dh_prev = dh ⊙ z (8.15) + dgh·W_hh (8.30a).",
                slip(GruSlip::NoDirectPath),
            ),
            (
                FLIPPED_Z,
                "You differentiated h' = z ⊙ n + (1 - z) ⊙ h, but PyTorch's GRU is h' = (1 - z) ⊙ n + z ⊙ h \
                 (8.12): dn = dh ⊙ (1 - z) (8.13), dz = dh ⊙ (h - n) (8.14), direct path dh ⊙ z (8.15).",
                slip(GruSlip::FlippedZ),
            ),
            (
                RESET_BEFORE,
                "PyTorch's reset gate multiplies after the matmul, n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)) \
                 (8.11a): dq = da_n ⊙ r (8.18a), dr = da_n ⊙ q with q = W_hn h + b_hn (8.19a), and W_hh is one \
                 product of h_prev (8.29a), (8.30a). You wrote the backward of (8.11b), W_hn (r ⊙ h).",
                slip(GruSlip::ResetBefore),
            ),
            (
                "a sign error in dz",
                "h' = (1 - z) ⊙ n + z ⊙ h, so ∂h'/∂z = h - n: dz = dh ⊙ (h - n).",
                slip(GruSlip::ZSign),
            ),
            (
                "forgetting r in the n block of dgh",
                "n = tanh(gi_n + r ⊙ gh_n), so the gradient reaching gh_n = W_hn h + b_hn is r ⊙ da_n.",
                slip(GruSlip::NoRInGh),
            ),
            (
                "dr without the factor (W_hn h + b_hn)",
                "n = tanh(gi_n + r ⊙ gh_n), so dr = da_n ⊙ gh_n, with gh_n = W_hn h + b_hn (the n block of gh).",
                slip(GruSlip::RWithoutHn),
            ),
        ];
        check_cell_grads(
            lab,
            &got,
            &library,
            &numeric,
            &[
                (
                    "dW_ih (the increase you added to grads.w_ih)",
                    "with dgi = [da_r | da_z | da_n] (B, 3H): dW_ih += dgiᵀ·x.",
                ),
                (
                    "dW_hh (the increase you added to grads.w_hh)",
                    "with dgh = [da_r | da_z | r ⊙ da_n] (B, 3H): dW_hh += dghᵀ·h_prev. Note the n block of dgh \
                     carries the factor r.",
                ),
                (
                    "db_ih (the increase you added to grads.b_ih)",
                    "db_ih += Σ_rows dgi.",
                ),
                (
                    "db_hh (the increase you added to grads.b_hh)",
                    "db_hh += Σ_rows dgh (n block: r ⊙ da_n).",
                ),
                ("dx", "dx = dgi·W_ih."),
                (
                    "dh_prev",
                    "dh_prev = dh ⊙ z (the direct path through h' = ... + z ⊙ h) + dgh·W_hh.",
                ),
            ],
            &variants,
        );
    }
}
