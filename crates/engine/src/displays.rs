//! Hands out X display numbers so that no two sessions share one.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use tapedeck_capture::Display;

/// How many numbers past the first one are tried before giving up.
const SEARCH_SPAN: u32 = 1000;

/// The display numbers this server is using.
#[derive(Clone)]
pub struct DisplayNumbers {
    first: u32,
    in_use: Arc<Mutex<BTreeSet<u32>>>,
}

/// A reserved display number; released when dropped.
pub struct DisplayLease {
    number: u32,
    in_use: Arc<Mutex<BTreeSet<u32>>>,
}

impl DisplayNumbers {
    /// Numbers from `first` upward.
    pub fn new(first: u32) -> Self {
        Self {
            first,
            in_use: Arc::default(),
        }
    }

    /// Reserves the lowest number that neither this server nor another X server holds.
    pub fn lease(&self) -> Option<DisplayLease> {
        let mut in_use = self.in_use.lock().unwrap_or_else(|e| e.into_inner());
        let number = (self.first..self.first + SEARCH_SPAN)
            .find(|n| !in_use.contains(n) && !Display::is_taken(*n))?;
        in_use.insert(number);
        Some(DisplayLease {
            number,
            in_use: self.in_use.clone(),
        })
    }
}

impl DisplayLease {
    /// The reserved number.
    pub fn number(&self) -> u32 {
        self.number
    }
}

impl Drop for DisplayLease {
    fn drop(&mut self) {
        let mut in_use = self.in_use.lock().unwrap_or_else(|e| e.into_inner());
        in_use.remove(&self.number);
    }
}
