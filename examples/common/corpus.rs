//! Training in process for the experiment examples (lr_experiment, fusion_dump): an LR model in
//! the shuffled order and passes `train` uses, and Bayes counts as `train` keeps them.
use spamfilt::lr::{self, Model, Shape};
use spamfilt::store::MemoryStore;

/// What one training message gives.
pub struct Learned<'a> {
    pub feats: &'a [u32],
    pub hashes: &'a [u64],
    pub spam: bool,
    pub digest: &'a [u8; 16],
}

/// The LR model and the Bayes counts of these messages.
pub fn train(msgs: &[Learned], shape: Shape, rate: f32, passes: usize, seed: u64) -> (Model, MemoryStore) {
    let mut order: Vec<&Learned> = msgs.iter().collect();
    order.sort_by_key(|m| lr::shuffle_key(m.digest, seed));
    let mut model = Model::new(shape);
    model.rate = rate;
    for pass in 0..passes {
        for m in &order {
            if pass == 0 {
                model.learn(m.feats, m.spam)
            } else {
                model.relearn(m.feats, m.spam)
            }
        }
    }
    let mut store = MemoryStore::default();
    for m in msgs {
        for &h in m.hashes {
            let c = store.tokens.entry(h).or_default();
            if m.spam {
                c.spam += 1
            } else {
                c.ham += 1
            }
        }
        if m.spam {
            store.totals.spam += 1
        } else {
            store.totals.ham += 1
        }
    }
    (model, store)
}
