//! The server's decoder of client WebSocket frames, and the checks every
//! `send` goes through.
#![no_main]

use libfuzzer_sys::fuzz_target;
use securechat_proto::ClientMsg;
use securechat_proto::validate::{validate_body, validate_client_msg_id};

fuzz_target!(|data: &[u8]| {
    if let Some(ClientMsg::Send {
        client_msg_id,
        body,
        ..
    }) = securechat_fuzz::roundtrip::<ClientMsg>(data)
    {
        let _ = validate_client_msg_id(&client_msg_id);
        if validate_body(&body, 16 * 1024).is_ok() {
            assert!(!body.trim().is_empty() && body.len() <= 16 * 1024);
        }
    }
});
