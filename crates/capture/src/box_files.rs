//! A box's files (GBOX's `fs`): listed, read, written, renamed and removed by a small Python
//! program (`box_files.py`) run with [`crate::exec`] inside the box's sandbox as the session's
//! user. What it may touch is what the sandbox shows that user: its home writable, the system
//! read-only, the data dir and other boxes not at all. The server never opens a box's file.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::exec::{self, BoxProgram, ProgramOutput};
use crate::sandbox::Sandbox;
use crate::CaptureError;

/// The program, run by the box's `python3`.
const PROGRAM: &str = include_str!("box_files.py");
/// The exit code of an operation the program refused, with its reason as JSON on stdout.
const REFUSED_EXIT_CODE: i32 = 3;
/// Largest file read or written through the API: 32 MiB.
pub const MAX_FILE_BYTES: usize = 32 * 1024 * 1024;
/// Most entries one listing answers.
pub const MAX_LIST_ENTRIES: usize = 10_000;
/// Deepest listing.
pub const MAX_LIST_DEPTH: u32 = 16;
/// Longest one operation may take (a large tree's removal).
const OPERATION_TIMEOUT: Duration = Duration::from_secs(60);

/// One operation on a box's files; relative paths are taken from the request's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOperation {
    /// The directory's entries, `depth` levels down (1: its children).
    List {
        /// The directory.
        path: String,
        /// Levels, 1..=[`MAX_LIST_DEPTH`].
        depth: u32,
    },
    /// The entry at `path`.
    Info(String),
    /// Whether `path` exists, and as what.
    Exists(String),
    /// The file's bytes, at most [`MAX_FILE_BYTES`].
    Read(String),
    /// Writes `content` to `path`, making missing directories and replacing a file there.
    Write {
        /// The file.
        path: String,
        /// Its new bytes, at most [`MAX_FILE_BYTES`].
        content: Vec<u8>,
    },
    /// Moves `from` to `to`, which must not exist.
    Rename {
        /// What moves.
        from: String,
        /// Where to; refused when something is there.
        to: String,
    },
    /// Removes a file, or a directory with all it holds.
    Remove(String),
}

/// A file or directory of a box, as GBOX's `File` and `Dir` describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileEntry {
    /// Its last path component.
    pub name: String,
    /// Its absolute path in the box.
    pub path: String,
    /// `file` or `dir`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `ls -l` style permissions, such as `-rw-r--r--`.
    pub mode: String,
    /// Size in bytes, for files, as a decimal string (GBOX's type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// Last modification, RFC 3339 in UTC with milliseconds.
    pub last_modified: String,
}

/// What an operation answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileAnswer {
    /// A listing's entries, in name order level by level.
    Entries(Vec<FileEntry>),
    /// The entry an info, a write or a rename ends at.
    Entry(FileEntry),
    /// Whether the path exists, and whether as a `file` or a `dir`.
    Exists(Option<String>),
    /// A read file's bytes.
    Content(Vec<u8>),
    /// What a removal says.
    Removed(String),
}

/// Why the box refused an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileRefusal {
    /// Nothing is at the path.
    NotFound,
    /// Something is already where the operation would put its result.
    Exists,
    /// The session's user may not do it: read-only system, or outside what the box shows.
    Denied,
    /// Over [`MAX_FILE_BYTES`] or [`MAX_LIST_ENTRIES`].
    TooLarge,
    /// The path is the wrong kind (a directory read as a file) or otherwise unusable.
    Invalid,
}

/// The program's request (see `box_files.py`).
#[derive(Serialize)]
struct Request<'a> {
    op: &'static str,
    cwd: &'a str,
    path: &'a str,
    new_path: Option<&'a str>,
    depth: u32,
    max_bytes: usize,
    max_entries: usize,
}

/// The program's refusal.
#[derive(Deserialize)]
struct Refusal {
    error: FileRefusal,
    message: String,
}

/// Runs `operation` in `sandbox`'s box whose home is `home`, from directory `cwd` (absolute).
///
/// Errors: [`CaptureError::BoxFile`] when the box refused it, `Spawn` or `Io` when it could not
/// run, `TimedOut` past a minute.
pub async fn perform(
    sandbox: &Sandbox,
    display_name: String,
    home: PathBuf,
    cwd: &str,
    operation: FileOperation,
) -> Result<FileAnswer, CaptureError> {
    let (request, stdin) = program_input(&operation, cwd, MAX_FILE_BYTES, MAX_LIST_ENTRIES);
    let program = BoxProgram {
        program: "python3".into(),
        args: vec!["-I".into(), "-c".into(), PROGRAM.into(), request],
        envs: Default::default(),
        working_dir: None,
        timeout: OPERATION_TIMEOUT,
        stdin,
        // A read's bytes, or a listing's JSON, whole; the program caps both below this.
        max_output: MAX_FILE_BYTES + 4 * 1024 * 1024,
    };
    let output = exec::run(sandbox, display_name, &home, &program).await?;
    answer(&operation, output)
}

/// The program's request as JSON, and its stdin, for `operation` from `cwd` under the caps.
fn program_input(
    operation: &FileOperation,
    cwd: &str,
    max_bytes: usize,
    max_entries: usize,
) -> (String, Vec<u8>) {
    let (op, path, new_path, depth, stdin) = match operation {
        FileOperation::List { path, depth } => ("list", path, None, *depth, Vec::new()),
        FileOperation::Info(path) => ("info", path, None, 0, Vec::new()),
        FileOperation::Exists(path) => ("exists", path, None, 0, Vec::new()),
        FileOperation::Read(path) => ("read", path, None, 0, Vec::new()),
        FileOperation::Write { path, content } => ("write", path, None, 0, content.clone()),
        FileOperation::Rename { from, to } => ("rename", from, Some(to.as_str()), 0, Vec::new()),
        FileOperation::Remove(path) => ("remove", path, None, 0, Vec::new()),
    };
    let request = Request {
        op,
        cwd,
        path,
        new_path,
        depth,
        max_bytes,
        max_entries,
    };
    // Strings and numbers only: serialization cannot fail.
    let json = serde_json::to_string(&request).unwrap_or_default();
    (json, stdin)
}

/// Reads the program's answer to `operation`.
fn answer(operation: &FileOperation, output: ProgramOutput) -> Result<FileAnswer, CaptureError> {
    let malformed = |e: serde_json::Error| {
        CaptureError::Io(std::io::Error::other(format!(
            "the box's file program answered {e}: {}",
            String::from_utf8_lossy(&output.stderr)
        )))
    };
    match output.exit_code {
        0 => {}
        REFUSED_EXIT_CODE => {
            let refusal: Refusal = serde_json::from_slice(&output.stdout).map_err(malformed)?;
            return Err(CaptureError::BoxFile {
                refusal: refusal.error,
                message: refusal.message,
            });
        }
        exec::TIMED_OUT_EXIT_CODE => {
            return Err(CaptureError::TimedOut {
                program: "a box file operation",
                secs: OPERATION_TIMEOUT.as_secs(),
            })
        }
        code => {
            return Err(CaptureError::Io(std::io::Error::other(format!(
                "the box's file program exited {code}: {}",
                String::from_utf8_lossy(&output.stderr)
            ))))
        }
    }
    #[derive(Deserialize)]
    struct Listing {
        data: Vec<FileEntry>,
    }
    #[derive(Deserialize)]
    struct Existence {
        exists: bool,
        #[serde(rename = "type")]
        kind: Option<String>,
    }
    #[derive(Deserialize)]
    struct Removal {
        message: String,
    }
    let json = &output.stdout;
    Ok(match operation {
        FileOperation::List { .. } => FileAnswer::Entries(
            serde_json::from_slice::<Listing>(json)
                .map_err(malformed)?
                .data,
        ),
        FileOperation::Info(_) | FileOperation::Write { .. } | FileOperation::Rename { .. } => {
            FileAnswer::Entry(serde_json::from_slice(json).map_err(malformed)?)
        }
        FileOperation::Exists(_) => {
            let existence: Existence = serde_json::from_slice(json).map_err(malformed)?;
            FileAnswer::Exists(existence.exists.then(|| existence.kind.unwrap_or_default()))
        }
        FileOperation::Read(_) => FileAnswer::Content(output.stdout),
        FileOperation::Remove(_) => FileAnswer::Removed(
            serde_json::from_slice::<Removal>(json)
                .map_err(malformed)?
                .message,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the program as the sandbox would, without the sandbox, from `cwd`.
    fn run(cwd: &std::path::Path, operation: FileOperation) -> Result<FileAnswer, CaptureError> {
        use std::io::Write as _;
        let (request, stdin) = program_input(&operation, cwd.to_str().unwrap(), 16, 3);
        let mut child = std::process::Command::new("python3")
            .args(["-I", "-c", PROGRAM, &request])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&stdin).unwrap();
        let done = child.wait_with_output().unwrap();
        let output = ProgramOutput {
            exit_code: done.status.code().unwrap(),
            stdout: done.stdout,
            stderr: done.stderr,
        };
        answer(&operation, output)
    }

    fn refusal(result: Result<FileAnswer, CaptureError>) -> FileRefusal {
        match result {
            Err(CaptureError::BoxFile { refusal, .. }) => refusal,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_file_is_written_read_listed_renamed_and_removed() {
        let home = tempfile::tempdir().unwrap();
        let written = run(
            home.path(),
            FileOperation::Write {
                path: "notes/a.txt".into(),
                content: b"hello".to_vec(),
            },
        )
        .unwrap();
        let FileAnswer::Entry(entry) = written else {
            panic!("{written:?}")
        };
        assert_eq!(entry.name, "a.txt");
        assert_eq!(entry.kind, "file");
        assert_eq!(entry.size.as_deref(), Some("5"));
        assert_eq!(
            entry.path,
            home.path().join("notes/a.txt").to_str().unwrap()
        );
        assert!(entry.mode.starts_with("-rw"), "{}", entry.mode);
        assert!(
            entry.last_modified.ends_with('Z'),
            "{}",
            entry.last_modified
        );

        let read = run(home.path(), FileOperation::Read("notes/a.txt".into())).unwrap();
        assert_eq!(read, FileAnswer::Content(b"hello".to_vec()));

        let listed = run(
            home.path(),
            FileOperation::List {
                path: ".".into(),
                depth: 2,
            },
        )
        .unwrap();
        let FileAnswer::Entries(entries) = listed else {
            panic!("{listed:?}")
        };
        let names: Vec<_> = entries
            .iter()
            .map(|e| (e.name.as_str(), e.kind.as_str()))
            .collect();
        assert_eq!(names, [("notes", "dir"), ("a.txt", "file")]);

        let renamed = run(
            home.path(),
            FileOperation::Rename {
                from: "notes/a.txt".into(),
                to: "b.txt".into(),
            },
        )
        .unwrap();
        assert!(matches!(renamed, FileAnswer::Entry(e) if e.name == "b.txt"));
        assert_eq!(
            run(home.path(), FileOperation::Exists("b.txt".into())).unwrap(),
            FileAnswer::Exists(Some("file".into()))
        );
        assert!(matches!(
            run(home.path(), FileOperation::Remove("notes".into())).unwrap(),
            FileAnswer::Removed(_)
        ));
        assert_eq!(
            run(home.path(), FileOperation::Exists("notes".into())).unwrap(),
            FileAnswer::Exists(None)
        );
    }

    #[test]
    fn refusals_say_why() {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join("big"), [0u8; 17]).unwrap();
        std::fs::write(home.path().join("small"), b"x").unwrap();
        std::fs::create_dir(home.path().join("dir")).unwrap();
        let read = |path: &str| run(home.path(), FileOperation::Read(path.into()));
        assert_eq!(refusal(read("missing")), FileRefusal::NotFound);
        assert_eq!(refusal(read("big")), FileRefusal::TooLarge);
        assert_eq!(refusal(read("dir")), FileRefusal::Invalid);
        let rename = FileOperation::Rename {
            from: "small".into(),
            to: "big".into(),
        };
        assert_eq!(refusal(run(home.path(), rename)), FileRefusal::Exists);
        let list = FileOperation::List {
            path: ".".into(),
            depth: 1,
        };
        std::fs::write(home.path().join("fourth"), b"").unwrap();
        assert_eq!(refusal(run(home.path(), list)), FileRefusal::TooLarge);
        let write_into_dir = FileOperation::Write {
            path: "dir".into(),
            content: vec![],
        };
        assert_eq!(
            refusal(run(home.path(), write_into_dir)),
            FileRefusal::Exists
        );
    }
}
