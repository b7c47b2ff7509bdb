//! The release archive as `scripts/package-release.sh` packs it (the layout
//! the action's install, `cargo binstall` and the README's curl line rely
//! on), and the static musl binary when it has been built.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest as _, Sha256};

pub const TARGET: &str = "x86_64-unknown-linux-musl";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `tokengate-vX.Y.Z-TARGET`, the archive's one top-level directory.
pub fn archive_stem(target: &str) -> String {
    format!("tokengate-v{}-{target}", env!("CARGO_PKG_VERSION"))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A stand-in for the release binary: a script that runs the tokengate this
/// test suite built (a copy of the 300 MB debug binary would make every
/// archive slow to pack). It answers `--version` and `release-assets` as
/// the real one does.
pub fn stand_in_binary(dir: &Path) -> PathBuf {
    let path = dir.join("tokengate-stand-in");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nexec '{}' \"$@\"\n",
            env!("CARGO_BIN_EXE_tokengate")
        ),
    )
    .expect("write stand-in");
    let mut perm = std::fs::metadata(&path).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&path, perm).expect("chmod");
    path
}

/// Run the packaging script for `target` with `bin` into `out`.
pub fn package(bin: &Path, target: &str, out: &Path) -> std::process::Output {
    Command::new("bash")
        .arg(repo_root().join("scripts/package-release.sh"))
        .arg(target)
        .arg(out)
        .env("TOKENGATE_BIN", bin)
        .output()
        .expect("run package-release.sh")
}

fn list_archive(archive: &Path) -> Vec<String> {
    let out = Command::new("tar")
        .arg("-tzf")
        .arg(archive)
        .output()
        .expect("tar -t");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim_end_matches('/').to_owned())
        .collect()
}

/// The archive holds one directory with the binary, the three documents,
/// the completions of four shells and one man page per visible command
/// (none for the hidden `release-assets` nor clap's `help`);
/// its `.sha256` line is `sha256  NAME` of the archive's bytes.
fn assert_layout(out: &Path, target: &str) -> PathBuf {
    let stem = archive_stem(target);
    let archive = out.join(format!("{stem}.tar.gz"));
    let entries = list_archive(&archive);
    let mut expected: Vec<String> = [
        "",
        "/tokengate",
        "/LICENSE",
        "/README.md",
        "/CHANGELOG.md",
        "/completions",
        "/completions/tokengate.bash",
        "/completions/_tokengate",
        "/completions/tokengate.fish",
        "/completions/_tokengate.ps1",
        "/man",
        "/man/tokengate.1",
    ]
    .iter()
    .map(|e| format!("{stem}{e}"))
    .collect();
    for command in [
        "run",
        "gate",
        "check",
        "baseline",
        "baseline-promote",
        "baseline-list",
        "baseline-show",
        "baseline-explain",
        "report",
        "comment",
        "sim",
        "sweep",
        "soak",
        "calibrate",
        "ab",
        "merge",
        "export",
        "import",
        "history",
    ] {
        expected.push(format!("{stem}/man/tokengate-{command}.1"));
    }
    let mut got = entries.clone();
    got.sort();
    expected.sort();
    assert_eq!(got, expected);

    let bytes = std::fs::read(&archive).expect("read archive");
    let line = std::fs::read_to_string(out.join(format!("{stem}.tar.gz.sha256"))).expect("sha256");
    assert_eq!(
        line,
        format!("{}  {stem}.tar.gz\n", sha256_hex(&bytes)),
        "a SHA256SUMS line"
    );
    archive
}

#[test]
fn package_release_packs_binary_docs_completions_and_man_pages_with_a_checksum() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bin = stand_in_binary(tmp.path());
    let out = tmp.path().join("dist");
    let run = package(&bin, TARGET, &out);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let archive = assert_layout(&out, TARGET);

    // The files are real: the completions and man pages describe tokengate.
    let x = tmp.path().join("x");
    std::fs::create_dir(&x).expect("mkdir");
    let untar = Command::new("tar")
        .arg("-xzf")
        .arg(&archive)
        .arg("-C")
        .arg(&x)
        .status()
        .expect("tar -x");
    assert!(untar.success());
    let root = x.join(archive_stem(TARGET));
    let bash = std::fs::read_to_string(root.join("completions/tokengate.bash")).expect("bash");
    assert!(bash.contains("_tokengate") && bash.contains("--baseline-ref"));
    let man = std::fs::read_to_string(root.join("man/tokengate-check.1")).expect("man page");
    assert!(man.contains(".TH tokengate-check") && man.contains("baseline\\-ref"));
    assert_eq!(
        std::fs::read(root.join("LICENSE")).expect("LICENSE"),
        std::fs::read(repo_root().join("LICENSE")).expect("repo LICENSE")
    );
    let version = Command::new(root.join("tokengate"))
        .arg("--version")
        .output()
        .expect("run packed binary");
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("tokengate {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn package_release_refuses_a_binary_of_another_version_and_a_bad_target() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let wrong = tmp.path().join("old-tokengate");
    std::fs::write(&wrong, "#!/bin/sh\necho 'tokengate 0.0.1'\n").expect("write");
    let mut perm = std::fs::metadata(&wrong).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&wrong, perm).expect("chmod");
    let out = tmp.path().join("dist");

    let run = package(&wrong, TARGET, &out);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("reports 'tokengate 0.0.1', Cargo.toml says"),
        "{stderr}"
    );

    let run = package(&stand_in_binary(tmp.path()), "../../etc", &out);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is not a target triple"), "{stderr}");
    assert_eq!(
        std::fs::read_dir(&out).map(|d| d.count()).unwrap_or(0),
        0,
        "nothing packed"
    );
}

/// The real release binary: `cargo build --release --target
/// x86_64-unknown-linux-musl` (needs musl-gcc, Debian's musl-tools, for the
/// C parts: ring and the vendored libgit2), then this test packs it and
/// checks that `file` calls it static.
#[test]
#[ignore = "needs the musl release build: cargo build --release --target x86_64-unknown-linux-musl"]
fn musl_release_binary_is_static_and_packs() {
    // The target dir: `…/debug/tokengate` is this suite's binary.
    let target_dir = PathBuf::from(env!("CARGO_BIN_EXE_tokengate"))
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_owned();
    let bin = target_dir.join(TARGET).join("release/tokengate");
    assert!(bin.is_file(), "{} not built", bin.display());
    let file = Command::new("file").arg(&bin).output().expect("run file");
    let file = String::from_utf8_lossy(&file.stdout);
    assert!(
        file.contains("statically linked") || file.contains("static-pie linked"),
        "{file}"
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let run = package(&bin, TARGET, tmp.path());
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_layout(tmp.path(), TARGET);
}
