//! The audit log's hash chain: sealing and verification, pure (no I/O, no clock).
//!
//! Every audited action is an [`AuditEntry`]; a sink seals it into an `AuditRecord`
//! (`schemas::records::AuditRecord`, topic `audit.log`) with [`ChainHead::seal`].
//!
//! Invariants:
//! - One chain per partition. Record `seq = n` of partition `p` carries the `hash` of
//!   record `n - 1` of `p` as `prev_hash`; record 0 carries [`GENESIS`] (64 zeros).
//! - `hash` = lower-case hex SHA-256 of [`DOMAIN`] followed by every other field in schema
//!   order, each length-prefixed (u64 big-endian byte length, then the UTF-8 bytes;
//!   integers as fixed-width big-endian; `detail` as a 0 / 1 tag then the string). The
//!   encoding is injective, so two different records never hash the same input.
//! - One writer per partition at a time (the sink holds the partition's head); a second
//!   writer would fork the chain, which [`verify`] reports.
//!
//! [`verify`] recomputes every hash and checks the links, so editing any field
//! (tampering), dropping a record (deletion), or swapping two (reordering) is detected;
//! dropping the newest records of a partition is only detectable against an externally
//! kept head ([`verify_against`]).

use schemas::records::{AuditOutcome, AuditRecord};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// `prev_hash` of the first record of a partition.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Domain separation prefix of the hashed bytes (bump on any encoding change).
pub const DOMAIN: &[u8] = b"tradeflow.audit.v1";

/// An action to audit, before it is placed in a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub audit_id: String,
    pub request_id: String,
    pub at_ns: i64,
    /// `user:<id>`, `apikey:<id>`, `email:<address>` or `anonymous`. Also the Kafka key.
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: AuditOutcome,
    pub status: u16,
    pub detail: Option<String>,
}

/// The last sealed record of one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainHead {
    pub partition: i32,
    /// `seq` the next record gets.
    pub next_seq: i64,
    /// `hash` of the last record ([`GENESIS`] before the first).
    pub last_hash: String,
}

impl ChainHead {
    /// An empty partition.
    pub fn genesis(partition: i32) -> ChainHead {
        ChainHead { partition, next_seq: 0, last_hash: GENESIS.to_string() }
    }

    /// The head after `record` (a sink restoring its state from the partition's last record).
    pub fn after(record: &AuditRecord) -> ChainHead {
        ChainHead { partition: record.partition, next_seq: record.seq + 1, last_hash: record.hash.clone() }
    }

    /// Seals `entry` as the next record of this partition and advances the head.
    pub fn seal(&mut self, entry: AuditEntry) -> AuditRecord {
        let mut record = AuditRecord {
            audit_id: entry.audit_id,
            request_id: entry.request_id,
            at_ns: entry.at_ns,
            actor: entry.actor,
            action: entry.action,
            target: entry.target,
            outcome: entry.outcome,
            status: i32::from(entry.status),
            detail: entry.detail,
            partition: self.partition,
            seq: self.next_seq,
            prev_hash: self.last_hash.clone(),
            hash: String::new(),
        };
        record.hash = record_hash(&record);
        self.next_seq += 1;
        self.last_hash = record.hash.clone();
        record
    }
}

fn put_str(h: &mut Sha256, s: &str) {
    h.update((s.len() as u64).to_be_bytes());
    h.update(s.as_bytes());
}

fn outcome_tag(o: AuditOutcome) -> u8 {
    match o {
        AuditOutcome::Success => 0,
        AuditOutcome::Denied => 1,
        AuditOutcome::Failure => 2,
    }
}

/// The hash `record` must carry (its own `hash` field is not an input).
pub fn record_hash(r: &AuditRecord) -> String {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    put_str(&mut h, &r.audit_id);
    put_str(&mut h, &r.request_id);
    h.update(r.at_ns.to_be_bytes());
    put_str(&mut h, &r.actor);
    put_str(&mut h, &r.action);
    put_str(&mut h, &r.target);
    h.update([outcome_tag(r.outcome)]);
    h.update(r.status.to_be_bytes());
    match &r.detail {
        None => h.update([0u8]),
        Some(d) => {
            h.update([1u8]);
            put_str(&mut h, d);
        }
    }
    h.update(r.partition.to_be_bytes());
    h.update(r.seq.to_be_bytes());
    put_str(&mut h, &r.prev_hash);
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// Why a sequence of audit records is not an intact chain.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// A record's content does not match its hash (tampered).
    #[error("partition {partition} seq {seq}: hash does not match the content")]
    BadHash { partition: i32, seq: i64 },
    /// A record does not follow its predecessor (deleted, inserted or reordered records).
    #[error("partition {partition}: expected seq {expected}, found {found}")]
    Gap { partition: i32, expected: i64, found: i64 },
    /// A record's `prev_hash` is not its predecessor's `hash`.
    #[error("partition {partition} seq {seq}: prev_hash does not link to the previous record")]
    BrokenLink { partition: i32, seq: i64 },
    /// The chain ends before the externally kept head (newest records dropped).
    #[error("partition {partition}: chain ends at seq {found}, head says {expected}")]
    Truncated { partition: i32, expected: i64, found: i64 },
}

/// Verifies records in log order (per partition: the order read from the partition).
/// Each partition must start at seq 0. Returns the head of every partition.
pub fn verify(records: &[AuditRecord]) -> Result<BTreeMap<i32, ChainHead>, ChainError> {
    let mut heads: BTreeMap<i32, ChainHead> = BTreeMap::new();
    for r in records {
        let head = heads.entry(r.partition).or_insert_with(|| ChainHead::genesis(r.partition));
        if r.seq != head.next_seq {
            return Err(ChainError::Gap { partition: r.partition, expected: head.next_seq, found: r.seq });
        }
        if r.prev_hash != head.last_hash {
            return Err(ChainError::BrokenLink { partition: r.partition, seq: r.seq });
        }
        if record_hash(r) != r.hash {
            return Err(ChainError::BadHash { partition: r.partition, seq: r.seq });
        }
        *head = ChainHead::after(r);
    }
    Ok(heads)
}

/// [`verify`], then checks every partition reaches the externally kept `expected` heads
/// (detects dropping the newest records).
pub fn verify_against(records: &[AuditRecord], expected: &[ChainHead]) -> Result<(), ChainError> {
    let heads = verify(records)?;
    for e in expected {
        let found = heads.get(&e.partition).cloned().unwrap_or_else(|| ChainHead::genesis(e.partition));
        if found.next_seq != e.next_seq {
            return Err(ChainError::Truncated { partition: e.partition, expected: e.next_seq, found: found.next_seq });
        }
        if found.last_hash != e.last_hash {
            return Err(ChainError::BrokenLink { partition: e.partition, seq: e.next_seq - 1 });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: u32) -> AuditEntry {
        AuditEntry {
            audit_id: format!("a-{i}"),
            request_id: format!("r-{i}"),
            at_ns: i64::from(i) * 1_000,
            actor: "user:u-1".into(),
            action: "funding.deposit".into(),
            target: "acc-1".into(),
            outcome: AuditOutcome::Success,
            status: 202,
            detail: None,
        }
    }

    /// Two interleaved partitions, five records each.
    fn log() -> Vec<AuditRecord> {
        let mut heads = [ChainHead::genesis(0), ChainHead::genesis(1)];
        (0..10).map(|i| heads[(i % 2) as usize].seal(entry(i))).collect()
    }

    #[test]
    fn sealed_chains_verify_and_link() {
        let log = log();
        assert_eq!(log[0].prev_hash, GENESIS);
        assert_eq!(log[2].prev_hash, log[0].hash);
        assert_eq!(log[3].seq, 1);
        assert_eq!(log[0].hash.len(), 64);
        let heads = verify(&log).unwrap();
        assert_eq!(heads[&0], ChainHead::after(&log[8]));
        assert_eq!(heads[&1].next_seq, 5);
        verify_against(&log, &heads.values().cloned().collect::<Vec<_>>()).unwrap();
    }

    #[test]
    fn tampering_with_any_field_is_detected() {
        type Edit = fn(&mut AuditRecord);
        let edits: Vec<(&str, Edit)> = vec![
            ("actor", |r| r.actor = "user:u-2".into()),
            ("action", |r| r.action.push('x')),
            ("target", |r| r.target = "acc-2".into()),
            ("outcome", |r| r.outcome = AuditOutcome::Denied),
            ("status", |r| r.status = 200),
            ("detail", |r| r.detail = Some(String::new())),
            ("at_ns", |r| r.at_ns += 1),
            ("request_id", |r| r.request_id.clear()),
            ("audit_id", |r| r.audit_id.push('1')),
        ];
        for (name, edit) in edits {
            let mut log = log();
            edit(&mut log[4]);
            assert_eq!(verify(&log), Err(ChainError::BadHash { partition: 0, seq: 2 }), "{name}");
        }
        // Re-hashing the edited record breaks the next link instead.
        let mut log = log();
        log[4].actor = "user:u-2".into();
        log[4].hash = record_hash(&log[4]);
        assert_eq!(verify(&log), Err(ChainError::BrokenLink { partition: 0, seq: 3 }));
    }

    #[test]
    fn deletion_insertion_and_reordering_are_detected() {
        let mut deleted = log();
        deleted.remove(4);
        assert_eq!(verify(&deleted), Err(ChainError::Gap { partition: 0, expected: 2, found: 3 }));

        let mut reordered = log();
        reordered.swap(4, 6);
        assert_eq!(verify(&reordered), Err(ChainError::Gap { partition: 0, expected: 2, found: 3 }));

        // Renumbering after a deletion still breaks the link.
        let mut renumbered = log();
        renumbered.remove(4);
        for r in renumbered.iter_mut().filter(|r| r.partition == 0 && r.seq > 2) {
            r.seq -= 1;
        }
        assert_eq!(verify(&renumbered), Err(ChainError::BrokenLink { partition: 0, seq: 2 }));

        // A forged record at the start of a partition.
        let mut forged = log();
        forged[0].prev_hash = "f".repeat(64);
        assert_eq!(verify(&forged), Err(ChainError::BrokenLink { partition: 0, seq: 0 }));

        // Dropping the newest records needs the kept head.
        let full = log();
        let heads: Vec<ChainHead> = verify(&full).unwrap().into_values().collect();
        let truncated = &full[..full.len() - 2];
        assert!(verify(truncated).is_ok());
        assert_eq!(verify_against(truncated, &heads), Err(ChainError::Truncated { partition: 0, expected: 5, found: 4 }));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// `n` records over `partitions` chains, partition chosen by `picks`.
        fn build(picks: &[u8], partitions: u8) -> Vec<AuditRecord> {
            let mut heads: Vec<ChainHead> = (0..partitions).map(|p| ChainHead::genesis(i32::from(p))).collect();
            picks.iter().enumerate().map(|(i, p)| heads[usize::from(p % partitions)].seal(entry(i as u32))).collect()
        }

        proptest! {
            #[test]
            fn any_edit_deletion_or_swap_within_a_partition_is_detected(
                picks in proptest::collection::vec(any::<u8>(), 2..40),
                partitions in 1u8..4,
                victim in any::<proptest::sample::Index>(),
                other in any::<proptest::sample::Index>(),
                kind in 0u8..3,
            ) {
                let log = build(&picks, partitions);
                prop_assert!(verify(&log).is_ok());
                let i = victim.index(log.len());
                let mut bad = log.clone();
                match kind {
                    0 => bad[i].target.push('!'),
                    1 => {
                        // Delete a record that has a successor in its partition.
                        let p = log[i].partition;
                        prop_assume!(log.iter().any(|r| r.partition == p && r.seq == log[i].seq + 1));
                        bad.remove(i);
                    }
                    _ => {
                        let p = log[i].partition;
                        let same: Vec<usize> = (0..log.len()).filter(|&j| log[j].partition == p).collect();
                        prop_assume!(same.len() >= 2);
                        let j = same[other.index(same.len())];
                        prop_assume!(j != i);
                        bad.swap(i, j);
                    }
                }
                prop_assert!(verify(&bad).is_err());
            }
        }
    }

    #[test]
    fn hash_is_sha256_hex_and_encoding_is_unambiguous() {
        let mut a = ChainHead::genesis(0).seal(AuditEntry { actor: "ab".into(), action: "c".into(), ..entry(1) });
        let b = ChainHead::genesis(0).seal(AuditEntry { actor: "a".into(), action: "bc".into(), ..entry(1) });
        assert_ne!(a.hash, b.hash, "length prefixes separate fields");
        assert!(a.hash.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        a.detail = Some(String::new());
        assert_ne!(record_hash(&a), a.hash, "None and Some(\"\") differ");
    }
}
