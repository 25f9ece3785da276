//! DNS answers a filter run obtained, and how they are merged into the cache.

use std::net::IpAddr;

use super::{domain_key, Cached, DomainRecord, Record, Reputation};

/// DNS answers a filter run obtained, to be cached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsAnswers {
    pub ptr: Vec<(IpAddr, Cached<Option<String>>)>,
    pub dnsbl: Vec<(IpAddr, String, Cached<bool>)>,
    pub uribl: Vec<(String, String, Cached<bool>)>,
}

impl DnsAnswers {
    pub fn is_empty(&self) -> bool {
        self.ptr.is_empty() && self.dnsbl.is_empty() && self.uribl.is_empty()
    }
}

impl Reputation {
    /// Merges DNS answers learned by a filter run into the cache.
    pub fn merge_dns(&mut self, answers: &DnsAnswers, now: u64) {
        for (ip, ptr) in &answers.ptr {
            let r = self.dns_mut(*ip, now);
            r.ptr = Some(ptr.clone());
        }
        for (ip, zone, c) in &answers.dnsbl {
            let r = self.dns_mut(*ip, now);
            r.dnsbl.retain(|(z, _)| z != zone);
            r.dnsbl.push((zone.clone(), c.clone()));
        }
        for (domain, zone, c) in &answers.uribl {
            let rec = self
                .entry(domain_key(domain))
                .or_insert_with(|| Record::Domain(DomainRecord { domain: domain.clone(), uribl: Vec::new() }));
            if let Record::Domain(d) = rec {
                d.uribl.retain(|(z, _)| z != zone);
                d.uribl.push((zone.clone(), c.clone()));
            }
        }
    }
}
