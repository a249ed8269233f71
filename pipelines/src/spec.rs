//! How a pure operator is bound to topics and codecs: the [`Pipeline`] trait.

use operators::{Operator, Timestamp};
use schemas::{Codec, CodecError};
use schemas::records::ErrorKind;

/// Why an input record cannot be processed (it goes to the dead-letter topic).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeFailure {
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// Decoded, but violates the pipeline's input rules.
    #[error("invalid input: {0}")]
    Invalid(String),
}

impl DecodeFailure {
    /// The dead-letter classification.
    pub fn kind(&self) -> ErrorKind {
        use schemas::wire::WireError;
        match self {
            DecodeFailure::Codec(CodecError::Wire(WireError::Empty)) => ErrorKind::Empty,
            DecodeFailure::Codec(CodecError::Wire(WireError::BadMagic(_) | WireError::TooShort(_))) => ErrorKind::BadMagic,
            DecodeFailure::Codec(CodecError::UnknownSchemaId(_)) => ErrorKind::UnknownSchemaId,
            DecodeFailure::Codec(_) => ErrorKind::Undecodable,
            DecodeFailure::Invalid(_) => ErrorKind::Invalid,
        }
    }
}

/// A record ready to produce: value already in the wire format.
#[derive(Debug, Clone, PartialEq)]
pub struct OutRecord {
    pub topic: &'static str,
    pub key: String,
    pub value: Vec<u8>,
    /// Explicit partition; `None` = by key (murmur2).
    pub partition: Option<i32>,
}

/// Binds an operator to its input topics, output topics, changelog and codecs.
///
/// All input topics of a pipeline must be co-partitioned (same partition count, same
/// keying); state for partition `p` of the inputs lives in partition `p` of the changelog.
pub trait Pipeline: Send + Sync + 'static {
    type Op: Operator<Key = String> + Send + Sync;

    /// Consumer group id and transactional id prefix.
    fn name(&self) -> &'static str;
    /// Input topics.
    fn inputs(&self) -> &'static [&'static str];
    /// Compacted changelog topic of the state, or `None` for stateless pipelines.
    fn changelog(&self) -> Option<&'static str>;
    /// The pure operator.
    fn operator(&self) -> &Self::Op;
    /// Decodes and validates an input value.
    fn decode(&self, codec: &Codec, topic: &str, value: &[u8]) -> Result<<Self::Op as Operator>::Input, DecodeFailure>;
    /// Event time of an input: from the payload when it has one, else the record timestamp.
    fn event_time(&self, input: &<Self::Op as Operator>::Input, record_ms: Option<i64>) -> Timestamp;
    /// Encodes an output record.
    fn encode(&self, codec: &Codec, out: &<Self::Op as Operator>::Output) -> Result<OutRecord, CodecError>;
    /// Encodes a state value for the changelog.
    fn encode_state(&self, codec: &Codec, state: &<Self::Op as Operator>::State) -> Result<Vec<u8>, CodecError>;
    /// Decodes a changelog value.
    fn decode_state(&self, codec: &Codec, bytes: &[u8]) -> Result<<Self::Op as Operator>::State, CodecError>;
}
