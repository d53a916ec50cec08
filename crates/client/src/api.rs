//! The HTTPS API, with the trust of [`crate::trust`].

use crate::ClientError;
use crate::trust::Tls;
use reqwest::{Method, StatusCode};
use securechat_proto::http::{
    ApiErrorBody, AuthResponse, CreateRoom, EditRequest, HistoryResponse, LoginRequest, MeResponse,
    PasswordChange, RegisterRequest, RoomResponse, RoomsResponse, SearchResponse, UploadResponse,
    UsernameRequest, UsersResponse,
};
use securechat_proto::ws::{MessageEvent, RoomInfo, RoomKind};
use securechat_proto::{ErrorCode, FileId, MessageId, RoomId, Seq, ServerMsg};
use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};

/// `/api/rooms/{room}/messages/{msg}`.
pub(crate) fn message_path(room: RoomId, msg: MessageId) -> String {
    format!("/api/rooms/{room}/messages/{msg}")
}

/// Where a server is: always `https://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub host: String,
    pub port: u16,
}

impl Server {
    /// Accepts `https://host[:port][/]` or `host[:port]` (port 8443 by
    /// default). Plain `http://` is refused: SecureChat is TLS only.
    pub fn parse(s: &str) -> Result<Server, ClientError> {
        let rest = if let Some(r) = s.strip_prefix("https://") {
            r
        } else if s.starts_with("http://") || s.starts_with("ws://") {
            return Err(ClientError::Usage(
                "SecureChat servers speak https:// only".into(),
            ));
        } else {
            s
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
            // [v6]:port or [v6]
            let (h, after) = inner
                .split_once(']')
                .ok_or_else(|| ClientError::Usage(format!("bad server address {s:?}")))?;
            (h, after.strip_prefix(':'))
        } else {
            match rest.split_once(':') {
                Some((h, p)) if !p.contains(':') => (h, Some(p)),
                _ => (rest, None),
            }
        };
        let port: u16 = port
            .unwrap_or("8443")
            .parse()
            .map_err(|_| ClientError::Usage(format!("bad port in {s:?}")))?;
        if host.is_empty() || host.contains('/') {
            return Err(ClientError::Usage(format!("bad server address {s:?}")));
        }
        Ok(Server {
            host: host.to_owned(),
            port,
        })
    }

    /// `host:port`, the key of a pin.
    pub fn key(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    pub fn url(&self) -> String {
        if self.host.contains(':') {
            format!("https://[{}]:{}", self.host, self.port)
        } else {
            format!("https://{}:{}", self.host, self.port)
        }
    }
}

/// A download under way.
pub struct Download {
    /// Whether the server answered a Range request (206).
    pub partial: bool,
    /// Bytes in this answer.
    pub length: u64,
    /// Hex SHA-256 of the whole file (the ETag).
    pub sha256: String,
    /// The file's name as the server gives it.
    pub name: String,
    pub body:
        std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
}

/// An API client, with or without a session.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Api {
    pub fn new(server: &Server, tls: &Tls, token: Option<String>) -> Result<Api, ClientError> {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured((*tls.config).clone())
            .build()
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        Ok(Api {
            http,
            base: server.url(),
            token,
        })
    }

    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<Option<T>, ClientError> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req
            .send()
            .await
            .map_err(|e| ClientError::Unreachable(e.to_string()))?;
        let status = res.status();
        if status == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        if status.is_success() {
            return res
                .json()
                .await
                .map(Some)
                .map_err(|e| ClientError::Protocol(e.to_string()));
        }
        Err(self.failure(res).await)
    }

    /// A success's JSON body, or the error it is.
    async fn answer<T: DeserializeOwned>(res: reqwest::Response) -> Result<T, ClientError> {
        if res.status().is_success() {
            return res
                .json()
                .await
                .map_err(|e| ClientError::Protocol(e.to_string()));
        }
        Err(Self::error_of(res, true).await)
    }

    async fn failure(&self, res: reqwest::Response) -> ClientError {
        Self::error_of(res, self.token.is_some()).await
    }

    async fn error_of(res: reqwest::Response, with_token: bool) -> ClientError {
        let status = res.status();
        let retry_after_secs = res
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let body: ApiErrorBody = match res.json().await {
            Ok(b) => b,
            Err(_) => return ClientError::Protocol(format!("HTTP {status}")),
        };
        if body.error.code == ErrorCode::Unauthorized && with_token {
            return ClientError::SessionEnded;
        }
        ClientError::Server {
            code: body.error.code,
            message: body.error.message,
            retry_after_secs,
        }
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.call(Method::GET, path, None::<&()>)
            .await?
            .ok_or_else(|| ClientError::Protocol("empty answer".into()))
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<Option<T>, ClientError> {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn register(&self, req: &RegisterRequest) -> Result<AuthResponse, ClientError> {
        self.post("/api/register", req)
            .await?
            .ok_or_else(|| ClientError::Protocol("empty answer".into()))
    }

    pub async fn login(&self, req: &LoginRequest) -> Result<AuthResponse, ClientError> {
        self.post("/api/login", req)
            .await?
            .ok_or_else(|| ClientError::Protocol("empty answer".into()))
    }

    pub async fn logout(&self) -> Result<(), ClientError> {
        self.post::<()>("/api/logout", &serde_json::json!({}))
            .await
            .map(|_| ())
    }

    pub async fn change_password(&self, req: &PasswordChange) -> Result<(), ClientError> {
        self.post::<()>("/api/password", req).await.map(|_| ())
    }

    pub async fn me(&self) -> Result<MeResponse, ClientError> {
        self.get("/api/me").await
    }

    pub async fn rooms(&self) -> Result<RoomsResponse, ClientError> {
        self.get("/api/rooms").await
    }

    pub async fn users(&self) -> Result<UsersResponse, ClientError> {
        self.get("/api/users").await
    }

    pub async fn history(
        &self,
        room: RoomId,
        before: Option<Seq>,
        limit: usize,
    ) -> Result<HistoryResponse, ClientError> {
        let mut path = format!("/api/rooms/{room}/events?limit={limit}");
        if let Some(b) = before {
            path.push_str(&format!("&before={b}"));
        }
        self.get(&path).await
    }

    /// `GET /api/search`: messages in your rooms matching `query`.
    pub async fn search(
        &self,
        query: &str,
        best: bool,
        limit: usize,
    ) -> Result<SearchResponse, ClientError> {
        let mut url = reqwest::Url::parse("https://x/api/search").expect("static URL");
        url.query_pairs_mut()
            .append_pair("q", query)
            .append_pair("order", if best { "best" } else { "newest" })
            .append_pair("limit", &limit.to_string());
        self.get(&format!("{}?{}", url.path(), url.query().unwrap_or("")))
            .await
    }

    pub async fn open_dm(&self, username: &str) -> Result<RoomInfo, ClientError> {
        self.open_dm_with(username, false).await
    }

    /// The pair's DM: the end-to-end encrypted one with `encrypted`.
    pub async fn open_dm_with(
        &self,
        username: &str,
        encrypted: bool,
    ) -> Result<RoomInfo, ClientError> {
        let req = UsernameRequest {
            username: username.to_owned(),
            encrypted,
        };
        let res: Option<RoomResponse> = self.post("/api/dms", &req).await?;
        res.map(|r| r.room)
            .ok_or_else(|| ClientError::Protocol("empty answer".into()))
    }

    pub async fn create_room(&self, req: &CreateRoom) -> Result<RoomInfo, ClientError> {
        let res: Option<RoomResponse> = self.post("/api/rooms", req).await?;
        res.map(|r| r.room)
            .ok_or_else(|| ClientError::Protocol("empty answer".into()))
    }

    pub async fn join(&self, room: RoomId) -> Result<RoomInfo, ClientError> {
        let res: Option<RoomResponse> = self
            .post(&format!("/api/rooms/{room}/join"), &serde_json::json!({}))
            .await?;
        res.map(|r| r.room)
            .ok_or_else(|| ClientError::Protocol("empty answer".into()))
    }

    pub async fn leave(&self, room: RoomId) -> Result<(), ClientError> {
        self.post::<()>(&format!("/api/rooms/{room}/leave"), &serde_json::json!({}))
            .await
            .map(|_| ())
    }

    pub async fn invite(&self, room: RoomId, username: &str) -> Result<(), ClientError> {
        let req = UsernameRequest {
            username: username.to_owned(),
            encrypted: false,
        };
        self.post::<RoomResponse>(&format!("/api/rooms/{room}/invite"), &req)
            .await
            .map(|_| ())
    }

    /// Replaces the content of `msg` in an encrypted room with `encrypted`.
    pub async fn edit_sealed(
        &self,
        room: RoomId,
        msg: MessageId,
        encrypted: securechat_proto::e2e::Encrypted,
    ) -> Result<(), ClientError> {
        let req = EditRequest {
            body: String::new(),
            encrypted: Some(encrypted),
        };
        self.call::<IgnoredAny>(Method::PATCH, &message_path(room, msg), Some(&req))
            .await
            .map(drop)
    }

    /// Replaces the body of `msg` in `room` (the caller's own message).
    pub async fn edit_message(
        &self,
        room: RoomId,
        msg: MessageId,
        body: &str,
    ) -> Result<(), ClientError> {
        let req = EditRequest {
            body: body.to_owned(),
            encrypted: None,
        };
        self.call::<IgnoredAny>(Method::PATCH, &message_path(room, msg), Some(&req))
            .await
            .map(drop)
    }

    /// Deletes `msg` in `room` (the caller's own, or any as an admin).
    pub async fn delete_message(&self, room: RoomId, msg: MessageId) -> Result<(), ClientError> {
        self.call::<IgnoredAny>(Method::DELETE, &message_path(room, msg), None::<&()>)
            .await
            .map(drop)
    }

    /// Joins the public room called `name`.
    pub async fn join_by_name(&self, name: &str) -> Result<RoomInfo, ClientError> {
        let name = name.trim_start_matches('#').to_ascii_lowercase();
        let public = self.rooms().await?.public;
        let room = public
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| ClientError::NoSuchRoom(name.clone()))?;
        self.join(room.id).await
    }

    /// Sends a file body (`len` bytes) to `room`.
    pub async fn upload(
        &self,
        room: RoomId,
        query: &[(&str, String)],
        len: u64,
        body: reqwest::Body,
    ) -> Result<UploadResponse, ClientError> {
        let mut req = self
            .http
            .post(format!("{}/api/rooms/{room}/files", self.base))
            .query(query)
            .header(reqwest::header::CONTENT_LENGTH, len)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(body);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let res = req
            .send()
            .await
            .map_err(|e| ClientError::Unreachable(e.to_string()))?;
        Self::answer(res).await
    }

    /// The message that carries file `id` (`None` when no message does,
    /// or the file is not there for us: the download then says which).
    pub async fn file_message(&self, id: FileId) -> Result<Option<MessageEvent>, ClientError> {
        match self
            .get::<ServerMsg>(&format!("/api/files/{id}/message"))
            .await
        {
            Ok(ServerMsg::Message(m)) => Ok(Some(m)),
            Ok(_) => Err(ClientError::Protocol("not a message".into())),
            Err(ClientError::Server {
                code: ErrorCode::NotFound,
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Starts downloading file `id` from byte `from`.
    pub async fn download(&self, id: FileId, from: Option<u64>) -> Result<Download, ClientError> {
        let mut req = self.http.get(format!("{}/api/files/{id}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(from) = from.filter(|n| *n > 0) {
            req = req.header(reqwest::header::RANGE, format!("bytes={from}-"));
        }
        let res = req
            .send()
            .await
            .map_err(|e| ClientError::Unreachable(e.to_string()))?;
        if res.status() == StatusCode::RANGE_NOT_SATISFIABLE {
            // What we have is already complete (or bigger): start over.
            return Box::pin(self.download(id, None)).await;
        }
        if !res.status().is_success() {
            return Self::answer::<()>(res)
                .await
                .map(|_| unreachable!("an error status"));
        }
        let h = res.headers();
        let text = |name: reqwest::header::HeaderName| {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let sha256 = text(reqwest::header::ETAG).trim_matches('"').to_owned();
        let disposition = text(reqwest::header::CONTENT_DISPOSITION);
        let name = disposition
            .split("filename=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .filter(|s| !s.is_empty())
            .unwrap_or("download")
            .to_owned();
        Ok(Download {
            partial: res.status() == StatusCode::PARTIAL_CONTENT,
            length: res.content_length().unwrap_or(0),
            sha256,
            name,
            body: Box::pin(res.bytes_stream()),
        })
    }

    /// A room by `name`, `#name`, `@user` (a DM, opened if needed) or id.
    /// Your devices.
    pub async fn devices(&self) -> Result<securechat_proto::e2e::Devices, ClientError> {
        self.get("/api/devices").await
    }

    /// The devices of `user`.
    pub async fn query_keys(
        &self,
        user: &str,
    ) -> Result<securechat_proto::e2e::Devices, ClientError> {
        Ok(self
            .post("/api/keys/query", &serde_json::json!({"users": [user]}))
            .await?
            .unwrap_or_default())
    }

    /// Removes one of your devices.
    pub async fn remove_device(
        &self,
        device: securechat_proto::DeviceId,
    ) -> Result<(), ClientError> {
        self.call::<serde::de::IgnoredAny>(
            Method::DELETE,
            &format!("/api/devices/{device}"),
            None::<&()>,
        )
        .await
        .map(drop)
    }

    pub async fn resolve_room(&self, spec: &str) -> Result<RoomInfo, ClientError> {
        let rooms = self.rooms().await?.rooms;
        if let Some(user) = spec.strip_prefix('@') {
            // The encrypted DM when there is one.
            let user = user.to_ascii_lowercase();
            if let Some(r) = rooms
                .iter()
                .find(|r| r.kind == RoomKind::Dm && r.encrypted && r.name == user)
            {
                return Ok(r.clone());
            }
            return self.open_dm(&user).await;
        }
        let name = spec.trim_start_matches('#').to_ascii_lowercase();
        rooms
            .into_iter()
            .find(|r| r.id.to_string() == spec || (r.kind != RoomKind::Dm && r.name == name))
            .ok_or_else(|| ClientError::NoSuchRoom(spec.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses() {
        let s = Server::parse("https://chat.example.com:9443/").unwrap();
        assert_eq!((s.host.as_str(), s.port), ("chat.example.com", 9443));
        assert_eq!(Server::parse("localhost").unwrap().port, 8443);
        assert_eq!(
            Server::parse("127.0.0.1:1234").unwrap().key(),
            "127.0.0.1:1234"
        );
        assert_eq!(Server::parse("https://[::1]:8443").unwrap().host, "::1");
        assert_eq!(
            Server::parse("https://[::1]:8443").unwrap().url(),
            "https://[::1]:8443"
        );
        assert!(Server::parse("http://example.com").is_err());
        assert!(Server::parse("https://host:notaport").is_err());
    }
}
