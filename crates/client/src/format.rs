//! The one way events read as text, shared by `chat`, `history` and
//! `tail`, in the web app's words: "bob was invited by alice",
//! "alice: hello (edited)", "[file 12: report.pdf, 5.0 MiB]".

use securechat_proto::validate::without_bidi_controls;
use securechat_proto::ws::{FileInfo, MemberAction};
use securechat_proto::{ServerMsg, Timestamp};

/// What an event says: who said it (none for notices) and the words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    pub ts: Timestamp,
    pub from: Option<String>,
    pub text: String,
}

/// `1.5 MiB`, `12.0 KiB`, `300 B`.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// `[file 12: report.pdf, 5.0 MiB]`.
pub fn file_label(f: &FileInfo) -> String {
    format!("[file {}: {}, {}]", f.id, f.name, human_size(f.size))
}

/// The words of a message, edited or deleted as it is now, with its file.
fn message_text(m: &securechat_proto::ws::MessageEvent) -> String {
    if m.deleted {
        return "(deleted)".into();
    }
    let mut parts = Vec::new();
    if !m.body.is_empty() {
        parts.push(m.body.clone());
    }
    if let Some(f) = &m.file {
        parts.push(file_label(f));
    }
    let mut text = parts.join(" ");
    if m.edited {
        text.push_str(" (edited)");
    }
    text
}

/// What a room event says. Edits and deletions say nothing of their own
/// here: they change the message they target, which then reads "(edited)"
/// or "(deleted)" (see [`live`] for a stream that shows them as they
/// come). `None` for frames that are not room events.
pub fn said(ev: &ServerMsg) -> Option<Said> {
    let notice = |ts: &Timestamp, text: String| Said {
        ts: *ts,
        from: None,
        text,
    };
    Some(match ev {
        ServerMsg::Message(m) => Said {
            ts: m.ts,
            from: Some(m.from.clone()),
            text: message_text(m),
        },
        ServerMsg::Member(e) => {
            let what = match e.action {
                MemberAction::Join => "joined".to_owned(),
                MemberAction::Leave => "left".to_owned(),
                MemberAction::Invite => format!("was invited by {}", e.by),
                MemberAction::Remove => format!("was removed by {}", e.by),
            };
            notice(&e.ts, format!("{} {what}", e.user))
        }
        ServerMsg::RoomUpdated(e) => {
            let topic = e
                .topic
                .as_deref()
                .map(|t| format!(" — {t}"))
                .unwrap_or_default();
            notice(
                &e.ts,
                format!("{} set the room to #{}{topic}", e.by, e.name),
            )
        }
        _ => return None,
    })
}

/// What a live event says, edits and deletions included (as the message
/// they change now reads).
pub fn live(ev: &ServerMsg) -> Option<Said> {
    match ev {
        ServerMsg::Edited(e) => Some(Said {
            ts: e.ts,
            from: Some(e.by.clone()),
            text: format!("{} (edited)", e.body),
        }),
        ServerMsg::Deleted(d) => Some(Said {
            ts: d.ts,
            from: Some(d.by.clone()),
            text: "(deleted a message)".into(),
        }),
        other => said(other),
    }
}

/// `HH:MM:SSZ`, the time as the command-line output shows it.
pub fn time_of_day(ts: &Timestamp) -> String {
    format!("{}Z", &ts.to_string()[11..19])
}

/// One line for scripts: `[17:43:28Z] alice: hello` or
/// `[17:43:28Z] * bob joined`. Bidi controls are dropped (a terminal
/// cannot isolate them).
pub fn line(said: &Said) -> String {
    let text = without_bidi_controls(&said.text);
    match &said.from {
        Some(from) => format!("[{}] {from}: {text}", time_of_day(&said.ts)),
        None => format!("[{}] * {text}", time_of_day(&said.ts)),
    }
}

/// One search result as a line: `[2026-12-03 17:43Z] #ops bob: the
/// «release» is out`, the matched words between `«` and `»` (or, with
/// `bold`, in bold), bidi controls dropped.
pub fn hit_line(hit: &securechat_proto::http::SearchHit, bold: bool) -> String {
    let (start, end) = if bold {
        ("\x1b[1m", "\x1b[22m")
    } else {
        ("«", "»")
    };
    let text = without_bidi_controls(&hit.snippet)
        .replace('\u{2}', start)
        .replace('\u{3}', end)
        .replace('\n', " ");
    let stamp = hit.ts.to_string();
    let place = match hit.room_kind {
        securechat_proto::ws::RoomKind::Dm => format!("@{}", hit.room_name),
        _ => format!("#{}", hit.room_name),
    };
    let file = if hit.file.is_some() { " [file]" } else { "" };
    format!(
        "[{} {}Z] {place} {}: {text}{file}",
        &stamp[..10],
        &stamp[11..16],
        hit.from
    )
}

/// "just now", "5 min ago", "3 h ago", "2 days ago", from `then` to `now`.
pub fn ago(then: &Timestamp, now: &Timestamp) -> String {
    let secs = (now.0 - then.0).max(0) / 1000;
    match secs {
        0..60 => "just now".into(),
        60..3600 => format!("{} min ago", secs / 60),
        3600..86_400 => format!("{} h ago", secs / 3600),
        86_400..172_800 => "1 day ago".into(),
        _ => format!("{} days ago", secs / 86_400),
    }
}

/// `text` cut to `cols` characters, with `…` when cut.
pub fn truncate(text: &str, cols: usize) -> String {
    if text.chars().count() <= cols {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(cols.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use securechat_proto::ws::{Edited, MemberEvent, MessageEvent};
    use securechat_proto::{FileId, MessageId, RoomId};

    fn ts() -> Timestamp {
        Timestamp::parse("2026-12-03T07:47:19.000Z").unwrap()
    }

    fn message(body: &str) -> MessageEvent {
        MessageEvent {
            id: MessageId(5),
            room: RoomId(1),
            seq: 3,
            ts: ts(),
            from: "bob".into(),
            body: body.into(),
            edited: false,
            deleted: false,
            file: None,
            ..Default::default()
        }
    }

    #[test]
    fn messages_files_and_notices_read_like_the_web_app() {
        let mut m = message("");
        m.file = Some(FileInfo {
            id: FileId(12),
            name: "report.pdf".into(),
            size: 5 * 1024 * 1024,
            media_type: "application/pdf".into(),
            sha256: "00".into(),
            image: false,
        });
        let first = said(&ServerMsg::Message(m.clone())).unwrap();
        assert_eq!(
            line(&first),
            "[07:47:19Z] bob: [file 12: report.pdf, 5.0 MiB]"
        );
        m.body = "see this".into();
        m.edited = true;
        assert_eq!(
            line(&super::said(&ServerMsg::Message(m)).unwrap()),
            "[07:47:19Z] bob: see this [file 12: report.pdf, 5.0 MiB] (edited)"
        );
        let invite = ServerMsg::Member(MemberEvent {
            id: MessageId(6),
            room: RoomId(1),
            seq: 4,
            ts: ts(),
            user: "bob".into(),
            action: MemberAction::Invite,
            by: "alice".into(),
        });
        assert_eq!(
            line(&said(&invite).unwrap()),
            "[07:47:19Z] * bob was invited by alice"
        );
        let edit = ServerMsg::Edited(Edited {
            id: MessageId(7),
            room: RoomId(1),
            seq: 5,
            ts: ts(),
            target: MessageId(5),
            body: "new".into(),
            encrypted: None,
            by: "bob".into(),
        });
        assert_eq!(said(&edit), None, "history shows the edited message once");
        assert_eq!(line(&live(&edit).unwrap()), "[07:47:19Z] bob: new (edited)");
    }

    #[test]
    fn ages_and_truncation() {
        let now = ts();
        let minus = |s: i64| Timestamp(now.0 - s * 1000);
        assert_eq!(ago(&minus(5), &now), "just now");
        assert_eq!(ago(&minus(300), &now), "5 min ago");
        assert_eq!(ago(&minus(7200), &now), "2 h ago");
        assert_eq!(ago(&minus(3 * 86_400), &now), "3 days ago");
        assert_eq!(truncate("a-very-long-room-name", 10), "a-very-lo…");
        assert_eq!(truncate("short", 10), "short");
    }
}
