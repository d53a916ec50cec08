//! The terminal client used as a new user would: `securechat chat` in a
//! real terminal (tmux at 80×24), and the one-shot commands, against a real
//! server; where a line went is checked on the server.

mod common;
use common::*;

/// Whether a screen captured with escapes (`capture-pane -e`) sets a
/// foreground or background colour anywhere.
fn has_colour(escaped: &str) -> bool {
    escaped.split('\u{1b}').any(|seq| {
        let Some(params) = seq.strip_prefix('[').and_then(|s| s.split_once('m')) else {
            return false;
        };
        params.0.split(';').any(|p| {
            p.parse::<u16>().is_ok_and(|n| {
                (30..=38).contains(&n) || (40..=48).contains(&n) || (90..=107).contains(&n)
            })
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_switch_rooms_so_the_next_line_lands_there() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path(), 0).await;
    let home = cli_user(&running, "erin").await;
    let (frank, _f) = library_user(&running, "frank").await;
    let (grace, _g) = library_user(&running, "grace").await;
    let socket = format!("securechat-route-{}", std::process::id());
    start_chat(&socket, home.path()).await;
    pane_shows(&socket, "connected as erin").await;

    // In the DM with frank, `/dm grace` then a line: it goes to grace.
    type_line(&socket, "/dm frank").await;
    pane_shows(&socket, " @frank ").await;
    type_line(&socket, "hi frank").await;
    let frank_dm = frank.open_dm("erin").await.unwrap().id;
    lands_in(&frank, frank_dm, "hi frank").await;
    type_line(&socket, "/dm grace").await;
    pane_shows(&socket, " @grace ").await;
    type_line(&socket, "hey grace, lunch?").await;
    let grace_dm = grace.open_dm("erin").await.unwrap().id;
    lands_in(&grace, grace_dm, "hey grace, lunch?").await;
    assert_eq!(
        bodies(&frank, frank_dm).await,
        ["hi frank"],
        "not in frank's DM"
    );

    // `/create` and `/join` switch too.
    type_line(&socket, "/create ops").await;
    pane_shows(&socket, " #ops ").await;
    type_line(&socket, "in ops").await;
    let ops = frank.resolve_room("ops").await;
    let ops = match ops {
        Ok(r) => r.id,
        Err(_) => frank.join_by_name("ops").await.unwrap().id,
    };
    lands_in(&frank, ops, "in ops").await;
    let dev = new_room(&frank, "dev", RoomKind::Public, &[]).await;
    type_line(&socket, "/join dev").await;
    pane_shows(&socket, " #dev ").await;
    type_line(&socket, "in dev").await;
    lands_in(&frank, dev, "in dev").await;
    assert!(!bodies(&frank, ops).await.contains(&"in dev".to_string()));

    // `/search` opens the results in the panel; Esc closes it, and the
    // next line still lands in the room.
    type_line(&socket, "/search lunch").await;
    let screen = pane_shows(&socket, "Search: lunch").await;
    assert!(
        screen.contains("@grace erin: hey grace, «lunch»?"),
        "{screen}"
    );
    tmux(&socket, &["send-keys", "-t", "chat", "Escape"]).await;
    type_line(&socket, "after the search").await;
    lands_in(&frank, dev, "after the search").await;
    let _ = tmux(&socket, &["kill-server"]).await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrapped_lines_and_the_input_line_keep_every_character() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path(), 0).await;
    let home = cli_user(&running, "erin").await;
    let (frank, mut f) = library_user(&running, "frank").await;
    let general = frank.resolve_room("general").await.unwrap().id;
    let socket = format!("securechat-wrap-{}", std::process::id());
    start_chat(&socket, home.path()).await;
    pane_shows(&socket, "connected as erin").await;

    // 200 digits at 80 columns: every one of them on the screen.
    let digits: String = (0..200)
        .map(|i| char::from(b'0' + (i % 10) as u8))
        .collect();
    f.send(general, digits.clone());
    let screen = pane_shows(&socket, "frank: 0123").await;
    let shown: String = screen
        .lines()
        .skip_while(|l| !l.contains("frank: 0123"))
        .take_while(|l| l.contains(|c: char| c.is_ascii_digit()) && !l.contains("Tab:"))
        .map(|l| {
            let text = l.split_once("│").map_or(l, |(_, t)| t);
            let text = text.split_once("frank: ").map_or(text, |(_, t)| t);
            text.trim().to_owned()
        })
        .collect();
    assert_eq!(shown, digits, "{screen}");
    // An emoji where a line breaks is moved whole to the next line.
    let with_emoji = format!("{}👍 end", "x".repeat(47));
    f.send(general, with_emoji);
    let screen = pane_shows(&socket, "👍 end").await;
    assert!(screen.contains(&"x".repeat(40)), "{screen}");
    // Nicks are coloured (unless NO_COLOR, below).
    let (_, escaped) = tmux(&socket, &["capture-pane", "-e", "-p", "-t", "chat"]).await;
    assert!(has_colour(&escaped), "{escaped:?}");

    // A 150-character line: the input scrolls so what is typed shows, and
    // every character is sent.
    let long: String = (0..150)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    tmux(&socket, &["send-keys", "-t", "chat", "-l", &long]).await;
    pane_shows(&socket, &long[100..]).await;
    // Home, then a word in front; End; Alt-Enter makes a second line.
    tmux(&socket, &["send-keys", "-t", "chat", "Home"]).await;
    tmux(&socket, &["send-keys", "-t", "chat", "-l", "START "]).await;
    pane_shows(&socket, "> START abcdefg").await;
    tmux(&socket, &["send-keys", "-t", "chat", "End", "M-Enter"]).await;
    type_line(&socket, "second line").await;
    let body = server_event(&mut f, |m| match m {
        ServerMsg::Message(m) if m.body.starts_with("START") => Some(m.body),
        _ => None,
    })
    .await;
    assert_eq!(body, format!("START {long}\nsecond line"));
    let _ = tmux(&socket, &["kill-server"]).await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_screen_says_why_the_session_ended_and_exits_4() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path(), 0).await;
    let home = cli_user(&running, "erin").await;
    let socket = format!("securechat-ended-{}", std::process::id());
    start_chat_with(&socket, home.path(), "NO_COLOR=1 ").await;
    pane_shows(&socket, "connected as erin").await;
    let (_, escaped) = tmux(&socket, &["capture-pane", "-e", "-p", "-t", "chat"]).await;
    assert!(!has_colour(&escaped), "NO_COLOR is respected: {escaped:?}");
    // The same session is logged out from another terminal.
    let (code, _, err) = cli(home.path(), &["logout"], None).await;
    assert_eq!(code, 0, "{err}");
    pane_shows(&socket, "session ended").await;
    pane_shows(&socket, "EXIT=4").await;
    let _ = tmux(&socket, &["kill-server"]).await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_see_files_notices_and_edits_in_the_one_format() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path(), 0).await;
    let home = cli_user(&running, "erin").await;
    let (frank, mut f) = library_user(&running, "frank").await;
    let general = frank.resolve_room("general").await.unwrap().id;
    let work = tempfile::tempdir().unwrap();
    let report = work.path().join("report.pdf");
    std::fs::write(&report, vec![7u8; 5 * 1024 * 1024]).unwrap();
    let up = securechat_client::transfer::upload(&frank, general, &report, None, |_, _| {})
        .await
        .unwrap();
    let id = up.file.id;
    // An edited message, and a member event.
    f.send(general, "typo");
    let typo = server_event(&mut f, |m| match m {
        ServerMsg::Message(m) if m.body == "typo" => Some(m.id),
        _ => None,
    })
    .await;
    frank.edit_message(general, typo, "fixed").await.unwrap();
    new_room(&frank, "team", RoomKind::Private, &["erin"]).await;

    let (code, out, err) = cli(home.path(), &["history", "general"], None).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("frank: [file {id}: report.pdf, 5.0 MiB]")),
        "{out}"
    );
    assert!(out.contains("frank: fixed (edited)"), "{out}");
    assert_eq!(
        out.matches("fixed").count(),
        1,
        "an edit is shown once: {out}"
    );
    assert!(
        out.lines()
            .all(|l| l.starts_with('[') && l[1..].contains("Z] ")),
        "{out}"
    );
    let (_, out, _) = cli(home.path(), &["history", "general", "--json"], None).await;
    let file_line = out.lines().find(|l| l.contains("report.pdf")).unwrap();
    let v: serde_json::Value = serde_json::from_str(file_line).unwrap();
    assert_eq!(v["file"]["name"], "report.pdf");
    assert_eq!(v["file"]["size"], 5 * 1024 * 1024);
    let (_, out, _) = cli(home.path(), &["history", "team"], None).await;
    assert!(out.contains("* erin was invited by frank"), "{out}");
    assert!(out.contains("* frank joined"), "{out}");

    // Downloads: into a directory (with or without the slash), never over
    // an existing file without --force, nothing partial left.
    let dl = work.path().join("dl");
    std::fs::create_dir(&dl).unwrap();
    let id_arg = id.to_string();
    let slash = format!("{}/", dl.display());
    let (code, out, err) = cli(home.path(), &["download", &id_arg, &slash], None).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("report.pdf"), "{out}");
    assert_eq!(
        std::fs::read(dl.join("report.pdf")).unwrap().len(),
        5 * 1024 * 1024
    );
    let dl_arg = dl.display().to_string();
    let (code, _, err) = cli(home.path(), &["download", &id_arg, &dl_arg], None).await;
    assert_eq!(code, 2, "refused: {err}");
    assert!(err.contains("exists") && err.contains("--force"), "{err}");
    let (code, _, err) = cli(
        home.path(),
        &["download", &id_arg, &dl_arg, "--force"],
        None,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let names: Vec<_> = std::fs::read_dir(&dl)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["report.pdf"], "no .part left anywhere");
    let missing = work.path().join("no/such/dir/x.pdf").display().to_string();
    let (code, _, err) = cli(home.path(), &["download", &id_arg, &missing], None).await;
    assert_ne!(code, 0);
    assert!(err.contains("not a directory"), "{err}");
    let (code, _, err) = cli(home.path(), &["download", "999"], None).await;
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("no such file"), "{err}");
    assert!(
        !err.contains("B/"),
        "no progress bar for a missing file: {err}"
    );

    // Long room names end in "…" within 80 columns.
    let long_name = "a-room-with-a-very-long-name-that-goes-on-and-on-and-on-and-on";
    new_room(&frank, long_name, RoomKind::Public, &[]).await;
    let (_, out, _) = cli(home.path(), &["rooms"], None).await;
    assert!(out.lines().all(|l| l.chars().count() <= 80), "{out}");
    assert!(
        out.contains("a-room-with-a-very-long-name-th… 1 members"),
        "{out}"
    );

    // Users say "… ago"; the version says securechat.
    let (_, out, _) = cli(home.path(), &["users"], None).await;
    assert!(out.contains("frank") && out.contains("online"), "{out}");
    let (_, out, _) = cli(home.path(), &["--version"], None).await;
    assert_eq!(
        out.trim(),
        format!("securechat {}", env!("CARGO_PKG_VERSION"))
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_use_fingerprint_fits_80_columns() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path(), 0).await;
    let home = tempfile::tempdir().unwrap();
    let socket = format!("securechat-pin-{}", std::process::id());
    let command = format!(
        "{} --config-dir {} login https://127.0.0.1:{} -u erin; sleep 60",
        bin().display(),
        home.path().display(),
        running.port
    );
    tmux_80x24(&socket, &command).await;
    let screen = pane_shows(&socket, "Trust this server").await;
    // Four groups of eight bytes, each on a line of its own, nothing wrapped.
    let groups: Vec<&str> = screen
        .lines()
        .filter(|l| l.starts_with("  ") && l.contains(':'))
        .map(str::trim)
        .collect();
    assert_eq!(groups.join(":"), running.fingerprint, "{screen}");
    assert!(groups.iter().all(|g| g.len() == 23), "{screen}");
    tmux(&socket, &["send-keys", "-t", "chat", "n", "Enter"]).await;
    pane_shows(&socket, "not trusted").await;
    let _ = tmux(&socket, &["kill-server"]).await;
    running.stop().await;
}
