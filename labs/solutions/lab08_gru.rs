// Lab 8 · The GRU step, forward and backward, PyTorch's form (book chapter 8).
//
// PyTorch stacks the three gates in the order r, z, n in the rows of weight_ih (3H, D) and weight_hh
// (3H, H). Keep the input and hidden parts apart, because the reset gate multiplies only the hidden part of n:
//
//     gi = x·W_ihᵀ + b_ih,  gh = h_prev·W_hhᵀ + b_hh          (B, 3H) each, blocks r | z | n
//     r = σ(gi_r + gh_r)                 reset gate                                    (8.9)
//     z = σ(gi_z + gh_z)                 update gate                                   (8.10)
//     n = tanh(gi_n + r ⊙ gh_n)          candidate                                     (8.11a)
//     h = (1 - z) ⊙ n + z ⊙ h_prev       z = how much of the OLD state to keep          (8.12)
//
// Backward, given dh:
//
//     dn = dh ⊙ (1 - z),   dz = dh ⊙ (h_prev - n),   dh_prev (direct) = dh ⊙ z
//     da_n = dn ⊙ (1 - n²)
//     da_r = da_n ⊙ gh_n ⊙ r(1 - r),   da_z = dz ⊙ z(1 - z)
//     dgi = [da_r | da_z | da_n],   dgh = [da_r | da_z | da_n ⊙ r]
//     dW_ih += dgiᵀ·x,  db_ih += Σ_rows dgi,  dW_hh += dghᵀ·h_prev,  db_hh += Σ_rows dgh
//     dx = dgi·W_ih,   dh_prev = dh ⊙ z + dgh·W_hh
//
// The tests compare with PyTorch's equations and with finite differences.
// This is a solution: compare it with yours once your tests pass.

use labcheck::Grads;
use ndarray::{Array1, Array2, Axis, s};
use rnn::activation::sigmoid;

/// What the forward step keeps for the backward step. Add fields if you need more.
struct GruCache {
    x: Array2<f64>,
    h_prev: Array2<f64>,
    r: Array2<f64>,
    z: Array2<f64>,
    n: Array2<f64>,
    gh_n: Array2<f64>,
}

/// One GRU step: returns (h, cache), h of shape (B, H).
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
    // (8.9) r = σ(gi_r + gh_r)                                        (B, H)
    let r = (block(&gi, 0) + block(&gh, 0)).mapv(sigmoid);
    // (8.10) z = σ(gi_z + gh_z)                                        (B, H)
    let z = (block(&gi, 1) + block(&gh, 1)).mapv(sigmoid);
    // (8.11a) n = tanh(gi_n + r ⊙ gh_n)                                 (B, H)
    let gh_n = block(&gh, 2);
    let n = (block(&gi, 2) + &r * &gh_n).mapv(f64::tanh);
    // (8.12) h = (1 - z) ⊙ n + z ⊙ h_prev                              (B, H)
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
    // through (8.12)                                                   (B, H)
    let dn = dh * &(1.0 - z);
    let dz = dh * &(h_prev - n);
    // through (8.11a), (8.10), (8.9)                                     (B, H)
    let da_n = &dn * &n.mapv(|v| 1.0 - v * v);
    let da_r = &da_n * gh_n * &r.mapv(|v| v * (1.0 - v));
    let da_z = &dz * &z.mapv(|v| v * (1.0 - v));
    // the input part and the hidden part                             (B, 3H)
    let dgi = ndarray::concatenate(Axis(1), &[da_r.view(), da_z.view(), da_n.view()]).unwrap();
    let da_n_r = &da_n * r;
    let dgh = ndarray::concatenate(Axis(1), &[da_r.view(), da_z.view(), da_n_r.view()]).unwrap();
    grads.w_ih += &dgi.t().dot(x);
    grads.b_ih += &dgi.sum_axis(Axis(0));
    grads.w_hh += &dgh.t().dot(h_prev);
    grads.b_hh += &dgh.sum_axis(Axis(0));
    let dh_prev = dh * z + dgh.dot(w_hh);
    (dgi.dot(w_ih), dh_prev)
}

fn main() {
    // B = 1, D = 1, H = 1: three gate rows r, z, n. A large update-gate bias makes z ≈ 1: keep the old state.
    let (w_ih, w_hh) = (
        Array2::from_elem((3, 1), 0.5),
        Array2::from_elem((3, 1), 0.1),
    );
    let b = ndarray::array![0.0, 5.0, 0.0];
    let (x, h0) = (ndarray::array![[1.0]], ndarray::array![[0.7]]);
    let (h, cache) = gru_step(&x, &h0, &w_ih, &w_hh, &b, &b);
    println!("h = {h} (h_prev was 0.7: with z ≈ 1 the GRU keeps it)");
    let mut grads = Grads::zeros(3, 1, 1);
    let (dx, dh_prev) = gru_step_backward(&cache, &w_ih, &w_hh, &h, &mut grads);
    println!("dx = {dx}, dh_prev = {dh_prev}");
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test that runs the checks in order, so the first failure reported is always the same one: a
    // later part (which often calls an earlier one) is checked only once the earlier parts are right.
    #[test]
    fn forward_then_backward() {
        labcheck::lab08::check_gru_forward(gru_step);
        labcheck::lab08::check_gru_backward(gru_step, gru_step_backward);
    }
}
