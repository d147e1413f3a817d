//! MongoDB query semantics (filter, sort, relaxed JSON) used by the MWS events API.
//!
//! MWS forwards its `query` and `sort` URL parameters to MongoDB, so the mock reproduces the
//! MongoDB manual's semantics over `serde_json::Value` documents:
//!
//! - [`parse_relaxed_json`] reads the parameters the way the Java driver does (unquoted keys,
//!   single quotes), keeping integers as integers and bounding nesting without recursion.
//! - [`Filter`] compiles a query document once (operators validated, regexes compiled, dotted
//!   paths pre-split) and then matches documents without allocating. Array traversal,
//!   null-versus-missing, type bracketing and order-sensitive embedded-document equality
//!   follow the manual; see `path.rs` for the traversal rules.
//! - [`SortSpec`] orders documents by BSON cross-type order (null/missing < numbers < strings
//!   < objects < arrays < booleans), using an array's smallest element for ascending keys and
//!   its largest for descending ones, stably.
//!
//! The golden table `specs/mws-events/query-golden.json` pins the semantics, including the
//! edges where popular reimplementations (mongomock, sift, mingo) disagree with MongoDB.

mod filter;
mod order;
mod path;
mod relaxed;
mod sort;

pub use filter::{Filter, QueryError};
pub use relaxed::parse_relaxed_json;
pub use sort::SortSpec;
