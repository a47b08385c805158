//! A body that streams through unchanged while keeping a capped copy for the recorder.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hudsucker::hyper::body::{Body as HttpBody, Frame, SizeHint};
use hudsucker::Body;
use tokio::sync::oneshot;

/// What a body carried, up to the cap.
#[derive(Debug, Default)]
pub struct Captured {
    /// The first `cap` bytes.
    pub bytes: Vec<u8>,
    /// True when more came than was kept.
    pub truncated: bool,
}

/// Wraps a body; its copy is sent once the body ends (or is dropped part-way).
pub struct TeeBody {
    inner: Body,
    copy: Captured,
    cap: usize,
    done: Option<oneshot::Sender<Captured>>,
}

impl TeeBody {
    /// Tees `inner`, keeping at most `cap` bytes; the receiver gets the copy.
    pub fn new(inner: Body, cap: usize) -> (Self, oneshot::Receiver<Captured>) {
        let (tx, rx) = oneshot::channel();
        let mut tee = Self {
            inner,
            copy: Captured::default(),
            cap,
            done: Some(tx),
        };
        // A body that is already complete is never polled by hyper.
        if tee.inner.is_end_stream() {
            tee.finish();
        }
        (tee, rx)
    }

    fn finish(&mut self) {
        if let Some(tx) = self.done.take() {
            let _ = tx.send(std::mem::take(&mut self.copy));
        }
    }
}

impl HttpBody for TeeBody {
    type Data = Bytes;
    type Error = hudsucker::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let room = self.cap.saturating_sub(self.copy.bytes.len());
                    let kept = room.min(data.len());
                    self.copy.bytes.extend_from_slice(&data[..kept]);
                    self.copy.truncated |= kept < data.len();
                }
                if self.inner.is_end_stream() {
                    self.finish();
                }
            }
            Poll::Ready(None) => self.finish(),
            Poll::Ready(Some(Err(_))) | Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for TeeBody {
    fn drop(&mut self) {
        // A body abandoned part-way is recorded with what passed, marked truncated.
        if self.done.is_some() {
            self.copy.truncated = true;
        }
        self.finish();
    }
}
