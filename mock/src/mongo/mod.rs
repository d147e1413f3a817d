//! MongoDB query semantics (filter, sort, relaxed JSON) used by the MWS events API.
