//! The box every session process runs in: bubblewrap, as the unprivileged session user.
//!
//! Xvfb, Chromium, the recorder's ffmpeg, and the xdotool and ffmpeg runs of UI actions each
//! start as `bwrap … -- program`. When the server is root, the session user's uid and gid are
//! taken before `bwrap` is executed, so bubblewrap itself runs unprivileged (in a user
//! namespace of its own) and no process of a session, wrapper included, is root. When the server
//! is not root there is no other uid to take: sessions run as the server's own user, in the same
//! box.
//!
//! What a box sees: the system read-only (`/usr`, `/etc`, the `/bin` and `/lib` links,
//! `/opt`, the fontconfig cache), its own `/proc`, a minimal `/dev`, a fresh `/tmp`, and the
//! host directories its [`Confinement`] names, at their own paths. The data dir, other sessions'
//! directories and the server's files are not there. Its environment is an allowlist: `PATH`,
//! `HOME`, `DISPLAY` when it has one, the server's `LANG` and `TZ`, and the variables a client
//! gave the session (checked by `SessionSpec::validate`). Values never go on bwrap's command
//! line, where any local user could read them.
//!
//! Two namespaces stay shared with the server, on purpose. The network: Chromium serves DevTools
//! on loopback for the server's relay, and X clients reach a display through its abstract socket
//! (`@/tmp/.X11-unix/XN`), which lives in the network namespace, while the socket file lies in
//! Xvfb's private `/tmp`. System V IPC: Chromium and ffmpeg's x11grab hand Xvfb their images as
//! System V shared memory (MIT-SHM), which only works within one IPC namespace.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString, OsStr, OsString};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Command;

use crate::process::run_to_completion;
use crate::CaptureError;

/// The sandboxed programs' `PATH`: only the read-only system is there.
const PATH: &str = "/usr/local/bin:/usr/bin:/bin";
/// Variables passed from the server's environment when it has them.
const PASSED_FROM_SERVER: [&str; 2] = ["LANG", "TZ"];
/// Top-level links or directories of the system, bound read-only or recreated as links.
const SYSTEM_ROOTS: [&str; 6] = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"];
/// Read-only system paths that exist on some machines only: `/opt` for browsers installed
/// there, the fontconfig cache (without it every Chromium scans all fonts at start), and the
/// resolver's directory that `/etc/resolv.conf` links into under systemd-resolved.
const OPTIONAL_SYSTEM: [&str; 3] = ["/opt", "/var/cache/fontconfig", "/run/systemd/resolve"];
/// How long the start-up check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// The unprivileged account session processes run as when the server is root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    /// Its login name.
    pub name: String,
    /// Its uid (never 0).
    pub uid: u32,
    /// Its primary gid; supplementary groups are dropped.
    pub gid: u32,
}

impl SessionUser {
    /// Looks `name` up in the system's user database; refuses root.
    pub fn lookup(name: &str) -> Result<Self, CaptureError> {
        let unknown = || CaptureError::SessionUser {
            name: name.to_owned(),
            problem: "no such user: run scripts/install-deps, which creates it, or name another \
                      with --session-user"
                .into(),
        };
        let c_name = CString::new(name).map_err(|_| unknown())?;
        // SAFETY: `passwd` is plain C data (integers and pointers), for which all-zero is valid.
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        let mut buffer = vec![0 as libc::c_char; 16 * 1024];
        // SAFETY: every pointer refers to a live local of the right type and `buffer`'s length
        // is passed with it; getpwnam_r writes only into `entry` and `buffer`.
        let status = unsafe {
            libc::getpwnam_r(
                c_name.as_ptr(),
                &mut entry,
                buffer.as_mut_ptr(),
                buffer.len(),
                &mut found,
            )
        };
        if status != 0 || found.is_null() {
            return Err(unknown());
        }
        if entry.pw_uid == 0 {
            return Err(CaptureError::SessionUser {
                name: name.to_owned(),
                problem: "it is root; sessions need an unprivileged user".into(),
            });
        }
        // SAFETY: on success `pw_name` points at a NUL-terminated name inside `buffer`.
        let name = unsafe { CStr::from_ptr(entry.pw_name) }
            .to_string_lossy()
            .into_owned();
        Ok(Self {
            name,
            uid: entry.pw_uid,
            gid: entry.pw_gid,
        })
    }
}

/// A host path made visible inside one box, beyond the read-only system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// A directory, read-write, at its own path (prepare it with [`Sandbox::prepare_dir`]).
    Writable(PathBuf),
    /// A host file or directory, read-only, at `at`.
    ReadOnly {
        /// The host path.
        host: PathBuf,
        /// Where the box sees it.
        at: PathBuf,
    },
    /// A fresh, empty in-memory directory over `at`, hiding what the system has there.
    Empty(PathBuf),
}

/// What one sandboxed program may see and use beyond the read-only system.
#[derive(Debug, Clone, Default)]
pub struct Confinement {
    /// Host paths it sees, applied in order (a mount can go inside an earlier one).
    pub mounts: Vec<Mount>,
    /// Its `HOME` and working directory; its private `/tmp` when `None`.
    pub home: Option<PathBuf>,
    /// The X display it uses, `:N`, as `DISPLAY`.
    pub display: Option<String>,
    /// Variables beyond the allowlist: a session's own, already validated.
    pub envs: BTreeMap<String, String>,
    /// It may create user namespaces. Chromium needs this for its own sandbox; every other
    /// program is refused them.
    pub user_namespaces: bool,
}

/// How session processes are confined on this machine.
#[derive(Debug, Clone)]
pub struct Sandbox {
    bwrap: PathBuf,
    user: Option<SessionUser>,
    /// bwrap's arguments for the read-only system view, worked out once.
    system: Vec<OsString>,
    /// `LANG` and `TZ` as the server has them.
    passed: Vec<(String, String)>,
}

impl Sandbox {
    /// Boxes run with `bwrap` (found on the sandbox's `PATH` when not absolute), as `user`
    /// when given (the server must then be root), as the server's own user otherwise.
    pub fn new(bwrap: PathBuf, user: Option<SessionUser>) -> Self {
        let passed = PASSED_FROM_SERVER
            .iter()
            .filter_map(|name| Some(((*name).to_owned(), std::env::var(name).ok()?)))
            .collect();
        Self {
            bwrap,
            user,
            system: system_view(Path::new("/")),
            passed,
        }
    }

    /// The sandbox for this server: as `session_user` when the server runs as root, as the
    /// server's own user otherwise (there is no other uid to take then).
    pub fn for_this_server(bwrap: PathBuf, session_user: &str) -> Result<Self, CaptureError> {
        let user = if rustix::process::geteuid().is_root() {
            Some(SessionUser::lookup(session_user)?)
        } else {
            None
        };
        Ok(Self::new(bwrap, user))
    }

    /// The user boxes run as; `None` when they run as the server's own user.
    pub fn user(&self) -> Option<&SessionUser> {
        self.user.as_ref()
    }

    /// Creates `dir` (and its parents) if needed, with mode 0700, owned by the session user:
    /// a directory a box may write in through [`Mount::Writable`].
    pub fn prepare_dir(&self, dir: &Path) -> Result<(), CaptureError> {
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        if let Some(user) = &self.user {
            std::os::unix::fs::chown(dir, Some(user.uid), Some(user.gid))?;
        }
        Ok(())
    }

    /// A command that runs `program` in a box confined by `confinement`; add the program's
    /// arguments with `arg`/`args`. The environment is exactly the allowlist.
    pub fn command(&self, program: impl AsRef<OsStr>, confinement: &Confinement) -> Command {
        let mut cmd = Command::new(&self.bwrap);
        if let Some(user) = &self.user {
            // std sets the gid, drops supplementary groups and sets the uid in the child before
            // exec, so bwrap starts unprivileged.
            cmd.uid(user.uid).gid(user.gid);
        }
        cmd.args(["--unshare-user", "--unshare-pid", "--unshare-uts"])
            .arg("--unshare-cgroup-try");
        if !confinement.user_namespaces {
            cmd.arg("--disable-userns");
        }
        // Killed (SIGKILL) when the server dies.
        cmd.arg("--die-with-parent");
        cmd.args(&self.system)
            .args(["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]);
        for mount in &confinement.mounts {
            match mount {
                Mount::Writable(dir) => cmd.arg("--bind").arg(dir).arg(dir),
                Mount::ReadOnly { host, at } => cmd.arg("--ro-bind").arg(host).arg(at),
                Mount::Empty(at) => cmd.arg("--tmpfs").arg(at),
            };
        }
        let home = confinement
            .home
            .clone()
            .unwrap_or_else(|| PathBuf::from("/tmp"));
        cmd.arg("--chdir").arg(&home).arg("--").arg(program);
        cmd.env_clear()
            .envs(self.passed.iter().map(|(k, v)| (k, v)))
            .envs(&confinement.envs)
            // Last, so the server's values win even over an unchecked caller's.
            .env("PATH", PATH)
            .env("HOME", &home);
        if let Some(display) = &confinement.display {
            cmd.env("DISPLAY", display);
        }
        cmd
    }

    /// Runs a box once with `scratch` (a directory where boxes' own directories go) mounted
    /// writable, and checks that a program in it can create a user namespace, as Chromium's
    /// sandbox will: so a missing bwrap, disabled user namespaces or an unreachable directory
    /// stop the server at start rather than fail every session.
    pub async fn check(&self, scratch: &Path) -> Result<(), CaptureError> {
        self.prepare_dir(scratch)?;
        let confinement = Confinement {
            mounts: vec![Mount::Writable(scratch.to_owned())],
            home: Some(scratch.to_owned()),
            user_namespaces: true,
            ..Confinement::default()
        };
        let mut cmd = self.command("unshare", &confinement);
        cmd.args(["--user", "--", "touch"]).arg(scratch.join("ok"));
        let outcome = run_to_completion("bwrap", &mut cmd, CHECK_TIMEOUT).await;
        let written = scratch.join("ok").exists();
        if let Err(e) = std::fs::remove_dir_all(scratch) {
            tracing::debug!(dir = %scratch.display(), error = %e, "sandbox check dir not removed");
        }
        match outcome {
            Ok(_) if written => Ok(()),
            Ok(_) => Err(CaptureError::Sandbox(format!(
                "a box could not write {}",
                scratch.display()
            ))),
            Err(e) => Err(CaptureError::Sandbox(e.to_string())),
        }
    }
}

/// bwrap arguments showing the system under `root` read-only: `/usr` and `/etc`, the top-level
/// `bin`/`lib` entries as the links or directories they are, and the optional paths present.
fn system_view(root: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    let mut read_only = |path: &Path| {
        args.extend(["--ro-bind".into(), path.into(), path.into()]);
    };
    read_only(Path::new("/usr"));
    read_only(Path::new("/etc"));
    let mut links = Vec::new();
    for name in SYSTEM_ROOTS {
        let host = root.join(name);
        let at = Path::new("/").join(name);
        match std::fs::read_link(&host) {
            Ok(target) => links.push((target, at)),
            Err(_) if host.is_dir() => read_only(&at),
            Err(_) => {}
        }
    }
    for path in OPTIONAL_SYSTEM {
        if root.join(path.trim_start_matches('/')).exists() {
            read_only(Path::new(path));
        }
    }
    for (target, at) in links {
        args.extend(["--symlink".into(), target.into(), at.into()]);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sandbox(user: Option<SessionUser>) -> Sandbox {
        Sandbox {
            bwrap: "bwrap".into(),
            user,
            system: vec!["--ro-bind".into(), "/usr".into(), "/usr".into()],
            passed: vec![("LANG".into(), "C.UTF-8".into())],
        }
    }

    fn args(cmd: &Command) -> Vec<String> {
        cmd.as_std()
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    fn env(cmd: &Command) -> BTreeMap<String, Option<String>> {
        cmd.as_std()
            .get_envs()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.map(|v| v.to_string_lossy().into_owned()),
                )
            })
            .collect()
    }

    #[test]
    fn a_box_sees_its_mounts_at_their_paths_and_runs_the_program_last() {
        let confinement = Confinement {
            mounts: vec![
                Mount::Writable("/state/sessions/s1".into()),
                Mount::Empty("/etc/chromium".into()),
                Mount::ReadOnly {
                    host: "/state/sessions/s1/policy.json".into(),
                    at: "/etc/chromium/policies/managed/tapedeck.json".into(),
                },
            ],
            home: Some("/state/sessions/s1".into()),
            ..Confinement::default()
        };
        let cmd = sandbox(None).command("/usr/bin/chromium", &confinement);
        let args = args(&cmd).join(" ");
        assert!(args.starts_with("--unshare-user --unshare-pid"), "{args}");
        assert!(
            args.contains("--disable-userns --die-with-parent"),
            "{args}"
        );
        assert!(args.contains(
            "--tmpfs /tmp --bind /state/sessions/s1 /state/sessions/s1 --tmpfs /etc/chromium \
             --ro-bind /state/sessions/s1/policy.json /etc/chromium/policies/managed/tapedeck.json"
        ));
        assert!(
            args.ends_with("--chdir /state/sessions/s1 -- /usr/bin/chromium"),
            "{args}"
        );
        assert!(!args.contains("--bind / "), "{args}");
    }

    #[test]
    fn the_environment_is_the_allowlist_plus_the_sessions_own() {
        let confinement = Confinement {
            display: Some(":101".into()),
            envs: [("TZ".to_owned(), "UTC".to_owned())].into(),
            ..Confinement::default()
        };
        let cmd = sandbox(None).command("xdotool", &confinement);
        let expected: BTreeMap<_, _> = [
            ("DISPLAY", ":101"),
            ("HOME", "/tmp"),
            ("LANG", "C.UTF-8"),
            ("PATH", PATH),
            ("TZ", "UTC"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Some(v.to_owned())))
        .collect();
        assert_eq!(env(&cmd), expected);
        assert!(
            !args(&cmd).iter().any(|a| a.contains("UTC")),
            "values stay off bwrap's command line"
        );
    }

    #[test]
    fn chromium_may_build_its_own_sandbox() {
        let cmd = sandbox(None).command(
            "chromium",
            &Confinement {
                user_namespaces: true,
                ..Confinement::default()
            },
        );
        let args = args(&cmd);
        assert!(!args.iter().any(|a| a == "--disable-userns"));
        assert!(args.iter().any(|a| a == "--die-with-parent"));
    }

    #[test]
    fn the_system_view_keeps_links_as_links() {
        let root = std::env::temp_dir().join(format!("tapedeck-sysview-{}", std::process::id()));
        std::fs::create_dir_all(root.join("usr/lib")).unwrap();
        std::fs::create_dir_all(root.join("sbin")).unwrap();
        std::os::unix::fs::symlink("usr/lib", root.join("lib")).unwrap();
        let view: Vec<String> = system_view(&root)
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        std::fs::remove_dir_all(&root).unwrap();
        let view = view.join(" ");
        assert!(view.contains("--ro-bind /sbin /sbin"), "{view}");
        assert!(view.contains("--symlink usr/lib /lib"), "{view}");
        assert!(!view.contains("/lib64"), "{view}");
    }

    #[test]
    fn root_is_not_a_session_user_and_unknown_users_are_named() {
        assert!(matches!(
            SessionUser::lookup("root"),
            Err(CaptureError::SessionUser { .. })
        ));
        let err = SessionUser::lookup("no-such-tapedeck-user").unwrap_err();
        assert!(err.to_string().contains("no-such-tapedeck-user"), "{err}");
    }
}
