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

use labcheck::lab14::{AttnGrads, AttnParams};
use ndarray::{Array1, Array2, Array3, Axis};

/// (11.1): u (S, B, A) and the scores e (S, B).
fn scores(p: &AttnParams, q: &Array2<f64>, keys: &Array3<f64>) -> (Array3<f64>, Array2<f64>) {
    let (s_len, b, _) = keys.dim();
    let a = p.w_q.nrows();
    let qp = q.dot(&p.w_q.t()) + &p.b_q; // W_q q + b_q                          (B, A)
    let mut u = Array3::zeros((s_len, b, a));
    for s in 0..s_len {
        // (11.1) u[s] = tanh(q·W_qᵀ + b_q + keys[s]·W_kᵀ)                        (B, A)
        let us = (&qp + &keys.index_axis(Axis(0), s).dot(&p.w_k.t())).mapv(f64::tanh);
        u.index_axis_mut(Axis(0), s).assign(&us);
    }
    // (11.1) e[s, b] = vᵀ u[s, b]                                                 (S, B)
    let e = (&u * &p.v.row(0)).sum_axis(Axis(2));
    (u, e)
}

/// (11.2): the softmax of each row's scores over its real positions; 0 on the pads. (S, B)
fn masked_softmax(e: &Array2<f64>, lengths: &[usize]) -> Array2<f64> {
    let mut alpha = Array2::zeros(e.raw_dim());
    for (b, &n) in lengths.iter().enumerate() {
        let m = (0..n).map(|s| e[[s, b]]).fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = (0..n).map(|s| (e[[s, b]] - m).exp()).sum();
        for s in 0..n {
            // (11.2) α[s, b] = exp(e[s, b] - m) / Σ_{s' < n} exp(e[s', b] - m)
            alpha[[s, b]] = (e[[s, b]] - m).exp() / z;
        }
    }
    alpha
}

/// (11.3): c[b] = Σ_s α[s, b] keys[s, b]. (B, K)
fn context(alpha: &Array2<f64>, keys: &Array3<f64>) -> Array2<f64> {
    let (s_len, b, k) = keys.dim();
    let mut c = Array2::zeros((b, k));
    for s in 0..s_len {
        // (11.3) c += α[s] ⊙ keys[s]                                              (B, K)
        c += &(&keys.index_axis(Axis(0), s) * &alpha.row(s).insert_axis(Axis(1)));
    }
    c
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
    let (s_len, b, k) = keys.dim();
    let a = p.w_q.nrows();
    let mut d_alpha = Array2::zeros((s_len, b)); // (S, B)
    let mut dkeys = Array3::zeros((s_len, b, k)); // (S, B, K)
    for s in 0..s_len {
        let ks = keys.index_axis(Axis(0), s); // (B, K)
        // (11.5) ∂L/∂α[s, b] = keys[s, b] · dc[b]
        d_alpha.row_mut(s).assign(&(&ks * dc).sum_axis(Axis(1)));
        // (11.5) dkeys[s] += α[s] ⊙ dc                                            (B, K)
        dkeys
            .index_axis_mut(Axis(0), s)
            .assign(&(dc * &alpha.row(s).insert_axis(Axis(1))));
    }
    // (11.6) ∂L/∂e = α ⊙ (∂L/∂α - Σ_s' α ∂L/∂α)                                  (S, B)
    let mean = (alpha * &d_alpha).sum_axis(Axis(0)); // (B)
    let de = alpha * &(&d_alpha - &mean.insert_axis(Axis(0)));
    let mut dv = Array2::zeros((1, a));
    let mut dw_k = Array2::zeros((a, k));
    let mut da_q = Array2::zeros((b, a)); // Σ_s ∂L/∂a[s]                        (B, A)
    for s in 0..s_len {
        let us = u.index_axis(Axis(0), s); // (B, A)
        let de_s = de.row(s).insert_axis(Axis(1)); // (B, 1)
        // (11.7) dv += Σ_b ∂L/∂e[s, b] u[s, b]                                    (1, A)
        dv += &(&us * &de_s).sum_axis(Axis(0)).insert_axis(Axis(0));
        // (11.7) ∂L/∂a[s] = (1 - u[s]²) ⊙ v ∂L/∂e[s]                              (B, A)
        let da = &(&de_s * &p.v.row(0)) * &us.mapv(|x| 1.0 - x * x);
        da_q += &da;
        let ks = keys.index_axis(Axis(0), s);
        // (11.8) dW_k += ∂L/∂a[s]ᵀ·keys[s]                                        (A, K)
        dw_k += &da.t().dot(&ks);
        // (11.8) dkeys[s] += ∂L/∂a[s]·W_k                                          (B, K)
        let mut dk = dkeys.index_axis_mut(Axis(0), s);
        dk += &da.dot(&p.w_k);
    }
    // (11.8) dq = da_q·W_q (B, H), dW_q = da_qᵀ·q (A, H), db_q = Σ_b da_q (A)
    AttnGrads {
        dv,
        dw_q: da_q.t().dot(q),
        db_q: da_q.sum_axis(Axis(0)),
        dw_k,
        dq: da_q.dot(&p.w_q),
        dkeys,
    }
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
