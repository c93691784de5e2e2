//! Files fenhe writes for an operator (exports, reports) are created readable and writable by
//! their owner only (mode 0600): they hold the city's data, and a registry export may hold the
//! device passwords. A file that already exists is truncated and narrowed to 0600 too.

use std::fs::File;
use std::io::Write as _;
use std::path::Path;

/// Create (or truncate) `path` for writing, owner-only.
pub fn create(path: &Path) -> std::io::Result<File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let file = opts.open(path)?;
    // The mode applies only to a file created now; an existing one keeps its own unless narrowed.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if file.metadata()?.permissions().mode() & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(file)
}

/// Write `bytes` to `path`, owner-only (as [`std::fs::write`] otherwise).
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    create(path)?.write_all(bytes)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn new_and_existing_files_end_up_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new.csv");
        super::write(&new, b"a").unwrap();
        assert_eq!(std::fs::metadata(&new).unwrap().permissions().mode() & 0o777, 0o600);
        let old = dir.path().join("old.csv");
        std::fs::write(&old, b"wide").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        super::write(&old, b"b").unwrap();
        assert_eq!(std::fs::metadata(&old).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read(&old).unwrap(), b"b");
    }
}
