//! Human tables: comfy-table laid out to the terminal's width, coloured through
//! comfy-table's own styling, so widths are measured on the text alone and a coloured table
//! lines up exactly like a plain one. A column is never narrower than its longest word:
//! wrapping happens between words, never inside a word, a version or a change id.

use super::{visible, Keep};
use comfy_table::{presets, ColumnConstraint, ContentArrangement, Width};
use unicode_width::UnicodeWidthStr;

/// The colours gryt paints table cells with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    Green,
    Red,
    Yellow,
}

impl Color {
    fn comfy(self) -> comfy_table::Color {
        match self {
            // The terminal's standard colours (SGR 32, 31, 33 in the 256-colour form), as
            // gryt paints status words outside tables.
            Color::Green => comfy_table::Color::DarkGreen,
            Color::Red => comfy_table::Color::DarkRed,
            Color::Yellow => comfy_table::Color::DarkYellow,
        }
    }
}

/// One cell: its text (control characters are rendered visibly) and its colour, painted
/// only when colour is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    text: String,
    color: Option<Color>,
}

impl Cell {
    pub fn new(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            color: None,
        }
    }

    pub fn colored(text: impl Into<String>, color: Option<Color>) -> Cell {
        Cell {
            text: text.into(),
            color,
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell::new(text)
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::new(text)
    }
}

/// How a table is drawn: the width to wrap to (none: whole lines), colour, and rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub width: Option<u16>,
    pub color: bool,
    /// Horizontal rules (on a terminal); none into a pipe, so scripts see plain columns.
    pub rules: bool,
}

#[derive(Debug, Clone)]
pub struct Table {
    layout: Layout,
    header: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new(layout: Layout, header: &[&str]) -> Table {
        Table {
            layout,
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn add_row<C: Into<Cell>>(&mut self, row: impl IntoIterator<Item = C>) -> &mut Table {
        self.rows.push(row.into_iter().map(Into::into).collect());
        self
    }

    /// The table as text, lines without trailing blanks.
    pub fn render(&self) -> String {
        let mut t = comfy_table::Table::new();
        t.load_style(if self.layout.rules {
            presets::UTF8_HORIZONTAL_ONLY
        } else {
            presets::NOTHING
        });
        // The terminal is decided by the caller, not by comfy-table.
        t.force_no_tty();
        if self.layout.color {
            t.enforce_styling();
            t.style_text_only();
        }
        match self.layout.width {
            Some(w) => {
                t.set_content_arrangement(ContentArrangement::Dynamic);
                t.set_width(w);
            }
            None => {
                t.set_content_arrangement(ContentArrangement::Disabled);
            }
        }
        t.set_header(self.header.iter().map(|h| visible(h, Keep::Nothing)));
        let columns = self
            .rows
            .iter()
            .map(Vec::len)
            .chain([self.header.len()])
            .max()
            .unwrap_or(0);
        let mut longest_word = vec![0usize; columns];
        let mut note = |i: usize, text: &str| {
            let w = text
                .split_whitespace()
                .map(|w| w.width())
                .max()
                .unwrap_or(0);
            if let Some(slot) = longest_word.get_mut(i) {
                *slot = (*slot).max(w);
            }
        };
        for (i, h) in self.header.iter().enumerate() {
            note(i, &visible(h, Keep::Nothing));
        }
        for row in &self.rows {
            let mut cells = Vec::with_capacity(row.len());
            for (i, c) in row.iter().enumerate() {
                let text = visible(&c.text, Keep::Nothing);
                note(i, &text);
                let mut cell = comfy_table::Cell::new(text);
                if let (true, Some(color)) = (self.layout.color, c.color) {
                    cell = cell.fg(color.comfy());
                }
                cells.push(cell);
            }
            t.add_row(cells);
        }
        if let Some(width) = self.layout.width {
            // Words that cannot all fit make the table wider than the terminal rather
            // than being cut (one column of padding each side; neither preset draws
            // vertical lines).
            let needed: usize = longest_word.iter().map(|w| w + 2).sum();
            t.set_width(width.max(u16::try_from(needed).unwrap_or(u16::MAX)));
            for (i, w) in longest_word.iter().enumerate() {
                // comfy-table's widths include the padding.
                let w = u16::try_from(w + 2).unwrap_or(u16::MAX);
                if let Some(col) = t.column_mut(i) {
                    col.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(w)));
                }
            }
        }
        t.lines()
            .map(|l| l.trim_end().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// `text` without its SGR (colour) sequences.
#[cfg(test)]
pub fn strip_sgr(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('\u{1b}') {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        match after
            .strip_prefix("\u{1b}[")
            .and_then(|b| b.find('m').map(|end| (b, end)))
            .filter(|(b, end)| b[..*end].chars().all(|c| c.is_ascii_digit() || c == ';'))
        {
            Some((_, end)) => rest = &after[2 + end + 1..],
            None => {
                out.push('\u{1b}');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(layout: Layout) -> Table {
        let mut t = Table::new(
            layout,
            &[
                "Version",
                "Status",
                "Proven",
                "Evolutions",
                "Sync",
                "Description",
            ],
        );
        t.add_row([
            Cell::new("v1.2.0-rc.10"),
            Cell::colored("pass", Some(Color::Green)),
            Cell::new("2/2"),
            Cell::new("3"),
            Cell::colored("not_synced", Some(Color::Yellow)),
            Cell::new("Spring release with OAuth2 login and a session timeout fix for everyone"),
        ]);
        t.add_row([
            Cell::new("v10.0.0"),
            Cell::colored("fail", Some(Color::Red)),
            Cell::new("0/12"),
            Cell::new("14"),
            Cell::colored("synced", Some(Color::Green)),
            Cell::new("FEAT-1234 BUG-77"),
        ]);
        t
    }

    /// The start column of every word of every line.
    fn word_columns(text: &str) -> Vec<Vec<(usize, String)>> {
        text.lines()
            .map(|l| {
                let mut out = Vec::new();
                let mut start = None;
                for (i, c) in l.chars().chain([' ']).enumerate() {
                    match (c.is_whitespace() || c == '─', start) {
                        (false, None) => start = Some(i),
                        (true, Some(s)) => {
                            out.push((s, l.chars().skip(s).take(i - s).collect()));
                            start = None;
                        }
                        _ => {}
                    }
                }
                out
            })
            .collect()
    }

    #[test]
    fn coloured_tables_line_up_like_plain_ones() {
        for width in [None, Some(40), Some(60), Some(80), Some(120)] {
            for rules in [false, true] {
                let plain = sample(Layout {
                    width,
                    color: false,
                    rules,
                })
                .render();
                let coloured = sample(Layout {
                    width,
                    color: true,
                    rules,
                })
                .render();
                assert!(coloured.contains('\u{1b}'), "colour is on:\n{coloured}");
                assert!(!plain.contains('\u{1b}'), "colour is off:\n{plain}");
                let stripped = strip_sgr(&coloured);
                assert_eq!(
                    word_columns(&stripped),
                    word_columns(&plain),
                    "width {width:?}:\n{stripped}\n---\n{plain}"
                );
            }
        }
    }

    #[test]
    fn wrapping_never_splits_a_word() {
        for width in [30, 40, 60, 80] {
            let text = strip_sgr(
                &sample(Layout {
                    width: Some(width),
                    color: true,
                    rules: true,
                })
                .render(),
            );
            let words: Vec<String> = word_columns(&text)
                .into_iter()
                .flatten()
                .map(|(_, w)| w)
                .collect();
            for whole in [
                "v1.2.0-rc.10",
                "pass",
                "not_synced",
                "Evolutions",
                "FEAT-1234",
                "Description",
                "timeout",
            ] {
                assert!(
                    words.iter().any(|w| w == whole),
                    "{whole} split at width {width}:\n{text}"
                );
            }
            for part in ["pas", "rc.1", "not_syn"] {
                assert!(
                    !words.iter().any(|w| w == part),
                    "{part} at width {width}:\n{text}"
                );
            }
        }
    }

    #[test]
    fn lines_fit_the_width_when_the_words_do() {
        let text = sample(Layout {
            width: Some(80),
            color: false,
            rules: false,
        })
        .render();
        for l in text.lines() {
            assert!(l.width() <= 80, "{} columns: {l:?}\n{text}", l.width());
        }
        // A long description wraps onto more lines instead of widening the table.
        assert!(text.lines().count() > 3, "{text}");
    }

    #[test]
    fn cell_text_is_made_visible_before_it_is_measured() {
        let mut t = Table::new(
            Layout {
                width: Some(60),
                color: true,
                rules: false,
            },
            &["Title"],
        );
        t.add_row(["a\u{1b}[2Jb"]);
        let text = t.render();
        assert!(text.contains("a^[[2Jb"), "{text:?}");
    }

    #[test]
    fn strip_sgr_removes_only_colour_sequences() {
        assert_eq!(strip_sgr("\u{1b}[38;5;10mpass\u{1b}[39m x"), "pass x");
        assert_eq!(strip_sgr("\u{1b}[2J"), "\u{1b}[2J");
        assert_eq!(strip_sgr("plain"), "plain");
    }
}
