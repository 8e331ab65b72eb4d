//! STUB: module `loss`, to be written.
