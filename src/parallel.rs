//! Work on all cores with results in the original order (checking, training, path expansion).

/// Runs `work` on every item on all cores, a batch at a time, and hands the results to `each`
/// in the original order. Memory stays bounded by the batch.
pub fn map_ordered<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync, mut each: impl FnMut(&T, R)) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    const BATCH: usize = 1024;
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, 8);
    for batch in items.chunks(BATCH) {
        if threads == 1 || batch.len() < 4 {
            for item in batch {
                let r = work(item);
                each(item, r);
            }
            continue;
        }
        // Each worker takes the next unclaimed item, so uneven messages do not leave a core idle.
        let next = AtomicUsize::new(0);
        let mut results: Vec<(usize, R)> = std::thread::scope(|scope| {
            let (work, next) = (&work, &next);
            let handles: Vec<_> = (0..threads)
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
                .collect();
            handles.into_iter().flat_map(|h| h.join().expect("worker thread panicked")).collect()
        });
        results.sort_unstable_by_key(|(i, _)| *i);
        for (i, r) in results {
            each(&batch[i], r);
        }
    }
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
}
