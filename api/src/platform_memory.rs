//! In-memory implementations of every platform port ([`crate::v1::ports`]), for tests and
//! the demo: users, API keys (also the [`ApiKeyStore`] the APCA headers authenticate
//! against), sessions, platform commands (recorded), funding events and notifications
//! (fed by tests), and an audit sink that seals records into hash chains.

use crate::audit::{AuditEntry, ChainHead};
use crate::ports::{ApiKeyStore, BoxFuture, PortError, Role, StoredKey};
use crate::v1::ports::{
    ApiKeyRegistry, AuditSink, FundingHistory, Inserted, Notification, NotificationFeed, PlatformCommands, Rotation, SessionStore,
    UserStore,
};
use schemas::records::{
    AccountCommand, ApiKeyRecord, AuditRecord, FundingCommand, FundingEvent, InstrumentCommand, UserRecord, UserRole,
};
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

/// A recorded platform command.
#[derive(Clone, Debug, PartialEq)]
pub enum SentCommand {
    Funding(FundingCommand),
    Account(AccountCommand),
    Instrument(InstrumentCommand),
}

#[derive(Clone, Debug)]
struct Session {
    user_id: String,
    current: String,
    /// Earlier token ids of the family (presenting one is reuse).
    retired: Vec<String>,
    expires_at_ns: i64,
    revoked: bool,
}

#[derive(Default)]
struct Inner {
    users: BTreeMap<String, UserRecord>,
    keys: BTreeMap<String, ApiKeyRecord>,
    sessions: BTreeMap<String, Session>,
    commands: Vec<SentCommand>,
    funding: Vec<FundingEvent>,
    notifications: Vec<Notification>,
    audit: Vec<AuditRecord>,
    heads: BTreeMap<i32, ChainHead>,
    unavailable: bool,
}

/// Every platform port in memory.
pub struct MemoryPlatform {
    inner: Mutex<Inner>,
    audit_partitions: u32,
}

impl Default for MemoryPlatform {
    fn default() -> Self {
        Self::new(1)
    }
}

/// The API's role for a wire role.
pub fn role_of(r: UserRole) -> Role {
    match r {
        UserRole::Trader => Role::Trader,
        UserRole::Analyst => Role::Analyst,
        UserRole::Admin => Role::Admin,
    }
}

/// The wire role for an API role.
pub fn user_role(r: Role) -> UserRole {
    match r {
        Role::Trader => UserRole::Trader,
        Role::Analyst => UserRole::Analyst,
        Role::Admin => UserRole::Admin,
    }
}

impl MemoryPlatform {
    /// Audit entries spread over `audit_partitions` chains by actor (FNV-1a; the Kafka
    /// sink uses the producer's murmur2 partitioner instead).
    pub fn new(audit_partitions: u32) -> Self {
        MemoryPlatform { inner: Mutex::default(), audit_partitions: audit_partitions.max(1) }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> Result<MutexGuard<'_, Inner>, PortError> {
        let g = self.lock();
        if g.unavailable {
            return Err(PortError::Unavailable("memory platform switched off".into()));
        }
        Ok(g)
    }

    /// Makes every port fail with `Unavailable`.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.lock().unavailable = unavailable;
    }

    /// Adds or replaces a user (fixtures).
    pub fn put_user(&self, user: UserRecord) {
        self.lock().users.insert(user.user_id.clone(), user);
    }

    /// Adds or replaces a key record (fixtures).
    pub fn put_key(&self, key: ApiKeyRecord) {
        self.lock().keys.insert(key.key_id.clone(), key);
    }

    pub fn put_funding_event(&self, event: FundingEvent) {
        self.lock().funding.push(event);
    }

    pub fn put_notification(&self, n: Notification) {
        self.lock().notifications.push(n);
    }

    /// Every command sent so far, in order.
    pub fn commands(&self) -> Vec<SentCommand> {
        self.lock().commands.clone()
    }

    /// Every audit record, in append order.
    pub fn audit_log(&self) -> Vec<AuditRecord> {
        self.lock().audit.clone()
    }

    fn partition_of(&self, key: &str) -> i32 {
        let mut h: u32 = 0x811c_9dc5;
        for b in key.bytes() {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        i32::try_from(h % self.audit_partitions).unwrap_or(0)
    }
}

fn ready<T: Send + 'static>(r: Result<T, PortError>) -> BoxFuture<'static, Result<T, PortError>> {
    Box::pin(std::future::ready(r))
}

impl UserStore for MemoryPlatform {
    fn insert(&self, user: UserRecord) -> BoxFuture<'_, Result<Inserted, PortError>> {
        ready(self.write().map(|mut g| {
            if g.users.values().any(|u| u.email == user.email) {
                return Inserted::EmailTaken;
            }
            g.users.insert(user.user_id.clone(), user);
            Inserted::Created
        }))
    }

    fn update(&self, user: UserRecord) -> BoxFuture<'_, Result<(), PortError>> {
        ready(self.write().map(|mut g| {
            g.users.insert(user.user_id.clone(), user);
        }))
    }

    fn user(&self, user_id: &str) -> Result<Option<UserRecord>, PortError> {
        Ok(self.write()?.users.get(user_id).cloned())
    }

    fn by_email(&self, email: &str) -> Result<Option<UserRecord>, PortError> {
        Ok(self.write()?.users.values().find(|u| u.email == email).cloned())
    }

    fn users(&self) -> Result<Vec<UserRecord>, PortError> {
        Ok(self.write()?.users.values().cloned().collect())
    }
}

impl ApiKeyRegistry for MemoryPlatform {
    fn create(&self, key: ApiKeyRecord) -> BoxFuture<'_, Result<(), PortError>> {
        ready(self.write().map(|mut g| {
            g.keys.insert(key.key_id.clone(), key);
        }))
    }

    fn revoke(&self, key_id: &str, at_ns: i64) -> BoxFuture<'_, Result<bool, PortError>> {
        ready(self.write().map(|mut g| match g.keys.get_mut(key_id) {
            Some(k) if k.revoked_at_ns.is_none() => {
                k.revoked_at_ns = Some(at_ns);
                true
            }
            _ => false,
        }))
    }

    fn record(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, PortError> {
        Ok(self.write()?.keys.get(key_id).cloned())
    }

    fn keys_of(&self, user_id: &str) -> Result<Vec<ApiKeyRecord>, PortError> {
        let mut keys: Vec<ApiKeyRecord> = self.write()?.keys.values().filter(|k| k.user_id == user_id).cloned().collect();
        keys.sort_by(|a, b| (a.created_at_ns, &a.key_id).cmp(&(b.created_at_ns, &b.key_id)));
        Ok(keys)
    }
}

impl ApiKeyStore for MemoryPlatform {
    /// Live (unrevoked) keys only.
    fn key(&self, key_id: &str) -> Result<Option<StoredKey>, PortError> {
        Ok(self.write()?.keys.get(key_id).filter(|k| k.revoked_at_ns.is_none()).map(|k| StoredKey {
            key_id: k.key_id.clone(),
            secret_hash: k.secret_hash.clone(),
            user_id: k.user_id.clone(),
            account_id: k.account_id.clone(),
            role: role_of(k.role),
        }))
    }
}

impl SessionStore for MemoryPlatform {
    fn start(&self, family: &str, user_id: &str, jti: &str, expires_at_ns: i64) -> BoxFuture<'_, Result<(), PortError>> {
        let s = Session { user_id: user_id.into(), current: jti.into(), retired: vec![], expires_at_ns, revoked: false };
        ready(self.write().map(|mut g| {
            g.sessions.insert(family.to_string(), s);
        }))
    }

    fn rotate(&self, family: &str, presented: &str, next: &str, now_ns: i64, expires_at_ns: i64) -> BoxFuture<'_, Result<Rotation, PortError>> {
        ready(self.write().map(|mut g| {
            let Some(s) = g.sessions.get_mut(family) else { return Rotation::Inactive };
            if s.revoked || now_ns >= s.expires_at_ns {
                return Rotation::Inactive;
            }
            if s.current == presented {
                let old = std::mem::replace(&mut s.current, next.to_string());
                s.retired.push(old);
                s.expires_at_ns = expires_at_ns;
                Rotation::Rotated
            } else if s.retired.iter().any(|j| j == presented) {
                s.revoked = true;
                Rotation::Reused
            } else {
                Rotation::Inactive
            }
        }))
    }

    fn revoke(&self, family: &str) -> BoxFuture<'_, Result<(), PortError>> {
        ready(self.write().map(|mut g| {
            if let Some(s) = g.sessions.get_mut(family) {
                s.revoked = true;
            }
        }))
    }

    fn revoke_user(&self, user_id: &str) -> BoxFuture<'_, Result<(), PortError>> {
        ready(self.write().map(|mut g| {
            for s in g.sessions.values_mut().filter(|s| s.user_id == user_id) {
                s.revoked = true;
            }
        }))
    }

    fn is_active(&self, family: &str, now_ns: i64) -> Result<bool, PortError> {
        Ok(self.write()?.sessions.get(family).is_some_and(|s| !s.revoked && now_ns < s.expires_at_ns))
    }
}

impl PlatformCommands for MemoryPlatform {
    fn funding(&self, command: FundingCommand) -> BoxFuture<'_, Result<(), PortError>> {
        ready(self.write().map(|mut g| g.commands.push(SentCommand::Funding(command))))
    }

    fn account(&self, command: AccountCommand) -> BoxFuture<'_, Result<(), PortError>> {
        ready(self.write().map(|mut g| g.commands.push(SentCommand::Account(command))))
    }

    fn instrument(&self, command: InstrumentCommand) -> BoxFuture<'_, Result<(), PortError>> {
        ready(self.write().map(|mut g| g.commands.push(SentCommand::Instrument(command))))
    }
}

impl FundingHistory for MemoryPlatform {
    fn funding_events(&self, account_id: &str) -> Result<Vec<FundingEvent>, PortError> {
        let mut out: Vec<FundingEvent> = self.write()?.funding.iter().filter(|e| e.account_id == account_id).cloned().collect();
        out.sort_by(|a, b| (a.at_ns, &a.event_id).cmp(&(b.at_ns, &b.event_id)));
        Ok(out)
    }
}

impl NotificationFeed for MemoryPlatform {
    fn notifications(&self, account_id: &str) -> Result<Vec<Notification>, PortError> {
        let mut out: Vec<Notification> = self.write()?.notifications.iter().filter(|n| n.account_id == account_id).cloned().collect();
        out.sort_by(|a, b| (b.at_ns, &b.notification_id).cmp(&(a.at_ns, &a.notification_id)));
        Ok(out)
    }
}

impl AuditSink for MemoryPlatform {
    fn append(&self, entry: AuditEntry) -> BoxFuture<'_, Result<AuditRecord, PortError>> {
        let partition = self.partition_of(&entry.actor);
        ready(self.write().map(|mut g| {
            let record = g.heads.entry(partition).or_insert_with(|| ChainHead::genesis(partition)).seal(entry);
            g.audit.push(record.clone());
            record
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::records::AuditOutcome;

    #[tokio::test]
    async fn refresh_rotation_detects_reuse_and_revokes_the_family() {
        let m = MemoryPlatform::default();
        m.start("f", "u", "j1", 100).await.unwrap();
        assert_eq!(m.rotate("f", "j1", "j2", 1, 100).await.unwrap(), Rotation::Rotated);
        assert!(m.is_active("f", 1).unwrap());
        assert_eq!(m.rotate("f", "j1", "j3", 2, 100).await.unwrap(), Rotation::Reused);
        assert!(!m.is_active("f", 2).unwrap());
        assert_eq!(m.rotate("f", "j2", "j4", 3, 100).await.unwrap(), Rotation::Inactive, "revoked family");
        m.start("g", "u", "k1", 100).await.unwrap();
        assert_eq!(m.rotate("g", "k1", "k2", 100, 200).await.unwrap(), Rotation::Inactive, "expired");
    }

    #[tokio::test]
    async fn audit_records_chain_per_partition() {
        let m = MemoryPlatform::new(3);
        for i in 0..12 {
            let entry = AuditEntry {
                audit_id: format!("a{i}"),
                request_id: format!("r{i}"),
                at_ns: i,
                actor: format!("user:u{}", i % 5),
                action: "test".into(),
                target: String::new(),
                outcome: AuditOutcome::Success,
                status: 200,
                detail: None,
            };
            m.append(entry).await.unwrap();
        }
        let heads = crate::audit::verify(&m.audit_log()).unwrap();
        assert!(heads.len() > 1, "spread over partitions");
        assert_eq!(heads.values().map(|h| h.next_seq).sum::<i64>(), 12);
    }
}
