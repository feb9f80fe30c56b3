//! Integration tests: one binary, one module per concern, real things started.

mod browser;
