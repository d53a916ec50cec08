//! The clients' decoder of server WebSocket frames.
#![no_main]

use libfuzzer_sys::fuzz_target;
use securechat_proto::ServerMsg;

fuzz_target!(|data: &[u8]| {
    if let Some(msg) = securechat_fuzz::roundtrip::<ServerMsg>(data) {
        let _ = msg.stream_position();
    }
});
