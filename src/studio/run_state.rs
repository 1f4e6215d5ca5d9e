//! Where the current run stands, as plain data built only from worker events.

use crate::worker::{Event, FinishReason, LossBreakdown};

/// The run's life cycle as the UI sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunPhase {
    /// Nothing has run yet.
    #[default]
    Idle,
    /// Start sent, `Started` not yet back: events of a previous run may still arrive.
    Starting,
    Running,
    Paused,
    Finished(FinishReason),
}

impl RunPhase {
    /// A run exists in the worker (or is about to).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            RunPhase::Starting | RunPhase::Running | RunPhase::Paused
        )
    }
}

/// One point of the loss curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossPoint {
    pub iteration: u32,
    pub losses: LossBreakdown,
}

/// Progress, timing and loss history of the current (or last) run.
#[derive(Debug, Clone, Default)]
pub struct RunStatus {
    pub phase: RunPhase,
    pub iteration: u32,
    pub iterations: u32,
    pub width: u32,
    pub height: u32,
    pub evaluations: u32,
    pub seconds_per_iteration: f64,
    /// The worker's projection of the time left, later (dearer) stages included.
    pub seconds_left: f64,
    /// Coarse-to-fine stage, 1-based, of `stages` (0 of 0 before the first progress report).
    pub stage: u32,
    pub stages: u32,
    pub history: Vec<LossPoint>,
    /// Iterations at which the artist changed loss weights mid-run (drawn on the loss plot).
    pub steer_marks: Vec<u32>,
}

impl RunStatus {
    /// A run exists in the worker (or is about to).
    pub fn is_active(&self) -> bool {
        self.phase.is_active()
    }

    /// The artist steered the run (changed loss weights) at the current iteration: a mark on
    /// the loss plot, once per iteration.
    pub(crate) fn mark_steer(&mut self) {
        let it = self.iteration;
        if self.steer_marks.last() != Some(&it) {
            self.steer_marks.push(it);
        }
    }

    /// Called when the UI sends `Start`.
    pub(crate) fn begin(&mut self, iterations: u32) {
        *self = RunStatus {
            phase: RunPhase::Starting,
            iterations,
            ..RunStatus::default()
        };
    }

    /// Applies a run event; other events are ignored.
    pub(crate) fn on_event(&mut self, event: &Event) {
        match *event {
            Event::Started {
                width,
                height,
                iterations,
            } => {
                *self = RunStatus {
                    phase: RunPhase::Running,
                    width,
                    height,
                    iterations,
                    ..RunStatus::default()
                };
            }
            Event::Progress(p) => {
                if !matches!(self.phase, RunPhase::Running | RunPhase::Paused) {
                    return; // a previous run's straggler
                }
                self.iteration = p.iteration;
                self.iterations = p.iterations;
                self.evaluations = p.evaluations;
                self.seconds_per_iteration = p.seconds_per_iteration;
                self.seconds_left = p.seconds_left;
                self.stage = p.stage;
                self.stages = p.stages;
                if self
                    .history
                    .last()
                    .is_none_or(|last| last.iteration < p.iteration)
                {
                    self.history.push(LossPoint {
                        iteration: p.iteration,
                        losses: p.losses,
                    });
                }
            }
            Event::Paused if self.phase == RunPhase::Running => self.phase = RunPhase::Paused,
            Event::Resumed if self.phase == RunPhase::Paused => self.phase = RunPhase::Running,
            Event::Finished { iteration, reason } => match self.phase {
                // A previous run stopping for the new one; only a failure belongs to the new run.
                RunPhase::Starting if reason != FinishReason::Failed => {}
                RunPhase::Starting | RunPhase::Running | RunPhase::Paused => {
                    self.phase = RunPhase::Finished(reason);
                    if iteration > 0 {
                        self.iteration = iteration;
                    }
                }
                RunPhase::Idle | RunPhase::Finished(_) => {}
            },
            _ => {}
        }
    }

    pub fn latest_losses(&self) -> Option<LossBreakdown> {
        self.history.last().map(|p| p.losses)
    }

    /// 0..1 for the progress bar.
    pub fn fraction(&self) -> f32 {
        if self.iterations == 0 {
            0.0
        } else {
            (self.iteration as f32 / self.iterations as f32).clamp(0.0, 1.0)
        }
    }

    /// Seconds left at the current pace, once there is a pace (none while paused).
    pub fn eta_seconds(&self) -> Option<f64> {
        let moving = matches!(self.phase, RunPhase::Starting | RunPhase::Running);
        (moving && self.seconds_per_iteration > 0.0 && self.iteration > 0)
            .then_some(self.seconds_left)
    }

    /// The state part of the window title.
    pub fn title_state(&self) -> String {
        let count = format!("{}/{}", self.iteration, self.iterations);
        match self.phase {
            RunPhase::Idle => "ready".into(),
            RunPhase::Starting => "starting…".into(),
            RunPhase::Running => format!("running {count}"),
            RunPhase::Paused => format!("paused {count}"),
            RunPhase::Finished(FinishReason::Completed) => format!("done {count}"),
            RunPhase::Finished(FinishReason::Stopped) => format!("stopped {count}"),
            RunPhase::Finished(FinishReason::Failed) => "failed".into(),
        }
    }
}

/// "1 h 02 min", "3 min 05 s", "12 s".
pub fn format_duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        format!("{s} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::Progress;

    fn progress(iteration: u32) -> Event {
        Event::Progress(Progress {
            iteration,
            iterations: 10,
            evaluations: iteration,
            losses: LossBreakdown::default(),
            seconds_per_iteration: 0.5,
            seconds_left: f64::from(10 - iteration) * 0.5,
            stage: 1,
            stages: 1,
        })
    }

    #[test]
    fn stale_events_of_a_previous_run_are_ignored_while_starting() {
        let mut s = RunStatus::default();
        s.begin(10);
        s.on_event(&progress(7));
        s.on_event(&Event::Finished {
            iteration: 7,
            reason: FinishReason::Stopped,
        });
        assert_eq!(s.phase, RunPhase::Starting);
        assert!(s.history.is_empty());
        s.on_event(&Event::Started {
            width: 4,
            height: 4,
            iterations: 10,
        });
        s.on_event(&progress(1));
        assert_eq!(s.phase, RunPhase::Running);
        assert_eq!(s.iteration, 1);
        assert_eq!(s.eta_seconds(), Some(4.5));
        assert_eq!((s.stage, s.stages), (1, 1));
        s.on_event(&Event::Progress(Progress {
            stage: 2,
            stages: 3,
            ..match progress(2) {
                Event::Progress(p) => p,
                _ => unreachable!(),
            }
        }));
        assert_eq!((s.stage, s.stages), (2, 3), "the stage indicator follows");
    }

    #[test]
    fn failure_before_started_ends_the_new_run() {
        let mut s = RunStatus::default();
        s.begin(10);
        s.on_event(&Event::Finished {
            iteration: 0,
            reason: FinishReason::Failed,
        });
        assert_eq!(s.phase, RunPhase::Finished(FinishReason::Failed));
        assert!(!s.is_active());
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(12.4), "12 s");
        assert_eq!(format_duration(185.0), "3 min 05 s");
        assert_eq!(format_duration(3725.0), "1 h 02 min");
    }
}
