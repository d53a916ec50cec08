//! The browser app: the files under `web/`, embedded in the binary (read
//! from disk in debug builds), served with a strict Content-Security-Policy:
//! scripts, styles and connections only from this origin, no inline code,
//! no eval, no framing. `'wasm-unsafe-eval'` lets the app compile its own
//! WebAssembly (`web/crypto/`, end-to-end encryption), and nothing else.

use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::Embed;

#[derive(Embed)]
#[folder = "../../web/"]
struct Assets;

/// The policy for the app's pages and files.
pub const CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
    img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; \
    manifest-src 'self'; worker-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// `GET /`: the app's page.
pub async fn index() -> Response {
    asset("index.html")
}

/// `GET /sw.js`: the service worker, served from the root so that its
/// scope is the whole app.
pub async fn service_worker() -> Response {
    asset("sw.js")
}

/// `GET /favicon.ico`: the app's icon, for clients that ask the old way.
pub async fn favicon() -> Response {
    asset("icon.svg")
}

/// `GET /app/{*path}`: scripts, styles and icons.
pub async fn file(Path(path): Path<String>) -> Response {
    asset(&path)
}

fn asset(path: &str) -> Response {
    let Some(file) = Assets::get(path) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let mime = file.metadata.mimetype();
    let mut res = Response::new(Body::from(file.data.into_owned()));
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(mime) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}
