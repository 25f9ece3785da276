//! A training run's hold on the store: what it read under the lock and WATCH, and the commit of what
//! changed in one MULTI/EXEC.

use super::*;

/// What a training run reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts {
    /// The token counts, totals, ledger and LR table.
    pub tokens: bool,
    /// The reputation records and the pending honeypot hits.
    pub reputation: bool,
    /// The shared learning queue (honeypot messages): what a commit learned is removed.
    pub queue: bool,
}

/// A training run's hold on the store: the lock, the WATCHed connection and what was read.
pub struct Tx {
    pub(super) bad: Damaged,
    pub(super) store: Arc<Redis>,
    pub(super) conn: Conn,
    pub(super) _lock: Lock,
    pub(super) orig_tokens: TokenMap<TokenRecord>,
    pub(super) orig_ledger: HashMap<Digest, Learned>,
    /// The ledger's Received flags as read (`{P}:ledger-received`: field, value).
    pub(super) orig_received: ReceivedFlags,
    pub(super) snap: Option<Snapshot>,
    pub(super) parts: Parts,
    /// The reputation as read (hits folded in), to edit; `orig_rep` to compare with.
    pub(super) rep: Option<Reputation>,
    pub(super) orig_rep: std::collections::BTreeMap<Key, Record>,
    /// The hits folded into `rep`, subtracted by the commit.
    pub(super) folded: Vec<(Key, u64)>,
    /// The shared queue as read (taken by the run); the fields the commit removes; the drops
    /// it reports taken.
    pub(super) queued: Option<Vec<crate::store::queue::Queued>>,
    pub(super) learned: Vec<Vec<u8>>,
    pub(super) dropped: (u64, u64),
    /// `{P}:gen` as read under the WATCH.
    pub(super) gen: u64,
}

/// The field of a message of the shared queue.
pub(super) fn field_of(q: &crate::store::queue::Queued) -> Option<Vec<u8>> {
    match &q.origin {
        crate::store::queue::Origin::Shared { field, .. } => Some(field.clone()),
        crate::store::queue::Origin::File { .. } => None,
    }
}

impl Tx {
    /// The store as read, to edit.
    pub fn take(&mut self) -> Snapshot {
        self.snap.take().unwrap_or_default()
    }

    /// The reputation as read (the pending honeypot hits folded in), to edit; empty unless
    /// `begin` was asked for it.
    pub fn take_reputation(&mut self) -> Reputation {
        self.rep.take().unwrap_or_default()
    }

    /// The messages of the shared learning queue, to learn: the commit removes them (all of
    /// them: a message that cannot be learned would not be learnable later either).
    pub fn take_queue(&mut self) -> Vec<crate::store::queue::Queued> {
        self.queued.take().unwrap_or_default()
    }

    /// Writes what changed between the store as read and `snap` (and `rep`, the reputation),
    /// all in one MULTI/EXEC. With `replace`, everything not in `snap` (or `rep`, when given) is
    /// removed (a load or a migration). Only the parts `begin` read are written.
    pub fn commit(mut self, snap: &Snapshot, rep: Option<&Reputation>, replace: bool) -> Result<()> {
        let s = &self.store;
        let (max_spam, max_ham) =
            (snap.totals.spam.min(u32::MAX as u64) as u32, snap.totals.ham.min(u32::MAX as u64) as u32);
        let keys: Vec<Vec<u8>> = ["gen", "tokens", "ledger", "totals", "lr"].iter().map(|k| s.key(k)).collect();
        let c = &mut self.conn;
        c.cmd(&[b"MULTI"]);
        if let Some(rep) = rep {
            if replace {
                c.cmd(&[b"DEL", &s.key("rep"), &s.key("hits")]);
                self.orig_rep.clear();
                self.folded.clear();
                self.bad.rep.clear();
            }
            if replace || self.parts.reputation {
                rep::queue_commit(c, s, &self.orig_rep, rep, &self.folded, &self.bad.rep);
            }
        }
        if self.parts.queue {
            rep::learned_commit(c, s, &self.learned, self.dropped);
        }
        if !self.parts.tokens && !replace {
            c.cmd(&[b"INCR", &keys[0]]);
            c.cmd(&[b"EXEC"]);
            let r = c.run();
            return self.finish(r);
        }
        let received_key = s.key(LEDGER_RECEIVED);
        if replace {
            c.cmd(&[b"DEL", &keys[1], &keys[2], &received_key]);
            self.orig_tokens.clear();
            self.orig_ledger.clear();
            self.orig_received.clear();
        }
        let mut set: Vec<([u8; 8], [u8; 12])> = Vec::new();
        // No day after this writer's (`tokenfile::clamp_day`): a record a writer whose clock was
        // ahead left in the store is rewritten with today's.
        let day = crate::store::today();
        for (&h, r) in &snap.tokens {
            let last_day = tokenfile::clamp_day(r.last_day, day);
            let r = TokenRecord { spam: r.spam.min(max_spam), ham: r.ham.min(max_ham), last_day };
            if (r.spam > 0 || r.ham > 0) && self.orig_tokens.get(&h) != Some(&r) {
                set.push((h.to_le_bytes(), tok_value(&r)));
            }
        }
        let del: Vec<[u8; 8]> = self
            .orig_tokens
            .keys()
            .filter(|h| snap.tokens.get(h).is_none_or(|r| r.spam.min(max_spam) == 0 && r.ham.min(max_ham) == 0))
            .map(|h| h.to_le_bytes())
            .collect();
        for (key, bad) in [(&keys[1], &self.bad.tokens), (&keys[2], &self.bad.ledger)] {
            for chunk in bad.chunks(CHUNK) {
                let rest: Vec<&[u8]> = chunk.iter().map(|k| &k[..]).collect();
                c.cmd_with(&[b"HDEL", key], &rest);
            }
        }
        for chunk in set.chunks(CHUNK) {
            let rest: Vec<&[u8]> = chunk.iter().flat_map(|(k, v)| [&k[..], &v[..]]).collect();
            c.cmd_with(&[b"HSET", &keys[1]], &rest);
        }
        for chunk in del.chunks(CHUNK) {
            let rest: Vec<&[u8]> = chunk.iter().map(|k| &k[..]).collect();
            c.cmd_with(&[b"HDEL", &keys[1]], &rest);
        }
        let lset: Vec<(&Digest, &'static [u8])> = snap
            .ledger
            .iter()
            .filter(|(d, l)| self.orig_ledger.get(*d).map(|o| o.class) != Some(l.class))
            .map(|(d, l)| (d, class_byte(l.class)))
            .collect();
        let ldel: Vec<&Digest> = self.orig_ledger.keys().filter(|d| !snap.ledger.contains_key(*d)).collect();
        for chunk in lset.chunks(CHUNK) {
            let rest: Vec<&[u8]> = chunk.iter().flat_map(|(d, v)| [&d[..], *v]).collect();
            c.cmd_with(&[b"HSET", &keys[2]], &rest);
        }
        for chunk in ldel.chunks(CHUNK) {
            let rest: Vec<&[u8]> = chunk.iter().map(|d| &d[..]).collect();
            c.cmd_with(&[b"HDEL", &keys[2]], &rest);
        }
        // The Received flags: each entry's that is known, and no other field.
        let flags: HashMap<&[u8], [u8; 2]> =
            snap.ledger.iter().filter_map(|(d, l)| Some((&d[..], received_value(*l)?))).collect();
        let fset: Vec<(&[u8], &[u8; 2])> = flags
            .iter()
            .filter(|(d, v)| self.orig_received.get(**d).map(Vec::as_slice) != Some(&v[..]))
            .map(|(d, v)| (*d, v))
            .collect();
        let fdel: Vec<&[u8]> =
            self.orig_received.keys().map(Vec::as_slice).filter(|d| !flags.contains_key(d)).collect();
        for chunk in fset.chunks(CHUNK) {
            let rest: Vec<&[u8]> = chunk.iter().flat_map(|(d, v)| [*d, &v[..]]).collect();
            c.cmd_with(&[b"HSET", &received_key], &rest);
        }
        for chunk in fdel.chunks(CHUNK) {
            c.cmd_with(&[b"HDEL", &received_key], chunk);
        }
        let now = crate::store::now_secs();
        c.cmd(&[
            b"HSET",
            &keys[3],
            b"ham",
            snap.totals.ham.to_string().as_bytes(),
            b"spam",
            snap.totals.spam.to_string().as_bytes(),
            b"updated",
            now.to_string().as_bytes(),
        ]);
        if snap.lr_dirty || replace {
            match &snap.lr {
                Some(m) => c.cmd(&[b"SET", &keys[4], &lrfile::encode(m, now)]),
                None => c.cmd(&[b"DEL", &keys[4]]),
            }
        }
        c.cmd(&[b"INCR", &keys[0]]);
        c.cmd(&[b"EXEC"]);
        let r = c.run();
        self.finish(r)
    }

    /// The outcome of the commit's MULTI/EXEC, `replies`. When the connection failed after
    /// the whole transaction (EXEC included) was sent, Redis may have applied it: the
    /// generation, read again on a new connection, tells (one more than under the WATCH:
    /// applied; the same: not).
    fn finish(&self, replies: io::Result<Vec<Reply>>) -> Result<()> {
        let what = self.store.what();
        let e = match replies {
            Err(e) if self.conn.sent => e,
            r => return finish(&what, r, &self.conn.last_names),
        };
        let key = self.store.key("gen");
        let now = self.store.connect(TRAIN_TIMEOUT).and_then(|mut c| {
            c.cmd(&[b"GET", &key]);
            number(c.run()?.pop().ok_or_else(|| resp::garbage("no reply to GET"))?.bulk()?)
        });
        match now {
            Ok(g) if g == self.gen + 1 => Ok(()),
            Ok(g) if g == self.gen => {
                Err(anyhow::Error::new(e).context(format!("cannot write to {what} (nothing was changed)")))
            }
            _ => Err(anyhow::Error::new(crate::store::OutcomeUnknown(format!(
                "the connection to {what} was lost after the write was sent ({e}): it may or may not have \
                 been applied ({} could not tell; `spamfilt db stats` shows the messages learned)",
                String::from_utf8_lossy(&key)
            )))),
        }
    }
}

/// The outcome of a commit's MULTI/EXEC, whose commands (MULTI, those of the transaction, EXEC)
/// are `names` (`Conn::last_names`).
fn finish(what: &str, replies: io::Result<Vec<Reply>>, names: &[Vec<u8>]) -> Result<()> {
    {
        let replies = replies.with_context(|| format!("cannot write to {what} (nothing was changed)"))?;
        match replies.last() {
            Some(Reply::Array(Some(r))) => {
                // A command that failed as it ran (a key of the wrong type, a count that cannot
                // be incremented): Redis applied the others of the transaction, and does not
                // undo them. Said as such, naming the command and its key, never as "unchanged".
                let failed: Vec<String> = r
                    .iter()
                    .enumerate()
                    .filter_map(|(i, r)| match r {
                        Reply::Error(e) => {
                            // Our own command and key (the prefix holds no control character).
                            let name = names.get(i + 1).map_or("?".into(), |n| String::from_utf8_lossy(n));
                            Some(format!("{name}: {e}"))
                        }
                        _ => None,
                    })
                    .collect();
                if let Some(first) = failed.first() {
                    let more = match failed.len() {
                        1 => String::new(),
                        n => format!(" (and {} more commands)", n - 1),
                    };
                    return Err(anyhow::Error::new(crate::store::PartlyApplied(format!(
                        "{what} refused a command of the write as it ran, {first}{more}, and applied the other {} \
                         (Redis does not undo a transaction): the key named holds what spamfilt does not write; \
                         remove or repair it",
                        r.len() - failed.len()
                    ))));
                }
                Ok(())
            }
            Some(Reply::Array(None)) => bail!(
                "another trainer changed {what} while this run held an expired lock; nothing was changed (run it again)"
            ),
            Some(Reply::Error(e)) => bail!("{what} refused the write: {e} (nothing was changed)"),
            _ => bail!("{what} answered the write with something that is not Redis's (nothing was changed)"),
        }
    }
}
