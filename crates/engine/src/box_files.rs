//! A box's files (GBOX's `fs`): each operation runs inside the box's sandbox as the session's
//! user (capture's `box_files`), from the box's home or a directory named relative to it.

use tapedeck_capture::box_files::{self, FileAnswer, FileOperation, MAX_LIST_DEPTH};
use tapedeck_core::EngineError;

use crate::actions::action_error;
use crate::Engine;

impl Engine {
    /// Performs `operation` in the session's box, with relative paths taken from
    /// `working_dir` (itself relative to the box's home unless absolute; the home by default).
    ///
    /// Errors: `InvalidInput` for an empty path, a listing depth outside
    /// 1..=[`MAX_LIST_DEPTH`], a write over [`box_files::MAX_FILE_BYTES`], or a path of the
    /// wrong kind; `NotFound` for no such session or file; `Conflict` when the target exists;
    /// `Forbidden` for what the session's user may not do (outside its home); `TooLarge` for a
    /// file or listing over the caps.
    pub async fn box_file(
        &self,
        session_id: &str,
        working_dir: Option<&str>,
        operation: FileOperation,
    ) -> Result<FileAnswer, EngineError> {
        check(&operation)?;
        let place = self.box_place(session_id).await?;
        let cwd = match working_dir {
            Some(dir) => place.home.join(dir),
            None => place.home.clone(),
        };
        let cwd = cwd
            .to_str()
            .ok_or_else(|| EngineError::InvalidInput("workingDir must be UTF-8".into()))?
            .to_owned();
        box_files::perform(
            &place.sandbox,
            place.display_name,
            place.home,
            &cwd,
            operation,
        )
        .await
        .map_err(action_error)
    }
}

/// Refuses what the box need not be asked about.
fn check(operation: &FileOperation) -> Result<(), EngineError> {
    let paths: &[&String] = match operation {
        FileOperation::List { path, .. }
        | FileOperation::Info(path)
        | FileOperation::Exists(path)
        | FileOperation::Read(path)
        | FileOperation::Write { path, .. }
        | FileOperation::Remove(path) => &[path],
        FileOperation::Rename { from, to } => &[from, to],
    };
    if paths.iter().any(|p| p.is_empty() || p.contains('\0')) {
        return Err(EngineError::InvalidInput(
            "path must be a non-empty path without NUL".into(),
        ));
    }
    match operation {
        FileOperation::List { depth, .. } if !(1..=MAX_LIST_DEPTH).contains(depth) => Err(
            EngineError::InvalidInput(format!("depth must be 1..={MAX_LIST_DEPTH}, got {depth}")),
        ),
        FileOperation::Write { content, .. } if content.len() > box_files::MAX_FILE_BYTES => {
            Err(EngineError::TooLarge(format!(
                "the content is {} bytes; files written here are at most {} bytes",
                content.len(),
                box_files::MAX_FILE_BYTES
            )))
        }
        _ => Ok(()),
    }
}
