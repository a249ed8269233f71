//! Schema registry semantics shared by both implementations, and the embedded registry.
//!
//! The embedded registry follows the Confluent model: a schema gets one global id (equal
//! canonical forms share an id), subjects (`<topic>-value`) hold ordered versions, and a
//! subject's compatibility level is checked on every new version.
//!
//! Invariant: registering the same schemas in the same order yields the same ids, so
//! separate processes that each embed a registry agree on ids (the demo and tests rely on
//! it). Production uses the HTTP registry in `pipelines`, which needs no such agreement.

use apache_avro::schema_compatibility::SchemaCompatibility;
use apache_avro::Schema;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// A schema id as carried in the wire format.
pub type SchemaId = u32;

/// Compatibility level of a subject (Confluent's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compatibility {
    None,
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

impl Compatibility {
    /// Confluent's configuration string.
    pub fn as_str(self) -> &'static str {
        match self {
            Compatibility::None => "NONE",
            Compatibility::Backward => "BACKWARD",
            Compatibility::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Compatibility::Forward => "FORWARD",
            Compatibility::ForwardTransitive => "FORWARD_TRANSITIVE",
            Compatibility::Full => "FULL",
            Compatibility::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    /// Whether `new` may follow `existing` (oldest first) under this level.
    pub fn check(self, existing: &[Schema], new: &Schema) -> Result<(), String> {
        use Compatibility::*;
        let against: &[Schema] = match self {
            None => return Ok(()),
            Backward | Forward | Full => existing.last().map(std::slice::from_ref).unwrap_or(&[]),
            BackwardTransitive | ForwardTransitive | FullTransitive => existing,
        };
        for (i, old) in against.iter().enumerate() {
            let backward = matches!(self, Backward | BackwardTransitive | Full | FullTransitive);
            let forward = matches!(self, Forward | ForwardTransitive | Full | FullTransitive);
            if backward {
                SchemaCompatibility::can_read(old, new)
                    .map_err(|e| format!("new schema cannot read version {}: {e}", i + 1))?;
            }
            if forward {
                SchemaCompatibility::can_read(new, old)
                    .map_err(|e| format!("version {} cannot read the new schema: {e}", i + 1))?;
            }
        }
        Ok(())
    }
}

/// Registry failures (both implementations).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum RegistryError {
    #[error("schema id {0} not found")]
    SchemaNotFound(SchemaId),
    #[error("subject {0} not found")]
    SubjectNotFound(String),
    #[error("schema for subject {subject} is incompatible ({level}): {reason}")]
    Incompatible { subject: String, level: &'static str, reason: String },
    #[error("invalid schema: {0}")]
    InvalidSchema(String),
    /// Network or server failure; retrying may help.
    #[error("schema registry unavailable: {0}")]
    Unavailable(String),
}

impl RegistryError {
    /// Whether retrying the call may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, RegistryError::Unavailable(_))
    }
}

#[derive(Default)]
struct Inner {
    /// Index = id - 1.
    schemas: Vec<(String, Schema)>,
    subjects: BTreeMap<String, Vec<SchemaId>>,
    levels: BTreeMap<String, Compatibility>,
}

/// In-process registry for tests and the demo.
#[derive(Default)]
pub struct EmbeddedRegistry {
    inner: Mutex<Inner>,
}

impl EmbeddedRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a subject's compatibility level (default: `Backward`, as Confluent's).
    pub fn set_compatibility(&self, subject: &str, level: Compatibility) {
        self.inner.lock().expect("registry lock").levels.insert(subject.to_string(), level);
    }

    /// Registers `schema` under `subject`, returning its global id. Idempotent.
    pub fn register(&self, subject: &str, schema_json: &str) -> Result<SchemaId, RegistryError> {
        let schema = Schema::parse_str(schema_json).map_err(|e| RegistryError::InvalidSchema(e.to_string()))?;
        let canonical = schema.canonical_form();
        let mut inner = self.inner.lock().expect("registry lock");
        let existing_id = inner.schemas.iter().position(|(c, _)| *c == canonical).map(|i| i as SchemaId + 1);
        let versions = inner.subjects.get(subject).cloned().unwrap_or_default();
        if let Some(id) = existing_id {
            if versions.contains(&id) {
                return Ok(id);
            }
        }
        let level = inner.levels.get(subject).copied().unwrap_or(Compatibility::Backward);
        let olds: Vec<Schema> = versions.iter().map(|id| inner.schemas[*id as usize - 1].1.clone()).collect();
        level.check(&olds, &schema).map_err(|reason| RegistryError::Incompatible {
            subject: subject.to_string(),
            level: level.as_str(),
            reason,
        })?;
        let id = match existing_id {
            Some(id) => id,
            None => {
                inner.schemas.push((canonical, schema));
                inner.schemas.len() as SchemaId
            }
        };
        inner.subjects.entry(subject.to_string()).or_default().push(id);
        Ok(id)
    }

    /// The schema with global id `id`.
    pub fn schema_by_id(&self, id: SchemaId) -> Result<Schema, RegistryError> {
        let inner = self.inner.lock().expect("registry lock");
        (id as usize)
            .checked_sub(1)
            .and_then(|i| inner.schemas.get(i))
            .map(|(_, s)| s.clone())
            .ok_or(RegistryError::SchemaNotFound(id))
    }

    /// Version ids of a subject, oldest first.
    pub fn versions(&self, subject: &str) -> Result<Vec<SchemaId>, RegistryError> {
        let inner = self.inner.lock().expect("registry lock");
        inner.subjects.get(subject).cloned().ok_or_else(|| RegistryError::SubjectNotFound(subject.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}"#;
    const V2_OK: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"long"},{"name":"b","type":"string","default":""}]}"#;
    const V2_BAD: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"long"},{"name":"b","type":"string"}]}"#;

    #[test]
    fn ids_are_global_and_idempotent() {
        let r = EmbeddedRegistry::new();
        assert_eq!(r.register("t-value", V1).unwrap(), 1);
        assert_eq!(r.register("t-value", V1).unwrap(), 1);
        assert_eq!(r.register("u-value", V1).unwrap(), 1);
        assert_eq!(r.register("t-value", V2_OK).unwrap(), 2);
        assert_eq!(r.versions("t-value").unwrap(), vec![1, 2]);
        assert_eq!(r.schema_by_id(9), Err(RegistryError::SchemaNotFound(9)));
    }

    #[test]
    fn incompatible_schema_is_refused() {
        let r = EmbeddedRegistry::new();
        r.set_compatibility("t-value", Compatibility::BackwardTransitive);
        r.register("t-value", V1).unwrap();
        let err = r.register("t-value", V2_BAD).unwrap_err();
        assert!(matches!(err, RegistryError::Incompatible { level: "BACKWARD_TRANSITIVE", .. }), "{err}");
        assert!(matches!(r.register("t-value", "{"), Err(RegistryError::InvalidSchema(_))));
    }

    #[test]
    fn full_transitive_checks_both_directions() {
        let r = EmbeddedRegistry::new();
        r.set_compatibility("s-value", Compatibility::FullTransitive);
        r.register("s-value", V1).unwrap();
        // Adding a field with a default is fully compatible.
        r.register("s-value", V2_OK).unwrap();
        // Removing a field without default is not forward compatible with V1 readers.
        let v3 = r#"{"type":"record","name":"R","fields":[{"name":"b","type":"string","default":""}]}"#;
        assert!(r.register("s-value", v3).is_err());
    }
}
