//! Lab 14: Bahdanau's additive attention over a padded batch, forward (11.1)-(11.3) and backward
//! (11.5)-(11.8), checked against `rnn::models::seq2seq::attention::{Attention, Memory}` and central finite
//! differences, on batches whose padded keys hold garbage.

use ndarray::{Array1, Array2, Array3, ArrayD, Axis, Ix1, Ix2, Ix3};
use rnn::gradcheck::{compare as rel_error, numeric_gradient};
use rnn::layers::Dense;
use rnn::models::seq2seq::{Attention, Memory};
use rnn::params::Parameters;

use crate::reference::{AttnSlip, attention_backward as ref_backward, attention_forward};
use crate::report::{
    EXACT, Mistake, NUMERIC, check, check_shape, fail, is_close, run as run_learner, run_backward,
};
use crate::{rand1, rand2, rand3};

const LAB_FWD: &str = "lab 14 · attention forward";
const LAB_BWD: &str = "lab 14 · attention_backward";

/// The name of the mistake where the softmax runs over the padded positions too.
pub const SOFTMAX_OVER_PADS: &str = "softmax over the pads";
/// The name of the mistake where W_k is used untransposed.
pub const TRANSPOSED_WK: &str = "transposed W_k";
/// The name of the mistake where the scores skip the tanh.
pub const NO_TANH: &str = "no tanh in the scores";
/// The name of the mistake where the softmax Jacobian's subtraction term is missing.
pub const NO_SUBTRACTION: &str = "missing the softmax Jacobian's subtraction term in (11.6)";
/// The name of the mistake where tanh's derivative is forgotten.
pub const NO_TANH_DERIVATIVE: &str = "forgetting the (1 - u²) tanh derivative in (11.7)";
/// The name of the mistake where the direct α ∂L/∂c term of ∂L/∂k_s is forgotten.
pub const NO_DIRECT_DKEYS: &str = "forgetting the direct α ∂L/∂c contribution to dkeys in (11.5)";

const PADS_FIX: &str = "(11.2): row b's softmax runs over its real positions s < lengths[b] only; α = 0 at the pads \
     (their keys hold garbage). Take the max and the sum over 0..lengths[b].";
const WK_FIX: &str = "Keys are rows, (B, K) at each s, and W_k is (A, K) (PyTorch's layout): the projection is \
     keys[s]·W_kᵀ, `ks.dot(&w_k.t())` (B, A). In the backward, dW_k += daᵀ·keys[s] (`da.t().dot(&ks)`, (A, K)) and \
     dkeys[s] += da·W_k (`da.dot(w_k)`, no transpose).";

/// The attention's parameters (PyTorch's layout, as in `rnn::models::seq2seq::Attention`).
#[derive(Clone, Debug, PartialEq)]
pub struct AttnParams {
    /// W_q, the query's projection `(A, H)`.
    pub w_q: Array2<f64>,
    /// b_q `(A)`.
    pub b_q: Array1<f64>,
    /// W_k, the keys' projection `(A, K)` (no bias).
    pub w_k: Array2<f64>,
    /// vᵀ `(1, A)`: turns u into a score (no bias).
    pub v: Array2<f64>,
}

/// The gradients of one attention step, given ∂L/∂c.
#[derive(Clone, Debug, PartialEq)]
pub struct AttnGrads {
    /// ∂L/∂v `(1, A)`.
    pub dv: Array2<f64>,
    /// ∂L/∂W_q `(A, H)`.
    pub dw_q: Array2<f64>,
    /// ∂L/∂b_q `(A)`.
    pub db_q: Array1<f64>,
    /// ∂L/∂W_k `(A, K)`.
    pub dw_k: Array2<f64>,
    /// ∂L/∂q `(B, H)`.
    pub dq: Array2<f64>,
    /// ∂L/∂keys `(S, B, K)`.
    pub dkeys: Array3<f64>,
}

impl AttnGrads {
    /// The six tensors in the order dv, dW_q, db_q, dW_k, dq, dkeys.
    fn tensors(&self) -> Vec<ArrayD<f64>> {
        vec![
            self.dv.clone().into_dyn(),
            self.dw_q.clone().into_dyn(),
            self.db_q.clone().into_dyn(),
            self.dw_k.clone().into_dyn(),
            self.dq.clone().into_dyn(),
            self.dkeys.clone().into_dyn(),
        ]
    }
}

/// One test case: a padded batch with its query, parameters and ∂L/∂c.
#[derive(Clone)]
pub struct AttnCase {
    /// q `(B, H)`.
    pub q: Array2<f64>,
    /// keys `(S, B, K)`, garbage after each row's length.
    pub keys: Array3<f64>,
    /// Real positions per row (each ≥ 1).
    pub lengths: Vec<usize>,
    /// The parameters.
    pub p: AttnParams,
    /// ∂L/∂c `(B, K)`: the loss is L = Σ dc ⊙ c.
    pub dc: Array2<f64>,
}

/// The test cases: the first has A = K (so that a transposed W_k runs and can be named), every batch has
/// padded rows and one full row.
pub fn cases(seed: u64) -> Vec<AttnCase> {
    let mut rng = rnn::init::rng(seed);
    // (S, H, K, A, lengths)
    let shapes: [(usize, usize, usize, usize, Vec<usize>); 3] = [
        (4, 3, 4, 4, vec![4, 2, 1]),
        (5, 4, 3, 5, vec![3, 5]),
        (3, 2, 2, 3, vec![1, 3, 2, 3]),
    ];
    shapes
        .into_iter()
        .map(|(s, h, k, a, lengths)| {
            let b = lengths.len();
            let mut keys = rand3(s, b, k, 1.0, &mut rng);
            let garbage = rand3(s, b, k, 4.0, &mut rng);
            for (r, &n) in lengths.iter().enumerate() {
                for t in n..s {
                    keys.index_axis_mut(Axis(0), t)
                        .row_mut(r)
                        .assign(&garbage.index_axis(Axis(0), t).row(r));
                }
            }
            AttnCase {
                q: rand2(b, h, 1.0, &mut rng),
                keys,
                lengths,
                p: AttnParams {
                    w_q: rand2(a, h, 0.9, &mut rng),
                    b_q: rand1(a, 0.5, &mut rng),
                    w_k: rand2(a, k, 0.9, &mut rng),
                    v: rand2(1, a, 1.5, &mut rng),
                },
                dc: rand2(b, k, 1.0, &mut rng),
            }
        })
        .collect()
}

/// The library's attention with these parameters.
pub fn library_attention(p: &AttnParams) -> Attention {
    Attention {
        query: Dense {
            weight: p.w_q.clone(),
            bias: p.b_q.clone(),
        },
        key: p.w_k.clone(),
        v: p.v.clone(),
    }
}

/// The library's forward: `(c (B, K), alpha (S, B))`.
fn library_forward(k: &AttnCase) -> (Array2<f64>, Array2<f64>) {
    let att = library_attention(&k.p);
    let mem = Memory::new(&att, k.keys.clone(), &k.lengths);
    let (c, cache) = att.forward(k.q.view(), &mem);
    (c, cache.alpha)
}

/// The library's backward from `k.dc`: the six tensors dv, dW_q, db_q, dW_k, dq, dkeys.
fn library_backward(k: &AttnCase) -> Vec<ArrayD<f64>> {
    let att = library_attention(&k.p);
    let mem = Memory::new(&att, k.keys.clone(), &k.lengths);
    let (_, cache) = att.forward(k.q.view(), &mem);
    let mut grads = att.zeros_like();
    let mut d_mem = mem.zeros_like();
    let dq = att.backward(&cache, &mem, k.dc.view(), &mut d_mem, &mut grads);
    let dkeys = mem.backward(&att, &d_mem, &mut grads);
    vec![
        grads.v.into_dyn(),
        grads.query.weight.into_dyn(),
        grads.query.bias.into_dyn(),
        grads.key.into_dyn(),
        dq.into_dyn(),
        dkeys.into_dyn(),
    ]
}

/// Central differences (h = 1e-5) of L = Σ dc ⊙ c: dv, dW_q, db_q, dW_k, dq, dkeys.
fn numeric_grads(k: &AttnCase) -> Vec<ArrayD<f64>> {
    let loss = |kk: &AttnCase| {
        let (_, _, _, c) = attention_forward(
            &kk.q,
            &kk.keys,
            &kk.lengths,
            &kk.p.w_q,
            &kk.p.b_q,
            &kk.p.w_k,
            &kk.p.v,
            AttnSlip::None,
        );
        (&c * &kk.dc).sum()
    };
    let two = |a: &ArrayD<f64>| a.clone().into_dimensionality::<Ix2>().unwrap();
    let with_p = |p: AttnParams| AttnCase { p, ..k.clone() };
    vec![
        numeric_gradient(&k.p.v.clone().into_dyn(), |x| {
            loss(&with_p(AttnParams {
                v: two(x),
                ..k.p.clone()
            }))
        }),
        numeric_gradient(&k.p.w_q.clone().into_dyn(), |x| {
            loss(&with_p(AttnParams {
                w_q: two(x),
                ..k.p.clone()
            }))
        }),
        numeric_gradient(&k.p.b_q.clone().into_dyn(), |x| {
            loss(&with_p(AttnParams {
                b_q: x.clone().into_dimensionality::<Ix1>().unwrap(),
                ..k.p.clone()
            }))
        }),
        numeric_gradient(&k.p.w_k.clone().into_dyn(), |x| {
            loss(&with_p(AttnParams {
                w_k: two(x),
                ..k.p.clone()
            }))
        }),
        numeric_gradient(&k.q.clone().into_dyn(), |x| {
            loss(&AttnCase {
                q: two(x),
                ..k.clone()
            })
        }),
        numeric_gradient(&k.keys.clone().into_dyn(), |x| {
            loss(&AttnCase {
                keys: x.clone().into_dimensionality::<Ix3>().unwrap(),
                ..k.clone()
            })
        }),
    ]
}

/// The reference forward of a case with one slip: `(u, e, alpha, c)`.
fn forward_with(
    k: &AttnCase,
    slip: AttnSlip,
) -> (Array3<f64>, Array2<f64>, Array2<f64>, Array2<f64>) {
    let square = k.p.w_k.nrows() == k.p.w_k.ncols();
    let slip = if slip == AttnSlip::TransposedWk && !square {
        AttnSlip::None
    } else {
        slip
    };
    attention_forward(
        &k.q, &k.keys, &k.lengths, &k.p.w_q, &k.p.b_q, &k.p.w_k, &k.p.v, slip,
    )
}

/// The learner's scores: `(p, q (B, H), keys (S, B, K)) -> (u (S, B, A), e (S, B))`.
pub trait Scores:
    Fn(&AttnParams, &Array2<f64>, &Array3<f64>) -> (Array3<f64>, Array2<f64>)
{
}
impl<F: Fn(&AttnParams, &Array2<f64>, &Array3<f64>) -> (Array3<f64>, Array2<f64>)> Scores for F {}

/// The learner's masked softmax: `(e (S, B), lengths) -> alpha (S, B)`.
pub trait MaskedSoftmax: Fn(&Array2<f64>, &[usize]) -> Array2<f64> {}
impl<F: Fn(&Array2<f64>, &[usize]) -> Array2<f64>> MaskedSoftmax for F {}

/// The learner's context: `(alpha (S, B), keys (S, B, K)) -> c (B, K)`.
pub trait Context: Fn(&Array2<f64>, &Array3<f64>) -> Array2<f64> {}
impl<F: Fn(&Array2<f64>, &Array3<f64>) -> Array2<f64>> Context for F {}

/// The learner's backward: `(p, q, keys, u, alpha, dc) -> grads`.
pub trait AttnBackward:
    Fn(&AttnParams, &Array2<f64>, &Array3<f64>, &Array3<f64>, &Array2<f64>, &Array2<f64>) -> AttnGrads
{
}
impl<F> AttnBackward for F where
    F: Fn(
        &AttnParams,
        &Array2<f64>,
        &Array3<f64>,
        &Array3<f64>,
        &Array2<f64>,
        &Array2<f64>,
    ) -> AttnGrads
{
}

/// Checks the forward, piece by piece on every case: `scores` (11.1) against the reference formula,
/// `masked_softmax` (11.2) against the library's α (and: each row sums to 1 over its real positions and is
/// exactly 0 on the pads), `context` (11.3) against the library's c. Each piece is given the right inputs,
/// then the three are chained and compared with the library's context.
#[track_caller]
pub fn check_forward(
    scores: impl Scores,
    masked_softmax: impl MaskedSoftmax,
    context: impl Context,
) {
    for k in cases(14) {
        let (s_len, b, kk) = k.keys.dim();
        let a = k.p.w_q.nrows();
        let (want_u, want_e, _, _) = forward_with(&k, AttnSlip::None);
        let (lib_c, lib_alpha) = library_forward(&k);
        // (11.1)
        let (u, e) = run_learner(LAB_FWD, || scores(&k.p, &k.q, &k.keys));
        check_shape(LAB_FWD, "u", u.shape(), &[s_len, b, a], "(S, B, A)");
        check_shape(LAB_FWD, "e", e.shape(), &[s_len, b], "(S, B)");
        let fwd_mistakes = |pick: &dyn Fn(AttnSlip) -> ArrayD<f64>| {
            vec![
                Mistake::new(TRANSPOSED_WK, WK_FIX, pick(AttnSlip::TransposedWk)),
                Mistake::new(
                    NO_TANH,
                    "(11.1): u = tanh(W_q q + b_q + W_k k_s), then e = vᵀ u.",
                    pick(AttnSlip::NoTanh),
                ),
            ]
        };
        check(
            LAB_FWD,
            "u",
            u.view().into_dyn(),
            want_u.view().into_dyn(),
            EXACT,
            &fwd_mistakes(&|s| forward_with(&k, s).0.into_dyn()),
            "(11.1): u[s] = tanh(q·W_qᵀ + b_q + keys[s]·W_kᵀ), (B, A) at each source position s.",
        );
        check(
            LAB_FWD,
            "e",
            e.view().into_dyn(),
            want_e.view().into_dyn(),
            EXACT,
            &fwd_mistakes(&|s| forward_with(&k, s).1.into_dyn()),
            "(11.1): e[s, b] = vᵀ u[s, b] = Σ_a v[0, a] u[s, b, a].",
        );
        // (11.2)
        let alpha = run_learner(LAB_FWD, || masked_softmax(&want_e, &k.lengths));
        check_shape(LAB_FWD, "alpha", alpha.shape(), &[s_len, b], "(S, B)");
        check(
            LAB_FWD,
            "alpha",
            alpha.view().into_dyn(),
            lib_alpha.view().into_dyn(),
            EXACT,
            &[Mistake::new(
                SOFTMAX_OVER_PADS,
                PADS_FIX,
                forward_with(&k, AttnSlip::SoftmaxOverPads).2.into_dyn(),
            )],
            "(11.2): α[s, b] = exp(e[s, b] - m_b) / Σ_{s' < n_b} exp(e[s', b] - m_b) for s < n_b = lengths[b] \
             (m_b the max over those), 0 for s ≥ n_b.",
        );
        for (r, &n) in k.lengths.iter().enumerate() {
            let sum: f64 = (0..n).map(|s| alpha[[s, r]]).sum();
            let pads = (n..s_len).find(|&s| alpha[[s, r]] != 0.0);
            if (sum - 1.0).abs() > 1e-12 || pads.is_some() {
                fail(
                    LAB_FWD,
                    format!(
                        "row {r} of alpha (length {n} of {s_len}) sums to {sum:.12} over its real positions{}: \
                         it must sum to 1 there and be exactly 0 on the pads (11.2).",
                        pads.map_or(String::new(), |s| format!(", and alpha[{s}, {r}] is not 0"))
                    ),
                );
            }
        }
        // (11.3)
        let c = run_learner(LAB_FWD, || context(&lib_alpha, &k.keys));
        check_shape(LAB_FWD, "c", c.shape(), &[b, kk], "(B, K)");
        check(
            LAB_FWD,
            "c",
            c.view().into_dyn(),
            lib_c.view().into_dyn(),
            EXACT,
            &[],
            "(11.3): c[b] = Σ_s α[s, b] keys[s, b], (B, K): `c += &(&keys.index_axis(Axis(0), s) * \
             &alpha.row(s).insert_axis(Axis(1)))`.",
        );
        // the three chained
        let chained = run_learner(LAB_FWD, || {
            let (_, e) = scores(&k.p, &k.q, &k.keys);
            context(&masked_softmax(&e, &k.lengths), &k.keys)
        });
        if !is_close(&chained.view().into_dyn(), &lib_c.view().into_dyn(), EXACT) {
            fail(
                LAB_FWD,
                "scores, masked_softmax and context are each right, but chained they do not give the library's \
                 context: do they depend on something outside their arguments?",
            );
        }
    }
}

/// Checks `attention_backward` (given the right u and α) against central finite differences of
/// L = Σ dc ⊙ c (element by element, and the relative error per tensor below 1e-7) and against the library's
/// `Attention::backward` followed by `Memory::backward`, naming the classic mistakes.
#[track_caller]
pub fn check_backward(backward: impl AttnBackward) {
    for k in cases(140) {
        let (s_len, b, kk) = k.keys.dim();
        let (a, h) = k.p.w_q.dim();
        let (u, _, alpha, _) = forward_with(&k, AttnSlip::None);
        let g = run_backward(LAB_BWD, || backward(&k.p, &k.q, &k.keys, &u, &alpha, &k.dc));
        check_shape(LAB_BWD, "dv", g.dv.shape(), &[1, a], "(1, A)");
        check_shape(LAB_BWD, "dw_q", g.dw_q.shape(), &[a, h], "(A, H)");
        check_shape(LAB_BWD, "db_q", g.db_q.shape(), &[a], "(A)");
        check_shape(LAB_BWD, "dw_k", g.dw_k.shape(), &[a, kk], "(A, K)");
        check_shape(LAB_BWD, "dq", g.dq.shape(), &[b, h], "(B, H)");
        check_shape(
            LAB_BWD,
            "dkeys",
            g.dkeys.shape(),
            &[s_len, b, kk],
            "(S, B, K)",
        );
        let got = g.tensors();
        let library = library_backward(&k);
        let numeric = numeric_grads(&k);
        let square = a == kk;
        let slip = |s: AttnSlip| {
            ref_backward(
                &k.q, &k.keys, &u, &alpha, &k.p.w_q, &k.p.w_k, &k.p.v, &k.dc, s,
            )
        };
        let mut variants: Vec<(&str, &str, Vec<ArrayD<f64>>)> = vec![
            (
                NO_SUBTRACTION,
                "The softmax couples every position of a row: ∂L/∂e[s] = α[s] (∂L/∂α[s] - Σ_s' α[s'] ∂L/∂α[s']) \
                 (11.6). Compute the row sums `(alpha * &d_alpha).sum_axis(Axis(0))` (B) and subtract them.",
                slip(AttnSlip::NoSoftmaxSubtraction),
            ),
            (
                NO_TANH_DERIVATIVE,
                "u = tanh(a), so ∂L/∂a = (1 - u²) ⊙ v ∂L/∂e (11.7): multiply by `us.mapv(|x| 1.0 - x * x)`.",
                slip(AttnSlip::NoTanhDerivative),
            ),
            (
                NO_DIRECT_DKEYS,
                "A key enters twice: through its score and directly in c = Σ α k. So ∂L/∂k_s = α[s] ∂L/∂c (11.5) \
                 + ∂L/∂a[s]·W_k (11.8): add both.",
                slip(AttnSlip::NoDirectDkeys),
            ),
        ];
        if square {
            variants.push((TRANSPOSED_WK, WK_FIX, slip(AttnSlip::TransposedWk)));
        }
        let hints = [
            ("dv", "(11.7): dv (1, A) = Σ_{s,b} ∂L/∂e[s, b] u[s, b]."),
            (
                "dw_q",
                "(11.8): dW_q = (Σ_s ∂L/∂a[s])ᵀ·q, (A, H), with ∂L/∂a = (1 - u²) ⊙ v ∂L/∂e (11.7).",
            ),
            ("db_q", "(11.8): db_q = Σ_{s,b} ∂L/∂a[s, b]."),
            ("dw_k", "(11.8): dW_k = Σ_s ∂L/∂a[s]ᵀ·keys[s], (A, K)."),
            ("dq", "(11.8): dq = (Σ_s ∂L/∂a[s])·W_q, (B, H)."),
            (
                "dkeys",
                "(11.5) and (11.8): dkeys[s] = α[s] ∂L/∂c + ∂L/∂a[s]·W_k, (B, K) at each s.",
            ),
        ];
        for (i, (name, hint)) in hints.iter().enumerate() {
            let ms: Vec<Mistake> = variants
                .iter()
                .map(|(n, f, t)| Mistake::new(n, f, t[i].clone()))
                .collect();
            check(
                LAB_BWD,
                name,
                got[i].view(),
                numeric[i].view(),
                NUMERIC,
                &ms,
                hint,
            );
            let r = rel_error(name, got[i].view(), numeric[i].view());
            if r.rel_error > rnn::gradcheck::TOLERANCE {
                fail(
                    LAB_BWD,
                    format!(
                        "`{name}`: its relative error against central differences is {:.2e}, above {:.0e} \
                         ({r}).\n  Hint: {hint}",
                        r.rel_error,
                        rnn::gradcheck::TOLERANCE
                    ),
                );
            }
            check(
                LAB_BWD,
                name,
                got[i].view(),
                library[i].view(),
                EXACT,
                &ms,
                hint,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    //! The answer key agrees with the library, and every slip changes what the checks compare.

    use super::*;
    use crate::report::all_close;

    #[test]
    fn reference_matches_the_library() {
        for k in cases(3) {
            let (_, _, alpha, c) = forward_with(&k, AttnSlip::None);
            let (lib_c, lib_alpha) = library_forward(&k);
            assert!(is_close(
                &alpha.view().into_dyn(),
                &lib_alpha.view().into_dyn(),
                EXACT
            ));
            assert!(is_close(
                &c.view().into_dyn(),
                &lib_c.view().into_dyn(),
                EXACT
            ));
            let (u, _, alpha, _) = forward_with(&k, AttnSlip::None);
            let mine = ref_backward(
                &k.q,
                &k.keys,
                &u,
                &alpha,
                &k.p.w_q,
                &k.p.w_k,
                &k.p.v,
                &k.dc,
                AttnSlip::None,
            );
            assert!(all_close(&mine, &library_backward(&k), EXACT));
            for (m, n) in mine.iter().zip(numeric_grads(&k)) {
                assert!(rel_error("", m.view(), n.view()).rel_error < 1e-7);
            }
        }
    }

    #[test]
    fn the_first_case_is_square_and_every_slip_changes_the_answer() {
        let ks = cases(14);
        assert_eq!(ks[0].p.w_k.nrows(), ks[0].p.w_k.ncols());
        for slip in [
            AttnSlip::SoftmaxOverPads,
            AttnSlip::TransposedWk,
            AttnSlip::NoTanh,
        ] {
            let (_, e0, a0, _) = forward_with(&ks[0], AttnSlip::None);
            let (_, e1, a1, _) = forward_with(&ks[0], slip);
            assert!(e0 != e1 || a0 != a1, "{slip:?}");
        }
    }
}
