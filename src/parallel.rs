//! Work on all cores with results in the original order (checking, training, path expansion).

use std::sync::atomic::{AtomicUsize, Ordering};

/// Items per batch: the results of at most two batches are held at once.
const BATCH: usize = 256;

/// Runs `work` on every item on all cores, a batch at a time, and hands the results to `each`
/// in the original order. Memory stays bounded by two batches: while the workers compute one
/// batch, this thread hands the previous batch's results to `each`, so that a costly `each`
/// (training's learning) overlaps the work instead of following it.
pub fn map_ordered<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync, mut each: impl FnMut(&T, R)) {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, 8);
    if threads == 1 || items.len() < 4 {
        for item in items {
            let r = work(item);
            each(item, r);
        }
        return;
    }
    let mut previous: Option<(&[T], Vec<R>)> = None;
    for batch in items.chunks(BATCH) {
        let next = AtomicUsize::new(0);
        let results = std::thread::scope(|scope| {
            let handles = spawn_batch(scope, batch, &work, &next, threads);
            if let Some((items, results)) = previous.take() {
                items.iter().zip(results).for_each(|(item, r)| each(item, r));
            }
            let mut done: Vec<(usize, R)> =
                handles.into_iter().flat_map(|h| h.join().expect("worker thread panicked")).collect();
            done.sort_unstable_by_key(|(i, _)| *i);
            done.into_iter().map(|(_, r)| r).collect::<Vec<R>>()
        });
        previous = Some((batch, results));
    }
    if let Some((items, results)) = previous {
        items.iter().zip(results).for_each(|(item, r)| each(item, r));
    }
}

/// Starts `threads` workers on `batch`: each takes the next unclaimed item, so uneven items do
/// not leave a core idle, and returns what it computed with the items' places in the batch.
fn spawn_batch<'scope, T: Sync, R: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    batch: &'scope [T],
    work: &'scope (impl Fn(&T) -> R + Sync),
    next: &'scope AtomicUsize,
    threads: usize,
) -> Vec<std::thread::ScopedJoinHandle<'scope, Vec<(usize, R)>>> {
    (0..threads.min(batch.len()))
        .map(|_| {
            scope.spawn(move || {
                let mut done = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = batch.get(i) else { break };
                    done.push((i, work(item)));
                }
                done
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn map_ordered_keeps_the_input_order_across_threads_and_batches() {
        let items: Vec<u64> = (0..1000).collect();
        let mut seen = Vec::new();
        super::map_ordered(
            &items,
            |&i| {
                // Uneven work, so threads finish out of order.
                let spin = (i * 7919) % 2000;
                (0..spin).fold(i, |a, b| a.wrapping_add(b)) - (0..spin).sum::<u64>()
            },
            |&i, r| {
                assert_eq!(r, i);
                seen.push(i);
            },
        );
        assert_eq!(seen, items);
    }

    /// Every length, batch tails of one item included, gives every result once, in order.
    #[test]
    fn map_ordered_hands_over_every_result_once_at_any_length() {
        for n in [0usize, 1, 3, 4, super::BATCH - 1, super::BATCH, super::BATCH + 1, 2 * super::BATCH + 3] {
            let items: Vec<usize> = (0..n).collect();
            let mut seen = Vec::new();
            super::map_ordered(
                &items,
                |&i| i * 2,
                |&i, r| {
                    assert_eq!(r, i * 2);
                    seen.push(i);
                },
            );
            assert_eq!(seen, items, "{n} items");
        }
    }
}
