//! The protocol's frame rules, applied to the bytes the gateway sends before
//! the websocket library buffers a message whole.
//!
//! The library can only refuse a message over its size limit, or a text
//! message that is not UTF-8, by closing the connection, and a gateway that
//! redelivers that message then closes every new connection too. The
//! protocol says such a frame is dropped and logged and the connection stays.
//! [`FrameGuard`] sits between the connection and the library, reads each
//! frame header, and skips (byte by byte, never buffering it) a message over
//! [`MAX_FRAME_BYTES`], a binary message, or a text message that is not UTF-8.
//! The library then only ever sees text messages within the limit.
//!
//! Memory: a text message is held until its last fragment has come, at most
//! [`MAX_FRAME_BYTES`] of payload and [`MAX_HELD_BYTES`] with frame headers.
//! Anything the guard does not understand (masked or reserved frames, a
//! continuation without a start) is passed through unchanged from there on,
//! so the library reports the protocol error as it would without the guard.

use super::frame::MAX_FRAME_BYTES;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Most bytes (payloads and frame headers) held for one text message: many
/// tiny fragments of a small message count against this.
pub const MAX_HELD_BYTES: usize = 2 * MAX_FRAME_BYTES;

/// Bytes read from the connection at a time.
const READ_CHUNK: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Action {
    /// To the library as it came (control frames).
    Pass,
    /// Dropped.
    Skip,
    /// Part of a text message held until it is complete.
    Hold,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// The HTTP response to the upgrade: passed until its blank line.
    Http { matched: usize },
    /// Waiting for a frame header.
    Header,
    /// Inside a frame's payload.
    Payload {
        left: u64,
        action: Action,
        fin: bool,
    },
    /// Something the guard does not understand: the library decides.
    Passthrough,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Msg {
    /// Between messages.
    Idle,
    /// A text message is being held.
    Holding,
    /// The rest of a dropped message is being skipped.
    Dropping,
}

/// Why a message was dropped (log line and metric label).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Dropped {
    TooLarge(u64),
    Binary(u64),
    NotUtf8(usize),
}

fn report(d: Dropped) {
    match d {
        Dropped::TooLarge(bytes) => {
            metrics::counter!(crate::metrics::BAD_FRAMES, "why" => "too_large").increment(1);
            tracing::warn!(bytes, "frame over 64 KiB dropped (the connection stays)");
        }
        Dropped::Binary(bytes) => {
            metrics::counter!(crate::metrics::BAD_FRAMES, "why" => "binary").increment(1);
            tracing::warn!(bytes, "binary frame dropped: the protocol uses text frames");
        }
        Dropped::NotUtf8(bytes) => {
            metrics::counter!(crate::metrics::BAD_FRAMES, "why" => "not_utf8").increment(1);
            tracing::warn!(
                bytes,
                "text frame that is not UTF-8 dropped (the connection stays)"
            );
        }
    }
}

/// A connection whose inbound bytes follow the protocol's frame rules.
pub struct FrameGuard<S> {
    inner: S,
    phase: Phase,
    msg: Msg,
    /// Read from the connection, not yet looked at (at most a partial header
    /// between reads).
    input: Vec<u8>,
    /// For the library.
    out: Vec<u8>,
    out_pos: usize,
    /// The held text message's frames (headers and payloads) ...
    held: Vec<u8>,
    /// ... and its payload alone, to check UTF-8.
    text: Vec<u8>,
    eof: bool,
}

impl<S> FrameGuard<S> {
    /// Guards `inner`, a client connection before its HTTP upgrade.
    pub fn new(inner: S) -> FrameGuard<S> {
        FrameGuard {
            inner,
            phase: Phase::Http { matched: 0 },
            msg: Msg::Idle,
            input: Vec::new(),
            out: Vec::new(),
            out_pos: 0,
            held: Vec::new(),
            text: Vec::new(),
            eof: false,
        }
    }

    fn drop_message(&mut self, why: Dropped, fin: bool) -> Action {
        report(why);
        self.held.clear();
        self.text.clear();
        self.msg = if fin { Msg::Idle } else { Msg::Dropping };
        Action::Skip
    }

    /// From here on, bytes go to the library unchanged.
    fn passthrough(&mut self, header: &[u8]) {
        self.out.append(&mut self.held);
        self.text.clear();
        self.out.extend_from_slice(header);
        self.phase = Phase::Passthrough;
    }

    /// A frame's payload has been handled.
    fn frame_done(&mut self, action: Action, fin: bool) {
        self.phase = Phase::Header;
        match (action, fin) {
            (Action::Hold, true) => {
                if std::str::from_utf8(&self.text).is_ok() {
                    self.out.append(&mut self.held);
                } else {
                    report(Dropped::NotUtf8(self.text.len()));
                    self.held.clear();
                }
                self.text.clear();
                self.msg = Msg::Idle;
            }
            (Action::Skip, true) if self.msg == Msg::Dropping => self.msg = Msg::Idle,
            _ => {}
        }
    }

    /// Handles as much of `input` as it can.
    fn process(&mut self) {
        let mut at = 0;
        while at < self.input.len() {
            match self.phase {
                Phase::Passthrough => {
                    self.out.extend_from_slice(&self.input[at..]);
                    at = self.input.len();
                }
                Phase::Http { mut matched } => {
                    const END: &[u8] = b"\r\n\r\n";
                    while at < self.input.len() && matched < END.len() {
                        let b = self.input[at];
                        matched = if b == END[matched] {
                            matched + 1
                        } else if b == b'\r' {
                            1
                        } else {
                            0
                        };
                        self.out.push(b);
                        at += 1;
                    }
                    self.phase = if matched == END.len() {
                        Phase::Header
                    } else {
                        Phase::Http { matched }
                    };
                }
                Phase::Payload { left, action, fin } => {
                    let n =
                        (self.input.len() - at).min(usize::try_from(left).unwrap_or(usize::MAX));
                    let chunk = &self.input[at..at + n];
                    match action {
                        Action::Pass => self.out.extend_from_slice(chunk),
                        Action::Skip => {}
                        Action::Hold => {
                            self.held.extend_from_slice(chunk);
                            self.text.extend_from_slice(chunk);
                        }
                    }
                    at += n;
                    let left = left - n as u64;
                    if left == 0 {
                        self.frame_done(action, fin);
                    } else {
                        self.phase = Phase::Payload { left, action, fin };
                    }
                }
                Phase::Header => {
                    let Some((len, header_len)) = header_length(&self.input[at..]) else {
                        break; // wait for the rest of the header
                    };
                    let header = self.input[at..at + header_len].to_vec();
                    at += header_len;
                    let (b0, b1) = (header[0], header[1]);
                    let fin = b0 & 0x80 != 0;
                    let rsv = b0 & 0x70;
                    let opcode = b0 & 0x0f;
                    let masked = b1 & 0x80 != 0;
                    let action = if masked || rsv != 0 {
                        self.passthrough(&header);
                        continue;
                    } else if opcode >= 0x8 && opcode <= 0xA {
                        self.out.extend_from_slice(&header);
                        Action::Pass
                    } else {
                        match (opcode, self.msg) {
                            (0, Msg::Dropping) => {
                                if fin {
                                    self.msg = Msg::Idle;
                                }
                                Action::Skip
                            }
                            (0, Msg::Holding) => {
                                let payload = self.text.len() as u64 + len;
                                let held = (self.held.len() + header_len) as u64 + len;
                                if payload > MAX_FRAME_BYTES as u64 || held > MAX_HELD_BYTES as u64
                                {
                                    self.drop_message(Dropped::TooLarge(payload), fin)
                                } else {
                                    self.held.extend_from_slice(&header);
                                    Action::Hold
                                }
                            }
                            (1, Msg::Idle) if len > MAX_FRAME_BYTES as u64 => {
                                self.drop_message(Dropped::TooLarge(len), fin)
                            }
                            (1, Msg::Idle) => {
                                self.held.extend_from_slice(&header);
                                self.msg = Msg::Holding;
                                Action::Hold
                            }
                            (2, Msg::Idle) => self.drop_message(Dropped::Binary(len), fin),
                            _ => {
                                // A continuation without a start, a new
                                // message inside another, a reserved opcode.
                                self.passthrough(&header);
                                continue;
                            }
                        }
                    };
                    if len == 0 {
                        self.frame_done(action, fin);
                    } else {
                        self.phase = Phase::Payload {
                            left: len,
                            action,
                            fin,
                        };
                    }
                }
            }
        }
        self.input.drain(..at);
    }
}

/// A complete frame header's payload length and own length, or None when
/// `b` does not hold the whole header yet.
fn header_length(b: &[u8]) -> Option<(u64, usize)> {
    if b.len() < 2 {
        return None;
    }
    let mask = if b[1] & 0x80 != 0 { 4 } else { 0 };
    let (len, ext) = match b[1] & 0x7f {
        126 => {
            let e = b.get(2..4)?;
            (u64::from(u16::from_be_bytes([e[0], e[1]])), 2)
        }
        127 => {
            let e: [u8; 8] = b.get(2..10)?.try_into().ok()?;
            (u64::from_be_bytes(e), 8)
        }
        n => (u64::from(n), 0),
    };
    let header_len = 2 + ext + mask;
    (b.len() >= header_len).then_some((len, header_len))
}

impl<S: AsyncRead + Unpin> AsyncRead for FrameGuard<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.out_pos < this.out.len() {
                let n = (this.out.len() - this.out_pos).min(buf.remaining());
                buf.put_slice(&this.out[this.out_pos..this.out_pos + n]);
                this.out_pos += n;
                if this.out_pos == this.out.len() {
                    this.out.clear();
                    this.out_pos = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            let mut chunk = [0u8; READ_CHUNK];
            let mut rb = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut rb))?;
            if rb.filled().is_empty() {
                this.eof = true;
                continue;
            }
            this.input.extend_from_slice(rb.filled());
            this.process();
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FrameGuard<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![(if fin { 0x80 } else { 0 }) | opcode];
        match payload.len() {
            n if n < 126 => f.push(n as u8),
            n if n < 65536 => {
                f.push(126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(payload);
        f
    }

    /// What the library would read after the HTTP response, fed `input` in
    /// pieces of `step` bytes.
    fn filtered(input: &[u8], step: usize) -> Vec<u8> {
        let mut g = FrameGuard::new(());
        g.phase = Phase::Header;
        for piece in input.chunks(step) {
            g.input.extend_from_slice(piece);
            g.process();
        }
        g.out
    }

    #[test]
    fn only_text_messages_within_the_limit_get_through() {
        let ok = frame(true, 1, "有货吗".as_bytes());
        let big = frame(true, 1, &vec![b'a'; MAX_FRAME_BYTES + 1]);
        let huge_header_only = {
            let mut f = vec![0x81, 127];
            f.extend_from_slice(&(5u64 << 20).to_be_bytes());
            f
        };
        let edge = frame(true, 1, &vec![b'a'; MAX_FRAME_BYTES]);
        let ping = frame(true, 9, b"p");
        let bad_utf8 = frame(true, 1, &[0xff, 0xfe, b'x']);
        // "有" split across fragments is still UTF-8 as a whole.
        let you = "有".as_bytes();
        let mut split = frame(false, 1, &you[..1]);
        split.extend(frame(true, 0, &you[1..]));
        let mut frag_big = frame(false, 1, &vec![b'a'; 40_000]);
        frag_big.extend(frame(false, 0, &vec![b'a'; 40_000]));
        frag_big.extend(frame(true, 0, b"tail"));
        let mut frag_ping = frame(false, 1, b"ab");
        frag_ping.extend(ping.clone());
        frag_ping.extend(frame(true, 0, b"cd"));
        let mut ping_then_ab_cd = ping.clone();
        ping_then_ab_cd.extend(frame(false, 1, b"ab"));
        ping_then_ab_cd.extend(frame(true, 0, b"cd"));
        let binary = frame(true, 2, &[0, 159, 146, 150]);
        let rows: Vec<(&str, Vec<u8>, Vec<u8>)> = vec![
            ("text passes", ok.clone(), ok.clone()),
            ("64 KiB exactly passes", edge.clone(), edge.clone()),
            (
                "over 64 KiB dropped",
                [big, ok.clone()].concat(),
                ok.clone(),
            ),
            ("binary dropped", [binary, ok.clone()].concat(), ok.clone()),
            (
                "not UTF-8 dropped",
                [bad_utf8, ok.clone()].concat(),
                ok.clone(),
            ),
            ("fragments kept together", split.clone(), split.clone()),
            (
                "fragments over the limit dropped",
                [frag_big, ok.clone()].concat(),
                ok.clone(),
            ),
            ("control frames pass at once", frag_ping, ping_then_ab_cd),
        ];
        for (what, input, want) in rows {
            for step in [1, 7, 4096, usize::MAX] {
                assert_eq!(
                    filtered(&input, step.min(input.len())),
                    want,
                    "{what} (step {step})"
                );
            }
        }
        // A 5 MiB header with only part of its payload: nothing held.
        let mut g = FrameGuard::new(());
        g.phase = Phase::Header;
        g.input.extend_from_slice(&huge_header_only);
        g.input.extend_from_slice(&vec![b'a'; 100_000]);
        g.process();
        assert!(g.out.is_empty() && g.held.is_empty() && g.input.is_empty());
    }

    #[test]
    fn what_it_does_not_understand_goes_through_unchanged() {
        let masked = vec![0x81, 0x82, 1, 2, 3, 4, b'a' ^ 1, b'b' ^ 2];
        let orphan = frame(true, 0, b"x");
        let reserved = frame(true, 3, b"x");
        for input in [masked, orphan, reserved] {
            let mut all = input.clone();
            all.extend(frame(true, 2, b"binary after"));
            assert_eq!(filtered(&all, 3), all);
        }
    }

    #[test]
    fn the_http_response_passes_up_to_its_blank_line() {
        let mut g = FrameGuard::new(());
        let resp = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
        let mut input = resp.to_vec();
        input.extend(frame(true, 2, b"bin"));
        input.extend(frame(true, 1, b"ok"));
        g.input.extend_from_slice(&input);
        g.process();
        assert_eq!(g.out, [resp.to_vec(), frame(true, 1, b"ok")].concat());
    }
}
