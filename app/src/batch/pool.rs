//! A small pool of byte buffers that a batch passes around instead of
//! allocating a fresh megabyte for every chunk: fresh memory costs page
//! faults and zeroing on every chunk, reused memory costs neither.

use std::sync::{Mutex, PoisonError};

/// Spare byte buffers, at most [`BufferPool::KEEP`] of them.
#[derive(Debug, Default)]
pub(crate) struct BufferPool {
    spare: Mutex<Vec<Vec<u8>>>,
}

impl BufferPool {
    /// How many spare buffers are kept; more are freed. A batch has about
    /// two chunks in flight per worker, each with an input and an output
    /// buffer, so this bounds memory without starving the pipeline.
    pub(crate) const KEEP: usize = 32;

    /// An empty buffer with room for at least `capacity` bytes, reused when
    /// one is spare.
    pub(crate) fn take_with_capacity(&self, capacity: usize) -> Vec<u8> {
        let reused = self
            .spare
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut buffer = reused.unwrap_or_default();
        buffer.reserve(capacity);
        buffer
    }

    /// Returns a buffer for reuse.
    pub(crate) fn put(&self, mut buffer: Vec<u8>) {
        buffer.clear();
        let mut spare = self.spare.lock().unwrap_or_else(PoisonError::into_inner);
        if spare.len() < Self::KEEP {
            spare.push(buffer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_returned_buffer_is_reused_empty() {
        let pool = BufferPool::default();
        let mut buffer = pool.take_with_capacity(100);
        buffer.extend_from_slice(b"abc");
        let address = buffer.as_ptr();
        pool.put(buffer);
        let again = pool.take_with_capacity(10);
        assert!(again.is_empty());
        assert!(again.capacity() >= 100);
        assert_eq!(again.as_ptr(), address);
    }

    #[test]
    fn keeps_at_most_keep_buffers() {
        let pool = BufferPool::default();
        for _ in 0..BufferPool::KEEP + 5 {
            pool.put(Vec::with_capacity(8));
        }
        assert_eq!(pool.spare.lock().unwrap().len(), BufferPool::KEEP);
    }
}
