//! BPTT over a whole sequence through the LSTM (lab 10) and the GRU (lab 11), with one slip switched on:
//! the answers the classic sequence mistakes give.

use ndarray::{Array2, Array3, ArrayD, Axis};

use super::{
    GruForm, GruSlip, LSTM_PYTORCH, LstmSlip, gru_backward, gru_step, lstm_backward, lstm_step,
};
use crate::lab10::SeqCase;

/// A single change of the BPTT loop (4.7), (7.10), (7.16).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeqSlip {
    /// The right loop (used by the unit tests that compare with the library).
    #[cfg(test)]
    None,
    /// LSTM: dc carried to step t-1 is dc_t, without the forget gate (7.16).
    DcWithoutF,
    /// LSTM: the carried dc reset to zero after every step (only dc_last reaches step T-1).
    DcNotCarried,
    /// LSTM: no incoming dc at any step, dc_last included.
    NoDc,
    /// ∂L/∂h_t = dh_next, with dys[T-1] at the last step only.
    LastStepOnly,
    /// ∂L/∂h_t = dys[t]: dh_next forgotten (dh_last too).
    NoDhNext,
    /// The gradients on the final state (dh_last, dc_last) ignored.
    NoFinalGrad,
    /// Parameter gradients overwritten at each step: only step 0's survive.
    Overwrite,
    /// The loop walks t = 0 up to T-1 instead of T-1 down to 0.
    ForwardInTime,
}

/// The loop shared by both cells. `step(t, dh, dc)` returns the step's increments of dW_ih, dW_hh, db_ih,
/// db_hh, then dx, dh_prev, dc_prev. Returns the parameter gradients, dxs, dh0, dc0.
fn backward_loop(
    t_len: usize,
    d: usize,
    dys: &Array3<f64>,
    dh_last: &Array2<f64>,
    dc_last: &Array2<f64>,
    slip: SeqSlip,
    step: impl Fn(usize, &Array2<f64>, &Array2<f64>) -> Vec<ArrayD<f64>>,
) -> Vec<ArrayD<f64>> {
    let (_, b, _) = dys.dim();
    let zero = Array2::<f64>::zeros(dh_last.raw_dim());
    let (mut dh_next, mut dc_next) = match slip {
        SeqSlip::NoFinalGrad => (zero.clone(), zero.clone()),
        SeqSlip::NoDc => (dh_last.clone(), zero.clone()),
        _ => (dh_last.clone(), dc_last.clone()),
    };
    let order: Vec<usize> = if slip == SeqSlip::ForwardInTime {
        (0..t_len).collect()
    } else {
        (0..t_len).rev().collect()
    };
    let mut sums: Option<Vec<ArrayD<f64>>> = None;
    let mut dxs = Array3::<f64>::zeros((t_len, b, d));
    for t in order {
        let y = dys.index_axis(Axis(0), t);
        // (4.7)
        let dh = match slip {
            SeqSlip::NoDhNext => y.to_owned(),
            SeqSlip::LastStepOnly if t + 1 < t_len => dh_next.clone(),
            _ => &y + &dh_next,
        };
        let out = step(t, &dh, &dc_next);
        sums = Some(match sums {
            Some(s) if slip != SeqSlip::Overwrite => {
                s.iter().zip(&out).map(|(a, g)| a + g).collect()
            }
            _ => out[..4].to_vec(),
        });
        dxs.index_axis_mut(Axis(0), t).assign(
            &out[4]
                .clone()
                .into_dimensionality::<ndarray::Ix2>()
                .expect("(B, D)"),
        );
        dh_next = out[5].clone().into_dimensionality().expect("(B, H)");
        dc_next = match slip {
            SeqSlip::DcNotCarried | SeqSlip::NoDc => zero.clone(),
            _ => out[6].clone().into_dimensionality().expect("(B, H)"),
        };
    }
    let mut all = sums.expect("at least one step");
    all.extend([dxs.into_dyn(), dh_next.into_dyn(), dc_next.into_dyn()]);
    all
}

/// LSTM BPTT for the loss `Σ dys ⊙ hs + Σ dh_last ⊙ h_T + Σ dc_last ⊙ c_T`, with one slip: dW_ih, dW_hh, db_ih,
/// db_hh, dxs, dh0, dc0.
pub fn lstm_bptt(
    k: &SeqCase,
    dys: &Array3<f64>,
    dh_last: &Array2<f64>,
    dc_last: &Array2<f64>,
    slip: SeqSlip,
) -> Vec<ArrayD<f64>> {
    let (t_len, _, d) = k.xs.dim();
    // the states entering each step
    let mut hs = vec![k.h0.clone()];
    let mut cs = vec![k.c0.clone()];
    for t in 0..t_len {
        let x = k.xs.index_axis(Axis(0), t).to_owned();
        let (h, c) = lstm_step(
            &x,
            &hs[t],
            &cs[t],
            &k.w_ih,
            &k.w_hh,
            &k.b_ih,
            &k.b_hh,
            LSTM_PYTORCH,
        );
        hs.push(h);
        cs.push(c);
    }
    let step_slip = if slip == SeqSlip::DcWithoutF {
        LstmSlip::DcPrevWithoutF
    } else {
        LstmSlip::None
    };
    backward_loop(t_len, d, dys, dh_last, dc_last, slip, |t, dh, dc| {
        let x = k.xs.index_axis(Axis(0), t).to_owned();
        lstm_backward(
            &x, &hs[t], &cs[t], &k.w_ih, &k.w_hh, &k.b_ih, &k.b_hh, dh, dc, step_slip,
        )
    })
}

/// GRU BPTT (PyTorch's form) for the loss `Σ dys ⊙ hs + Σ dh_last ⊙ h_T`, with one slip in the loop and one
/// in the step: dW_ih, dW_hh, db_ih, db_hh, dxs, dh0.
pub fn gru_bptt(
    k: &SeqCase,
    dys: &Array3<f64>,
    dh_last: &Array2<f64>,
    slip: SeqSlip,
    step_slip: GruSlip,
) -> Vec<ArrayD<f64>> {
    let (t_len, _, d) = k.xs.dim();
    let mut hs = vec![k.h0.clone()];
    for t in 0..t_len {
        let x = k.xs.index_axis(Axis(0), t).to_owned();
        let h = gru_step(
            &x,
            &hs[t],
            &k.w_ih,
            &k.w_hh,
            &k.b_ih,
            &k.b_hh,
            GruForm::PyTorch,
        );
        hs.push(h);
    }
    let zero = Array2::<f64>::zeros(k.h0.raw_dim());
    let mut out = backward_loop(t_len, d, dys, dh_last, &zero, slip, |t, dh, _| {
        let x = k.xs.index_axis(Axis(0), t).to_owned();
        let mut g = gru_backward(
            &x, &hs[t], &k.w_ih, &k.w_hh, &k.b_ih, &k.b_hh, dh, step_slip,
        );
        g.push(zero.clone().into_dyn());
        g
    });
    out.truncate(6);
    out
}
