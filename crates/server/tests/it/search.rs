//! Search: words, phrases, prefixes and filters over the FTS5 index; only
//! rooms the user is in now; deleted messages never, edited ones by their
//! new text; hostile queries answered, never a 500; a budget.

use crate::files::upload;
use crate::helpers::*;
use reqwest::StatusCode;
use securechat_proto::RoomId;
use serde_json::{Value, json};

static SENT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

async fn send_all(app: &TestApp, token: &str, room: RoomId, bodies: &[&str]) -> Vec<i64> {
    let (mut c, _) = app.connect(token).await;
    let mut ids = Vec::new();
    for body in bodies {
        let n = SENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        c.send_text(room, &format!("search-{n}"), body).await;
        ids.push(c.next_ack().await.id.0);
    }
    ids
}

async fn find(app: &TestApp, token: &str, q: &str) -> Value {
    let res = app
        .http
        .get(app.url("/api/search"))
        .query(&[("q", q)])
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{q}");
    res.json().await.unwrap()
}

fn bodies_of(v: &Value) -> Vec<String> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            h["snippet"]
                .as_str()
                .unwrap()
                .replace(['\u{2}', '\u{3}'], "")
        })
        .collect()
}

#[tokio::test]
async fn words_phrases_prefixes_filters_and_permissions() {
    let app = spawn_with(|c| {
        c.rate_per_sec = 1000.0;
        c.burst = 1000;
    })
    .await;
    let alice = app.register_ok("alice").await;
    let bob = app.register_ok("bob").await;
    let carol = app.register_ok("carol").await;
    let (_, w) = app.connect(&alice).await;
    let general = general(&w);
    let ops = app.new_room(&alice, "ops", "public").await;
    let secret = app.new_room(&alice, "secret", "private").await;
    app.post(&format!("/api/rooms/{ops}/join"), json!({}), Some(&bob))
        .await;

    send_all(
        &app,
        &alice,
        general,
        &[
            "the deploy went fine",
            "release notes are ready",
            "Café au lait",
        ],
    )
    .await;
    send_all(
        &app,
        &bob,
        ops,
        &["deploying the release now", "deployment failed"],
    )
    .await;
    send_all(&app, &alice, secret, &["the secret deploy plan"]).await;

    // Words, newest first, highlighted.
    let v = find(&app, &bob, "deploy").await;
    assert_eq!(bodies_of(&v), ["the deploy went fine"]);
    let snippet = v["results"][0]["snippet"].as_str().unwrap();
    assert_eq!(snippet, "the \u{2}deploy\u{3} went fine");
    assert_eq!(v["results"][0]["room_name"], "general");
    assert_eq!(v["results"][0]["from"], "alice");
    assert_eq!(v["more"], false);
    // Prefixes; a phrase; diacritics folded.
    assert_eq!(
        bodies_of(&find(&app, &bob, "deploy*").await),
        [
            "deployment failed",
            "deploying the release now",
            "the deploy went fine"
        ]
    );
    assert_eq!(
        bodies_of(&find(&app, &bob, "\"release notes\"").await),
        ["release notes are ready"]
    );
    assert_eq!(bodies_of(&find(&app, &bob, "cafe").await), ["Café au lait"]);
    // Best match first: the message with the word twice ranks first.
    send_all(
        &app,
        &alice,
        general,
        &["review review the plan", "one review today"],
    )
    .await;
    let res = app
        .http
        .get(app.url("/api/search"))
        .query(&[("q", "review"), ("order", "best")])
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    let v: Value = res.json().await.unwrap();
    assert_eq!(bodies_of(&v)[0], "review review the plan");
    assert_eq!(
        bodies_of(&find(&app, &bob, "review").await)[0],
        "one review today",
        "newest first by default"
    );
    // Filters.
    assert_eq!(
        bodies_of(&find(&app, &bob, "deploy* from:bob").await),
        ["deployment failed", "deploying the release now"]
    );
    assert_eq!(
        bodies_of(&find(&app, &bob, "release in:#ops").await),
        ["deploying the release now"]
    );
    assert_eq!(
        find(&app, &bob, "deploy* before:2000-01-01").await["results"],
        json!([])
    );
    assert_eq!(
        find(&app, &bob, "deploy* after:2000-01-01").await["results"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // Only rooms the user is in now: the private room never; a room left,
    // no more.
    assert_eq!(
        bodies_of(&find(&app, &alice, "deploy").await),
        ["the secret deploy plan", "the deploy went fine"]
    );
    assert_eq!(
        bodies_of(&find(&app, &carol, "deploy*").await),
        ["the deploy went fine"]
    );
    app.post(&format!("/api/rooms/{ops}/leave"), json!({}), Some(&bob))
        .await;
    assert_eq!(
        bodies_of(&find(&app, &bob, "deploy*").await),
        ["the deploy went fine"]
    );

    // An edit is found by its new text only; a deletion not at all.
    let ids = send_all(&app, &carol, general, &["typo in the mesage"]).await;
    let path = format!("/api/rooms/{general}/messages/{}", ids[0]);
    app.patch(&path, json!({"body": "fixed the message"}), &carol)
        .await;
    assert_eq!(find(&app, &carol, "mesage").await["results"], json!([]));
    assert_eq!(
        bodies_of(&find(&app, &carol, "message").await),
        ["fixed the message"]
    );
    app.delete(&path, &carol).await;
    assert_eq!(find(&app, &carol, "message").await["results"], json!([]));

    // has:file, and a query of filters only.
    upload(
        &app,
        &carol,
        general,
        "report.pdf",
        "application/pdf",
        b"%PDF".to_vec(),
    )
    .await;
    let v = find(&app, &alice, "has:file").await;
    assert_eq!(v["results"].as_array().unwrap().len(), 1);
    assert!(v["results"][0]["file"].is_number());
    assert_eq!(
        find(&app, &alice, "has:file from:alice").await["results"],
        json!([])
    );

    // Paging.
    let page = |offset: u32| {
        let app = &app;
        let bob = bob.clone();
        async move {
            app.http
                .get(app.url("/api/search"))
                .query(&[
                    ("q", "deploy*"),
                    ("limit", "1"),
                    ("offset", &offset.to_string()),
                ])
                .bearer_auth(&bob)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    app.post(&format!("/api/rooms/{ops}/join"), json!({}), Some(&bob))
        .await;
    let (p0, p2) = (page(0).await, page(2).await);
    assert_eq!(
        (p0["more"].as_bool(), p2["more"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(bodies_of(&p2), ["the deploy went fine"]);
}

#[tokio::test]
async fn hostile_queries_get_an_answer_or_a_clear_error() {
    let app = spawn_with(|c| c.search_burst = 1000).await;
    let alice = app.register_ok("alice").await;
    let (_, w) = app.connect(&alice).await;
    send_all(
        &app,
        &alice,
        general(&w),
        &["hello \"quoted\" world", "日本語のテキスト"],
    )
    .await;
    let long = "x".repeat(600);
    let many = "w ".repeat(20);
    for q in [
        "\"",
        "\"\"",
        "*",
        "**",
        "-",
        "NEAR(a b)",
        "a OR b AND NOT c",
        "body:hello",
        "^hello",
        "hello\"",
        "{a b}",
        "(",
        ")",
        "'",
        "\\",
        "%",
        "_",
        "\u{0}",
        "🙂",
        "日本語*",
        "from:",
        "in:",
        "before:",
        "has:",
        "from:@",
        "in:#",
        "before:2026-13-40",
        long.as_str(),
        many.as_str(),
        "",
        "   ",
        "\u{202e}hello",
    ] {
        let res = app
            .http
            .get(app.url("/api/search"))
            .query(&[("q", q)])
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap();
        let status = res.status();
        assert!(
            status == StatusCode::OK || status == StatusCode::BAD_REQUEST,
            "{q:?} → {status}"
        );
        if status == StatusCode::BAD_REQUEST {
            let (code, message) = error_of(res).await;
            assert_eq!(code, "bad_request");
            assert!(!message.is_empty(), "{q:?}");
        }
    }
    assert_eq!(
        bodies_of(&find(&app, &alice, "\"quoted\" world").await),
        ["hello \"quoted\" world"]
    );
    assert_eq!(
        find(&app, &alice, "日本語のテキスト").await["results"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(app.get("/api/search?q=x", None).await.status(), 401);
    assert_eq!(
        app.get("/api/search?q=x&order=random", Some(&alice))
            .await
            .status(),
        400
    );
    assert_eq!(app.get("/api/search", Some(&alice)).await.status(), 400);
}

#[tokio::test]
async fn searches_are_rate_limited() {
    let app = spawn_with(|c| c.search_burst = 5).await;
    let alice = app.register_ok("alice").await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let res = app.get("/api/search?q=hello", Some(&alice)).await;
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(res.headers().contains_key("retry-after"));
        }
        statuses.push(res.status().as_u16());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        5,
        "{statuses:?}"
    );
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
}
