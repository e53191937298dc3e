//! The picture's layout: one column per layer (the internet first), its
//! boxes stacked in it, arrows between box edges with their labels. Each
//! box carries the logical ids of its resources (as a tooltip), so every
//! resource of the templates can be found in the picture.

use std::fmt::Write as _;

use super::{layer_rank, Edge, Node};
use crate::cfn::Layer;

const W: usize = 250;
const H: usize = 58;
const GAP_X: usize = 90;
const GAP_Y: usize = 26;
const MARGIN: usize = 30;
const TOP: usize = 112;

/// The column of a box: the internet, then the layers.
fn column(n: &Node) -> usize {
    n.layer.map_or(0, |l| 1 + layer_rank(l))
}

fn layer_title(layer: Layer) -> &'static str {
    match layer {
        Layer::Global => "Global (us-east-1)",
        Layer::Edge => "Edge layer",
        Layer::Artifacts => "Artifacts layer",
        Layer::App => "App layer",
        Layer::Data => "Data layer",
        Layer::Network => "Network layer",
        Layer::Bootstrap => "Bootstrap",
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A box's place: its corner, column and row.
#[derive(Clone, Copy)]
struct Place {
    x: f64,
    y: f64,
    column: usize,
    row: usize,
}

/// The y of the gap above `row` (the band's title strip above the first).
fn gap_above(row: usize) -> f64 {
    let top = (TOP + row * (H + GAP_Y)) as f64 - GAP_Y as f64 / 2.0;
    if row == 0 {
        // Above the bands and their titles.
        (TOP - 50) as f64
    } else {
        top
    }
}

/// Where along an arrow its label may go, in the order tried: a third of
/// the way, nearer its source (where two arrows cross, their middles meet,
/// and so would their labels), then nearer either end.
const LABEL_AT: [f64; 7] = [0.35, 0.22, 0.5, 0.65, 0.12, 0.8, 0.9];

/// An arrow's path from box `a` to box `b`, and the places its label may
/// take ([`LABEL_AT`]).
/// Neighbouring columns: an S-curve between the facing sides. Farther
/// columns: over the boxes between, through the gap above the higher box,
/// so it never runs across one. The same column: straight down (or up) to
/// the next box, else around the right side.
fn route(a: Place, b: Place) -> (String, Vec<(f64, f64)>) {
    let (w, h) = (W as f64, H as f64);
    let cubic = |p0: (f64, f64), p1: (f64, f64), p2: (f64, f64), p3: (f64, f64)| {
        let at = |t: f64| {
            let k = [
                (1.0 - t).powi(3),
                3.0 * (1.0 - t).powi(2) * t,
                3.0 * (1.0 - t) * t * t,
                t.powi(3),
            ];
            (
                k[0] * p0.0 + k[1] * p1.0 + k[2] * p2.0 + k[3] * p3.0,
                k[0] * p0.1 + k[1] * p1.1 + k[2] * p2.1 + k[3] * p3.1,
            )
        };
        (
            format!(
                "M {:.0} {:.0} C {:.0} {:.0}, {:.0} {:.0}, {:.0} {:.0}",
                p0.0, p0.1, p1.0, p1.1, p2.0, p2.1, p3.0, p3.1
            ),
            LABEL_AT.iter().map(|t| at(*t)).collect(),
        )
    };
    if a.column == b.column {
        if a.row.abs_diff(b.row) == 1 {
            let (y1, y2) = if a.row < b.row {
                (a.y + h, b.y)
            } else {
                (a.y, b.y + h)
            };
            let x = a.x + w / 2.0;
            return (
                format!("M {x:.0} {y1:.0} L {x:.0} {y2:.0}"),
                vec![(x, (y1 + y2) / 2.0)],
            );
        }
        let (p0, p3) = ((a.x + w, a.y + h / 2.0), (b.x + w, b.y + h / 2.0));
        let out = a.x + w + GAP_X as f64 * 0.6;
        return cubic(p0, (out, p0.1), (out, p3.1), p3);
    }
    let right = b.column > a.column;
    let (p0, p3) = if right {
        ((a.x + w, a.y + h / 2.0), (b.x, b.y + h / 2.0))
    } else {
        ((a.x, a.y + h / 2.0), (b.x + w, b.y + h / 2.0))
    };
    let dx = if right { GAP_X as f64 } else { -(GAP_X as f64) };
    if a.column.abs_diff(b.column) == 1 {
        return cubic(p0, (p0.0 + dx / 2.0, p0.1), (p3.0 - dx / 2.0, p3.1), p3);
    }
    let apex = gap_above(a.row.min(b.row));
    let c = (8.0 * apex - p0.1 - p3.1) / 6.0;
    cubic(p0, (p0.0 + dx, c), (p3.0 - dx, c), p3)
}

/// A rectangle a label or a box covers.
#[derive(Clone, Copy)]
struct Area {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

impl Area {
    fn new(x: f64, y: f64, w: f64, h: f64) -> Area {
        Area {
            x0: x,
            y0: y,
            x1: x + w,
            y1: y + h,
        }
    }

    fn overlap(&self, o: &Area) -> f64 {
        let w = self.x1.min(o.x1) - self.x0.max(o.x0);
        let h = self.y1.min(o.y1) - self.y0.max(o.y0);
        if w > 0.0 && h > 0.0 {
            w * h
        } else {
            0.0
        }
    }
}

/// The first candidate where `label` covers nothing drawn, else the one
/// covering least; the label's area is then taken.
fn label_place(label: &str, candidates: &[(f64, f64)], taken: &mut Vec<Area>) -> (f64, f64) {
    // 11 px sans-serif: about 6 px a character, 13 px high, text above y.
    let width = 6.0 * label.chars().count() as f64 + 6.0;
    let area = |(x, y): (f64, f64)| Area::new(x - width / 2.0, y - 15.0, width, 14.0);
    let cost = |c: (f64, f64)| taken.iter().map(|t| t.overlap(&area(c))).sum::<f64>();
    let best = candidates
        .iter()
        .copied()
        .find(|c| cost(*c) == 0.0)
        .or_else(|| {
            candidates
                .iter()
                .copied()
                .min_by(|a, b| cost(*a).total_cmp(&cost(*b)))
        })
        .unwrap_or_default();
    taken.push(area(best));
    best
}

pub(super) fn svg(title: &str, nodes: &[Node], edges: &[Edge]) -> String {
    // Each box's place: its column, then its turn in that column.
    let mut rows = [0usize; 6];
    let places: Vec<Place> = nodes
        .iter()
        .map(|n| {
            let c = column(n);
            let row = rows[c];
            rows[c] += 1;
            Place {
                x: (MARGIN + c * (W + GAP_X)) as f64,
                y: (TOP + row * (H + GAP_Y)) as f64,
                column: c,
                row,
            }
        })
        .collect();
    let columns = nodes.iter().map(column).max().unwrap_or(0) + 1;
    let deepest = rows.iter().copied().max().unwrap_or(1).max(1);
    let width = MARGIN * 2 + columns * W + (columns - 1) * GAP_X;
    let height = TOP + deepest * (H + GAP_Y) + MARGIN;
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">
<title>{t}</title>
<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#444"/></marker></defs>
<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>
<text x="{MARGIN}" y="30" font-size="16" font-weight="bold">{t}</text>
"##,
        t = escape(title)
    );
    // A band per layer, titled.
    let mut drawn = Vec::new();
    for n in nodes {
        let Some(layer) = n.layer else { continue };
        if drawn.contains(&layer) {
            continue;
        }
        drawn.push(layer);
        let x = MARGIN + column(n) * (W + GAP_X) - 12;
        let _ = writeln!(
            s,
            r##"<rect x="{x}" y="{}" width="{}" height="{}" fill="#f7f9f7" stroke="#2a7" stroke-dasharray="6 4" rx="8"/><text x="{}" y="{}" fill="#2a7" font-weight="bold">{}</text>"##,
            TOP - 34,
            W + 24,
            height - TOP + 34 - MARGIN / 2,
            x + 10,
            TOP - 14,
            layer_title(layer)
        );
    }
    // Labels keep off the boxes and off each other where they can.
    let mut taken: Vec<Area> = places
        .iter()
        .map(|p| Area::new(p.x, p.y, W as f64, H as f64))
        .collect();
    // Labels last, over the boxes: one that cannot keep clear stays legible.
    let mut labels = Vec::new();
    for e in edges {
        let (path, candidates) = route(places[e.from], places[e.to]);
        let label = e.labels.iter().cloned().collect::<Vec<_>>().join(", ");
        let (lx, ly) = label_place(&label, &candidates, &mut taken);
        let _ = writeln!(
            s,
            r##"<path d="{path}" fill="none" stroke="#444" stroke-width="1.3" marker-end="url(#arrow)"/>"##
        );
        labels.push(format!(
            r##"<text x="{lx:.0}" y="{:.0}" text-anchor="middle" fill="#a33" font-size="11" paint-order="stroke" stroke="#ffffff" stroke-width="3">{}</text>"##,
            ly - 3.0,
            escape(&label)
        ));
    }
    for (n, place) in nodes.iter().zip(&places) {
        let (x, y) = (place.x as usize, place.y as usize);
        let ids = if n.resources.is_empty() {
            String::new()
        } else {
            format!("<title>{}</title>", escape(&n.resources.join(", ")))
        };
        let _ = writeln!(
            s,
            r##"<g>{ids}<rect x="{x}" y="{y}" width="{W}" height="{H}" rx="6" fill="#eef4fb" stroke="#357"/><text x="{}" y="{}" text-anchor="middle" font-weight="bold">{}</text><text x="{}" y="{}" text-anchor="middle" fill="#555" font-size="11">{}</text></g>"##,
            x + W / 2,
            y + 24,
            escape(&n.title),
            x + W / 2,
            y + 43,
            escape(&n.detail)
        );
    }
    for label in labels {
        s.push_str(&label);
        s.push('\n');
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_keep_clear_of_boxes_and_of_each_other() {
        let candidates = [(100.0, 100.0), (100.0, 140.0), (100.0, 180.0)];
        let mut taken = vec![Area::new(0.0, 170.0, 200.0, 40.0)];
        let first = label_place("tcp 5432", &candidates, &mut taken);
        let second = label_place("tcp 5432", &candidates, &mut taken);
        assert_eq!(first, (100.0, 100.0));
        assert_eq!(second, (100.0, 140.0), "not on the first label");
        // Every candidate covered: the least covered one.
        let third = label_place("read secret", &candidates, &mut taken);
        assert_eq!(
            third,
            (100.0, 180.0),
            "the box covers less of it than a label would"
        );
    }
}
