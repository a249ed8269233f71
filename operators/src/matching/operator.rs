//! `MatchingOperator`: the book as a keyed stream operator (key = symbol).
//!
//! Invariants:
//! - State per symbol is a [`Book`]; `None` until the first successful `List`. Commands
//!   for an unlisted symbol are answered with `UnknownInstrument` rejections.
//! - Every output is wrapped with the symbol and the event time it was produced at, so the
//!   pipeline can key execution reports by account and the tape by symbol.
//! - Punctuation by stream time expires day orders whose session close has passed;
//!   wall-clock punctuation does nothing (it is not reproducible on replay).
//!   `punctuation_due` is true exactly when the book has a day order with close `<=` the
//!   stream time, so keys with nothing to expire are skipped by the runtime.
//! - With `depth_levels > 0`, a `Depth` event follows every command (and every
//!   punctuation that expired something).

use super::book::{reject_unlisted, Book, BookConfig};
use super::events::BookEvent;
use super::types::Command;
use crate::{Operator, PunctuationKind, PunctuationSchedule, Timestamp};

/// Operator configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MatchingConfig {
    /// Shared by every book (session calendar).
    pub book: BookConfig,
    /// Levels per side in the `Depth` event after each command; 0 = no depth events.
    pub depth_levels: usize,
    /// How often (ns of stream time) to punctuate for day-order expiry; `None` = never
    /// (expiry then happens only when the next command for the symbol arrives).
    pub expiry_every_ns: Option<i64>,
}

/// One output record: an event of one symbol's book at one time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatchingOutput {
    /// The symbol (the operator key).
    pub symbol: String,
    /// Event time of the command or punctuation that produced it.
    pub time: Timestamp,
    /// The event.
    pub event: BookEvent,
}

/// The matching engine as an [`Operator`].
#[derive(Clone, Debug, Default)]
pub struct MatchingOperator {
    /// Configuration.
    pub config: MatchingConfig,
}

impl MatchingOperator {
    /// An operator with this configuration.
    pub fn new(config: MatchingConfig) -> Self {
        MatchingOperator { config }
    }

    fn wrap(&self, key: &str, time: Timestamp, book: Option<&Book>, events: Vec<BookEvent>, out: &mut Vec<MatchingOutput>) {
        let depth = match book {
            Some(b) if self.config.depth_levels > 0 => Some(BookEvent::Depth(b.depth(self.config.depth_levels))),
            _ => None,
        };
        out.extend(
            events
                .into_iter()
                .chain(depth)
                .map(|event| MatchingOutput { symbol: key.to_owned(), time, event }),
        );
    }
}

impl Operator for MatchingOperator {
    type Key = String;
    type Input = Command;
    type State = Book;
    type Output = MatchingOutput;

    fn process(
        &self,
        key: &String,
        state: &mut Option<Book>,
        input: Command,
        time: Timestamp,
        out: &mut Vec<MatchingOutput>,
    ) {
        let mut events = Vec::new();
        match (state.as_mut(), input) {
            (Some(book), cmd) => book.process(cmd, time, &mut events),
            (None, Command::List(rules)) => {
                if rules.compile().is_err() {
                    reject_unlisted(&Command::List(rules), &mut events);
                } else if let Ok(book) = Book::new(rules, self.config.book.clone()) {
                    events.push(BookEvent::Instrument(book.status()));
                    *state = Some(book);
                }
            }
            (None, cmd) => reject_unlisted(&cmd, &mut events),
        }
        self.wrap(key, time, state.as_ref(), events, out);
    }

    fn punctuation(&self) -> PunctuationSchedule {
        PunctuationSchedule { stream_time_every_ns: self.config.expiry_every_ns, wall_clock_every_ns: None }
    }

    fn punctuation_due(&self, _key: &String, state: Option<&Book>, time: Timestamp, kind: PunctuationKind) -> bool {
        kind == PunctuationKind::StreamTime && state.and_then(Book::next_expiry).is_some_and(|c| c <= time.nanos())
    }

    fn punctuate(
        &self,
        key: &String,
        state: &mut Option<Book>,
        time: Timestamp,
        kind: PunctuationKind,
        out: &mut Vec<MatchingOutput>,
    ) {
        if kind != PunctuationKind::StreamTime {
            return;
        }
        if let Some(book) = state.as_mut() {
            let mut events = Vec::new();
            book.expire(time, &mut events);
            if !events.is_empty() {
                self.wrap(key, time, Some(book), events, out);
            }
        }
    }
}
