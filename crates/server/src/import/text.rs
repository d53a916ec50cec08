//! Slack's message markup into SecureChat's: `<@U123>` → `@name`,
//! `<#C123|general>` → `#general`, `<https://x|label>` → `[label](https://x)`,
//! `<https://x>` → the URL, `&amp;` `&lt;` `&gt;` back to characters; and
//! reaction names into emoji.

use std::collections::HashMap;

/// `text` with Slack's markup turned into SecureChat's; `users` maps Slack
/// user ids to usernames.
pub fn convert(text: &str, users: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&unescape(&rest[..start]));
        let after = &rest[start + 1..];
        let Some(end) = after.find('>') else {
            out.push_str(&unescape(&rest[start..]));
            return out;
        };
        let inner = &after[..end];
        let (target, label) = match inner.split_once('|') {
            Some((t, l)) => (t, Some(unescape(l))),
            None => (inner, None),
        };
        if let Some(id) = target.strip_prefix('@') {
            match users.get(id) {
                Some(name) => out.push_str(&format!("@{name}")),
                None => out.push_str(&format!("@{}", label.unwrap_or_else(|| id.to_owned()))),
            }
        } else if let Some(id) = target.strip_prefix('#') {
            out.push('#');
            out.push_str(&label.unwrap_or_else(|| id.to_owned()));
        } else if let Some(special) = target.strip_prefix('!') {
            // <!here>, <!channel>, <!everyone>: the whole room.
            let word = special.split('^').next().unwrap_or(special);
            out.push_str(match word {
                "here" => "@here",
                "channel" | "everyone" => "@room",
                _ => word,
            });
        } else {
            let url = unescape(target);
            match label {
                Some(l) if l != url => out.push_str(&format!("[{l}]({url})")),
                _ => out.push_str(&url),
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(&unescape(rest));
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The emoji for a Slack reaction name (skin tones dropped); the name in
/// colons for one this table does not know.
pub fn emoji(name: &str) -> String {
    let base = name.split("::").next().unwrap_or(name);
    let known = match base {
        "+1" | "thumbsup" => "👍",
        "-1" | "thumbsdown" => "👎",
        "heart" => "❤️",
        "smile" => "😄",
        "smiley" => "😃",
        "grinning" => "😀",
        "laughing" | "satisfied" => "😆",
        "joy" => "😂",
        "slightly_smiling_face" => "🙂",
        "wink" => "😉",
        "thinking_face" => "🤔",
        "tada" => "🎉",
        "eyes" => "👀",
        "fire" => "🔥",
        "rocket" => "🚀",
        "white_check_mark" => "✅",
        "heavy_check_mark" => "✔️",
        "x" => "❌",
        "warning" => "⚠️",
        "pray" => "🙏",
        "clap" => "👏",
        "raised_hands" => "🙌",
        "ok_hand" => "👌",
        "wave" => "👋",
        "100" => "💯",
        "cry" => "😢",
        "sob" => "😭",
        "sweat_smile" => "😅",
        "muscle" => "💪",
        "bug" => "🐛",
        "coffee" => "☕",
        "star" => "⭐",
        "sparkles" => "✨",
        "bulb" => "💡",
        "memo" => "📝",
        "point_up" => "☝️",
        "see_no_evil" => "🙈",
        "partying_face" => "🥳",
        _ => return format!(":{base}:"),
    };
    known.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_markup_becomes_ours() {
        let users = HashMap::from([("U1".to_owned(), "ann".to_owned())]);
        assert_eq!(
            convert(
                "hi <@U1>, see <#C9|ops> &amp; <https://a.example/x?y=1&amp;z=2|the doc>",
                &users
            ),
            "hi @ann, see #ops & [the doc](https://a.example/x?y=1&z=2)"
        );
        assert_eq!(
            convert("<!here> 1 &lt; 2 <https://b.example>", &users),
            "@here 1 < 2 https://b.example"
        );
        assert_eq!(
            convert("<@U404|bob> <!channel> unclosed <", &users),
            "@bob @room unclosed <"
        );
        assert_eq!(emoji("+1::skin-tone-2"), "👍");
        assert_eq!(emoji("partyparrot"), ":partyparrot:");
    }
}
