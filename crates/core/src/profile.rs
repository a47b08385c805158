//! Browser profiles: a Chromium user-data dir (cookies, local storage, logins) kept between
//! sessions. A session loads one when it starts and may save its changes back when it ends.

use time::OffsetDateTime;

use crate::EngineError;

/// A profile as stored in metadata; its user data lives in the blob store once saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Unique id.
    pub id: String,
    /// The project of the API key that created it; only that project's keys see it.
    pub project: String,
    /// Optional name, unique within the project, usable instead of the id.
    pub name: Option<String>,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it was last renamed or saved.
    pub updated_at: Option<OffsetDateTime>,
    /// When a session last loaded it.
    pub last_used_at: Option<OffsetDateTime>,
    /// Size of its saved archive; `None` until a session saved it (it starts empty until then).
    pub archive_bytes: Option<u64>,
    /// The session using it now, if any: a profile is used by one session at a time.
    pub in_use: Option<ProfileUse>,
}

/// A session's use of a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileUse {
    /// The session that loaded it.
    pub session_id: String,
    /// Whether the session's changes are saved back to the profile when it ends.
    pub save_changes: bool,
}

impl Profile {
    /// Longest accepted name (Kernel's).
    pub const MAX_NAME_LEN: usize = 255;

    /// Checks a name as Kernel defines it: 1..=255 letters, digits, dots, underscores or
    /// hyphens.
    pub fn validate_name(name: &str) -> Result<(), EngineError> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if name.is_empty() || name.len() > Self::MAX_NAME_LEN || !name.chars().all(allowed) {
            return Err(EngineError::InvalidInput(format!(
                "profile name {name:?} must be 1..={} letters, digits, dots, underscores or hyphens",
                Self::MAX_NAME_LEN
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_letters_digits_dots_underscores_and_hyphens() {
        for name in ["work", "a.b_c-9", &"x".repeat(255)] {
            assert_eq!(Profile::validate_name(name), Ok(()), "{name}");
        }
        for name in [
            "",
            "with space",
            "slash/y",
            "ünï",
            "../up",
            &"x".repeat(256),
        ] {
            assert!(
                matches!(
                    Profile::validate_name(name),
                    Err(EngineError::InvalidInput(_))
                ),
                "{name}"
            );
        }
    }
}
