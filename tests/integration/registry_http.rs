//! The HTTP schema registry path (`pipelines::registry::Registry::Http`) against a real
//! Confluent-compatible registry.
//!
//! The registry's base URL comes from `SCHEMA_REGISTRY_URL` (for the local Apicurio started
//! by `scripts/schema-registry.sh start`: `http://127.0.0.1:18081/apis/ccompat/v7`). Without
//! it every test fails, unless `TRADEFLOW_SKIP_REGISTRY_TESTS=1`, which skips them.
//!
//! The registry may be shared with other tests and earlier runs: tests that need subjects
//! of their own use fresh, randomly suffixed names, and nothing assumes particular id
//! values (Apicurio's ids are content ids and need not be dense).

use anyhow::{ensure, Context};
use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::Schema;
use pipelines::registry::Registry;
use schemas::codec::ALL_SCHEMAS;
use schemas::records::*;
use schemas::registry::{Compatibility, RegistryError};
use schemas::topics::TOPICS;
use schemas::{wire, AvroRecord, Codec, CodecError};

/// The registry URL, or `None` (after printing why) when registry tests are skipped.
fn registry_url(test: &str) -> Option<String> {
    match std::env::var("SCHEMA_REGISTRY_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_string()),
        _ if std::env::var("TRADEFLOW_SKIP_REGISTRY_TESTS").as_deref() == Ok("1") => {
            eprintln!("skipping {test}: SCHEMA_REGISTRY_URL is not set and TRADEFLOW_SKIP_REGISTRY_TESTS=1");
            None
        }
        _ => panic!(
            "{test}: SCHEMA_REGISTRY_URL is not set. Start a registry with \
             `scripts/schema-registry.sh start` and set SCHEMA_REGISTRY_URL to the URL it prints \
             (http://127.0.0.1:18081/apis/ccompat/v7), or set TRADEFLOW_SKIP_REGISTRY_TESTS=1 to \
             skip the schema registry tests"
        ),
    }
}

macro_rules! registry_url_or_skip {
    ($test:literal) => {
        match registry_url($test) {
            Some(url) => url,
            None => return Ok(()),
        }
    };
}

/// A subject no other test or earlier run uses.
fn fresh_subject(what: &str) -> String {
    format!("it-registry-http-{what}-{}-{:08x}-value", std::process::id(), rand::random::<u32>())
}

/// An HTTP registry client (a new one, with its own connection pool, per call).
fn http_registry(url: &str) -> Registry {
    let registry = Registry::from_arg(url);
    assert!(matches!(registry, Registry::Http(_)), "{url} should give the HTTP registry");
    registry
}

/// Every record's writer id in `codec`, in `ALL_SCHEMAS` order.
fn writer_ids(codec: &Codec) -> Vec<(&'static str, u32)> {
    let ids = codec.writer_ids();
    assert_eq!(ids.len(), ALL_SCHEMAS.len(), "writer_ids() must list every record");
    ids
}

/// Avro decimal bytes (precision 28, scale 8) of `units / 10^8`.
fn decimal_bytes(units: i128) -> [u8; 16] {
    units.to_be_bytes()
}

/// Builds a typed record from JSON (decimals as their 16 unscaled bytes), so this crate
/// needs no `rust_decimal` dependency.
fn record<T: AvroRecord>(json: serde_json::Value) -> T {
    serde_json::from_value(json).unwrap_or_else(|e| panic!("{}: {e}", T::NAME))
}

fn amount_event(seq: i64, units: i128, at_ns: i64) -> AmountEvent {
    record(serde_json::json!({ "seq": seq, "amount": decimal_bytes(units).to_vec(), "at_ns": at_ns }))
}

fn schema_json(name: &str) -> &'static str {
    ALL_SCHEMAS.iter().find(|(n, _)| *n == name).map(|(_, j)| *j).expect("known record")
}

/// 1. `Registry::codec()` against the real registry: succeeds, is idempotent, every writer
///    id names its record's schema, and ids agree across independent clients.
#[tokio::test]
async fn http_codec_is_idempotent_and_ids_agree_across_clients() -> anyhow::Result<()> {
    let url = registry_url_or_skip!("http_codec_is_idempotent_and_ids_agree_across_clients");
    let registry = http_registry(&url);

    let first = registry.codec().await.with_context(|| format!("Registry::codec() against {url}"))?;
    let ids = writer_ids(&first);
    let again = registry.codec().await.context("second Registry::codec()")?;
    assert_eq!(writer_ids(&again), ids, "a second codec() call must give the same writer ids");

    // A separate client (as a separate process would have) gets the same ids.
    let other_registry = http_registry(&url);
    let other = other_registry.codec().await.context("Registry::codec() from a second client")?;
    assert_eq!(writer_ids(&other), ids, "independent clients must agree on writer ids");

    // Each id names that record's schema in the registry.
    for (name, id) in &ids {
        let stored = other_registry.schema_by_id(*id).await.with_context(|| format!("schema {id} ({name})"))?;
        let expected = Schema::parse_str(schema_json(name))?;
        assert_eq!(stored.canonical_form(), expected.canonical_form(), "schema id {id} should be {name}'s schema");
    }

    // Equal schemas share one id across subjects (AmountEvent is the value of three topics),
    // and registering again is idempotent per subject.
    for t in TOPICS {
        let id = other_registry.register(&t.value_subject(), schema_json(t.value)).await?;
        let expected = ids.iter().find(|(n, _)| *n == t.value).unwrap().1;
        assert_eq!(id, expected, "{} ({}) should have id {expected}", t.value_subject(), t.value);
    }

    // A value written by one client decodes with the other's codec, and vice versa.
    let event = amount_event(41, 12_345_000_000, 1_700_000_000_000_000_000);
    let bytes = first.encode(&event)?;
    let (id, _) = wire::unframe(&bytes)?;
    assert_eq!(id, first.writer_id::<AmountEvent>()?);
    assert_eq!(other.decode::<AmountEvent>(&bytes)?, event);

    let state: RunningTotal =
        record(serde_json::json!({ "total": decimal_bytes(-250_000_000).to_vec(), "count": 3, "last_seq": 41 }));
    let bytes = other.encode(&state)?;
    assert_eq!(first.decode::<RunningTotal>(&bytes)?, state);
    Ok(())
}

/// 2. A value written with a schema version this process has never seen: the codec reports
///    the unknown id, the HTTP registry serves the writer schema by id, and after learning it
///    the codec resolves it against the current reader schema.
#[tokio::test]
async fn http_registry_serves_unknown_writer_schemas() -> anyhow::Result<()> {
    let url = registry_url_or_skip!("http_registry_serves_unknown_writer_schemas");
    let registry = http_registry(&url);
    let codec = registry.codec().await.with_context(|| format!("Registry::codec() against {url}"))?;

    // AmountEvent plus an optional field with a default (a backward-compatible evolution).
    let mut evolved: serde_json::Value = serde_json::from_str(AmountEvent::SCHEMA_JSON)?;
    evolved["fields"].as_array_mut().context("fields")?.push(serde_json::json!({
        "name": "note",
        "type": ["null", "string"],
        "default": null,
    }));
    let evolved_json = evolved.to_string();
    let writer_schema = Schema::parse_str(&evolved_json)?;

    let subject = fresh_subject("evolved-amount");
    let id = registry.register(&subject, &evolved_json).await.with_context(|| format!("register {subject}"))?;
    assert_ne!(id, codec.writer_id::<AmountEvent>()?, "the evolved schema must get its own id");
    assert!(!codec.knows(id), "codec must not know the evolved schema's id {id} yet");

    // Written by "another producer" with the evolved schema.
    let units: i128 = -987_654_321;
    let value = Value::Record(vec![
        ("seq".into(), Value::Long(7)),
        ("amount".into(), Value::Decimal(apache_avro::Decimal::from(decimal_bytes(units)))),
        ("at_ns".into(), Value::Long(1_700_000_000_123_456_789)),
        ("note".into(), Value::Union(1, Box::new(Value::String("written by v2".into())))),
    ]);
    let body = GenericDatumWriter::builder(&writer_schema).build()?.write_value_to_vec(value)?;
    let framed = wire::frame(id, &body);

    // Read as if written with the current schema, the body has the note left over: the
    // writer schema really is needed.
    assert!(
        matches!(Codec::decode_body::<AmountEvent>(None, &body), Err(CodecError::TrailingBytes(_))),
        "the evolved body must not decode as the current schema"
    );

    assert_eq!(codec.decode::<AmountEvent>(&framed), Err(CodecError::UnknownSchemaId(id)));

    let fetched = registry.schema_by_id(id).await.with_context(|| format!("schema_by_id({id})"))?;
    assert_eq!(fetched.canonical_form(), writer_schema.canonical_form(), "registry returned another schema for {id}");
    codec.learn(id, fetched);
    assert!(codec.knows(id));

    let decoded = codec.decode::<AmountEvent>(&framed)?;
    assert_eq!(decoded, amount_event(7, units, 1_700_000_000_123_456_789));
    // Values written with the current schema still decode as before.
    let current = amount_event(8, 1, 2);
    assert_eq!(codec.decode::<AmountEvent>(&codec.encode(&current)?)?, current);
    Ok(())
}

const V1: &str = r#"{"type":"record","name":"Probe","namespace":"io.tradeflow.it","fields":[{"name":"a","type":"long"}]}"#;
/// Adds `b` with a default: backward compatible with V1.
const V2_OK: &str = r#"{"type":"record","name":"Probe","namespace":"io.tradeflow.it","fields":[{"name":"a","type":"long"},{"name":"b","type":"string","default":""}]}"#;
/// Adds `b` without a default: cannot read V1 data (but can read V2_OK data).
const V2_BAD: &str = r#"{"type":"record","name":"Probe","namespace":"io.tradeflow.it","fields":[{"name":"a","type":"long"},{"name":"b","type":"string"}]}"#;

/// 3. The registry enforces the level set with `set_compatibility`, and its refusals map to
///    the right `RegistryError`s.
#[tokio::test]
async fn http_registry_enforces_compatibility_and_maps_errors() -> anyhow::Result<()> {
    let url = registry_url_or_skip!("http_registry_enforces_compatibility_and_maps_errors");
    let registry = http_registry(&url);

    let subject = fresh_subject("compat");
    registry.set_compatibility(&subject, Compatibility::BackwardTransitive).await?;
    let v1 = registry.register(&subject, V1).await.context("register v1")?;
    assert_eq!(registry.register(&subject, V1).await?, v1, "registering v1 again must give its id");

    match registry.register(&subject, V2_BAD).await {
        Err(RegistryError::Incompatible { subject: s, .. }) => assert_eq!(s, subject),
        other => panic!("a new field without default must be refused as Incompatible, got {other:?}"),
    }
    let v2 = registry.register(&subject, V2_OK).await.context("register compatible v2")?;
    assert_ne!(v2, v1);

    // V2_BAD can read V2_OK data but not V1 data: refused only because the level is
    // transitive, which shows the subject level was applied (the global level is BACKWARD).
    let err = registry.register(&subject, V2_BAD).await.expect_err("V2_BAD after V2_OK under BACKWARD_TRANSITIVE");
    assert!(matches!(err, RegistryError::Incompatible { .. }), "{err:?}");
    assert!(!err.is_retryable());

    // The same sequence under plain BACKWARD accepts it.
    let backward = fresh_subject("compat-backward");
    registry.set_compatibility(&backward, Compatibility::Backward).await?;
    registry.register(&backward, V1).await?;
    registry.register(&backward, V2_OK).await?;
    let v3 = registry.register(&backward, V2_BAD).await.context("V2_BAD after V2_OK under BACKWARD")?;
    ensure!(v3 != v1 && v3 != v2, "V2_BAD is new content, got id {v3}");

    // Not a schema at all.
    let broken = registry.register(&fresh_subject("broken"), r#"{"type":"record","name":"Broken"}"#).await;
    assert!(matches!(broken, Err(RegistryError::InvalidSchema(_))), "{broken:?}");

    // Unknown schema id (below i32::MAX: registries store ids as Java ints).
    let unknown = 2_000_000_000;
    match registry.schema_by_id(unknown).await {
        Err(RegistryError::SchemaNotFound(id)) => assert_eq!(id, unknown),
        other => panic!("schema {unknown} should be SchemaNotFound, got {other:?}"),
    }
    Ok(())
}

/// 4. Failures that say nothing about the schema or id are `Unavailable` (retryable), not a
///    verdict: a misconfigured base URL must not make every id "not found" (which would
///    dead-letter records), and a transport error must not be read as incompatibility
///    because the URL happens to contain "409" or "404".
#[tokio::test]
async fn http_registry_setup_and_transport_errors_are_unavailable() -> anyhow::Result<()> {
    let url = registry_url_or_skip!("http_registry_setup_and_transport_errors_are_unavailable");

    // Right server, wrong path prefix: the server's own 404 page, no registry error code.
    let origin = url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
    let misrouted = http_registry(&format!("{origin}/no-such-prefix/404"));
    let err = misrouted.schema_by_id(1).await.expect_err("no registry under that path");
    assert!(matches!(err, RegistryError::Unavailable(_)), "wrong base URL must be Unavailable, got {err:?}");

    // Nothing listening: connection refused. The URL (in reqwest's message) holds "404" and
    // "409", the id is 404 and the subject names 409.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.local_addr()?.port()
    };
    let down = http_registry(&format!("http://127.0.0.1:{port}/404/409"));
    let err = down.schema_by_id(404).await.expect_err("nothing listening");
    assert!(matches!(err, RegistryError::Unavailable(_)) && err.is_retryable(), "got {err:?}");
    let err = down.register("orders-409-value", V1).await.expect_err("nothing listening");
    assert!(matches!(err, RegistryError::Unavailable(_)) && err.is_retryable(), "got {err:?}");
    Ok(())
}
