//! Tradeflow's HTTP API (axum).
//!
//! Today: operational endpoints ([`ops`]) served by every process. The Alpaca-compatible
//! trading API and the platform API land here next (see the issues); every resource gets a
//! module with its own `router()`, and tests call `app(state).oneshot(request)`.

pub mod ops;
