//! A Chromium user-data dir as an archive: the zstd-compressed tar a browser profile is kept as
//! (the format Kernel's profile download names), without Chromium's caches, its locks and its
//! DevTools port file.
//!
//! Packing reads only the regular files and directories inside the dir and never follows a
//! symbolic link: the dir is the session user's, who may have planted one aimed at the server's
//! files. Each name is opened relative to its directory's descriptor, with `O_NOFOLLOW`, so a
//! link swapped in meanwhile is refused rather than followed.
//!
//! Unpacking treats the archive as untrusted input. Only plain relative paths are accepted, and
//! only files and directories are created (links, hard links and devices are skipped), inside a
//! directory it creates itself, again name by name without following links, so nothing can land
//! outside it. Its content and entry count are bounded however well it compresses. Modes are
//! not kept: directories are 0700 and files 0600, owned by the session user.

use std::ffi::OsStr;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags, CWD};
use tar::{EntryType, Header};

use crate::{CaptureError, SessionUser};

/// Most bytes of file content an archive of user data holds, packed or unpacked.
pub const MAX_USER_DATA_BYTES: u64 = 512 * 1024 * 1024;
/// Most entries (files and directories) an archive of user data holds.
pub const MAX_USER_DATA_ENTRIES: u64 = 100_000;

/// Names never saved nor restored, at any depth: Chromium's caches (it rebuilds them), its
/// crash and metrics files, the locks of the process that wrote them, and `DevToolsActivePort`,
/// which a new browser must write afresh before the server reads it.
const SKIPPED: [&str; 21] = [
    "Cache",
    "Code Cache",
    "GPUCache",
    "GrShaderCache",
    "GraphiteDawnCache",
    "DawnCache",
    "DawnGraphiteCache",
    "DawnWebGPUCache",
    "ShaderCache",
    // Under `Service Worker/`.
    "CacheStorage",
    "ScriptCache",
    "component_crx_cache",
    "extensions_crx_cache",
    "Crashpad",
    "Crash Reports",
    "BrowserMetrics",
    "BrowserMetrics-spare.pma",
    "DevToolsActivePort",
    "SingletonLock",
    "SingletonSocket",
    "SingletonCookie",
];

fn is_skipped(name: &OsStr) -> bool {
    SKIPPED
        .iter()
        .any(|skipped| name.as_bytes() == skipped.as_bytes())
}

/// Counts what an archive holds, against [`MAX_USER_DATA_BYTES`] and [`MAX_USER_DATA_ENTRIES`].
#[derive(Default)]
struct Budget {
    bytes: u64,
    entries: u64,
}

impl Budget {
    fn add(&mut self, bytes: u64) -> Result<(), CaptureError> {
        self.bytes = self.bytes.saturating_add(bytes);
        self.entries += 1;
        if self.bytes > MAX_USER_DATA_BYTES {
            return Err(CaptureError::UserDataTooLarge(format!(
                "more than {} MiB of files",
                MAX_USER_DATA_BYTES >> 20
            )));
        }
        if self.entries > MAX_USER_DATA_ENTRIES {
            return Err(CaptureError::UserDataTooLarge(format!(
                "more than {MAX_USER_DATA_ENTRIES} files and directories"
            )));
        }
        Ok(())
    }
}

fn errno(e: rustix::io::Errno) -> CaptureError {
    CaptureError::Io(e.into())
}

/// Opens the directory `name` under `dir` without following a link.
fn open_dir(dir: impl AsFd, name: impl rustix::path::Arg) -> std::io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    Ok(rustix::fs::openat(dir, name, flags, Mode::empty())?)
}

/// Packs the user-data dir `dir` into a zstd-compressed tar whose paths are relative to it.
///
/// Errors: [`CaptureError::UserDataTooLarge`] past the bounds (caches left out), I/O failures.
/// It holds the tar and then its compressed copy in memory, each bounded by the limits.
pub fn pack(dir: &Path) -> Result<Vec<u8>, CaptureError> {
    let root = open_dir(CWD, dir)?;
    let mut tar = tar::Builder::new(Vec::new());
    pack_dir(&mut tar, root, Path::new(""), &mut Budget::default())?;
    let tar = tar.into_inner()?;
    Ok(ruzstd::encoding::compress_to_vec(
        tar.as_slice(),
        ruzstd::encoding::CompressionLevel::Fastest,
    ))
}

/// Appends what the directory `fd` (at `relative` in the archive) holds, depth first.
fn pack_dir(
    tar: &mut tar::Builder<Vec<u8>>,
    fd: OwnedFd,
    relative: &Path,
    budget: &mut Budget,
) -> Result<(), CaptureError> {
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(&fd).map_err(errno)? {
        let name = OsStr::from_bytes(entry.map_err(errno)?.file_name().to_bytes()).to_owned();
        if name != "." && name != ".." && !is_skipped(&name) {
            names.push(name);
        }
    }
    // A stable order: the same user data packs into the same archive.
    names.sort();
    for name in names {
        let path = relative.join(&name);
        let stat = rustix::fs::statat(&fd, name.as_os_str(), rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
            .map_err(errno)?;
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::Directory => {
                budget.add(0)?;
                let sub = open_dir(&fd, name.as_os_str())?;
                append(tar, &path, EntryType::Directory, 0o700, 0, std::io::empty())?;
                pack_dir(tar, sub, &path, budget)?;
            }
            FileType::RegularFile => {
                let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
                let file = std::fs::File::from(
                    rustix::fs::openat(&fd, name.as_os_str(), flags, Mode::empty())
                        .map_err(errno)?,
                );
                let metadata = file.metadata()?;
                // Replaced by something else since it was looked at: not user data.
                if !metadata.is_file() {
                    continue;
                }
                let len = metadata.len();
                budget.add(len)?;
                let content = Exactly { file, left: len };
                append(tar, &path, EntryType::Regular, 0o600, len, content)?;
            }
            // Links, sockets, FIFOs and devices are not user data.
            _ => {}
        }
    }
    Ok(())
}

fn append(
    tar: &mut tar::Builder<Vec<u8>>,
    path: &Path,
    kind: EntryType,
    mode: u32,
    len: u64,
    content: impl Read,
) -> std::io::Result<()> {
    let mut header = Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(len);
    tar.append_data(&mut header, path, content)
}

/// Reads exactly `left` bytes of a file, and fails if it ends sooner: the tar header already
/// says how long the entry is.
struct Exactly {
    file: std::fs::File,
    left: u64,
}

impl Read for Exactly {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let most = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let read = self.file.read(&mut buf[..most])?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.left -= read as u64;
        Ok(read)
    }
}

/// Unpacks `archive` (as [`pack`] makes them, or any zstd-compressed tar) into the new
/// directory `dir`, which must not exist, owned by `owner` when given (the session user,
/// when the server is root).
///
/// Errors: [`CaptureError::Archive`] for an archive that is not a zstd tar or names a path
/// outside `dir`, [`CaptureError::UserDataTooLarge`] past the bounds, I/O failures.
pub fn unpack(archive: &[u8], dir: &Path, owner: Option<&SessionUser>) -> Result<(), CaptureError> {
    std::fs::DirBuilder::new().mode(0o700).create(dir)?;
    let root = open_dir(CWD, dir)?;
    give(&root, owner)?;
    let mut tar = tar::Archive::new(tar_reader(archive)?);
    let mut budget = Budget::default();
    for entry in tar.entries()? {
        let mut entry = entry?;
        budget.add(entry.size())?;
        let path = entry.path()?.into_owned();
        let Some(parts) = plain_parts(&path)? else {
            continue;
        };
        match entry.header().entry_type() {
            EntryType::Directory => {
                open_dirs(&root, &parts, owner)?;
            }
            EntryType::Regular | EntryType::Continuous => {
                let Some((name, parents)) = parts.split_last() else {
                    continue;
                };
                let parent = open_dirs(&root, parents, owner)?;
                let flags = OFlags::WRONLY
                    | OFlags::CREATE
                    | OFlags::EXCL
                    | OFlags::NOFOLLOW
                    | OFlags::CLOEXEC;
                let fd = rustix::fs::openat(&parent, *name, flags, Mode::from_raw_mode(0o600))
                    .map_err(|e| {
                        CaptureError::Archive(format!("cannot create {}: {e}", path.display()))
                    })?;
                give(&fd, owner)?;
                // The entry reads exactly the size its header gave, which the budget took.
                std::io::copy(&mut entry, &mut std::fs::File::from(fd))?;
            }
            // Links, hard links, devices and FIFOs are never created.
            _ => {}
        }
    }
    Ok(())
}

/// The tar inside the zstd-compressed `archive`, decompressed as it is read.
///
/// Errors: [`CaptureError::Archive`] when it does not start as zstd; a later flaw fails a read.
pub fn tar_reader<R: Read>(archive: R) -> Result<impl Read, CaptureError> {
    ruzstd::decoding::StreamingDecoder::new(archive)
        .map_err(|e| CaptureError::Archive(format!("not zstd-compressed: {e}")))
}

/// The components of an archive path, when it is relative and stays inside (`.` is dropped);
/// `None` for an empty path or one through a skipped name.
fn plain_parts(path: &Path) -> Result<Option<Vec<&OsStr>>, CaptureError> {
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) if is_skipped(part) => return Ok(None),
            Component::Normal(part) => parts.push(part),
            Component::CurDir => {}
            Component::RootDir | Component::ParentDir | Component::Prefix(_) => {
                return Err(CaptureError::Archive(format!(
                    "{} is not a plain relative path",
                    path.display()
                )))
            }
        }
    }
    Ok((!parts.is_empty()).then_some(parts))
}

/// Opens the directory `parts` under `root`, creating what is missing, never through a link.
fn open_dirs(
    root: &OwnedFd,
    parts: &[&OsStr],
    owner: Option<&SessionUser>,
) -> Result<OwnedFd, CaptureError> {
    let mut dir = root.try_clone()?;
    for part in parts {
        match rustix::fs::mkdirat(&dir, *part, Mode::from_raw_mode(0o700)) {
            Ok(()) => {
                let created = open_dir(&dir, *part)?;
                give(&created, owner)?;
                dir = created;
            }
            Err(rustix::io::Errno::EXIST) => {
                dir = open_dir(&dir, *part).map_err(|e| {
                    CaptureError::Archive(format!(
                        "{} is in the archive as a file and a directory: {e}",
                        PathBuf::from(part).display()
                    ))
                })?;
            }
            Err(e) => return Err(errno(e)),
        }
    }
    Ok(dir)
}

/// Hands a created file or directory to `owner`, when there is one.
fn give(fd: &OwnedFd, owner: Option<&SessionUser>) -> Result<(), CaptureError> {
    if let Some(user) = owner {
        std::os::unix::fs::fchown(fd, Some(user.uid), Some(user.gid))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, content: &[u8]) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    /// Every file under `dir`, relative, with its content.
    fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut found = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(at) = stack.pop() {
            for entry in std::fs::read_dir(at).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let relative = path.strip_prefix(dir).unwrap().display().to_string();
                    found.push((relative, std::fs::read(&path).unwrap()));
                }
            }
        }
        found.sort();
        found
    }

    /// A zstd tar of `entries` (path, kind, content, link target) as written by hand.
    fn crafted(entries: &[(&str, EntryType, &[u8], Option<&str>)]) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        for (path, kind, content, link) in entries {
            let mut header = Header::new_gnu();
            header.set_entry_type(*kind);
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            // The path is set raw: `append_data` would refuse `..` itself.
            let name = &mut header.as_old_mut().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            if let Some(target) = link {
                header.set_link_name(target).unwrap();
            }
            header.set_cksum();
            tar.append(&header, *content).unwrap();
        }
        let tar = tar.into_inner().unwrap();
        ruzstd::encoding::compress_to_vec(
            tar.as_slice(),
            ruzstd::encoding::CompressionLevel::Fastest,
        )
    }

    #[test]
    fn user_data_round_trips_without_caches_locks_or_links() {
        let tmp = tempfile::tempdir().unwrap();
        let saved = tmp.path().join("saved");
        write(&saved.join("Local State"), b"{}");
        write(&saved.join("Default/Cookies"), b"cookie jar");
        write(
            &saved.join("Default/Local Storage/leveldb/000003.log"),
            &[7; 70_000],
        );
        write(&saved.join("Default/Cache/Cache_Data/data_0"), b"cached");
        write(
            &saved.join("Default/Service Worker/CacheStorage/x"),
            b"cached",
        );
        write(
            &saved.join("Default/Service Worker/Database/CURRENT"),
            b"kept",
        );
        write(
            &saved.join("DevToolsActivePort"),
            b"9222\n/devtools/browser/x",
        );
        write(&tmp.path().join("outside"), b"secret");
        std::os::unix::fs::symlink(tmp.path().join("outside"), saved.join("Default/link")).unwrap();
        std::os::unix::fs::symlink("/", saved.join("SingletonLock")).unwrap();

        let archive = pack(&saved).unwrap();
        assert!(
            archive.len() < 10_000,
            "compressed: {} bytes",
            archive.len()
        );
        let restored = tmp.path().join("restored");
        unpack(&archive, &restored, None).unwrap();
        let expected: Vec<(String, Vec<u8>)> = [
            ("Default/Cookies", b"cookie jar".to_vec()),
            ("Default/Local Storage/leveldb/000003.log", vec![7; 70_000]),
            ("Default/Service Worker/Database/CURRENT", b"kept".to_vec()),
            ("Local State", b"{}".to_vec()),
        ]
        .into_iter()
        .map(|(path, content)| (path.to_owned(), content))
        .collect();
        assert_eq!(files(&restored), expected);
        assert_eq!(
            pack(&restored).unwrap(),
            archive,
            "packing is deterministic"
        );
        // It unpacks only into a directory of its own making.
        assert!(unpack(&archive, &restored, None).is_err());
    }

    #[test]
    fn paths_out_of_the_directory_are_refused_and_links_never_created() {
        let tmp = tempfile::tempdir().unwrap();
        let escape = crafted(&[("../escaped", EntryType::Regular, b"x", None)]);
        let into = tmp.path().join("a");
        assert!(matches!(
            unpack(&escape, &into, None),
            Err(CaptureError::Archive(_))
        ));
        assert!(!tmp.path().join("escaped").exists());

        let absolute = crafted(&[("/tmp/absolute", EntryType::Regular, b"x", None)]);
        assert!(matches!(
            unpack(&absolute, &tmp.path().join("b"), None),
            Err(CaptureError::Archive(_))
        ));

        // A link to outside, then a file written "through" it: the link is never made, so the
        // file lands inside.
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let through = crafted(&[
            (
                "d",
                EntryType::Symlink,
                b"",
                Some(outside.to_str().unwrap()),
            ),
            ("d/file", EntryType::Regular, b"in", None),
            ("hard", EntryType::Link, b"", Some("/etc/passwd")),
        ]);
        let into = tmp.path().join("c");
        unpack(&through, &into, None).unwrap();
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        assert_eq!(files(&into), [("d/file".to_owned(), b"in".to_vec())]);
    }

    #[test]
    fn a_well_compressed_archive_cannot_unpack_past_the_bound() {
        let tmp = tempfile::tempdir().unwrap();
        // The header claims more than the bound; the budget refuses before reading it.
        let mut header = Header::new_gnu();
        header.set_entry_type(EntryType::Regular);
        header.set_size(MAX_USER_DATA_BYTES + 1);
        header.set_path("big").unwrap();
        header.set_cksum();
        let mut raw = header.as_bytes().to_vec();
        raw.extend_from_slice(&[0; 4096]);
        let archive = ruzstd::encoding::compress_to_vec(
            raw.as_slice(),
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        assert!(matches!(
            unpack(&archive, &tmp.path().join("big"), None),
            Err(CaptureError::UserDataTooLarge(_))
        ));
        assert!(matches!(
            unpack(b"not zstd", &tmp.path().join("junk"), None),
            Err(CaptureError::Archive(_))
        ));
    }
}
