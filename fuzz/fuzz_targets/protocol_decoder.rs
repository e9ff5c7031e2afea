//! Every text frame a client can send goes through `decode_client`: whatever the
//! bytes, it answers (a message or an error), never panics, and what it accepts
//! survives a round trip.
#![no_main]

use app::protocol::{decode_client, validate_body, ClientMsg};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // WebSocket text frames are UTF-8 by the time the server reads them.
    let Ok(frame) = std::str::from_utf8(data) else { return };
    let Ok(msg) = decode_client(frame) else { return };
    let again = decode_client(&msg.to_json()).expect("a decoded message re-encodes to a decodable one");
    assert_eq!(again, msg);
    if let ClientMsg::Send { id, body } = &msg {
        if id.is_valid() {
            assert!(!id.0.is_empty() && id.0.len() <= app::protocol::ClientMsgId::MAX_LEN);
        }
        if validate_body(body).is_ok() {
            assert!(!body.trim().is_empty(), "a blank body passed validation");
        }
    }
});
