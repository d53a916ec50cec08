//! The server on its host: what other local users can read, and two
//! servers on one data directory.

use crate::cli::{BIN, run_ok};
use crate::helpers::*;
use rustls::pki_types::{CertificateDer, pem::PemObject};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
}

/// Every directory and file under `dir` (itself included) with its mode.
fn modes(dir: &Path) -> Vec<(String, u32)> {
    let mut out = vec![(dir.display().to_string(), mode(dir))];
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(modes(&p));
        } else {
            out.push((p.display().to_string(), mode(&p)));
        }
    }
    out
}

/// Starts the real binary under `umask 022` (as many systems have it) and
/// returns it with its https:// URL.
fn start_with_umask(data: &Path) -> (Child, String, Vec<String>) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 022; exec '{BIN}' --data-dir '{}' --bind 127.0.0.1:0 --log info",
            data.display()
        ))
        .env_remove("SECURECHAT_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .strip_prefix("SecureChat is listening on ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_owned();
    // The log (stderr) up to the "serving" line, for what start-up said.
    let mut log = Vec::new();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    for line in stderr.by_ref() {
        let line = line.unwrap();
        let done = line.contains("serving");
        log.push(line);
        if done {
            break;
        }
    }
    // Keep reading, so the server's log never meets a closed pipe.
    std::thread::spawn(move || stderr.for_each(drop));
    (child, url, log)
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    for _ in 0..300 {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
}

#[tokio::test]
async fn data_dir_database_and_files_are_private_whatever_the_umask() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let (child, url, _) = start_with_umask(&data);
    let ca = std::fs::read(data.join("tls/ca.pem")).unwrap();
    let ca = CertificateDer::from_pem_slice(&ca).unwrap();
    // The certificate names 127.0.0.1, the address the server printed.
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(client_tls(&ca))
        .build()
        .unwrap();
    let res: Value = http
        .post(format!("{url}/api/register"))
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = res["token"].as_str().unwrap();
    let res = http
        .post(format!("{url}/api/rooms/1/files?name=secret.txt"))
        .bearer_auth(token)
        .body("the merger is on")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    // While it runs: the WAL and shared-memory files exist too.
    let all = modes(&data);
    for name in [
        "securechat.db",
        "securechat.db-wal",
        "securechat.db-shm",
        "securechat.lock",
    ] {
        assert!(
            all.iter().any(|(p, _)| p.ends_with(name)),
            "{name} missing: {all:?}"
        );
    }
    for (path, m) in &all {
        let want = if Path::new(path).is_dir() {
            0o700
        } else {
            0o600
        };
        assert_eq!(*m, want, "{path} is {m:o}");
    }
    stop(child);
}

#[test]
fn an_existing_open_data_dir_is_tightened_at_start_with_a_log_line() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    std::fs::create_dir_all(data.join("files/ab")).unwrap();
    std::fs::write(data.join("files/ab/abcdef"), b"old upload").unwrap();
    for (p, m) in [
        (data.clone(), 0o755),
        (data.join("files"), 0o755),
        (data.join("files/ab"), 0o755),
    ] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(m)).unwrap();
    }
    std::fs::set_permissions(
        data.join("files/ab/abcdef"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let (child, _, log) = start_with_umask(&data);
    assert!(
        log.iter().any(|l| l.contains("readable by others")),
        "no log line: {log:?}"
    );
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("files/ab")), 0o700);
    assert_eq!(mode(&data.join("files/ab/abcdef")), 0o600);
    stop(child);
}

#[tokio::test]
async fn a_second_server_on_the_same_data_dir_refuses_and_names_the_first() {
    let app = spawn_app().await;
    let out = app
        .cli()
        .args(["--bind", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "the second server must not start");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by another securechat-server"), "{err}");
    assert!(
        err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    // Operator commands keep working beside the running server.
    let added = run_ok(
        app.cli()
            .args(["user", "add", "olivia", "--password-stdin"]),
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(added.contains("created olivia"), "{added}");
    assert_eq!(app.login("olivia", PASSWORD).await.status(), 200);
    // Once the first stops, the directory is free again.
    let dir = app.data_dir();
    let app = app.restart().await;
    assert_eq!(app.data_dir(), dir);
    assert_eq!(app.login("olivia", PASSWORD).await.status(), 200);
}
