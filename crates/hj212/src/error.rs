//! Typed errors: each says what was wrong and where (byte offset, field name).

use std::fmt;

/// The broad class of a rejection, as `fenhe packet check` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Bytes where a packet header (`##`) was expected.
    Header,
    /// The four-digit length is not digits, or does not match where the CRC sits.
    Length,
    /// The CRC does not match (or matched only a variant the policy refuses).
    Crc,
    /// The data segment does not have the `KEY=VALUE;…;CP=&&…&&` structure.
    Syntax,
    /// A field is missing or has a value that is not valid for it.
    Field,
    /// The segment is longer than the configured maximum.
    TooLong,
}

impl ErrorKind {
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Header => "header",
            ErrorKind::Length => "length",
            ErrorKind::Crc => "crc",
            ErrorKind::Syntax => "syntax",
            ErrorKind::Field => "field",
            ErrorKind::TooLong => "too_long",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A rejected frame or skipped run of bytes. `offset` is counted from the start of whatever the
/// producer was given: the stream for the framer, the data segment for the parser (see
/// [`Error::shifted`] to move it into stream coordinates).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} error at byte {offset}: {message}")]
pub struct Error {
    pub kind: ErrorKind,
    pub offset: u64,
    /// The field the error is about, when there is one (`MN`, `w01018-Avg`, `DataTime`, …).
    pub field: Option<String>,
    pub message: String,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, offset: usize, message: impl Into<String>) -> Self {
        Error { kind, offset: offset as u64, field: None, message: message.into() }
    }

    pub(crate) fn field(offset: usize, field: &str, message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Field,
            offset: offset as u64,
            field: Some(field.to_string()),
            message: message.into(),
        }
    }

    /// The same error with its offset moved by `by` bytes.
    pub fn shifted(mut self, by: u64) -> Self {
        self.offset += by;
        self
    }
}
