//! `securechat-server backup` and `restore`, with the real binary: a backup
//! taken while a client writes as fast as it can holds every message
//! acknowledged before it began, exactly once, and the files and the CA;
//! a restore checks everything before it writes, and refuses a damaged
//! backup or a data directory that already holds a database.

use crate::cli::server;
use crate::files::upload;
use crate::helpers::*;
use reqwest::StatusCode;
use std::collections::HashMap;
use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

async fn run(mut cmd: std::process::Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every message body starting with `bk-` in the app's database, counted.
async fn stored_bodies(app: &TestApp) -> HashMap<String, usize> {
    let bodies: Vec<String> = app
        .state
        .store
        .read(|c| {
            c.query_map(
                "SELECT body FROM events WHERE kind = 'message' AND body LIKE 'bk-%'",
                (),
                |r| r.get(0),
            )
        })
        .await
        .unwrap();
    let mut counts = HashMap::new();
    for b in bodies {
        *counts.entry(b).or_insert(0) += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_write_load_restores_every_acked_message_once() {
    if std::env::var("SC_TEST_POSTGRES").is_ok() {
        return; // SQLite's backup; the PostgreSQL run would repeat it as is
    }
    let app = spawn_with(|c| {
        c.rate_per_sec = 100_000.0;
        c.burst = 100_000;
    })
    .await;
    let alice = app.register_ok("alice").await;
    let (mut a, welcome) = app.connect(&alice).await;
    let room = general(&welcome);
    let report = b"quarterly numbers\n".repeat(5000);
    let res = upload(
        &app,
        &alice,
        room,
        "report.txt",
        "text/plain",
        report.clone(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let file_id = res.json::<serde_json::Value>().await.unwrap()["file"]["id"]
        .as_i64()
        .unwrap();

    // A writer that sends and waits for each ack, until told to stop.
    let acked = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, stop) = (acked.clone(), stop.clone());
        tokio::spawn(async move {
            for i in 0..20_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                a.send_text(room, &format!("c-{i}"), &format!("bk-{i}"))
                    .await;
                a.next_ack().await;
                acked.store(i + 1, Ordering::SeqCst);
            }
        })
    };
    while acked.load(Ordering::SeqCst) < 300 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let root = tempfile::tempdir().unwrap();
    let dest = root.path().join("backup");
    let before = acked.load(Ordering::SeqCst);
    let out = run({
        let mut cmd = app.cli();
        cmd.arg("backup").arg(&dest);
        cmd
    })
    .await;
    let during = acked.load(Ordering::SeqCst) - before;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("with the built-in CA"),
        "{}",
        text(&out)
    );
    // The writer kept going through the backup, and goes on after it.
    let after = acked.load(Ordering::SeqCst);
    while acked.load(Ordering::SeqCst) < after + 50 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    eprintln!("{before} messages acked before the backup, {during} during it");
    assert!(during > 0, "the writer was not held up by the backup");

    // Nothing readable by others in the backup.
    let manifest = std::fs::read_to_string(dest.join("backup.json")).unwrap();
    for p in [
        dest.join("securechat.db"),
        dest.join("tls").join("ca-key.pem"),
        dest.clone(),
    ] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o077;
        assert_eq!(mode, 0, "{} is private", p.display());
    }

    // Restore into a new data dir and start a server on it.
    let restored = tempfile::tempdir().unwrap();
    let out = run({
        let mut cmd = server(restored.path());
        cmd.arg("restore").arg(&dest);
        cmd
    })
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("restored"), "{}", text(&out));
    let path = restored.path().to_owned();
    let back = spawn_with(move |c| {
        c.data_dir = path;
        c.database = None;
    })
    .await;
    let counts = stored_bodies(&back).await;
    for i in 0..before {
        assert_eq!(
            counts.get(&format!("bk-{i}")),
            Some(&1),
            "acked message bk-{i} (of {before} acked before the backup) once; manifest {manifest}"
        );
    }
    assert!(counts.values().all(|&n| n == 1), "no message twice");
    assert!(
        counts.len() < acked.load(Ordering::SeqCst),
        "a snapshot, not a copy taken later"
    );
    // The same CA (clients' pins hold), the same accounts, the files.
    assert_eq!(
        back.state.tls.pin_fingerprint(),
        app.state.tls.pin_fingerprint()
    );
    let token = back.login("alice", PASSWORD).await;
    assert_eq!(token.status(), StatusCode::OK);
    let token = token.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = back
        .get(&format!("/api/files/{file_id}"), Some(&token))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap().as_ref(), report.as_slice());

    // A restore over a data dir that holds a database is refused.
    let out = run({
        let mut cmd = server(&back.data_dir());
        cmd.arg("restore").arg(&dest);
        cmd
    })
    .await;
    assert!(!out.status.success());
    assert!(
        text(&out).contains("in use") || text(&out).contains("already holds a database"),
        "{}",
        text(&out)
    );
    // So is a backup into a directory that is not empty.
    let out = run({
        let mut cmd = app.cli();
        cmd.arg("backup").arg(&dest);
        cmd
    })
    .await;
    assert!(!out.status.success());
    assert!(text(&out).contains("not empty"), "{}", text(&out));
}

/// What a case does to a copy of the backup.
type Harm<'a> = Box<dyn Fn(&Path) + 'a>;

/// Flips one byte of `path`.
fn damage(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x55;
    std::fs::write(path, bytes).unwrap();
}

/// Copies a backup directory (two levels of files under `files/`).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[tokio::test]
async fn a_damaged_backup_is_refused_and_nothing_is_restored() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut app = spawn_with(|c| {
        c.data_dir = data.clone();
        c.database = None;
    })
    .await;
    let alice = app.register_ok("alice").await;
    let (_, welcome) = app.connect(&alice).await;
    let res = upload(
        &app,
        &alice,
        general(&welcome),
        "a.txt",
        "text/plain",
        b"the only copy".to_vec(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    app.stop().await;
    // A stopped server backs up too.
    let good = dir.path().join("good");
    let out = run({
        let mut cmd = server(&data);
        cmd.arg("backup").arg(&good);
        cmd
    })
    .await;
    assert!(out.status.success(), "{}", text(&out));

    let blob = std::fs::read_dir(good.join("files"))
        .unwrap()
        .flatten()
        .find(|e| e.path().is_dir())
        .map(|d| {
            std::fs::read_dir(d.path())
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path()
        })
        .expect("a blob");
    let cases: [(&str, Harm, &str); 4] = [
        (
            "a file",
            Box::new(|b: &Path| damage(&b.join(blob.strip_prefix(&good).unwrap()))),
            "does not match its SHA-256",
        ),
        (
            "the database",
            Box::new(|b: &Path| damage(&b.join("securechat.db"))),
            "securechat.db does not match",
        ),
        (
            "the manifest",
            Box::new(|b: &Path| std::fs::write(b.join("backup.json"), "{").unwrap()),
            "not a SecureChat backup",
        ),
        (
            "a missing file",
            Box::new(|b: &Path| {
                std::fs::remove_file(b.join(blob.strip_prefix(&good).unwrap())).unwrap()
            }),
            "is missing",
        ),
    ];
    for (what, harm, says) in cases {
        let bad = dir.path().join(format!("bad-{}", what.replace(' ', "-")));
        copy_tree(&good, &bad);
        harm(&bad);
        let target = dir
            .path()
            .join(format!("target-{}", what.replace(' ', "-")));
        let out = run({
            let mut cmd = server(&target);
            cmd.arg("restore").arg(&bad);
            cmd
        })
        .await;
        assert!(!out.status.success(), "{what}: {}", text(&out));
        assert!(text(&out).contains(says), "{what}: {}", text(&out));
        assert!(
            !target.join("securechat.db").exists(),
            "{what}: nothing restored"
        );
    }
    // The good one restores.
    let out = run({
        let mut cmd = server(&dir.path().join("target-good"));
        cmd.arg("restore").arg(&good);
        cmd
    })
    .await;
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn a_postgresql_installation_is_told_to_use_pg_dump() {
    let dir = tempfile::tempdir().unwrap();
    let out = server(dir.path())
        .args(["--database", "postgres://nobody@127.0.0.1:1/none", "backup"])
        .arg(dir.path().join("b"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("pg_dump"), "{}", text(&out));
    assert!(!dir.path().join("b").exists());
}
