//! The input line: a text with a cursor, edited the way shells and
//! weechat/irssi edit, and a window that scrolls sideways so the cursor is
//! always in view.
//!
//! Keys: ←/→ move by character, Home/End and Ctrl-A/Ctrl-E to the ends,
//! Backspace and Delete, Ctrl-W deletes the word before the cursor, Ctrl-U
//! everything before it, Ctrl-K everything after it, Alt-Enter adds a
//! newline (shown as `↵`). The cursor always sits between grapheme
//! clusters.

use super::wrap::{TAB_WIDTH, width};
use unicode_segmentation::UnicodeSegmentation;

/// How a newline in the input is shown.
pub const NEWLINE_MARK: &str = "↵";

/// The text being typed and its cursor (a byte offset at a cluster edge).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Input {
    text: String,
    cursor: usize,
}

impl Input {
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The cursor as a byte offset.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Replaces the text; the cursor goes to its end.
    pub fn set(&mut self, text: impl Into<String>) {
        self.text = text.into();
        self.cursor = self.text.len();
    }

    /// Takes the text out, leaving the line empty.
    pub fn take(&mut self) -> String {
        self.cursor = 0;
        std::mem::take(&mut self.text)
    }

    pub fn clear(&mut self) {
        self.take();
    }

    pub fn insert(&mut self, c: char) {
        self.text.insert(self.cursor, c);
        self.cursor += c.len_utf8();
    }

    /// Where the cluster before the cursor starts.
    fn prev(&self) -> usize {
        self.text[..self.cursor]
            .grapheme_indices(true)
            .next_back()
            .map_or(0, |(i, _)| i)
    }

    /// Where the cluster after the cursor ends.
    fn next(&self) -> usize {
        self.text[self.cursor..]
            .graphemes(true)
            .next()
            .map_or(self.cursor, |g| self.cursor + g.len())
    }

    pub fn left(&mut self) {
        self.cursor = self.prev();
    }

    pub fn right(&mut self) {
        self.cursor = self.next();
    }

    pub fn home(&mut self) {
        self.cursor = 0;
    }

    pub fn end(&mut self) {
        self.cursor = self.text.len();
    }

    pub fn backspace(&mut self) {
        let from = self.prev();
        self.text.replace_range(from..self.cursor, "");
        self.cursor = from;
    }

    pub fn delete(&mut self) {
        let to = self.next();
        self.text.replace_range(self.cursor..to, "");
    }

    /// Ctrl-W: the word before the cursor and the spaces after it.
    pub fn delete_word(&mut self) {
        let before = &self.text[..self.cursor];
        let trimmed = before.trim_end();
        let start = trimmed
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
            .map_or(0, |(i, c)| i + c.len_utf8());
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
    }

    /// Ctrl-U: everything before the cursor.
    pub fn delete_to_start(&mut self) {
        self.text.replace_range(..self.cursor, "");
        self.cursor = 0;
    }

    /// Ctrl-K: everything after the cursor.
    pub fn delete_to_end(&mut self) {
        self.text.truncate(self.cursor);
    }

    /// What fits in `cols` columns, scrolled so the cursor shows, and the
    /// cursor's column within it. Newlines show as [`NEWLINE_MARK`], tabs
    /// as spaces.
    pub fn view(&self, cols: usize) -> (String, usize) {
        let cols = cols.max(2);
        let shown = |s: &str| {
            s.replace('\n', NEWLINE_MARK)
                .replace('\t', &" ".repeat(TAB_WIDTH))
        };
        let before: Vec<&str> = self.text[..self.cursor].graphemes(true).collect();
        // Leave one column for the cursor at the end of the line.
        let mut start = 0;
        let mut used: usize = before.iter().map(|g| width(&shown(g))).sum();
        while used >= cols && start < before.len() {
            used -= width(&shown(before[start]));
            start += 1;
        }
        let from: usize = before[..start].iter().map(|g| g.len()).sum();
        let mut out = String::new();
        let mut total = 0;
        for g in self.text[from..].graphemes(true) {
            let g = shown(g);
            let w = width(&g);
            if total + w > cols {
                break;
            }
            out.push_str(&g);
            total += w;
        }
        (out, used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(s: &str) -> Input {
        let mut i = Input::default();
        for c in s.chars() {
            i.insert(c);
        }
        i
    }

    #[test]
    fn moves_and_edits_by_cluster() {
        let mut i = typed("ab👍🏽c");
        i.left();
        i.left();
        assert_eq!(&i.as_str()[i.cursor()..], "👍🏽c");
        i.backspace();
        assert_eq!(i.as_str(), "a👍🏽c");
        i.delete();
        assert_eq!(i.as_str(), "ac");
        i.home();
        i.insert('>');
        i.end();
        i.insert('<');
        assert_eq!(i.as_str(), ">ac<");
        i.left();
        i.right();
        i.right();
        assert_eq!(i.cursor(), i.as_str().len(), "right stops at the end");
    }

    #[test]
    fn shell_style_deletions() {
        let mut i = typed("hello big  world");
        i.delete_word();
        assert_eq!(i.as_str(), "hello big  ");
        i.delete_word();
        assert_eq!(i.as_str(), "hello ");
        i.set("one two three");
        i.home();
        i.right();
        i.right();
        i.right();
        i.delete_to_end();
        assert_eq!(i.as_str(), "one");
        i.set("one two");
        i.left();
        i.left();
        i.delete_to_start();
        assert_eq!((i.as_str(), i.cursor()), ("wo", 0));
    }

    #[test]
    fn the_view_scrolls_to_keep_the_cursor_in_sight() {
        let text: String = (0..100)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let mut i = typed(&text);
        let (shown, col) = i.view(20);
        assert_eq!(col, 19);
        assert!(text.ends_with(&shown[..19]), "the end is in view: {shown}");
        i.home();
        let (shown, col) = i.view(20);
        assert_eq!((shown.as_str(), col), (&text[..20], 0));
        i.set("line one\nline two");
        let (shown, _) = i.view(40);
        assert_eq!(shown, "line one↵line two");
    }
}
