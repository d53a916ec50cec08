//! The safety code two people compare to verify each other's devices (as
//! Signal's safety numbers): a SHA-256 over both devices' owners and
//! Ed25519 keys, in an order both sides agree on, shown as emoji and as
//! digits. Equal codes on both screens mean neither device's keys were
//! swapped by the server or anyone between.

use securechat_proto::e2e::DeviceKeys;
use sha2::{Digest, Sha256};

/// 64 emoji that are easy to tell apart and to name aloud.
const EMOJI: [&str; 64] = [
    "🐶", "🐱", "🦁", "🐎", "🦄", "🐷", "🐘", "🐰", "🐼", "🐓", "🐧", "🐢", "🐟", "🐙", "🦋", "🌷",
    "🌳", "🌵", "🍄", "🌏", "🌙", "☁️", "🔥", "🍌", "🍎", "🍓", "🌽", "🍕", "🎂", "❤️", "😀", "🤖",
    "🎩", "👓", "🔧", "🎅", "👍", "☂️", "⌛", "⏰", "🎁", "💡", "📕", "✏️", "📎", "✂️", "🔒", "🔑",
    "🔨", "☎️", "🏁", "🚂", "🚲", "✈️", "🚀", "🏆", "⚽", "🎸", "🎺", "🔔", "⚓", "🎧", "📁", "📌",
];

/// A safety code, in both forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafetyCode {
    /// Seven emoji.
    pub emoji: Vec<&'static str>,
    /// Six groups of five digits.
    pub digits: String,
}

/// The code for the pair of devices `a` and `b` (the same whichever is
/// mine).
pub fn safety_code(a: &DeviceKeys, b: &DeviceKeys) -> SafetyCode {
    let line = |d: &DeviceKeys| format!("{}\n{}\n{}\n", d.user, d.device, d.ed25519);
    let (x, y) = (line(a), line(b));
    let (first, second) = if x <= y { (x, y) } else { (y, x) };
    let mut h = Sha256::new();
    h.update(b"securechat-safety-code-v1\n");
    h.update(first.as_bytes());
    h.update(second.as_bytes());
    let hash = h.finalize();
    let bits = u64::from_be_bytes(hash[..8].try_into().expect("8 bytes"));
    let emoji = (0..7)
        .map(|i| EMOJI[((bits >> (58 - 6 * i)) & 63) as usize])
        .collect();
    let digits = hash[8..]
        .chunks(4)
        .take(6)
        .map(|c| {
            format!(
                "{:05}",
                u32::from_be_bytes(c.try_into().expect("4 bytes")) % 100_000
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    SafetyCode { emoji, digits }
}
