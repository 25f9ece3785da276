//! The whole token database in memory, editable inside `Database::update`: counts, the ledger
//! and the LR weights with the changes of this run.

use super::*;

/// The whole database, editable, inside [`Database::update`].
///
/// A writer of the file store does not load the file: the snapshot then has a `base` (the
/// file, read where a lookup asks, see `merge`), and `tokens` and `ledger` hold only what the
/// run changed (a record taken to no count stays as an all-zero record, so that it is dropped
/// from the base; a ledger entry removed from the base is in `ledger_gone`). Without a base
/// (Redis, a dump, `Snapshot::default`) they hold everything. Read and change them through the
/// methods ([`Snapshot::token`], [`Snapshot::set_token`], [`Snapshot::learned`],
/// [`Snapshot::set_ledger`]), which mean the same either way.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub(crate) totals: Totals,
    pub(crate) tokens: TokenMap<TokenRecord>,
    pub(crate) ledger: HashMap<Digest, Learned>,
    /// The file the run's changes are merged into (see above).
    pub(super) base: Option<merge::Base>,
    /// Ledger entries of the base removed by the run.
    pub(super) ledger_gone: std::collections::HashSet<Digest>,
    /// The LR weights (`None`: nothing learned yet).
    pub(crate) lr: Option<crate::lr::Model>,
    /// LR changes of this run, applied in shuffled order when it commits.
    pub(super) lr_pending: Vec<LrChange>,
    /// The weights changed (or were removed) and must be written.
    pub(crate) lr_dirty: bool,
}

/// One message's change to the LR weights, kept until the run commits.
#[derive(Debug)]
pub(super) struct LrChange {
    key: u64,
    undo: Option<Class>,
    learn: Option<Class>,
    features: Vec<u16>,
}

impl Snapshot {
    pub fn totals(&self) -> Totals {
        self.totals
    }

    /// A token's record (`None`: it has none).
    pub fn token(&self, hash: u64) -> Option<TokenRecord> {
        match self.tokens.get(&hash) {
            Some(r) if r.spam == 0 && r.ham == 0 => None,
            Some(r) => Some(*r),
            None => self.base.as_ref().and_then(|b| b.record(hash)),
        }
    }

    /// Sets a token's record (`None`, or no count: removes it).
    pub fn set_token(&mut self, hash: u64, record: Option<TokenRecord>) {
        match record.filter(|r| r.spam > 0 || r.ham > 0) {
            Some(r) => {
                self.tokens.insert(hash, r);
            }
            // Kept as a record with no count, which the write drops from the base.
            None if self.base.is_some() => {
                self.tokens.insert(hash, TokenRecord::default());
            }
            None => {
                self.tokens.remove(&hash);
            }
        }
    }

    /// Counts one message of `class` with these (de-duplicated) token hashes.
    pub fn learn(&mut self, hashes: &[u64], class: Class, today: u32) {
        for &h in hashes {
            let base = &self.base;
            // A record with no count (removed in this run) starts again from nothing, as a
            // removed one did.
            let r = self.tokens.entry(h).or_insert_with(|| base.as_ref().and_then(|b| b.record(h)).unwrap_or_default());
            match class {
                Class::Spam => r.spam = r.spam.saturating_add(1),
                Class::Ham => r.ham = r.ham.saturating_add(1),
            }
            r.last_day = r.last_day.max(today);
        }
        // Saturating, as the records' counts are: totals another host of a shared Redis store
        // wrote as 2^64 - 1 made a training run panic (a debug build) or wrap them to 0 (a
        // release build), and then every record counted more than its total: every delivery
        // was scored without the store.
        match class {
            Class::Spam => self.totals.spam = self.totals.spam.saturating_add(1),
            Class::Ham => self.totals.ham = self.totals.ham.saturating_add(1),
        }
    }

    /// Undoes [`Snapshot::learn`] (counts never go below zero; empty tokens are dropped).
    pub fn unlearn(&mut self, hashes: &[u64], class: Class) {
        self.unlearn_tokens(hashes, class);
        match class {
            Class::Spam => self.totals.spam = self.totals.spam.saturating_sub(1),
            Class::Ham => self.totals.ham = self.totals.ham.saturating_sub(1),
        }
    }

    /// Takes one message of `class` back from these tokens' counts, not from the totals.
    pub fn unlearn_tokens(&mut self, hashes: &[u64], class: Class) {
        for &h in hashes {
            if let Some(mut r) = self.token(h) {
                match class {
                    Class::Spam => r.spam = r.spam.saturating_sub(1),
                    Class::Ham => r.ham = r.ham.saturating_sub(1),
                }
                self.set_token(h, Some(r));
            }
        }
    }

    /// Records a change of one message's class for LR: `undo` the class it was learned as
    /// (a move or `forget`), `learn` the class it is learned as now. Applied by
    /// [`Snapshot::apply_lr`] in an order that depends only on the messages (their digests), not
    /// on the order they were named in.
    pub fn queue_lr(&mut self, digest: &Digest, features: &[u32], undo: Option<Class>, learn: Option<Class>) {
        self.lr_pending.push(LrChange {
            key: crate::lr::shuffle_key(digest, crate::lr::SHUFFLE_SEED),
            undo,
            learn,
            features: crate::lr::pack(features),
        });
    }

    /// Drops this run's LR changes of one message (it was learned and put back as it was in the
    /// same run: the weights learn nothing of it).
    pub fn drop_queued_lr(&mut self, digest: &Digest) {
        let key = crate::lr::shuffle_key(digest, crate::lr::SHUFFLE_SEED);
        self.lr_pending.retain(|c| c.key != key);
    }

    /// Applies the run's LR changes (see [`train`]).
    pub fn apply_lr(&mut self) {
        if self.lr_pending.is_empty() {
            return;
        }
        train(&mut self.lr, std::mem::take(&mut self.lr_pending));
        self.lr_dirty = true;
    }

    /// [`Snapshot::apply_lr`] on another thread while `f` runs on this one: training writes
    /// the token file while LR's passes run. `f` sees the snapshot without the weights and the
    /// run's LR changes (they are on the other thread): it must not read them.
    pub(super) fn apply_lr_alongside<R>(&mut self, f: impl FnOnce(&Snapshot) -> R) -> R {
        if self.lr_pending.is_empty() {
            return f(self);
        }
        let pending = std::mem::take(&mut self.lr_pending);
        let mut model = self.lr.take();
        let r = std::thread::scope(|scope| {
            let passes = scope.spawn(|| train(&mut model, pending));
            let r = f(self);
            passes.join().expect("the LR training thread panicked");
            r
        });
        self.lr = model;
        self.lr_dirty = true;
        r
    }

    /// The LR weights (`None`: nothing learned).
    pub fn lr(&self) -> Option<&crate::lr::Model> {
        self.lr.as_ref()
    }

    /// The class a message was learned as (see [`Snapshot::learned`]).
    pub fn ledger(&self, digest: &Digest) -> Option<Class> {
        self.learned(digest).map(|l| l.class)
    }

    /// How a message was learned: its ledger entry.
    pub fn learned(&self, digest: &Digest) -> Option<Learned> {
        match self.ledger.get(digest) {
            Some(l) => Some(*l),
            None if self.ledger_gone.contains(digest) => None,
            None => self.base.as_ref().and_then(|b| b.learned(digest)),
        }
    }

    /// Sets or removes a ledger entry.
    pub fn set_ledger(&mut self, digest: Digest, entry: Option<Learned>) {
        match entry {
            Some(l) => {
                self.ledger_gone.remove(&digest);
                self.ledger.insert(digest, l);
            }
            None => {
                self.ledger.remove(&digest);
                if self.base.as_ref().is_some_and(|b| b.learned(&digest).is_some()) {
                    self.ledger_gone.insert(digest);
                }
            }
        }
    }
}

/// Learns `pending` into `model` (made when there is none): each undo and learn in shuffled
/// order, then the newly learned messages again for the further passes (`lr::PASSES`), all by
/// the run's `lr::Rule` (train on or near error; the narrower margin and bounded step of a run
/// that learns one class only).
fn train(model: &mut Option<crate::lr::Model>, mut pending: Vec<LrChange>) {
    pending.sort_by_key(|c| c.key);
    let model = model.get_or_insert_with(|| crate::lr::Model::new(crate::lr::Shape::default()));
    let learns = |class| pending.iter().any(|c| c.learn == Some(class));
    let rule = crate::lr::Rule::for_run(learns(Class::Ham), learns(Class::Spam));
    let mut f = Vec::new();
    for pass in 0..crate::lr::PASSES {
        // A later pass that learns nothing leaves the weights as they were, so the passes
        // after it would learn nothing either.
        let mut learned = pass == 0;
        for c in &pending {
            if pass > 0 && c.learn.is_none() {
                continue;
            }
            crate::lr::unpack_into(&c.features, &mut f);
            if pass == 0 {
                if let Some(u) = c.undo {
                    model.unlearn(&f, u == Class::Spam, rule);
                }
                if let Some(l) = c.learn {
                    model.learn(&f, l == Class::Spam, rule);
                }
            } else if let Some(l) = c.learn {
                learned |= model.relearn_near_error(&f, l == Class::Spam, rule);
            }
        }
        if !learned {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_at_their_largest_stay_there() {
        let mut s = Snapshot { totals: Totals { ham: u64::MAX, spam: u64::MAX }, ..Snapshot::default() };
        s.learn(&[1, 2], Class::Spam, 20_000);
        s.learn(&[1], Class::Ham, 20_000);
        assert_eq!(s.totals(), Totals { ham: u64::MAX, spam: u64::MAX });
        assert_eq!(s.token(1), Some(TokenRecord { spam: 1, ham: 1, last_day: 20_000 }));
    }
}
