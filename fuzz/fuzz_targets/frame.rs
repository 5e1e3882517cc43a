//! Protocol frames (src/channel/frame.rs): both parsers take any text without
//! panicking, and a FromBot frame that parses survives `to_json` unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;
use xiaoer::channel::frame::{parse_from_bot, parse_to_bot, FromBot, Parsed, MAX_FRAME_BYTES};

/// Known finding 1 (README.md, crashes/frame/): a `reply` whose confidence
/// overflows f32 (e.g. 1e39) parses as `inf`, and `to_json` writes it as
/// `null`, which no longer parses. With XIAOER_FUZZ_SKIP_KNOWN=1 the round
/// trip of such frames is not checked, so a run can look for other findings.
static SKIP_KNOWN: LazyLock<bool> =
    LazyLock::new(|| std::env::var_os("XIAOER_FUZZ_SKIP_KNOWN").is_some_and(|v| v == "1"));

fn known_nonfinite(frame: &FromBot) -> bool {
    matches!(frame, FromBot::Reply { confidence, .. } if !confidence.is_finite())
}

fuzz_target!(|data: &[u8]| {
    // Websocket text frames are UTF-8; invalid bytes become U+FFFD so that
    // every input the fuzzer makes is a frame.
    let text = String::from_utf8_lossy(data);

    let _ = parse_to_bot(&text);

    if let Ok(Parsed::Frame(frame)) = parse_from_bot(&text) {
        let json = frame.to_json();
        assert!(!json.is_empty(), "to_json gave nothing for {frame:?}");
        // A frame near the size limit may legitimately grow past it when
        // re-serialised ("1" → "1.0"): the round trip is only checked below it.
        if json.len() <= MAX_FRAME_BYTES && !(*SKIP_KNOWN && known_nonfinite(&frame)) {
            let again = parse_from_bot(&json);
            assert_eq!(
                again,
                Ok(Parsed::Frame(frame.clone())),
                "round trip changed the frame\n  input: {text:?}\n  json:  {json}"
            );
        }
    }
});
