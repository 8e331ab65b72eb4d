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
// Run `rustlings hint` if you are stuck.

// Silences the warnings about code that is unused until you replace the `todo!()`s: delete this line
// once they are gone (unused variables and imports then point at mistakes).
#![allow(unused)]
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
    // TODO: gi and gh, then r, z, n from their column blocks (r | z | n), following (8.9)-(8.11a).
    // TODO: h = (1 - z) ⊙ n + z ⊙ h_prev; fill the cache; return (h, cache).
    todo!()
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
    // TODO: dn, dz, da_n, da_r, da_z as above; dgi = [da_r | da_z | da_n], dgh = [da_r | da_z | da_n ⊙ r].
    // TODO: add the parameter gradients into grads (+=); return (dgi·W_ih, dh ⊙ z + dgh·W_hh).
    todo!()
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
