//! Bindings of pure operators to topics and codecs, one module per pipeline.

pub mod accounts;
pub mod matching;
pub mod passthrough;
pub mod portfolio;
pub mod totals;
