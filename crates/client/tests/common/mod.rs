//! Helpers shared by the client's integration tests: a real server
//! in-process (port 0, temp data dir, its own CA), the real `securechat`
//! binary, and tmux on a private socket for the real-terminal tests.
#![allow(dead_code, unused_imports)]

pub use securechat_client::api::{Api, Server};
pub use securechat_client::conn::{Connection, Event, Status, wait_connected};
pub use securechat_client::store::Store;
pub use securechat_client::trust::{Tls, Trust};
pub use securechat_client::{ClientError, install_crypto_provider};
pub use securechat_proto::http::RegisterRequest;
pub use securechat_proto::ws::RoomKind;
pub use securechat_proto::{RoomId, Seq, ServerMsg};
pub use securechat_server::{Config, Prepared};
pub use std::collections::BTreeMap;
pub use std::path::{Path, PathBuf};
pub use std::time::Duration;
pub use tokio::sync::oneshot;
pub use tokio::task::JoinHandle;

pub const PASSWORD: &str = "correct horse battery";
pub const WAIT: Duration = Duration::from_secs(15);

pub struct Running {
    pub port: u16,
    pub fingerprint: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// Starts a server on `dir`, on `port` (0 for any).
pub async fn start(dir: &Path, port: u16) -> Running {
    install_crypto_provider();
    let config = Config {
        data_dir: dir.to_owned(),
        ..Config::default()
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let prepared = Prepared::new(config).unwrap();
    let fingerprint = prepared.state.tls.pin_fingerprint();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(securechat_server::serve(listener, prepared, async {
        let _ = stopped.await;
    }));
    Running {
        port,
        fingerprint,
        stop,
        task,
    }
}

impl Running {
    pub async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(WAIT, self.task)
            .await
            .unwrap()
            .unwrap();
    }

    pub fn server(&self) -> Server {
        Server::parse(&format!("https://127.0.0.1:{}", self.port)).unwrap()
    }
}

/// Pins the server in `store` and returns the pinned TLS setup.
pub async fn pinned(store: &Store, server: &Server) -> Tls {
    let first = Tls::new(Trust::for_server(store, &server.key(), None).unwrap()).unwrap();
    match first.check(&server.host, server.port).await {
        Err(ClientError::Untrusted { .. }) => store
            .save_pin(&server.key(), first.offered_pin().unwrap())
            .unwrap(),
        other => panic!("expected an untrusted first contact, got {other:?}"),
    }
    let tls = Tls::new(Trust::for_server(store, &server.key(), None).unwrap()).unwrap();
    tls.check(&server.host, server.port).await.unwrap();
    tls
}

pub async fn register(server: &Server, tls: &Tls, name: &str) -> String {
    let api = Api::new(server, tls, None).unwrap();
    let req = RegisterRequest {
        username: name.into(),
        password: PASSWORD.into(),
        invite_code: None,
    };
    api.register(&req).await.unwrap().token
}

/// Collects `room` messages from `events` until `n` have arrived.
pub async fn collect(conn: &mut Connection, room: RoomId, n: usize) -> Vec<(Seq, String)> {
    let mut got = Vec::new();
    while got.len() < n {
        got.push(
            server_event(conn, |m| match m {
                ServerMsg::Message(m) if m.room == room => Some((m.seq, m.body)),
                _ => None,
            })
            .await,
        );
    }
    got
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_securechat"))
}

pub async fn cli(home: &Path, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(bin())
        .arg("--config-dir")
        .arg(home)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).await.unwrap();
    }
    drop(input);
    let out = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `securechat VERB URL -u USER --password-stdin --trust FINGERPRINT`
/// (`register` or `login`), the password on standard input.
pub async fn sign_in(
    home: &Path,
    verb: &str,
    url: &str,
    user: &str,
    fingerprint: &str,
    password: &str,
) -> (i32, String, String) {
    let args = [
        verb,
        url,
        "-u",
        user,
        "--password-stdin",
        "--trust",
        fingerprint,
    ];
    cli(home, &args, Some(&format!("{password}\n"))).await
}

/// Types `line` into the `chat` session and presses Enter.
pub async fn type_line(socket: &str, line: &str) {
    tmux(socket, &["send-keys", "-t", "chat", "-l", line]).await;
    tmux(socket, &["send-keys", "-t", "chat", "Enter"]).await;
}

/// The first server event on `conn` that `pick` takes.
pub async fn server_event<T>(
    conn: &mut Connection,
    mut pick: impl FnMut(ServerMsg) -> Option<T>,
) -> T {
    loop {
        let e = tokio::time::timeout(WAIT, conn.events.recv())
            .await
            .expect("in time")
            .expect("open");
        if let Event::Server(m) = e
            && let Some(t) = pick(m)
        {
            return t;
        }
    }
}

/// Waits until the `chat` session's pane shows `text`.
pub async fn pane_shows(socket: &str, text: &str) -> String {
    pane_shows_in(socket, "chat", text).await
}

/// Runs tmux on a private socket.
pub async fn tmux(socket: &str, args: &[&str]) -> (bool, String) {
    let out = tokio::process::Command::new("tmux")
        .args(["-L", socket])
        .args(args)
        .env("TERM", "xterm-256color")
        .output()
        .await
        .expect("tmux runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Waits until the pane of tmux session `session` shows `text`.
pub async fn pane_shows_in(socket: &str, session: &str, text: &str) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, screen) = tmux(socket, &["capture-pane", "-p", "-t", session]).await;
        if screen.contains(text) {
            return screen;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "pane never showed {text:?}:\n{screen}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs `command` (a shell line) in tmux session `chat` at 80×24.
pub async fn tmux_80x24(socket: &str, command: &str) {
    let (ok, _) = tmux(
        socket,
        &[
            "new-session",
            "-d",
            "-s",
            "chat",
            "-x",
            "80",
            "-y",
            "24",
            command,
        ],
    )
    .await;
    assert!(ok, "tmux starts");
}

/// Signs `name` up with the CLI in a fresh config dir.
pub async fn cli_user(running: &Running, name: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let url = format!("https://127.0.0.1:{}", running.port);
    let (code, _, err) = sign_in(
        home.path(),
        "register",
        &url,
        name,
        &running.fingerprint,
        PASSWORD,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    home
}

/// A second user through the library: its API and live connection.
pub async fn library_user(running: &Running, name: &str) -> (Api, Connection) {
    let other = tempfile::tempdir().unwrap();
    let store = Store::new(Some(other.path().to_owned())).unwrap();
    let server = running.server();
    let tls = pinned(&store, &server).await;
    let token = register(&server, &tls, name).await;
    let api = Api::new(&server, &tls, Some(token.clone())).unwrap();
    let mut conn = Connection::spawn(server.clone(), tls.config.clone(), token, BTreeMap::new());
    wait_connected(&mut conn.events, WAIT)
        .await
        .expect("connects");
    (api, conn)
}

/// Starts `securechat chat` for `home` in tmux session `chat`, 80×24; the
/// shell then prints the exit code and waits.
pub async fn start_chat(socket: &str, home: &Path) {
    start_chat_with(socket, home, "").await;
}

/// [`start_chat`] with environment settings (`NAME=value `) in front.
pub async fn start_chat_with(socket: &str, home: &Path, env: &str) {
    let command = format!(
        "{env}{} --config-dir {} chat; echo EXIT=$?; sleep 60",
        bin().display(),
        home.display()
    );
    tmux_80x24(socket, &command).await;
}

/// A room `api`'s user creates, with `members` in it.
pub async fn new_room(api: &Api, name: &str, kind: RoomKind, members: &[&str]) -> RoomId {
    api.create_room(&securechat_proto::http::CreateRoom {
        name: Some(name.into()),
        kind,
        topic: None,
        members: members.iter().map(|m| m.to_string()).collect(),
        encrypted: false,
    })
    .await
    .unwrap()
    .id
}

/// `room`'s latest messages (up to 100), as the server has them now.
pub async fn messages(api: &Api, room: RoomId) -> Vec<securechat_proto::ws::MessageEvent> {
    api.history(room, None, 100)
        .await
        .unwrap()
        .events
        .into_iter()
        .filter_map(|e| match e {
            ServerMsg::Message(m) => Some(m),
            _ => None,
        })
        .collect()
}

/// The bodies of `room`'s latest messages, as the server has them.
pub async fn bodies(api: &Api, room: RoomId) -> Vec<String> {
    messages(api, room)
        .await
        .into_iter()
        .map(|m| m.body)
        .collect()
}

/// Waits until the server has `body` in `room`.
pub async fn lands_in(api: &Api, room: RoomId, body: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !bodies(api, room).await.iter().any(|b| b == body) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{body:?} never landed in room {room}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
