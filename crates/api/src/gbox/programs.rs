//! `POST /boxes/{id}/commands` and `POST /boxes/{id}/run-code`: programs run inside the box's
//! sandbox as the session's user, confined to the box's home (docs/gbox.md, "Commands").

use axum::extract::{Path, State};
use axum::{Extension, Json};
use bytes::Bytes;
use tapedeck_core::duration::duration_field;
use tapedeck_core::EngineError;
use tapedeck_engine::{BoxCode, BoxRun, CodeLanguage, ProgramOutput, MAX_PROGRAM_TIME};

use super::boxes::running_box;
use super::wire::{ProgramOutputJson, RunCodeAction, RunCommandAction};
use super::GboxError;
use crate::common::auth::Caller;
use crate::common::body::parse_json;
use crate::ApiState;

/// A run's time limit when none is given (GBOX's default).
const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// `POST …/commands {command, envs?, timeout?, workingDir?}` → `{exitCode, stdout, stderr}`.
pub async fn commands(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ProgramOutputJson>, GboxError> {
    let session = running_box(&state, caller.project(), &id).await?;
    let params: RunCommandAction = parse_json(&body)?;
    let command = params
        .command
        .ok_or_else(|| EngineError::InvalidInput("command is required".into()))?;
    let code = BoxCode::Command(command);
    run(
        &state,
        &session.id,
        code,
        params.envs,
        params.working_dir,
        params.timeout,
    )
    .await
}

/// `POST …/run-code {code, language?, argv?, envs?, timeout?, workingDir?}` →
/// `{exitCode, stdout, stderr}`; `language` is bash or python (the default).
pub async fn run_code(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ProgramOutputJson>, GboxError> {
    let session = running_box(&state, caller.project(), &id).await?;
    let params: RunCodeAction = parse_json(&body)?;
    let code = params
        .code
        .ok_or_else(|| EngineError::InvalidInput("code is required".into()))?;
    let language = match params.language.as_deref() {
        None | Some("python") => CodeLanguage::Python,
        Some("bash") => CodeLanguage::Bash,
        Some("typescript") => CodeLanguage::TypeScript,
        Some(other) => {
            return Err(EngineError::InvalidInput(format!(
                "language must be bash, python or typescript, got {other:?}"
            ))
            .into())
        }
    };
    let code = BoxCode::Code {
        language,
        code,
        argv: params.argv,
    };
    run(
        &state,
        &session.id,
        code,
        params.envs,
        params.working_dir,
        params.timeout,
    )
    .await
}

/// Runs `code` in the box with the request's variables, directory and timeout.
async fn run(
    state: &ApiState,
    session_id: &str,
    code: BoxCode,
    envs: std::collections::BTreeMap<String, String>,
    working_dir: Option<String>,
    timeout: Option<String>,
) -> Result<Json<ProgramOutputJson>, GboxError> {
    let timeout = duration_field(
        "timeout",
        timeout.as_deref(),
        DEFAULT_TIMEOUT,
        MAX_PROGRAM_TIME,
    )?;
    let run = BoxRun {
        code,
        envs,
        working_dir,
        timeout,
    };
    let done: ProgramOutput = state.engine.run_in_box(session_id, run).await?;
    Ok(Json(ProgramOutputJson {
        exit_code: done.exit_code,
        stdout: String::from_utf8_lossy(&done.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&done.stderr).into_owned(),
    }))
}
