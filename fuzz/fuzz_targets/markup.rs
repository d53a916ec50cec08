//! The formatting grammar: any text parses (no panic, bounded nesting),
//! and what the tree shows is never more than what was typed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use securechat_proto::markup::{Block, Inline, MAX_DEPTH, Node, parse};

fn walk(inlines: &[Inline], depth: usize, chars: &mut usize) {
    assert!(depth <= MAX_DEPTH + 1, "nested {depth} deep");
    for i in inlines {
        match i {
            Inline::Text(t) => *chars += t.chars().count(),
            Inline::Node(Node::B { c } | Node::I { c } | Node::S { c }) => {
                assert!(!c.is_empty(), "empty emphasis");
                walk(c, depth + 1, chars)
            }
            Inline::Node(Node::Code { text }) => *chars += text.chars().count(),
            Inline::Node(Node::A { href }) => {
                assert!(href.starts_with("http://") || href.starts_with("https://"));
                assert!(!href.contains(char::is_whitespace));
                *chars += href.chars().count()
            }
            Inline::Node(Node::At { name }) => *chars += name.chars().count() + 1,
            Inline::Node(Node::Br) => *chars += 1,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let mut chars = 0;
    for block in parse(s) {
        match block {
            Block::P { c } | Block::Quote { c } => walk(&c, 0, &mut chars),
            Block::Ul { items } | Block::Ol { items, .. } => {
                items.iter().for_each(|c| walk(c, 0, &mut chars))
            }
            Block::Pre { text, .. } => chars += text.chars().count(),
        }
    }
    assert!(chars <= s.chars().count(), "the tree shows more than {s:?}");
    let (users, _) = securechat_proto::collab::mentions(s);
    assert!(users.iter().all(|u| securechat_proto::validate::normalize_username(u).is_ok()));
});
