//! [`Endpoint`]: a running server as its clients reach it (its address,
//! the CA to trust, an HTTPS client), and the requests tests make: JSON
//! calls, registration, WebSocket connections. [`crate::helpers::TestApp`]
//! derefs to one; a server in another process gets one of its own.

use crate::helpers::{Client, PASSWORD, client_tls};
use reqwest::StatusCode;
use rustls::pki_types::{CertificateDer, ServerName};
use securechat_proto::RoomId;
use securechat_proto::ws::{RoomInfo, Welcome};
use serde_json::{Value, json};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// A server's address, the CA it is trusted by, and an HTTPS client.
pub struct Endpoint {
    pub addr: SocketAddr,
    pub ca_der: CertificateDer<'static>,
    pub http: reqwest::Client,
}

impl Endpoint {
    /// The endpoint of a server at `addr` whose certificate `ca` signed.
    pub fn new(addr: SocketAddr, ca_der: CertificateDer<'static>) -> Endpoint {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(client_tls(&ca_der))
            .resolve("localhost", addr)
            .build()
            .unwrap();
        Endpoint { addr, ca_der, http }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    pub async fn post(&self, path: &str, body: Value, token: Option<&str>) -> reqwest::Response {
        let mut req = self.http.post(self.url(path)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn patch(&self, path: &str, body: Value, token: &str) -> reqwest::Response {
        self.http
            .patch(self.url(path))
            .json(&body)
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn put(&self, path: &str, body: Value, token: &str) -> reqwest::Response {
        self.http
            .put(self.url(path))
            .json(&body)
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn delete(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    /// POSTs and returns the `room` of a `RoomResponse`, asserting `status`.
    pub async fn post_room(&self, path: &str, body: Value, token: &str, status: u16) -> RoomInfo {
        let res = self.post(path, body, Some(token)).await;
        assert_eq!(res.status().as_u16(), status, "POST {path}");
        let body: Value = res.json().await.unwrap();
        serde_json::from_value(body["room"].clone()).expect("a room")
    }

    /// Creates a room named `name` of `kind` ("public" or "private") as
    /// `token`'s user; returns its id.
    pub async fn new_room(&self, token: &str, name: &str, kind: &str) -> RoomId {
        self.post_room(
            "/api/rooms",
            json!({"name": name, "kind": kind}),
            token,
            201,
        )
        .await
        .id
    }

    /// The bodies of the latest page of `room`'s history, oldest first.
    pub async fn history_bodies(&self, room: RoomId, token: &str) -> Vec<String> {
        let history = self
            .get_json(&format!("/api/rooms/{room}/events"), token)
            .await;
        history["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter_map(|e| e["body"].as_str().map(str::to_owned))
            .collect()
    }

    /// GETs JSON, asserting 200.
    pub async fn get_json(&self, path: &str, token: &str) -> Value {
        let res = self.get(path, Some(token)).await;
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        res.json().await.unwrap()
    }

    pub async fn register(&self, username: &str, password: &str) -> reqwest::Response {
        self.post(
            "/api/register",
            json!({"username": username, "password": password}),
            None,
        )
        .await
    }

    /// Registers `username` and returns its session token.
    pub async fn register_ok(&self, username: &str) -> String {
        let res = self.register(username, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::CREATED, "register {username}");
        let body: Value = res.json().await.unwrap();
        body["token"].as_str().unwrap().to_owned()
    }

    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        self.post(
            "/api/login",
            json!({"username": username, "password": password}),
            None,
        )
        .await
    }

    /// Opens a wss:// connection with `token` and reads its `welcome`.
    pub async fn connect(&self, token: &str) -> (Client, Welcome) {
        let mut c = self.ws(token).await.expect("websocket connects");
        let welcome = c.welcome().await;
        (c, welcome)
    }

    /// Opens `/ws` with a bearer token.
    pub async fn ws(&self, token: &str) -> Result<Client, tungstenite::Error> {
        self.ws_with(&[("authorization", format!("Bearer {token}"))], None)
            .await
    }

    /// Opens `/ws` with the given headers; `recv_buffer` shrinks the
    /// client's TCP receive buffer (to make a slow consumer).
    pub async fn ws_with(
        &self,
        headers: &[(&str, String)],
        recv_buffer: Option<u32>,
    ) -> Result<Client, tungstenite::Error> {
        let socket = TcpSocket::new_v4().unwrap();
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size).unwrap();
        }
        self.ws_on(socket, headers).await
    }

    /// Opens `/ws` with a bearer token from the local address `ip` (any
    /// 127.0.0.0/8 address works on Linux loopback).
    pub async fn ws_from(&self, token: &str, ip: IpAddr) -> Result<Client, tungstenite::Error> {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(ip, 0)).unwrap();
        self.ws_on(socket, &[("authorization", format!("Bearer {token}"))])
            .await
    }

    async fn ws_on(
        &self,
        socket: TcpSocket,
        headers: &[(&str, String)],
    ) -> Result<Client, tungstenite::Error> {
        let tcp = socket.connect(self.addr).await?;
        let connector = TlsConnector::from(Arc::new(client_tls(&self.ca_der)));
        let tls = connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await?;
        let mut req = format!("wss://localhost:{}/ws", self.addr.port())
            .into_client_request()
            .unwrap();
        for (k, v) in headers {
            let name: tungstenite::http::HeaderName = k.parse().expect("header name");
            req.headers_mut()
                .insert(name, v.parse().expect("header value"));
        }
        let (stream, _) = tokio_tungstenite::client_async(req, tls).await?;
        Ok(Client { stream })
    }

    /// An HTTPS client (trusting this server) whose connections come from
    /// the local address `ip`.
    pub fn http_from(&self, ip: IpAddr) -> reqwest::Client {
        reqwest::Client::builder()
            .tls_backend_preconfigured(client_tls(&self.ca_der))
            .resolve("localhost", self.addr)
            .local_address(ip)
            .build()
            .unwrap()
    }

    /// A TLS connection to the server on which nothing was sent yet.
    pub async fn raw_tls(&self) -> TlsStream<TcpStream> {
        let tcp = TcpStream::connect(self.addr).await.unwrap();
        TlsConnector::from(Arc::new(client_tls(&self.ca_der)))
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .expect("TLS handshake")
    }
}
