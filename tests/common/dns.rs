//! A DNS server for the tests that run the binary against blocklists and reverse lookups
//! (tests/sender.rs, tests/policy.rs): UDP on a loopback port, answers from a table.

use std::collections::HashMap;
use std::net::UdpSocket;
use std::sync::{Arc, Mutex};

/// What the test DNS server answers for a name.
#[derive(Clone)]
pub enum Reply {
    A([u8; 4], u32),
    Ptr(&'static str),
    NxDomain,
    ServFail,
    Silent,
}

/// A DNS server on a loopback port answering from a table; counts the questions per name.
pub struct DnsServer {
    pub addr: String,
    asked: Arc<Mutex<HashMap<String, u32>>>,
}

impl DnsServer {
    /// Starts one answering from `table` (name, in lower case, and what to answer); names not in
    /// it get NXDOMAIN.
    pub fn start(table: &[(&str, Reply)]) -> DnsServer {
        let table: HashMap<String, Reply> = table.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = sock.local_addr().unwrap().to_string();
        let asked = Arc::new(Mutex::new(HashMap::new()));
        let counts = asked.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            loop {
                let Ok((n, from)) = sock.recv_from(&mut buf) else { return };
                let q = &buf[..n];
                let (name, end) = read_name(q, 12);
                *counts.lock().unwrap().entry(name.clone()).or_insert(0) += 1;
                let question = &q[12..end + 4];
                let reply = table.get(&name).cloned().unwrap_or(Reply::NxDomain);
                let (rcode, answer): (u8, Vec<u8>) = match reply {
                    Reply::Silent => continue,
                    Reply::ServFail => (2, vec![]),
                    Reply::NxDomain => (3, vec![]),
                    Reply::A(ip, ttl) => (0, rr(1, ttl, &ip)),
                    Reply::Ptr(target) => {
                        let mut data = Vec::new();
                        for l in target.split('.') {
                            data.push(l.len() as u8);
                            data.extend_from_slice(l.as_bytes());
                        }
                        data.push(0);
                        (0, rr(12, 3600, &data))
                    }
                };
                let mut p = Vec::new();
                p.extend_from_slice(&q[..2]);
                p.extend_from_slice(&[0x81, 0x80 | rcode, 0, 1, 0, u8::from(!answer.is_empty()), 0, 0, 0, 0]);
                p.extend_from_slice(question);
                p.extend_from_slice(&answer);
                let _ = sock.send_to(&p, from);
            }
        });
        DnsServer { addr, asked }
    }

    pub fn asked(&self, name: &str) -> u32 {
        self.asked.lock().unwrap().get(name).copied().unwrap_or(0)
    }
}

pub fn rr(rtype: u16, ttl: u32, data: &[u8]) -> Vec<u8> {
    let mut r = vec![0xc0, 12];
    r.extend_from_slice(&rtype.to_be_bytes());
    r.extend_from_slice(&[0, 1]);
    r.extend_from_slice(&ttl.to_be_bytes());
    r.extend_from_slice(&(data.len() as u16).to_be_bytes());
    r.extend_from_slice(data);
    r
}

pub fn read_name(q: &[u8], mut pos: usize) -> (String, usize) {
    let mut labels = Vec::new();
    while q[pos] != 0 {
        let len = q[pos] as usize;
        labels.push(String::from_utf8_lossy(&q[pos + 1..pos + 1 + len]).to_ascii_lowercase());
        pos += 1 + len;
    }
    (labels.join("."), pos + 1)
}
