//! Attachments: files sent with a creation or an action are checked (size, and that the bytes
//! are of the type they claim), kept content-addressed by the store (the same bytes once) and
//! named on the step by their SHA-256. An attachment is read back by whoever may see its
//! enterprise's items; for anyone else it does not exist.

use fenhe_core::access::{Action, Actor, Denied, Target, authorize};
use fenhe_core::workflow::{FieldProblem, Problem};
use fenhe_store::{Store, StoredFile};

use super::{Upload, WorkflowError, access};

/// The largest file kept (photos of an on-site check, scanned reports).
pub const MAX_FILE_BYTES: u64 = 20 << 20;

/// The types kept, with the leading bytes their content must start with (empty: text, which
/// has no signature but must be UTF-8).
const TYPES: &[(&str, &[&[u8]])] = &[
    ("image/jpeg", &[b"\xFF\xD8\xFF"]),
    ("image/png", &[b"\x89PNG\r\n\x1a\n"]),
    ("image/gif", &[b"GIF87a", b"GIF89a"]),
    ("image/webp", &[b"RIFF"]),
    ("application/pdf", &[b"%PDF-"]),
    // OOXML (docx, xlsx) is a zip.
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", &[b"PK\x03\x04"]),
    ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", &[b"PK\x03\x04"]),
    ("application/zip", &[b"PK\x03\x04"]),
    ("text/plain", &[]),
    ("text/csv", &[]),
];

/// Every problem of the uploads, named `files`.
pub(crate) fn check(uploads: &[Upload]) -> Result<(), WorkflowError> {
    let mut problems = Vec::new();
    for u in uploads {
        let content_type = u.content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if u.bytes.len() as u64 > MAX_FILE_BYTES {
            problems.push(Problem::TooLarge { max: format!("{} MB", MAX_FILE_BYTES >> 20) });
            continue;
        }
        let fits = TYPES.iter().find(|(t, _)| *t == content_type).is_some_and(|(_, magic)| {
            if magic.is_empty() {
                std::str::from_utf8(&u.bytes).is_ok()
            } else {
                magic.iter().any(|m| u.bytes.starts_with(m))
            }
        });
        if !fits {
            problems.push(Problem::NotOneOf { allowed: TYPES.iter().map(|(t, _)| t.to_string()).collect() });
        }
    }
    match problems.into_iter().next() {
        None => Ok(()),
        // One entry for the field: a form shows one message beside it.
        Some(problem) => Err(WorkflowError::invalid(vec![FieldProblem { field: "files".into(), problem }])),
    }
}

/// Keep checked uploads for `enterprise`'s item; their hashes, in order.
pub(crate) async fn keep(
    store: &dyn Store,
    enterprise: &str,
    uploads: &[Upload],
    now: i64,
) -> Result<Vec<String>, WorkflowError> {
    let mut hashes = Vec::new();
    for u in uploads {
        let name = u.name.trim();
        let name = if name.is_empty() { "file" } else { name };
        let f = store.put_file(name, &u.content_type, enterprise, &u.bytes, now).await?;
        if !hashes.contains(&f.sha256) {
            hashes.push(f.sha256);
        }
    }
    Ok(hashes)
}

/// The attachment with this SHA-256 and its bytes, if `actor` may see its enterprise's items.
/// Not a hash, unknown, or another enterprise's: all [`Denied::NotFound`].
pub async fn file(
    store: &dyn Store,
    actor: &Actor,
    sha256: &str,
) -> Result<(StoredFile, Vec<u8>), WorkflowError> {
    access::item_scope(actor)?;
    let well_formed =
        sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !well_formed {
        return Err(Denied::NotFound.into());
    }
    let (info, bytes) = store.file(sha256).await?.ok_or(Denied::NotFound)?;
    authorize(actor, Action::ViewWorkflow, Target::Enterprise(&info.enterprise))?;
    Ok((info, bytes))
}
