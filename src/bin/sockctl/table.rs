//! Aligned columns for a person: a header line, then one line per row.

use crate::sanitize;

/// Columns are separated by two spaces and padded to their widest cell (in characters); the
/// last column is not padded. Every cell is sanitized, as cells often come from the server.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let cells: Vec<Vec<String>> = std::iter::once(header.iter().map(|h| h.to_string()).collect())
        .chain(rows.iter().cloned())
        .map(|row| {
            row.iter()
                .map(|cell| sanitize::cell(cell).into_owned())
                .collect()
        })
        .collect();
    let columns = cells.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            cells
                .iter()
                .filter_map(|row| row.get(i))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for row in cells {
        let last = row.len().saturating_sub(1);
        for (i, cell) in row.iter().enumerate() {
            if i == last {
                text.push_str(cell);
            } else {
                let width = widths.get(i).copied().unwrap_or(0);
                text.push_str(&format!("{cell:<width$}  "));
            }
        }
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_cells_are_escaped() {
        let rows = vec![
            vec!["s1".to_string(), "UP".into(), "1".into()],
            vec!["server-two".to_string(), "\x1b[2J".into(), "100".into()],
        ];
        assert_eq!(
            render(&["NAME", "STATUS", "WEIGHT"], &rows),
            "NAME        STATUS   WEIGHT\n\
             s1          UP       1\n\
             server-two  \\x1b[2J  100\n"
        );
        assert_eq!(render(&["A"], &[]), "A\n");
    }
}
