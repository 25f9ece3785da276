//! The live DNS resolver of the filter and the policy service: UDP to the configured server,
//! with the memory of a server that gave no answer (`store::resolver`): within the back-off it
//! asks nothing and every query fails as `dns::SKIPPED`, which the verdict says (`X-Spam-Degraded:
//! DNS: resolver ADDR gave no answer at …; not asked again until …`) and the policy service logs
//! once per back-off. "No answer" means none at all, to the lookups and to a canary query any
//! live resolver answers (`dns::canary`), so one blocklist that times out is not taken for a dead
//! resolver. The memory is read only when there is a query the cache could not answer, and
//! written only when the server's state changes.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use crate::dns::{self, Answer, Query, Resolver};
use crate::store::resolver::{self, Silence};

/// What became of the resolver's memory, for whoever asked to say it (the filter on stderr,
/// the policy service in its log).
pub enum Event<'a> {
    /// Within the back-off: nothing was asked.
    Skipped(&'a Silence),
    /// Asked, and no answer at all: the back-off starts (or grows).
    Silent(&'a Silence),
    /// It answered again: the record is gone.
    Answered,
    /// The record could not be read: the resolver is asked as if there were none.
    ReadFailed(&'a anyhow::Error),
    /// The record could not be written or removed.
    WriteFailed(&'a anyhow::Error),
}

/// The filter's way of saying it: only the failures, on stderr (the message says the rest).
pub fn tell_stderr(e: Event<'_>) {
    match e {
        Event::ReadFailed(e) => eprintln!("spamfilt: {e:#}; asking the resolver"),
        Event::WriteFailed(e) => eprintln!("spamfilt: the message is delivered, but {e:#}"),
        _ => {}
    }
}

pub struct Remembering<'a> {
    pub server: SocketAddr,
    /// The database directory the memory is kept in.
    pub dir: &'a Path,
    pub tell: &'a (dyn Fn(Event<'_>) + Sync),
    /// A long-running process's copy of the record (the policy service, which answers many
    /// requests): while the back-off it holds lasts, the file is not read again. `None`: the
    /// file is read for every batch of queries (the filter, one message per process).
    pub memo: Option<&'a Mutex<Option<Silence>>>,
    /// Ask the canary only when every lookup went unanswered (one packet less per batch while
    /// the resolver answers; a silent resolver then costs its timeout twice, once per back-off):
    /// the policy service, whose batch is one lookup per blocklist. `false`: the canary goes
    /// with the lookups (the filter, whose message waits for its batch anyway).
    pub canary_after: bool,
}

impl Remembering<'_> {
    fn remember(&self, s: Option<&Silence>) {
        if let Some(m) = self.memo {
            *m.lock().unwrap_or_else(|p| p.into_inner()) = s.cloned();
        }
    }

    fn skipped(&self, s: &Silence, n: usize) -> Vec<Answer> {
        (self.tell)(Event::Skipped(s));
        vec![Answer::Failed(format!("{}{}", dns::SKIPPED, s.describe())); n]
    }
}

impl Resolver for Remembering<'_> {
    fn resolve(&self, queries: &[Query], timeout: Duration) -> Vec<Answer> {
        if queries.is_empty() {
            return Vec::new();
        }
        let now = crate::store::now_secs();
        if let Some(m) = self.memo {
            let held = m.lock().unwrap_or_else(|p| p.into_inner()).clone();
            if let Some(s) = held.filter(|s| s.resolver == self.server && now < s.until) {
                return self.skipped(&s, queries.len());
            }
        }
        // The memory never costs the answer: a problem with it is said and DNS asked as before.
        let prior = resolver::read(self.dir, self.server).unwrap_or_else(|e| {
            (self.tell)(Event::ReadFailed(&e));
            None
        });
        if let Some(s) = &prior {
            if now < s.until {
                self.remember(Some(s));
                return self.skipped(s, queries.len());
            }
            // The back-off is over: this one asks (one probe); the ones starting while it waits
            // find the record pushed on and ask nothing.
            let probing = s.probing(now);
            self.report(resolver::write(self.dir, &probing));
            self.remember(Some(&probing));
        }
        // The canary: a blocklist whose servers are down times out one zone, not the resolver,
        // which still answers the canary.
        let (answers, silent) = if self.canary_after {
            let answers = dns::resolve(self.server, queries, timeout);
            let silent = dns::silent(&answers) && dns::silent(&dns::resolve(self.server, &[dns::canary()], timeout));
            (answers, silent)
        } else {
            let mut asked = queries.to_vec();
            asked.push(dns::canary());
            let mut answers = dns::resolve(self.server, &asked, timeout);
            let silent = dns::silent(&answers);
            answers.pop();
            (answers, silent)
        };
        if silent {
            let s = Silence::after(prior.as_ref(), self.server, crate::store::now_secs());
            self.report(resolver::write(self.dir, &s));
            self.remember(Some(&s));
            (self.tell)(Event::Silent(&s));
        } else if prior.is_some() {
            self.report(resolver::clear(self.dir));
            self.remember(None);
            (self.tell)(Event::Answered);
        }
        answers
    }
}

impl Remembering<'_> {
    fn report(&self, r: anyhow::Result<()>) {
        if let Err(e) = r {
            (self.tell)(Event::WriteFailed(&e));
        }
    }
}
