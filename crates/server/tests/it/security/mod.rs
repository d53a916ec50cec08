//! The security hardening suite: each test attacks a real server the way
//! an attacker would (concurrency where the hole was about concurrency)
//! and checks the refusal the docs promise.
//!
//! - [`accounts`]: login and password-change throttling under concurrency,
//!   no lockout by strangers, registration order and flood, the cookie;
//! - [`budgets`]: every state-changing action is charged; socket caps;
//!   racing uploads;
//! - [`requests`]: cross-site requests, look-alike file names, private
//!   rooms that answer as missing ones, the exact header limit, metrics;
//! - [`host`]: file modes on disk and the data directory's lock.

mod accounts;
mod budgets;
mod host;
mod requests;

use crate::helpers::*;
use serde_json::{Value, json};
use std::net::{IpAddr, Ipv4Addr};

/// Loopback address number `n` (127.0.0.n): Linux routes all of 127/8 to
/// the loopback interface, so tests can act as many client addresses.
pub fn ip(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
}

/// Logs `username` in from `from`; returns the status.
pub async fn login_from(app: &TestApp, from: IpAddr, username: &str, password: &str) -> u16 {
    app.http_from(from)
        .post(app.url("/api/login"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

/// Registers `username` from `from`, returning the response.
pub async fn register_from(app: &TestApp, from: IpAddr, username: &str) -> reqwest::Response {
    app.http_from(from)
        .post(app.url("/api/register"))
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .expect("request")
}

/// The whole JSON error answer (status and body), for comparing answers.
pub async fn answer(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}
