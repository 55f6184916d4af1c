//! Puts the git revision into `--version`, so a binary copied onto a server says what it is;
//! and on Linux with glibc, links the binaries so that they start faster (see "Start-up" in
//! BENCHMARKS.md).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let revision = Command::new("git")
        .args(["describe", "--always", "--dirty", "--exclude", "*"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let version = env!("CARGO_PKG_VERSION");
    let full = match revision {
        Some(rev) => format!("{version} (git {rev})"),
        // A source archive or a wheel build outside the repository.
        None => version.to_string(),
    };
    println!("cargo:rustc-env=SOCKCTL_VERSION={full}");
    for path in [".git/HEAD", ".git/index"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    if let Ok(head) = std::fs::read_to_string(".git/HEAD")
        && let Some(reference) = head.strip_prefix("ref: ")
    {
        println!("cargo:rerun-if-changed=.git/{}", reference.trim());
    }
    link_for_start_up();
}

fn env(name: &str) -> String {
    println!("cargo:rerun-if-env-changed={name}");
    std::env::var(name).unwrap_or_default()
}

/// A dynamically linked glibc binary, as `cargo build --release` makes, spends most of a
/// one-shot `send` starting up. Two link settings of the binaries (not of the library, whose
/// users link as they please) take a tenth off that:
///
/// - **The unwinder is linked in** rather than loaded: std needs libgcc's unwinder (for
///   backtraces; with `panic = "abort"` nothing unwinds), and links it as `-lgcc_s`, a second
///   shared library for the dynamic loader to find, map, relocate and initialize on every run.
///   A linker script named `libgcc_s.so`, found first on the search path, makes `-lgcc_s` mean
///   the static `libgcc_eh.a` instead, as a `crt-static` build links it. glibc still loads
///   libgcc_s.so.1 by itself in the rare cases it needs it (`pthread_cancel`).
/// - **Relative relocations are packed** (`DT_RELR`): the binary's 3,000-odd pointers to
///   itself are listed in under 1 KiB instead of 77 KiB that the loader reads at every start.
///   The binary then needs glibc 2.36 or newer (`GLIBC_ABI_DT_RELR`), so this is done only
///   when building for the machine that builds, and when its glibc is that recent.
fn link_for_start_up() {
    if env("CARGO_CFG_TARGET_OS") != "linux" || env("CARGO_CFG_TARGET_ENV") != "gnu" {
        return;
    }
    if env("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|feature| feature == "crt-static")
    {
        return;
    }
    if let Some(archive) = libgcc_eh() {
        let dir = PathBuf::from(env("OUT_DIR")).join("static-unwinder");
        let script = format!("INPUT(\"{}\")\n", archive.display());
        if std::fs::create_dir_all(&dir).is_ok()
            && std::fs::write(dir.join("libgcc_s.so"), script).is_ok()
        {
            println!("cargo:rustc-link-arg-bins=-L{}", dir.display());
        }
    }
    if env("HOST") == env("TARGET") && glibc_version().is_some_and(|v| v >= (2, 36)) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Where the C compiler that links (cargo's `RUSTC_LINKER`, else `cc`) has `libgcc_eh.a`.
fn libgcc_eh() -> Option<PathBuf> {
    let linker = Some(env("RUSTC_LINKER"))
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| "cc".to_string());
    let out = Command::new(linker)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
        .ok()
        .filter(|out| out.status.success())?;
    let path = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    // Without it, the compiler prints the bare name back.
    (path.is_absolute() && Path::new(&path).is_file() && !path.to_string_lossy().contains('"'))
        .then_some(path)
}

/// The running glibc's version, e.g. (2, 36).
fn glibc_version() -> Option<(u32, u32)> {
    let out = Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .ok()
        .filter(|out| out.status.success())?;
    let text = String::from_utf8(out.stdout).ok()?;
    let (major, minor) = text.trim().strip_prefix("glibc ")?.split_once('.')?;
    let minor = minor.split(|c: char| !c.is_ascii_digit()).next()?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}
