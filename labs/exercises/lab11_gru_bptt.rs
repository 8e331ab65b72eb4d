// Lab 11 · Backpropagation through time for the GRU, PyTorch's form (book chapter 8).
//
// The forward step (given below, lab 8's) is PyTorch's GRU, gates r | z | n in the rows of the weights:
//
//     r = σ(W_ir x + b_ir + W_hr h_prev + b_hr)                                               (8.9)
//     z = σ(W_iz x + b_iz + W_hz h_prev + b_hz)                                              (8.10)
//     n = tanh(W_in x + b_in + r ⊙ q),  q = W_hn h_prev + b_hn   reset AFTER the matmul     (8.11a)
//     h = (1 - z) ⊙ n + z ⊙ h_prev      z is how much of the OLD state to keep               (8.12)
//
// (Cho et al.'s original GRU, (8.11b), applies r before the matmul, W_hn (r ⊙ h_prev): not this one.)
//
// Part 1, the step backward, given dh = ∂L/∂h:
//
//     dn = dh ⊙ (1 - z)                                                                      (8.13)
//     dz = dh ⊙ (h_prev - n)                                                                 (8.14)
//     dh_prev (direct) = dh ⊙ z                                                              (8.15)
//     da_n = dn ⊙ (1 - n²),   da_z = dz ⊙ z(1 - z)                                   (8.16), (8.17)
//     dq = da_n ⊙ r,   dr = da_n ⊙ q,   da_r = dr ⊙ r(1 - r)               (8.18a), (8.19a), (8.22)
//     dgi = [da_r | da_z | da_n],   dgh = [da_r | da_z | dq]   (B, 3H)               (8.23), (8.24)
//     dW_ih += dgiᵀ·x,  db_ih += Σ_rows dgi,  db_hh += Σ_rows dgh,  dx = dgi·W_ih     (8.25)-(8.28)
//     dW_hh += dghᵀ·h_prev,   dh_prev = dh ⊙ z + dgh·W_hh                          (8.29a), (8.30a)
//
// The direct path (8.15) is the GRU's carousel: with z ≈ 1 the gradient reaches h_prev through z alone.
//
// Part 2, BPTT over the sequence. dys[t] = ∂L_t/∂h_t (T, B, H); dh_last = ∂L/∂h_T from later use. Walk t
// from T-1 down to 0 with dh_next starting at dh_last:
//
//     dh_t = dys[t] + dh_next                                                                 (4.7)
//
// call the step backward with dh_t (adding into the same grads), store dx in dxs[t], and keep its dh_prev
// as the next dh_next. After step 0, dh_next is ∂L/∂h0.
//
// The tests compare with `rnn::cells::Gru::backward`, `rnn::bptt::bptt` and finite differences.
// Run `rustlings hint` if you are stuck.

// Silences the warnings about code that is unused until you replace the `todo!()`s: delete this line
// once they are gone (unused variables and imports then point at mistakes).
#![allow(unused)]

use labcheck::Grads;
use ndarray::{Array1, Array2, Array3, Axis, s};
use rnn::activation::sigmoid;

/// What the forward step keeps for the backward step.
struct GruCache {
    x: Array2<f64>,
    h_prev: Array2<f64>,
    r: Array2<f64>,
    z: Array2<f64>,
    n: Array2<f64>,
    /// q = W_hn h_prev + b_hn, the n block of h_prev·W_hhᵀ + b_hh.
    gh_n: Array2<f64>,
}

/// Given: one GRU step (lab 8), returns (h, cache).
fn gru_step(
    x: &Array2<f64>,
    h_prev: &Array2<f64>,
    w_ih: &Array2<f64>,
    w_hh: &Array2<f64>,
    b_ih: &Array1<f64>,
    b_hh: &Array1<f64>,
) -> (Array2<f64>, GruCache) {
    let h = h_prev.ncols();
    // input and hidden parts, blocks r | z | n                       (B, 3H) each
    let gi = x.dot(&w_ih.t()) + b_ih;
    let gh = h_prev.dot(&w_hh.t()) + b_hh;
    let block = |a: &Array2<f64>, k: usize| a.slice(s![.., k * h..(k + 1) * h]).to_owned();
    // (8.9), (8.10)                                                   (B, H)
    let r = (block(&gi, 0) + block(&gh, 0)).mapv(sigmoid);
    let z = (block(&gi, 1) + block(&gh, 1)).mapv(sigmoid);
    // (8.11a)                                                         (B, H)
    let gh_n = block(&gh, 2);
    let n = (block(&gi, 2) + &r * &gh_n).mapv(f64::tanh);
    // (8.12)                                                          (B, H)
    let h_new = (1.0 - &z) * &n + &z * h_prev;
    let cache = GruCache {
        x: x.clone(),
        h_prev: h_prev.clone(),
        r,
        z,
        n,
        gh_n,
    };
    (h_new, cache)
}

/// One GRU step backward. Adds the parameter gradients into `grads`; returns (dx, dh_prev).
fn gru_step_backward(
    cache: &GruCache,
    w_ih: &Array2<f64>,
    w_hh: &Array2<f64>,
    dh: &Array2<f64>,
    grads: &mut Grads,
) -> (Array2<f64>, Array2<f64>) {
    let GruCache {
        x,
        h_prev,
        r,
        z,
        n,
        gh_n,
    } = cache;
    // TODO: dn, dz (8.13), (8.14); da_n, da_z (8.16), (8.17); dq = da_n ⊙ r (8.18a);
    //       da_r = da_n ⊙ q ⊙ r(1 - r) with q = gh_n (8.19a), (8.22).
    // TODO: dgi = [da_r | da_z | da_n], dgh = [da_r | da_z | dq] (8.23), (8.24); ADD dgiᵀ·x, dghᵀ·h_prev and
    //       the column sums into grads (+=) (8.25)-(8.27), (8.29a).
    // TODO: return (dgi·W_ih, dh ⊙ z + dgh·W_hh) (8.28), (8.15), (8.30a).
    todo!()
}

/// BPTT over the whole sequence. Returns (grads, dxs (T, B, D), dh0 (B, H)).
fn gru_bptt(
    caches: &[GruCache],
    w_ih: &Array2<f64>,
    w_hh: &Array2<f64>,
    dys: &Array3<f64>,
    dh_last: &Array2<f64>,
) -> (Grads, Array3<f64>, Array2<f64>) {
    let (t_len, batch, hidden) = dys.dim();
    let d = w_ih.ncols();
    let mut grads = Grads::zeros(3 * hidden, d, hidden);
    let mut dxs = Array3::<f64>::zeros((t_len, batch, d));
    // TODO: let mut dh_next = dh_last (a clone).
    // TODO: for t in (0..t_len).rev(): dh = dys[t] + dh_next (4.7); call gru_step_backward(&caches[t], w_ih,
    //       w_hh, &dh, &mut grads); dxs[t] = dx; dh_next = dh_prev.
    // TODO: return (grads, dxs, dh_next): after step 0, dh_next is ∂L/∂h0.
    todo!()
}

fn main() {
    // B = 1, D = 1, H = 1, T = 20, the loss reading only h_T. An update-gate bias of 2.5 in both
    // biases (z ≈ σ(5) ≈ 0.99) keeps the old state: the direct path (8.15) carries the gradient back to h0.
    let (w_ih, w_hh) = (
        Array2::from_elem((3, 1), 0.3),
        Array2::from_elem((3, 1), 0.1),
    );
    let b = ndarray::array![0.0, 2.5, 0.0];
    let t_len = 20;
    let mut h = Array2::zeros((1, 1));
    let mut caches = Vec::new();
    for _ in 0..t_len {
        let (hn, cache) = gru_step(&ndarray::array![[0.5]], &h, &w_ih, &w_hh, &b, &b);
        h = hn;
        caches.push(cache);
    }
    let dys = Array3::zeros((t_len, 1, 1));
    let (_, _, dh0) = gru_bptt(&caches, &w_ih, &w_hh, &dys, &ndarray::array![[1.0]]);
    let direct: f64 = caches.iter().map(|k| k.z[[0, 0]]).product();
    println!("∂h_T/∂h_0 after {t_len} steps: {dh0}");
    println!("the direct path alone, the product of the z_t (8.15): {direct:.6}");
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test that runs the checks in order: gru_bptt is checked only once gru_step_backward is right.
    #[test]
    fn step_backward_then_bptt() {
        labcheck::lab11::check_gru_step_backward(gru_step, gru_step_backward);
        labcheck::lab11::check_gru_bptt(gru_step, gru_step_backward, gru_bptt);
    }
}
