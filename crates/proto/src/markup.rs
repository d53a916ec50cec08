//! The message formatting grammar (a Markdown subset), parsed into a tree
//! that clients draw without ever interpreting text as markup of their
//! own: the web app builds DOM nodes from it (`web/js/markup.js` is the
//! same grammar in JavaScript, checked against the same cases), the
//! terminal draws styled spans.
//!
//! `docs/formatting.md` is the grammar in words. In short:
//!
//! - Blocks, by line: a line starting with three backticks opens a code
//!   block that runs to a line of three backticks (or the end); `>` lines
//!   are a quote; `- `, `* `, `+ ` lines a bullet list; `1. ` / `1) ` lines
//!   a numbered list; other lines are paragraphs (a blank line ends one,
//!   a newline inside one is a line break).
//! - Inline: `` `code` `` (any run of backticks, closed by a run of the
//!   same length), `**bold**`, `*italic*` and `_italic_`, `~~strike~~`,
//!   `http(s)://` autolinks, `@name` mentions, and `\` escaping any of
//!   `` \`*_~>#-+.[]()@ ``. A delimiter opens before a non-space and closes
//!   after one; `*` and `_` only at word edges (`2*3*4` is text); runs of three or more `*`, `_` or
//!   `~` are text. Unmatched delimiters are text.
//!
//! Work is linear in the input (closers are found by binary search in
//! precomputed lists) and nesting is capped at [`MAX_DEPTH`].

use serde::Serialize;

/// Deepest nesting of emphasis; deeper delimiters are text.
pub const MAX_DEPTH: usize = 8;

/// A block of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Block {
    /// A paragraph.
    P { c: Vec<Inline> },
    /// A fenced code block: kept verbatim.
    Pre { lang: String, text: String },
    /// Quoted lines.
    Quote { c: Vec<Inline> },
    /// A bullet list; each item is a line of inline content.
    Ul { items: Vec<Vec<Inline>> },
    /// A numbered list starting at `start`.
    Ol { start: u64, items: Vec<Vec<Inline>> },
}

/// Inline content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Inline {
    Text(String),
    Node(Node),
}

/// Inline content other than text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Node {
    B { c: Vec<Inline> },
    I { c: Vec<Inline> },
    S { c: Vec<Inline> },
    Code { text: String },
    A { href: String },
    At { name: String },
    Br,
}

/// Parses a message body.
pub fn parse(body: &str) -> Vec<Block> {
    let lines: Vec<&str> = body
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if let Some(rest) = line.strip_prefix("```") {
            let lang = rest.trim().to_owned();
            let mut text = Vec::new();
            i += 1;
            while i < lines.len() && lines[i].trim_end() != "```" {
                text.push(lines[i]);
                i += 1;
            }
            i += 1; // the closing fence (or past the end)
            blocks.push(Block::Pre {
                lang,
                text: text.join("\n"),
            });
        } else if quote_line(line).is_some() {
            let mut text = Vec::new();
            while let Some(q) = lines.get(i).and_then(|l| quote_line(l)) {
                text.push(q);
                i += 1;
            }
            blocks.push(Block::Quote {
                c: inline(&text.join("\n")),
            });
        } else if bullet(line).is_some() {
            let mut items = Vec::new();
            while let Some(item) = lines.get(i).and_then(|l| bullet(l)) {
                items.push(inline(item));
                i += 1;
            }
            blocks.push(Block::Ul { items });
        } else if let Some((start, _)) = numbered(line) {
            let mut items = Vec::new();
            while let Some((_, item)) = lines.get(i).and_then(|l| numbered(l)) {
                items.push(inline(item));
                i += 1;
            }
            blocks.push(Block::Ol { start, items });
        } else if line.trim().is_empty() {
            i += 1;
        } else {
            let mut text = Vec::new();
            while let Some(l) = lines.get(i) {
                let starts_block = l.starts_with("```")
                    || quote_line(l).is_some()
                    || bullet(l).is_some()
                    || numbered(l).is_some();
                if l.trim().is_empty() || starts_block {
                    break;
                }
                text.push(*l);
                i += 1;
            }
            blocks.push(Block::P {
                c: inline(&text.join("\n")),
            });
        }
    }
    blocks
}

fn quote_line(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('>')?;
    Some(rest.strip_prefix(' ').unwrap_or(rest))
}

fn bullet(line: &str) -> Option<&str> {
    ["- ", "* ", "+ "]
        .iter()
        .find_map(|p| line.strip_prefix(p))
        .filter(|rest| !rest.trim().is_empty())
}

fn numbered(line: &str) -> Option<(u64, &str)> {
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 9 {
        return None;
    }
    let rest = &line[digits..];
    let rest = rest
        .strip_prefix(". ")
        .or_else(|| rest.strip_prefix(") "))?;
    if rest.trim().is_empty() {
        return None;
    }
    Some((line[..digits].parse().ok()?, rest))
}

/// Every `@name` in `body` outside code, lowercased, in order.
pub fn mentioned_names(body: &str) -> Vec<String> {
    fn walk(inlines: &[Inline], out: &mut Vec<String>) {
        for i in inlines {
            match i {
                Inline::Node(Node::B { c } | Node::I { c } | Node::S { c }) => walk(c, out),
                Inline::Node(Node::At { name }) => out.push(name.clone()),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    for block in parse(body) {
        match block {
            Block::P { c } | Block::Quote { c } => walk(&c, &mut out),
            Block::Ul { items } | Block::Ol { items, .. } => {
                items.iter().for_each(|c| walk(c, &mut out))
            }
            Block::Pre { .. } => {}
        }
    }
    out
}

/// A piece of a line before emphasis is matched.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Text(String),
    Code(String),
    Link(String),
    At(String),
    Br,
    /// A delimiter run that may open and/or close emphasis of `kind`.
    Delim {
        kind: Kind,
        open: bool,
        close: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bold,
    Star,
    Under,
    Strike,
}

impl Kind {
    fn text(self) -> &'static str {
        match self {
            Kind::Bold => "**",
            Kind::Star => "*",
            Kind::Under => "_",
            Kind::Strike => "~~",
        }
    }
}

const ESCAPABLE: &str = "\\`*_~>#-+.[]()@";

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

/// Where an autolink starting at `i` ends (trailing punctuation is not
/// part of it; a `)` is, when the link has more `(` than `)` before it).
fn link_end(s: &str, i: usize) -> Option<usize> {
    let rest = &s[i..];
    let scheme = if rest.starts_with("https://") {
        8
    } else if rest.starts_with("http://") {
        7
    } else {
        return None;
    };
    let len = rest
        .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '`'))
        .unwrap_or(rest.len());
    let mut url = &rest[..len];
    // Counted once, then kept up to date: stripping stays linear.
    let mut opens = url.matches('(').count();
    let mut closes = url.matches(')').count();
    while let Some(last) = url.chars().last() {
        if ".,:;!?'*_~]".contains(last) || (last == ')' && closes > opens) {
            match last {
                '(' => opens -= 1,
                ')' => closes -= 1,
                _ => {}
            }
            url = &url[..url.len() - 1];
        } else {
            break;
        }
    }
    (url.len() > scheme).then_some(i + url.len())
}

fn tokens(s: &str) -> Vec<Tok> {
    let b = s.as_bytes();
    // Backtick runs by length, to find each one's closer quickly.
    let mut runs: std::collections::HashMap<usize, Vec<usize>> = Default::default();
    let mut j = 0;
    while j < b.len() {
        if b[j] == b'\\' && j + 1 < b.len() {
            j += 2;
            continue;
        }
        if b[j] == b'`' {
            let start = j;
            while j < b.len() && b[j] == b'`' {
                j += 1;
            }
            runs.entry(j - start).or_default().push(start);
        } else {
            j += 1;
        }
    }
    let mut out: Vec<Tok> = Vec::new();
    let mut text = String::new();
    let flush = |text: &mut String, out: &mut Vec<Tok>| {
        if !text.is_empty() {
            out.push(Tok::Text(std::mem::take(text)));
        }
    };
    let prev_char = |i: usize| s[..i].chars().next_back();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'\\' && i + 1 < b.len() && ESCAPABLE.as_bytes().contains(&b[i + 1]) {
            text.push(b[i + 1] as char);
            i += 2;
            continue;
        }
        if c == b'`' {
            let mut n = 0;
            while i + n < b.len() && b[i + n] == b'`' {
                n += 1;
            }
            // (A run can be missing from `runs` when an autolink took the
            // backslash that hid it: then it has no closer.)
            let close = runs
                .get(&n)
                .and_then(|list| list.get(list.partition_point(|&p| p <= i)));
            if let Some(&close) = close {
                flush(&mut text, &mut out);
                out.push(Tok::Code(s[i + n..close].to_owned()));
                i = close + n;
            } else {
                text.push_str(&s[i..i + n]);
                i += n;
            }
            continue;
        }
        if c == b'\n' {
            flush(&mut text, &mut out);
            out.push(Tok::Br);
            i += 1;
            continue;
        }
        let at_word_start = prev_char(i).is_none_or(|p| !p.is_alphanumeric());
        if c == b'h'
            && at_word_start
            && let Some(end) = link_end(s, i)
        {
            flush(&mut text, &mut out);
            out.push(Tok::Link(s[i..end].to_owned()));
            i = end;
            continue;
        }
        if c == b'@'
            && prev_char(i).is_none_or(|p| !(p.is_ascii() && is_name_byte(p as u8) || p == '@'))
        {
            let mut end = i + 1;
            while end < b.len() && is_name_byte(b[end]) {
                end += 1;
            }
            while end > i + 1 && b[end - 1] == b'.' {
                end -= 1;
            }
            let name = s[i + 1..end].to_ascii_lowercase();
            let valid = name == "room"
                || name == "here"
                || crate::validate::normalize_username(&name).is_ok();
            if valid {
                flush(&mut text, &mut out);
                out.push(Tok::At(name));
                i = end;
                continue;
            }
        }
        if matches!(c, b'*' | b'_' | b'~') {
            let mut n = 0;
            while i + n < b.len() && b[i + n] == c {
                n += 1;
            }
            let kind = match (c, n) {
                (b'*', 1) => Some(Kind::Star),
                (b'*', 2) => Some(Kind::Bold),
                (b'_', 1) => Some(Kind::Under),
                (b'~', 2) => Some(Kind::Strike),
                _ => None,
            };
            let before = prev_char(i);
            let after = s[i + n..].chars().next();
            let space = |c: Option<char>| c.is_none_or(char::is_whitespace);
            if let Some(kind) = kind {
                let (mut open, mut close) = (!space(after), !space(before));
                if matches!(kind, Kind::Under | Kind::Star) {
                    open &= before.is_none_or(|p| !p.is_alphanumeric());
                    close &= after.is_none_or(|a| !a.is_alphanumeric());
                }
                if open || close {
                    flush(&mut text, &mut out);
                    out.push(Tok::Delim { kind, open, close });
                    i += n;
                    continue;
                }
            }
            text.push_str(&s[i..i + n]);
            i += n;
            continue;
        }
        let ch = s[i..].chars().next().expect("in bounds");
        text.push(ch);
        i += ch.len_utf8();
    }
    flush(&mut text, &mut out);
    out
}

/// Parses one paragraph's (or quote's, or item's) inline content.
pub fn inline(s: &str) -> Vec<Inline> {
    let toks = tokens(s);
    // Closers of each kind, in order, for binary search.
    let mut closers: [Vec<usize>; 4] = Default::default();
    for (k, t) in toks.iter().enumerate() {
        if let Tok::Delim {
            kind, close: true, ..
        } = t
        {
            closers[*kind as usize].push(k);
        }
    }
    let mut out = Vec::new();
    build(&toks, 0, toks.len(), 0, &closers, &mut out);
    out
}

fn push_text(out: &mut Vec<Inline>, s: &str) {
    if let Some(Inline::Text(t)) = out.last_mut() {
        t.push_str(s);
    } else if !s.is_empty() {
        out.push(Inline::Text(s.to_owned()));
    }
}

fn build(
    toks: &[Tok],
    from: usize,
    to: usize,
    depth: usize,
    closers: &[Vec<usize>; 4],
    out: &mut Vec<Inline>,
) {
    let mut k = from;
    while k < to {
        match &toks[k] {
            Tok::Text(t) => push_text(out, t),
            Tok::Code(t) => out.push(Inline::Node(Node::Code { text: t.clone() })),
            Tok::Link(u) => out.push(Inline::Node(Node::A { href: u.clone() })),
            Tok::At(n) => out.push(Inline::Node(Node::At { name: n.clone() })),
            Tok::Br => out.push(Inline::Node(Node::Br)),
            Tok::Delim { kind, open, .. } => {
                let list = &closers[*kind as usize];
                let next = list.get(list.partition_point(|&c| c <= k)).copied();
                match next {
                    Some(close) if *open && close < to && close > k + 1 && depth < MAX_DEPTH => {
                        let mut c = Vec::new();
                        build(toks, k + 1, close, depth + 1, closers, &mut c);
                        out.push(Inline::Node(match kind {
                            Kind::Bold => Node::B { c },
                            Kind::Star | Kind::Under => Node::I { c },
                            Kind::Strike => Node::S { c },
                        }));
                        k = close;
                    }
                    _ => push_text(out, kind.text()),
                }
            }
        }
        k += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cases shared with the web app's parser (`web/js/markup.js`).
    #[test]
    fn shared_cases() {
        let cases: Vec<serde_json::Value> =
            serde_json::from_str(include_str!("../../../tests/markup/cases.json")).unwrap();
        assert!(cases.len() >= 20);
        for case in cases {
            let input = case["in"].as_str().unwrap();
            let got = serde_json::to_value(parse(input)).unwrap();
            assert_eq!(got, case["out"], "input: {input:?}");
        }
    }

    #[test]
    fn pathological_input_is_linear_and_bounded() {
        let units = ["*a ", "**", "`", "_a_", "~~x", "> ", "@a", "h", "\\"];
        let tails = [".", ")", "(", "a"].map(|t| format!("https://x.io/{}", t.repeat(60_000)));
        for s in units.iter().map(|u| u.repeat(20_000)).chain(tails) {
            let unit = &s[..12.min(s.len())];
            let t = std::time::Instant::now();
            let _ = parse(&s);
            assert!(t.elapsed().as_secs() < 2, "{unit:?} took {:?}", t.elapsed());
        }
        let deep = format!("{}x{}", "*a ".repeat(50).replace(' ', ""), "a*".repeat(50));
        let _ = parse(&deep);
    }
}
