//! Embeds the dashboard (`web/dist`, which `npm run build` in `web/` makes) in the binary: the
//! generated `dashboard_assets.rs` lists every built file with its bytes, so `tapedeck serve`
//! needs nothing beside itself at run time. Without `web/dist` (a fresh clone before
//! `scripts/install-deps`) the list is empty and `/` says how to build it, so `cargo build`
//! works in any order.

use std::path::{Path, PathBuf};
use std::{env, fs, io};

fn main() -> io::Result<()> {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let web = manifest.join("../../web");
    let dist = web.join("dist");
    let mut files = Vec::new();
    if dist.is_dir() {
        collect(&dist, &dist, &mut files)?;
        println!("cargo:rerun-if-changed={}", dist.display());
    } else {
        // Noticing `dist` appear means watching its parent until it does.
        println!("cargo:rerun-if-changed={}", web.display());
    }
    files.sort();
    let mut source = String::from(
        "/// The dashboard's built files: each path below `web/dist`, and its bytes.\n\
         pub static ASSETS: &[(&str, &[u8])] = &[\n",
    );
    for (name, path) in files {
        source.push_str(&format!("    ({name:?}, include_bytes!({path:?})),\n"));
    }
    source.push_str("];\n");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    fs::write(out.join("dashboard_assets.rs"), source)
}

/// Every file below `dir`, as its `/`-separated path relative to `root` and its absolute path.
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, String)>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(root, &path, files)?;
        } else {
            let relative = path.strip_prefix(root).expect("below the root");
            let name = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let absolute = fs::canonicalize(&path)?;
            files.push((name, absolute.to_string_lossy().into_owned()));
        }
    }
    Ok(())
}
