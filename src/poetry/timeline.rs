//! A timeline of a real run: Part 1's diagrams of the synchronous and
//! asynchronous models, drawn from what a client actually did.
//!
//! A client notes when each task connected, each time a chunk of poetry
//! arrived, and when the task finished. [`Timeline::to_svg`] draws one lane
//! per task on a shared time axis: a pale bar while the task's connection is
//! open and waiting, a dark mark for every chunk received.

use std::fmt::Write as _;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

/// What happened to each task, measured from one common start.
#[derive(Debug)]
pub struct Timeline {
    start: Instant,
    lanes: Vec<Lane>,
}

#[derive(Debug, Default)]
struct Lane {
    label: String,
    connected: Option<Duration>,
    ended: Option<Duration>,
    arrivals: Vec<Duration>,
    failed: bool,
}

// Drawing sizes, in SVG user units.
const WIDTH: f64 = 900.0;
const LABEL_WIDTH: f64 = 190.0;
const RIGHT_MARGIN: f64 = 30.0;
const TOP: f64 = 50.0;
const LANE_HEIGHT: f64 = 34.0;
const BAR_HEIGHT: f64 = 20.0;

impl Timeline {
    /// Starts the clock now, with one lane per label (task 1 first).
    pub fn new<I, S>(labels: I) -> Timeline
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let lanes = labels
            .into_iter()
            .map(|label| Lane {
                label: label.into(),
                ..Lane::default()
            })
            .collect();
        Timeline {
            start: Instant::now(),
            lanes,
        }
    }

    fn lane(&mut self, task: usize) -> Option<(&mut Lane, Duration)> {
        let now = self.start.elapsed();
        self.lanes.get_mut(task).map(|lane| (lane, now))
    }

    /// Task number `task` (0-based) has its connection.
    pub fn connected(&mut self, task: usize) {
        if let Some((lane, now)) = self.lane(task) {
            lane.connected = Some(now);
        }
    }

    /// Task `task` received a chunk of poetry.
    pub fn received(&mut self, task: usize) {
        if let Some((lane, now)) = self.lane(task) {
            lane.arrivals.push(now);
        }
    }

    /// Task `task` has its whole poem.
    pub fn finished(&mut self, task: usize) {
        if let Some((lane, now)) = self.lane(task) {
            lane.ended = Some(now);
        }
    }

    /// Task `task` gave up with an error.
    pub fn failed(&mut self, task: usize) {
        if let Some((lane, now)) = self.lane(task) {
            lane.ended = Some(now);
            lane.failed = true;
        }
    }

    /// Draws the timeline as a standalone SVG document. The time axis runs
    /// to the last event, or to `at_least` if that is later, so that two
    /// runs can be drawn on one scale.
    pub fn to_svg(&self, title: &str, at_least: Option<Duration>) -> String {
        let end = self
            .last_moment()
            .max(at_least.unwrap_or_default())
            .max(Duration::from_millis(1));
        let plot = WIDTH - LABEL_WIDTH - RIGHT_MARGIN;
        let x = |t: Duration| LABEL_WIDTH + plot * t.as_secs_f64() / end.as_secs_f64();
        let lanes_bottom = TOP + LANE_HEIGHT * self.lanes.len() as f64;
        let height = lanes_bottom + 75.0;

        let mut svg = String::new();
        // Writing to a String cannot fail, hence the ignored results.
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="13">"#
        );
        let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="28" font-size="15" font-weight="bold">{}</text>"#,
            LABEL_WIDTH,
            escape(title)
        );

        for (i, lane) in self.lanes.iter().enumerate() {
            let top = TOP + LANE_HEIGHT * i as f64;
            let bar_top = top + (LANE_HEIGHT - BAR_HEIGHT) / 2.0;
            let _ = writeln!(
                svg,
                r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
                LABEL_WIDTH - 10.0,
                top + LANE_HEIGHT / 2.0 + 4.0,
                escape(&lane.label)
            );
            if let Some(connected) = lane.connected {
                let ended = lane.ended.unwrap_or(end);
                let colour = if lane.failed { "#f4c7c3" } else { "#dbe7f3" };
                let _ = writeln!(
                    svg,
                    r#"<rect x="{:.2}" y="{bar_top:.2}" width="{:.2}" height="{BAR_HEIGHT}" fill="{colour}"/>"#,
                    x(connected),
                    (x(ended) - x(connected)).max(1.0),
                );
            }
            for &arrival in &lane.arrivals {
                let _ = writeln!(
                    svg,
                    r##"<rect x="{:.2}" y="{bar_top:.2}" width="1.5" height="{BAR_HEIGHT}" fill="#1f4e79"/>"##,
                    x(arrival)
                );
            }
        }

        // The time axis, with a tick at every round number of seconds.
        let _ = writeln!(
            svg,
            r#"<line x1="{LABEL_WIDTH}" y1="{lanes_bottom}" x2="{}" y2="{lanes_bottom}" stroke="black"/>"#,
            WIDTH - RIGHT_MARGIN
        );
        let step = tick_step(end);
        let mut tick = Duration::ZERO;
        while tick <= end {
            let tx = x(tick);
            let _ = writeln!(
                svg,
                r#"<line x1="{tx:.2}" y1="{lanes_bottom}" x2="{tx:.2}" y2="{}" stroke="black"/><text x="{tx:.2}" y="{}" text-anchor="middle">{}</text>"#,
                lanes_bottom + 5.0,
                lanes_bottom + 19.0,
                seconds_label(tick, step)
            );
            tick += step;
        }
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end">seconds</text>"#,
            WIDTH - RIGHT_MARGIN,
            lanes_bottom + 36.0
        );

        // The legend.
        let legend = lanes_bottom + 58.0;
        let _ = writeln!(
            svg,
            r##"<rect x="{LABEL_WIDTH}" y="{}" width="14" height="12" fill="#dbe7f3"/><text x="{}" y="{legend}">connected, waiting for poetry</text>"##,
            legend - 10.0,
            LABEL_WIDTH + 20.0
        );
        let _ = writeln!(
            svg,
            r##"<rect x="{}" y="{}" width="3" height="12" fill="#1f4e79"/><text x="{}" y="{legend}">a chunk of poetry arrived</text>"##,
            LABEL_WIDTH + 250.0,
            legend - 10.0,
            LABEL_WIDTH + 260.0
        );
        let _ = writeln!(svg, "</svg>");
        svg
    }

    /// Writes [`Timeline::to_svg`] to `path`.
    pub fn write_svg(
        &self,
        path: &Path,
        title: &str,
        at_least: Option<Duration>,
    ) -> io::Result<()> {
        std::fs::write(path, self.to_svg(title, at_least))
    }

    fn last_moment(&self) -> Duration {
        self.lanes
            .iter()
            .flat_map(|lane| lane.ended.iter().chain(lane.arrivals.last()))
            .copied()
            .max()
            .unwrap_or_else(|| self.start.elapsed())
    }
}

/// A round tick spacing that puts between 4 and 10 ticks on the axis.
fn tick_step(end: Duration) -> Duration {
    let end = end.as_secs_f64();
    let mut step = 0.001;
    for factor in [2.0, 2.5, 2.0].iter().cycle() {
        if end / step <= 10.0 {
            break;
        }
        step *= factor;
    }
    Duration::from_secs_f64(step)
}

fn seconds_label(t: Duration, step: Duration) -> String {
    if step >= Duration::from_secs(1) {
        format!("{}", t.as_secs_f64().round())
    } else {
        format!("{:.3}", t.as_secs_f64())
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_lane_per_task_and_one_mark_per_chunk() {
        let mut timeline = Timeline::new(["Task 1", "Task 2 <&>"]);
        timeline.connected(0);
        timeline.received(0);
        timeline.received(0);
        timeline.finished(0);
        timeline.connected(1);
        timeline.received(1);
        timeline.failed(1);
        // Out-of-range tasks are ignored rather than panicking.
        timeline.received(7);
        let svg = timeline.to_svg("a run", None);
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches(r##"fill="#1f4e79"/>"##).count(), 3 + 1);
        assert!(svg.contains("Task 2 &lt;&amp;&gt;"));
        assert!(svg.contains("#f4c7c3"), "a failed task is drawn in red");
    }

    #[test]
    fn the_axis_can_be_stretched_to_compare_runs() {
        let mut timeline = Timeline::new(["Task 1"]);
        timeline.received(0);
        let svg = timeline.to_svg("a short run", Some(Duration::from_secs(20)));
        assert!(svg.contains(">20</text>"), "the axis reaches 20 s");
    }

    #[test]
    fn ticks_are_round_and_few() {
        for (end, step) in [
            (0.05, 0.005),
            (3.3, 0.5),
            (10.1, 2.0),
            (23.0, 5.0),
            (61.0, 10.0),
        ] {
            let got = tick_step(Duration::from_secs_f64(end)).as_secs_f64();
            assert!(
                (got - step).abs() < 1e-9,
                "end {end}: step {got}, wanted {step}"
            );
        }
    }
}
