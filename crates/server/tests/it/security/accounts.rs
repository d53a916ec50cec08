//! Accounts under attack: concurrent guessing, lockouts, registration.

use super::{answer, ip, login_from, register_from};
use crate::helpers::*;
use futures_util::future::join_all;
use reqwest::StatusCode;
use securechat_server::config::RegistrationMode;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn concurrent_logins_check_no_more_passwords_than_the_limits_allow() {
    let app = spawn_app().await; // 5 free failures per (account, address)
    app.register_ok("victim").await;
    // 23 wrong guesses and the right password, all at once, one address.
    let mut guesses: Vec<String> = (0..23).map(|i| format!("guess number {i}")).collect();
    guesses.push(PASSWORD.to_owned());
    let statuses = join_all(
        guesses
            .iter()
            .map(|pw| login_from(&app, ip(1), "victim", pw)),
    )
    .await;
    let checked_wrong = statuses.iter().filter(|s| **s == 401).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert!(
        checked_wrong <= 6,
        "at most 5 free failures and the one after them are checked: {statuses:?}"
    );
    assert_eq!(
        checked_wrong + throttled + statuses.iter().filter(|s| **s == 200).count(),
        24
    );
    assert!(throttled >= 17, "{statuses:?}");
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains(&format!("securechat_logins_throttled_total {throttled}\n")),
        "{metrics}"
    );
}

#[tokio::test]
async fn concurrent_wrong_old_passwords_are_counted_before_they_are_checked() {
    let app = spawn_app().await;
    let token = app.register_ok("mallory").await;
    let statuses = join_all((0..20).map(|i| {
        app.post(
            "/api/password",
            json!({"old_password": format!("wrong old {i}"), "new_password": "a new password"}),
            Some(&token),
        )
    }))
    .await
    .into_iter()
    .map(|r| r.status().as_u16())
    .collect::<Vec<_>>();
    let checked = statuses.iter().filter(|s| **s == 403).count();
    assert!(checked <= 6, "{statuses:?}");
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        20 - checked,
        "{statuses:?}"
    );
    // The password did not change.
    // (From another address: this one waits now, as it should.)
    assert_eq!(
        super::login_from(&app, super::ip(2), "mallory", PASSWORD).await,
        200
    );
}

#[tokio::test]
async fn strangers_cannot_lock_the_admin_out() {
    let app = spawn_app().await; // slow-down after 20 failures on one account
    app.register_ok("root").await; // the first user: the admin
    // Strangers guess from ten addresses, six times each (one past the
    // free five, as in the old lockout).
    for n in 10..20 {
        for i in 0..6 {
            let status = login_from(&app, ip(n), "root", &format!("guess {n}-{i}")).await;
            assert!(status == 401 || status == 429, "{status}");
        }
    }
    // The account is under attack: an address that has failed on it now
    // waits after each failure, from its first…
    assert_eq!(
        login_from(&app, ip(20), "root", "one more guess").await,
        401
    );
    assert_eq!(login_from(&app, ip(20), "root", "and another").await, 429);
    // …while the admin, from an address with no failure, gets in at once.
    let started = Instant::now();
    assert_eq!(login_from(&app, ip(2), "root", PASSWORD).await, 200);
    assert!(started.elapsed() < Duration::from_secs(5));
    // And so does any other account from an attacker's address that is not
    // over its own limit.
    app.register_ok("bystander").await;
    assert_eq!(login_from(&app, ip(10), "bystander", PASSWORD).await, 200);
}

#[tokio::test]
async fn a_made_up_invite_code_tells_nothing_about_names() {
    let app = spawn_with(|c| c.registration = RegistrationMode::Invite).await;
    securechat_server::accounts::create_user(
        &app.state.store,
        &app.state.hasher,
        "taken",
        PASSWORD.into(),
        None,
        None,
        securechat_server::auth::password::Priority::Interactive,
    )
    .await
    .unwrap();
    let register = |name: &'static str| {
        app.post(
            "/api/register",
            json!({"username": name, "password": PASSWORD, "invite_code": "made-up"}),
            None,
        )
    };
    let existing = answer(register("taken").await).await;
    let free = answer(register("free-name").await).await;
    assert_eq!(existing, free, "the same answer either way");
    assert_eq!(existing.0, 403);
    assert_eq!(existing.1["error"]["code"], "registration_closed");
}

#[tokio::test]
async fn registration_is_throttled_per_address() {
    let app = spawn_with(|c| c.registrations_per_ip_per_hour = 3).await;
    for i in 0..3 {
        let res = register_from(&app, ip(30), &format!("new{i}")).await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let res = register_from(&app, ip(30), "new3").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=1200).contains(&retry),
        "a third of an hour at most: {retry}"
    );
    let (code, message) = error_of(res).await;
    assert_eq!(code, "rate_limited");
    assert!(message.contains("registrations"), "{message}");
    // Refused before anything was stored; other addresses are not affected.
    assert!(
        securechat_server::accounts::find_user(&app.state.store, "new3")
            .await
            .unwrap()
            .is_none()
    );
    let res = register_from(&app, ip(31), "new3").await;
    assert_eq!(res.status(), StatusCode::CREATED);
}

/// The median of some durations.
fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

#[tokio::test]
async fn logins_stay_fast_during_a_registration_flood() {
    let app = spawn_app().await;
    app.register_ok("regular").await;
    let mut quiet = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        assert_eq!(login_from(&app, ip(2), "regular", PASSWORD).await, 200);
        quiet.push(started.elapsed());
    }
    // 32 flooders on 32 addresses (so the per-address budget does not
    // stop them) register as fast as they can for a bounded time.
    let stop = Instant::now() + Duration::from_secs(4);
    let flood = (0..32u8).map(|n| {
        let client = app.http_from(ip(100 + n));
        let url = app.url("/api/register");
        tokio::spawn(async move {
            let (mut made, mut refused) = (0u32, 0u32);
            let mut i = 0;
            while Instant::now() < stop {
                i += 1;
                let res = client
                    .post(&url)
                    .json(&json!({"username": format!("fl{n}x{i}"), "password": PASSWORD}))
                    .send()
                    .await;
                match res.map(|r| r.status().as_u16()) {
                    Ok(201) => made += 1,
                    _ => refused += 1,
                }
            }
            (made, refused)
        })
    });
    let flood: Vec<_> = flood.collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut loaded = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        assert_eq!(login_from(&app, ip(2), "regular", PASSWORD).await, 200);
        loaded.push(started.elapsed());
    }
    let mut made = 0;
    for f in flood {
        made += f.await.unwrap().0;
    }
    let (quiet, loaded) = (median(quiet), median(loaded));
    eprintln!(
        "login median: {quiet:?} quiet, {loaded:?} during a flood of 32 registering clients ({made} accounts made)"
    );
    assert!(made > 0, "the flood did register accounts");
    // Logins wait for at most the hashes already running, not the queue.
    assert!(
        loaded <= quiet * 4 + Duration::from_millis(150),
        "login median {loaded:?} under the flood against {quiet:?} without"
    );
}

#[tokio::test]
async fn the_session_cookie_is_host_prefixed() {
    let app = spawn_app().await;
    let res = app.register("cookie", PASSWORD).await;
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-securechat_session="), "{cookie}");
    for part in ["; Secure", "; HttpOnly", "; SameSite=Strict", "; Path=/"] {
        assert!(cookie.contains(part), "{cookie} lacks {part}");
    }
    assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
    let token = res.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = app
        .http
        .get(app.url("/api/me"))
        .header("cookie", format!("__Host-securechat_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
}
