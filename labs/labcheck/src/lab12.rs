//! Lab 12: a many-to-one classifier over a padded batch of variable-length sequences: the masked Elman
//! recurrence, the last-state and masked-mean readouts, the masked BPTT, and the whole classifier, checked
//! against `rnn::stack::Rnn::forward_masked` / `backward_masked`, `rnn::models::classifier::Classifier` and
//! finite differences, on batches whose pads hold garbage.

use ndarray::{Array1, Array2, Array3, ArrayD, Axis, Ix1, Ix2};
use rnn::bptt::unroll;
use rnn::cells::{Cell, Elman, State};
use rnn::gradcheck::numeric_gradient;
use rnn::params::Parameters;
use rnn::stack::Rnn;

use crate::lab01::library_cell;
use crate::lab04::{NO_DH_NEXT, OVERWRITE, StepBackward};
use crate::lab07::{Variant, check_cell_grads};
use crate::lab10::{LAST_ONLY, SeqCase, grads_dyn, numeric_seq_grads};
use crate::reference::{self, BwdSlip, FwdSlip, ReadSlip};
use crate::report::{
    EXACT, Mistake, NUMERIC, all_close, check, check_scalar, check_shape, fail, is_close,
    run as run_learner, run_backward,
};
use crate::{Grads, rand1, rand2, rand3};

const LAB_FWD: &str = "lab 12 · masked_forward";
const LAB_READ: &str = "lab 12 · readouts";
const LAB_BPTT: &str = "lab 12 · masked_bptt";
const LAB_CLS: &str = "lab 12 · classifier";

/// The name of the mistake where the pads update the state like real steps.
pub const NO_MASK: &str = "no mask in the forward (the pads update the state)";
/// The name of the mistake where the pads reset the state to zero.
pub const ZERO_PADS: &str =
    "forgetting (1 - m_t) ⊙ state_{t-1} in the forward (the pads reset the state to zero)";
/// The name of the mistake where the last state is read at step T-1 for every row.
pub const LAST_AT_END: &str = "reading the state at step T-1 instead of each row's last real step";
/// The name of the mistake where the mean divides the real steps' sum by T.
pub const MEAN_BY_T: &str = "dividing the masked sum by T instead of the row's length";
/// The name of the mistake where the mean sums the pads too.
pub const MEAN_PADS: &str = "summing the pads into the mean";
/// The name of the mistake where the mean is over all T steps.
pub const MEAN_ALL: &str = "the mean over all T steps, pads included";
/// The name of the mistake where the last-state gradient goes to step T-1.
pub const LAST_GRAD_AT_END: &str =
    "sending the last state's gradient to step T-1 instead of each row's last real step";
/// The name of the mistake where the cell's backward sees the unmasked gradient (plain BPTT).
pub const BWD_NO_MASK: &str =
    "no mask in the backward (plain BPTT: the pads' cell backward sees the gradient)";
/// The name of the mistake where the cell's backward sees the unmasked gradient at the pads.
pub const BWD_INTO_PADS: &str =
    "gradient flowing into the padded steps (the cell's backward sees d, not m_t ⊙ d)";
/// The name of the mistake where the pass-through (1 - m) ⊙ d is forgotten.
pub const NO_PASS_THROUGH: &str =
    "forgetting the pass-through (1 - m_t) ⊙ d to state_{t-1} in the backward";
/// The name of the mistake where the mean readout's gradient is sent through the last-state backward.
pub const MEAN_AS_LAST: &str = "the gradient of the mean readout sent to the last step only";

const MASK_FIX: &str = "A padded step must leave the state as it was: state_t = m_t ⊙ cell(x_t, state_{t-1}) + \
     (1 - m_t) ⊙ state_{t-1}, with m_t,b = 1 if t < lengths[b] else 0 (`mask(lengths, t)`, shape (B, 1)).";
const LAST_FIX: &str = "Row b's last real step is lengths[b] - 1: features[b] = hs[lengths[b] - 1, b]. The pads of \
     hs may hold anything (PyTorch's padded outputs hold zeros), so never read past a row's length.";
const MEAN_FIX: &str = "mean_b = (1 / lengths[b]) Σ_{t < lengths[b]} hs[t, b]: sum only the real steps and divide by \
     their number.";
const MEAN_BACK_FIX: &str = "The mean reads hs[t, b] for t < lengths[b], each with weight 1 / lengths[b]: dhs[t, b] = \
     d[b] / lengths[b] there, and 0 at the pads.";
const BWD_MASK_FIX: &str = "Walking back, with d = dhs[t] + d_next: the cell's backward gets m_t ⊙ d (zero at a pad, \
     so a pad gets dx = 0 and adds nothing to the weights), and d_next = (1 - m_t) ⊙ d + dh_prev.";

/// The weights of the lab's classifier and, with the same shapes, their gradients: an Elman cell (PyTorch
/// names) and a dense head `logits = features·W_yᵀ + b_y`.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// weight_ih `(H, D)`.
    pub w_ih: Array2<f64>,
    /// weight_hh `(H, H)`.
    pub w_hh: Array2<f64>,
    /// bias_ih `(H)`.
    pub b_ih: Array1<f64>,
    /// bias_hh `(H)`.
    pub b_hh: Array1<f64>,
    /// The head's weight `(K, H)`.
    pub w_y: Array2<f64>,
    /// The head's bias `(K)`.
    pub b_y: Array1<f64>,
}

impl Params {
    /// All-zero parameters (or gradients) for input size `d`, hidden size `h` and `k` classes.
    pub fn zeros(d: usize, h: usize, k: usize) -> Self {
        Params {
            w_ih: Array2::zeros((h, d)),
            w_hh: Array2::zeros((h, h)),
            b_ih: Array1::zeros(h),
            b_hh: Array1::zeros(h),
            w_y: Array2::zeros((k, h)),
            b_y: Array1::zeros(k),
        }
    }

    fn tensors(&self) -> Vec<ArrayD<f64>> {
        vec![
            self.w_ih.clone().into_dyn(),
            self.w_hh.clone().into_dyn(),
            self.b_ih.clone().into_dyn(),
            self.b_hh.clone().into_dyn(),
            self.w_y.clone().into_dyn(),
            self.b_y.clone().into_dyn(),
        ]
    }
}

/// One test batch: shapes, lengths (every one ≥ 1, one row full), and inputs with garbage in the pads.
fn cases(seed: u64) -> Vec<(SeqCase, Vec<usize>)> {
    let mut rng = rnn::init::rng(seed);
    let shapes: [(usize, usize, usize, Vec<usize>); 3] = [
        (5, 2, 4, vec![5, 2, 3]),
        (4, 3, 3, vec![1, 4]),
        (6, 2, 3, vec![6, 3, 1, 4]),
    ];
    shapes
        .into_iter()
        .map(|(t, d, h, lengths)| {
            let b = lengths.len();
            let mut xs = rand3(t, b, d, 1.0, &mut rng);
            let garbage = rand3(t, b, d, 5.0, &mut rng);
            for (r, &n) in lengths.iter().enumerate() {
                for s in n..t {
                    xs.index_axis_mut(Axis(0), s)
                        .row_mut(r)
                        .assign(&garbage.index_axis(Axis(0), s).row(r));
                }
            }
            let k = SeqCase {
                xs,
                h0: rand2(b, h, 0.8, &mut rng),
                c0: Array2::zeros((b, h)),
                w_ih: rand2(h, d, 0.8, &mut rng),
                w_hh: rand2(h, h, 0.8, &mut rng),
                b_ih: rand1(h, 0.5, &mut rng),
                b_hh: rand1(h, 0.5, &mut rng),
            };
            (k, lengths)
        })
        .collect()
}

/// The library's one-layer Elman stack with the case's weights.
fn library_rnn(k: &SeqCase) -> Rnn<Elman> {
    let cell = library_cell(&k.w_ih, &k.w_hh, &k.b_ih, &k.b_hh);
    let (h, d) = k.w_ih.dim();
    Rnn::new(
        d,
        h,
        1,
        false,
        0.0,
        |_, _, _| cell.clone(),
        &mut rnn::init::rng(0),
    )
    .expect("a valid stack")
}

/// `true` if the given `elman_step` still computes the Elman step.
fn step_is_right(
    step: &impl Fn(
        &Array2<f64>,
        &Array2<f64>,
        &Array2<f64>,
        &Array2<f64>,
        &Array1<f64>,
        &Array1<f64>,
    ) -> Array2<f64>,
) -> bool {
    let (k, _) = cases(1200).swap_remove(0);
    let x = k.xs.index_axis(Axis(0), 0).to_owned();
    let Ok(got) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        step(&x, &k.h0, &k.w_ih, &k.w_hh, &k.b_ih, &k.b_hh)
    })) else {
        return false;
    };
    let cell = library_cell(&k.w_ih, &k.w_hh, &k.b_ih, &k.b_hh);
    let (want, _) = cell.forward(x.view(), &State::from_h(k.h0.clone()));
    got.dim() == want.h.dim() && is_close(&got.view().into_dyn(), &want.h.view().into_dyn(), EXACT)
}

/// Checks the learner's `masked_forward(xs, lengths, h0, w_ih, w_hh, b_ih, b_hh) -> hs (T, B, H)` against
/// `Rnn::forward_masked`, naming the classic mistakes (no mask, pads resetting the state). `step` is the lab's
/// given Elman step: if it was changed and is now wrong, the message says to fix it first.
#[track_caller]
pub fn check_masked_forward(
    step: impl Fn(
        &Array2<f64>,
        &Array2<f64>,
        &Array2<f64>,
        &Array2<f64>,
        &Array1<f64>,
        &Array1<f64>,
    ) -> Array2<f64>,
    learner: impl Fn(
        &Array3<f64>,
        &[usize],
        &Array2<f64>,
        &Array2<f64>,
        &Array2<f64>,
        &Array1<f64>,
        &Array1<f64>,
    ) -> Array3<f64>,
) {
    if !step_is_right(&step) {
        fail(
            LAB_FWD,
            "elman_step (given) no longer computes the Elman step, and masked_forward calls it at every step.\n  \
             Fix elman_step first: restore it from solutions/lab12_masked_classifier.rs.",
        );
    }
    for (k, lengths) in cases(12) {
        let (t, b, _) = k.xs.dim();
        let h = k.h0.ncols();
        let got = run_learner(LAB_FWD, || {
            learner(&k.xs, &lengths, &k.h0, &k.w_ih, &k.w_hh, &k.b_ih, &k.b_hh)
        });
        check_shape(LAB_FWD, "hs", got.shape(), &[t, b, h], "(T, B, H)");
        let lib = library_rnn(&k);
        let init = [State::from_h(k.h0.clone())];
        let (want, _, _) = lib.forward_masked(k.xs.view(), Some(&lengths), Some(&init), None);
        let cell = &lib.layers[0].forward;
        let plain = unroll(cell, k.xs.view(), &init[0]).outputs;
        let mistakes = [
            Mistake::new(NO_MASK, MASK_FIX, plain.into_dyn()),
            Mistake::new(
                ZERO_PADS,
                MASK_FIX,
                reference::masked_states(&k, &lengths, FwdSlip::ZeroPads).into_dyn(),
            ),
        ];
        check(
            LAB_FWD,
            "hs",
            got.view().into_dyn(),
            want.view().into_dyn(),
            EXACT,
            &mistakes,
            "hs[t] is the state after step t: at a real step elman_step's output, at a pad the state of step t-1 \
             (h0 before step 0).",
        );
    }
}

/// Checks the learner's readouts `read_last(hs, lengths)`, `read_mean(hs, lengths)` (both `(B, H)`) and their
/// backwards `read_last_backward(d, lengths, T)`, `read_mean_backward(d, lengths, T)` (both `(T, B, H)`) on
/// states whose pads hold garbage, against the answer key (which the unit tests compare with `Classifier`)
/// and finite differences, naming the classic mistakes.
#[track_caller]
pub fn check_readouts(
    read_last: impl Fn(&Array3<f64>, &[usize]) -> Array2<f64>,
    read_mean: impl Fn(&Array3<f64>, &[usize]) -> Array2<f64>,
    read_last_backward: impl Fn(&Array2<f64>, &[usize], usize) -> Array3<f64>,
    read_mean_backward: impl Fn(&Array2<f64>, &[usize], usize) -> Array3<f64>,
) {
    let mut rng = rnn::init::rng(1212);
    for (k, lengths) in cases(121) {
        let (t, b, _) = k.xs.dim();
        let h = k.h0.ncols();
        // states with garbage in the pads
        let hs = rand3(t, b, h, 1.0, &mut rng);
        let d = rand2(b, h, 1.0, &mut rng);
        for (name, reader) in [
            (
                "read_last",
                &read_last as &dyn Fn(&Array3<f64>, &[usize]) -> Array2<f64>,
            ),
            ("read_mean", &read_mean),
        ] {
            let last = name == "read_last";
            let got = run_learner(LAB_READ, || reader(&hs, &lengths));
            check_shape(LAB_READ, name, got.shape(), &[b, h], "(B, H)");
            let slip = |s: ReadSlip| {
                if last {
                    reference::read_last(&hs, &lengths, s)
                } else {
                    reference::read_mean(&hs, &lengths, s)
                }
                .into_dyn()
            };
            let mistakes: Vec<Mistake> = if last {
                vec![Mistake::new(LAST_AT_END, LAST_FIX, slip(ReadSlip::AtEnd))]
            } else {
                vec![
                    Mistake::new(MEAN_BY_T, MEAN_FIX, slip(ReadSlip::AtEnd)),
                    Mistake::new(MEAN_PADS, MEAN_FIX, slip(ReadSlip::PadsSummed)),
                    Mistake::new(MEAN_ALL, MEAN_FIX, slip(ReadSlip::AllSteps)),
                ]
            };
            let hint = if last { LAST_FIX } else { MEAN_FIX };
            check(
                LAB_READ,
                name,
                got.view().into_dyn(),
                slip(ReadSlip::None).view(),
                EXACT,
                &mistakes,
                hint,
            );
        }
        for (name, back) in [
            (
                "read_last_backward",
                &read_last_backward as &dyn Fn(&Array2<f64>, &[usize], usize) -> Array3<f64>,
            ),
            ("read_mean_backward", &read_mean_backward),
        ] {
            let last = name == "read_last_backward";
            let got = run_backward(LAB_READ, || back(&d, &lengths, t));
            check_shape(LAB_READ, name, got.shape(), &[t, b, h], "(T, B, H)");
            let slip = |s: ReadSlip| {
                if last {
                    reference::read_last_back(&d, &lengths, t, s)
                } else {
                    reference::read_mean_back(&d, &lengths, t, s)
                }
                .into_dyn()
            };
            // finite differences of L = Σ d ⊙ read(hs)
            let numeric = numeric_gradient(&hs.clone().into_dyn(), |p| {
                let p = p.clone().into_dimensionality().expect("(T, B, H)");
                let f = if last {
                    reference::read_last(&p, &lengths, ReadSlip::None)
                } else {
                    reference::read_mean(&p, &lengths, ReadSlip::None)
                };
                (&f * &d).sum()
            });
            let mistakes: Vec<Mistake> = if last {
                vec![Mistake::new(
                    LAST_GRAD_AT_END,
                    LAST_FIX,
                    slip(ReadSlip::AtEnd),
                )]
            } else {
                vec![
                    Mistake::new(MEAN_BY_T, MEAN_BACK_FIX, slip(ReadSlip::AtEnd)),
                    Mistake::new(MEAN_PADS, MEAN_BACK_FIX, slip(ReadSlip::PadsSummed)),
                    Mistake::new(MEAN_ALL, MEAN_BACK_FIX, slip(ReadSlip::AllSteps)),
                    Mistake::new(
                        MEAN_AS_LAST,
                        MEAN_BACK_FIX,
                        reference::read_last_back(&d, &lengths, t, ReadSlip::None).into_dyn(),
                    ),
                ]
            };
            let hint = if last {
                "the gradient of features[b] = hs[lengths[b] - 1, b] goes to that one step: dhs[lengths[b] - 1, b] = \
                 d[b], zero elsewhere."
            } else {
                MEAN_BACK_FIX
            };
            let what = format!("{name}'s dhs");
            check(
                LAB_READ,
                &what,
                got.view().into_dyn(),
                numeric.view(),
                NUMERIC,
                &mistakes,
                hint,
            );
            check(
                LAB_READ,
                &what,
                got.view().into_dyn(),
                slip(ReadSlip::None).view(),
                EXACT,
                &mistakes,
                hint,
            );
        }
    }
}

/// `true` if the given `elman_step_backward` still gives the library's step backward.
fn step_backward_is_right(backward: &impl StepBackward) -> bool {
    let (k, _) = cases(1201).swap_remove(0);
    let x = k.xs.index_axis(Axis(0), 0).to_owned();
    let cell = library_cell(&k.w_ih, &k.w_hh, &k.b_ih, &k.b_hh);
    let (next, cache) = cell.forward(x.view(), &State::from_h(k.h0.clone()));
    let dh = rand2(k.h0.nrows(), k.h0.ncols(), 1.0, &mut rnn::init::rng(1202));
    let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let (h, d) = k.w_ih.dim();
        let mut g = Grads::zeros(h, d, h);
        let (dx, dprev) = backward(&x, &k.h0, &next.h, &k.w_ih, &k.w_hh, &dh, &mut g);
        let mut all = grads_dyn(&g);
        all.extend([dx.into_dyn(), dprev.into_dyn()]);
        all
    }));
    let Ok(got) = got else { return false };
    let mut lib = cell.zeros_like();
    let (dx, dprev) = cell.backward(&cache, &State::from_h(dh), &mut lib);
    let want = [
        lib.weight_ih.into_dyn(),
        lib.weight_hh.into_dyn(),
        lib.bias_ih.into_dyn(),
        lib.bias_hh.into_dyn(),
        dx.into_dyn(),
        dprev.h.into_dyn(),
    ];
    all_close(&got, &want, EXACT)
}

/// The library's masked backward for `L = Σ dhs ⊙ hs`: dW_ih, dW_hh, db_ih, db_hh, dxs, dh0.
fn library_bptt(k: &SeqCase, lengths: &[usize], dhs: &Array3<f64>) -> Vec<ArrayD<f64>> {
    let lib = library_rnn(k);
    let init = [State::from_h(k.h0.clone())];
    let (_, _, cache) = lib.forward_masked(k.xs.view(), Some(lengths), Some(&init), None);
    let mut g = lib.zeros_like();
    let (dxs, d0) = lib.backward_masked(&cache, Some(lengths), dhs.view(), None, &mut g);
    let c = &g.layers[0].forward;
    vec![
        c.weight_ih.clone().into_dyn(),
        c.weight_hh.clone().into_dyn(),
        c.bias_ih.clone().into_dyn(),
        c.bias_hh.clone().into_dyn(),
        dxs.into_dyn(),
        d0[0].h.clone().into_dyn(),
    ]
}

/// Checks the learner's `masked_bptt(xs, lengths, h0, hs, w_ih, w_hh, dhs) -> (grads, dxs, dh0)` against
/// `Rnn::backward_masked` and finite differences of `L = Σ dhs ⊙ hs` (dhs non-zero at the pads too: there hs
/// is the carried state), naming the classic mistakes. `step_backward` is the lab's given step: if it is wrong,
/// the message says to fix it first.
#[track_caller]
pub fn check_masked_bptt(
    step_backward: impl StepBackward,
    learner: impl Fn(
        &Array3<f64>,
        &[usize],
        &Array2<f64>,
        &Array3<f64>,
        &Array2<f64>,
        &Array2<f64>,
        &Array3<f64>,
    ) -> (Grads, Array3<f64>, Array2<f64>),
) {
    if !step_backward_is_right(&step_backward) {
        fail(
            LAB_BPTT,
            "elman_step_backward (given) no longer gives the Elman step backward, and masked_bptt calls it at every \
             step.\n  Fix elman_step_backward first: restore it from solutions/lab12_masked_classifier.rs.",
        );
    }
    let mut rng = rnn::init::rng(1213);
    for (k, lengths) in cases(122) {
        let (t, b, d) = k.xs.dim();
        let h = k.h0.ncols();
        let hs = reference::masked_states(&k, &lengths, FwdSlip::None);
        let dhs = rand3(t, b, h, 1.0, &mut rng);
        let (g, dxs, dh0) = run_backward(LAB_BPTT, || {
            learner(&k.xs, &lengths, &k.h0, &hs, &k.w_ih, &k.w_hh, &dhs)
        });
        check_shape(LAB_BPTT, "dxs", dxs.shape(), &[t, b, d], "(T, B, D)");
        check_shape(LAB_BPTT, "dh0", dh0.shape(), &[b, h], "(B, H)");
        check_shape(LAB_BPTT, "grads.w_ih", g.w_ih.shape(), &[h, d], "(H, D)");
        check_shape(LAB_BPTT, "grads.w_hh", g.w_hh.shape(), &[h, h], "(H, H)");
        let mut got = grads_dyn(&g);
        got.extend([dxs.into_dyn(), dh0.into_dyn()]);
        let library = library_bptt(&k, &lengths, &dhs);
        let loss =
            |kk: &SeqCase| (reference::masked_states(kk, &lengths, FwdSlip::None) * &dhs).sum();
        let numeric = numeric_seq_grads(&k, &loss, false);
        let slip = |s: BwdSlip| reference::masked_bptt(&k, &lengths, &dhs, s);
        let variants: Vec<Variant> = vec![
            (BWD_NO_MASK, BWD_MASK_FIX, slip(BwdSlip::NoMask)),
            (BWD_INTO_PADS, BWD_MASK_FIX, slip(BwdSlip::CellUnmasked)),
            (
                NO_PASS_THROUGH,
                "At a pad the state was copied, state_t = state_{t-1}, so its whole gradient reaches state_{t-1}: \
                 d_next = (1 - m_t) ⊙ d + dh_prev, not dh_prev alone.",
                slip(BwdSlip::NoPassThrough),
            ),
            (
                LAST_ONLY,
                "Every hs[t] can be read (the mean readout reads every real step): d = dhs[t] + d_next at every step.",
                slip(BwdSlip::LastStepOnly),
            ),
            (
                NO_DH_NEXT,
                "hs[t] is read by dhs[t] *and* by step t+1: d = dhs[t] + d_next, with d_next from step t+1.",
                slip(BwdSlip::NoDhNext),
            ),
            (
                OVERWRITE,
                "The same weights serve every step: pass the same `&mut grads` to elman_step_backward at every step \
                 (it adds with +=).",
                slip(BwdSlip::Overwrite),
            ),
        ];
        let sum = "the sum over steps of what elman_step_backward adds, with m_t ⊙ d as its dh";
        check_cell_grads(
            LAB_BPTT,
            &got,
            &library,
            &numeric,
            &[
                ("dW_ih", &format!("{sum} (4.2).")),
                ("dW_hh", &format!("{sum} (4.3).")),
                ("db_ih", &format!("{sum} (4.4).")),
                ("db_hh", &format!("{sum} (4.4).")),
                (
                    "dxs",
                    "dxs[t] is the dx that elman_step_backward returns at step t (zero at a pad).",
                ),
                ("dh0", "dh0 is the d_next left after step 0."),
            ],
            &variants,
        );
    }
}

/// The library's classifier with these weights: Elman, one layer, float features, `Last` or `Mean`.
fn library_classifier(p: &Params, mean: bool) -> rnn::models::classifier::Classifier {
    use rnn::models::classifier::{Classifier, ClassifierConfig, InputConfig, Readout};
    let (h, d) = p.w_ih.dim();
    let readout = if mean { Readout::Mean } else { Readout::Last };
    let config = ClassifierConfig::new(
        rnn::cells::CellKind::RnnTanh,
        InputConfig::Features { dim: d },
        h,
        readout,
        p.w_y.nrows(),
    );
    let mut m = Classifier::new(&config, &mut rnn::init::rng(0)).expect("a valid config");
    let mut values = vec![&p.w_ih, &p.w_hh].into_iter();
    for (name, mut t) in m.params_mut() {
        let src = match name.as_str() {
            "rnn.weight_ih_l0" | "rnn.weight_hh_l0" => values.next().unwrap().view().into_dyn(),
            "rnn.bias_ih_l0" => p.b_ih.view().into_dyn(),
            "rnn.bias_hh_l0" => p.b_hh.view().into_dyn(),
            "head.weight" => p.w_y.view().into_dyn(),
            "head.bias" => p.b_y.view().into_dyn(),
            other => panic!("unexpected parameter {other}"),
        };
        t.assign(&src);
    }
    m
}

/// The classifier's loss from the answer key (zero initial state).
fn reference_loss(
    p: &Params,
    xs: &Array3<f64>,
    lengths: &[usize],
    labels: &[usize],
    mean: bool,
) -> f64 {
    let k = SeqCase {
        xs: xs.clone(),
        h0: Array2::zeros((xs.dim().1, p.w_hh.nrows())),
        c0: Array2::zeros((xs.dim().1, p.w_hh.nrows())),
        w_ih: p.w_ih.clone(),
        w_hh: p.w_hh.clone(),
        b_ih: p.b_ih.clone(),
        b_hh: p.b_hh.clone(),
    };
    let hs = reference::masked_states(&k, lengths, FwdSlip::None);
    let f = if mean {
        reference::read_mean(&hs, lengths, ReadSlip::None)
    } else {
        reference::read_last(&hs, lengths, ReadSlip::None)
    };
    let logits = f.dot(&p.w_y.t()) + &p.b_y;
    rnn::loss::softmax_cross_entropy(logits.view(), labels, None).0
}

/// Checks the learner's whole classifier `classifier(xs, lengths, labels, params, mean) -> (loss, grads, dxs)`
/// (zero initial state; the `Last` readout, or `Mean` if `mean`) against `rnn::models::classifier::Classifier`
/// (loss and every gradient), `Rnn::backward_masked` (dxs) and finite differences.
#[track_caller]
pub fn check_classifier(
    learner: impl Fn(&Array3<f64>, &[usize], &[usize], &Params, bool) -> (f64, Params, Array3<f64>),
) {
    use rnn::models::classifier::{SeqInput, Targets};
    let mut rng = rnn::init::rng(1214);
    for (k, lengths) in cases(123) {
        let (t, b, d) = k.xs.dim();
        let h = k.h0.ncols();
        let classes = 3;
        let p = Params {
            w_ih: k.w_ih.clone(),
            w_hh: k.w_hh.clone(),
            b_ih: k.b_ih.clone(),
            b_hh: k.b_hh.clone(),
            w_y: rand2(classes, h, 1.0, &mut rng),
            b_y: rand1(classes, 0.5, &mut rng),
        };
        let labels: Vec<usize> = (0..b).map(|r| (r * 2 + 1) % classes).collect();
        for mean in [false, true] {
            let readout = if mean { "Mean" } else { "Last" };
            let lab = format!("{LAB_CLS} ({readout} readout)");
            let (loss, g, dxs) = run_backward(&lab, || learner(&k.xs, &lengths, &labels, &p, mean));
            check_shape(&lab, "dxs", dxs.shape(), &[t, b, d], "(T, B, D)");
            let model = library_classifier(&p, mean);
            let (logits, cache) =
                model.forward(SeqInput::Features(k.xs.view()), Some(&lengths), None);
            let (want_loss, d_logits) =
                model.loss(logits.view(), Targets::Classes(&labels), Some(&lengths));
            check_scalar(
                &lab,
                "loss",
                loss,
                want_loss,
                EXACT,
                &[],
                "the mean cross-entropy of the head's logits, from the readout of masked_forward's states.",
            );
            let mut lib = model.zeros_like();
            model.backward(&cache, d_logits.view(), &mut lib);
            let want: Vec<ArrayD<f64>> = lib
                .params()
                .into_iter()
                .map(|(_, v)| v.to_owned())
                .collect();
            // finite differences of the loss, every parameter
            let f = |q: &Params| reference_loss(q, &k.xs, &lengths, &labels, mean);
            let two = |a: &ArrayD<f64>| a.clone().into_dimensionality::<Ix2>().unwrap();
            let one = |a: &ArrayD<f64>| a.clone().into_dimensionality::<Ix1>().unwrap();
            let numeric = [
                numeric_gradient(&p.w_ih.clone().into_dyn(), |a| {
                    f(&Params {
                        w_ih: two(a),
                        ..p.clone()
                    })
                }),
                numeric_gradient(&p.w_hh.clone().into_dyn(), |a| {
                    f(&Params {
                        w_hh: two(a),
                        ..p.clone()
                    })
                }),
                numeric_gradient(&p.b_ih.clone().into_dyn(), |a| {
                    f(&Params {
                        b_ih: one(a),
                        ..p.clone()
                    })
                }),
                numeric_gradient(&p.b_hh.clone().into_dyn(), |a| {
                    f(&Params {
                        b_hh: one(a),
                        ..p.clone()
                    })
                }),
                numeric_gradient(&p.w_y.clone().into_dyn(), |a| {
                    f(&Params {
                        w_y: two(a),
                        ..p.clone()
                    })
                }),
                numeric_gradient(&p.b_y.clone().into_dyn(), |a| {
                    f(&Params {
                        b_y: one(a),
                        ..p.clone()
                    })
                }),
            ];
            // the mistake: the mean's gradient sent through the last-state backward
            let mean_as_last = mean.then(|| {
                let mut wrong = Params::zeros(d, h, classes);
                let (_, d_f, dw_y, db_y) = head_reference(&p, &k, &lengths, &labels, true);
                wrong.w_y = dw_y;
                wrong.b_y = db_y;
                let dhs = reference::read_last_back(&d_f, &lengths, t, ReadSlip::None);
                let k0 = SeqCase {
                    h0: Array2::zeros((b, h)),
                    ..k.clone()
                };
                let out = reference::masked_bptt(&k0, &lengths, &dhs, BwdSlip::None);
                let mut all = out[..4].to_vec();
                all.extend([wrong.w_y.into_dyn(), wrong.b_y.into_dyn()]);
                all
            });
            let names = ["dW_ih", "dW_hh", "db_ih", "db_hh", "dW_y", "db_y"];
            for (i, ((gt, w), n)) in g.tensors().iter().zip(&want).zip(&numeric).enumerate() {
                let ms: Vec<Mistake> = mean_as_last
                    .iter()
                    .map(|v| {
                        Mistake::new(
                            MEAN_AS_LAST,
                            "With the Mean readout the features' gradient goes back through read_mean_backward \
                             (d[b] / lengths[b] at every real step), not read_last_backward.",
                            v[i].clone(),
                        )
                    })
                    .collect();
                let hint = "run masked_forward, the readout, head_loss, the readout's backward and masked_bptt, in \
                            this order, with h0 = 0; the head's gradients come from head_loss, the cell's from \
                            masked_bptt.";
                check(&lab, names[i], gt.view(), n.view(), NUMERIC, &ms, hint);
                check(&lab, names[i], gt.view(), w.view(), EXACT, &ms, hint);
            }
            // dxs from the library's masked backward, fed the readout's gradient
            let (_, d_f, _, _) = head_reference(&p, &k, &lengths, &labels, mean);
            let dhs = if mean {
                reference::read_mean_back(&d_f, &lengths, t, ReadSlip::None)
            } else {
                reference::read_last_back(&d_f, &lengths, t, ReadSlip::None)
            };
            let k0 = SeqCase {
                h0: Array2::zeros((b, h)),
                ..k.clone()
            };
            let want_dxs = library_bptt(&k0, &lengths, &dhs).swap_remove(4);
            check(
                &lab,
                "dxs",
                dxs.view().into_dyn(),
                want_dxs.view(),
                EXACT,
                &[],
                "the dxs that masked_bptt returns for the readout's dhs (zero at the pads).",
            );
        }
    }
}

/// The head on the answer key's features: (loss, ∂L/∂features, dW_y, db_y).
fn head_reference(
    p: &Params,
    k: &SeqCase,
    lengths: &[usize],
    labels: &[usize],
    mean: bool,
) -> (f64, Array2<f64>, Array2<f64>, Array1<f64>) {
    let k0 = SeqCase {
        h0: Array2::zeros(k.h0.raw_dim()),
        ..k.clone()
    };
    let hs = reference::masked_states(&k0, lengths, FwdSlip::None);
    let f = if mean {
        reference::read_mean(&hs, lengths, ReadSlip::None)
    } else {
        reference::read_last(&hs, lengths, ReadSlip::None)
    };
    let logits = f.dot(&p.w_y.t()) + &p.b_y;
    let (loss, dl) = rnn::loss::softmax_cross_entropy(logits.view(), labels, None);
    (loss, dl.dot(&p.w_y), dl.t().dot(&f), dl.sum_axis(Axis(0)))
}

#[cfg(test)]
mod tests {
    //! The answer key agrees with the library: the masked states with `forward_masked`, the readouts with
    //! `Classifier`'s (through an identity head), the masked BPTT with `backward_masked`.

    use super::*;

    #[test]
    fn masked_states_match_the_library() {
        for (k, lengths) in cases(5) {
            let init = [State::from_h(k.h0.clone())];
            let (want, _, _) =
                library_rnn(&k).forward_masked(k.xs.view(), Some(&lengths), Some(&init), None);
            let got = reference::masked_states(&k, &lengths, FwdSlip::None);
            assert!(is_close(
                &got.view().into_dyn(),
                &want.view().into_dyn(),
                EXACT
            ));
        }
    }

    #[test]
    fn readouts_match_the_classifier() {
        use rnn::models::classifier::SeqInput;
        for (k, lengths) in cases(6) {
            let h = k.h0.ncols();
            let k0 = SeqCase {
                h0: Array2::zeros(k.h0.raw_dim()),
                ..k.clone()
            };
            let hs = reference::masked_states(&k0, &lengths, FwdSlip::None);
            for mean in [false, true] {
                // an identity head: the logits are the readout's features
                let p = Params {
                    w_y: Array2::eye(h),
                    b_y: Array1::zeros(h),
                    ..Params::zeros(0, 0, 0)
                };
                let p = Params {
                    w_ih: k.w_ih.clone(),
                    w_hh: k.w_hh.clone(),
                    b_ih: k.b_ih.clone(),
                    b_hh: k.b_hh.clone(),
                    ..p
                };
                let model = library_classifier(&p, mean);
                let (logits, _) =
                    model.forward(SeqInput::Features(k.xs.view()), Some(&lengths), None);
                let got = if mean {
                    reference::read_mean(&hs, &lengths, ReadSlip::None)
                } else {
                    reference::read_last(&hs, &lengths, ReadSlip::None)
                };
                assert!(is_close(
                    &got.view().into_dyn(),
                    &logits.view().into_dyn(),
                    EXACT
                ));
            }
        }
    }

    #[test]
    fn masked_bptt_matches_the_library() {
        let mut rng = rnn::init::rng(7);
        for (k, lengths) in cases(7) {
            let (t, b, _) = k.xs.dim();
            let dhs = rand3(t, b, k.h0.ncols(), 1.0, &mut rng);
            let want = library_bptt(&k, &lengths, &dhs);
            let got = reference::masked_bptt(&k, &lengths, &dhs, BwdSlip::None);
            for (a, w) in got.iter().zip(&want) {
                assert!(is_close(&a.view(), &w.view(), EXACT));
            }
        }
    }
}
