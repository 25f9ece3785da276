//! Open-proxy probing (`spamfilt ip probe ADDRESS`): does the address relay a connection to the
//! admin's own mail server through HTTP CONNECT, SOCKS 5 or SOCKS 4 on the usual proxy ports?
//!
//! Opt-in and by hand only: nothing probes unless the admin runs the command, and an address is
//! probed at most once per `ip_expire_days` (the caller keeps the date in the policy state).
//! A proxy counts as open only when the admin's own server's SMTP greeting (`220`) comes back
//! through it, so a proxy that merely answers is not listed. Every step has a timeout.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The ports open proxies are usually found on.
pub const DEFAULT_PORTS: [u16; 8] = [1080, 3128, 8080, 80, 8000, 8081, 8888, 1081];

/// The ways a proxy is asked to connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    HttpConnect,
    Socks5,
    Socks4,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::HttpConnect => "HTTP CONNECT",
            Kind::Socks5 => "SOCKS 5",
            Kind::Socks4 => "SOCKS 4",
        }
    }
}

/// An open proxy found: how, and on which port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub kind: Kind,
    pub port: u16,
}

/// Probes `ip` on each port with each kind, stopping at the first open proxy. `target` is the
/// admin's own SMTP server; `timeout` bounds each connection attempt and each read.
pub fn probe(ip: IpAddr, ports: &[u16], target: SocketAddr, timeout: Duration) -> Option<Found> {
    for &port in ports {
        let addr = SocketAddr::new(ip, port);
        // A closed port is skipped at once, not asked three times.
        if TcpStream::connect_timeout(&addr, timeout).is_err() {
            continue;
        }
        for kind in [Kind::HttpConnect, Kind::Socks5, Kind::Socks4] {
            if relays(addr, kind, target, timeout) {
                return Some(Found { kind, port });
            }
        }
    }
    None
}

/// Whether the proxy at `addr` relays to `target` and the target's greeting comes back.
fn relays(addr: SocketAddr, kind: Kind, target: SocketAddr, timeout: Duration) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, timeout) else { return false };
    let _ = s.set_read_timeout(Some(timeout));
    let _ = s.set_write_timeout(Some(timeout));
    let deadline = Instant::now() + timeout * 3;
    let ok = match kind {
        Kind::HttpConnect => {
            s.write_all(format!("CONNECT {target} HTTP/1.0\r\nHost: {target}\r\n\r\n").as_bytes()).is_ok()
                && http_ok(&mut s, deadline)
        }
        Kind::Socks5 => socks5(&mut s, target),
        Kind::Socks4 => match target.ip() {
            IpAddr::V4(v4) => {
                let mut req = vec![4, 1];
                req.extend_from_slice(&target.port().to_be_bytes());
                req.extend_from_slice(&v4.octets());
                req.push(0);
                let mut reply = [0u8; 8];
                s.write_all(&req).is_ok() && s.read_exact(&mut reply).is_ok() && reply[1] == 0x5a
            }
            IpAddr::V6(_) => false,
        },
    };
    ok && greeting(&mut s, deadline)
}

fn socks5(s: &mut TcpStream, target: SocketAddr) -> bool {
    let mut reply = [0u8; 2];
    if s.write_all(&[5, 1, 0]).is_err() || s.read_exact(&mut reply).is_err() || reply != [5, 0] {
        return false;
    }
    let mut req = vec![5, 1, 0];
    match target.ip() {
        IpAddr::V4(v4) => {
            req.push(1);
            req.extend_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            req.push(4);
            req.extend_from_slice(&v6.octets());
        }
    }
    req.extend_from_slice(&target.port().to_be_bytes());
    let mut head = [0u8; 4];
    if s.write_all(&req).is_err() || s.read_exact(&mut head).is_err() || head[0] != 5 || head[1] != 0 {
        return false;
    }
    // The bound address that follows: IPv4, a name, or IPv6, then the port.
    let rest = match head[3] {
        1 => 4 + 2,
        4 => 16 + 2,
        3 => {
            let mut n = [0u8; 1];
            if s.read_exact(&mut n).is_err() {
                return false;
            }
            n[0] as usize + 2
        }
        _ => return false,
    };
    let mut skip = vec![0u8; rest];
    s.read_exact(&mut skip).is_ok()
}

/// Reads an HTTP response head (at most 4 KiB) and says whether its status is 200.
fn http_ok(s: &mut TcpStream, deadline: Instant) -> bool {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && !head.ends_with(b"\n\n") {
        if head.len() > 4096 || Instant::now() > deadline || s.read_exact(&mut byte).is_err() {
            return false;
        }
        head.push(byte[0]);
    }
    let status = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let text = String::from_utf8_lossy(status);
    let mut parts = text.split_whitespace();
    parts.next().is_some_and(|v| v.starts_with("HTTP/")) && parts.next() == Some("200")
}

/// Whether an SMTP greeting (`220`) arrives through the tunnel.
fn greeting(s: &mut TcpStream, deadline: Instant) -> bool {
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while got.len() < 3 {
        if Instant::now() > deadline {
            return false;
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got.starts_with(b"220")
}
