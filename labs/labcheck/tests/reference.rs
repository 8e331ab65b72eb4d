//! The plain formulas in `labcheck::reference` (used to build the classic mistakes' answers) agree with the
//! library when no mistake is switched on.

use labcheck::lab07::{cases, library_lstm};
use labcheck::lab08::library_gru;
use labcheck::reference::{self, GruForm, LSTM_PYTORCH};
use labcheck::report::{EXACT, is_close};
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
    let z = labcheck::rand2(4, 7, 3.0, &mut rng);
    let y = [0, 6, 3, 3];
    let (l, d) = reference::cross_entropy(&z, &y);
    let (ll, dd) = rnn::loss::softmax_cross_entropy(z.view(), &y, None);
    assert!((l - ll).abs() < 1e-12);
    assert!(is_close(&d.view().into_dyn(), &dd.view().into_dyn(), EXACT));
}
