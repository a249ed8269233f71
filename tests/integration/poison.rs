//! Poison records: 1% malformed inputs land once each in the dead-letter topic, with headers;
//! good records are unaffected.

use crate::verify::{self, Input};
use rust_decimal::Decimal;
use schemas::records::{AmountEvent, DeadLetter, ErrorKind};
use std::collections::BTreeMap;
use std::time::Duration;
use tests::{create_totals_topics, producer, read_all, send, wait_caught_up, Processor};

#[test]
fn malformed_inputs_go_to_the_dead_letter_topic_once_each() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let prefix = tests::unique_prefix("poison");
    rt.block_on(create_totals_topics(&prefix, 3));
    let codec = rt.block_on(tests::codec());
    let topic = format!("{prefix}totals.input");
    let port = tests::free_port();
    let metrics_addr = format!("127.0.0.1:{port}");
    let mut proc_ = Processor::totals(&prefix, "a", &["--max-record-bytes", "2048", "--metrics-addr", &metrics_addr]);
    proc_.wait_for("restore finished", 1, Duration::from_secs(90));

    let p = producer();
    let mut good = Vec::new();
    let mut bad: BTreeMap<String, ErrorKind> = BTreeMap::new();
    for seq in 0..10_000i64 {
        let amount = Decimal::new(seq % 1000, 1);
        let valid = codec.encode(&AmountEvent { seq, amount, at_ns: 0 }).unwrap();
        if seq % 100 != 37 {
            let key = format!("k{}", seq % 13);
            send(&p, &topic, &key, &valid);
            good.push(Input { key, seq, amount });
            continue;
        }
        let key = format!("bad-{seq}");
        let (value, kind) = match (seq / 100) % 5 {
            0 => (valid[..valid.len() - 4].to_vec(), ErrorKind::Undecodable),
            1 => {
                let mut v = valid.clone();
                v[0] = 0x7F;
                (v, ErrorKind::BadMagic)
            }
            2 => {
                let mut v = valid.clone();
                v[1..5].copy_from_slice(&999_999u32.to_be_bytes());
                (v, ErrorKind::UnknownSchemaId)
            }
            3 => {
                let mut v = valid.clone();
                v.resize(4096, 0);
                (v, ErrorKind::TooLarge)
            }
            _ => (codec.encode(&AmountEvent { seq: -seq, amount, at_ns: 0 }).unwrap(), ErrorKind::Invalid),
        };
        send(&p, &topic, &key, &value);
        bad.insert(key, kind);
    }
    rdkafka::producer::Producer::flush(&p, Duration::from_secs(60)).unwrap();
    wait_caught_up(&format!("{prefix}totals"), &topic, Duration::from_secs(120));
    let metrics = tests::http_get(port, "/metrics");
    let pipeline_label = format!("pipeline=\"{prefix}totals\"");
    let value = |name: &str| -> u64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name) && l.contains(&pipeline_label))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} not in metrics:\n{metrics}"))
    };
    // Counters count work done, so an aborted (re-processed) batch would count twice.
    let exact = value("tradeflow_transaction_aborts_total") == 0;
    for (name, want) in [("tradeflow_dlq_records_total", 100), ("tradeflow_records_in_total", 10_000), ("tradeflow_records_out_total", 9_900)] {
        let got = value(name);
        assert!(if exact { got == want } else { got >= want }, "{name}: {got}, expected {want}");
    }
    proc_.stop();
    assert_eq!(bad.len(), 100);

    let mut dead: BTreeMap<String, (ErrorKind, usize)> = BTreeMap::new();
    for r in read_all("dlq") {
        if r.headers.get("tradeflow.source.topic") != Some(&topic) {
            continue;
        }
        let d: DeadLetter = codec.decode(r.value.as_deref().unwrap()).expect("dead letter decodes");
        assert_eq!(d.source_topic, topic);
        assert_eq!(r.headers["tradeflow.source.offset"], d.source_offset.to_string());
        assert_eq!(r.headers["tradeflow.source.partition"], d.source_partition.to_string());
        assert_eq!(r.headers["tradeflow.error.kind"], d.error_kind.as_str());
        assert_eq!(r.headers["tradeflow.pipeline"], format!("{prefix}totals"));
        assert!(!r.headers["tradeflow.error.message"].is_empty());
        let key = String::from_utf8(d.key.clone().unwrap()).unwrap();
        assert!(d.value.as_ref().is_some_and(|v| !v.is_empty()), "original value kept");
        let e = dead.entry(key).or_insert((d.error_kind, 0));
        e.1 += 1;
    }
    let got: BTreeMap<String, ErrorKind> = dead.iter().map(|(k, (kind, _))| (k.clone(), *kind)).collect();
    assert_eq!(got, bad, "every malformed record dead-lettered with its classification");
    assert!(dead.values().all(|(_, n)| *n == 1), "each exactly once");
    verify::totals(&prefix, &codec, &good);
}
