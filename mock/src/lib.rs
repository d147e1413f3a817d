//! Spec-driven mock server for event-reporting APIs.
//!
//! - [`core::Mock`]: the sans-IO core, `handle(Request) -> Response`.
//! - [`server::MockServer`]: the hyper transport, for tests and the standalone binary.
//! - [`spec`]: the contract, embedded from `specs/`.
//! - one module per API: [`mws`].
//! - shared machinery: [`clock`], [`ids`], [`mongo`] (MongoDB query semantics).

pub mod clock;
pub mod config;
pub mod core;
pub mod errors;
pub mod huawei_sign;
pub mod ids;
pub mod mongo;
pub mod mws;
pub mod server;
pub mod spec;
#[cfg(feature = "wiremock")]
pub mod wiremock_adapter;

pub use crate::config::{MockConfig, MwsConfig, TotalCount, User};
pub use crate::core::{Mock, Request, Response};
pub use crate::server::MockServer;
