//! A message as the chat screen shows it: its body drawn from the
//! formatting grammar ([`securechat_proto::markup`]) as plain text plus
//! looks (bold, italic, struck, code, links, mentions), code blocks and
//! quotes set off by a bar, list items by a bullet; then its file, whether
//! it was edited or pinned, its reactions (`[👍 2 🎉 1]`) and its thread
//! (`[3 replies, last 14:02]`), dimmed.
//!
//! Looks are runs: each `(start, look)` lasts until the next start. The
//! text is what is wrapped (nothing is lost), the looks colour it.

use crate::format::file_label;
use securechat_proto::markup::{Block, Inline, Node, parse};
use securechat_proto::ws::MessageEvent;

/// How a run of text looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    Plain,
    Bold,
    Italic,
    Strike,
    Code,
    Link,
    /// `@someone`.
    Mention,
    /// `@you`, `@room`, `@here`.
    MentionMe,
    /// Quotes, markers, and what the server adds (edited, reactions, …).
    Dim,
}

/// Text and its looks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rich {
    pub text: String,
    pub looks: Vec<(usize, Look)>,
}

impl Rich {
    pub fn plain(text: impl Into<String>) -> Rich {
        Rich {
            text: text.into(),
            looks: vec![(0, Look::Plain)],
        }
    }

    pub fn push(&mut self, text: &str, look: Look) {
        if text.is_empty() {
            return;
        }
        if self.looks.last().map(|l| l.1) != Some(look) {
            self.looks.push((self.text.len(), look));
        }
        self.text.push_str(text);
    }

    /// The look at byte `at`.
    pub fn look_at(&self, at: usize) -> Look {
        let i = self.looks.partition_point(|(start, _)| *start <= at);
        if i == 0 {
            Look::Plain
        } else {
            self.looks[i - 1].1
        }
    }

    fn inlines(&mut self, nodes: &[Inline], look: Look, me: &str) {
        for n in nodes {
            match n {
                Inline::Text(t) => self.push(t, look),
                Inline::Node(Node::B { c }) => self.inlines(c, Look::Bold, me),
                Inline::Node(Node::I { c }) => self.inlines(c, Look::Italic, me),
                Inline::Node(Node::S { c }) => self.inlines(c, Look::Strike, me),
                Inline::Node(Node::Code { text }) => self.push(text, Look::Code),
                Inline::Node(Node::A { href }) => self.push(href, Look::Link),
                Inline::Node(Node::At { name }) => {
                    let you = name == me || name == "room" || name == "here";
                    let look = if you { Look::MentionMe } else { Look::Mention };
                    self.push(&format!("@{name}"), look);
                }
                Inline::Node(Node::Br) => self.push("\n", look),
            }
        }
    }

    /// A message body, formatted.
    pub fn body(body: &str, me: &str) -> Rich {
        let mut r = Rich::default();
        for (i, block) in parse(body).iter().enumerate() {
            if i > 0 {
                r.push("\n", Look::Plain);
            }
            match block {
                Block::P { c } => r.inlines(c, Look::Plain, me),
                Block::Quote { c } => {
                    r.push("▌ ", Look::Dim);
                    let mut q = Rich::default();
                    q.inlines(c, Look::Italic, me);
                    // Every line of the quote gets the bar.
                    for (j, line) in q.text.split('\n').enumerate() {
                        if j > 0 {
                            r.push("\n▌ ", Look::Dim);
                        }
                        r.push(line, Look::Italic);
                    }
                }
                Block::Pre { lang, text } => {
                    if !lang.is_empty() {
                        r.push(&format!("┌ {lang}\n"), Look::Dim);
                    }
                    for (j, line) in text.split('\n').enumerate() {
                        if j > 0 {
                            r.push("\n", Look::Code);
                        }
                        r.push("│ ", Look::Dim);
                        r.push(line, Look::Code);
                    }
                }
                Block::Ul { items } => {
                    for (j, item) in items.iter().enumerate() {
                        r.push(if j > 0 { "\n• " } else { "• " }, Look::Dim);
                        r.inlines(item, Look::Plain, me);
                    }
                }
                Block::Ol { start, items } => {
                    for (j, item) in items.iter().enumerate() {
                        let n = start + j as u64;
                        r.push(
                            &format!("{}{n}. ", if j > 0 { "\n" } else { "" }),
                            Look::Dim,
                        );
                        r.inlines(item, Look::Plain, me);
                    }
                }
            }
        }
        r
    }
}

/// A message as it reads now: formatted body, file, edited, pinned,
/// reactions and thread.
pub fn message(m: &MessageEvent, me: &str) -> Rich {
    if m.deleted {
        return Rich {
            text: "(deleted)".into(),
            looks: vec![(0, Look::Dim)],
        };
    }
    let mut r = Rich::body(&m.body, me);
    // After a block (several lines), what follows gets a line of its own.
    let gap = if r.text.contains('\n') { "\n" } else { " " };
    let mut first = true;
    let mut extra = |r: &mut Rich, text: &str| {
        if !r.text.is_empty() {
            r.push(if first { gap } else { " " }, Look::Plain);
        }
        first = false;
        r.push(text, Look::Dim);
    };
    if let Some(f) = &m.file {
        extra(&mut r, &file_label(f));
    }
    if m.edited {
        extra(&mut r, "(edited)");
    }
    if m.pinned {
        extra(&mut r, "(pinned)");
    }
    if !m.reactions.is_empty() {
        let list: Vec<String> = m
            .reactions
            .iter()
            .map(|x| format!("{} {}", x.emoji, x.users.len()))
            .collect();
        extra(&mut r, &format!("[{}]", list.join(" ")));
    }
    if let Some(t) = m.replies.as_ref().filter(|t| t.count > 0) {
        let s = if t.count == 1 { "reply" } else { "replies" };
        let last = t.last_ts.to_string();
        extra(
            &mut r,
            &format!("[{} {s}, last {}: /thread]", t.count, &last[11..16]),
        );
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use securechat_proto::collab::{ReactionCount, ThreadSummary};
    use securechat_proto::{MessageId, Timestamp};

    fn looks_of(r: &Rich, part: &str) -> Look {
        r.look_at(r.text.find(part).expect(part))
    }

    #[test]
    fn emphasis_code_and_mentions_keep_their_words() {
        let r = Rich::body(
            "**bold** *it* ~~gone~~ `x<y>` @ann @bob https://e.io",
            "ann",
        );
        assert_eq!(r.text, "bold it gone x<y> @ann @bob https://e.io");
        assert_eq!(looks_of(&r, "bold"), Look::Bold);
        assert_eq!(looks_of(&r, "it "), Look::Italic);
        assert_eq!(looks_of(&r, "gone"), Look::Strike);
        assert_eq!(looks_of(&r, "x<y>"), Look::Code);
        assert_eq!(looks_of(&r, "@ann"), Look::MentionMe);
        assert_eq!(looks_of(&r, "@bob"), Look::Mention);
        assert_eq!(looks_of(&r, "https"), Look::Link);
    }

    #[test]
    fn blocks_are_set_off_legibly() {
        let r = Rich::body(
            "> said\n> twice\n- a\n- b\n```rust\nfn x() {\n    y\n}\n```\n3. c",
            "",
        );
        assert_eq!(
            r.text,
            "▌ said\n▌ twice\n• a\n• b\n┌ rust\n│ fn x() {\n│     y\n│ }\n3. c"
        );
        assert_eq!(looks_of(&r, "    y"), Look::Code);
        assert_eq!(looks_of(&r, "said"), Look::Italic);
    }

    #[test]
    fn reactions_threads_and_pins_follow_the_text() {
        let m = MessageEvent {
            id: MessageId(1),
            body: "ship it".into(),
            pinned: true,
            reactions: vec![ReactionCount {
                emoji: "👍".into(),
                users: vec!["a".into(), "b".into()],
            }],
            replies: Some(ThreadSummary {
                count: 3,
                last_ts: Timestamp(0),
                users: vec!["a".into()],
            }),
            ..Default::default()
        };
        let r = message(&m, "me");
        assert_eq!(
            r.text,
            "ship it (pinned) [👍 2] [3 replies, last 00:00: /thread]"
        );
        assert_eq!(looks_of(&r, "[👍"), Look::Dim);
    }
}
