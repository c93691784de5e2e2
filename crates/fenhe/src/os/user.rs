//! The operating-system user running this process, by its real user id, looked up in the
//! passwd database. `$USER` is not asked: anyone can set it, and a command queued by
//! `fenhe device send` records who queued it.

use std::ffi::CStr;

/// Why the user could not be named.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("cannot look up user id {uid} in the passwd database: {source}")]
    Lookup { uid: u32, source: std::io::Error },
    #[error("user id {uid} has no entry in the passwd database")]
    Unknown { uid: u32 },
    #[error("the passwd name of user id {uid} is not UTF-8")]
    NotUtf8 { uid: u32 },
}

/// The real user id of this process.
pub fn real_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// The login name of the process's real user id (`getuid` → `getpwuid_r`).
pub fn current_user_name() -> Result<String, UserError> {
    name_of(real_uid())
}

/// The login name of user id `uid` in the passwd database.
pub fn name_of(uid: u32) -> Result<String, UserError> {
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: an all-zero passwd is a valid value of the plain C struct (null pointers and
        // zero ids); getpwuid_r fills it only with pointers into `buf`.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is to memory we own for the whole call, and `buf.len()` is the
        // length of `buf`.
        let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr().cast(), buf.len(), &mut found) };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            // The entry does not fit: try again with a larger buffer.
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        if rc != 0 {
            return Err(UserError::Lookup { uid, source: std::io::Error::from_raw_os_error(rc) });
        }
        if found.is_null() || pwd.pw_name.is_null() {
            return Err(UserError::Unknown { uid });
        }
        // SAFETY: on success pw_name points to a NUL-terminated string inside `buf`, which
        // outlives this borrow.
        let name = unsafe { CStr::from_ptr(pwd.pw_name) };
        return name.to_str().map(str::to_owned).map_err(|_| UserError::NotUtf8 { uid });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_named_root() {
        assert_eq!(name_of(0).unwrap(), "root");
    }

    #[test]
    fn the_current_user_is_what_id_says() {
        let id = std::process::Command::new("id").arg("-un").output().unwrap();
        let want = String::from_utf8(id.stdout).unwrap().trim().to_string();
        assert_eq!(current_user_name().unwrap(), want);
    }

    #[test]
    fn an_unknown_uid_is_an_error_not_a_name() {
        // No system assigns this id (it is one below the "nobody" of 32-bit uids, unused).
        let e = name_of(4_294_967_290).unwrap_err();
        assert!(matches!(e, UserError::Unknown { .. }), "{e}");
    }
}
