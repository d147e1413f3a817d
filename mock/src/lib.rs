//! Spec-driven mock server for event-reporting APIs.
//!
//! - [`core::Mock`]: the sans-IO core, `handle(Request) -> Response`.
//! - [`server::MockServer`]: the hyper transport, for tests and the standalone binary.
//! - [`spec`]: the contract, embedded from `specs/`.
//! - one module per API: [`mws`] (Moab Web Services events), [`ces`] (Huawei Cloud Eye events).
//! - shared machinery: [`clock`], [`ids`], [`mongo`] (MongoDB query semantics), [`codec::xml`]
//!   (XML rendering of JSON bodies, driven by a spec's XML mapping).

pub mod ces;
pub mod clock;
pub mod codec;
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

pub use crate::config::{CesConfig, MockConfig, MwsConfig, TotalCount, User};
pub use crate::core::{Mock, Request, Response};
pub use crate::server::MockServer;
