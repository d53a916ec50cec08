//! Breaking text into screen lines without losing a character.
//!
//! Text is cut between grapheme clusters (so an emoji with its modifiers,
//! or a letter with its combining marks, stays whole) and measured in
//! terminal columns (CJK and most emoji take two). A cluster that does not
//! fit at the end of a line starts the next one. A tab counts as
//! [`TAB_WIDTH`] columns here and is drawn as that many spaces
//! ([`for_screen`]). Concatenating the pieces of a line gives the line back
//! exactly.

use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// Columns a tab takes on screen.
pub const TAB_WIDTH: usize = 4;

/// Columns `grapheme` takes on screen.
fn columns(grapheme: &str) -> usize {
    if grapheme == "\t" {
        TAB_WIDTH
    } else {
        grapheme.width()
    }
}

/// Columns `text` (one line) takes on screen.
pub fn width(text: &str) -> usize {
    text.graphemes(true).map(columns).sum()
}

/// Breaks one line (no `\n`) into pieces: the first at most `first`
/// columns wide, the others at most `rest`. A cluster wider than a whole
/// line gets a piece of its own. Never returns nothing: an empty line is
/// one empty piece.
pub fn wrap_line(text: &str, first: usize, rest: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut piece = String::new();
    let mut used = 0;
    let mut limit = first.max(1);
    for g in text.graphemes(true) {
        let w = columns(g);
        if used + w > limit && !piece.is_empty() {
            pieces.push(std::mem::take(&mut piece));
            used = 0;
            limit = rest.max(1);
        }
        piece.push_str(g);
        used += w;
    }
    pieces.push(piece);
    pieces
}

/// Breaks `text` into screen lines: at each `\n` (which is dropped), then
/// by width as in [`wrap_line`].
pub fn wrap(text: &str, first: usize, rest: usize) -> Vec<String> {
    text.split('\n')
        .flat_map(|line| wrap_line(line.strip_suffix('\r').unwrap_or(line), first, rest))
        .collect()
}

/// A piece as it is drawn: tabs become spaces (a terminal cell cannot hold
/// a tab).
pub fn for_screen(piece: &str) -> String {
    piece.replace('\t', &" ".repeat(TAB_WIDTH))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn two_hundred_digits_at_eighty_columns_keep_every_digit() {
        let digits: String = (0..200)
            .map(|i| char::from(b'0' + (i % 10) as u8))
            .collect();
        let pieces = wrap_line(&digits, 80, 78);
        assert_eq!(pieces.concat(), digits);
        assert_eq!(
            pieces.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [80, 78, 42]
        );
    }

    #[test]
    fn wide_clusters_move_to_the_next_line_whole() {
        // 9 columns of ASCII, then an emoji (2 columns) at a 10-column edge.
        let pieces = wrap_line("123456789👍🏽x", 10, 10);
        assert_eq!(pieces, ["123456789", "👍🏽x"]);
        let cjk = wrap_line("漢字漢字漢", 4, 4);
        assert_eq!(cjk, ["漢字", "漢字", "漢"]);
        // A combining accent stays on its letter.
        assert_eq!(wrap_line("abe\u{301}cd", 3, 3), ["abe\u{301}", "cd"]);
        // A cluster wider than the line still shows, alone.
        assert_eq!(wrap_line("👍a", 1, 1), ["👍", "a"]);
        assert_eq!(wrap_line("a\tb", 5, 5), ["a\t", "b"]);
        assert_eq!(wrap_line("a\tb", 3, 3), ["a", "\t", "b"]);
        assert_eq!(width("a\tb"), 6);
        assert_eq!(for_screen("\tb"), "    b");
    }

    proptest! {
        #[test]
        fn pieces_put_together_are_the_line(
            text in "(\\PC|[\t 漢👍🏽\u{301}\u{200D}é])*",
            first in 1usize..40,
            rest in 1usize..40,
        ) {
            let pieces = wrap_line(&text, first, rest);
            prop_assert_eq!(pieces.concat(), text.clone());
            for (i, p) in pieces.iter().enumerate() {
                let limit = if i == 0 { first } else { rest };
                // Over the limit only when one cluster alone is wider.
                prop_assert!(width(p) <= limit || p.graphemes(true).count() == 1, "{:?}", p);
            }
        }

        #[test]
        fn wrapped_text_keeps_every_character_but_the_line_breaks(
            text in "(\\PC|[\n\t 漢👍])*",
            w in 1usize..30,
        ) {
            let pieces = wrap(&text, w, w.saturating_sub(2).max(1));
            prop_assert_eq!(pieces.concat(), text.replace('\n', ""));
        }
    }
}
