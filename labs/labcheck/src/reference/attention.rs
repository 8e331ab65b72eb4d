//! Bahdanau's additive attention over a padded batch (lab 14), forward and backward, with one slip switched
//! on: the answers the classic attention mistakes give. Without a slip they are
//! `rnn::models::seq2seq::attention`'s (the unit tests in `lab14` check it).
//!
//! Shapes: q `(B, H)`, keys `(S, B, K)`, W_q `(A, H)`, b_q `(A)`, W_k `(A, K)`, v `(1, A)`.

use ndarray::{Array1, Array2, Array3, ArrayD, Axis};

/// A single change of the attention forward or backward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttnSlip {
    /// The right attention.
    None,
    /// Forward: the softmax runs over every source position, pads included.
    SoftmaxOverPads,
    /// Forward: keys·W_k instead of keys·W_kᵀ (square W_k only); backward: dW_k = keysᵀ·da and dkeys = da·W_kᵀ.
    TransposedWk,
    /// Forward: e = vᵀ a, without the tanh.
    NoTanh,
    /// Backward: ∂L/∂e = α ⊙ ∂L/∂α, without the subtraction of Σ α ∂L/∂α (11.6).
    NoSoftmaxSubtraction,
    /// Backward: ∂L/∂a = v ∂L/∂e, without (1 - u²) (11.7).
    NoTanhDerivative,
    /// Backward: ∂L/∂k_s = W_kᵀ ∂L/∂a only, without α ∂L/∂c (11.5).
    NoDirectDkeys,
}

/// The forward: `(u (S, B, A), e (S, B), alpha (S, B), c (B, K))`.
#[allow(clippy::too_many_arguments)]
pub fn attention_forward(
    q: &Array2<f64>,
    keys: &Array3<f64>,
    lengths: &[usize],
    w_q: &Array2<f64>,
    b_q: &Array1<f64>,
    w_k: &Array2<f64>,
    v: &Array2<f64>,
    slip: AttnSlip,
) -> (Array3<f64>, Array2<f64>, Array2<f64>, Array2<f64>) {
    let (s_len, b, k) = keys.dim();
    let a = w_q.nrows();
    let qp = q.dot(&w_q.t()) + b_q; // (B, A)
    let mut u = Array3::zeros((s_len, b, a)); // (S, B, A)
    for s in 0..s_len {
        let ks = keys.index_axis(Axis(0), s); // (B, K)
        let kp = if slip == AttnSlip::TransposedWk {
            ks.dot(w_k)
        } else {
            ks.dot(&w_k.t())
        };
        // (11.1) a_{t,s} = W_q q_t + b_q + W_k k_s, u = tanh(a)
        let pre = &qp + &kp;
        let us = if slip == AttnSlip::NoTanh {
            pre
        } else {
            pre.mapv(f64::tanh)
        };
        u.index_axis_mut(Axis(0), s).assign(&us);
    }
    // (11.1) e_{t,s} = vᵀ u_{t,s}                                              (S, B)
    let e = (&u * &v.row(0)).sum_axis(Axis(2));
    let mut alpha = Array2::zeros((s_len, b));
    for r in 0..b {
        let n = if slip == AttnSlip::SoftmaxOverPads {
            s_len
        } else {
            lengths[r]
        };
        let m = (0..n).map(|s| e[[s, r]]).fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = (0..n).map(|s| (e[[s, r]] - m).exp()).sum();
        for s in 0..n {
            // (11.2) α_{t,s} = exp(e_{t,s}) / Σ_{s' ≤ n} exp(e_{t,s'}), 0 at the pads
            alpha[[s, r]] = (e[[s, r]] - m).exp() / z;
        }
    }
    // (11.3) c_t = Σ_s α_{t,s} k_s                                             (B, K)
    let mut c = Array2::zeros((b, k));
    for s in 0..s_len {
        c += &(&keys.index_axis(Axis(0), s) * &alpha.row(s).insert_axis(Axis(1)));
    }
    (u, e, alpha, c)
}

/// The backward from `dc (B, K)`, given the forward's `u` and `alpha`: `[dv (1, A), dW_q (A, H), db_q (A),
/// dW_k (A, K), dq (B, H), dkeys (S, B, K)]`.
#[allow(clippy::too_many_arguments)]
pub fn attention_backward(
    q: &Array2<f64>,
    keys: &Array3<f64>,
    u: &Array3<f64>,
    alpha: &Array2<f64>,
    w_q: &Array2<f64>,
    w_k: &Array2<f64>,
    v: &Array2<f64>,
    dc: &Array2<f64>,
    slip: AttnSlip,
) -> Vec<ArrayD<f64>> {
    let (s_len, b, k) = keys.dim();
    let a = w_q.nrows();
    let mut d_alpha = Array2::zeros((s_len, b)); // (S, B)
    let mut dkeys = Array3::zeros((s_len, b, k)); // (S, B, K)
    for s in 0..s_len {
        let ks = keys.index_axis(Axis(0), s);
        // (11.5) ∂L/∂α_{t,s} = k_sᵀ ∂L/∂c_t
        d_alpha.row_mut(s).assign(&(&ks * dc).sum_axis(Axis(1)));
        if slip != AttnSlip::NoDirectDkeys {
            // (11.5) ∂L/∂k_s += α_{t,s} ∂L/∂c_t
            dkeys
                .index_axis_mut(Axis(0), s)
                .assign(&(dc * &alpha.row(s).insert_axis(Axis(1))));
        }
    }
    // (11.6) ∂L/∂e = α ⊙ (∂L/∂α - Σ_s' α ∂L/∂α)
    let de = if slip == AttnSlip::NoSoftmaxSubtraction {
        alpha * &d_alpha
    } else {
        let mean = (alpha * &d_alpha).sum_axis(Axis(0)); // (B)
        alpha * &(&d_alpha - &mean.insert_axis(Axis(0)))
    };
    let mut dv = Array2::zeros((1, a));
    let mut dw_q = Array2::zeros(w_q.raw_dim());
    let mut dw_k = Array2::zeros(w_k.raw_dim());
    let mut dqp = Array2::zeros((b, a)); // (B, A)
    for s in 0..s_len {
        let us = u.index_axis(Axis(0), s); // (B, A)
        let de_s = de.row(s).insert_axis(Axis(1)); // (B, 1)
        // (11.7) ∂L/∂v += Σ_s ∂L/∂e_{t,s} u_{t,s}
        dv += &(&us * &de_s).sum_axis(Axis(0)).insert_axis(Axis(0));
        // (11.7) ∂L/∂a = (1 - u²) ⊙ v ∂L/∂e
        let mut da = &de_s * &v.row(0); // (B, A)
        if slip != AttnSlip::NoTanhDerivative {
            da *= &us.mapv(|x| 1.0 - x * x);
        }
        dqp += &da;
        let ks = keys.index_axis(Axis(0), s);
        // (11.8) ∂L/∂W_k += Σ_s ∂L/∂a k_sᵀ, ∂L/∂k_s += W_kᵀ ∂L/∂a
        if slip == AttnSlip::TransposedWk {
            dw_k += &ks.t().dot(&da);
            let mut dk = dkeys.index_axis_mut(Axis(0), s);
            dk += &da.dot(&w_k.t());
        } else {
            dw_k += &da.t().dot(&ks);
            let mut dk = dkeys.index_axis_mut(Axis(0), s);
            dk += &da.dot(w_k);
        }
    }
    // (11.8) ∂L/∂W_q = Σ_s ∂L/∂a q_tᵀ, ∂L/∂b_q, ∂L/∂q_t = W_qᵀ Σ_s ∂L/∂a
    dw_q += &dqp.t().dot(q);
    let db_q = dqp.sum_axis(Axis(0));
    let dq = dqp.dot(w_q);
    vec![
        dv.into_dyn(),
        dw_q.into_dyn(),
        db_q.into_dyn(),
        dw_k.into_dyn(),
        dq.into_dyn(),
        dkeys.into_dyn(),
    ]
}
