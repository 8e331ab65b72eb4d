//! Complete models built from the library's pieces.
//!
//! - [`char_lm`]: a character-level language model (embedding or one-hot → deep RNN/LSTM/GRU → dense →
//!   softmax), trained with truncated BPTT; the model behind the `rnn` command-line tool.

pub mod char_lm;
