//! [`ActivityQuery`]: which activities a listing wants, and the one selection function
//! every [`ActivityView`](crate::ports::ActivityView) implementation uses.
//!
//! Paging: activities are ordered by id (= time order, see [`super::model`]); a page
//! token is the id of the previous page's last item, and the next page holds the ids
//! strictly after it in the listing's direction. Since ids are unique and stable, paging
//! through an unchanging list visits every activity exactly once.

use super::model::{Activity, ActivityType};
use crate::ports::Direction;
use std::collections::BTreeSet;

/// Default and largest `page_size`.
pub const MAX_PAGE_SIZE: usize = 100;

/// A listing query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivityQuery {
    pub account_id: String,
    /// Wanted types (empty: none match).
    pub types: BTreeSet<ActivityType>,
    /// Inclusive lower bound on `at_ns`.
    pub from_ns: Option<i64>,
    /// Exclusive upper bound on `at_ns`.
    pub to_ns: Option<i64>,
    pub direction: Direction,
    /// 1..=[`MAX_PAGE_SIZE`].
    pub page_size: usize,
    /// Id of the previous page's last activity.
    pub page_token: Option<String>,
}

impl ActivityQuery {
    /// Every activity of an account, newest first, one full page.
    pub fn all(account_id: &str) -> ActivityQuery {
        ActivityQuery {
            account_id: account_id.to_string(),
            types: ActivityType::ALL.into_iter().collect(),
            from_ns: None,
            to_ns: None,
            direction: Direction::Desc,
            page_size: MAX_PAGE_SIZE,
            page_token: None,
        }
    }

    /// Whether `a` passes the filters (not the page token).
    pub fn matches(&self, a: &Activity) -> bool {
        a.account_id == self.account_id
            && self.types.contains(&a.activity_type())
            && self.from_ns.is_none_or(|t| a.at_ns >= t)
            && self.to_ns.is_none_or(|t| a.at_ns < t)
    }

    /// One page from an account's activities given in ascending id order.
    pub fn select<'a>(&self, ascending: impl DoubleEndedIterator<Item = &'a Activity>) -> Vec<Activity> {
        let token = self.page_token.as_deref();
        let ok = |a: &&Activity| self.matches(a);
        match self.direction {
            Direction::Asc => ascending.filter(|a| token.is_none_or(|t| a.id.as_str() > t)).filter(ok).take(self.page_size).cloned().collect(),
            Direction::Desc => ascending.rev().filter(|a| token.is_none_or(|t| a.id.as_str() < t)).filter(ok).take(self.page_size).cloned().collect(),
        }
    }
}
