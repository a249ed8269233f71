//! Who is in the demo and how they get there: the instruments, the market makers' and
//! traders' accounts with their deterministic API keys, and the commands that list, open
//! and fund them (produced the way `tests/integration/trading_e2e.rs` plays the platform's
//! admin side, since `/api/v1` has no Kafka implementation yet).
//!
//! Ids are fixed, so the printed credentials never change and a re-run on a real broker
//! finds the same accounts: the repeated open / list commands are refused by the
//! pipelines, and each deposit's `funding_id` is fixed, so they are not paid twice
//! while the first is on record. Command ids carry the run's start time, so the
//! refusals get fresh event ids.

use super::market::LISTINGS;
use anyhow::Context;
use api::auth::Principal;
use api::memory::MemoryKeyStore;
use api::ports::Role;
use pipelines::catalog::matching::format_uuid;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rust_decimal::Decimal;
use schemas::records as w;
use schemas::Codec;
use std::time::Duration;

/// What a participant does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Quotes both sides of every symbol; may sell short.
    MarketMaker,
    /// Places random orders; long only.
    Trader,
}

/// One demo user: account, API key and opening deposit.
#[derive(Clone, Debug)]
pub struct Participant {
    pub kind: Kind,
    pub user_id: String,
    pub account_id: String,
    pub key_id: String,
    /// A demo-only secret, printed on start; never use these keys outside the demo.
    pub secret: String,
    pub deposit: Decimal,
}

/// Market makers (index 1..) and traders (index 1..); trader 1 is the printed demo user.
pub fn participants(makers: u32, traders: u32) -> Vec<Participant> {
    let one = |kind: Kind, i: u32| {
        let (tag, base, deposit) = match kind {
            Kind::MarketMaker => ("maker", 0x100, Decimal::from(5_000_000)),
            Kind::Trader => ("trader", 0x200, Decimal::from(100_000)),
        };
        Participant {
            kind,
            user_id: format!("demo-{tag}-{i}"),
            account_id: format_uuid(0xde30_0000_0000_4000_8000_0000_0000_0000 | (base + u128::from(i))),
            key_id: format!("PKDEMO{:0>14}", format!("{}{i}", tag.to_ascii_uppercase())),
            secret: format!("demo-secret-{tag}-{i}"),
            deposit,
        }
    };
    (1..=makers).map(|i| one(Kind::MarketMaker, i)).chain((1..=traders).map(|i| one(Kind::Trader, i))).collect()
}

/// The participants' API keys (role trader), hashed in memory.
pub fn key_store(people: &[Participant]) -> MemoryKeyStore {
    let keys = MemoryKeyStore::new();
    for p in people {
        let who = Principal { key_id: p.key_id.clone(), user_id: p.user_id.clone(), account_id: p.account_id.clone(), role: Role::Trader };
        keys.add(&p.key_id, &p.secret, &who);
    }
    keys
}

/// Produces the seed commands (ids `demo-<run>-seed-<n>`, event time the run's start).
pub struct Seeder {
    producer: ThreadedProducer<DefaultProducerContext>,
    prefix: String,
    run_ns: i64,
    seq: u64,
}

impl Seeder {
    pub fn new(brokers: &str, prefix: &str, run_ns: i64) -> anyhow::Result<Seeder> {
        let producer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("partitioner", "murmur2_random")
            .set("enable.idempotence", "true")
            .create()
            .context("creating the seed producer")?;
        Ok(Seeder { producer, prefix: prefix.into(), run_ns, seq: 0 })
    }

    fn next(&mut self) -> String {
        self.seq += 1;
        format!("demo-{}-seed-{}", self.run_ns, self.seq)
    }

    fn produce(&self, topic: &str, key: &str, value: Vec<u8>) -> anyhow::Result<()> {
        let topic = format!("{}{topic}", self.prefix);
        self.producer.send(BaseRecord::to(&topic).key(key).payload(&value)).map_err(|(e, _)| e).with_context(|| format!("producing to {topic}"))
    }

    fn flush(&self) -> anyhow::Result<()> {
        self.producer.flush(Duration::from_secs(30)).context("delivering the seed commands")
    }

    /// Lists the instruments and opens the accounts; returns once the broker has them.
    pub fn open(&mut self, codec: &Codec, people: &[Participant]) -> anyhow::Result<()> {
        for l in &LISTINGS {
            let body = w::InstrumentInstruction::ListInstrument(w::ListInstrument {
                name: l.name.into(),
                tick_size: l.tick(),
                lot_size: Decimal::ONE,
                min_qty: Decimal::ONE,
                max_order_notional: None,
                self_trade_prevention: w::SelfTradePrevention::CancelNewest,
                price_band_pct: None,
            });
            let c = w::InstrumentCommand { command_id: self.next(), symbol: l.symbol.into(), issued_at_ns: self.run_ns, body };
            self.produce("instruments.commands", l.symbol, codec.encode(&c)?)?;
        }
        for who in people {
            let body = w::AccountInstruction::OpenAccount(w::OpenAccount {
                owner_id: who.user_id.clone(),
                kyc_status: w::KycStatus::Approved,
                kyc_tier: 3,
                allow_shorting: who.kind == Kind::MarketMaker,
            });
            let c = w::AccountCommand { command_id: self.next(), account_id: who.account_id.clone(), issued_at_ns: self.run_ns, body };
            self.produce("accounts.commands", &who.account_id, codec.encode(&c)?)?;
        }
        self.flush()
    }

    /// Deposits each opening balance (request + complete, funding id
    /// `demo-deposit-<account>`). Send it once the accounts are open: the accounts pipeline
    /// reads `accounts.commands` and `funding.commands` in no particular order between them.
    pub fn fund(&mut self, codec: &Codec, people: &[Participant]) -> anyhow::Result<()> {
        for who in people {
            let funding_id = format!("demo-deposit-{}", who.account_id);
            for body in [
                w::FundingInstruction::RequestDeposit(w::RequestDeposit { funding_id: funding_id.clone(), amount: who.deposit }),
                w::FundingInstruction::CompleteFunding(w::CompleteFunding { funding_id: funding_id.clone() }),
            ] {
                let c = w::FundingCommand { command_id: self.next(), account_id: who.account_id.clone(), issued_at_ns: self.run_ns, body };
                self.produce("funding.commands", &who.account_id, codec.encode(&c)?)?;
            }
        }
        self.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_fixed_and_look_like_alpacas() {
        let people = participants(2, 3);
        assert_eq!(people.len(), 5);
        let t1 = &people[2];
        assert_eq!((t1.kind, t1.key_id.as_str(), t1.secret.as_str()), (Kind::Trader, "PKDEMO0000000TRADER1", "demo-secret-trader-1"));
        assert_eq!(t1.account_id, "de300000-0000-4000-8000-000000000201");
        assert_eq!(people[0].key_id, "PKDEMO00000000MAKER1");
        for p in &people {
            assert_eq!(p.key_id.len(), 20, "{}", p.key_id);
            assert!(pipelines::catalog::matching::parse_uuid(&p.account_id).is_some());
        }
    }
}
