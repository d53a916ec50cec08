//! Export and import: a Slack-format export the test writes (users,
//! public channels, day files, threads, reactions, a file with its bytes)
//! is imported into a running server by its CLI, twice, doubling nothing;
//! the whole server and one user's data are exported and read back.

use crate::cli::run_ok;
use crate::helpers::*;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::Path;

const NOTES: &[u8] = b"release notes: v1.2 ships on Friday\n";
/// 2024-01-01T09:00:00Z, and a message's ts from it.
const T0: i64 = 1_704_099_600;

fn ts(offset: i64) -> String {
    format!("{}.{:06}", T0 + offset, 100 + offset)
}

/// A Slack export as Slack writes it.
fn slack_export(path: &Path) {
    let users = json!([
        {"id": "U1", "name": "ann", "real_name": "Ann Lee", "profile": {"display_name": "Ann"}},
        {"id": "U2", "name": "bob", "profile": {}},
        {"id": "U3", "name": "carl", "deleted": true, "profile": {"real_name": "Carl"}},
        {"id": "B1", "name": "deploybot", "is_bot": true, "profile": {}},
    ]);
    let channels = json!([
        {"id": "C1", "name": "general", "members": ["U1", "U2", "U3"],
         "topic": {"value": ""}, "purpose": {"value": "Everyone"}},
        {"id": "C2", "name": "dev-ops", "members": ["U1", "B1"],
         "topic": {"value": "Deploys &amp; alerts"}},
        {"id": "C3", "name": "old-stuff", "members": ["U1"], "is_archived": true},
    ]);
    let general_day1 = json!([
        {"type": "message", "subtype": "channel_join", "user": "U2", "text": "<@U2> has joined the channel", "ts": ts(0)},
        {"type": "message", "user": "U1", "text": "hello <@U2> &amp; welcome to <#C2|dev-ops>", "ts": ts(10),
         "reactions": [{"name": "+1", "users": ["U2", "U3"], "count": 2}, {"name": "partyparrot", "users": ["U1"], "count": 1}],
         "reply_count": 1, "thread_ts": ts(10)},
        {"type": "message", "user": "U2", "text": "thanks!", "ts": ts(20), "thread_ts": ts(10), "parent_user_id": "U1"},
        {"type": "message", "user": "U3", "text": "see <https://example.com/doc|the doc>\u{1b}[31m", "ts": ts(30)},
    ]);
    let general_day2 = json!([
        {"type": "message", "user": "U2", "text": "notes attached", "ts": ts(86_400),
         "files": [{"id": "F1", "name": "notes.txt", "mimetype": "text/plain"}]},
        {"type": "message", "user": "U1", "text": "", "ts": ts(86_500),
         "files": [{"id": "F2", "name": "lost.png", "mimetype": "image/png"}]},
        {"type": "message", "user": "U9", "text": "from nobody we know", "ts": ts(86_600)},
    ]);
    let devops = json!([
        {"type": "message", "subtype": "bot_message", "user": "B1", "bot_id": "B1", "text": "deployed v1.1", "ts": ts(100)},
        {"type": "message", "user": "U1", "text": "nice", "ts": ts(200)},
    ]);
    let old = json!([{"type": "message", "user": "U1", "text": "ancient history", "ts": ts(5)}]);
    let file = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default();
    for (name, value) in [
        ("users.json", users),
        ("channels.json", channels),
        // (A day file out of order in the archive: the import sorts.)
        ("general/2024-01-02.json", general_day2),
        ("general/2024-01-01.json", general_day1),
        ("dev-ops/2024-01-01.json", devops),
        ("old-stuff/2024-01-01.json", old),
    ] {
        zip.start_file(name, opts).unwrap();
        zip.write_all(value.to_string().as_bytes()).unwrap();
    }
    zip.start_file("__uploads/F1/notes.txt", opts).unwrap();
    zip.write_all(NOTES).unwrap();
    zip.finish().unwrap();
}

async fn room_named(app: &TestApp, token: &str, name: &str) -> Value {
    let rooms = app.get_json("/api/rooms", token).await;
    rooms["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no room {name} in {rooms}"))
}

async fn events(app: &TestApp, token: &str, room: i64) -> Vec<Value> {
    app.get_json(&format!("/api/rooms/{room}/events?limit=200"), token)
        .await["events"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_slack_export_is_imported_with_threads_reactions_and_files_and_again_doubles_nothing() {
    let app = spawn_app().await;
    let root = app.register_ok("root").await;
    // bob is here already: the import's bob is him.
    let bob = app.register_ok("bob").await;
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("export.zip");
    slack_export(&zip);

    let out = run_ok(app.cli().arg("import-slack").arg(&zip), None);
    assert!(
        out.contains("imported 8 messages (3 reactions, 1 files)"),
        "{out}"
    );
    assert!(out.contains("users: 3 new, 1 already here"), "{out}");
    assert!(out.contains("rooms: 2 new, 1 already here"), "{out}");

    // general: in time order, with the original times, markup converted.
    let general = room_named(&app, &bob, "general").await;
    assert_eq!(general["unread"], 0, "imported history is not news");
    let evs = events(&app, &bob, general["id"].as_i64().unwrap()).await;
    let messages: Vec<&Value> = evs.iter().filter(|e| e["type"] == "message").collect();
    let bodies: Vec<&str> = messages
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        [
            "hello @bob & welcome to #dev-ops",
            "thanks!",
            "see [the doc](https://example.com/doc)[31m",
            "notes attached",
            "[file: lost.png]",
        ]
    );
    let hello = messages[0];
    assert_eq!(hello["from"], "ann");
    assert_eq!(
        hello["ts"],
        json!(securechat_proto::Timestamp((T0 + 10) * 1000).to_string())
    );
    assert_eq!(hello["replies"]["count"], 1);
    assert_eq!(messages[1]["thread"], hello["id"]);
    let reaction = |emoji: &str| {
        hello["reactions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["emoji"] == emoji)
            .cloned()
            .unwrap_or_else(|| panic!("no {emoji} in {}", hello["reactions"]))
    };
    assert_eq!(reaction("👍")["users"], json!(["bob", "carl"]));
    assert_eq!(reaction(":partyparrot:")["users"], json!(["ann"]));
    // The file with its bytes.
    let file = &messages[3]["file"];
    assert_eq!(file["name"], "notes.txt");
    let got = app
        .http
        .get(app.url(&format!("/api/files/{}", file["id"])))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&got[..], NOTES);

    // dev-ops: a public room with its topic; the bot's message is the bot's.
    let rooms = app.get_json("/api/rooms", &bob).await;
    let devops = rooms["public"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "dev-ops")
        .cloned()
        .unwrap_or_else(|| panic!("{rooms}"));
    assert_eq!(devops["topic"], "Deploys & alerts");
    assert_eq!(devops["members"], 2);
    app.post(
        &format!("/api/rooms/{}/join", devops["id"]),
        json!({}),
        Some(&bob),
    )
    .await;
    let devops_events = events(&app, &bob, devops["id"].as_i64().unwrap()).await;
    assert_eq!(devops_events[0]["from"], "deploybot");
    assert_eq!(devops_events[0]["body"], "deployed v1.1");
    let bot = app.get_json("/api/users/deploybot", &bob).await;
    assert_eq!(bot["is_bot"], true);
    let ann = app.get_json("/api/users/ann", &bob).await;
    assert_eq!(ann["display_name"], "Ann");
    // Carl was deactivated in Slack: disabled here. Ann has no password
    // until she gets a reset link.
    assert!(app.user("carl").await.disabled);
    assert_eq!(app.login("ann", "!imported").await.status(), 401);
    let link = run_ok(app.cli().args(["user", "reset-link", "ann"]), None);
    assert!(link.contains("#reset="));

    // Again: nothing doubles.
    let out = run_ok(app.cli().arg("import-slack").arg(&zip), None);
    assert!(out.contains("imported 0 messages"), "{out}");
    assert!(
        out.contains("8 messages were there from a run before"),
        "{out}"
    );
    let again = events(&app, &bob, general["id"].as_i64().unwrap()).await;
    assert_eq!(again.len(), evs.len());
    assert_eq!(again[1]["reactions"], evs[1]["reactions"]);

    // An archived channel is an archived room (root, an admin, sees it).
    let rooms = app.get_json("/api/rooms", &root).await;
    let old = rooms["public"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "old-stuff")
        .cloned();
    assert!(old.is_some(), "{rooms}");
}

#[tokio::test]
async fn what_is_not_a_slack_export_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let not_zip = dir.path().join("notes.txt");
    std::fs::write(&not_zip, "hello").unwrap();
    let no_users = dir.path().join("empty.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&no_users).unwrap());
    zip.start_file("channels.json", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.write_all(b"[]").unwrap();
    zip.finish().unwrap();
    for (file, why) in [
        (&not_zip, "not a zip file"),
        (&no_users, "users.json is missing"),
    ] {
        let out = app.cli().arg("import-slack").arg(file).output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("not a Slack export") && err.contains(why),
            "{err}"
        );
    }
    let users = app
        .state
        .store
        .read(|c| c.query_row("SELECT COUNT(*) FROM users", (), |r| r.get::<i64>(0)))
        .await
        .unwrap();
    assert_eq!(users, 0);
}

#[tokio::test]
async fn the_server_and_one_user_export_their_data_as_json_and_files() {
    let app = spawn_app().await;
    let _root = app.register_ok("root").await;
    let bob = app.register_ok("bob").await;
    let ann = app.register_ok("ann").await;
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("export.zip");
    slack_export(&zip);
    run_ok(app.cli().arg("import-slack").arg(&zip), None);
    let (mut c, w) = app.connect(&ann).await;
    c.send_text(general(&w), "ann-1", "ann says hi").await;
    c.next_ack().await;

    // The whole server.
    let dest = dir.path().join("all");
    let out = run_ok(app.cli().arg("export").arg(&dest), None);
    assert!(out.contains("exported 5 users"), "{out}");
    let users: Value =
        serde_json::from_slice(&std::fs::read(dest.join("users.json")).unwrap()).unwrap();
    assert!(!users.to_string().contains("argon2"), "no password hashes");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dest.join("export.json")).unwrap()).unwrap();
    assert_eq!(manifest["scope"], "server");
    let general = general(&w);
    let lines = std::fs::read_to_string(dest.join(format!("rooms/{}.jsonl", general.0))).unwrap();
    let frames: Vec<securechat_proto::ServerMsg> = lines
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is a frame"))
        .collect();
    assert!(
        frames.iter().any(
            |f| matches!(f, securechat_proto::ServerMsg::Message(m) if m.body == "ann says hi")
        )
    );
    let sha = frames
        .iter()
        .find_map(|f| match f {
            securechat_proto::ServerMsg::Message(m) => m.file.as_ref().map(|f| f.sha256.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(std::fs::read(dest.join("files").join(&sha)).unwrap(), NOTES);
    // Not into a directory that has things in it.
    let out = app.cli().arg("export").arg(&dest).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));

    // Bob's own, over the API, as a zip: only what he wrote.
    let res = app
        .http
        .get(app.url("/api/me/export"))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/zip");
    let bytes = res.bytes().await.unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut read = |name: &str| {
        let mut s = Vec::new();
        archive.by_name(name).unwrap().read_to_end(&mut s).unwrap();
        s
    };
    let manifest: Value = serde_json::from_slice(&read("export.json")).unwrap();
    assert_eq!(
        (manifest["scope"].as_str(), manifest["user"].as_str()),
        (Some("user"), Some("bob"))
    );
    let mine = String::from_utf8(read(&format!("rooms/{}.jsonl", general.0))).unwrap();
    assert!(mine.contains("notes attached") && mine.contains("thanks!"));
    assert!(!mine.contains("ann says hi") && !mine.contains("hello @bob"));
    assert_eq!(read(&format!("files/{sha}")), NOTES);
    assert_eq!(app.get("/api/me/export", None).await.status(), 401);
}
