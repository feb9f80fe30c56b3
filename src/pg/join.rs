//! Both halves of a session in one task, each polled only when something
//! it waits for woke it (`tokio::join!` polls both at every wake-up: the
//! agent's next message would poll the response reader too, and each answer
//! from the database the agent's reader).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

const FIRST: u8 = 1;
const SECOND: u8 = 2;

/// Which halves were woken, and the task to wake.
struct Wakes {
    woken: AtomicU8,
    task: Mutex<Option<Waker>>,
}

impl Wakes {
    fn register(&self, waker: &Waker) {
        let mut task = self.task.lock().unwrap();
        if !task.as_ref().is_some_and(|t| t.will_wake(waker)) {
            *task = Some(waker.clone());
        }
    }
}

/// The waker one half sees: it marks that half and wakes the task.
struct Half {
    wakes: Arc<Wakes>,
    bit: u8,
}

impl Wake for Half {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.woken.fetch_or(self.bit, Ordering::AcqRel);
        if let Some(task) = self.wakes.task.lock().unwrap().as_ref() {
            task.wake_by_ref();
        }
    }
}

/// Runs `a` and `b` to completion in the calling task, like `tokio::join!`.
pub async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let wakes = Arc::new(Wakes {
        // Both are polled the first time.
        woken: AtomicU8::new(FIRST | SECOND),
        task: Mutex::new(None),
    });
    let waker = |bit| {
        Waker::from(Arc::new(Half {
            wakes: Arc::clone(&wakes),
            bit,
        }))
    };
    let (wake_a, wake_b) = (waker(FIRST), waker(SECOND));
    let (mut a, mut b) = (std::pin::pin!(a), std::pin::pin!(b));
    let (mut out_a, mut out_b) = (None, None);
    std::future::poll_fn(|cx| {
        // Registered before the marks are read: a wake-up after this polls again.
        wakes.register(cx.waker());
        let woken = wakes.woken.swap(0, Ordering::AcqRel);
        poll_half(&mut a, &mut out_a, woken & FIRST != 0, &wake_a);
        poll_half(&mut b, &mut out_b, woken & SECOND != 0, &wake_b);
        if out_a.is_some() && out_b.is_some() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    (out_a.expect("ready"), out_b.expect("ready"))
}

fn poll_half<F: Future>(
    f: &mut Pin<&mut F>,
    out: &mut Option<F::Output>,
    woken: bool,
    waker: &Waker,
) {
    if woken && out.is_none() {
        if let Poll::Ready(v) = f.as_mut().poll(&mut Context::from_waker(waker)) {
            *out = Some(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A half that counts its polls and finishes once notified.
    struct Counted<'a> {
        polls: &'a AtomicUsize,
        ready: &'a tokio::sync::Notify,
    }

    #[tokio::test]
    async fn each_half_is_polled_only_when_woken_and_both_finish() {
        let a_polls = AtomicUsize::new(0);
        let b_polls = AtomicUsize::new(0);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u32>();
        let stop = tokio::sync::Notify::new();
        let counted = Counted {
            polls: &b_polls,
            ready: &stop,
        };
        let a = async {
            let mut sum = 0;
            loop {
                let next = std::future::poll_fn(|cx| {
                    a_polls.fetch_add(1, Ordering::Relaxed);
                    rx.poll_recv(cx)
                })
                .await;
                match next {
                    Some(n) => sum += n,
                    None => return sum,
                }
            }
        };
        let b = async {
            let notified = counted.ready.notified();
            let mut notified = std::pin::pin!(notified);
            std::future::poll_fn(|cx| {
                counted.polls.fetch_add(1, Ordering::Relaxed);
                notified.as_mut().poll(cx)
            })
            .await;
            "b done"
        };
        let feed = async {
            for n in 1..=5 {
                tx.send(n).unwrap();
                tokio::task::yield_now().await;
            }
            drop(tx);
            tokio::task::yield_now().await;
            stop.notify_one();
        };
        let (joined, ()) = tokio::join!(join(a, b), feed);
        assert_eq!(joined, (15, "b done"));
        // `b` was polled once at the start and once when notified, never for
        // the messages that woke `a`.
        assert_eq!(b_polls.load(Ordering::Relaxed), 2);
        assert!(a_polls.load(Ordering::Relaxed) >= 6);
    }
}
