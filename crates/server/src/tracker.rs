//! Counting the tasks that serve connections, so shutdown can wait for
//! them no matter who else holds a handle to the server state.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Notify;

/// Counts live [`Guard`]s.
#[derive(Clone, Default)]
pub struct Tracker(Arc<Inner>);

#[derive(Default)]
struct Inner {
    live: AtomicUsize,
    idle: Notify,
}

/// Held by a task for as long as it runs.
pub struct Guard(Tracker);

impl Tracker {
    /// Registers a running task.
    pub fn guard(&self) -> Guard {
        self.0.live.fetch_add(1, Ordering::SeqCst);
        Guard(self.clone())
    }

    /// Tasks still running.
    pub fn live(&self) -> usize {
        self.0.live.load(Ordering::SeqCst)
    }

    /// Resolves once no guard is left.
    pub async fn idle(&self) {
        loop {
            // Created before the check, so a wake-up in between is not lost.
            let notified = self.0.idle.notified();
            if self.live() == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.0.0.live.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.0.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn idle_waits_for_every_guard() {
        let t = Tracker::default();
        t.idle().await;
        let a = t.guard();
        let b = t.guard();
        let waiter = tokio::spawn({
            let t = t.clone();
            async move { t.idle().await }
        });
        drop(a);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        drop(b);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .unwrap()
            .unwrap();
    }
}
