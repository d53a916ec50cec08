//! Integration tests: one binary, every test against a real server over
//! real TLS sockets (see `helpers.rs`).

mod acme;
mod admin;
mod admin_users;
mod auth;
mod backup;
mod chat;
mod cli;
mod collab;
mod e2e;
mod endpoint;
mod files;
mod helpers;
mod hostile;
mod import;
mod inbox;
mod integrations;
mod limits;
mod nodes;
mod ops;
mod profiles;
mod proxy;
mod reset;
mod resume;
mod retention;
mod rooms;
mod scale;
mod search;
mod security;
#[path = "../common/services.rs"]
mod services;
mod tls;
