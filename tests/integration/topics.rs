//! `tradeflow topics create`: every catalog topic with its cleanup policy, idempotently.

use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use std::process::Command;
use tests::{brokers, tradeflow_bin};

fn create() -> String {
    let out = Command::new(tradeflow_bin())
        .args(["topics", "create", "--brokers", &brokers(), "--partitions", "3", "--registry", "embedded"])
        .output()
        .expect("run tradeflow topics create");
    assert!(out.status.success(), "topics create failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn topics_create_is_idempotent_and_sets_cleanup_policies() {
    create();
    let second = create();
    for t in schemas::topics::TOPICS {
        let line = second.lines().find(|l| l.split_whitespace().next() == Some(t.name)).unwrap_or_else(|| panic!("{} missing:\n{second}", t.name));
        assert!(line.ends_with("AlreadyExists"), "{line}");
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", brokers()).create().unwrap();
    let specs: Vec<ResourceSpecifier<'_>> = schemas::topics::TOPICS.iter().map(|t| ResourceSpecifier::Topic(t.name)).collect();
    let results = rt.block_on(admin.describe_configs(specs.iter(), &AdminOptions::new())).unwrap();
    for (t, r) in schemas::topics::TOPICS.iter().zip(results) {
        let r = r.unwrap_or_else(|e| panic!("describe {}: {e:?}", t.name));
        let policy = r.get("cleanup.policy").and_then(|e| e.value.clone()).unwrap_or_default();
        assert_eq!(policy, t.cleanup.as_str(), "{}", t.name);
        if t.cleanup == schemas::topics::Cleanup::Retain {
            let retention = r.get("retention.ms").and_then(|e| e.value.clone()).unwrap_or_default();
            assert_eq!(retention, "-1", "{} is kept forever", t.name);
        }
    }
}
