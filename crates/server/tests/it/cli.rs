//! The real `securechat-server` binary: serving, signals, operator
//! subcommands and config layering.

use crate::helpers::PASSWORD;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_securechat-server");

pub fn server(data_dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--data-dir").arg(data_dir);
    // A clean environment for config: no SECURECHAT_* from the caller.
    for (k, _) in std::env::vars() {
        if k.starts_with("SECURECHAT_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

pub fn run_ok(cmd: &mut Command, stdin: Option<&str>) -> String {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn help_lists_every_subcommand() {
    let help = run_ok(Command::new(BIN).arg("--help"), None);
    for word in [
        "serve",
        "user",
        "invite",
        "cert",
        "config",
        "--bind",
        "--data-dir",
        "SECURECHAT_",
    ] {
        assert!(help.contains(word), "--help lacks {word}: {help}");
    }
    let help = run_ok(Command::new(BIN).args(["user", "--help"]), None);
    for word in [
        "add", "passwd", "disable", "enable", "promote", "demote", "list",
    ] {
        assert!(help.contains(word), "user --help lacks {word}");
    }
}

#[test]
fn operators_manage_users_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_ok(
        server(dir.path()).args(["user", "add", "Olivia", "--admin", "--password-stdin"]),
        Some(&format!("{PASSWORD}\n")),
    );
    assert_eq!(out.trim(), "created olivia (admin)");
    run_ok(
        server(dir.path()).args(["user", "add", "pat", "--password-stdin"]),
        Some(&format!("{PASSWORD}\n")),
    );
    let out = run_ok(server(dir.path()).args(["user", "disable", "pat"]), None);
    assert!(out.contains("disabled pat"), "{out}");
    let list = run_ok(server(dir.path()).args(["user", "list"]), None);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    assert!(
        lines[1].starts_with("olivia") && lines[1].contains("yes"),
        "{list}"
    );
    assert!(lines[2].starts_with("pat"), "{list}");
    assert!(
        lines[2].split_whitespace().nth(2) == Some("yes"),
        "pat is disabled: {list}"
    );
    run_ok(server(dir.path()).args(["user", "enable", "pat"]), None);
    let out = run_ok(
        server(dir.path()).args(["user", "passwd", "pat", "--password-stdin"]),
        Some("another password\n"),
    );
    assert!(out.contains("password changed"), "{out}");
    let code = run_ok(server(dir.path()).args(["invite", "create"]), None);
    assert_eq!(code.trim().len(), 43);

    // Roles: the last admin cannot be demoted; after a promotion they can.
    let out = server(dir.path())
        .args(["user", "demote", "olivia"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("last admin"),
        "{out:?}"
    );
    let out = run_ok(server(dir.path()).args(["user", "promote", "pat"]), None);
    assert_eq!(out.trim(), "pat is now an admin");
    let out = run_ok(server(dir.path()).args(["user", "demote", "olivia"]), None);
    assert_eq!(out.trim(), "olivia is no longer an admin");
    let list = run_ok(server(dir.path()).args(["user", "list"]), None);
    assert!(
        list.lines()
            .any(|l| l.starts_with("pat") && l.split_whitespace().nth(1) == Some("yes")),
        "{list}"
    );

    // Errors are plain words and a failing exit code.
    let out = server(dir.path())
        .args(["user", "disable", "nobody"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user named"));
    let out = server(dir.path())
        .args(["user", "add", "pat", "--password-stdin"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "taken or empty password");
}

#[test]
fn seed_makes_a_searchable_history() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_ok(
        server(dir.path()).args(["seed", "--rooms", "3", "--messages", "500", "--users", "5"]),
        None,
    );
    assert!(
        out.starts_with("seeded 500 messages in 3 rooms for 6 users"),
        "{out}"
    );
    assert!(out.contains("bytes a message"), "{out}");
    let stats = run_ok(server(dir.path()).arg("stats"), None);
    assert!(stats.contains("messages: 500"), "{stats}");
    // Again: the same users and rooms, 500 more messages.
    run_ok(
        server(dir.path()).args(["seed", "--rooms", "3", "--messages", "500", "--users", "5"]),
        None,
    );
    let stats = run_ok(server(dir.path()).arg("stats"), None);
    assert!(stats.contains("messages: 1000"), "{stats}");
}

#[test]
fn config_layers_and_validation() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("securechat.toml");
    std::fs::write(&file, "burst = 3\nrate_per_sec = 2.5\n").unwrap();
    let out = run_ok(
        server(dir.path())
            .args(["--config"])
            .arg(&file)
            .env("SECURECHAT_BURST", "7")
            .args(["config", "check"]),
        None,
    );
    assert!(out.contains("\nburst = 7\n"), "env beats file: {out}");
    assert!(
        out.contains("\nrate_per_sec = 2.5\n"),
        "file beats default: {out}"
    );
    // The output is a config file: it loads back to the same settings.
    let again = dir.path().join("again.toml");
    std::fs::write(&again, &out).unwrap();
    let reloaded = run_ok(
        server(dir.path())
            .args(["--config"])
            .arg(&again)
            .args(["config", "check"]),
        None,
    );
    assert_eq!(reloaded, out);

    // Secrets are not printed.
    let out = run_ok(
        server(dir.path())
            .args(["--database", "postgres://sc:hunter2@127.0.0.1/chat"])
            .env("SECURECHAT_METRICS_TOKEN", "metrics-token-hunter3")
            .args(["config", "check"]),
        None,
    );
    assert!(!out.contains("hunter"), "{out}");
    assert!(
        out.contains("postgres://sc:REDACTED@127.0.0.1/chat"),
        "{out}"
    );

    // A bad value is named once, where it was written.
    let out = server(dir.path())
        .env("SECURECHAT_BURST", "many")
        .args(["config", "check"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "SECURECHAT_BURST: expected a whole number (0 or more), found string \"many\""
        ),
        "{err}"
    );
    assert_eq!(
        err.matches("SECURECHAT_BURST").count(),
        1,
        "said once: {err}"
    );

    let out = server(dir.path())
        .env("SECURECHAT_CERT_VALIDITY_DAYS", "999")
        .args(["config", "check"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cert_validity_days"), "{err}");
}

#[test]
fn serves_prints_fingerprint_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = server(dir.path())
        .args(["--bind", "127.0.0.1:0", "--log", "warn"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines.next().unwrap().unwrap();
    assert!(
        url.starts_with("SecureChat is listening on https://127.0.0.1:"),
        "{url}"
    );
    let fp_line = lines.next().unwrap().unwrap();
    let printed = fp_line.rsplit(' ').next().unwrap().to_owned();
    assert_eq!(printed.len(), 95, "{fp_line}");

    // `cert fingerprint` prints the same pin while the server runs.
    let fp = run_ok(server(dir.path()).args(["cert", "fingerprint"]), None);
    assert_eq!(fp.trim(), printed);

    // SIGTERM: a clean exit.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}
