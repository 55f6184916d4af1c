//! One job per target, a few threads, results in the order they finish.
//!
//! Talking to many sockets is waiting: connecting, then for replies. [`run`] gives each item
//! to one of at most `jobs` threads and hands every result to the calling thread as soon as it
//! is ready, so that a slow or dead target holds up only its own thread (for at most its own
//! timeout) while the others go on. The calling thread does all the printing, so output from
//! different targets never mixes. No async runtime: the work is blocking I/O with deadlines.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use crate::interrupt;

/// What [`run`] reports to the calling thread.
#[derive(Debug)]
pub enum Event<R> {
    /// Item `index` is done.
    Done(usize, R),
    /// `tick` passed without a result (to redraw a progress display).
    Tick,
}

/// Runs `work(index, item)` for every item on at most `jobs` threads (at least one) and calls
/// `event` on this thread for each result, in the order they finish, and after every `tick`
/// without one. Once a stop is requested ([`interrupt`]), items not started yet are skipped;
/// the items that ran are the ones `event` saw.
pub fn run<T, R>(
    items: &[T],
    jobs: usize,
    tick: Duration,
    work: impl Fn(usize, &T) -> R + Sync,
    mut event: impl FnMut(Event<R>),
) where
    T: Sync,
    R: Send,
{
    let next = AtomicUsize::new(0);
    let threads = jobs.clamp(1, items.len().max(1));
    std::thread::scope(|scope| {
        let (sender, results) = mpsc::channel();
        for _ in 0..threads {
            let sender = sender.clone();
            let (next, work) = (&next, &work);
            scope.spawn(move || {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    if index >= items.len() || interrupt::requested() {
                        break;
                    }
                    let result = work(index, &items[index]);
                    if sender.send((index, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        loop {
            match results.recv_timeout(tick) {
                Ok((index, result)) => event(Event::Done(index, result)),
                Err(mpsc::RecvTimeoutError::Timeout) => event(Event::Tick),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Instant;

    #[test]
    fn every_item_once_and_the_slow_one_last() {
        let items: Vec<u64> = vec![300, 0, 0, 0, 0, 0, 0, 0];
        let mut order = Vec::new();
        let started = Instant::now();
        run(
            &items,
            4,
            Duration::from_millis(10),
            |i, &ms| {
                std::thread::sleep(Duration::from_millis(ms));
                i * 10
            },
            |event| {
                if let Event::Done(i, r) = event {
                    assert_eq!(r, i * 10);
                    order.push((i, started.elapsed()));
                }
            },
        );
        let mut seen: Vec<usize> = order.iter().map(|(i, _)| *i).collect();
        assert_eq!(*seen.last().unwrap(), 0, "{order:?}");
        // The fast ones did not wait for the slow one.
        assert!(order[0].1 < Duration::from_millis(300), "{order:?}");
        seen.sort_unstable();
        assert_eq!(seen, (0..items.len()).collect::<Vec<_>>());
    }

    #[test]
    fn never_more_threads_than_jobs() {
        let running = AtomicUsize::new(0);
        let most = Mutex::new(0);
        let items = vec![(); 20];
        run(
            &items,
            3,
            Duration::from_millis(50),
            |_, _| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                let mut most = most.lock().unwrap();
                *most = (*most).max(now);
                drop(most);
                std::thread::sleep(Duration::from_millis(5));
                running.fetch_sub(1, Ordering::SeqCst);
            },
            |_| {},
        );
        assert!(*most.lock().unwrap() <= 3);
        let none: [(); 0] = [];
        run(&none, 0, Duration::from_millis(5), |_, _| (), |_| {});
    }
}
