//! Spec-driven mock server for event-reporting APIs.
//!
//! - [`dispatch::Mock`]: the sans-IO core, `handle(Request) -> Response`: routes to an API,
//!   serves the `/__admin` control plane, and encodes every reply through the [`codec`].
//! - [`api`]: the seam an API plugs into; [`apis`]: the registry and one folder per API.
//! - [`server::MockServer`]: the hyper transport, for tests and the standalone binary.
//! - [`spec`]: the contract, embedded from `specs/`, typed.
//! - shared machinery: [`wire`] (request/reply types and HTTP helpers), [`codec`] (JSON and XML
//!   representations), [`errors`] (vendor error bodies), [`store`], [`auth`], [`clock`],
//!   [`ids`], [`mongo`] (MongoDB query semantics), [`compact`] (a compact stored JSON document),
//!   [`timefmt`] (strftime formats compiled once).

mod admin;
pub mod api;
pub mod apis;
pub mod auth;
pub mod clock;
pub mod codec;
pub mod compact;
pub mod config;
pub mod dispatch;
pub mod errors;
pub mod ids;
pub mod mongo;
pub mod server;
pub mod spec;
pub mod store;
pub mod timefmt;
pub mod tls;
pub mod wire;
#[cfg(feature = "wiremock")]
pub mod wiremock_adapter;

pub use crate::config::{ApiConfig, MockConfig};
pub use crate::dispatch::Mock;
pub use crate::server::MockServer;
pub use crate::wire::{Request, Response};
