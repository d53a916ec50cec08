//! Collaboration: threads (replies, summaries, follow, unread), reactions,
//! mentions (counts, the Mentions view, `@room`), notification settings,
//! pins; each as events in the room's stream, and none of it visible from
//! outside a room.

use crate::helpers::*;
use reqwest::StatusCode;
use securechat_proto::collab::NotifyLevel;
use securechat_proto::ws::{MessageEvent, RoomInfo};
use securechat_proto::{RoomId, ServerMsg};
use serde_json::{Value, json};

static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn cmid() -> String {
    format!(
        "collab-{}",
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// Sends `body` (in `thread` when given) and returns the stored message.
async fn send(
    c: &mut Client,
    room: RoomId,
    body: &str,
    thread: Option<i64>,
    also: bool,
) -> MessageEvent {
    let id = cmid();
    let mut frame = json!({"type": "send", "room": room, "client_msg_id": id, "body": body});
    if let Some(t) = thread {
        frame["thread"] = json!(t);
        frame["also_room"] = json!(also);
    }
    c.send_json(frame).await;
    // The ack and the echo come in either order.
    let (mut ack, mut echo) = (None, Vec::new());
    loop {
        match c.next().await {
            ServerMsg::Ack(a) if a.client_msg_id == id => ack = Some(a.id),
            ServerMsg::Message(m) => echo.push(m),
            ServerMsg::Error(e) => panic!("send failed: {e:?}"),
            _ => {}
        }
        if let Some(id) = ack
            && let Some(m) = echo.iter().find(|m| m.id == id)
        {
            return m.clone();
        }
    }
}

/// Replies in `root`'s thread from `room`, which must be refused: the
/// error's message.
async fn refused_reply(c: &mut Client, room: RoomId, root: i64) -> String {
    c.send_json(
        json!({"type": "send", "room": room, "client_msg_id": cmid(),
                       "body": "x", "thread": root}),
    )
    .await;
    match c.next_where(|m| matches!(m, ServerMsg::Error(_))).await {
        ServerMsg::Error(e) => e.message,
        _ => unreachable!(),
    }
}

async fn history(app: &TestApp, room: RoomId, token: &str) -> Vec<Value> {
    app.get_json(&format!("/api/rooms/{room}/events"), token)
        .await["events"]
        .as_array()
        .unwrap()
        .clone()
}

async fn message_in(app: &TestApp, room: RoomId, token: &str, id: i64) -> Value {
    history(app, room, token)
        .await
        .into_iter()
        .find(|e| e["type"] == "message" && e["id"] == id)
        .expect("the message is in history")
}

async fn room_info(app: &TestApp, token: &str, room: RoomId) -> RoomInfo {
    let v = app.get_json("/api/rooms", token).await;
    let rooms: Vec<RoomInfo> = serde_json::from_value(v["rooms"].clone()).unwrap();
    rooms.into_iter().find(|r| r.id == room).expect("a member")
}

fn fast(c: &mut securechat_server::config::Config) {
    c.rate_per_sec = 1000.0;
    c.burst = 1000;
    c.action_rate_per_sec = 1000.0;
    c.action_burst = 1000;
}

#[tokio::test]
async fn threads_reply_summarize_follow_and_count_unread() {
    let app = spawn_with(fast).await;
    let ann = app.register_ok("ann").await;
    let bob = app.register_ok("bob").await;
    let cat = app.register_ok("cat").await;
    let (mut a, w) = app.connect(&ann).await;
    let room = general(&w);
    let (mut b, _) = app.connect(&bob).await;
    let (mut c, _) = app.connect(&cat).await;

    let root = send(&mut a, room, "shall we ship friday?", None, false).await;
    let r1 = send(&mut b, room, "yes", Some(root.id.0), false).await;
    assert_eq!(r1.thread, Some(root.id));
    assert!(!r1.also_room);
    // The starter and the replier now follow the thread; the starter is
    // told live (the replier's frame came before the ack `send` waited for).
    match a.next_where(|m| matches!(m, ServerMsg::Thread(_))).await {
        ServerMsg::Thread(st) => {
            assert_eq!((st.room, st.root, st.following), (room, root.id, true))
        }
        _ => unreachable!(),
    }
    let bobs = app
        .get_json(&format!("/api/rooms/{room}/threads/{}", root.id), &bob)
        .await;
    assert_eq!(bobs["following"], true);
    // A reply to a reply joins the root's thread; this one also shows in the room.
    let r2 = send(&mut c, room, "after the demo", Some(r1.id.0), true).await;
    assert_eq!(r2.thread, Some(root.id));
    assert!(r2.also_room);

    let got = message_in(&app, room, &ann, root.id.0).await;
    assert_eq!(got["replies"]["count"], 2);
    assert_eq!(got["replies"]["users"], json!(["cat", "bob"]));
    assert_eq!(got["replies"]["last_ts"], json!(r2.ts));

    let thread = app
        .get_json(&format!("/api/rooms/{room}/threads/{}", root.id), &cat)
        .await;
    assert_eq!(thread["root"]["id"], root.id.0);
    let replies: Vec<&str> = thread["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["body"].as_str().unwrap())
        .collect();
    assert_eq!(replies, ["yes", "after the demo"]);
    assert_eq!(thread["following"], true);
    // Asking by a reply's id shows the same thread.
    let same = app
        .get_json(&format!("/api/rooms/{room}/threads/{}", r1.id), &cat)
        .await;
    assert_eq!(same["root"]["id"], root.id.0);

    // Room unread counts the root and the reply sent to the room, not the
    // thread-only one.
    assert_eq!(room_info(&app, &ann, room).await.unread, 1);
    // Ann's followed threads: two replies from others unread.
    let threads = app.get_json("/api/threads", &ann).await;
    assert_eq!(threads["threads"][0]["root"]["id"], root.id.0);
    assert_eq!(threads["threads"][0]["unread"], 2);
    let res = app
        .post(
            &format!("/api/rooms/{room}/threads/{}/read", root.id),
            json!({"seq": r2.seq}),
            Some(&ann),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let threads = app.get_json("/api/threads", &ann).await;
    assert_eq!(threads["threads"][0]["unread"], 0);
    // Her other session hears the read mark.
    match a
        .next_where(|m| matches!(m, ServerMsg::Thread(st) if st.read_seq == r2.seq))
        .await
    {
        ServerMsg::Thread(st) => assert!(st.following),
        _ => unreachable!(),
    }

    // Unfollowing sticks: another reply does not make the starter follow again.
    let res = app
        .delete(
            &format!("/api/rooms/{room}/threads/{}/follow", root.id),
            &ann,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    send(&mut b, room, "ok then", Some(root.id.0), false).await;
    let threads = app.get_json("/api/threads", &ann).await;
    assert_eq!(threads["threads"], json!([]));
    // Being mentioned in a thread follows it again.
    send(&mut b, room, "@ann you there?", Some(root.id.0), false).await;
    let threads = app.get_json("/api/threads", &ann).await;
    assert_eq!(threads["threads"][0]["root"]["id"], root.id.0);

    // Deleting a reply takes it off the summary.
    let res = app
        .delete(&format!("/api/rooms/{room}/messages/{}", r1.id), &bob)
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let got = message_in(&app, room, &ann, root.id.0).await;
    assert_eq!(got["replies"]["count"], 3);

    // A reply to a missing message, or to one in another room, is refused.
    let other = app.new_room(&ann, "other", "public").await;
    assert_eq!(
        refused_reply(&mut a, other, root.id.0).await,
        "no such message"
    );
    // A retried reply is stored once.
    let id = cmid();
    for _ in 0..2 {
        a.send_json(json!({"type": "send", "room": room, "client_msg_id": id,
                           "body": "twice", "thread": root.id.0}))
            .await;
        a.next_ack().await;
    }
    let thread = app
        .get_json(&format!("/api/rooms/{room}/threads/{}", root.id), &ann)
        .await;
    let twice = thread["replies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["body"] == "twice")
        .count();
    assert_eq!(twice, 1);
}

#[tokio::test]
async fn reactions_toggle_as_events_with_who_reacted() {
    let app = spawn_with(fast).await;
    let ann = app.register_ok("ann").await;
    let bob = app.register_ok("bob").await;
    let (mut a, w) = app.connect(&ann).await;
    let room = general(&w);
    let (mut b, _) = app.connect(&bob).await;
    let m = send(&mut a, room, "lunch?", None, false).await;
    let path = |emoji: &str| {
        format!(
            "/api/rooms/{room}/messages/{}/reactions/{}",
            m.id,
            urlencode(emoji)
        )
    };
    for (token, emoji) in [(&bob, "👍"), (&ann, "🎉"), (&ann, "👍"), (&ann, "👍")] {
        let res = app.put(&path(emoji), json!({}), token).await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
    }
    // Three stored events (the repeat changed nothing), seen live.
    let mut seen = Vec::new();
    while seen.len() < 3 {
        if let ServerMsg::Reaction(r) = b.next().await {
            assert_eq!(r.target, m.id);
            seen.push((r.by, r.emoji, r.add));
        }
    }
    assert_eq!(
        seen,
        [
            ("bob".into(), "👍".into(), true),
            ("ann".into(), "🎉".into(), true),
            ("ann".into(), "👍".into(), true)
        ]
    );
    let got = message_in(&app, room, &bob, m.id.0).await;
    assert_eq!(
        got["reactions"],
        json!([{"emoji": "👍", "users": ["bob", "ann"]}, {"emoji": "🎉", "users": ["ann"]}])
    );
    let res = app.delete(&path("👍"), &bob).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    match b.next_where(|m| matches!(m, ServerMsg::Reaction(_))).await {
        ServerMsg::Reaction(r) => assert!(!r.add && r.by == "bob"),
        _ => unreachable!(),
    }
    let got = message_in(&app, room, &bob, m.id.0).await;
    assert_eq!(got["reactions"][0]["users"], json!(["ann"]));

    // Bad reactions are refused with a reason.
    for bad in ["a b", "x\u{202E}y", &"🎉".repeat(9)] {
        let res = app.put(&path(bad), json!({}), &bob).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad:?}");
    }
    // At most 20 different reactions per message.
    for i in 0..18 {
        let res = app.put(&path(&format!("r{i}")), json!({}), &bob).await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
    }
    let res = app.put(&path("one-too-many"), json!({}), &bob).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    // …but joining an existing one is fine.
    let res = app.put(&path("r3"), json!({}), &ann).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    // Many of the same reaction at once: stored once, one event.
    let m2 = send(&mut a, room, "race", None, false).await;
    let p2 = format!(
        "/api/rooms/{room}/messages/{}/reactions/%F0%9F%94%A5",
        m2.id
    );
    let tries = (0..12).map(|_| app.put(&p2, json!({}), &bob));
    for res in futures_util::future::join_all(tries).await {
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
    }
    let events = history(&app, room, &ann).await;
    let fires = events
        .iter()
        .filter(|e| e["type"] == "reaction" && e["target"] == m2.id.0)
        .count();
    assert_eq!(fires, 1);

    // Deleting the message drops its reactions.
    app.delete(&format!("/api/rooms/{room}/messages/{}", m.id), &ann)
        .await;
    let got = message_in(&app, room, &ann, m.id.0).await;
    assert!(got.get("reactions").is_none());
    let res = app.put(&path("👍"), json!({}), &bob).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn mentions_are_counted_listed_and_room_wide_only_for_some() {
    let app = spawn_with(fast).await;
    let ann = app.register_ok("ann").await; // admin
    let bob = app.register_ok("bob").await;
    let cat = app.register_ok("cat").await;
    let (mut a, w) = app.connect(&ann).await;
    let general = general(&w);
    let (mut b, _) = app.connect(&bob).await;
    let team = app.new_room(&bob, "team", "public").await;
    app.post(&format!("/api/rooms/{team}/join"), json!({}), Some(&cat))
        .await;
    let (mut c, _) = app.connect(&cat).await;

    let m = send(
        &mut a,
        general,
        "hey @Bob and @nobody, `@cat` is code, mail x@cat.io",
        None,
        false,
    )
    .await;
    assert_eq!(m.mentions, ["bob"]);
    assert!(!m.mentions_room);
    assert_eq!(room_info(&app, &bob, general).await.mentions, 1);
    assert_eq!(room_info(&app, &cat, general).await.mentions, 0);
    // @room from someone who did not create the room (and is no admin): text.
    let m = send(&mut c, team, "@room lunch", None, false).await;
    assert!(!m.mentions_room);
    assert_eq!(room_info(&app, &bob, team).await.mentions, 0);
    // From its creator: everyone but the sender.
    let m = send(&mut b, team, "@here standup now", None, false).await;
    assert!(m.mentions_room);
    assert_eq!(room_info(&app, &cat, team).await.mentions, 1);
    assert_eq!(room_info(&app, &bob, team).await.mentions, 0);
    // Reading the room clears the count.
    c.send_json(json!({"type": "read", "room": team, "seq": m.seq}))
        .await;
    c.next_where(|f| matches!(f, ServerMsg::Read { .. })).await;
    assert_eq!(room_info(&app, &cat, team).await.mentions, 0);
    // Someone not in the room is not mentioned.
    let m = send(&mut b, team, "@ann look", None, false).await;
    assert!(m.mentions.is_empty());

    // The Mentions view, newest first, paged.
    send(&mut a, general, "@bob second", None, false).await;
    let v = app.get_json("/api/mentions?limit=1", &bob).await;
    assert_eq!(v["events"][0]["body"], "@bob second");
    assert_eq!(v["more"], true);
    let last = v["events"][0]["id"].as_i64().unwrap();
    let v = app
        .get_json(&format!("/api/mentions?before={last}"), &bob)
        .await;
    assert_eq!(v["events"].as_array().unwrap().len(), 1);
    assert_eq!(v["more"], false);
    // Mentions in a room one has left are not listed.
    app.post(&format!("/api/rooms/{team}/leave"), json!({}), Some(&cat))
        .await;
    let v = app.get_json("/api/mentions", &cat).await;
    assert_eq!(v["events"], json!([]));

    // An edit updates whom the message shows as mentioned.
    let res = app
        .patch(
            &format!(
                "/api/rooms/{general}/messages/{}",
                v["events"].as_array().map_or(last, |_| last)
            ),
            json!({"body": "@cat instead"}),
            &ann,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let edited: Value = res.json().await.unwrap();
    assert_eq!(edited["mentions"], json!(["cat"]));
    // Bob is no longer mentioned by it: his Mentions view drops it.
    let v = app.get_json("/api/mentions", &bob).await;
    let listed: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["body"].as_str().unwrap())
        .collect();
    assert!(!listed.contains(&"@cat instead"), "{listed:?}");
}

#[tokio::test]
async fn notification_settings_are_kept_per_user_and_told_to_every_session() {
    let app = spawn_app().await;
    let ann = app.register_ok("ann").await;
    let (mut a1, w) = app.connect(&ann).await;
    let room = general(&w);
    assert_eq!(w.rooms[0].notify, NotifyLevel::All);
    assert!(!w.rooms[0].muted);
    let path = format!("/api/rooms/{room}/notifications");
    let res = app
        .put(&path, json!({"level": "mentions", "muted": true}), &ann)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert_eq!(
        (v["room"]["notify"].clone(), v["room"]["muted"].clone()),
        (json!("mentions"), json!(true))
    );
    match a1
        .next_where(|m| matches!(m, ServerMsg::Notifications { .. }))
        .await
    {
        ServerMsg::Notifications {
            room: r,
            level,
            muted,
        } => {
            assert_eq!((r, level, muted), (room, NotifyLevel::Mentions, true))
        }
        _ => unreachable!(),
    }
    // A new session (any device) starts with them.
    let (_, w) = app.connect(&ann).await;
    assert_eq!(
        (w.rooms[0].notify, w.rooms[0].muted),
        (NotifyLevel::Mentions, true)
    );
    let res = app.put(&path, json!({"level": "loud"}), &ann).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

/// Pins `m` as `token`'s user; the answer's status.
async fn pin(app: &TestApp, room: RoomId, m: &MessageEvent, token: &str) -> StatusCode {
    let path = format!("/api/rooms/{room}/messages/{}/pin", m.id);
    app.put(&path, json!({}), token).await.status()
}

#[tokio::test]
async fn pins_are_listed_and_announced() {
    let app = spawn_with(fast).await;
    let ann = app.register_ok("ann").await;
    let bob = app.register_ok("bob").await;
    let (mut a, w) = app.connect(&ann).await;
    let room = general(&w);
    let (mut b, _) = app.connect(&bob).await;
    let m1 = send(
        &mut a,
        room,
        "the runbook: https://example.com/run",
        None,
        false,
    )
    .await;
    let m2 = send(&mut a, room, "on call: bob", None, false).await;
    for m in [&m1, &m2] {
        assert_eq!(pin(&app, room, m, &bob).await, StatusCode::NO_CONTENT);
    }
    match a.next_where(|m| matches!(m, ServerMsg::Pin(_))).await {
        ServerMsg::Pin(p) => assert!(p.pinned && p.target == m1.id && p.by == "bob"),
        _ => unreachable!(),
    }
    let pins = app.get_json(&format!("/api/rooms/{room}/pins"), &ann).await;
    let ids: Vec<i64> = pins["pins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [m2.id.0, m1.id.0]);
    assert_eq!(message_in(&app, room, &ann, m1.id.0).await["pinned"], true);
    let res = app
        .delete(&format!("/api/rooms/{room}/messages/{}/pin", m1.id), &ann)
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let pins = app.get_json(&format!("/api/rooms/{room}/pins"), &bob).await;
    assert_eq!(pins["pins"].as_array().unwrap().len(), 1);
    // A deleted message is no longer pinned.
    app.delete(&format!("/api/rooms/{room}/messages/{}", m2.id), &ann)
        .await;
    let pins = app.get_json(&format!("/api/rooms/{room}/pins"), &bob).await;
    assert_eq!(pins["pins"], json!([]));
    // At most 50 pins.
    for i in 0..50 {
        let m = send(&mut b, room, &format!("pin {i}"), None, false).await;
        assert_eq!(pin(&app, room, &m, &bob).await, StatusCode::NO_CONTENT);
    }
    let m = send(&mut b, room, "one more", None, false).await;
    assert_eq!(pin(&app, room, &m, &bob).await, StatusCode::CONFLICT);
}

#[tokio::test]
async fn nothing_leaks_from_a_room_one_cannot_read() {
    let app = spawn_with(fast).await;
    let ann = app.register_ok("ann").await;
    let eve = app.register_ok("eve").await;
    let (mut a, _) = app.connect(&ann).await;
    let secret = app.new_room(&ann, "secret", "private").await;
    let m = send(&mut a, secret, "@eve the plan", None, false).await;
    assert!(m.mentions.is_empty(), "eve is not a member");
    let reply = send(&mut a, secret, "step two", Some(m.id.0), false).await;
    app.put(
        &format!("/api/rooms/{secret}/messages/{}/pin", m.id),
        json!({}),
        &ann,
    )
    .await;
    let missing = RoomId(9999);
    let (_, eve_w) = app.connect(&eve).await;
    let public = general(&eve_w);
    let mut answers = Vec::new();
    for room in [secret, missing] {
        let paths = [
            (
                "PUT",
                format!("/api/rooms/{room}/messages/{}/reactions/x", m.id),
            ),
            (
                "DELETE",
                format!("/api/rooms/{room}/messages/{}/reactions/x", m.id),
            ),
            ("PUT", format!("/api/rooms/{room}/messages/{}/pin", m.id)),
            ("DELETE", format!("/api/rooms/{room}/messages/{}/pin", m.id)),
            ("GET", format!("/api/rooms/{room}/pins")),
            ("GET", format!("/api/rooms/{room}/threads/{}", m.id)),
            ("PUT", format!("/api/rooms/{room}/threads/{}/follow", m.id)),
            ("POST", format!("/api/rooms/{room}/threads/{}/read", m.id)),
            ("PUT", format!("/api/rooms/{room}/notifications")),
        ];
        let mut these = Vec::new();
        for (method, path) in paths {
            let body = json!({"seq": 1, "level": "all"});
            let res = match method {
                "PUT" => app.put(&path, body, &eve).await,
                "DELETE" => app.delete(&path, &eve).await,
                "POST" => app.post(&path, body, Some(&eve)).await,
                _ => app.get(&path, Some(&eve)).await,
            };
            these.push((res.status().as_u16(), res.text().await.unwrap()));
        }
        answers.push(these);
    }
    assert_eq!(
        answers[0], answers[1],
        "a private room answers like a missing one"
    );
    assert!(answers[0].iter().all(|(s, _)| *s == 404));
    // A message of the private room, reached through a room eve is in.
    for path in [
        format!("/api/rooms/{public}/messages/{}/reactions/x", m.id),
        format!("/api/rooms/{public}/messages/{}/pin", m.id),
    ] {
        let res = app.put(&path, json!({}), &eve).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
    let res = app
        .get(
            &format!("/api/rooms/{public}/threads/{}", reply.id),
            Some(&eve),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let (mut e, _) = app.connect(&eve).await;
    assert_eq!(
        refused_reply(&mut e, public, m.id.0).await,
        "no such message"
    );
    assert_eq!(
        app.get_json("/api/threads", &eve).await["threads"],
        json!([])
    );
    assert_eq!(
        app.get_json("/api/mentions", &eve).await["events"],
        json!([])
    );
}
