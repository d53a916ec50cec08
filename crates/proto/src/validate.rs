//! Validation rules shared by the server (which enforces them) and clients
//! (which can check before sending).

use crate::ErrorCode;
use thiserror::Error;

/// Shortest and longest username, in characters.
pub const USERNAME_LEN: std::ops::RangeInclusive<usize> = 3..=32;
/// Shortest and longest password, in bytes.
pub const PASSWORD_LEN: std::ops::RangeInclusive<usize> = 8..=1024;
/// Longest room name, in characters.
pub const ROOM_NAME_MAX: usize = 64;
/// Longest room topic, in characters.
pub const TOPIC_MAX: usize = 250;
/// Longest display name, in characters.
pub const DISPLAY_NAME_MAX: usize = 64;
/// Longest status text, in characters.
pub const STATUS_MAX: usize = 140;
/// Largest profile picture, in bytes.
pub const AVATAR_MAX_BYTES: usize = 256 * 1024;
/// Longest `client_msg_id`, in bytes.
pub const CLIENT_MSG_ID_MAX: usize = 64;

/// A value broke a rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValidationError {
    #[error("username must be 3 to 32 characters of a-z, 0-9, '.', '_' or '-'")]
    Username,
    #[error("password must be 8 to 1024 bytes")]
    Password,
    #[error("message body is empty")]
    EmptyBody,
    #[error("message body is {len} bytes; the limit is {max}")]
    BodyTooLarge { len: usize, max: usize },
    #[error("message body contains control characters")]
    ControlCharacters,
    #[error("client_msg_id must be 1 to 64 printable ASCII characters")]
    ClientMsgId,
    #[error("room name must be 1 to 64 characters of a-z, 0-9, '.', '_' or '-'")]
    RoomName,
    #[error("topic must be at most 250 characters, without control characters")]
    Topic,
    #[error("display name must be at most 64 characters, without control or invisible characters")]
    DisplayName,
    #[error("status must be at most 140 characters, without control characters")]
    Status,
    #[error("encrypted content is {len} bytes; the limit is {max}")]
    CiphertextTooLarge { len: usize, max: usize },
    #[error(
        "encrypted content must be unpadded base64 with a session id of 1 to 64 such characters"
    )]
    Ciphertext,
    #[error("{0} must be unpadded base64 of at most 128 characters")]
    Key(&'static str),
}

impl ValidationError {
    /// The wire error code for this failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            ValidationError::BodyTooLarge { .. } | ValidationError::CiphertextTooLarge { .. } => {
                ErrorCode::TooLarge
            }
            _ => ErrorCode::BadRequest,
        }
    }
}

/// Usernames are case-insensitive: this lowercases and checks the rules.
pub fn normalize_username(name: &str) -> Result<String, ValidationError> {
    let name = name.to_ascii_lowercase();
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'));
    if ok_chars && USERNAME_LEN.contains(&name.len()) {
        Ok(name)
    } else {
        Err(ValidationError::Username)
    }
}

/// Checks a new password's length.
pub fn validate_password(password: &str) -> Result<(), ValidationError> {
    if PASSWORD_LEN.contains(&password.len()) {
        Ok(())
    } else {
        Err(ValidationError::Password)
    }
}

/// Checks a message body: not empty or blank, at most `max_bytes`, and no
/// control characters other than newline, carriage return and tab (an
/// escape sequence in a body would reach other users' terminals).
pub fn validate_body(body: &str, max_bytes: usize) -> Result<(), ValidationError> {
    if body.len() > max_bytes {
        return Err(ValidationError::BodyTooLarge {
            len: body.len(),
            max: max_bytes,
        });
    }
    if body.trim().is_empty() {
        return Err(ValidationError::EmptyBody);
    }
    if body
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ValidationError::ControlCharacters);
    }
    Ok(())
}

/// Checks the ciphertext of an encrypted message or edit: unpadded
/// base64, within what a `max_body`-byte message encrypts to, with a
/// sensible session id (the server cannot look inside).
pub fn validate_encrypted(
    enc: &crate::e2e::Encrypted,
    max_body: usize,
) -> Result<(), ValidationError> {
    let max = crate::e2e::Encrypted::max_ciphertext(max_body);
    if enc.ciphertext.len() > max {
        return Err(ValidationError::CiphertextTooLarge {
            len: enc.ciphertext.len(),
            max,
        });
    }
    let b64 = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    };
    if enc.ciphertext.is_empty()
        || !b64(&enc.ciphertext)
        || enc.session.is_empty()
        || enc.session.len() > 64
        || !b64(&enc.session)
    {
        return Err(ValidationError::Ciphertext);
    }
    Ok(())
}

/// Checks a public key, signature or key id: unpadded base64, 1–128
/// characters (`what` names it in the error).
pub fn validate_key(value: &str, what: &'static str) -> Result<(), ValidationError> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
    if ok {
        Ok(())
    } else {
        Err(ValidationError::Key(what))
    }
}

/// Room names are case-insensitive like usernames: lowercased and checked.
pub fn normalize_room_name(name: &str) -> Result<String, ValidationError> {
    let name = name.trim().to_ascii_lowercase();
    let ok = !name.is_empty()
        && name.len() <= ROOM_NAME_MAX
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        });
    if ok {
        Ok(name)
    } else {
        Err(ValidationError::RoomName)
    }
}

/// Checks a room topic.
pub fn validate_topic(topic: &str) -> Result<(), ValidationError> {
    if topic.chars().count() <= TOPIC_MAX && !topic.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(ValidationError::Topic)
    }
}

/// Trims a display name and checks it: at most [`DISPLAY_NAME_MAX`]
/// characters, no control characters, and no bidirectional controls or
/// other invisible characters (a name must look like what it is). `""`
/// means "none".
pub fn normalize_display_name(name: &str) -> Result<String, ValidationError> {
    let name = name.trim();
    if name.chars().count() <= DISPLAY_NAME_MAX
        && !name
            .chars()
            .any(|c| c.is_control() || is_invisible_format(c))
    {
        Ok(name.to_owned())
    } else {
        Err(ValidationError::DisplayName)
    }
}

/// Trims a status text and checks it: at most [`STATUS_MAX`] characters,
/// no control characters. `""` means "none".
pub fn normalize_status(status: &str) -> Result<String, ValidationError> {
    let status = status.trim();
    if status.chars().count() <= STATUS_MAX && !status.chars().any(char::is_control) {
        Ok(status.to_owned())
    } else {
        Err(ValidationError::Status)
    }
}

/// Whether `c` is a bidirectional control: embeddings and overrides
/// (U+202A–202E), isolates (U+2066–2069), the marks U+200E, U+200F and the
/// Arabic letter mark U+061C. Inside a name they can make `exe.jpg` show
/// as `jpg.exe`.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether `c` is a bidirectional control or another character that is
/// invisible when shown: soft hyphen, zero-width spaces and joiners, word
/// joiner and invisible operators, deprecated format characters, the byte
/// order mark, interlinear annotations, tag characters.
pub fn is_invisible_format(c: char) -> bool {
    is_bidi_control(c)
        || matches!(
            c,
            '\u{00AD}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200D}'
                | '\u{2060}'..='\u{2064}'
                | '\u{206A}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// `text` without bidirectional controls, for a display (a terminal) that
/// cannot isolate user text from what surrounds it.
pub fn without_bidi_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(is_bidi_control) {
        text.chars().filter(|&c| !is_bidi_control(c)).collect()
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// A file name made safe to store and show: the last path component, no
/// control characters, no bidirectional controls or other invisible
/// format characters, no leading dots, at most 200 characters; `file` when
/// nothing is left.
pub fn sanitize_file_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|&c| !c.is_control() && !is_invisible_format(c))
        .take(200)
        .collect();
    let cleaned = cleaned
        .trim_start_matches(|c: char| c == '.' || c.is_whitespace())
        .trim_end()
        .to_owned();
    if cleaned.is_empty() {
        "file".into()
    } else {
        cleaned
    }
}

/// Checks a `client_msg_id`.
pub fn validate_client_msg_id(id: &str) -> Result<(), ValidationError> {
    let ok =
        !id.is_empty() && id.len() <= CLIENT_MSG_ID_MAX && id.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(ValidationError::ClientMsgId)
    }
}

/// The media type an image's first bytes prove, if any.
pub fn sniff_image(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if head.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_recognised_by_their_bytes() {
        assert_eq!(sniff_image(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(sniff_image(&[0xff, 0xd8, 0xff, 0xe0]), Some("image/jpeg"));
        assert_eq!(sniff_image(b"GIF89a..."), Some("image/gif"));
        assert_eq!(sniff_image(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff_image(b"<svg onload=alert(1)>"), None);
        assert_eq!(sniff_image(b"<html>"), None);
    }

    #[test]
    fn usernames() {
        assert_eq!(normalize_username("Alice").unwrap(), "alice");
        assert_eq!(normalize_username("a.b_c-9").unwrap(), "a.b_c-9");
        for bad in ["ab", "", "has space", "émile", "x\u{0}yz", &"a".repeat(33)] {
            assert_eq!(
                normalize_username(bad),
                Err(ValidationError::Username),
                "{bad:?}"
            );
        }
        assert!(normalize_username(&"a".repeat(32)).is_ok());
    }

    #[test]
    fn passwords() {
        assert!(validate_password("12345678").is_ok());
        assert!(validate_password("1234567").is_err());
        assert!(validate_password(&"x".repeat(1025)).is_err());
    }

    #[test]
    fn bodies() {
        assert!(validate_body("hello\nworld\t!", 100).is_ok());
        assert_eq!(validate_body("  \n", 100), Err(ValidationError::EmptyBody));
        assert_eq!(
            validate_body("abc", 2),
            Err(ValidationError::BodyTooLarge { len: 3, max: 2 })
        );
        assert_eq!(
            validate_body("abc", 2).unwrap_err().code(),
            ErrorCode::TooLarge
        );
        assert_eq!(
            validate_body("red \u{1b}[31m", 100),
            Err(ValidationError::ControlCharacters)
        );
    }

    #[test]
    fn room_names_and_topics() {
        assert_eq!(normalize_room_name(" Dev-Ops ").unwrap(), "dev-ops");
        for bad in ["", "has space", "émoji", "ta\tb", &"r".repeat(65)] {
            assert_eq!(
                normalize_room_name(bad),
                Err(ValidationError::RoomName),
                "{bad:?}"
            );
        }
        assert!(validate_topic("Release planning, Tuesdays").is_ok());
        assert!(validate_topic("bell\u{7}").is_err());
        assert!(validate_topic(&"t".repeat(251)).is_err());
    }

    #[test]
    fn file_names_are_neutralized() {
        assert_eq!(sanitize_file_name("report.pdf"), "report.pdf");
        assert_eq!(sanitize_file_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_file_name("..\\..\\boot.ini"), "boot.ini");
        assert_eq!(sanitize_file_name("a\u{0}b\nc.txt"), "abc.txt");
        assert_eq!(
            sanitize_file_name("invoice\u{202E}gpj.exe"),
            "invoicegpj.exe"
        );
        assert_eq!(
            sanitize_file_name("\u{2067}a\u{200B}b\u{FEFF}\u{200F}\u{00AD}.pdf\u{2069}"),
            "ab.pdf"
        );
        assert_eq!(sanitize_file_name("\u{202D}\u{202E}"), "file");
        assert_eq!(without_bidi_controls("a\u{202E}b\u{200D}c"), "ab\u{200D}c");
        assert_eq!(sanitize_file_name(".."), "file");
        assert_eq!(sanitize_file_name(".hidden"), "hidden");
        assert_eq!(sanitize_file_name(""), "file");
        // Found by the `validate` fuzz target: dots and spaces in turn left
        // a name that still started with a dot.
        assert_eq!(sanitize_file_name(" \u{3}. \u{3}."), "file");
        assert_eq!(sanitize_file_name(". .profile"), "profile");
        assert_eq!(sanitize_file_name(&"x".repeat(300)).len(), 200);
    }

    #[test]
    fn client_msg_ids() {
        assert!(validate_client_msg_id("0193a1b2-c3d4").is_ok());
        assert!(validate_client_msg_id("").is_err());
        assert!(validate_client_msg_id("has space").is_err());
        assert!(validate_client_msg_id(&"x".repeat(65)).is_err());
    }
}
