//! A test record's baselines read a page at a time, oldest first: a record can be far larger
//! than memory, so exports and replays never load one whole.

use tapedeck_core::{Baseline, EngineError, TestRecord};

use crate::Engine;

/// A cursor over one record's baselines.
pub struct BaselinePages {
    engine: Engine,
    test_record_id: i64,
    after_id: i64,
    done: bool,
}

impl BaselinePages {
    /// Baselines per page.
    pub const PAGE: u32 = 100;

    pub(crate) fn new(engine: Engine, test_record_id: i64) -> Self {
        Self {
            engine,
            test_record_id,
            after_id: 0,
            done: false,
        }
    }

    /// The next page of at most [`Self::PAGE`] baselines; `None` after the last.
    ///
    /// Errors: metadata failures; the cursor may be asked again after one.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Baseline>>, EngineError> {
        if self.done {
            return Ok(None);
        }
        let page = self
            .engine
            .inner
            .meta
            .baselines_after(self.test_record_id, self.after_id, Self::PAGE)
            .await?;
        self.done = page.len() < Self::PAGE as usize;
        match page.last() {
            Some(last) => {
                self.after_id = last.id;
                Ok(Some(page))
            }
            None => Ok(None),
        }
    }
}

impl Engine {
    /// The baselines of `record`, which the caller looked up in its project
    /// ([`Engine::get_test_record`]), a page at a time.
    pub fn baseline_pages(&self, record: &TestRecord) -> BaselinePages {
        BaselinePages::new(self.clone(), record.id)
    }
}
