//! The two schema registries behind one interface, and codec set-up from the topic catalog.
//!
//! - Embedded ([`schemas::EmbeddedRegistry`]): in-process, for tests and the demo. Ids are
//!   deterministic for a build, so separate processes agree on them.
//! - HTTP: any Confluent-compatible registry (Redpanda's built-in one in production).
//!   Registration and lookup by id use `schema_registry_converter`; setting a subject's
//!   compatibility level (which that crate does not cover) is a plain `PUT /config/{subject}`.
//!   Plain `http://` only for now: TLS to the registry is not built in (see README).

use schema_registry_converter::async_impl::schema_registry::{get_schema_by_id, post_schema, SrSettings};
use schema_registry_converter::error::SRCError;
use schema_registry_converter::schema_registry_common::{RawError, SchemaType, SuppliedSchema};
use schemas::registry::{Compatibility, EmbeddedRegistry, RegistryError, SchemaId};
use schemas::topics::TOPICS;
use schemas::Codec;
use std::sync::Arc;

/// A Confluent-compatible registry over HTTP.
#[derive(Clone)]
pub struct HttpRegistry {
    base: String,
    settings: SrSettings,
    client: reqwest::Client,
}

impl HttpRegistry {
    pub fn new(base_url: &str) -> Self {
        let base = base_url.trim_end_matches('/').to_string();
        Self { settings: SrSettings::new(base.clone()), base, client: reqwest::Client::new() }
    }
}

/// Either registry.
#[derive(Clone)]
pub enum Registry {
    Embedded(Arc<EmbeddedRegistry>),
    Http(HttpRegistry),
}

/// What an error response from the registry said: the HTTP status and the body's
/// `error_code` (Confluent's codes; Apicurio's ccompat API uses the same ones).
///
/// Both are read from the structure of the [`SRCError`], never by searching its text: the
/// text also holds the request URL (subject names, schema ids, the port) for transport
/// errors, so a substring like "409" or "404" proves nothing. `schema_registry_converter`
/// puts the status in `error` ("HTTP request to schema registry failed with status 409
/// Conflict") and the parsed body as the error's source ([`RawError`]); a body that is not
/// a registry error (e.g. a web server's 404 page for a wrong base URL) parses as
/// `error_code` 0, which is treated as no code.
struct Rejection {
    status: Option<u16>,
    code: Option<u32>,
    /// The registry's message, or the whole error when there is none.
    message: String,
}

fn rejection(e: &SRCError) -> Rejection {
    let status = e
        .error
        .strip_prefix("HTTP request to schema registry failed with status ")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|s| s.parse().ok());
    let raw = std::error::Error::source(e).and_then(|s| s.downcast_ref::<RawError>());
    let code = raw.map(|r| r.error_code).filter(|c| *c != 0);
    let message = match raw {
        Some(r) if code.is_some() => format!("{} (error code {})", r.message, r.error_code),
        _ => e.to_string(),
    };
    Rejection { status, code, message }
}

/// Maps a failed registration under `subject`.
fn from_src(e: SRCError, subject: &str) -> RegistryError {
    let r = rejection(&e);
    match (r.status, r.code) {
        // 409 / error_code 409: the schema breaks the subject's compatibility level.
        (_, Some(409)) | (Some(409), None) => {
            RegistryError::Incompatible { subject: subject.to_string(), level: "registry", reason: r.message }
        }
        // 422 / 42201: not a valid schema (Apicurio: also unparseable JSON).
        (_, Some(42201)) | (Some(422), None) => RegistryError::InvalidSchema(r.message),
        (_, Some(40401)) => RegistryError::SubjectNotFound(subject.to_string()),
        _ => RegistryError::Unavailable(r.message),
    }
}

impl Registry {
    /// A new embedded registry.
    pub fn embedded() -> Self {
        Registry::Embedded(Arc::new(EmbeddedRegistry::new()))
    }

    /// `embedded` or an `http(s)://` URL.
    pub fn from_arg(arg: &str) -> Self {
        if arg == "embedded" {
            Self::embedded()
        } else {
            Registry::Http(HttpRegistry::new(arg))
        }
    }

    /// Sets a subject's compatibility level.
    pub async fn set_compatibility(&self, subject: &str, level: Compatibility) -> Result<(), RegistryError> {
        match self {
            Registry::Embedded(r) => {
                r.set_compatibility(subject, level);
                Ok(())
            }
            Registry::Http(h) => {
                let url = format!("{}/config/{}", h.base, subject);
                let resp = h
                    .client
                    .put(url)
                    .header("Content-Type", "application/vnd.schemaregistry.v1+json")
                    .json(&serde_json::json!({ "compatibility": level.as_str() }))
                    .send()
                    .await
                    .map_err(|e| RegistryError::Unavailable(e.to_string()))?;
                if resp.status().is_success() {
                    Ok(())
                } else {
                    let status = resp.status();
                    let body = resp.text().await.unwrap_or_default();
                    Err(RegistryError::Unavailable(format!("PUT /config/{subject}: {status} {body}")))
                }
            }
        }
    }

    /// Registers a schema under a subject (idempotent), returning its id.
    pub async fn register(&self, subject: &str, schema_json: &str) -> Result<SchemaId, RegistryError> {
        match self {
            Registry::Embedded(r) => r.register(subject, schema_json),
            Registry::Http(h) => {
                let supplied = SuppliedSchema::new(None, SchemaType::Avro, schema_json.to_string());
                post_schema(&h.settings, subject.to_string(), supplied)
                    .await
                    .map(|r| r.id)
                    .map_err(|e| from_src(e, subject))
            }
        }
    }

    /// The schema with id `id`.
    pub async fn schema_by_id(&self, id: SchemaId) -> Result<apache_avro::Schema, RegistryError> {
        match self {
            Registry::Embedded(r) => r.schema_by_id(id),
            Registry::Http(h) => {
                // Only the registry's own "schema not found" (40403) means the id is unknown;
                // a 404 without it (wrong base URL, proxy) is a set-up problem, not a verdict
                // on the id, and must not get records dead-lettered.
                let registered = get_schema_by_id(id, &h.settings).await.map_err(|e| match rejection(&e) {
                    Rejection { code: Some(40403), .. } => RegistryError::SchemaNotFound(id),
                    r => RegistryError::Unavailable(r.message),
                })?;
                apache_avro::Schema::parse_str(&registered.schema).map_err(|e| RegistryError::InvalidSchema(e.to_string()))
            }
        }
    }

    /// Registers every topic's value schema with its compatibility level and returns a codec
    /// that writes each record with its registered id. Idempotent.
    pub async fn codec(&self) -> Result<Codec, RegistryError> {
        let mut codec = Codec::new();
        for t in TOPICS {
            let subject = t.value_subject();
            self.set_compatibility(&subject, t.compatibility).await?;
            let json = schemas::codec::ALL_SCHEMAS
                .iter()
                .find(|(n, _)| *n == t.value)
                .map(|(_, j)| *j)
                .expect("topic catalog names known records (tested in schemas)");
            let id = self.register(&subject, json).await?;
            codec.set_writer_id_named(t.value, id).map_err(|e| RegistryError::InvalidSchema(e.to_string()))?;
        }
        Ok(codec)
    }
}
