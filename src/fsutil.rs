//! Small filesystem helpers shared by every reader and writer: bounded
//! reads of user-named files, atomic replace.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}")]
pub struct AtomicWriteError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Temporary files of [`write_atomic`] are `.<name>.tmp-<PID>`: hidden, and
/// named by the writer's process id so a stale one can be told from a live one.
const TMP_INFIX: &str = ".tmp-";

/// Remove temporary files of [`write_atomic`] in `dir` left by a writer
/// that no longer runs (killed by SIGKILL or the OOM killer before its
/// rename): they can be as large as a bundle and a `git add` of the
/// directory would commit them. A temporary file of a live process (a
/// concurrent writer) is left alone. Best effort: returns the removed paths.
pub fn remove_stale_temps(dir: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return removed;
    };
    // Bounded: one directory listing, no recursion.
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix('.')
            .and_then(|n| n.rsplit_once(TMP_INFIX))
            .and_then(|(_, pid)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || process_alive(pid) {
            continue;
        }
        if std::fs::remove_file(e.path()).is_ok() {
            removed.push(e.path());
        }
    }
    removed
}

/// Whether process `pid` exists (signal 0 checks without sending).
fn process_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        // SAFETY: kill with signal 0 only checks for the process.
        let rc = unsafe { libc::kill(pid, 0) };
        rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// Write `bytes` to `path` via a temporary file in the same directory,
/// fsync, then rename: readers see the old file or the new one, never half.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), AtomicWriteError> {
    let err = |source| AtomicWriteError {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(err)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}{TMP_INFIX}{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(err)
}

/// Cap of a configuration file read from user input (workload, gate file,
/// waivers, templates, profiles): far above any real one.
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// Cap of a data file read from user input (result bundles, stored
/// baseline runs, prompt files): far above a real run's bundle (tens of MB).
pub const MAX_DATA_BYTES: u64 = 512 << 20;

/// Read a whole user-named file, refusing anything that is not a regular
/// file (`/dev/zero`, a FIFO, a directory) and anything longer than `max`
/// bytes, so no input can exhaust memory or block the process.
///
/// The file is opened with `O_NONBLOCK` and checked on the open handle:
/// opening a FIFO without a writer returns at once instead of hanging, and
/// the check cannot race a rename. The read itself is bounded by `max + 1`
/// bytes, so a file that grows after the check is still refused. Errors are
/// plain `io::Error`s saying what was wrong; callers name the file.
pub fn read_bounded(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK);
    }
    let file = opts.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "not a regular file ({}); expected a regular file",
                kind_of(&meta)
            ),
        ));
    }
    if meta.len() > max {
        return Err(too_large(meta.len(), max));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(too_large(bytes.len() as u64, max));
    }
    Ok(bytes)
}

/// [`read_bounded`] as UTF-8 text.
pub fn read_bounded_string(path: &Path, max: u64) -> std::io::Result<String> {
    String::from_utf8(read_bounded(path, max)?).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not UTF-8 text; expected a UTF-8 text file",
        )
    })
}

fn too_large(bytes: u64, max: u64) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!(
            "file is {bytes} bytes or more, over the cap of {max} bytes ({} MiB)",
            max >> 20
        ),
    )
}

fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let ft = meta.file_type();
        if ft.is_fifo() {
            return "a FIFO";
        }
        if ft.is_char_device() {
            return "a character device";
        }
        if ft.is_block_device() {
            return "a block device";
        }
        if ft.is_socket() {
            return "a socket";
        }
    }
    if meta.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_reads_refuse_devices_fifos_and_big_files() {
        let e = read_bounded(Path::new("/dev/zero"), 10).expect_err("device");
        assert!(e.to_string().contains("a character device"), "{e}");
        let dir = tempfile::tempdir().expect("tempdir");
        let e = read_bounded(dir.path(), 10).expect_err("dir");
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().expect("utf-8")).expect("no nul");
        // SAFETY: a valid NUL-terminated path; mkfifo does not keep it.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // No writer: must return at once rather than block.
        let e = read_bounded(&fifo, 10).expect_err("fifo");
        assert!(e.to_string().contains("a FIFO"), "{e}");
        let f = dir.path().join("f");
        std::fs::write(&f, b"0123456789").expect("write");
        assert_eq!(read_bounded(&f, 10).expect("at the cap").len(), 10);
        let e = read_bounded(&f, 9).expect_err("over");
        assert!(e.to_string().contains("over the cap of 9 bytes"), "{e}");
    }

    #[test]
    fn stale_temp_files_are_removed_and_live_ones_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A process id above the kernel's maximum (4194304) never runs.
        let stale = dir.path().join(".a.json.tmp-999999999");
        let live = dir
            .path()
            .join(format!(".b.json.tmp-{}", std::process::id()));
        let other = dir.path().join("c.json");
        for p in [&stale, &live, &other] {
            std::fs::write(p, b"x").expect("write");
        }
        assert_eq!(remove_stale_temps(dir.path()), vec![stale.clone()]);
        assert!(!stale.exists() && live.exists() && other.exists());
    }
}
