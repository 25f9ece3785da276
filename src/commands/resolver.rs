//! The filter's live DNS resolver: UDP to the configured server, with the memory of a server
//! that gave no answer (`store::resolver`): within the back-off it asks nothing and every query
//! fails as `dns::SKIPPED`, which the verdict says (`X-Spam-Degraded: DNS: resolver ADDR gave
//! no answer at …; not asked again until …`). "No answer" means none at all, to the message's
//! lookups and to a canary query any live resolver answers (`dns::canary`), so one blocklist
//! that times out is not taken for a dead resolver. The memory is read only when a message has
//! a query the cache could not answer, and written only when the server's state changes.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::dns::{self, Answer, Query, Resolver};
use crate::store::resolver::{self, Silence};

pub struct Remembering<'a> {
    pub server: SocketAddr,
    /// The database directory the memory is kept in.
    pub dir: &'a Path,
}

impl Resolver for Remembering<'_> {
    fn resolve(&self, queries: &[Query], timeout: Duration) -> Vec<Answer> {
        if queries.is_empty() {
            return Vec::new();
        }
        // The memory never costs the message: a problem with it is said and DNS asked as before.
        let prior = resolver::read(self.dir, self.server).unwrap_or_else(|e| {
            eprintln!("spamfilt: {e:#}; asking the resolver");
            None
        });
        let now = crate::store::now_secs();
        if let Some(s) = &prior {
            if now < s.until {
                return vec![Answer::Failed(format!("{}{}", dns::SKIPPED, s.describe())); queries.len()];
            }
            // The back-off is over: this delivery asks (one probe); the ones starting while it
            // waits find the record pushed on and ask nothing.
            report(resolver::write(self.dir, &s.probing(now)));
        }
        // The canary goes with the lookups: a blocklist whose servers are down times out one
        // zone, not the resolver, which still answers the canary.
        let mut asked = queries.to_vec();
        asked.push(dns::canary());
        let mut answers = dns::resolve(self.server, &asked, timeout);
        let silent = dns::silent(&answers);
        answers.pop();
        if silent {
            report(resolver::write(self.dir, &Silence::after(prior.as_ref(), self.server, crate::store::now_secs())));
        } else if prior.is_some() {
            report(resolver::clear(self.dir));
        }
        answers
    }
}

fn report(r: anyhow::Result<()>) {
    if let Err(e) = r {
        eprintln!("spamfilt: the message is delivered, but {e:#}");
    }
}
