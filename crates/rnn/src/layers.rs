//! STUB: module `layers`, to be written.
