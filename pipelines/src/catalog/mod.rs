//! Bindings of pure operators to topics and codecs, one module per pipeline.

pub mod passthrough;
pub mod totals;
