//! The client library and binary against a real server (in-process, port 0,
//! temp data dir, its own CA): trust on first use, pin mismatch, send and
//! tail, reconnect after a server restart with the outbox delivered exactly
//! once and nothing lost.

mod common;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_on_first_use_then_pinned_and_mismatch_refused() {
    let (a_dir, b_dir, home) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let a = start(a_dir.path(), 0).await;
    let b = start(b_dir.path(), 0).await;
    let store = Store::new(Some(home.path().to_owned())).unwrap();

    // First contact: not trusted, and the fingerprint offered is the one
    // the server prints.
    let tls = Tls::new(Trust::for_server(&store, &a.server().key(), None).unwrap()).unwrap();
    match tls.check("127.0.0.1", a.port).await {
        Err(ClientError::Untrusted { fingerprint }) => assert_eq!(fingerprint, a.fingerprint),
        other => panic!("{other:?}"),
    }
    let tls = pinned(&store, &a.server()).await;
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(home.path().join("known_servers.json"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    assert!(
        Api::new(&a.server(), &tls, None)
            .unwrap()
            .rooms()
            .await
            .is_err(),
        "needs a session, but TLS works"
    );

    // Server b presents another CA under a's pin: refused loudly.
    let pin = store.pin(&a.server().key()).unwrap().unwrap();
    store.save_pin(&b.server().key(), pin.clone()).unwrap();
    let tls_b = Tls::new(Trust::for_server(&store, &b.server().key(), None).unwrap()).unwrap();
    match tls_b.check("127.0.0.1", b.port).await {
        Err(e @ ClientError::PinMismatch { .. }) => {
            assert_eq!(e.exit_code(), 3);
            let text = e.to_string();
            assert!(
                text.contains("HAS CHANGED")
                    && text.contains(&pin.fingerprint)
                    && text.contains(&b.fingerprint),
                "{text}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(store.forget(&b.server().key()).unwrap());

    // A private CA file is trusted without pinning.
    let ca = Trust::for_server(&store, "other:1", Some(&b_dir.path().join("tls/ca.pem"))).unwrap();
    Tls::new(ca)
        .unwrap()
        .check("127.0.0.1", b.port)
        .await
        .unwrap();
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_a_restart_and_delivers_everything_once() {
    let (dir, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let running = start(dir.path(), 0).await;
    let server = running.server();
    let port = running.port;
    let store = Store::new(Some(home.path().to_owned())).unwrap();
    let tls = pinned(&store, &server).await;
    let alice = register(&server, &tls, "alice").await;
    let bob = register(&server, &tls, "bob").await;
    let general = Api::new(&server, &tls, Some(alice.clone()))
        .unwrap()
        .resolve_room("general")
        .await
        .unwrap()
        .id;

    let mut a = Connection::spawn(server.clone(), tls.config.clone(), alice, BTreeMap::new());
    let mut b = Connection::spawn(server.clone(), tls.config.clone(), bob, BTreeMap::new());
    wait_connected(&mut a.events, WAIT)
        .await
        .expect("alice connects");
    wait_connected(&mut b.events, WAIT)
        .await
        .expect("bob connects");
    for i in 1..=3 {
        a.send(general, format!("before {i}"));
    }
    let got = collect(&mut b, general, 3).await;
    assert_eq!(got.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [1, 2, 3]);

    // The server goes away; alice keeps typing.
    running.stop().await;
    loop {
        let e = tokio::time::timeout(WAIT, a.events.recv())
            .await
            .unwrap()
            .unwrap();
        if matches!(e, Event::Status(Status::Reconnecting { .. })) {
            break;
        }
    }
    for i in 1..=4 {
        a.send(general, format!("offline {i}"));
    }
    let running = start(dir.path(), port).await;
    wait_connected(&mut a.events, Duration::from_secs(60))
        .await
        .expect("alice reconnects");
    let got = collect(&mut b, general, 4).await;
    assert_eq!(
        got,
        (1..=4)
            .map(|i| (3 + i as u64, format!("offline {i}")))
            .collect::<Vec<_>>(),
        "every queued message once, in order, no gap"
    );
    // And nothing more (no duplicate) arrives.
    let extra = tokio::time::timeout(Duration::from_millis(500), async {
        loop {
            if let Some(Event::Server(ServerMsg::Message(m))) = b.events.recv().await {
                return m;
            }
        }
    })
    .await;
    assert!(extra.is_err(), "unexpected {extra:?}");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_registers_sends_tails_and_explains_errors() {
    let (dir, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let running = start(dir.path(), 0).await;
    let url = format!("https://127.0.0.1:{}", running.port);
    let pw = format!("{PASSWORD}\n");

    // Without confirming the fingerprint nothing is trusted (exit 3).
    let (code, _, err) = cli(
        home.path(),
        &["register", &url, "-u", "carol", "--password-stdin"],
        Some(&pw),
    )
    .await;
    assert_eq!(code, 3, "{err}");
    assert!(err.contains(&running.fingerprint), "{err}");
    let (code, out, err) = sign_in(
        home.path(),
        "register",
        &url,
        "carol",
        &running.fingerprint,
        PASSWORD,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("registered as carol"), "{out}");
    let session = std::fs::read_to_string(home.path().join("session.json")).unwrap();
    assert!(session.contains("\"token\""));
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(home.path().join("session.json"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    // tail --json prints what is sent afterwards.
    let mut tail = tokio::process::Command::new(bin())
        .arg("--config-dir")
        .arg(home.path())
        .args(["tail", "general", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (code, out, err) = cli(
        home.path(),
        &["send", "general", "hello", "from", "the", "cli"],
        None,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("sent to general"), "{out}");
    let (code, _, err) = cli(
        home.path(),
        &["send", "#general"],
        Some("from stdin\nsecond line\n"),
    )
    .await;
    assert_eq!(code, 0, "{err}");
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(tail.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(
        (v["type"].as_str(), v["body"].as_str()),
        (Some("message"), Some("hello from the cli"))
    );
    let second = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(second.contains("from stdin\\nsecond line"), "{second}");
    drop(tail);

    let (code, out, _) = cli(home.path(), &["history", "general"], None).await;
    assert_eq!(code, 0);
    assert!(out.contains("carol: hello from the cli"), "{out}");
    let (code, out, _) = cli(home.path(), &["rooms"], None).await;
    assert!(code == 0 && out.contains("general"), "{out}");

    // search: lines with the match marked, or JSON; a bad filter explained.
    let (code, out, err) = cli(home.path(), &["search", "cli", "from:carol"], None).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.lines().count() == 1 && out.contains("#general carol: hello from the «cli»"),
        "{out}"
    );
    let (code, out, _) = cli(home.path(), &["search", "second", "--json"], None).await;
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!((code, v["room_name"].as_str()), (0, Some("general")));
    let (code, out, err) = cli(home.path(), &["search", "zzzqqq"], None).await;
    assert_eq!((code, out.as_str()), (0, ""));
    assert!(err.contains("nothing found"), "{err}");
    let (code, _, err) = cli(home.path(), &["search", "before:someday"], None).await;
    assert_eq!(code, 1);
    assert!(err.contains("needs a date"), "{err}");
    let (code, _, err) = cli(home.path(), &["send", "nowhere", "hi"], None).await;
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("no room named"), "{err}");
    let (code, _, err) = cli(home.path(), &["send", "general", "\u{1b}[2J"], None).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("control characters"), "{err}");

    // passwd: a wrong current password changes nothing; the right one
    // changes it, and only the new password logs in from then on.
    let new_pw = "a brand new passphrase";
    for (old, new, expect, says) in [
        ("not my password", new_pw, 5, "old password is wrong"),
        (PASSWORD, "short", 1, "password must be 8 to 1024 bytes"),
        (PASSWORD, new_pw, 0, "password changed"),
    ] {
        let (code, out, err) = cli(
            home.path(),
            &["passwd", "--password-stdin"],
            Some(&format!("{old}\n{new}\n")),
        )
        .await;
        assert_eq!(code, expect, "passwd {old:?} → {new:?}: {out}{err}");
        assert!(out.contains(says) || err.contains(says), "{out}{err}");
    }
    let (code, out, _) = cli(home.path(), &["rooms"], None).await;
    assert!(
        code == 0 && out.contains("general"),
        "this session goes on: {out}"
    );
    let other = tempfile::tempdir().unwrap();
    for (password, expect) in [(PASSWORD, 4), (new_pw, 0)] {
        let (code, _, err) = sign_in(
            other.path(),
            "login",
            &url,
            "carol",
            &running.fingerprint,
            password,
        )
        .await;
        assert_eq!(code, expect, "login with {password:?}: {err}");
    }

    // Logged out: the token is gone and commands say so (exit 4).
    let (code, _, _) = cli(home.path(), &["logout"], None).await;
    assert_eq!(code, 0);
    let (code, _, err) = cli(home.path(), &["rooms"], None).await;
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("not logged in"), "{err}");
    // Logging in again: the pin is remembered, no --trust needed.
    let (code, _, err) = cli(
        home.path(),
        &["login", &url, "-u", "carol", "--password-stdin"],
        Some("wrong password\n"),
    )
    .await;
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("wrong username or password"), "{err}");
    let (code, out, err) = cli(
        home.path(),
        &["login", &url, "-u", "carol", "--password-stdin"],
        Some(&format!("{new_pw}\n")),
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("logged in as carol"), "{out}");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_screen_works_in_a_real_terminal() {
    let (dir, home, other) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let running = start(dir.path(), 0).await;
    let url = format!("https://127.0.0.1:{}", running.port);
    let (code, _, err) = sign_in(
        home.path(),
        "register",
        &url,
        "erin",
        &running.fingerprint,
        PASSWORD,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    // A second user, through the library.
    let store = Store::new(Some(other.path().to_owned())).unwrap();
    let server = running.server();
    let tls = pinned(&store, &server).await;
    let frank = register(&server, &tls, "frank").await;
    let general = Api::new(&server, &tls, Some(frank.clone()))
        .unwrap()
        .resolve_room("general")
        .await
        .unwrap()
        .id;
    let mut f = Connection::spawn(server.clone(), tls.config.clone(), frank, BTreeMap::new());
    wait_connected(&mut f.events, WAIT)
        .await
        .expect("frank connects");

    let socket = format!("securechat-test-{}", std::process::id());
    let command = format!(
        "{} --config-dir {} chat",
        bin().display(),
        home.path().display()
    );
    tmux_80x24(&socket, &command).await;
    let screen = pane_shows(&socket, "connected as erin").await;
    assert!(screen.contains(">#general"), "{screen}");
    assert!(screen.contains("● frank"), "frank is online: {screen}");

    // Erin types; Frank receives.
    type_line(&socket, "hello from a real terminal").await;
    let got = collect(&mut f, general, 1).await;
    assert_eq!(got, vec![(1, "hello from a real terminal".to_string())]);
    // Frank answers; Erin's screen shows it.
    f.send(general, "loud and clear");
    pane_shows(&socket, "frank: loud and clear").await;
    pane_shows(&socket, "erin: hello from a real terminal").await;

    // Up recalls Erin's message to edit; she changes its last word, and
    // her edit reaches Frank.
    tmux(&socket, &["send-keys", "-t", "chat", "Up"]).await;
    pane_shows(&socket, "> /edit hello from a real terminal").await;
    let mut rub_out = vec!["send-keys", "-t", "chat"];
    rub_out.extend(["BSpace"; "terminal".len()]);
    tmux(&socket, &rub_out).await;
    type_line(&socket, "tty").await;
    let edited = server_event(&mut f, |m| match m {
        ServerMsg::Edited(e) => Some((e.room, e.body, e.by)),
        _ => None,
    })
    .await;
    assert_eq!(
        edited,
        (general, "hello from a real tty".into(), "erin".into())
    );
    pane_shows(&socket, "erin: hello from a real tty (edited)").await;
    // And /delete takes it back, for Frank and on her screen.
    type_line(&socket, "/delete").await;
    let deleted = server_event(&mut f, |m| match m {
        ServerMsg::Deleted(d) => Some((d.room, d.by)),
        _ => None,
    })
    .await;
    assert_eq!(deleted, (general, "erin".into()));
    pane_shows(&socket, "erin: (deleted)").await;

    // Ctrl-C quits and gives the terminal back (the pane's command ends).
    tmux(&socket, &["send-keys", "-t", "chat", "C-c"]).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while tmux(&socket, &["has-session", "-t", "chat"]).await.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "securechat chat did not exit on Ctrl-C"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = tmux(&socket, &["kill-server"]).await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_upload_and_download_resuming_with_progress() {
    let (dir, home, work) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let running = start(dir.path(), 0).await;
    let server = running.server();
    let store = Store::new(Some(home.path().to_owned())).unwrap();
    let tls = pinned(&store, &server).await;
    let token = register(&server, &tls, "gina").await;
    let api = Api::new(&server, &tls, Some(token)).unwrap();
    let general = api.resolve_room("general").await.unwrap().id;
    let data: Vec<u8> = (0..3 * 1024 * 1024 + 77)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let src = work.path().join("notes.bin");
    std::fs::write(&src, &data).unwrap();

    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let up =
        securechat_client::transfer::upload(&api, general, &src, Some("the notes"), move |d, t| {
            log.lock().unwrap().push((d, t));
        })
        .await
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    assert!(seen.len() > 10, "progress is reported as bytes go");
    assert_eq!(seen.last(), Some(&(data.len() as u64, data.len() as u64)));
    assert_eq!(
        (
            up.file.name.as_str(),
            up.message.as_ref().unwrap().body.as_str()
        ),
        ("notes.bin", "the notes")
    );

    // A broken download: the first MiB is already in place.
    let dest = work.path().join("copy.bin");
    std::fs::write(work.path().join("copy.bin.part"), &data[..1024 * 1024]).unwrap();
    let mut first = None;
    let (path, size, sha) = securechat_client::transfer::download(
        &api,
        up.file.id,
        Some(&dest),
        false,
        None,
        |d, _| {
            first.get_or_insert(d);
        },
    )
    .await
    .unwrap();
    assert_eq!(first, Some(1024 * 1024), "resumed where it stopped");
    assert_eq!(
        (path, size, sha),
        (dest.clone(), data.len() as u64, up.file.sha256.clone())
    );
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    assert!(!work.path().join("copy.bin.part").exists());

    // A corrupted partial file is caught by the SHA-256 check.
    let bad = work.path().join("bad.bin");
    std::fs::write(work.path().join("bad.bin.part"), vec![0u8; 1024]).unwrap();
    let err =
        securechat_client::transfer::download(&api, up.file.id, Some(&bad), false, None, |_, _| {})
            .await
            .unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
    assert!(!bad.exists());
    assert!(
        !work.path().join("bad.bin.part").exists(),
        "nothing partial left"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_and_download_commands_draw_progress_bars() {
    let (dir, home, work) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let running = start(dir.path(), 0).await;
    let url = format!("https://127.0.0.1:{}", running.port);
    let (code, _, err) = sign_in(
        home.path(),
        "register",
        &url,
        "hank",
        &running.fingerprint,
        PASSWORD,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let data: Vec<u8> = (0..2 * 1024 * 1024).map(|i: u32| (i % 253) as u8).collect();
    std::fs::write(work.path().join("big.bin"), &data).unwrap();
    let socket = format!("securechat-files-{}", std::process::id());
    let home_dir = home.path().display().to_string();
    // One tmux server for both steps, a session each (restarting the server
    // on the same socket races with the old one shutting down).
    let run = |session: &'static str, args: String| {
        let socket = socket.clone();
        let home_dir = home_dir.clone();
        async move {
            let cmd = format!(
                "{} --config-dir {home_dir} {args}; sleep 30",
                bin().display()
            );
            assert!(
                tmux(
                    &socket,
                    &[
                        "new-session",
                        "-d",
                        "-s",
                        session,
                        "-x",
                        "100",
                        "-y",
                        "10",
                        &cmd
                    ]
                )
                .await
                .0
            );
        }
    };
    run(
        "up",
        format!("upload general {}", work.path().join("big.bin").display()),
    )
    .await;
    let screen = pane_shows_in(&socket, "up", "uploaded big.bin").await;
    assert!(
        screen.contains("2.00 MiB/2.00 MiB"),
        "a finished progress bar: {screen}"
    );
    let id: String = screen
        .split("as file ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .to_owned();
    let out = work.path().join("back.bin");
    run("down", format!("download {id} {}", out.display())).await;
    let screen = pane_shows_in(&socket, "down", "SHA-256 verified").await;
    assert!(screen.contains("2.00 MiB/2.00 MiB"), "{screen}");
    assert_eq!(std::fs::read(&out).unwrap(), data);
    let _ = tmux(&socket, &["kill-server"]).await;
    running.stop().await;
}
