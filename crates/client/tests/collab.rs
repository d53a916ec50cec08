//! Collaboration in the terminal client, in a real terminal (tmux at
//! 80×24) against a real server: formatting drawn legibly, `/react`,
//! `/thread` and replies, `@` completion with Tab, `/pin`, `/notify`, and
//! the bell on a mention; each checked on the server.

mod common;
use common::*;
use securechat_proto::collab::NotifyLevel;
use securechat_proto::ws::MessageEvent;

/// Waits until the server has a message in `room` that `pred` accepts.
async fn server_has(
    api: &Api,
    room: RoomId,
    what: &str,
    pred: impl Fn(&MessageEvent) -> bool,
) -> MessageEvent {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(m) = messages(api, room).await.into_iter().find(|m| pred(m)) {
            return m;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server never had {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The API as the CLI's user, with the session it saved in `home`.
fn erin_api(running: &Running, home: &Path) -> Api {
    let store = Store::new(Some(home.to_owned())).unwrap();
    let server = running.server();
    let tls = Tls::new(Trust::for_server(&store, &server.key(), None).unwrap()).unwrap();
    let token = store.session().unwrap().expect("a saved session").token;
    Api::new(&server, &tls, Some(token)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_threads_mentions_pins_and_formatting_in_a_real_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path(), 0).await;
    let home = cli_user(&running, "erin").await;
    let (frank, frank_conn) = library_user(&running, "frank").await;
    let general = frank.rooms().await.unwrap().rooms[0].id;
    let socket = format!("securechat-collab-{}", std::process::id());
    start_chat(&socket, home.path()).await;
    pane_shows(&socket, "connected as erin").await;
    // The bell: tmux runs a hook when the pane rings it.
    let rang = dir.path().join("rang");
    let hook = format!("run-shell 'touch {}'", rang.display());
    tmux(&socket, &["set-option", "-g", "bell-action", "any"]).await;
    tmux(&socket, &["set-hook", "-g", "alert-bell", &hook]).await;

    // Formatting: emphasis without its marks, a code block set off by a bar.
    frank_conn.send(general, "**ship** it, @erin?\n```\nfn main() {}\n```");
    let screen = pane_shows(&socket, "│ fn main() {}").await;
    assert!(screen.contains("ship it, @erin?"), "{screen}");
    assert!(!screen.contains("**ship**"), "{screen}");
    let deadline = tokio::time::Instant::now() + WAIT;
    while !rang.exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no bell for a mention"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // /react 👍 on the last message; the server has it.
    type_line(&socket, "/react 👍").await;
    let m = server_has(&frank, general, "erin's 👍", |m| {
        m.reactions
            .iter()
            .any(|r| r.emoji == "👍" && r.users == ["erin"])
    })
    .await;
    pane_shows(&socket, "[👍 1]").await;

    // /thread opens its thread; a line typed there is a reply.
    type_line(&socket, "/thread").await;
    pane_shows(&socket, "thread in #general").await;
    type_line(&socket, "count me in").await;
    let reply = server_has(&frank, general, "the reply", |r| r.body == "count me in").await;
    assert_eq!(reply.thread, Some(m.id));
    assert!(!reply.also_room);
    // /also replies and sends to the room; /unfollow stops following.
    type_line(&socket, "/also and in the room").await;
    let also = server_has(&frank, general, "the /also reply", |r| {
        r.body == "and in the room"
    })
    .await;
    assert_eq!((also.thread, also.also_room), (Some(m.id), true));
    type_line(&socket, "/unfollow").await;
    pane_shows(&socket, "not following the thread").await;
    let following = erin_api(&running, home.path())
        .thread(general, m.id)
        .await
        .unwrap()
        .following;
    assert!(!following);
    tmux(&socket, &["send-keys", "-t", "chat", "Escape"]).await;
    pane_shows(&socket, "[2 replies, last").await;
    pane_shows(&socket, "erin: and in the room").await;

    // @fr<Tab> completes frank; the message mentions him.
    tmux(&socket, &["send-keys", "-t", "chat", "-l", "thanks @fr"]).await;
    tmux(&socket, &["send-keys", "-t", "chat", "Tab"]).await;
    pane_shows(&socket, "> thanks @frank").await;
    tmux(&socket, &["send-keys", "-t", "chat", "-l", "!"]).await;
    tmux(&socket, &["send-keys", "-t", "chat", "Enter"]).await;
    let sent = server_has(&frank, general, "the mention", |r| {
        r.body == "thanks @frank !"
    })
    .await;
    assert_eq!(sent.mentions, ["frank"]);

    // /mentions lists what mentions erin.
    type_line(&socket, "/mentions").await;
    let screen = pane_shows(&socket, "Mentions —").await;
    assert!(screen.contains("#general"), "{screen}");
    assert!(screen.contains("frank: ship it, @erin?"), "{screen}");
    tmux(&socket, &["send-keys", "-t", "chat", "Escape"]).await;

    // /pin pins the last message; /notify mentions and /mute are kept.
    type_line(&socket, "/pin").await;
    server_has(&frank, general, "the pin", |r| r.id == sent.id && r.pinned).await;
    pane_shows(&socket, "(pinned)").await;
    type_line(&socket, "/notify mentions").await;
    pane_shows(&socket, "notifications: mentions").await;
    let erin = erin_api(&running, home.path());
    let info = erin
        .rooms()
        .await
        .unwrap()
        .rooms
        .into_iter()
        .find(|r| r.id == general)
        .unwrap();
    assert_eq!((info.notify, info.muted), (NotifyLevel::Mentions, false));
    let _ = tmux(&socket, &["kill-server"]).await;
    running.stop().await;
}
