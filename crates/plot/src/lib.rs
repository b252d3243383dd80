//! The report's plots (confusion matrix, cross-corpus UA matrix, per-class recall, ROC and
//! training curves), each drawn once through plotters and rendered to PNG (for TensorBoard's
//! image tab and quick looks) and SVG (for papers). The DejaVu font is compiled in, so no
//! system fonts are needed.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

/// Registers DejaVu Sans as plotters' "sans-serif" once per process.
fn fonts() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
    });
}

/// A drawing that any plotters backend can render.
pub trait Painter {
    /// Size in pixels.
    fn size(&self) -> (u32, u32);
    /// Draws on `root`.
    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// One plot as PNG bytes and SVG text.
pub struct Figure {
    /// PNG file bytes.
    pub png: Vec<u8>,
    /// SVG document.
    pub svg: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("drawing a plot: {e:?}")
}

/// Renders `p` to PNG and SVG.
pub fn render(p: &impl Painter) -> Result<Figure, String> {
    fonts();
    let (w, h) = p.size();
    let mut rgb = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        p.paint(&root)?;
        root.present().map_err(err)?;
    }
    let mut png_bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut png_bytes, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(err)?;
        writer.write_image_data(&rgb).map_err(err)?;
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        p.paint(&root)?;
        root.present().map_err(err)?;
    }
    Ok(Figure {
        png: png_bytes,
        svg,
        width: w,
        height: h,
    })
}

/// A grid of shaded cells with text: confusion matrices, the cross-corpus UA matrix.
pub struct Heatmap {
    /// Title line.
    pub title: String,
    /// Row names (left).
    pub rows: Vec<String>,
    /// Column names (below).
    pub cols: Vec<String>,
    /// Shade of each cell in [0, 1] (NaN: empty cell).
    pub shade: Vec<Vec<f64>>,
    /// Text of each cell.
    pub text: Vec<Vec<String>>,
    /// Line below the grid (what rows and columns are).
    pub footer: String,
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('.');
        t
    }
}

impl Heatmap {
    fn left(&self) -> u32 {
        let longest = self
            .rows
            .iter()
            .map(|r| r.chars().count())
            .max()
            .unwrap_or(4);
        (longest.min(18) as u32) * 8 + 16
    }
    fn cell(&self) -> u32 {
        let longest = self
            .cols
            .iter()
            .map(|r| r.chars().count())
            .max()
            .unwrap_or(4);
        if longest > 9 { 96 } else { 58 }
    }
}

impl Painter for Heatmap {
    fn size(&self) -> (u32, u32) {
        let (c, l) = (self.cell(), self.left());
        let text = (self.footer.chars().count().max(self.title.chars().count()) as u32) * 7 + 24;
        let w = (l + c * self.cols.len().max(1) as u32 + 20)
            .max(text)
            .max(360);
        (w, 60 + c * self.rows.len().max(1) as u32 + 80)
    }
    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (cell, left, top) = (self.cell() as i32, self.left() as i32, 60i32);
        let font = |s: u32| ("sans-serif", s).into_font();
        let label_chars = (cell as usize / 7).max(6);
        root.draw(&Text::new(
            self.title.clone(),
            (10, 10),
            font(16).color(&BLACK),
        ))
        .map_err(err)?;
        for (r, row) in self.shade.iter().enumerate() {
            for (c, &v) in row.iter().enumerate() {
                let (x0, y0) = (left + c as i32 * cell, top + r as i32 * cell);
                let fill = if v.is_finite() {
                    let s = (255.0 * (1.0 - 0.85 * v.clamp(0.0, 1.0))) as u8;
                    RGBColor(s, s, 255)
                } else {
                    RGBColor(235, 235, 235)
                };
                root.draw(&Rectangle::new(
                    [(x0, y0), (x0 + cell, y0 + cell)],
                    fill.filled(),
                ))
                .map_err(err)?;
                let color = if v.is_finite() && v > 0.5 {
                    WHITE
                } else {
                    BLACK
                };
                root.draw(&Text::new(
                    self.text[r][c].clone(),
                    (x0 + 6, y0 + cell / 2 - 8),
                    font(14).color(&color),
                ))
                .map_err(err)?;
            }
            root.draw(&Text::new(
                short(&self.rows[r], 18),
                (8, top + r as i32 * cell + cell / 2 - 8),
                font(13).color(&BLACK),
            ))
            .map_err(err)?;
        }
        let bottom = top + cell * self.rows.len() as i32;
        for (c, name) in self.cols.iter().enumerate() {
            root.draw(&Text::new(
                short(name, label_chars),
                (left + c as i32 * cell + 2, bottom + 8),
                font(11).color(&BLACK),
            ))
            .map_err(err)?;
        }
        root.draw(&Text::new(
            self.footer.clone(),
            (10, bottom + 40),
            font(12).color(&BLACK),
        ))
        .map_err(err)?;
        Ok(())
    }
}

/// The confusion matrix, rows normalized for the shade, counts as text.
pub fn confusion(matrix: &[Vec<u64>], classes: &[String], title: &str) -> Heatmap {
    let shade = matrix
        .iter()
        .map(|row| {
            let total = row.iter().sum::<u64>().max(1) as f64;
            row.iter().map(|&c| c as f64 / total).collect()
        })
        .collect();
    Heatmap {
        title: title.to_string(),
        rows: classes.to_vec(),
        cols: classes.to_vec(),
        shade,
        text: matrix
            .iter()
            .map(|r| r.iter().map(u64::to_string).collect())
            .collect(),
        footer: "rows: true class, columns: predicted".into(),
    }
}

/// A row-normalized confusion matrix (rows: true class, columns: predicted), each cell
/// showing its count; returns the PNG file's bytes and its size.
pub fn confusion_png(
    matrix: &[Vec<u64>],
    classes: &[String],
    title: &str,
) -> Result<(Vec<u8>, u32, u32), String> {
    let f = render(&confusion(matrix, classes, title))?;
    Ok((f.png, f.width, f.height))
}

/// Horizontal bars of values in [0, 1] (per-class recall).
pub struct Bars {
    /// Title line.
    pub title: String,
    /// Bar names.
    pub labels: Vec<String>,
    /// Values in [0, 1] (NaN: no bar, "n/a").
    pub values: Vec<f64>,
    /// A reference value drawn as a line (chance level), if any.
    pub reference: Option<(f64, String)>,
}

impl Painter for Bars {
    fn size(&self) -> (u32, u32) {
        (560, 70 + 30 * self.labels.len().max(1) as u32 + 40)
    }
    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let font = |s: u32| ("sans-serif", s).into_font();
        let (left, top, width, row) = (120i32, 50i32, 360f64, 30i32);
        root.draw(&Text::new(
            self.title.clone(),
            (10, 10),
            font(16).color(&BLACK),
        ))
        .map_err(err)?;
        for (i, (l, &v)) in self.labels.iter().zip(&self.values).enumerate() {
            let y = top + i as i32 * row;
            root.draw(&Text::new(short(l, 14), (8, y + 6), font(13).color(&BLACK)))
                .map_err(err)?;
            if v.is_finite() {
                let x1 = left + (width * v.clamp(0.0, 1.0)) as i32;
                root.draw(&Rectangle::new(
                    [(left, y + 3), (x1.max(left + 1), y + row - 3)],
                    RGBColor(80, 110, 200).filled(),
                ))
                .map_err(err)?;
            }
            let text = if v.is_finite() {
                format!("{v:.2}")
            } else {
                "n/a".into()
            };
            root.draw(&Text::new(
                text,
                (left + width as i32 + 8, y + 6),
                font(13).color(&BLACK),
            ))
            .map_err(err)?;
        }
        let bottom = top + row * self.labels.len() as i32;
        root.draw(&PathElement::new(
            vec![(left, top), (left, bottom)],
            BLACK.stroke_width(1),
        ))
        .map_err(err)?;
        if let Some((r, name)) = &self.reference {
            let x = left + (width * r.clamp(0.0, 1.0)) as i32;
            root.draw(&PathElement::new(
                vec![(x, top - 4), (x, bottom + 4)],
                RED.stroke_width(1),
            ))
            .map_err(err)?;
            root.draw(&Text::new(
                name.clone(),
                (left, bottom + 14),
                font(12).color(&RED),
            ))
            .map_err(err)?;
        }
        Ok(())
    }
}

/// Named line series on common axes (ROC curves, training curves).
pub struct Lines {
    /// Title line.
    pub title: String,
    /// X axis name.
    pub x_label: String,
    /// Y axis name.
    pub y_label: String,
    /// X range.
    pub x: (f64, f64),
    /// Y range.
    pub y: (f64, f64),
    /// (name, points) per series; a name starting with `~` is drawn grey and dashed-looking
    /// thin (references such as chance).
    pub series: Vec<(String, Vec<(f64, f64)>)>,
}

impl Painter for Lines {
    fn size(&self) -> (u32, u32) {
        (640, 480)
    }
    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(52)
            .build_cartesian_2d(self.x.0..self.x.1, self.y.0..self.y.1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(err)?;
        let mut colour = 0;
        for (name, pts) in &self.series {
            let (style, label) = if let Some(n) = name.strip_prefix('~') {
                (RGBColor(150, 150, 150).stroke_width(1), n.to_string())
            } else {
                colour += 1;
                (Palette99::pick(colour - 1).stroke_width(2), name.clone())
            };
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), style))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 12))
            .draw()
            .map_err(err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_plot_renders_to_png_and_svg() {
        let classes: Vec<String> = ["angry", "happy", "sad"].map(String::from).to_vec();
        let heat = confusion(
            &[vec![3, 1, 0], vec![0, 2, 2], vec![1, 0, 5]],
            &classes,
            "t",
        );
        let bars = Bars {
            title: "recall".into(),
            labels: classes.clone(),
            values: vec![0.75, f64::NAN, 0.8],
            reference: Some((1.0 / 3.0, "chance".into())),
        };
        let lines = Lines {
            title: "ROC".into(),
            x_label: "false-positive rate".into(),
            y_label: "true-positive rate".into(),
            x: (0.0, 1.0),
            y: (0.0, 1.0),
            series: vec![
                ("~chance".into(), vec![(0.0, 0.0), (1.0, 1.0)]),
                ("angry".into(), vec![(0.0, 0.0), (0.2, 0.7), (1.0, 1.0)]),
            ],
        };
        for f in [render(&heat), render(&bars), render(&lines)] {
            let f = f.unwrap();
            assert_eq!(&f.png[1..4], b"PNG");
            assert!(
                f.svg.starts_with("<svg") && f.svg.contains("</svg>"),
                "{}",
                &f.svg[..80]
            );
        }
        let svg = render(&heat).unwrap().svg;
        assert!(
            svg.contains("\nangry\n") && svg.contains("\n5\n"),
            "labels and counts are text"
        );
    }
}
