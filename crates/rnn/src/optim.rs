//! STUB: module `optim`, to be written.
