//! Independent, deliberately plain formulas used as expected answers (and, with a flag, as the answers the
//! classic mistakes give): the answer key.
//!
//! This module is private to `labcheck`: only its checking functions call it, and a lab cannot import it
//! (`labs/check.sh` proves it: an exercise that writes `use labcheck::reference::...` fails to compile).
//!
//! The `rnn` library is the reference wherever it already has the piece (Elman, BPTT, gradcheck, sampling);
//! these formulas cover the rest and double as a cross-check.

use ndarray::{Array1, Array2, ArrayD, Axis, s};
use rnn::activation::sigmoid;

mod attention;
mod beam;
mod masked;
mod seq;
pub use attention::{AttnSlip, attention_backward, attention_forward};
pub use beam::{DecodeSlip, beam, greedy};
pub use masked::{
    BwdSlip, FwdSlip, ReadSlip, masked_bptt, masked_states, read_last, read_last_back, read_mean,
    read_mean_back,
};
pub use seq::{SeqSlip, gru_bptt, lstm_bptt};

/// Row-wise softmax, stable (subtracts each row's max).
pub fn softmax(z: &Array2<f64>) -> Array2<f64> {
    let mut p = z.clone();
    for mut row in p.axis_iter_mut(Axis(0)) {
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        row.mapv_inplace(|v| (v - m).exp());
        let sum = row.sum();
        row.mapv_inplace(|v| v / sum);
    }
    p
}

/// Mean softmax cross-entropy over the N rows and its gradient `(p - onehot) / N`.
#[cfg(test)]
pub fn cross_entropy(z: &Array2<f64>, targets: &[usize]) -> (f64, Array2<f64>) {
    let n = z.nrows() as f64;
    let mut loss = 0.0;
    for (row, &y) in z.axis_iter(Axis(0)).zip(targets) {
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        loss += lse - row[y];
    }
    let mut d = softmax(z);
    for (i, &y) in targets.iter().enumerate() {
        d[[i, y]] -= 1.0;
    }
    (loss / n, d / n)
}

/// The gate pre-activations `x·W_ihᵀ + b_ih` and `h·W_hhᵀ + b_hh`, `(B, G*H)` each.
fn preacts(
    x: &Array2<f64>,
    h: &Array2<f64>,
    w_ih: &Array2<f64>,
    w_hh: &Array2<f64>,
    b_ih: &Array1<f64>,
    b_hh: &Array1<f64>,
) -> (Array2<f64>, Array2<f64>) {
    (x.dot(&w_ih.t()) + b_ih, h.dot(&w_hh.t()) + b_hh)
}

/// Block `k` (of width `hsz`) of a `(B, G*H)` matrix.
fn block(a: &Array2<f64>, k: usize, hsz: usize) -> Array2<f64> {
    a.slice(s![.., k * hsz..(k + 1) * hsz]).to_owned()
}

/// Where each LSTM gate sits in the stacked weights: indices of the blocks holding `[i, f, g, o]`.
/// PyTorch's order is `[0, 1, 2, 3]`; the classic mistake "i, f, o, g" is `[0, 1, 3, 2]`.
pub type LstmOrder = [usize; 4];

/// PyTorch's LSTM gate order i, f, g, o.
pub const LSTM_PYTORCH: LstmOrder = [0, 1, 2, 3];

/// One LSTM step `(h, c)`, with the gates read from the blocks given by `order`.
#[allow(clippy::too_many_arguments)]
pub fn lstm_step(
    x: &Array2<f64>,
    h: &Array2<f64>,
    c: &Array2<f64>,
    w_ih: &Array2<f64>,
    w_hh: &Array2<f64>,
    b_ih: &Array1<f64>,
    b_hh: &Array1<f64>,
    order: LstmOrder,
) -> (Array2<f64>, Array2<f64>) {
    let hsz = h.ncols();
    let (gi, gh) = preacts(x, h, w_ih, w_hh, b_ih, b_hh);
    let a = gi + gh;
    let i = block(&a, order[0], hsz).mapv(sigmoid);
    let f = block(&a, order[1], hsz).mapv(sigmoid);
    let g = block(&a, order[2], hsz).mapv(f64::tanh);
    let o = block(&a, order[3], hsz).mapv(sigmoid);
    let c_new = &f * c + &i * &g;
    let h_new = &o * &c_new.mapv(f64::tanh);
    (h_new, c_new)
}

/// Which GRU formula to compute: PyTorch's, or one of the classic mistakes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GruForm {
    /// PyTorch: gates r, z, n; n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)); h' = (1 - z) ⊙ n + z ⊙ h.
    PyTorch,
    /// Mistake: h' = z ⊙ n + (1 - z) ⊙ h (z read as "how much to update" instead of "how much to keep").
    FlippedZ,
    /// Mistake: the gates read in the order z, r, n.
    OrderZrn,
    /// The original Cho et al. variant: the reset gate applied before the matmul, W_hn (r ⊙ h) + b_hn.
    ResetBeforeMatmul,
}

/// One GRU step in the given form.
pub fn gru_step(
    x: &Array2<f64>,
    h: &Array2<f64>,
    w_ih: &Array2<f64>,
    w_hh: &Array2<f64>,
    b_ih: &Array1<f64>,
    b_hh: &Array1<f64>,
    form: GruForm,
) -> Array2<f64> {
    let hsz = h.ncols();
    let (gi, gh) = preacts(x, h, w_ih, w_hh, b_ih, b_hh);
    let (ri, zi) = if form == GruForm::OrderZrn {
        (1, 0)
    } else {
        (0, 1)
    };
    let r = (block(&gi, ri, hsz) + block(&gh, ri, hsz)).mapv(sigmoid);
    let z = (block(&gi, zi, hsz) + block(&gh, zi, hsz)).mapv(sigmoid);
    let hn = if form == GruForm::ResetBeforeMatmul {
        let w_hn = w_hh.slice(s![2 * hsz..3 * hsz, ..]);
        (&r * h).dot(&w_hn.t()) + b_hh.slice(s![2 * hsz..3 * hsz])
    } else {
        &r * &block(&gh, 2, hsz)
    };
    let n = (block(&gi, 2, hsz) + hn).mapv(f64::tanh);
    if form == GruForm::FlippedZ {
        &z * &n + &(1.0 - &z) * h
    } else {
        &(1.0 - &z) * &n + &z * h
    }
}

/// PyTorch's `clip_grad_norm_`: scale every tensor by `max_norm / (total + 1e-6)` if that is below 1.
/// Returns the total norm before clipping.
pub fn clip_by_global_norm(grads: &mut [ArrayD<f64>], max_norm: f64) -> f64 {
    let total = grads
        .iter()
        .map(|g| g.iter().map(|v| v * v).sum::<f64>())
        .sum::<f64>()
        .sqrt();
    let coef = max_norm / (total + 1e-6);
    if coef < 1.0 {
        for g in grads.iter_mut() {
            g.mapv_inplace(|v| v * coef);
        }
    }
    total
}

/// PyTorch's `clip_grad_value_`: clamp every element to `[-clip, clip]`.
pub fn clip_by_value(grads: &mut [ArrayD<f64>], clip: f64) {
    for g in grads.iter_mut() {
        g.mapv_inplace(|v| v.clamp(-clip, clip));
    }
}

#[cfg(test)]
mod tests {
    //! The plain formulas agree with the library when no mistake is switched on.

    use super::{GruForm, LSTM_PYTORCH};
    use crate::lab07::{cases, library_lstm};
    use crate::lab08::library_gru;
    use crate::reference;
    use crate::report::{EXACT, is_close};
    use rnn::cells::{Cell, State};

    #[test]
    fn lstm_reference_matches_the_library() {
        for k in cases(4, 1, true) {
            let (h, c) = reference::lstm_step(
                &k.x,
                &k.h,
                &k.c,
                &k.w_ih,
                &k.w_hh,
                &k.b_ih,
                &k.b_hh,
                LSTM_PYTORCH,
            );
            let prev = State {
                h: k.h.clone(),
                c: Some(k.c.clone()),
                gates: None,
            };
            let (next, _) = library_lstm(&k).forward(k.x.view(), &prev);
            assert!(is_close(
                &h.view().into_dyn(),
                &next.h.view().into_dyn(),
                EXACT
            ));
            assert!(is_close(
                &c.view().into_dyn(),
                &next.c.unwrap().view().into_dyn(),
                EXACT
            ));
        }
    }

    #[test]
    fn gru_reference_matches_the_library() {
        for k in cases(3, 2, false) {
            let h = reference::gru_step(
                &k.x,
                &k.h,
                &k.w_ih,
                &k.w_hh,
                &k.b_ih,
                &k.b_hh,
                GruForm::PyTorch,
            );
            let (next, _) = library_gru(&k).forward(k.x.view(), &State::from_h(k.h.clone()));
            assert!(is_close(
                &h.view().into_dyn(),
                &next.h.view().into_dyn(),
                EXACT
            ));
            let cho = reference::gru_step(
                &k.x,
                &k.h,
                &k.w_ih,
                &k.w_hh,
                &k.b_ih,
                &k.b_hh,
                GruForm::ResetBeforeMatmul,
            );
            let mut lib = library_gru(&k);
            lib.variant = rnn::cells::GruVariant::ResetBefore;
            let (next, _) = lib.forward(k.x.view(), &State::from_h(k.h.clone()));
            assert!(is_close(
                &cho.view().into_dyn(),
                &next.h.view().into_dyn(),
                EXACT
            ));
        }
    }

    #[test]
    fn cross_entropy_reference_matches_the_library() {
        let mut rng = rnn::init::rng(5);
        let z = crate::rand2(4, 7, 3.0, &mut rng);
        let y = [0, 6, 3, 3];
        let (l, d) = reference::cross_entropy(&z, &y);
        let (ll, dd) = rnn::loss::softmax_cross_entropy(z.view(), &y, None);
        assert!((l - ll).abs() < 1e-12);
        assert!(is_close(&d.view().into_dyn(), &dd.view().into_dyn(), EXACT));
    }
}

/// A single-term change of the LSTM step backward ((7.8)-(7.18)); `None` is the right backward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LstmSlip {
    /// The right backward.
    None,
    /// dc_total = dc: the path from h into c, dh ⊙ o ⊙ (1 - tanh²(c)), forgotten.
    NoHPathIntoC,
    /// dc_total = dh ⊙ o ⊙ (1 - tanh²(c)): the incoming dc dropped.
    NoIncomingDc,
    /// dc_prev = dc_total, without the forget gate.
    DcPrevWithoutF,
    /// da_o = dh ⊙ c ⊙ o(1 - o): c where tanh(c) belongs.
    OWithoutTanh,
    /// da_f = dc_total ⊙ c ⊙ f(1 - f): the new c where c_prev belongs.
    FWithNewC,
    /// da_i = dc_total ⊙ i ⊙ i(1 - i): i where g belongs.
    IWithoutG,
    /// The gate gradients concatenated as [da_i | da_f | da_o | da_g].
    OrderIfog,
}

/// The LSTM step backward for the loss gradients `dh`, `dc` of (h', c'), with one slip: the increments of
/// dW_ih, dW_hh, db_ih, db_hh, then dx, dh_prev, dc_prev.
#[allow(clippy::too_many_arguments)]
pub fn lstm_backward(
    x: &Array2<f64>,
    h: &Array2<f64>,
    c: &Array2<f64>,
    w_ih: &Array2<f64>,
    w_hh: &Array2<f64>,
    b_ih: &Array1<f64>,
    b_hh: &Array1<f64>,
    dh: &Array2<f64>,
    dc: &Array2<f64>,
    slip: LstmSlip,
) -> Vec<ArrayD<f64>> {
    let hsz = h.ncols();
    let (gi, gh) = preacts(x, h, w_ih, w_hh, b_ih, b_hh);
    let a = gi + gh;
    let i = block(&a, 0, hsz).mapv(sigmoid);
    let f = block(&a, 1, hsz).mapv(sigmoid);
    let g = block(&a, 2, hsz).mapv(f64::tanh);
    let o = block(&a, 3, hsz).mapv(sigmoid);
    let c_new = &f * c + &i * &g;
    let tc = c_new.mapv(f64::tanh);
    let dsig = |s: &Array2<f64>| s * &(1.0 - s);
    // (7.10)
    let via_h = dh * &o * &(1.0 - &tc * &tc);
    let dct = match slip {
        LstmSlip::NoHPathIntoC => dc.clone(),
        LstmSlip::NoIncomingDc => via_h,
        _ => dc + &via_h,
    };
    // (7.8), (7.9)
    let da_o = if slip == LstmSlip::OWithoutTanh {
        dh * &c_new * &dsig(&o)
    } else {
        dh * &tc * &dsig(&o)
    };
    let da_i = if slip == LstmSlip::IWithoutG {
        &dct * &i * &dsig(&i)
    } else {
        &dct * &g * &dsig(&i)
    };
    let f_input = if slip == LstmSlip::FWithNewC {
        &c_new
    } else {
        c
    };
    let da_f = &dct * f_input * &dsig(&f);
    let da_g = &dct * &i * &(1.0 - &g * &g);
    // (7.18)
    let order = if slip == LstmSlip::OrderIfog {
        [&da_i, &da_f, &da_o, &da_g]
    } else {
        [&da_i, &da_f, &da_g, &da_o]
    };
    let da = ndarray::concatenate(
        Axis(1),
        &[
            order[0].view(),
            order[1].view(),
            order[2].view(),
            order[3].view(),
        ],
    )
    .expect("four (B, H) blocks");
    let dc_prev = if slip == LstmSlip::DcPrevWithoutF {
        dct.clone()
    } else {
        &dct * &f
    };
    vec![
        da.t().dot(x).into_dyn(),
        da.t().dot(h).into_dyn(),
        da.sum_axis(Axis(0)).into_dyn(),
        da.sum_axis(Axis(0)).into_dyn(),
        da.dot(w_ih).into_dyn(),
        da.dot(w_hh).into_dyn(),
        dc_prev.into_dyn(),
    ]
}

/// A single-term change of the GRU step backward ((8.9)-(8.12), PyTorch's form); `None` is the right one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GruSlip {
    /// The right backward.
    None,
    /// dh_prev without the direct path dh ⊙ z.
    NoDirectPath,
    /// dz = dh ⊙ (n - h): the sign of ∂h'/∂z flipped.
    ZSign,
    /// The n block of dgh is da_n, without the factor r.
    NoRInGh,
    /// dr = da_n, without the factor (W_hn h + b_hn).
    RWithoutHn,
    /// The backward of h' = z ⊙ n + (1 - z) ⊙ h: z's role flipped (dn = dh ⊙ z, dz = dh ⊙ (n - h), direct
    /// path dh ⊙ (1 - z)).
    FlippedZ,
    /// The backward of Cho et al.'s (8.11b), reset before the matmul ((8.18b)-(8.21b), (8.29b)-(8.31b)),
    /// applied to the values PyTorch's forward cached.
    ResetBefore,
}

/// The GRU step backward for the loss gradient `dh` of h', with one slip: the increments of dW_ih, dW_hh,
/// db_ih, db_hh, then dx, dh_prev.
#[allow(clippy::too_many_arguments)]
pub fn gru_backward(
    x: &Array2<f64>,
    h: &Array2<f64>,
    w_ih: &Array2<f64>,
    w_hh: &Array2<f64>,
    b_ih: &Array1<f64>,
    b_hh: &Array1<f64>,
    dh: &Array2<f64>,
    slip: GruSlip,
) -> Vec<ArrayD<f64>> {
    gru_backward_on(x, h, w_ih, w_hh, b_ih, b_hh, dh, slip, false)
}

/// The backward of Cho et al.'s GRU (8.11b) on its own forward: a cross-check of the `ResetBefore` slip's
/// formulas against the library's `GruVariant::ResetBefore`.
#[cfg(test)]
pub fn gru_backward_cho(
    x: &Array2<f64>,
    h: &Array2<f64>,
    w_ih: &Array2<f64>,
    w_hh: &Array2<f64>,
    b_ih: &Array1<f64>,
    b_hh: &Array1<f64>,
    dh: &Array2<f64>,
) -> Vec<ArrayD<f64>> {
    gru_backward_on(x, h, w_ih, w_hh, b_ih, b_hh, dh, GruSlip::ResetBefore, true)
}

/// [`gru_backward`] on the values of PyTorch's forward, or of Cho et al.'s if `cho_forward`.
#[allow(clippy::too_many_arguments)]
fn gru_backward_on(
    x: &Array2<f64>,
    h: &Array2<f64>,
    w_ih: &Array2<f64>,
    w_hh: &Array2<f64>,
    b_ih: &Array1<f64>,
    b_hh: &Array1<f64>,
    dh: &Array2<f64>,
    slip: GruSlip,
    cho_forward: bool,
) -> Vec<ArrayD<f64>> {
    let hsz = h.ncols();
    let (gi, gh) = preacts(x, h, w_ih, w_hh, b_ih, b_hh);
    let r = (block(&gi, 0, hsz) + block(&gh, 0, hsz)).mapv(sigmoid);
    let z = (block(&gi, 1, hsz) + block(&gh, 1, hsz)).mapv(sigmoid);
    let hn = block(&gh, 2, hsz);
    let n = if cho_forward {
        let w_hn = w_hh.slice(s![2 * hsz..3 * hsz, ..]);
        (block(&gi, 2, hsz) + (&r * h).dot(&w_hn.t()) + b_hh.slice(s![2 * hsz..3 * hsz]))
            .mapv(f64::tanh)
    } else {
        (block(&gi, 2, hsz) + &r * &hn).mapv(f64::tanh)
    };
    let flipped = slip == GruSlip::FlippedZ;
    // (8.13), (8.14)
    let dn = if flipped { dh * &z } else { dh * &(1.0 - &z) };
    let dz = if slip == GruSlip::ZSign || flipped {
        dh * &(&n - h)
    } else {
        dh * &(h - &n)
    };
    // (8.16), (8.17)
    let da_n = &dn * &(1.0 - &n * &n);
    let da_z = &dz * &z * &(1.0 - &z);
    // (8.15)
    let mut direct = match slip {
        GruSlip::NoDirectPath => Array2::zeros(h.raw_dim()),
        GruSlip::FlippedZ => dh * &(1.0 - &z),
        _ => dh * &z,
    };
    if slip == GruSlip::ResetBefore {
        // (8.18b)-(8.21b), (8.22), (8.29b)-(8.31b)
        let w_hn = w_hh.slice(s![2 * hsz..3 * hsz, ..]);
        let d_rh = da_n.dot(&w_hn);
        let da_r = &d_rh * h * &r * &(1.0 - &r);
        direct += &(&d_rh * &r);
        let dgi = ndarray::concatenate(Axis(1), &[da_r.view(), da_z.view(), da_n.view()])
            .expect("(B, H) blocks");
        let drz =
            ndarray::concatenate(Axis(1), &[da_r.view(), da_z.view()]).expect("(B, H) blocks");
        let dw_hh = ndarray::concatenate(
            Axis(0),
            &[drz.t().dot(h).view(), da_n.t().dot(&(&r * h)).view()],
        )
        .expect("(H, H) blocks");
        let dgh = ndarray::concatenate(Axis(1), &[drz.view(), da_n.view()]).expect("(B, H) blocks");
        let dprev = direct + drz.dot(&w_hh.slice(s![..2 * hsz, ..]));
        return vec![
            dgi.t().dot(x).into_dyn(),
            dw_hh.into_dyn(),
            dgi.sum_axis(Axis(0)).into_dyn(),
            dgh.sum_axis(Axis(0)).into_dyn(),
            dgi.dot(w_ih).into_dyn(),
            dprev.into_dyn(),
        ];
    }
    // (8.19a), (8.22)
    let dr = if slip == GruSlip::RWithoutHn {
        da_n.clone()
    } else {
        &da_n * &hn
    };
    let da_r = &dr * &r * &(1.0 - &r);
    // (8.18a)
    let gh_n = if slip == GruSlip::NoRInGh {
        da_n.clone()
    } else {
        &da_n * &r
    };
    // (8.23), (8.24)
    let dgi = ndarray::concatenate(Axis(1), &[da_r.view(), da_z.view(), da_n.view()])
        .expect("(B, H) blocks");
    let dgh = ndarray::concatenate(Axis(1), &[da_r.view(), da_z.view(), gh_n.view()])
        .expect("(B, H) blocks");
    vec![
        dgi.t().dot(x).into_dyn(),
        dgh.t().dot(h).into_dyn(),
        dgi.sum_axis(Axis(0)).into_dyn(),
        dgh.sum_axis(Axis(0)).into_dyn(),
        dgi.dot(w_ih).into_dyn(),
        (direct + dgh.dot(w_hh)).into_dyn(),
    ]
}
