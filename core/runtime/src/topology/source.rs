//! The topology file's text, and conversions between byte offsets and line/column.
//!
//! Every value the parser looks at is a sub-slice of [`SourceFile::text`], so its
//! position is plain pointer arithmetic ([`offset_in`]); errors that RON or a plugin
//! report as a line/column *inside* a value are mapped back onto the file with
//! [`offset_at`]. Columns count characters, as RON and miette do.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use miette::{MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

/// A topology file as read from disk (or built in memory), kept for diagnostics.
///
/// The text is shared (`Arc`) because every diagnostic carries it to render its snippet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// The path shown in diagnostics (`file.ron:3:15`).
    pub path: PathBuf,
    /// The whole file.
    pub text: Arc<str>,
}

impl SourceFile {
    /// A source from any text, e.g. a test fixture or a file read elsewhere.
    pub fn new(path: impl Into<PathBuf>, text: impl Into<Arc<str>>) -> SourceFile {
        SourceFile {
            path: path.into(),
            text: text.into(),
        }
    }
}

/// The file as miette's source, reporting columns in characters.
///
/// miette's own `str` source counts the `[file:line:col]` column in bytes, which
/// disagrees with RON, with editors and with `Diagnostic::col` on any line holding
/// non-ASCII text before the culprit (a comment in French is enough).
#[derive(Debug, Clone)]
pub(crate) struct CharColumns {
    pub name: String,
    pub text: Arc<str>,
}

impl SourceCode for CharColumns {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner = (*self.text).read_span(span, context_lines_before, context_lines_after)?;
        // With context lines miette reports column 0 and measures lines itself.
        let column = if inner.column() == 0 {
            0
        } else {
            line_col(&self.text, span.offset()).1.saturating_sub(1) as usize
        };
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            inner.line(),
            column,
            inner.line_count(),
        )))
    }
}

/// Byte range of `part` inside `whole`, when `part` is a sub-slice of it.
///
/// The parser only ever hands out sub-slices of the file, so `None` means a bug; the
/// callers then fall back to an unlabelled diagnostic rather than a wrong caret.
pub(crate) fn offset_in(whole: &str, part: &str) -> Option<Range<usize>> {
    let base = whole.as_ptr() as usize;
    let start = (part.as_ptr() as usize).checked_sub(base)?;
    let end = start.checked_add(part.len())?;
    (end <= whole.len()).then_some(start..end)
}

/// Byte offset of 1-based `line`/`col` (in characters) inside `text`.
///
/// Positions past the end of a line clamp to its end, positions past the last line to
/// the end of the text: a slightly-off caret beats a panic on a plugin's bad position.
pub(crate) fn offset_at(text: &str, line: usize, col: usize) -> usize {
    let mut start = 0;
    for _ in 1..line.max(1) {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    let line_text = &text[start..];
    let line_end = line_text.find('\n').unwrap_or(line_text.len());
    let within = line_text[..line_end]
        .char_indices()
        .nth(col.max(1) - 1)
        .map_or(line_end, |(i, _)| i);
    start + within
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let before = &text[..offset];
    let line = 1 + before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = 1 + before[line_start..].chars().count();
    (saturate(line), saturate(col))
}

/// The span of the token starting at `offset`, for a caret under a whole word or string
/// rather than under its first character. Never empty unless `text` is. Whitespace at
/// `offset` is skipped: ron places a type error where the value's parse began, which is
/// the space after `field:`, and the operator's eye looks for the value.
pub(crate) fn token_at(text: &str, offset: usize) -> Range<usize> {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let rest = &text[offset..];
    let offset = offset + (rest.len() - rest.trim_start().len());
    let rest = &text[offset..];
    let first = rest.chars().next();
    let Some(first) = first else {
        // At the very end ("unexpected end"): point at the last visible character.
        let visible = text.trim_end();
        let start = visible.char_indices().next_back().map_or(0, |(i, _)| i);
        return start..visible.len().max(start);
    };
    let len = if first == '"' {
        rest[1..].find('"').map_or(rest.len(), |i| i + 2)
    } else if first.is_alphanumeric() || first == '_' {
        rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(rest.len())
    } else {
        first.len_utf8()
    };
    offset..offset + len
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_slices_have_offsets() {
        let text = "abc\ndef";
        assert_eq!(offset_in(text, &text[4..6]), Some(4..6));
        assert_eq!(offset_in(text, "elsewhere"), None);
    }

    #[test]
    fn line_col_round_trips() {
        let text = "(\n  a: \"é\",\n  b: 2,\n)";
        for offset in [0, 2, 4, 7, 13, 16] {
            let (line, col) = line_col(text, offset);
            assert_eq!(
                offset_at(text, line as usize, col as usize),
                offset,
                "offset {offset}"
            );
        }
        assert_eq!(line_col(text, 16), (3, 4));
    }

    #[test]
    fn out_of_range_positions_clamp() {
        let text = "ab\ncd";
        assert_eq!(offset_at(text, 1, 99), 2);
        assert_eq!(offset_at(text, 9, 1), text.len());
        assert_eq!(offset_at(text, 0, 0), 0);
    }

    #[test]
    fn tokens_cover_words_and_strings() {
        let text = "kind: udpp, bind: \"1.2.3.4:5\"";
        assert_eq!(&text[token_at(text, 6)], "udpp");
        assert_eq!(&text[token_at(text, 18)], "\"1.2.3.4:5\"");
        assert_eq!(&text[token_at(text, 4)], ":");
        assert_eq!(&text[token_at(text, text.len())], "\"");
        assert_eq!(&"ab {\n\n"[token_at("ab {\n\n", 5)], "{");
        assert_eq!(&"ab {\n\n"[token_at("ab {\n\n", 4)], "{");
        assert_eq!(token_at("", 0), 0..0);
        let typed = "(max_keys: \"lots\")";
        assert_eq!(
            &typed[token_at(typed, 10)],
            "\"lots\"",
            "the value, not the space before it"
        );
    }
}
