// Lab 14 · Bahdanau (additive) attention, forward and backward, over a padded batch (book chapter 11).
//
// At decoder step t the query q_t (the decoder's state s_{t-1}) scores every encoder output, a key k_s;
// the scores become weights over the source's n real positions, and the context is their weighted sum:
//
//     a_{t,s} = W_q q_t + b_q + W_k k_s,   u_{t,s} = tanh(a_{t,s}),   e_{t,s} = vᵀ u_{t,s}       (11.1)
//     α_{t,s} = exp(e_{t,s}) / Σ_{s' ≤ n} exp(e_{t,s'})  for s ≤ n,   α_{t,s} = 0 beyond n   (11.2)
//     c_t     = Σ_s α_{t,s} k_s                                                             (11.3)
//
// In code, one decoder step for a whole batch (batches are rows, the source is time-major):
//     q (B, H), keys (S, B, K), lengths[b] real positions of row b (the pads hold garbage),
//     W_q (A, H), b_q (A), W_k (A, K), v (1, A) (PyTorch's nn.Linear layout, as the library's Attention),
//     u (S, B, A), e (S, B), α (S, B), c (B, K).
//
// Backward, from dc = ∂L/∂c (B, K):
//     ∂L/∂α[s, b] = keys[s, b] · dc[b],      dkeys[s] += α[s] ⊙ dc (the direct path)           (11.5)
//     ∂L/∂e[s, b] = α[s, b] (∂L/∂α[s, b] - Σ_s' α[s', b] ∂L/∂α[s', b])    the softmax's Jacobian  (11.6)
//     dv += Σ_{s,b} ∂L/∂e[s, b] u[s, b],     ∂L/∂a[s] = (1 - u[s]²) ⊙ v ∂L/∂e[s]                 (11.7)
//     with da_q = Σ_s ∂L/∂a[s] (B, A):  dq = da_q·W_q,  dW_q = da_qᵀ·q,  db_q = Σ_b da_q,
//     dW_k = Σ_s ∂L/∂a[s]ᵀ·keys[s],  dkeys[s] += ∂L/∂a[s]·W_k                                 (11.8)
//
// The tests compare with `rnn::models::seq2seq::{Attention, Memory}` and with central finite differences
// of L = Σ dc ⊙ c, on batches with garbage in the padded keys.
// Run `rustlings hint` if you are stuck.

// Silences the warnings about code that is unused until you replace the `todo!()`s: delete this line
// once they are gone (unused variables and imports then point at mistakes).
#![allow(unused)]

use labcheck::lab14::{AttnGrads, AttnParams};
use ndarray::{Array1, Array2, Array3, Axis};

/// (11.1): u (S, B, A) and the scores e (S, B).
fn scores(p: &AttnParams, q: &Array2<f64>, keys: &Array3<f64>) -> (Array3<f64>, Array2<f64>) {
    // TODO: qp = q·W_qᵀ + b_q (B, A). For each s: u[s] = tanh(qp + keys[s]·W_kᵀ) (B, A) (11.1),
    //       stored in u (S, B, A) (`keys.index_axis(Axis(0), s)`, `u.index_axis_mut(Axis(0), s).assign(..)`).
    // TODO: e[s, b] = vᵀ u[s, b] (11.1): `(&u * &p.v.row(0)).sum_axis(Axis(2))`, (S, B). Return (u, e).
    todo!()
}

/// (11.2): the softmax of each row's scores over its real positions; 0 on the pads. (S, B)
fn masked_softmax(e: &Array2<f64>, lengths: &[usize]) -> Array2<f64> {
    // TODO: alpha = zeros (S, B). For each row b with n = lengths[b]: m = the max of e[0..n, b];
    //       alpha[s, b] = exp(e[s, b] - m) / Σ_{s' < n} exp(e[s', b] - m) for s < n (11.2);
    //       the pads s ≥ n stay exactly 0.
    todo!()
}

/// (11.3): c[b] = Σ_s α[s, b] keys[s, b]. (B, K)
fn context(alpha: &Array2<f64>, keys: &Array3<f64>) -> Array2<f64> {
    // TODO: c = zeros (B, K); for each s: c += α[s] ⊙ keys[s] (11.3)
    //       (`&keys.index_axis(Axis(0), s) * &alpha.row(s).insert_axis(Axis(1))`, α broadcast over K).
    todo!()
}

/// (11.5)-(11.8): every gradient of one attention step from dc (B, K), given the forward's u and α.
fn attention_backward(
    p: &AttnParams,
    q: &Array2<f64>,
    keys: &Array3<f64>,
    u: &Array3<f64>,
    alpha: &Array2<f64>,
    dc: &Array2<f64>,
) -> AttnGrads {
    // TODO: for each s: d_alpha[s, b] = keys[s, b] · dc[b] (11.5), (S, B);
    //       dkeys[s] = α[s] ⊙ dc, the direct path (11.5), (S, B, K).
    // TODO: de = α ⊙ (d_alpha - Σ_s' α ⊙ d_alpha) (11.6): the row sums, (B), subtracted at every s.
    // TODO: for each s, with us = u[s] (B, A) and de_s = de[s] as (B, 1):
    //       dv += Σ_b de_s ⊙ us (11.7), (1, A);  da = (1 - us²) ⊙ v ⊙ de_s (11.7), (B, A);
    //       da_q += da;  dW_k += daᵀ·keys[s] (A, K);  dkeys[s] += da·W_k (11.8).
    // TODO: return AttnGrads { dv, dw_q: da_qᵀ·q, db_q: Σ_b da_q, dw_k, dq: da_q·W_q, dkeys } (11.8).
    todo!()
}

fn main() {
    // One query, a source of 3 positions of which 2 are real; the third key is garbage and must get α = 0.
    let p = AttnParams {
        w_q: ndarray::array![[1.0, 0.0], [0.0, 1.0]],
        b_q: Array1::zeros(2),
        w_k: ndarray::array![[1.0, 0.0], [0.0, 1.0]],
        v: ndarray::array![[1.0, 1.0]],
    };
    let q = ndarray::array![[0.5, -0.5]];
    let keys = Array3::from_shape_vec((3, 1, 2), vec![1.0, 0.0, 0.0, 1.0, 99.0, 99.0]).unwrap();
    let (u, e) = scores(&p, &q, &keys);
    let alpha = masked_softmax(&e, &[2]);
    let c = context(&alpha, &keys);
    println!("scores e: {}", e.column(0));
    println!("weights α: {} (the pad gets 0)", alpha.column(0));
    println!("context c: {}", c.row(0));
    let g = attention_backward(&p, &q, &keys, &u, &alpha, &ndarray::array![[1.0, 0.0]]);
    println!(
        "dq for L = c[0]: {}; dkeys of the pad: {}",
        g.dq.row(0),
        g.dkeys.index_axis(Axis(0), 2)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test: the forward pieces, then the backward.
    #[test]
    fn attention_forward_then_backward() {
        labcheck::lab14::check_forward(scores, masked_softmax, context);
        labcheck::lab14::check_backward(attention_backward);
    }
}
