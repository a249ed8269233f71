//! `GET /v2/clock`: Alpaca's market clock, from a [`TradingCalendar`] in the state and the
//! injected [`Clock`](crate::ports::Clock) (so tests are deterministic).
//!
//! The calendar is a sorted list of sessions (open, close, UTC offset of the venue's local
//! time that day). Times are rendered at that offset, as Alpaca renders New York time.
//! Known limitation: the API gets sessions from whoever builds the state; compiling them
//! from `operators`' `CalendarRules` (which has closes but no opens) is the next step.

use crate::auth::Principal;
use crate::error::ApiError;
use crate::format::rfc3339_offset;
use crate::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

/// One trading session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Session {
    pub open_ns: i64,
    pub close_ns: i64,
    /// Local time = UTC + this many minutes (e.g. -300 for New York in winter).
    pub utc_offset_minutes: i32,
}

/// Invalid calendar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("session {0} closes before it opens")]
    Inverted(usize),
    #[error("session {0} overlaps or precedes the previous one")]
    Unordered(usize),
}

/// Sorted, non-overlapping sessions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TradingCalendar {
    sessions: Vec<Session>,
}

/// The market clock at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockState {
    pub is_open: bool,
    pub next_open_ns: i64,
    pub next_close_ns: i64,
    pub utc_offset_minutes: i32,
}

impl TradingCalendar {
    pub fn new(sessions: Vec<Session>) -> Result<TradingCalendar, CalendarError> {
        for (i, s) in sessions.iter().enumerate() {
            if s.close_ns <= s.open_ns {
                return Err(CalendarError::Inverted(i));
            }
            if i > 0 && s.open_ns < sessions[i - 1].close_ns {
                return Err(CalendarError::Unordered(i));
            }
        }
        Ok(TradingCalendar { sessions })
    }

    /// The clock at `now_ns`; `None` when the calendar has no session closing after it.
    pub fn clock_at(&self, now_ns: i64) -> Option<ClockState> {
        let i = self.sessions.partition_point(|s| s.close_ns <= now_ns);
        let current = self.sessions.get(i)?;
        if current.open_ns <= now_ns {
            // Open: the next open is the following session's (or, at the calendar's end,
            // unknown: we report this session's close, never a time in the past).
            let next_open = self.sessions.get(i + 1).map_or(current.close_ns, |n| n.open_ns);
            Some(ClockState { is_open: true, next_open_ns: next_open, next_close_ns: current.close_ns, utc_offset_minutes: current.utc_offset_minutes })
        } else {
            Some(ClockState { is_open: false, next_open_ns: current.open_ns, next_close_ns: current.close_ns, utc_offset_minutes: current.utc_offset_minutes })
        }
    }
}

/// Alpaca's Clock object.
#[derive(Serialize)]
struct ClockBody {
    timestamp: String,
    is_open: bool,
    next_open: String,
    next_close: String,
}

async fn get_clock(State(state): State<AppState>, _who: Principal) -> Result<Json<ClockBody>, ApiError> {
    let now = state.ports.clock.now_ns();
    let c = state.calendar.clock_at(now).ok_or_else(|| ApiError::Unavailable("trading calendar has no future session".into()))?;
    let off = c.utc_offset_minutes;
    Ok(Json(ClockBody {
        timestamp: rfc3339_offset(now, off),
        is_open: c.is_open,
        next_open: rfc3339_offset(c.next_open_ns, off),
        next_close: rfc3339_offset(c.next_close_ns, off),
    }))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/v2/clock", get(get_clock))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::*;

    const H: i64 = 3_600_000_000_000;

    #[test]
    fn calendar_validation_and_states() {
        assert_eq!(TradingCalendar::new(vec![Session { open_ns: 5, close_ns: 5, utc_offset_minutes: 0 }]), Err(CalendarError::Inverted(0)));
        let s = |o, c| Session { open_ns: o, close_ns: c, utc_offset_minutes: 0 };
        assert_eq!(TradingCalendar::new(vec![s(0, 10), s(5, 20)]), Err(CalendarError::Unordered(1)));
        let cal = TradingCalendar::new(vec![s(10, 20), s(30, 40)]).unwrap();
        assert_eq!(cal.clock_at(0).map(|c| (c.is_open, c.next_open_ns, c.next_close_ns)), Some((false, 10, 20)));
        assert_eq!(cal.clock_at(10).map(|c| (c.is_open, c.next_open_ns, c.next_close_ns)), Some((true, 30, 20)));
        assert_eq!(cal.clock_at(20).map(|c| (c.is_open, c.next_open_ns, c.next_close_ns)), Some((false, 30, 40)));
        assert_eq!(cal.clock_at(40), None);
    }

    #[tokio::test]
    async fn clock_open_and_closed_deterministic() {
        let t = TestApp::new();
        // testkit's calendar: 2023-11-14 14:30Z-21:00Z and 2023-11-15 14:30Z-21:00Z, New York winter time.
        t.clock.set(SESSION1_OPEN + H);
        let (s, b) = t.get(TRADER, "/v2/clock").await;
        assert_eq!(s, 200);
        assert_eq!(
            b,
            serde_json::json!({
                "timestamp": "2023-11-14T10:30:00.000000-05:00",
                "is_open": true,
                "next_open": "2023-11-15T09:30:00.000000-05:00",
                "next_close": "2023-11-14T16:00:00.000000-05:00"
            })
        );
        t.clock.set(SESSION1_OPEN + 7 * H);
        let (_, b) = t.get(ANALYST, "/v2/clock").await;
        assert_eq!(b["is_open"], false);
        assert_eq!(b["next_open"], "2023-11-15T09:30:00.000000-05:00");
        assert_eq!(b["next_close"], "2023-11-15T16:00:00.000000-05:00");
        t.clock.set(SESSION1_OPEN + 100 * H);
        let (s, b) = t.get(TRADER, "/v2/clock").await;
        assert_eq!((s, b["code"].as_u64()), (503, Some(50310000)));
    }
}
