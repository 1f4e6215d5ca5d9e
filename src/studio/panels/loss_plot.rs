//! Loss curves on a log scale: the artist sees the picture settle, and sees a steer (a changed
//! weight) land as a step in the style or content curve.

use crate::studio::run_state::RunStatus;
use crate::studio::theme::LOSS_COLORS;
use crate::worker::LossBreakdown;
use egui_plot::{Legend, Line, LineStyle, Plot, PlotPoints, VLine};

/// Picks one loss term out of a breakdown.
type Term = fn(&LossBreakdown) -> f64;

/// Plotted as log10(value); egui_plot has no log axis, so the tick labels undo the log.
pub(crate) fn show(ui: &mut egui::Ui, status: &RunStatus) {
    if status.history.is_empty() {
        ui.centered_and_justified(|ui| {
            ui.label(
                egui::RichText::new(
                    "Loss curve: total, content, style and smoothness, on a log scale",
                )
                .weak(),
            );
        });
        return;
    }
    let series: [(&str, Term); 4] = [
        ("total", |l| l.total),
        ("content", |l| l.content),
        ("style", |l| l.style),
        ("TV", |l| l.tv),
    ];
    Plot::new("loss")
        .legend(
            Legend::default()
                .position(egui_plot::Corner::RightTop)
                .follow_insertion_order(true),
        )
        .x_axis_label("iteration")
        .y_axis_label("loss (log)")
        .y_axis_formatter(|mark, _range| format_log_tick(mark.value))
        .label_formatter(|hover| match hover {
            egui_plot::HoverPosition::NearDataPoint {
                plot_name,
                position,
                ..
            } => Some(format!(
                "{plot_name}\niteration {:.0}\n{}",
                position.x,
                format_value(10f64.powf(position.y))
            )),
            egui_plot::HoverPosition::Elsewhere { .. } => None,
        })
        .allow_scroll(false)
        .include_x(0.0)
        .include_x(f64::from(status.iterations.max(10)))
        .show(ui, |plot| {
            // Total last, so it is drawn on top of the term it usually tracks.
            for i in [1, 2, 3, 0] {
                let (name, get) = series[i];
                let points: PlotPoints<'_> = status
                    .history
                    .iter()
                    .filter_map(|p| {
                        let v = get(&p.losses);
                        (v.is_finite() && v > 0.0).then(|| [f64::from(p.iteration), v.log10()])
                    })
                    .collect();
                plot.line(
                    Line::new(name, points)
                        .color(LOSS_COLORS[i])
                        .width(if i == 0 { 2.0 } else { 1.5 }),
                );
            }
            for &it in &status.steer_marks {
                plot.add(
                    VLine::new("steered", f64::from(it))
                        .color(egui::Color32::from_gray(120))
                        .style(LineStyle::dashed_dense()),
                );
            }
        });
}

/// Axis ticks: "1e4", "300", "20", "0.5", "1e-3".
fn format_log_tick(log_value: f64) -> String {
    let v = 10f64.powf(log_value);
    if !(0.01..10_000.0).contains(&v) {
        let s = format!("{v:.0e}");
        s.replace("e0", "")
    } else if v >= 1.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// Short numbers across many decades: 3.2e5, 41, 0.05.
pub(crate) fn format_value(v: f64) -> String {
    if !v.is_finite() {
        return "NaN".into();
    }
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(0.01..10_000.0).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::format_value;

    #[test]
    fn values_read_across_decades() {
        assert_eq!(format_value(320_000.0), "3.2e5");
        assert_eq!(format_value(41.0), "41.00");
        assert_eq!(format_value(250.4), "250");
        assert_eq!(format_value(f64::NAN), "NaN");
    }
}
