//! The GitLab component's install script (templates/tokengate.yml), read
//! from the YAML with its inputs substituted, run with bash in an empty
//! directory against a fake release server on 127.0.0.1: it installs a
//! working tokengate from the archive and refuses a bad checksum.

use std::path::Path;
use std::process::Command;

use axum::Router;
use axum::routing::get;
use sha2::{Digest, Sha256};

const VERSION: &str = "9.8.7";
const TARGET: &str = "x86_64-unknown-linux-musl";

/// The first `script:` item of the component's job, with `inputs`
/// substituted as GitLab would.
fn install_script(job_name: &str, release_url: &str) -> (String, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("templates/tokengate.yml")).expect("component");
    let jobs = text.split("\n---\n").nth(1).expect("a jobs document");
    let jobs = jobs
        .replace("$[[ inputs.job-name ]]", job_name)
        .replace("$[[ inputs.version ]]", VERSION)
        .replace("$[[ inputs.release-url ]]", release_url);
    let doc: serde_json::Value = serde_saphyr::from_str(&jobs).expect("jobs YAML");
    let (name, job) = doc
        .as_object()
        .and_then(|o| o.iter().next())
        .expect("one job");
    let script = job["script"][0].as_str().expect("script item").to_owned();
    (name.clone(), script)
}

async fn serve(archive: Vec<u8>, sums: String) -> String {
    let asset = format!("/releases/download/v{VERSION}/tokengate-v{VERSION}-{TARGET}.tar.gz");
    let app = Router::new()
        .route(&asset, get(move || async move { archive.clone() }))
        .route(
            &format!("/releases/download/v{VERSION}/SHA256SUMS"),
            get(move || async move { sums.clone() }),
        );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    format!("http://{addr}/releases/download")
}

/// `tokengate-vX.Y.Z-TARGET.tar.gz` holding the built binary in a
/// `tokengate-vX.Y.Z-TARGET/` directory.
fn archive(dir: &Path) -> Vec<u8> {
    let stem = format!("tokengate-v{VERSION}-{TARGET}");
    std::fs::create_dir_all(dir.join(&stem)).expect("mkdir");
    std::fs::copy(
        env!("CARGO_BIN_EXE_tokengate"),
        dir.join(&stem).join("tokengate"),
    )
    .expect("copy binary");
    let tgz = dir.join(format!("{stem}.tar.gz"));
    let st = Command::new("tar")
        .arg("-czf")
        .arg(&tgz)
        .arg("-C")
        .arg(dir)
        .arg(&stem)
        .status()
        .expect("tar");
    assert!(st.success());
    std::fs::read(tgz).expect("read archive")
}

fn run_job(script: &str, project: &Path, release_url: &str) -> std::process::Output {
    Command::new("bash")
        .arg("-euo")
        .arg("pipefail")
        .arg("-c")
        .arg(script)
        .current_dir(project)
        .env_clear()
        // No tokengate on PATH: the script must download it.
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", project)
        .env("CI_PROJECT_DIR", project)
        .env("TG_VERSION", VERSION)
        .env("TG_RELEASE_URL", release_url)
        .output()
        .expect("bash")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn component_job_in_an_empty_directory_installs_a_working_tokengate() {
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("skipped: the fake release serves an x86_64 archive");
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let bytes = archive(work.path());
    let sum = hex(&Sha256::digest(&bytes));
    let url = serve(
        bytes,
        format!(
            "{}  other.tar.gz\n{sum}  tokengate-v{VERSION}-{TARGET}.tar.gz\n",
            "0".repeat(64)
        ),
    )
    .await;
    let (name, script) = install_script("perf-gpu-a", &url);
    assert_eq!(name, "perf-gpu-a", "the job is named by the input");
    let project = tempfile::tempdir().expect("empty project");
    let out = tokio::task::spawn_blocking({
        let p = project.path().to_owned();
        move || run_job(&script, &p, &url)
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.contains(&format!("tokengate {}", env!("CARGO_PKG_VERSION"))),
        "{stdout}"
    );
    assert!(project.path().join(".tokengate/bin/tokengate").is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn component_job_refuses_an_archive_whose_checksum_does_not_match() {
    if std::env::consts::ARCH != "x86_64" {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let bytes = archive(work.path());
    let url = serve(
        bytes,
        format!(
            "{}  tokengate-v{VERSION}-{TARGET}.tar.gz\n",
            "ab".repeat(32)
        ),
    )
    .await;
    let (_, script) = install_script("tokengate", &url);
    let project = tempfile::tempdir().expect("empty project");
    let out = tokio::task::spawn_blocking({
        let p = project.path().to_owned();
        move || run_job(&script, &p, &url)
    })
    .await
    .expect("join");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("checksum mismatch"), "{stderr}");
    assert!(!project.path().join(".tokengate/bin/tokengate").exists());
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
