//! [`KafkaUsers`]: the `UserStore` port on the compacted topic `users` (key `user_id`,
//! value `UserRecord`), through [`Table`].
//!
//! Email uniqueness is checked against the map under the table's write lock, so within
//! one process two registrations of an email cannot both succeed. Across processes it is
//! not checked (no conditional writes on a log): run a single API instance that writes
//! users, as `api::v1::ports::UserStore` documents. Semantics match
//! `api::platform_memory::MemoryPlatform` exactly: `insert` refuses an email any user
//! already has (compared as stored: callers lower-case it), `update` writes whatever it
//! is given, `by_email` returns the first match in user-id order.

use super::table::Table;
use crate::api_kafka::follow::{Decoder, Fold};
use api::ports::{BoxFuture, PortError};
use api::v1::ports::{Inserted, UserStore};
use schemas::records::UserRecord;
use std::sync::atomic::AtomicBool;

/// The topic (unprefixed).
pub const TOPIC: &str = "users";

pub struct KafkaUsers(pub(super) Table<UserRecord>);

impl KafkaUsers {
    pub fn new(table: Table<UserRecord>) -> Self {
        KafkaUsers(table)
    }

    pub fn key_of(u: &UserRecord) -> &str {
        &u.user_id
    }

    pub fn is_ready(&self) -> bool {
        self.0.is_ready()
    }
}

impl UserStore for KafkaUsers {
    fn insert(&self, user: UserRecord) -> BoxFuture<'_, Result<Inserted, PortError>> {
        Box::pin(async move {
            let _serial = self.0.serial().await?;
            if self.0.read()?.values().any(|u| u.email == user.email) {
                return Ok(Inserted::EmailTaken);
            }
            self.0.put(user).await?;
            Ok(Inserted::Created)
        })
    }

    fn update(&self, user: UserRecord) -> BoxFuture<'_, Result<(), PortError>> {
        Box::pin(async move {
            let _serial = self.0.serial().await?;
            self.0.put(user).await
        })
    }

    fn user(&self, user_id: &str) -> Result<Option<UserRecord>, PortError> {
        Ok(self.0.read()?.get(user_id).cloned())
    }

    fn by_email(&self, email: &str) -> Result<Option<UserRecord>, PortError> {
        Ok(self.0.read()?.values().find(|u| u.email == email).cloned())
    }

    fn users(&self) -> Result<Vec<UserRecord>, PortError> {
        Ok(self.0.read()?.values().cloned().collect())
    }
}

impl Fold for KafkaUsers {
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
    use crate::registry::Registry;
    use schemas::records::UserRole;
    use std::sync::Arc;

    fn user(id: &str, email: &str) -> UserRecord {
        UserRecord { user_id: id.into(), email: email.into(), password_hash: "h".into(), role: UserRole::Trader, account_id: "a".into(), disabled: false, created_at_ns: 1, updated_at_ns: 1 }
    }

    /// No broker: the producer connects lazily; a taken email is refused before sending.
    #[test]
    fn folds_users_and_refuses_a_taken_email_without_writing() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let registry = Registry::embedded();
        let codec = Arc::new(rt.block_on(registry.codec()).unwrap());
        let dec = Decoder { codec: codec.clone(), registry, rt: rt.handle().clone() };
        let producer = crate::api_kafka::table::idempotent_producer("127.0.0.1:1", &[]).unwrap();
        let users = KafkaUsers::new(Table::new("users", producer, codec.clone(), "p.users".into(), KafkaUsers::key_of));
        let stop = AtomicBool::new(false);
        users.apply(0, Some(b"u2"), Some(&codec.encode(&user("u2", "b@x.io")).unwrap()), &dec, &stop);
        users.apply(0, Some(b"u1"), Some(&codec.encode(&user("u1", "a@x.io")).unwrap()), &dec, &stop);
        users.apply(0, Some(b"u3"), Some(&codec.encode(&user("u3", "c@x.io")).unwrap()), &dec, &stop);
        users.apply(0, Some(b"u3"), None, &dec, &stop);
        assert!(matches!(users.user("u1"), Err(PortError::Unavailable(_))));
        assert!(matches!(rt.block_on(users.insert(user("u4", "d@x.io"))), Err(PortError::Unavailable(_))));
        users.caught_up();
        assert_eq!(users.users().unwrap().iter().map(|u| u.user_id.as_str()).collect::<Vec<_>>(), ["u1", "u2"]);
        assert_eq!(users.by_email("b@x.io").unwrap().map(|u| u.user_id), Some("u2".to_string()));
        assert_eq!(rt.block_on(users.insert(user("u5", "a@x.io"))), Ok(Inserted::EmailTaken));
    }
}
