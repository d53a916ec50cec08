//! End-to-end encryption from the real `securechat` binary against a real
//! server: an encrypted DM sent, tailed and read back as text by the
//! people in it while the server holds ciphertext; the safety codes agree
//! on both sides; a new login reads the old history only after restoring
//! the key backup with the passphrase.

mod common;
use common::*;
use securechat_client::store::SavedSession;
use std::process::Stdio;
use tokio::io::AsyncBufReadExt;

async fn ok(home: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let (code, out, err) = cli(home, args, stdin).await;
    assert_eq!(code, 0, "securechat {args:?}: {err}");
    out
}

/// The API of the session saved in `home`.
async fn api_of(running: &Running, home: &Path) -> Api {
    let store = Store::new(Some(home.to_owned())).unwrap();
    let session: SavedSession = store.session().unwrap().unwrap();
    let server = running.server();
    let tls = Tls::new(Trust::for_server(&store, &server.key(), None).unwrap()).unwrap();
    Api::new(&server, &tls, Some(session.token)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_dm_from_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path(), 0).await;
    let alice = cli_user(&running, "alice").await;
    let bob = cli_user(&running, "bob").await;
    // Bob's login becomes a device (any command that needs one makes it).
    let devices = ok(bob.path(), &["keys", "devices"], None).await;
    assert!(devices.contains("(this device)"), "{devices}");

    let out = ok(alice.path(), &["dm", "bob"], None).await;
    assert!(out.contains("end-to-end encrypted DM with bob"), "{out}");
    ok(
        alice.path(),
        &["send", "@bob", "the", "vault", "code", "is", "4711"],
        None,
    )
    .await;

    // On the server: ciphertext only.
    let alice_api = api_of(&running, alice.path()).await;
    let rooms = alice_api.rooms().await.unwrap().rooms;
    let dm = rooms
        .iter()
        .find(|r| r.encrypted)
        .expect("the encrypted DM");
    let stored = messages(&alice_api, dm.id).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].body, "");
    assert!(stored[0].encrypted.is_some());

    // Bob reads it as text, live and in history.
    let mut tail = tokio::process::Command::new(bin())
        .arg("--config-dir")
        .arg(bob.path())
        .args(["tail", "@alice"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(tail.stdout.take().unwrap()).lines();
    // Tail is connected once its first live line can arrive: send until
    // one shows (at most a few tries).
    let mut seen = None;
    for i in 0..5 {
        ok(
            alice.path(),
            &["send", "@bob", &format!("live {i} hello bob")],
            None,
        )
        .await;
        if let Ok(Ok(Some(line))) =
            tokio::time::timeout(Duration::from_secs(3), lines.next_line()).await
        {
            seen = Some(line);
            break;
        }
    }
    let line = seen.expect("tail prints a live message");
    assert!(
        line.contains("hello bob") && line.contains("alice"),
        "{line}"
    );
    drop(tail);
    let history = ok(bob.path(), &["history", "@alice"], None).await;
    assert!(history.contains("the vault code is 4711"), "{history}");
    assert!(!history.contains("unable to decrypt"), "{history}");

    // Bob answers; alice reads it.
    ok(bob.path(), &["send", "@alice", "got it"], None).await;
    let history = ok(alice.path(), &["history", "@bob"], None).await;
    assert!(history.contains("got it"), "{history}");

    // Both sides compute the same safety code for the pair.
    let code = |s: &str| s.lines().nth(1).unwrap().trim().to_owned();
    let a_view = ok(alice.path(), &["keys", "verify", "bob"], None).await;
    let b_view = ok(bob.path(), &["keys", "verify", "alice"], None).await;
    assert_eq!(code(&a_view), code(&b_view), "{a_view}\n{b_view}");
    assert_eq!(code(&a_view).split(' ').count(), 7);

    // Bob backs his keys up with a passphrase, then logs in on a new
    // machine: nothing to read there until he restores.
    ok(
        bob.path(),
        &["keys", "backup", "--passphrase-stdin"],
        Some("a long passphrase for bob\n"),
    )
    .await;
    let laptop = tempfile::tempdir().unwrap();
    let url = format!("https://127.0.0.1:{}", running.port);
    let (code_, _, err) = sign_in(
        laptop.path(),
        "login",
        &url,
        "bob",
        &running.fingerprint,
        PASSWORD,
    )
    .await;
    assert_eq!(code_, 0, "{err}");
    let before = ok(laptop.path(), &["history", "@alice"], None).await;
    assert!(
        before.contains("unable to decrypt") && !before.contains("4711"),
        "{before}"
    );
    let (code_, _, err) = cli(
        laptop.path(),
        &["keys", "restore", "--passphrase-stdin"],
        Some("wrong one\n"),
    )
    .await;
    assert_ne!(code_, 0);
    assert!(err.contains("wrong recovery key"), "{err}");
    let restored = ok(
        laptop.path(),
        &["keys", "restore", "--passphrase-stdin"],
        Some("a long passphrase for bob\n"),
    )
    .await;
    assert!(restored.contains("restored"), "{restored}");
    let after = ok(laptop.path(), &["history", "@alice"], None).await;
    assert!(after.contains("the vault code is 4711"), "{after}");
    // Its own message in the backup too: bob's answer.
    assert!(after.contains("got it"), "{after}");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_full_screen_chat_reads_and_writes_an_encrypted_dm() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path(), 0).await;
    let alice = cli_user(&running, "alice").await;
    let bob = cli_user(&running, "bob").await;
    ok(bob.path(), &["keys", "devices"], None).await;
    ok(alice.path(), &["dm", "bob"], None).await;
    ok(
        alice.path(),
        &["send", "@bob", "sealed before bob looked"],
        None,
    )
    .await;

    // Bob's full-screen chat: the encrypted DM says so, its history opens.
    let socket = format!("securechat-e2e-{}", std::process::id());
    start_chat(&socket, bob.path()).await;
    pane_shows(&socket, "Tab: next room").await;
    tmux(&socket, &["send-keys", "-t", "chat", "Tab"]).await;
    pane_shows(&socket, "end-to-end encrypted").await;
    pane_shows(&socket, "sealed before bob looked").await;
    // Typed in the terminal, stored sealed, read by alice.
    type_line(&socket, "sealed from the full screen").await;
    let mut history = String::new();
    for _ in 0..50 {
        history = ok(alice.path(), &["history", "@bob"], None).await;
        if history.contains("sealed from the full screen") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        history.contains("bob: sealed from the full screen"),
        "{history}"
    );
    // Live, while bob watches.
    ok(alice.path(), &["send", "@bob", "live and sealed"], None).await;
    pane_shows(&socket, "live and sealed").await;
    let alice_api = api_of(&running, alice.path()).await;
    let dm = alice_api
        .rooms()
        .await
        .unwrap()
        .rooms
        .into_iter()
        .find(|r| r.encrypted)
        .unwrap();
    assert!(
        messages(&alice_api, dm.id)
            .await
            .iter()
            .all(|m| m.body.is_empty() && m.encrypted.is_some())
    );
    tmux(&socket, &["kill-server"]).await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_file_from_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path(), 0).await;
    let alice = cli_user(&running, "alice").await;
    let bob = cli_user(&running, "bob").await;
    ok(bob.path(), &["keys", "devices"], None).await;
    ok(alice.path(), &["dm", "bob"], None).await;
    let words = "FILE-SECRET-5150 quarterly forecast\n".repeat(3000);
    let src = alice.path().join("forecast.txt");
    std::fs::write(&src, &words).unwrap();
    let out = ok(
        alice.path(),
        &[
            "upload",
            "@bob",
            src.to_str().unwrap(),
            "--caption",
            "the numbers",
        ],
        None,
    )
    .await;
    assert!(
        out.contains("uploaded forecast.txt") && out.contains("end-to-end encrypted"),
        "{out}"
    );

    // On the server: a nameless blob of ciphertext, carried by ciphertext.
    let alice_api = api_of(&running, alice.path()).await;
    let dm = alice_api
        .rooms()
        .await
        .unwrap()
        .rooms
        .into_iter()
        .find(|r| r.encrypted)
        .unwrap();
    let stored = messages(&alice_api, dm.id).await;
    let last = stored.last().unwrap();
    let file = last.file.clone().expect("the message carries the file");
    assert_eq!((last.body.as_str(), file.name.as_str()), ("", ""));
    assert!(last.encrypted.is_some());
    let on_disk = find_files(&dir.path().join("files"));
    assert!(!on_disk.is_empty());
    for (path, bytes) in &on_disk {
        assert!(
            !bytes.windows(16).any(|w| w == b"FILE-SECRET-5150"),
            "plaintext in {path:?}"
        );
    }

    // Bob sees the real name and the caption, and downloads the file
    // decrypted.
    let history = ok(bob.path(), &["history", "@alice"], None).await;
    assert!(
        history.contains(&format!("[file {}: forecast.txt", file.id))
            && history.contains("the numbers"),
        "{history}"
    );
    let dest = bob.path().join("got.txt");
    let out = ok(
        bob.path(),
        &["download", &file.id.to_string(), dest.to_str().unwrap()],
        None,
    )
    .await;
    assert!(out.contains("decrypted"), "{out}");
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), words);
    // Into a directory: under its real name.
    let out = ok(
        bob.path(),
        &[
            "download",
            &file.id.to_string(),
            &format!("{}/", bob.path().display()),
        ],
        None,
    )
    .await;
    assert!(out.contains("forecast.txt"), "{out}");
    assert_eq!(
        std::fs::read_to_string(bob.path().join("forecast.txt")).unwrap(),
        words
    );
    running.stop().await;
}

/// Every file under `dir`, with its bytes.
fn find_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(find_files(&path));
        } else {
            out.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    out
}
