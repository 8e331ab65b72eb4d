//! STUB: module `stack`, to be written.
