//! Plain-text layout for people: display width of mixed Chinese/Latin text and aligned tables.

/// Columns a character occupies in a terminal: 2 for East Asian wide and full-width characters
/// (CJK ideographs and punctuation, kana, hangul, full-width forms), 0 for combining marks and
/// control characters, 1 otherwise.
pub fn char_width(c: char) -> usize {
    let u = c as u32;
    if u < 0x20 || (0x7f..0xa0).contains(&u) {
        return 0;
    }
    if (0x0300..=0x036f).contains(&u) || (0x200b..=0x200f).contains(&u) || u == 0xfeff {
        return 0;
    }
    let wide = matches!(u,
        0x1100..=0x115f          // Hangul Jamo initials
        | 0x2e80..=0x303e        // CJK radicals, Kangxi, CJK symbols and punctuation
        | 0x3041..=0x33ff        // kana, bopomofo, CJK compatibility
        | 0x3400..=0x4dbf        // CJK extension A
        | 0x4e00..=0x9fff        // CJK unified ideographs
        | 0xa000..=0xa4cf        // Yi
        | 0xac00..=0xd7a3        // Hangul syllables
        | 0xf900..=0xfaff        // CJK compatibility ideographs
        | 0xfe30..=0xfe4f        // CJK compatibility forms
        | 0xff00..=0xff60        // full-width forms
        | 0xffe0..=0xffe6        // full-width signs
        | 0x20000..=0x3fffd      // CJK extensions B and later
    );
    if wide { 2 } else { 1 }
}

/// Columns a string occupies in a terminal.
pub fn width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// Rows of cells, rendered with each column padded to its widest cell.
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new() -> Self {
        Table::default()
    }

    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    /// Append the table to `out`, each line starting with `indent` and columns separated by two
    /// spaces. The last cell of a row is not padded and does not widen its column, so a long
    /// remark at the end of one row leaves the other rows alone. Trailing spaces are not written.
    pub fn render(&self, indent: &str, out: &mut String) {
        let cols = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![0; cols];
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(row.len().saturating_sub(1)) {
                widths[i] = widths[i].max(width(cell));
            }
        }
        for row in &self.rows {
            let mut line = String::from(indent);
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                if i + 1 < row.len() {
                    line.extend(std::iter::repeat_n(' ', widths[i] - width(cell)));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths() {
        assert_eq!(width("abc"), 3);
        assert_eq!(width("化学需氧量"), 10);
        assert_eq!(width("毫克/升"), 7);
        assert_eq!(width("（非标准）"), 10);
        assert_eq!(width("m³"), 2);
        assert_eq!(width("℃"), 1);
        assert_eq!(width(""), 0);
    }

    #[test]
    fn table_aligns_mixed_text() {
        let mut t = Table::new();
        t.row(["w01018", "化学需氧量", "毫克/升"]);
        t.row(["w00000", "污水", "升/秒"]);
        t.row(["a01012", "flue temperature", ""]);
        t.row(["note", "a remark that is longer than every other cell"]);
        let mut s = String::new();
        t.render("  ", &mut s);
        let lines: Vec<_> = s.lines().collect();
        assert_eq!(lines[0], "  w01018  化学需氧量        毫克/升");
        assert_eq!(lines[1], "  w00000  污水              升/秒");
        assert_eq!(lines[2], "  a01012  flue temperature");
        assert_eq!(lines[3], "  note    a remark that is longer than every other cell");
        // The third column starts at the same display column on every line that has one.
        let col = |l: &str, s: &str| width(&l[..l.find(s).unwrap()]);
        assert_eq!(col(lines[0], "毫克"), col(lines[1], "升/秒"));
    }
}
