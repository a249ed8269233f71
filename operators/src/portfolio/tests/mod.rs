//! Scenario and property tests for the portfolio operator.
//!
//! - `golden`: the seed's worked examples (FIFO vs LIFO capital gains, portfolio P&L).
//! - `operator`: the operator's input/output contract (duplicates, refusals, instructions).
//! - `oracle`: proptest comparing incremental state with `reference`, a deliberately
//!   simple from-scratch recomputation over the full input log, plus conservation laws.

mod golden;
mod operator;
mod oracle;
mod reference;
mod support;
