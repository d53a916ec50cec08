//! The binary's longer subcommands (the rest are in `main.rs`):
//!
//! - [`user`]: `user add|add-bot|passwd|disable|enable|reset-link|promote|demote|list`;
//! - [`data`]: `export` and `import-slack`.

pub mod data;
pub mod user;
