//! What a username and a password must be: the rules an account is checked against before it is
//! stored, said in terms a person can act on. Pure; the store and the password hash are the
//! application's business.

/// Shortest username.
pub const USERNAME_MIN: usize = 3;
/// Longest username.
pub const USERNAME_MAX: usize = 32;
/// Shortest password, in characters (not bytes: a Chinese passphrase counts its characters).
pub const PASSWORD_MIN: usize = 10;
/// Longest password, in bytes: argon2 would take more, but a longer one is a mistake or an attack
/// on the hashing time, not a password.
pub const PASSWORD_MAX_BYTES: usize = 1024;

/// Why a username is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    #[error("a username has {USERNAME_MIN} to {USERNAME_MAX} characters; {0:?} has {1}")]
    Length(String, usize),
    #[error("a username may only use lower-case letters a-z, digits and . _ -; {0:?} has {1:?}")]
    Character(String, char),
    #[error("a username starts with a letter or a digit; {0:?} does not")]
    Start(String),
}

/// Check a username: 3–32 characters of `[a-z0-9._-]`, starting with a letter or digit (so that
/// it never looks like a command-line flag or a hidden name).
pub fn check_username(name: &str) -> Result<(), UsernameError> {
    let count = name.chars().count();
    if !(USERNAME_MIN..=USERNAME_MAX).contains(&count) {
        return Err(UsernameError::Length(name.to_string(), count));
    }
    if let Some(c) = name.chars().find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '-')) {
        return Err(UsernameError::Character(name.to_string(), c));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(UsernameError::Start(name.to_string()));
    }
    Ok(())
}

/// Why a password is refused. Never contains the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("the password is too short: {0} characters, at least {PASSWORD_MIN} are needed")]
    TooShort(usize),
    #[error("the password is too long: at most {PASSWORD_MAX_BYTES} bytes")]
    TooLong,
    #[error("the password may not be the username")]
    SameAsUsername,
    #[error("the password may not begin or end with spaces (they are easily lost when typed or pasted)")]
    Padded,
}

/// Check a new password for `username`: at least [`PASSWORD_MIN`] characters, at most
/// [`PASSWORD_MAX_BYTES`] bytes, not the username (in any letter case), no leading or trailing
/// white space.
pub fn check_password(username: &str, password: &str) -> Result<(), PasswordError> {
    let count = password.chars().count();
    if count < PASSWORD_MIN {
        return Err(PasswordError::TooShort(count));
    }
    if password.len() > PASSWORD_MAX_BYTES {
        return Err(PasswordError::TooLong);
    }
    if password.trim() != password {
        return Err(PasswordError::Padded);
    }
    if password.to_lowercase() == username.to_lowercase() {
        return Err(PasswordError::SameAsUsername);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        for ok in ["abc", "admin", "e01", "zhang.san", "wang_wu-2", &"a".repeat(32)] {
            assert_eq!(check_username(ok), Ok(()), "{ok}");
        }
        assert_eq!(check_username("ab"), Err(UsernameError::Length("ab".into(), 2)));
        assert_eq!(check_username(&"a".repeat(33)), Err(UsernameError::Length("a".repeat(33), 33)));
        assert_eq!(check_username("Admin"), Err(UsernameError::Character("Admin".into(), 'A')));
        assert_eq!(check_username("张三丰"), Err(UsernameError::Character("张三丰".into(), '张')));
        assert_eq!(check_username("a b c"), Err(UsernameError::Character("a b c".into(), ' ')));
        assert_eq!(check_username("-admin"), Err(UsernameError::Start("-admin".into())));
        assert_eq!(check_username(".hidden"), Err(UsernameError::Start(".hidden".into())));
    }

    #[test]
    fn passwords() {
        assert_eq!(check_password("zhang", "correct horse"), Ok(()));
        assert_eq!(check_password("zhang", "环境监测数据每日上报"), Ok(()), "ten Chinese characters");
        assert_eq!(check_password("zhang", "short"), Err(PasswordError::TooShort(5)));
        assert_eq!(check_password("zhang", "九个汉字的密码短语"), Err(PasswordError::TooShort(9)));
        assert_eq!(check_password("zhang.san.01", "Zhang.San.01"), Err(PasswordError::SameAsUsername));
        assert_eq!(check_password("zhang", " leading space"), Err(PasswordError::Padded));
        assert_eq!(check_password("zhang", &"x".repeat(PASSWORD_MAX_BYTES + 1)), Err(PasswordError::TooLong));
        assert_eq!(check_password("zhang", &"x".repeat(PASSWORD_MAX_BYTES)), Ok(()));
    }

    #[test]
    fn messages_say_what_is_wrong_and_never_the_password() {
        let e = check_password("zhang", "abc").unwrap_err().to_string();
        assert!(e.contains("at least 10") && !e.contains("abc"), "{e}");
        let e = check_username("Bad Name").unwrap_err().to_string();
        assert!(e.contains("a-z") && e.contains("'B'"), "{e}");
    }
}
