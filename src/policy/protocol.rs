//! The Postfix policy delegation protocol (SMTPD_POLICY_README): a request is `name=value`
//! lines ended by an empty line; the answer is one `action=...` line and an empty line.
//!
//! Reading is bounded: a line longer than `MAX_LINE` or a request with more than `MAX_ATTRS`
//! attributes is read to its end and answered (with whatever was kept), never held in memory
//! whole, so a broken or hostile client cannot make the service grow.

use std::collections::HashMap;
use std::io::{self, BufRead, Write};

/// Longest attribute line kept (Postfix's own lines are far shorter; longer ones are cut).
pub const MAX_LINE: usize = 8192;
/// Most attributes kept per request (Postfix 3.x sends about 40).
pub const MAX_ATTRS: usize = 256;

/// One request: its attributes by name (the last value wins, as in Postfix).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    pub attrs: HashMap<String, String>,
}

impl Request {
    /// The value of an attribute, `""` when absent.
    pub fn get(&self, name: &str) -> &str {
        self.attrs.get(name).map_or("", String::as_str)
    }

    /// Builds a request from `name=value` pairs (tests).
    #[cfg(test)]
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Request {
        Request { attrs: pairs.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() }
    }
}

/// Reads one request. `Ok(None)` at the end of input (or when it ends inside a request: an
/// unfinished request is not answered, Postfix has gone away).
pub fn read_request(input: &mut impl BufRead) -> io::Result<Option<Request>> {
    let mut req = Request::default();
    let mut line = Vec::with_capacity(128);
    loop {
        line.clear();
        let complete = read_line_bounded(input, &mut line)?;
        if !complete && line.is_empty() {
            return Ok(None);
        }
        if !complete {
            // End of input in the middle of a line: the request was never finished.
            return Ok(None);
        }
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        if line.is_empty() {
            // (A stray empty line is an empty request: answered DUNNO, one answer per request.)
            return Ok(Some(req));
        }
        if req.attrs.len() >= MAX_ATTRS {
            continue;
        }
        let text = String::from_utf8_lossy(&line);
        if let Some((k, v)) = text.split_once('=') {
            req.attrs.insert(k.trim().to_ascii_lowercase(), v.to_string());
        }
    }
}

/// Reads up to and including a newline, keeping at most `MAX_LINE` bytes of it. Returns whether
/// a newline ended it (false at the end of input).
fn read_line_bounded(input: &mut impl BufRead, out: &mut Vec<u8>) -> io::Result<bool> {
    loop {
        let buf = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(false);
        }
        let (take, done) = match memchr::memchr(b'\n', buf) {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        let room = MAX_LINE.saturating_sub(out.len());
        out.extend_from_slice(&buf[..take.min(room)]);
        input.consume(take);
        if done {
            if out.last() != Some(&b'\n') {
                out.push(b'\n');
            }
            return Ok(true);
        }
    }
}

/// Writes one answer: `action=...`, an empty line, flushed.
pub fn write_answer(out: &mut impl Write, action: &str) -> io::Result<()> {
    let clean: String = action.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    out.write_all(format!("action={clean}\n\n").as_bytes())?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_requests_one_after_another() {
        let text = "request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=192.0.2.1\n\
                    recipient=a@b.example\n\nrequest=smtpd_access_policy\r\nclient_address=192.0.2.2\r\n\r\n";
        let mut r = io::BufReader::new(text.as_bytes());
        let a = read_request(&mut r).unwrap().unwrap();
        assert_eq!(a.get("client_address"), "192.0.2.1");
        assert_eq!(a.get("recipient"), "a@b.example");
        assert_eq!(a.get("missing"), "");
        let b = read_request(&mut r).unwrap().unwrap();
        assert_eq!(b.get("client_address"), "192.0.2.2");
        assert_eq!(read_request(&mut r).unwrap(), None);
        // An unfinished request is not answered.
        let mut r = io::BufReader::new("request=smtpd_access_policy\nclient_add".as_bytes());
        assert_eq!(read_request(&mut r).unwrap(), None);
    }

    #[test]
    fn huge_lines_and_many_attributes_are_bounded() {
        let mut text = format!("sender={}\n", "x".repeat(1 << 20));
        for i in 0..10_000 {
            text.push_str(&format!("a{i}=v\n"));
        }
        text.push_str("\nclient_address=192.0.2.3\n\n");
        let mut r = io::BufReader::with_capacity(4096, text.as_bytes());
        let a = read_request(&mut r).unwrap().unwrap();
        assert!(a.get("sender").len() < MAX_LINE);
        assert_eq!(a.attrs.len(), MAX_ATTRS);
        assert_eq!(read_request(&mut r).unwrap().unwrap().get("client_address"), "192.0.2.3");
    }

    #[test]
    fn answers_are_one_line() {
        let mut out = Vec::new();
        write_answer(&mut out, "REJECT 5.7.1 bad\r\nX-Injected: yes").unwrap();
        assert_eq!(out, b"action=REJECT 5.7.1 bad  X-Injected: yes\n\n");
    }
}
