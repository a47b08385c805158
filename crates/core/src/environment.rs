//! Which environment variables a client may give a session's processes.
//!
//! A session's environment is an allowlist: the server sets `DISPLAY`, `HOME` and `PATH`, passes
//! its own `LANG` and `TZ`, and adds the variables the client asked for (a GBOX box's
//! `config.envs`). Those may be anything except the three the server sets and the names that
//! change how a program is loaded or run rather than what it does: the dynamic loader's, the C
//! library's, a shell's start-up files, interpreters' option and module-path variables, and the
//! module and driver paths of the toolkits Chromium and ffmpeg load. Names are compared without
//! regard to case, since some programs read them that way.

/// Names the server sets itself; a client's value would move the session to another display,
/// home or set of programs.
const SET_BY_SERVER: &[&str] = &["DISPLAY", "HOME", "PATH"];

/// Whole names that change how programs load or run.
const REFUSED: &[&str] = &[
    // glibc: the variables it ignores for set-user-ID programs, because they load code or data.
    "GCONV_PATH",
    "GETCONF_DIR",
    "HOSTALIASES",
    "LOCALDOMAIN",
    "LOCPATH",
    "NIS_PATH",
    "NLSPATH",
    "RESOLV_HOST_CONF",
    "RES_OPTIONS",
    "TMPDIR",
    "TZDIR",
    // Shells: start-up files, options and word splitting of every script on the way
    // (Debian's /usr/bin/chromium is a shell script).
    "BASH_ENV",
    "ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "IFS",
    "CDPATH",
    "GLOBIGNORE",
    "PS4",
    "PROMPT_COMMAND",
    // Interpreters: options and module paths.
    "RUBYOPT",
    "RUBYLIB",
    "CLASSPATH",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "PHPRC",
    "PHP_INI_SCAN_DIR",
    "TCLLIBPATH",
    // Toolkits and drivers that load modules from a path.
    "GTK_MODULES",
    "GTK_PATH",
    "GTK_EXE_PREFIX",
    "GTK_IM_MODULE_FILE",
    "GIO_EXTRA_MODULES",
    "GIO_MODULE_DIR",
    "GDK_PIXBUF_MODULE_FILE",
    "GDK_PIXBUF_MODULEDIR",
    "QT_PLUGIN_PATH",
    "QT_QPA_PLATFORM_PLUGIN_PATH",
    "LIBGL_DRIVERS_PATH",
    "LIBVA_DRIVERS_PATH",
    "VDPAU_DRIVER_PATH",
    "OPENSSL_CONF",
    "OPENSSL_ENGINES",
    "OPENSSL_MODULES",
    "XAUTHORITY",
    "XLOCALEDIR",
    "FFREPORT",
];

/// Name prefixes that change how programs load or run.
const REFUSED_PREFIXES: &[&str] = &[
    "LD_",        // the dynamic loader: LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT, ...
    "GLIBC_",     // GLIBC_TUNABLES
    "MALLOC_",    // glibc's allocator checks and traces
    "BASH_FUNC_", // exported shell functions
    "PYTHON",     // PYTHONPATH, PYTHONSTARTUP, PYTHONHOME, ...
    "PERL",       // PERL5LIB, PERL5OPT, PERLLIB, PERL_*
    "RUBY",
    "GEM_",
    "NODE_", // NODE_OPTIONS, NODE_PATH
    "LUA_",
    "GST_PLUGIN", // GStreamer plugin paths
    "VK_",        // Vulkan loader: ICD and layer files
    "__EGL_",     // EGL vendor library paths
    "__GLX_",
    "DBUS_",     // a bus address outside the session's box
    "CHROME_",   // Chromium: CHROME_DEVEL_SANDBOX, CHROME_WRAPPER, ...
    "CHROMIUM_", // Debian's launcher: CHROMIUM_FLAGS
];

/// Name suffixes that change how programs load or run (`*_PRELOAD` in any program's namespace).
const REFUSED_SUFFIXES: &[&str] = &["_PRELOAD", "_LIBRARY_PATH"];

/// Why a client may not set `name` in a session's environment, or `None` when it may.
/// Refuses `envs` unless every name is a plain variable name (`[A-Za-z_][A-Za-z0-9_]*`) the
/// allowlist takes and no value holds a NUL.
///
/// Errors: `InvalidInput` naming the first variable refused and why.
pub fn check(envs: &std::collections::BTreeMap<String, String>) -> Result<(), crate::EngineError> {
    for (key, value) in envs {
        if !is_env_name(key) || value.contains('\0') {
            return Err(crate::EngineError::InvalidInput(format!(
                "{key:?} is not a valid environment variable name, or its value holds a NUL"
            )));
        }
        if let Some(why) = refusal(key) {
            return Err(crate::EngineError::InvalidInput(format!(
                "environment variable {key} {why}; it cannot be set for a session"
            )));
        }
    }
    Ok(())
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(crate) fn refusal(name: &str) -> Option<&'static str> {
    let upper = name.to_ascii_uppercase();
    if SET_BY_SERVER.contains(&upper.as_str()) {
        return Some("is set by the server");
    }
    let loads = REFUSED.contains(&upper.as_str())
        || REFUSED_PREFIXES.iter().any(|p| upper.starts_with(p))
        || REFUSED_SUFFIXES.iter().any(|s| upper.ends_with(s));
    loads.then_some("changes how programs load or run")
}

#[cfg(test)]
mod tests {
    use super::refusal;

    #[test]
    fn loader_interpreter_and_shell_variables_are_refused() {
        for name in [
            "LD_PRELOAD",
            "LD_LIBRARY_PATH",
            "ld_audit",
            "GCONV_PATH",
            "GLIBC_TUNABLES",
            "MALLOC_CHECK_",
            "BASH_ENV",
            "ENV",
            "NODE_OPTIONS",
            "PYTHONPATH",
            "PYTHONSTARTUP",
            "PERL5OPT",
            "PERL5LIB",
            "RUBYOPT",
            "JAVA_TOOL_OPTIONS",
            "GTK_MODULES",
            "VK_ICD_FILENAMES",
            "DBUS_SESSION_BUS_ADDRESS",
            "CHROME_DEVEL_SANDBOX",
            "MY_PRELOAD",
            "GST_PLUGIN_SYSTEM_PATH",
        ] {
            assert_eq!(
                refusal(name),
                Some("changes how programs load or run"),
                "{name}"
            );
        }
    }

    #[test]
    fn the_servers_own_variables_are_refused() {
        for name in ["DISPLAY", "HOME", "PATH", "path"] {
            assert_eq!(refusal(name), Some("is set by the server"), "{name}");
        }
    }

    #[test]
    fn ordinary_variables_are_allowed() {
        for name in [
            "TZ",
            "LANG",
            "LC_ALL",
            "LANGUAGE",
            "API_TOKEN",
            "DEBUG",
            "NODE",
        ] {
            assert_eq!(refusal(name), None, "{name}");
        }
    }
}
