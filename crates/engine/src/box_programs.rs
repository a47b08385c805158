//! Programs a client runs inside a box (GBOX's `commands` and `run-code`): checked here, run
//! by capture's `exec` in the box's sandbox as the session's user, confined to the box's home.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use tapedeck_capture::exec::{self, BoxProgram, ProgramOutput};
use tapedeck_capture::sandbox::Sandbox;
use tapedeck_core::EngineError;

use crate::actions::action_error;
use crate::Engine;

/// Longest a program may run.
pub const MAX_PROGRAM_TIME: Duration = Duration::from_secs(600);
/// Largest command or code text.
pub const MAX_CODE_BYTES: usize = 1024 * 1024;
/// Most arguments given to code.
const MAX_ARGS: usize = 256;

/// The languages `run-code` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeLanguage {
    /// `bash -c`.
    Bash,
    /// `python3 -c`.
    Python,
    /// Named by GBOX; boxes here have no TypeScript runner, so it is refused.
    TypeScript,
}

/// What to run in a box.
#[derive(Debug, Clone)]
pub enum BoxCode {
    /// A shell command line (`commands`), run by bash.
    Command(String),
    /// A program text in `language`, with arguments (`run-code`).
    Code {
        /// Its language.
        language: CodeLanguage,
        /// The program text.
        code: String,
        /// Its arguments.
        argv: Vec<String>,
    },
}

/// A run in a box: what, with which variables, where, and for how long at most.
#[derive(Debug, Clone)]
pub struct BoxRun {
    /// What runs.
    pub code: BoxCode,
    /// Variables beyond the box's own.
    pub envs: BTreeMap<String, String>,
    /// Where it starts, relative to the box's home unless absolute; the home by default.
    pub working_dir: Option<String>,
    /// Longest it may run, at most [`MAX_PROGRAM_TIME`].
    pub timeout: Duration,
}

impl Engine {
    /// Runs `run` in the session's box and returns its exit code and output (exit code 124
    /// when stopped at its timeout).
    ///
    /// Errors: `InvalidInput` for code too large, a refused variable, a timeout past
    /// [`MAX_PROGRAM_TIME`] or TypeScript; `NotFound` for no such running session.
    pub async fn run_in_box(
        &self,
        session_id: &str,
        run: BoxRun,
    ) -> Result<ProgramOutput, EngineError> {
        tapedeck_core::environment::check(&run.envs)?;
        if run.timeout > MAX_PROGRAM_TIME || run.timeout.is_zero() {
            return Err(EngineError::InvalidInput(format!(
                "timeout must be more than 0 and at most {} s",
                MAX_PROGRAM_TIME.as_secs()
            )));
        }
        let (program, args) = match run.code {
            BoxCode::Command(command) => ("bash", vec!["-c".to_owned(), command]),
            BoxCode::Code {
                language,
                code,
                argv,
            } => {
                if argv.len() > MAX_ARGS {
                    return Err(EngineError::InvalidInput(format!(
                        "at most {MAX_ARGS} arguments"
                    )));
                }
                let mut args = match language {
                    CodeLanguage::Bash => vec!["-c".to_owned(), code, "bash".to_owned()],
                    CodeLanguage::Python => vec!["-c".to_owned(), code],
                    CodeLanguage::TypeScript => {
                        return Err(EngineError::InvalidInput(
                            "typescript is not run here: boxes have no TypeScript runner; use bash or python".into(),
                        ))
                    }
                };
                args.extend(argv);
                let program = if language == CodeLanguage::Python {
                    "python3"
                } else {
                    "bash"
                };
                (program, args)
            }
        };
        if args.iter().map(String::len).sum::<usize>() > MAX_CODE_BYTES {
            return Err(EngineError::InvalidInput(format!(
                "a command or code is at most {MAX_CODE_BYTES} bytes"
            )));
        }
        let place = self.box_place(session_id).await?;
        let program = BoxProgram {
            program: program.to_owned(),
            args,
            envs: run.envs,
            working_dir: run.working_dir.map(|dir| place.home.join(dir)),
            timeout: run.timeout,
            stdin: Vec::new(),
            max_output: exec::MAX_OUTPUT_BYTES,
        };
        let output = exec::run(&place.sandbox, place.display_name, &place.home, &program)
            .await
            .map_err(action_error)?;
        self.touch_session(session_id);
        Ok(output)
    }

    /// Where a running session's box programs run: its sandbox, display and home. Counts as
    /// session activity.
    ///
    /// Errors: `NotFound` for no such running session; `Conflict` while it is ending.
    pub(crate) async fn box_place(&self, session_id: &str) -> Result<BoxPlace, EngineError> {
        let live = self.live_session(session_id)?;
        let home = self.inner.config.session_dir(session_id);
        let display = live.display.lock().await;
        let display = display
            .as_ref()
            .ok_or_else(|| EngineError::conflict("the session is ending"))?;
        self.touch_session(session_id);
        Ok(BoxPlace {
            sandbox: display.sandbox().clone(),
            display_name: display.name(),
            home,
        })
    }
}

/// Where a box's programs run.
pub(crate) struct BoxPlace {
    /// The session's sandbox.
    pub sandbox: Sandbox,
    /// Its display, `:N`.
    pub display_name: String,
    /// Its home: the only place it may write.
    pub home: PathBuf,
}
