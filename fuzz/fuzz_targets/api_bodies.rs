//! The JSON bodies of the HTTPS API; the first byte picks the type.
#![no_main]

use libfuzzer_sys::fuzz_target;
use securechat_fuzz::roundtrip;
use securechat_proto::http::*;
use securechat_proto::validate::*;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, json)) = data.split_first() else {
        return;
    };
    match pick % 7 {
        0 => {
            if let Some(r) = roundtrip::<RegisterRequest>(json) {
                let _ = normalize_username(&r.username);
                let _ = validate_password(&r.password);
            }
        }
        1 => {
            roundtrip::<LoginRequest>(json);
        }
        2 => {
            roundtrip::<PasswordChange>(json);
        }
        3 => {
            if let Some(r) = roundtrip::<CreateRoom>(json) {
                r.name.as_deref().map(normalize_room_name);
                r.topic.as_deref().map(validate_topic);
                r.members.iter().for_each(|m| drop(normalize_username(m)));
            }
        }
        4 => {
            roundtrip::<UpdateRoom>(json);
        }
        5 => {
            roundtrip::<UsernameRequest>(json);
        }
        _ => {
            roundtrip::<EditRequest>(json);
        }
    }
});
