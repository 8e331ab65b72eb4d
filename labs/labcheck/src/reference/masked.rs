//! Masked recurrence over a padded batch (lab 12), with one slip switched on: the answers the classic masking
//! mistakes give. The cell is the Elman cell; m_t,b = 1 where t < lengths[b], else 0.

use ndarray::{Array1, Array2, Array3, ArrayD, Axis};

use crate::lab10::SeqCase;

/// `(B, 1)`: 1.0 for the rows whose step `t` is real, 0.0 for the padded ones.
pub fn mask(lengths: &[usize], t: usize) -> Array2<f64> {
    Array2::from_shape_fn(
        (lengths.len(), 1),
        |(b, _)| {
            if t < lengths[b] { 1.0 } else { 0.0 }
        },
    )
}

/// A single change of the masked forward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FwdSlip {
    /// The right recurrence.
    None,
    /// state_t = m_t ⊙ cell(x_t, state_{t-1}): the pads reset the state to zero.
    ZeroPads,
}

/// The states `(T, B, H)` of the masked Elman recurrence, with one slip.
pub fn masked_states(k: &SeqCase, lengths: &[usize], slip: FwdSlip) -> Array3<f64> {
    let (t_len, b, _) = k.xs.dim();
    let hsz = k.h0.ncols();
    let mut hs = Array3::zeros((t_len, b, hsz));
    let mut h = k.h0.clone();
    for t in 0..t_len {
        let x = k.xs.index_axis(Axis(0), t);
        let cell = (x.dot(&k.w_ih.t()) + &k.b_ih + h.dot(&k.w_hh.t()) + &k.b_hh).mapv(f64::tanh);
        let m = mask(lengths, t);
        h = match slip {
            FwdSlip::None => &m * &cell + &(1.0 - &m) * &h,
            FwdSlip::ZeroPads => &m * &cell,
        };
        hs.index_axis_mut(Axis(0), t).assign(&h);
    }
    hs
}

/// The two readouts and their slips.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadSlip {
    /// The right readout.
    None,
    /// Last: hs at step T-1 for every row. Mean: the real steps summed, divided by T.
    AtEnd,
    /// Mean: every step summed (pads too), divided by the row's length.
    PadsSummed,
    /// Mean: the plain mean over all T steps.
    AllSteps,
}

/// The last real state of each row `(B, H)`: hs[lengths[b] - 1, b] (or hs[T-1, b] with [`ReadSlip::AtEnd`]).
pub fn read_last(hs: &Array3<f64>, lengths: &[usize], slip: ReadSlip) -> Array2<f64> {
    let (t_len, b, h) = hs.dim();
    Array2::from_shape_fn((b, h), |(r, j)| {
        let t = if slip == ReadSlip::AtEnd {
            t_len - 1
        } else {
            lengths[r] - 1
        };
        hs[[t, r, j]]
    })
}

/// The masked mean of each row over its real steps `(B, H)`, with one slip.
pub fn read_mean(hs: &Array3<f64>, lengths: &[usize], slip: ReadSlip) -> Array2<f64> {
    let (t_len, b, h) = hs.dim();
    Array2::from_shape_fn((b, h), |(r, j)| {
        let n = lengths[r];
        let (steps, div) = match slip {
            ReadSlip::None => (n, n),
            ReadSlip::AtEnd => (n, t_len),
            ReadSlip::PadsSummed => (t_len, n),
            ReadSlip::AllSteps => (t_len, t_len),
        };
        (0..steps).map(|t| hs[[t, r, j]]).sum::<f64>() / div as f64
    })
}

/// The backward of [`read_last`] with the same slip: ∂L/∂hs `(T, B, H)` from ∂L/∂features `(B, H)`.
pub fn read_last_back(
    d: &Array2<f64>,
    lengths: &[usize],
    t_len: usize,
    slip: ReadSlip,
) -> Array3<f64> {
    let (b, h) = d.dim();
    let mut out = Array3::zeros((t_len, b, h));
    for (r, &n) in lengths.iter().enumerate() {
        let t = if slip == ReadSlip::AtEnd {
            t_len - 1
        } else {
            n - 1
        };
        out.index_axis_mut(Axis(0), t).row_mut(r).assign(&d.row(r));
    }
    out
}

/// The backward of [`read_mean`] with the same slip.
pub fn read_mean_back(
    d: &Array2<f64>,
    lengths: &[usize],
    t_len: usize,
    slip: ReadSlip,
) -> Array3<f64> {
    let (b, h) = d.dim();
    let mut out = Array3::zeros((t_len, b, h));
    for (r, &n) in lengths.iter().enumerate() {
        let (steps, div) = match slip {
            ReadSlip::None => (n, n),
            ReadSlip::AtEnd => (n, t_len),
            ReadSlip::PadsSummed => (t_len, n),
            ReadSlip::AllSteps => (t_len, t_len),
        };
        for t in 0..steps {
            let share = &d.row(r) / div as f64;
            out.index_axis_mut(Axis(0), t).row_mut(r).assign(&share);
        }
    }
    out
}

/// A single change of the masked backward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BwdSlip {
    /// The right backward.
    None,
    /// Plain BPTT: the cell sees the unmasked gradient and nothing passes straight through.
    NoMask,
    /// The cell sees the unmasked gradient at the pads (the pass-through is kept).
    CellUnmasked,
    /// The cell sees m ⊙ d, but (1 - m) ⊙ d is not passed on to state_{t-1}.
    NoPassThrough,
    /// Only the last step's dhs: d_t = d_next, plus dhs[T-1] at t = T-1.
    LastStepOnly,
    /// d_t = dhs[t]: nothing carried from step t+1.
    NoDhNext,
    /// Parameter gradients overwritten at each step: only step 0's survive.
    Overwrite,
}

/// The masked BPTT for `L = Σ dhs ⊙ hs` (hs the right masked states), with one slip: dW_ih, dW_hh, db_ih,
/// db_hh, dxs, dh0. The Elman step backward takes tanh' at hs[t], as a learner's code does.
pub fn masked_bptt(
    k: &SeqCase,
    lengths: &[usize],
    dhs: &Array3<f64>,
    slip: BwdSlip,
) -> Vec<ArrayD<f64>> {
    let hs = masked_states(k, lengths, FwdSlip::None);
    let (t_len, b, d) = k.xs.dim();
    let hsz = k.h0.ncols();
    let mut g = [
        Array2::<f64>::zeros((hsz, d)),
        Array2::<f64>::zeros((hsz, hsz)),
    ];
    let mut gb = Array1::<f64>::zeros(hsz);
    let mut dxs = Array3::<f64>::zeros((t_len, b, d));
    let mut d_next = Array2::<f64>::zeros((b, hsz));
    for t in (0..t_len).rev() {
        let y = dhs.index_axis(Axis(0), t);
        let dt = match slip {
            BwdSlip::NoDhNext => y.to_owned(),
            BwdSlip::LastStepOnly if t + 1 < t_len => d_next.clone(),
            _ => &y + &d_next,
        };
        let m = mask(lengths, t);
        let seen = match slip {
            BwdSlip::NoMask | BwdSlip::CellUnmasked => dt.clone(),
            _ => &m * &dt,
        };
        let h = hs.index_axis(Axis(0), t);
        let h_prev = if t == 0 {
            k.h0.clone()
        } else {
            hs.index_axis(Axis(0), t - 1).to_owned()
        };
        let x = k.xs.index_axis(Axis(0), t);
        let da = &seen * &h.mapv(|v| 1.0 - v * v);
        let inc = [da.t().dot(&x), da.t().dot(&h_prev)];
        let inc_b = da.sum_axis(Axis(0));
        if slip == BwdSlip::Overwrite {
            g = inc;
            gb = inc_b;
        } else {
            g[0] += &inc[0];
            g[1] += &inc[1];
            gb += &inc_b;
        }
        dxs.index_axis_mut(Axis(0), t).assign(&da.dot(&k.w_ih));
        let dprev = da.dot(&k.w_hh);
        d_next = match slip {
            BwdSlip::NoMask | BwdSlip::NoPassThrough => dprev,
            _ => &(1.0 - &m) * &dt + &dprev,
        };
    }
    let [gi, gh] = g;
    vec![
        gi.into_dyn(),
        gh.into_dyn(),
        gb.clone().into_dyn(),
        gb.into_dyn(),
        dxs.into_dyn(),
        d_next.into_dyn(),
    ]
}
