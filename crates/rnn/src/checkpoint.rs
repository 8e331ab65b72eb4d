//! STUB: module `checkpoint`, to be written.
