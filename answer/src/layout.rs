//! Page layout from word boxes, so that what reaches a model (or the extractive answerer) reads the
//! way a person reads the page.
//!
//! OCR and a PDF's text layer give words with boxes, grouped in lines that follow the text's flow.
//! On forms, invoices and tables that flow scatters what belongs together: "Booking ID" sits on
//! one line and "IBZY2087" under it; "Invoice Number:" is at the left edge and its value at the
//! right. [`lines`] rebuilds the page:
//!
//! - **Rows**: words whose boxes overlap vertically form one visual row, left to right.
//! - **Cells**: a row is cut where the gap between words is wide (more than about two and a half
//!   characters, or a new OCR line after a gap), so "Invoice Number:" and "42183017" are two cells
//!   of one row, joined as `Invoice Number: 42183017`; other cells are joined with ` | `.
//! - **Headers**: a row of short label cells (no digits, at most four words each) is a header;
//!   the rows under it whose cells line up with its cells get the labels written in, so a table row
//!   reads `Room Charges | RATE: Rs 1939 x 1 Night | AMOUNT: Rs 1939` and a form reads
//!   `Booking ID: IBZY2087 | Payment Mode: Cash at Hotel`. The header's reach ends at a row that
//!   does not line up, at a new header, or after a wide vertical gap.
//! - **Columns**: a page whose long rows are nearly all split by the same vertical gutter (two
//!   columns of prose) is read column by column.
//!
//! Not for: recognising text (loupe-models' OCR), choosing which lines matter (`text::focus`).

use loupe_schemas::WordBox;

/// A run of words on one row with no wide gap inside.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub text: String,
    pub boxes: Vec<WordBox>,
    pub x0: f32,
    pub x1: f32,
}

impl Cell {
    fn centre(&self) -> f32 {
        (self.x0 + self.x1) / 2.0
    }

    /// Short text with no digits: a field name or column header.
    fn label_like(&self) -> bool {
        let t = self.text.trim();
        let words = t.split_whitespace().count();
        (1..=4).contains(&words)
            && t.chars().count() <= 32
            && !t.chars().any(|c| c.is_ascii_digit())
            && t.chars().any(char::is_alphabetic)
            && !t.ends_with([':', '.', ','])
    }
}

/// One visual row: cells left to right.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub cells: Vec<Cell>,
    pub y0: f32,
    pub y1: f32,
}

impl Row {
    fn height(&self) -> f32 {
        (self.y1 - self.y0).max(1e-4)
    }
}

/// A line of the rebuilt page: its text (labels written in) and the words it rests on.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub text: String,
    pub boxes: Vec<WordBox>,
}

fn usable(w: &WordBox) -> bool {
    !w.text.trim().is_empty()
        && w.bbox.iter().all(|v| v.is_finite())
        && w.bbox[2] >= w.bbox[0]
        && w.bbox[3] >= w.bbox[1]
}

/// Groups words into visual rows, top to bottom, each cut into cells.
pub fn rows(words: &[WordBox]) -> Vec<Row> {
    let mut ws: Vec<&WordBox> = words.iter().filter(|w| usable(w)).collect();
    let cy = |w: &WordBox| (w.bbox[1] + w.bbox[3]) / 2.0;
    ws.sort_by(|a, b| cy(a).total_cmp(&cy(b)));
    // (mean y0, mean y1, words) per row; a word joins a recent row it overlaps by half its height.
    let mut groups: Vec<(f32, f32, Vec<&WordBox>)> = Vec::new();
    for w in ws {
        let (y0, y1) = (w.bbox[1], w.bbox[3]);
        let h = (y1 - y0).max(1e-4);
        let n = groups.len();
        let fit = groups
            .iter()
            .enumerate()
            .skip(n.saturating_sub(4))
            .filter(|(_, g)| {
                let gh = (g.1 - g.0).max(1e-4);
                y1.min(g.1) - y0.max(g.0) >= 0.5 * h.min(gh)
            })
            .max_by(|a, b| {
                let ov = |g: &(f32, f32, Vec<&WordBox>)| y1.min(g.1) - y0.max(g.0);
                ov(a.1).total_cmp(&ov(b.1))
            })
            .map(|(i, _)| i);
        match fit {
            Some(i) => {
                let g = &mut groups[i];
                let k = g.2.len() as f32;
                g.0 = (g.0 * k + y0) / (k + 1.0);
                g.1 = (g.1 * k + y1) / (k + 1.0);
                g.2.push(w);
            }
            None => groups.push((y0, y1, vec![w])),
        }
    }
    groups.sort_by(|a, b| a.0.total_cmp(&b.0));
    groups
        .into_iter()
        .map(|(y0, y1, mut ws)| {
            ws.sort_by(|a, b| a.bbox[0].total_cmp(&b.bbox[0]));
            Row {
                cells: cells(&ws),
                y0,
                y1,
            }
        })
        .collect()
}

/// Cuts a row's words (left to right) into cells at wide gaps.
fn cells(ws: &[&WordBox]) -> Vec<Cell> {
    // Width of a character on this row: the median over its words.
    let mut per_char: Vec<f32> = ws
        .iter()
        .map(|w| (w.bbox[2] - w.bbox[0]) / w.text.chars().count().max(1) as f32)
        .filter(|v| *v > 0.0)
        .collect();
    per_char.sort_by(f32::total_cmp);
    let ch = per_char.get(per_char.len() / 2).copied().unwrap_or(0.01);
    let mut out: Vec<Cell> = Vec::new();
    let mut prev: Option<&WordBox> = None;
    for &w in ws {
        let cut = prev.is_none_or(|p| {
            let gap = w.bbox[0] - p.bbox[2];
            gap > 2.5 * ch || (p.line != w.line && gap > 1.2 * ch)
        });
        if cut {
            out.push(Cell {
                text: w.text.trim().to_string(),
                boxes: vec![w.clone()],
                x0: w.bbox[0],
                x1: w.bbox[2],
            });
        } else if let Some(c) = out.last_mut() {
            c.text.push(' ');
            c.text.push_str(w.text.trim());
            c.boxes.push(w.clone());
            c.x1 = c.x1.max(w.bbox[2]);
        }
        prev = Some(w);
    }
    out
}

/// Which header cell a cell sits under: the one it overlaps most, else the nearest by centre
/// within a cell's width.
fn under(c: &Cell, header: &[Cell]) -> Option<usize> {
    let overlap = |h: &Cell| c.x1.min(h.x1) - c.x0.max(h.x0);
    let best = header
        .iter()
        .enumerate()
        .filter(|(_, h)| overlap(h) > 0.0)
        .max_by(|a, b| overlap(a.1).total_cmp(&overlap(b.1)))
        .map(|(i, _)| i);
    best.or_else(|| {
        header
            .iter()
            .enumerate()
            .map(|(i, h)| (i, (h.centre() - c.centre()).abs(), (h.x1 - h.x0).max(c.x1 - c.x0)))
            .filter(|(_, d, w)| d <= w)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, ..)| i)
    })
}

/// A row's cells under `header`: the header index of each cell, or None when the row does not
/// line up (a cell under no header cell, or two cells under one).
fn line_up(row: &Row, header: &[Cell]) -> Option<Vec<usize>> {
    let mut seen = Vec::new();
    for c in &row.cells {
        let i = under(c, header)?;
        if seen.contains(&i) {
            return None;
        }
        seen.push(i);
    }
    Some(seen)
}

fn is_header(row: &Row) -> bool {
    row.cells.len() >= 2 && row.cells.iter().all(Cell::label_like)
}

/// The text of a row: a cell ending in ':' runs into the next; other cells are split by ` | `;
/// with `labels`, each cell gets its header written in front (unless it is itself a label in the
/// first column, the row's own name, or already carries a label).
fn row_text(row: &Row, labels: Option<(&[Cell], &[usize])>) -> String {
    let mut s = String::new();
    for (k, c) in row.cells.iter().enumerate() {
        if k > 0 {
            let prev = &row.cells[k - 1].text;
            s.push_str(if prev.trim_end().ends_with(':') {
                " "
            } else {
                " | "
            });
        }
        if let Some((header, idx)) = labels {
            let own_name = k == 0 && c.label_like();
            if !own_name && !c.text.contains(':') {
                s.push_str(header[idx[k]].text.trim().trim_end_matches(':'));
                s.push_str(": ");
            }
        }
        s.push_str(&c.text);
    }
    s
}

/// The gutter of a two-column page: an x that splits nearly every long row into a left and a right
/// cell. None for other pages.
fn gutter(rows: &[Row]) -> Option<f32> {
    let long: Vec<&Row> = rows
        .iter()
        .filter(|r| r.cells.iter().map(|c| c.text.len()).sum::<usize>() >= 30)
        .collect();
    if long.len() < 6 {
        return None;
    }
    let mut candidates: Vec<f32> = long
        .iter()
        .filter(|r| r.cells.len() == 2)
        .map(|r| (r.cells[0].x1 + r.cells[1].x0) / 2.0)
        .collect();
    candidates.sort_by(f32::total_cmp);
    let g = *candidates.get(candidates.len() / 2)?;
    let split = long
        .iter()
        .filter(|r| {
            r.cells.len() == 2
                && r.cells[0].x1 < g
                && r.cells[1].x0 > g
                && r.cells.iter().all(|c| c.text.len() >= 12)
        })
        .count();
    let crossing = long
        .iter()
        .filter(|r| r.cells.iter().any(|c| c.x0 < g && c.x1 > g))
        .count();
    (split * 10 >= long.len() * 8 && crossing * 10 <= long.len()).then_some(g)
}

/// Splits each row at the gutter into a left row and a right row.
fn by_column(rows: Vec<Row>, g: f32) -> Vec<Row> {
    let mut left = Vec::new();
    let mut right = Vec::new();
    for r in rows {
        let (l, rr): (Vec<Cell>, Vec<Cell>) = r.cells.into_iter().partition(|c| c.centre() < g);
        if !l.is_empty() {
            left.push(Row {
                cells: l,
                y0: r.y0,
                y1: r.y1,
            });
        }
        if !rr.is_empty() {
            right.push(Row {
                cells: rr,
                y0: r.y0,
                y1: r.y1,
            });
        }
    }
    left.extend(right);
    left
}

/// The page as lines a reader would write down: rows in reading order, labels beside values.
pub fn lines(words: &[WordBox]) -> Vec<Line> {
    let mut rs = rows(words);
    if let Some(g) = gutter(&rs) {
        rs = by_column(rs, g);
    }
    let mut out = Vec::new();
    // The header in force: its cells and the bottom of the last row it labelled.
    let mut header: Option<(Vec<Cell>, f32)> = None;
    // Where the header's own line is in `out`, until a row under it takes its labels.
    let mut header_line: Option<usize> = None;
    for (k, r) in rs.iter().enumerate() {
        // Two short labels over a row that opens with a label ("Customer | Northwind Traders"
        // over "Phone | 555 1234") are a form's key/value rows, not a header.
        let next_is_key = r.cells.len() == 2
            && rs
                .get(k + 1)
                .is_some_and(|n| n.cells.first().is_some_and(Cell::label_like));
        if is_header(r) && !next_is_key {
            header = Some((r.cells.clone(), r.y1));
            header_line = Some(out.len());
        }
        if is_header(r) && next_is_key {
            header = None;
        }
        let lined = match &header {
            Some((h, bottom))
                if !is_header(r)
                    && r.y0 + 0.5 * r.height() >= *bottom
                    && r.y0 - bottom <= 8.0 * r.height()
                    && (r.cells.len() >= 2
                        || r.cells
                            .first()
                            .is_some_and(|c| c.text.split_whitespace().count() <= 4)) =>
            {
                line_up(r, h)
            }
            _ => None,
        };
        let text = match (&lined, &header) {
            (Some(idx), Some((h, _))) => row_text(r, Some((h, idx))),
            _ => row_text(r, None),
        };
        match (lined.is_some(), &mut header) {
            (true, Some((_, bottom))) => {
                *bottom = r.y1;
                // The header's words now stand beside the values: its own line says nothing
                // more (and a small model reads it as an answer).
                if let Some(at) = header_line.take() {
                    out.remove(at);
                }
            }
            (false, Some(_)) if !is_header(r) => header = None,
            _ => {}
        }
        out.push(Line {
            text,
            boxes: r.cells.iter().flat_map(|c| c.boxes.iter().cloned()).collect(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Words at `(x, y)` in a 100 x 100 page, about one unit per character, 1.5 units high.
    fn page(words: &[(&str, f32, f32, u32)]) -> Vec<WordBox> {
        words
            .iter()
            .map(|&(t, x, y, line)| WordBox {
                text: t.into(),
                bbox: [
                    x / 100.0,
                    y / 100.0,
                    (x + t.chars().count() as f32) / 100.0,
                    (y + 1.5) / 100.0,
                ],
                conf: 1.0,
                line,
            })
            .collect()
    }

    fn texts(ws: &[WordBox]) -> Vec<String> {
        lines(ws).into_iter().map(|l| l.text).collect()
    }

    #[test]
    fn a_label_and_its_far_value_share_a_line() {
        let ws = page(&[
            ("Invoice", 10.0, 10.0, 0),
            ("Number:", 18.0, 10.0, 0),
            ("42183017", 80.0, 10.2, 1),
            ("Invoice", 10.0, 13.0, 2),
            ("Date:", 18.0, 13.0, 2),
            ("August", 70.0, 13.1, 3),
            ("3", 77.0, 13.1, 3),
            (",", 79.0, 13.1, 3),
            ("2014", 81.0, 13.1, 3),
        ]);
        assert_eq!(
            texts(&ws),
            ["Invoice Number: 42183017", "Invoice Date: August 3 , 2014"]
        );
    }

    #[test]
    fn a_header_row_labels_the_values_under_it() {
        let ws = page(&[
            ("Booking", 50.0, 20.0, 0),
            ("ID", 58.0, 20.0, 0),
            ("Payment", 72.0, 20.0, 1),
            ("Mode", 80.0, 20.0, 1),
            ("IBZY2087", 50.0, 23.0, 2),
            ("Cash", 72.0, 23.0, 3),
            ("at", 77.0, 23.0, 3),
            ("Hotel", 80.0, 23.0, 3),
            // Far below, prose: the header no longer applies.
            ("Please", 5.0, 60.0, 4),
            ("note", 12.0, 60.0, 4),
        ]);
        assert_eq!(
            texts(&ws),
            [
                "Booking ID: IBZY2087 | Payment Mode: Cash at Hotel",
                "Please note"
            ]
        );
    }

    #[test]
    fn key_value_rows_are_not_a_header() {
        let ws = page(&[
            ("Customer", 5.0, 10.0, 0),
            ("Northwind", 30.0, 10.0, 1),
            ("Traders", 40.0, 10.0, 1),
            ("Phone", 5.0, 13.0, 2),
            ("555", 30.0, 13.0, 3),
            ("1234", 34.0, 13.0, 3),
        ]);
        assert_eq!(texts(&ws), ["Customer | Northwind Traders", "Phone | 555 1234"]);
    }

    #[test]
    fn table_rows_keep_their_header_and_their_own_name() {
        let ws = page(&[
            ("DESCRIPTION", 5.0, 30.0, 0),
            ("RATE", 60.0, 30.0, 0),
            ("AMOUNT", 85.0, 30.0, 0),
            ("Room", 5.0, 33.0, 1),
            ("Charges", 10.0, 33.0, 1),
            ("Rs", 58.0, 33.0, 2),
            ("1939", 61.0, 33.0, 2),
            ("Rs", 85.0, 33.0, 3),
            ("1939", 88.0, 33.0, 3),
            ("Grand", 5.0, 37.0, 4),
            ("Total", 11.0, 37.0, 4),
            ("Rs", 85.0, 37.0, 5),
            ("1939", 88.0, 37.0, 5),
        ]);
        assert_eq!(
            texts(&ws),
            [
                "Room Charges | RATE: Rs 1939 | AMOUNT: Rs 1939",
                "Grand Total | AMOUNT: Rs 1939"
            ]
        );
        let l = &lines(&ws)[1];
        assert_eq!(l.boxes.len(), 4, "the row's own words, not the header's");
    }

    #[test]
    fn two_columns_of_prose_are_read_one_after_the_other() {
        let mut words = Vec::new();
        for i in 0..8 {
            let y = 10.0 + 2.0 * i as f32;
            words.push((format!("left{i} aaaaaaaaaaaaaaaa"), 5.0, y));
            words.push((format!("right{i} bbbbbbbbbbbbbbb"), 55.0, y));
        }
        let ws: Vec<WordBox> = words
            .iter()
            .enumerate()
            .map(|(k, (t, x, y))| WordBox {
                text: t.clone(),
                bbox: [x / 100.0, y / 100.0, (x + 25.0) / 100.0, (y + 1.5) / 100.0],
                conf: 1.0,
                line: k as u32,
            })
            .collect();
        let t = texts(&ws);
        assert_eq!(t.len(), 16);
        assert!(t[..8].iter().all(|l| l.starts_with("left")), "{t:?}");
        assert!(t[8..].iter().all(|l| l.starts_with("right")), "{t:?}");
    }

    #[test]
    fn prose_lines_stay_as_they_are() {
        let ws = page(&[
            ("Miss", 10.0, 10.0, 0),
            ("Watson", 15.0, 10.0, 0),
            ("took", 22.0, 10.0, 0),
            ("me", 27.0, 10.0, 0),
            ("in", 10.0, 12.5, 1),
            ("the", 13.0, 12.5, 1),
            ("closet", 17.0, 12.5, 1),
        ]);
        assert_eq!(texts(&ws), ["Miss Watson took me", "in the closet"]);
    }

    #[test]
    fn a_table_of_500_rows_keeps_every_row_under_its_header() {
        let mut words = vec![("SKU", 5.0, 1.0, 0), ("Price", 60.0, 1.0, 0)];
        let names: Vec<String> = (0..500).map(|i| format!("ITEM{i:03}")).collect();
        let prices: Vec<String> = (0..500).map(|i| format!("{}.25", 10 + i)).collect();
        for i in 0..500 {
            let y = 1.2 + 0.19 * i as f32;
            words.push((names[i].as_str(), 5.0, y, 1 + 2 * i as u32));
            words.push((prices[i].as_str(), 60.0, y, 2 + 2 * i as u32));
        }
        // Rows 0.19 apart, words 0.15 high: a dense scanned table.
        let ws: Vec<WordBox> = words
            .iter()
            .map(|&(t, x, y, line)| WordBox {
                text: t.into(),
                bbox: [
                    x / 100.0,
                    y / 100.0,
                    (x + t.len() as f32) / 100.0,
                    (y + 0.15) / 100.0,
                ],
                conf: 1.0,
                line,
            })
            .collect();
        let t = texts(&ws);
        assert_eq!(t.len(), 500);
        assert_eq!(t[377], "SKU: ITEM377 | Price: 387.25");
        assert_eq!(t[499], "SKU: ITEM499 | Price: 509.25");
    }

    #[test]
    fn junk_boxes_do_not_panic() {
        let mut ws = page(&[("a", 1.0, 1.0, 0), ("b", 2.0, 1.0, 0)]);
        ws[0].bbox = [f32::NAN, 0.0, 1.0, 1.0];
        ws.push(WordBox {
            text: "  ".into(),
            bbox: [0.0; 4],
            conf: 1.0,
            line: 0,
        });
        assert_eq!(texts(&ws), ["b"]);
        assert!(lines(&[]).is_empty());
    }
}
