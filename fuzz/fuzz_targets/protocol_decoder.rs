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
    // Whatever decodes, validation answers without panicking.
    if let ClientMsg::Send { id, body } = &msg {
        id.is_valid();
        validate_body(body).ok();
    }
});
