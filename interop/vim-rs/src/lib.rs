//! Nothing here: the interop test is `tests/vim_rs_interop.rs`.
