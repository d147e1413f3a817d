//! Spec-driven mock server for event-reporting APIs.
pub mod mongo;
