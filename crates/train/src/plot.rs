//! The confusion matrix as a PNG (for TensorBoard's image tab and the run folder), drawn with
//! plotters and the DejaVu font compiled in, so no system fonts are needed.

use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

/// Registers DejaVu Sans as plotters' "sans-serif" once per process.
fn fonts() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
    });
}

/// A row-normalized confusion matrix (rows: true class, columns: predicted), each cell
/// showing its count; returns the PNG file's bytes and its size.
pub fn confusion_png(
    matrix: &[Vec<u64>],
    classes: &[String],
    title: &str,
) -> Result<(Vec<u8>, u32, u32), String> {
    fonts();
    let n = classes.len().max(1);
    let cell = 56u32;
    let (left, top) = (110u32, 60u32);
    let (w, h) = (left + cell * n as u32 + 20, top + cell * n as u32 + 80);
    let mut rgb = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let font = |s: u32| ("sans-serif", s).into_font();
        root.draw(&Text::new(
            title.to_string(),
            (10, 10),
            font(16).color(&BLACK),
        ))
        .map_err(|e| e.to_string())?;
        for (t, row) in matrix.iter().enumerate() {
            let total: u64 = row.iter().sum::<u64>().max(1);
            for (p, &count) in row.iter().enumerate() {
                let frac = count as f64 / total as f64;
                let shade = (255.0 * (1.0 - 0.85 * frac)) as u8;
                let (x0, y0) = (
                    (left + p as u32 * cell) as i32,
                    (top + t as u32 * cell) as i32,
                );
                root.draw(&Rectangle::new(
                    [(x0, y0), (x0 + cell as i32, y0 + cell as i32)],
                    RGBColor(shade, shade, 255).filled(),
                ))
                .map_err(|e| e.to_string())?;
                let color = if frac > 0.5 { WHITE } else { BLACK };
                root.draw(&Text::new(
                    count.to_string(),
                    (x0 + 8, y0 + cell as i32 / 2 - 8),
                    font(14).color(&color),
                ))
                .map_err(|e| e.to_string())?;
            }
            root.draw(&Text::new(
                short(&classes[t]),
                (8, (top + t as u32 * cell + cell / 2 - 8) as i32),
                font(13).color(&BLACK),
            ))
            .map_err(|e| e.to_string())?;
        }
        for (p, c) in classes.iter().enumerate() {
            root.draw(&Text::new(
                short(c),
                (
                    (left + p as u32 * cell + 2) as i32,
                    (top + cell * n as u32 + 8) as i32,
                ),
                font(11).color(&BLACK),
            ))
            .map_err(|e| e.to_string())?;
        }
        root.draw(&Text::new(
            "rows: true class, columns: predicted".to_string(),
            (10, (h - 28) as i32),
            font(12).color(&BLACK),
        ))
        .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    let mut png_bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut png_bytes, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(|e| e.to_string())?;
        writer.write_image_data(&rgb).map_err(|e| e.to_string())?;
    }
    Ok((png_bytes, w, h))
}

fn short(s: &str) -> String {
    s.chars().take(9).collect()
}
