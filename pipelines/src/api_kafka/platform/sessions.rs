//! [`KafkaSessions`]: the `SessionStore` port on the compacted topic `sessions` (key
//! `family_id`, value `SessionRecord`), through [`Table`]. Durable, so a user logged in
//! before an API restart can refresh after it, and a refresh token retired before the
//! restart is still recognized as reuse after it.
//!
//! Invariants:
//! - Every state change of a family (start, rotation, revocation) is one record holding the
//!   whole family (current token id, retired ids, expiry, revoked flag); the latest record
//!   per family is its state.
//! - `rotate` decides and writes under the table's write lock, so within one process a
//!   refresh token rotates at most once (two concurrent refreshes with the same token: one
//!   rotates, the other is reuse). Across API instances this is not atomic (no conditional
//!   writes on a log): with several instances, two could both rotate the same token. Run
//!   one instance that serves `/api/v1/auth/*`, as the port allows ("memory is fine for a
//!   single instance").
//! - The decisions are [`decide`] (pure), which mirrors `api::platform_memory` exactly.
//! - Retired token ids are kept for the family's life (about 40 bytes per refresh);
//!   families stay in the topic after they expire or are revoked (compaction keeps the
//!   latest record). Pruning is not done yet.

use super::table::Table;
use crate::api_kafka::follow::{Decoder, Fold};
use api::ports::{BoxFuture, PortError};
use api::v1::ports::{Rotation, SessionStore};
use schemas::records::SessionRecord;
use std::sync::atomic::AtomicBool;

/// The topic (unprefixed).
pub const TOPIC: &str = "sessions";

/// What a rotation does to a family: the answer, and the family's next state if it changes.
pub fn decide(s: Option<&SessionRecord>, presented: &str, next: &str, now_ns: i64, expires_at_ns: i64) -> (Rotation, Option<SessionRecord>) {
    let Some(s) = s else { return (Rotation::Inactive, None) };
    if s.revoked || now_ns >= s.expires_at_ns {
        return (Rotation::Inactive, None);
    }
    if s.current_jti == presented {
        let mut n = s.clone();
        let old = std::mem::replace(&mut n.current_jti, next.to_string());
        n.retired_jtis.push(old);
        n.expires_at_ns = expires_at_ns;
        (Rotation::Rotated, Some(n))
    } else if s.retired_jtis.iter().any(|j| j == presented) {
        (Rotation::Reused, Some(SessionRecord { revoked: true, ..s.clone() }))
    } else {
        (Rotation::Inactive, None)
    }
}

pub struct KafkaSessions(Table<SessionRecord>);

impl KafkaSessions {
    pub fn new(table: Table<SessionRecord>) -> Self {
        KafkaSessions(table)
    }

    pub fn key_of(s: &SessionRecord) -> &str {
        &s.family_id
    }

    pub fn is_ready(&self) -> bool {
        self.0.is_ready()
    }
}

impl SessionStore for KafkaSessions {
    fn start(&self, family: &str, user_id: &str, jti: &str, expires_at_ns: i64) -> BoxFuture<'_, Result<(), PortError>> {
        let s = SessionRecord {
            family_id: family.to_string(),
            user_id: user_id.to_string(),
            current_jti: jti.to_string(),
            retired_jtis: vec![],
            expires_at_ns,
            revoked: false,
        };
        Box::pin(async move {
            let _serial = self.0.serial().await?;
            self.0.put(s).await
        })
    }

    fn rotate(&self, family: &str, presented: &str, next: &str, now_ns: i64, expires_at_ns: i64) -> BoxFuture<'_, Result<Rotation, PortError>> {
        let (family, presented, next) = (family.to_string(), presented.to_string(), next.to_string());
        Box::pin(async move {
            let _serial = self.0.serial().await?;
            let (answer, change) = decide(self.0.read()?.get(&family), &presented, &next, now_ns, expires_at_ns);
            if let Some(s) = change {
                self.0.put(s).await?;
            }
            Ok(answer)
        })
    }

    fn revoke(&self, family: &str) -> BoxFuture<'_, Result<(), PortError>> {
        let family = family.to_string();
        Box::pin(async move {
            let _serial = self.0.serial().await?;
            let current = self.0.read()?.get(&family).cloned();
            match current {
                Some(s) if !s.revoked => self.0.put(SessionRecord { revoked: true, ..s }).await,
                _ => Ok(()),
            }
        })
    }

    fn revoke_user(&self, user_id: &str) -> BoxFuture<'_, Result<(), PortError>> {
        let user_id = user_id.to_string();
        Box::pin(async move {
            let _serial = self.0.serial().await?;
            let live: Vec<SessionRecord> = self.0.read()?.values().filter(|s| s.user_id == user_id && !s.revoked).cloned().collect();
            for s in live {
                self.0.put(SessionRecord { revoked: true, ..s }).await?;
            }
            Ok(())
        })
    }

    fn is_active(&self, family: &str, now_ns: i64) -> Result<bool, PortError> {
        Ok(self.0.read()?.get(family).is_some_and(|s| !s.revoked && now_ns < s.expires_at_ns))
    }
}

impl Fold for KafkaSessions {
    fn apply(&self, topic: usize, key: Option<&[u8]>, value: Option<&[u8]>, decoder: &Decoder, stop: &AtomicBool) {
        self.0.apply(topic, key, value, decoder, stop);
    }

    fn caught_up(&self) {
        self.0.caught_up();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn family(jti: &str, expires: i64) -> SessionRecord {
        SessionRecord { family_id: "f".into(), user_id: "u".into(), current_jti: jti.into(), retired_jtis: vec![], expires_at_ns: expires, revoked: false }
    }

    /// The memory implementation's scenario (`platform_memory::tests`), on [`decide`].
    #[test]
    fn rotation_detects_reuse_like_the_memory_store() {
        let (r, s) = decide(Some(&family("j1", 100)), "j1", "j2", 1, 100);
        let s = s.unwrap();
        assert_eq!((r, s.current_jti.as_str(), s.retired_jtis.clone()), (Rotation::Rotated, "j2", vec!["j1".to_string()]));
        let (r, revoked) = decide(Some(&s), "j1", "j3", 2, 100);
        let revoked = revoked.unwrap();
        assert_eq!((r, revoked.revoked), (Rotation::Reused, true));
        assert_eq!(decide(Some(&revoked), "j2", "j4", 3, 100), (Rotation::Inactive, None), "revoked family");
        assert_eq!(decide(Some(&family("k1", 100)), "k1", "k2", 100, 200), (Rotation::Inactive, None), "expired");
        assert_eq!(decide(None, "k1", "k2", 1, 200), (Rotation::Inactive, None), "unknown");
        assert_eq!(decide(Some(&family("k1", 100)), "zz", "k2", 1, 200), (Rotation::Inactive, None), "never issued");
    }
}
