//! Device secrets at rest: each device's password and the new password a 1072 command carries
//! are stored sealed (XChaCha20-Poly1305, a random 192-bit nonce per value), never as plain
//! text. The gateway must still compare and send them, so a one-way hash cannot serve; the key
//! lives outside the database, in a file of its own (`<database>.key` beside a SQLite file),
//! created with mode 0600 on first use. Losing the key loses the device passwords (they must be
//! set again); a copy of the database without its key reveals none.
//!
//! A sealed value is text: `sealed:v1:` and the hex of nonce ‖ ciphertext ‖ tag. Its associated
//! data names what it is and whose (`device:<MN>`, `command:<MN>`), so a sealed value moved to
//! another row does not open. A backend seals on every write of a secret and opens on every
//! read, through [`Sealer`]; plain values left by an older version are still read, and sealed by
//! [`Sealer::needs_sealing`]'s caller when the database is migrated.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::{Result, StoreError};

/// What starts every sealed value.
const PREFIX: &str = "sealed:v1:";
const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;

/// Seals and opens device secrets with one key.
pub struct Sealer {
    cipher: XChaCha20Poly1305,
    /// Where the key came from, for messages (`None`: a key of this process only).
    origin: Option<PathBuf>,
    /// Values opened before, by (owner, sealed text): the registry is read whole by many pages
    /// and every reload of the gateway, and each read would otherwise open every password again.
    /// A sealed text changes whenever its secret does (a fresh nonce), so an entry never goes
    /// stale; the cache is emptied when it reaches [`OPENED_CACHE`] entries.
    opened: Mutex<HashMap<(String, String), String>>,
}

/// Most values [`Sealer`] keeps opened.
const OPENED_CACHE: usize = 100_000;

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").field("origin", &self.origin).finish_non_exhaustive()
    }
}

/// The key file of a database file: `<db>.key` beside it.
pub fn key_path(db_file: &Path) -> PathBuf {
    let mut p = db_file.as_os_str().to_owned();
    p.push(".key");
    PathBuf::from(p)
}

impl Sealer {
    fn with(key: [u8; KEY_LEN], origin: Option<PathBuf>) -> Sealer {
        Sealer { cipher: XChaCha20Poly1305::new(&key.into()), origin, opened: Mutex::new(HashMap::new()) }
    }

    /// A key of this process only, for databases that do not outlive it (in memory).
    pub fn ephemeral() -> Result<Sealer> {
        let key = random::<KEY_LEN>()?;
        Ok(Sealer::with(key, None))
    }

    /// The key in `path` (64 hex digits). Fails, saying so, when the file is missing or not a key.
    pub fn load(path: &Path) -> Result<Sealer> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| StoreError::Secrets(format!("cannot read the key file {}: {e}", path.display())))?;
        let key =
            parse_hex(text.trim()).and_then(|k| <[u8; KEY_LEN]>::try_from(k).ok()).ok_or_else(|| {
                StoreError::Secrets(format!(
                    "the key file {} does not hold a key ({} hex digits expected)",
                    path.display(),
                    KEY_LEN * 2
                ))
            })?;
        Ok(Sealer::with(key, Some(path.to_path_buf())))
    }

    /// A new key, written to `path`, which must not exist yet, readable by its owner only
    /// (mode 0600 from the start: the file never exists with wider permissions).
    pub fn create(path: &Path) -> Result<Sealer> {
        let key = random::<KEY_LEN>()?;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o600);
        }
        let cannot = |e: std::io::Error| {
            StoreError::Secrets(format!("cannot create the key file {}: {e}", path.display()))
        };
        let mut f = opts.open(path).map_err(cannot)?;
        f.write_all(format!("{}\n", hex(&key)).as_bytes()).map_err(cannot)?;
        f.sync_all().map_err(cannot)?;
        Ok(Sealer::with(key, Some(path.to_path_buf())))
    }

    /// Seal `plain`, a secret of `owner` (`device:<MN>`, `command:<MN>`).
    pub fn seal(&self, owner: &str, plain: &str) -> Result<String> {
        let nonce = random::<NONCE_LEN>()?;
        let sealed = self
            .cipher
            .encrypt(&XNonce::from(nonce), Payload { msg: plain.as_bytes(), aad: owner.as_bytes() })
            .map_err(|_| StoreError::Secrets(format!("cannot seal the secret of {owner}")))?;
        let mut out = String::with_capacity(PREFIX.len() + 2 * (NONCE_LEN + sealed.len()));
        out.push_str(PREFIX);
        out.push_str(&hex(&nonce));
        out.push_str(&hex(&sealed));
        Ok(out)
    }

    /// The plain text of a stored secret of `owner`: a sealed value opened, or a plain value
    /// (from before sealing) as it is.
    pub fn open(&self, owner: &str, stored: &str) -> Result<String> {
        let Some(body) = stored.strip_prefix(PREFIX) else { return Ok(stored.to_string()) };
        let key = (owner.to_string(), stored.to_string());
        if let Some(plain) = self.opened.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(plain);
        }
        let bytes = parse_hex(body)
            .filter(|b| b.len() > NONCE_LEN)
            .ok_or_else(|| StoreError::Corrupt(format!("the sealed secret of {owner} is malformed")))?;
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = <[u8; NONCE_LEN]>::try_from(nonce)
            .map_err(|_| StoreError::Corrupt(format!("the sealed secret of {owner} is malformed")))?;
        let plain = self
            .cipher
            .decrypt(&XNonce::from(nonce), Payload { msg: sealed, aad: owner.as_bytes() })
            .map_err(|_| {
                StoreError::Secrets(match &self.origin {
                    Some(p) => format!(
                        "the secret of {owner} does not open with the key in {}: the database was sealed \
                         with another key (restore the key file that belongs to this database, or set \
                         the device passwords again)",
                        p.display()
                    ),
                    None => format!("the secret of {owner} does not open with this process's key"),
                })
            })?;
        let plain = String::from_utf8(plain)
            .map_err(|_| StoreError::Corrupt(format!("the secret of {owner} is not UTF-8")))?;
        if let Ok(mut m) = self.opened.lock() {
            if m.len() >= OPENED_CACHE {
                m.clear();
            }
            m.insert(key, plain.clone());
        }
        Ok(plain)
    }

    /// Whether a stored value is still plain text (to be sealed on migration).
    pub fn needs_sealing(stored: &str) -> bool {
        !is_sealed(stored)
    }
}

/// Whether a stored value is sealed.
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

/// The owner name of a device's password.
pub fn device_owner(mn: &str) -> String {
    format!("device:{mn}")
}

/// The owner name of a command's parameters (sealed for commands that carry a secret).
pub fn command_owner(mn: &str) -> String {
    format!("command:{mn}")
}

/// Whether a command of code `cn` carries a secret in its parameters (1072: the new password).
pub fn command_is_secret(cn: &str) -> bool {
    cn == "1072"
}

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b)
        .map_err(|e| StoreError::Secrets(format!("the operating system gave no random bytes: {e}")))?;
    Ok(b)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

fn parse_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|p| {
            let d = |c: u8| char::from(c).to_digit(16);
            u8::try_from(d(p[0])? * 16 + d(p[1])?).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_for_its_owner_and_key() {
        let s = Sealer::ephemeral().unwrap();
        let a = s.seal("device:M1", "123456").unwrap();
        let b = s.seal("device:M1", "123456").unwrap();
        assert!(is_sealed(&a) && !a.contains("123456"));
        assert_ne!(a, b, "a fresh nonce each time");
        assert_eq!(s.open("device:M1", &a).unwrap(), "123456");
        assert!(matches!(s.open("device:M2", &a), Err(StoreError::Secrets(_))));
        let other = Sealer::ephemeral().unwrap();
        assert!(matches!(other.open("device:M1", &a), Err(StoreError::Secrets(_))));
        // Plain values from before sealing read as they are; a damaged one is an error.
        assert_eq!(s.open("device:M1", "654321").unwrap(), "654321");
        assert!(matches!(s.open("device:M1", "sealed:v1:zz"), Err(StoreError::Corrupt(_))));
        assert!(matches!(s.open("device:M1", &a[..a.len() - 2]), Err(StoreError::Secrets(_))));
    }

    #[test]
    fn the_key_file_is_created_once_owner_only_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = key_path(&dir.path().join("x.db"));
        assert!(path.ends_with("x.db.key"));
        let sealed = Sealer::create(&path).unwrap().seal("device:M", "pw").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert!(matches!(Sealer::create(&path), Err(StoreError::Secrets(_))), "never overwritten");
        assert_eq!(Sealer::load(&path).unwrap().open("device:M", &sealed).unwrap(), "pw");
        std::fs::write(&path, "not a key").unwrap();
        assert!(matches!(Sealer::load(&path), Err(StoreError::Secrets(_))));
    }
}
