//! Encoding typed records to Confluent-framed Avro and back.
//!
//! Invariants:
//! - A record is always written with its current schema (the `.avsc` compiled into this
//!   crate) under the schema id the registry gave that schema.
//! - Reading resolves the writer's schema (looked up by the id in the frame) against the
//!   current reader schema, so data written with any earlier compatible version decodes.
//! - A body must be consumed exactly: trailing bytes are an error, not ignored.
//! - Unknown schema ids are reported as [`CodecError::UnknownSchemaId`] so the caller can
//!   fetch the schema from the registry and retry, or dead-letter the record.

use crate::wire::{self, WireError};
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::Schema;
use serde::{de::DeserializeOwned, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// A typed record with a schema file in `schemas/avro/`.
pub trait AvroRecord: Serialize + DeserializeOwned {
    /// Record name, equal to the schema file's stem and the Avro record name.
    const NAME: &'static str;
    /// The schema's JSON text.
    const SCHEMA_JSON: &'static str;
    /// The parsed schema (parsed once).
    fn schema() -> &'static Schema;
    /// A writer for the current schema (built once).
    fn writer() -> &'static GenericDatumWriter<'static>;
    /// A reader for data written with the current schema (built once).
    fn reader() -> &'static GenericDatumReader<'static>;
}

macro_rules! avro_record {
    ($($ty:ident),* $(,)?) => {$(
        impl AvroRecord for crate::records::$ty {
            const NAME: &'static str = stringify!($ty);
            const SCHEMA_JSON: &'static str =
                include_str!(concat!("../avro/", stringify!($ty), ".avsc"));
            fn schema() -> &'static Schema {
                static SCHEMA: std::sync::OnceLock<Schema> = std::sync::OnceLock::new();
                SCHEMA.get_or_init(|| {
                    Schema::parse_str(Self::SCHEMA_JSON)
                        .unwrap_or_else(|e| panic!("schemas/avro/{}.avsc: {e}", Self::NAME))
                })
            }
            fn writer() -> &'static GenericDatumWriter<'static> {
                static WRITER: std::sync::OnceLock<GenericDatumWriter<'static>> = std::sync::OnceLock::new();
                WRITER.get_or_init(|| GenericDatumWriter::builder(Self::schema()).build().expect("schema resolves"))
            }
            fn reader() -> &'static GenericDatumReader<'static> {
                static READER: std::sync::OnceLock<GenericDatumReader<'static>> = std::sync::OnceLock::new();
                READER.get_or_init(|| GenericDatumReader::builder(Self::schema()).build().expect("schema resolves"))
            }
        }
    )*
    /// Every record name with its schema JSON, in a fixed order.
    pub const ALL_SCHEMAS: &[(&str, &str)] = &[$(
        (stringify!($ty), include_str!(concat!("../avro/", stringify!($ty), ".avsc"))),
    )*];
    };
}

avro_record!(
    OrderCommand,
    RoutedOrder,
    FundingCommand,
    AccountCommand,
    InstrumentCommand,
    OrderEvent,
    ExecutionReport,
    Trade,
    LedgerEntry,
    FundingEvent,
    AccountSnapshot,
    AccountState,
    PositionSnapshot,
    BookSnapshot,
    BookState,
    DeadLetter,
    AmountEvent,
    TotalUpdated,
    RunningTotal,
    RealizedGain,
    PortfolioSnapshot,
    PortfolioState,
    UserRecord,
    ApiKeyRecord,
    AuditRecord,
    WatchlistRecord,
    SessionRecord,
);

/// Why a value could not be encoded or decoded.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum CodecError {
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("unknown schema id {0}")]
    UnknownSchemaId(u32),
    #[error("no schema id registered for writer record {0}")]
    NoWriterId(&'static str),
    #[error("Avro body does not decode as {record}: {message}")]
    Undecodable { record: &'static str, message: String },
    #[error("{0} trailing bytes after the Avro body")]
    TrailingBytes(usize),
    #[error("cannot encode {record}: {message}")]
    Encode { record: &'static str, message: String },
}

/// Encoder / decoder bound to schema ids from a registry.
///
/// Cheap to share behind an `Arc`; learning a new schema id takes a write lock.
#[derive(Default)]
pub struct Codec {
    writer_ids: HashMap<&'static str, u32>,
    by_id: RwLock<HashMap<u32, Arc<Schema>>>,
}

impl Codec {
    /// An empty codec: register writer ids before encoding.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `T`'s current schema has id `id` in the registry.
    pub fn set_writer_id<T: AvroRecord>(&mut self, id: u32) {
        self.writer_ids.insert(T::NAME, id);
        self.learn(id, T::schema().clone());
    }

    /// Like [`Codec::set_writer_id`], by record name (see [`ALL_SCHEMAS`]).
    pub fn set_writer_id_named(&mut self, name: &str, id: u32) -> Result<(), CodecError> {
        let (name, json) = ALL_SCHEMAS
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| CodecError::Encode { record: "?", message: format!("no schema named {name}") })?;
        let schema = Schema::parse_str(json).map_err(|e| CodecError::Encode { record: name, message: e.to_string() })?;
        self.writer_ids.insert(name, id);
        self.learn(id, schema);
        Ok(())
    }

    /// Records a writer schema fetched from the registry.
    pub fn learn(&self, id: u32, schema: Schema) {
        self.by_id.write().expect("codec lock").insert(id, Arc::new(schema));
    }

    /// Whether `id` is known.
    pub fn knows(&self, id: u32) -> bool {
        self.by_id.read().expect("codec lock").contains_key(&id)
    }

    /// Every record's writer id, in [`ALL_SCHEMAS`] order (records without one are left out).
    pub fn writer_ids(&self) -> Vec<(&'static str, u32)> {
        ALL_SCHEMAS.iter().filter_map(|(n, _)| self.writer_ids.get(n).map(|id| (*n, *id))).collect()
    }

    /// The schema id `T` is written with.
    pub fn writer_id<T: AvroRecord>(&self) -> Result<u32, CodecError> {
        self.writer_ids.get(T::NAME).copied().ok_or(CodecError::NoWriterId(T::NAME))
    }

    /// Avro body of `value` (no frame).
    pub fn encode_body<T: AvroRecord>(value: &T) -> Result<Vec<u8>, CodecError> {
        T::writer().write_ser_to_vec(value).map_err(|e| CodecError::Encode { record: T::NAME, message: e.to_string() })
    }

    /// `value` in the Confluent wire format.
    pub fn encode<T: AvroRecord>(&self, value: &T) -> Result<Vec<u8>, CodecError> {
        let id = self.writer_id::<T>()?;
        let mut out = wire::frame(id, &[]);
        T::writer().write_ser(&mut out, value).map_err(|e| CodecError::Encode { record: T::NAME, message: e.to_string() })?;
        Ok(out)
    }

    /// Decodes a Confluent-framed value written with any schema compatible with `T`'s.
    pub fn decode<T: AvroRecord>(&self, bytes: &[u8]) -> Result<T, CodecError> {
        let (id, body) = wire::unframe(bytes)?;
        if self.writer_ids.get(T::NAME) == Some(&id) {
            return Self::decode_body::<T>(None, body);
        }
        let writer = self
            .by_id
            .read()
            .expect("codec lock")
            .get(&id)
            .cloned()
            .ok_or(CodecError::UnknownSchemaId(id))?;
        Self::decode_body::<T>(Some(&writer), body)
    }

    /// Decodes an Avro body into `T`. `writer` is the schema the body was written with when
    /// it differs from `T`'s current schema (`None` = written with the current schema).
    pub fn decode_body<T: AvroRecord>(writer: Option<&Schema>, body: &[u8]) -> Result<T, CodecError> {
        let err = |e: apache_avro::Error| CodecError::Undecodable { record: T::NAME, message: e.to_string() };
        let mut cursor = body;
        let decoded = match writer {
            // Same schema: deserialize straight from the bytes (no intermediate value tree).
            None => T::reader().read_deser::<T>(&mut cursor).map_err(err)?,
            Some(w) => {
                let reader = GenericDatumReader::builder(w).reader_schema(T::schema()).build().map_err(err)?;
                let value = reader.read_value(&mut cursor).map_err(err)?;
                apache_avro::from_value::<T>(&value).map_err(err)?
            }
        };
        if !cursor.is_empty() {
            return Err(CodecError::TrailingBytes(cursor.len()));
        }
        Ok(decoded)
    }
}

#[cfg(test)]
#[path = "codec/tests.rs"]
pub(crate) mod tests;
