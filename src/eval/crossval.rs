//! k-fold cross-validation in memory: every message is scored once, by a model trained on all
//! the folds it is not in. The user's database is never touched.
//!
//! Fold membership comes from the message's content digest and the seed, so the result is the
//! same for the same messages and seed whatever order the paths were given in. Folds run on
//! all cores (`parallel::map_ordered`).

use crate::learn::Prepared;
use crate::lr;
use crate::store::{Counts, MemoryStore, Totals};

/// One message to evaluate: its prepared tokens and its true class.
pub struct Item {
    pub prepared: Prepared,
    pub is_spam: bool,
}

/// Which fold (0..folds) a message belongs to.
pub fn fold_of(item: &Item, folds: usize, seed: u64) -> usize {
    let x = u64::from_le_bytes(item.prepared.digest[..8].try_into().expect("8 bytes")) ^ seed;
    (crate::hash::splitmix64(x) % folds as u64) as usize
}

fn add(store: &mut MemoryStore, item: &Item, sign: i64) {
    for &h in &item.prepared.hashes {
        let c = store.tokens.entry(h).or_default();
        let field = if item.is_spam { &mut c.spam } else { &mut c.ham };
        *field = (*field as i64 + sign).max(0) as u32;
        if *c == Counts::default() {
            store.tokens.remove(&h);
        }
    }
    let t = if item.is_spam { &mut store.totals.spam } else { &mut store.totals.ham };
    *t = (*t as i64 + sign).max(0) as u64;
}

/// The LR model of a fold: trained on the messages not in it, in the shuffled order and with
/// the passes that `train` uses (see `store::Snapshot::apply_lr`).
pub fn train_lr(items: &[Item], skip: &[usize]) -> lr::Model {
    let mut out = vec![false; items.len()];
    for &i in skip {
        out[i] = true;
    }
    let mut order: Vec<&Item> = items.iter().zip(&out).filter(|(_, &o)| !o).map(|(it, _)| it).collect();
    order.sort_by_key(|it| lr::shuffle_key(&it.prepared.digest, lr::SHUFFLE_SEED));
    let mut model = lr::Model::new(lr::Shape::default());
    for pass in 0..lr::PASSES {
        for it in &order {
            if pass == 0 {
                model.learn(&it.prepared.lr, it.is_spam, lr::Rule::BOTH);
            } else {
                model.relearn_near_error(&it.prepared.lr, it.is_spam, lr::Rule::BOTH);
            }
        }
    }
    model
}

/// Trains on everything, then for each fold subtracts that fold and scores its messages with
/// `score(index, model, lr)` (`lr`: the fold's LR model as a delivery reads it, when `with_lr`). Returns one result
/// per item, in item order. `tick` is called once per scored message (for a progress bar).
pub fn run<S, T, R>(items: &[Item], folds: usize, seed: u64, with_lr: bool, score: S, tick: T) -> Vec<R>
where
    S: Fn(usize, &MemoryStore, Option<&lr::Quantised>) -> R + Sync,
    T: Fn() + Sync,
    R: Clone + Default + Send,
{
    let folds = folds.max(2);
    let mut all = MemoryStore { totals: Totals::default(), tokens: Default::default() };
    for item in items {
        add(&mut all, item, 1);
    }
    let members: Vec<Vec<usize>> = {
        let mut m = vec![Vec::new(); folds];
        for (i, item) in items.iter().enumerate() {
            m[fold_of(item, folds, seed)].push(i);
        }
        m
    };
    let mut scores = vec![R::default(); items.len()];
    let fold_ids: Vec<usize> = (0..folds).collect();
    crate::parallel::map_ordered(
        &fold_ids,
        |&f| {
            let mut model = all.clone();
            for &i in &members[f] {
                add(&mut model, &items[i], -1);
            }
            // Scored as a delivery scores: with the weights quantised as `lr.weights` stores them.
            let lr_model = with_lr.then(|| lr::Quantised::of(&train_lr(items, &members[f])));
            members[f]
                .iter()
                .map(|&i| {
                    let s = score(i, &model, lr_model.as_ref());
                    tick();
                    (i, s)
                })
                .collect::<Vec<(usize, R)>>()
        },
        |_, local| {
            for (i, s) in local {
                scores[i] = s;
            }
        },
    );
    scores
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(n: u8, spam: bool, hashes: &[u64]) -> Item {
        let mut digest = [0u8; 16];
        digest[0] = n;
        digest[1] = spam as u8;
        Item {
            prepared: Prepared {
                digest,
                hashes: hashes.to_vec(),
                trace: hashes.len(),
                origin: None,
                sent_to: Vec::new(),
                own: Vec::new(),
                lr: Vec::new(),
                via_list: false,
                from: None,
            },
            is_spam: spam,
        }
    }

    #[test]
    fn each_message_is_scored_by_a_model_that_never_saw_it() {
        let items: Vec<Item> = (0..40).map(|i| item(i, i % 2 == 0, &[1000 + i as u64, 7])).collect();
        let scores = run(
            &items,
            5,
            42,
            false,
            |i, model, _| {
                // The message's own unique token must be unknown to its model.
                let own = model.tokens.get(&(1000 + i as u64)).copied().unwrap_or_default();
                assert_eq!(own, Counts::default());
                // Everything else is known.
                let shared = model.tokens[&7];
                (shared.spam + shared.ham) as f64
            },
            || {},
        );
        // Token 7 is in every message: the model for a fold holds all but that fold's count.
        assert!(scores.iter().all(|&s| s > 20.0 && s < 40.0), "{scores:?}");
    }

    #[test]
    fn each_fold_has_an_lr_model_that_never_saw_its_messages() {
        let items: Vec<Item> = (0..40)
            .map(|i| {
                let mut it = item(i, i % 2 == 0, &[]);
                it.prepared.lr = vec![7, 1000 + i as u32];
                it
            })
            .collect();
        let learned = run(
            &items,
            5,
            42,
            true,
            |i, _, lr| {
                let m = lr.expect("an LR model per fold");
                use crate::lr::Table;
                assert_eq!(m.logit(&[1000 + i as u32]), 0.0, "the message's own feature is unknown to its fold");
                assert_ne!(m.logit(&[7]), 0.0);
                m.learned().0 + m.learned().1
            },
            || {},
        );
        assert!(learned.iter().all(|&n| n > 20 && n < 40), "{learned:?}");
        // The same order whatever order the items come in.
        let mut rev: Vec<Item> = items.iter().rev().map(|it| item(it.prepared.digest[0], it.is_spam, &[])).collect();
        for (r, it) in rev.iter_mut().zip(items.iter().rev()) {
            r.prepared.lr = it.prepared.lr.clone();
        }
        assert_eq!(train_lr(&items, &[]), train_lr(&rev, &[]));
    }

    #[test]
    fn folds_are_deterministic_and_spread() {
        let items: Vec<Item> = (0..200).map(|i| item(i as u8, i >= 100, &[])).collect();
        let a: Vec<usize> = items.iter().map(|it| fold_of(it, 10, 1)).collect();
        let b: Vec<usize> = items.iter().map(|it| fold_of(it, 10, 1)).collect();
        assert_eq!(a, b);
        for f in 0..10 {
            assert!(a.iter().filter(|&&x| x == f).count() > 5);
        }
    }
}
