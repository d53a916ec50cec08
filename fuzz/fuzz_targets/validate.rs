//! The validators and sanitizers of user input, and the `Range` parser,
//! with the promises their docs make.
#![no_main]

use libfuzzer_sys::fuzz_target;
use securechat_proto::range::byte_range;
use securechat_proto::validate::*;

fuzz_target!(|data: &[u8]| {
    let (len, text) = match data.split_first_chunk::<8>() {
        Some((len, rest)) => (u64::from_le_bytes(*len) >> (len[0] % 64), rest),
        None => (0, data),
    };
    let Ok(s) = std::str::from_utf8(text) else {
        return;
    };
    if let Ok((start, end)) = byte_range(s, len).map(|r| r.unwrap_or((0, 0))) {
        assert!(start <= end && (len == 0 || end < len), "{s:?} in {len}: {start}-{end}");
    }

    let name = sanitize_file_name(s);
    assert!(!name.is_empty() && name.chars().count() <= 200, "{name:?}");
    assert!(!name.contains(['/', '\\']) && !name.starts_with('.'), "{name:?}");
    assert!(!name.chars().any(char::is_control), "{name:?}");
    assert_eq!(sanitize_file_name(&name), name, "sanitizing twice changes {s:?}");

    for normalize in [normalize_username, normalize_room_name] {
        if let Ok(n) = normalize(s) {
            assert_eq!(normalize(&n).as_ref(), Ok(&n), "not idempotent on {s:?}");
            assert!(n.bytes().all(|b| b.is_ascii_graphic()), "{n:?}");
        }
    }
    let _ = validate_topic(s);
    let _ = validate_body(s, 1024);
    let _ = validate_client_msg_id(s);
    let _ = validate_password(s);
});
