//! A connection's outbound queue: many senders (the hub, the connection's
//! reader), one writer task that takes everything queued at once.
//!
//! Fan-out queues every event to every member's connection, so this queue
//! is on the per-delivery path. tokio's bounded mpsc did a semaphore
//! acquire, a block-list push and a waker wake per item, and a pop and a
//! permit release per item on the other side: about a fifth of the
//! server's time at a million deliveries a second. Here a send is one
//! uncontended lock and a push (and a wake only if the writer sleeps),
//! and the writer swaps the whole queue out under one lock.
//!
//! Bounded, counting the batch the writer is still writing:
//! [`OutboxTx::try_send`] refuses when full (the hub then closes the
//! connection as a slow consumer); [`OutboxTx::send`] waits for room (the
//! reader's own answers push back on a client that does not read).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// Why a send failed; the item comes back.
#[derive(Debug, PartialEq, Eq)]
pub enum SendError<T> {
    /// The queue holds its capacity.
    Full(T),
    /// The writer is gone.
    Closed(T),
}

struct State<T> {
    items: VecDeque<T>,
    /// Items of the batch the writer took last and is still writing: they
    /// count towards the capacity, so a writer stuck on a peer that does
    /// not read holds no more than `capacity` items in all.
    taken: usize,
    /// The writer dropped its end.
    closed: bool,
    /// A sender is waiting for room.
    want_room: bool,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    capacity: usize,
    senders: AtomicUsize,
    /// Wakes the writer: items arrived, or the last sender left.
    ready: Notify,
    /// Wakes senders waiting for room.
    room: Notify,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A bounded outbox of `capacity` items.
pub fn outbox<T>(capacity: usize) -> (OutboxTx<T>, OutboxRx<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::new(),
            taken: 0,
            closed: false,
            want_room: false,
        }),
        capacity,
        senders: AtomicUsize::new(1),
        ready: Notify::new(),
        room: Notify::new(),
    });
    (
        OutboxTx {
            shared: shared.clone(),
        },
        OutboxRx { shared },
    )
}

/// The sending end; clone it for each sender.
pub struct OutboxTx<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for OutboxTx<T> {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        OutboxTx {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for OutboxTx<T> {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            // The writer sees the end once it has taken what is queued.
            self.shared.ready.notify_one();
        }
    }
}

impl<T> OutboxTx<T> {
    /// Queues `item` unless the queue is full or the writer is gone.
    pub fn try_send(&self, item: T) -> Result<(), SendError<T>> {
        self.push(item, false)
    }

    /// Queues `item`, waiting for room; gives it back if the writer is gone.
    pub async fn send(&self, mut item: T) -> Result<(), T> {
        loop {
            let room = self.shared.room.notified();
            tokio::pin!(room);
            // Registered before the check, so room made between the check
            // and the wait is not missed.
            room.as_mut().enable();
            match self.push(item, true) {
                Ok(()) => return Ok(()),
                Err(SendError::Closed(back)) => return Err(back),
                Err(SendError::Full(back)) => {
                    item = back;
                    room.await;
                }
            }
        }
    }

    /// Pushes under the lock; when full and `wait` is set, asks the writer
    /// (under the same lock, so it cannot be missed) to say when there is
    /// room.
    fn push(&self, item: T, wait: bool) -> Result<(), SendError<T>> {
        let mut state = self.shared.lock();
        if state.closed {
            return Err(SendError::Closed(item));
        }
        if state.items.len() + state.taken >= self.shared.capacity {
            state.want_room |= wait;
            return Err(SendError::Full(item));
        }
        let was_empty = state.items.is_empty();
        state.items.push_back(item);
        drop(state);
        // A writer with items already queued has been woken for them.
        if was_empty {
            self.shared.ready.notify_one();
        }
        Ok(())
    }
}

/// The writer's end.
pub struct OutboxRx<T> {
    shared: Arc<Shared<T>>,
}

impl<T> OutboxRx<T> {
    /// Moves everything queued into `into` (which must be empty: the
    /// writer has written the batch it took before), waiting until there is
    /// something: false once every sender is gone and nothing is left.
    pub async fn recv_all(&mut self, into: &mut VecDeque<T>) -> bool {
        loop {
            if self.take(into) {
                return true;
            }
            if self.shared.senders.load(Ordering::Acquire) == 0 {
                // A last send may have raced with the check above.
                return self.take(into);
            }
            self.shared.ready.notified().await;
        }
    }

    /// Takes the queue; the batch taken before it has been written.
    fn take(&mut self, into: &mut VecDeque<T>) -> bool {
        let mut state = self.shared.lock();
        std::mem::swap(&mut state.items, into);
        state.taken = into.len();
        let want_room = std::mem::take(&mut state.want_room);
        drop(state);
        if want_room {
            self.shared.room.notify_waiters();
        }
        !into.is_empty()
    }
}

impl<T> Drop for OutboxRx<T> {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.closed = true;
        state.items.clear();
        drop(state);
        self.shared.room.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// `f`'s output; a lost wake-up fails the test instead of hanging it.
    async fn within<F: std::future::Future>(f: F) -> F::Output {
        tokio::time::timeout(Duration::from_secs(5), f)
            .await
            .expect("still waiting after 5 s: a lost wake-up")
    }

    /// A task that sends `item`, waiting for room.
    fn send_later(tx: &OutboxTx<i32>, item: i32) -> tokio::task::JoinHandle<Result<(), i32>> {
        let tx = tx.clone();
        tokio::spawn(async move { tx.send(item).await })
    }

    #[tokio::test]
    async fn the_writer_takes_everything_queued_in_order() {
        let (tx, mut rx) = outbox(8);
        let other = tx.clone();
        tx.try_send(1).unwrap();
        other.try_send(2).unwrap();
        within(tx.send(3)).await.unwrap();
        let mut got = VecDeque::new();
        assert!(within(rx.recv_all(&mut got)).await);
        assert_eq!(got, [1, 2, 3]);
        got.clear();
        assert!(!rx.take(&mut got), "nothing left");
        // A send wakes a writer that is waiting.
        let waiting = tokio::spawn(async move {
            let mut got = VecDeque::new();
            within(rx.recv_all(&mut got)).await;
            (rx, got)
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        tx.try_send(4).unwrap();
        let (mut rx, got) = within(waiting).await.unwrap();
        assert_eq!(got, [4]);
        // Items sent before the last sender left are still taken, then
        // the end shows.
        other.try_send(5).unwrap();
        drop(tx);
        drop(other);
        let mut got = VecDeque::new();
        assert!(within(rx.recv_all(&mut got)).await);
        assert_eq!(got, [5]);
        got.clear();
        assert!(!within(rx.recv_all(&mut got)).await, "every sender is gone");
    }

    #[tokio::test]
    async fn a_full_outbox_refuses_try_send_and_makes_send_wait_for_room() {
        let (tx, mut rx) = outbox(2);
        tx.try_send(1).unwrap();
        tx.try_send(2).unwrap();
        assert_eq!(tx.try_send(3), Err(SendError::Full(3)));
        let waiter = send_later(&tx, 3);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "send waits while the queue is full");
        let mut got = VecDeque::new();
        assert!(within(rx.recv_all(&mut got)).await);
        assert_eq!(got, [1, 2]);
        // Room comes once the writer has written that batch and asks for
        // more.
        got.clear();
        assert!(within(rx.recv_all(&mut got)).await);
        assert_eq!(got, [3]);
        within(waiter).await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn the_batch_being_written_counts_towards_the_capacity() {
        let (tx, mut rx) = outbox(3);
        tx.try_send(1).unwrap();
        tx.try_send(2).unwrap();
        let mut batch = VecDeque::new();
        assert!(within(rx.recv_all(&mut batch)).await);
        // The writer holds [1, 2] (say, blocked on a peer that does not
        // read): one more fits, not two.
        tx.try_send(3).unwrap();
        assert_eq!(tx.try_send(4), Err(SendError::Full(4)));
        let waiter = send_later(&tx, 4);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        // Written: taking the next batch frees the room of the last one.
        batch.clear();
        assert!(within(rx.recv_all(&mut batch)).await);
        assert_eq!(batch, [3]);
        within(waiter).await.unwrap().unwrap();
        batch.clear();
        assert!(within(rx.recv_all(&mut batch)).await);
        assert_eq!(batch, [4]);
    }

    #[tokio::test]
    async fn senders_learn_that_the_writer_is_gone() {
        let (tx, rx) = outbox(1);
        tx.try_send(1).unwrap();
        let waiter = send_later(&tx, 2);
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(rx);
        assert_eq!(within(waiter).await.unwrap(), Err(2), "a waiting send ends");
        assert_eq!(tx.try_send(3), Err(SendError::Closed(3)));
        assert_eq!(within(tx.send(4)).await, Err(4));
    }
}
