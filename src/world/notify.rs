//! How the effects speak without printing: they report here, and the front end that runs
//! them (the CLI, or `serve`) installs the [`Sink`] that shows it. Like the `log` facade:
//! one registration at start-up, then plain function calls.
//!
//! Before a sink is installed, reports go nowhere: only a front end decides what a person sees.

use std::sync::OnceLock;

/// `1 volume`, `2 volumes`: a count with its noun (regular plurals only).
pub fn count(n: usize, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

/// Shows what the effects report.
pub trait Sink: Send + Sync {
    /// Progress or a diagnostic.
    fn info(&self, text: &str);
    fn warn(&self, text: &str);
    /// One failure among others: the work goes on.
    fn error(&self, text: &str);
    /// A counter of `len` steps of `what`, with lines shown beside it.
    fn steps(&self, len: usize, what: &str) -> Box<dyn Steps>;
    /// The one updating line of something being retried: `Some` shows or updates it, `None`
    /// clears it. A sink without such a line shows each text as a line.
    fn status(&self, text: Option<&str>) {
        if let Some(text) = text {
            self.info(text);
        }
    }
}

/// A counted piece of work in progress (a bar on a terminal).
pub trait Steps: Send + Sync {
    fn line(&self, text: &str);
    fn inc(&self);
}

static SINK: OnceLock<Box<dyn Sink>> = OnceLock::new();

/// Installs the sink; the first one stays.
pub fn install(sink: Box<dyn Sink>) {
    let _ = SINK.set(sink);
}

/// The installed sink, unless the command is being interrupted: then the work still winding
/// down (a failed step, a killed child) has nothing left to say; the interrupt speaks.
fn sink() -> Option<&'static dyn Sink> {
    if crate::world::cancel::is_interrupted() {
        return None;
    }
    SINK.get().map(|s| s.as_ref())
}

pub fn info(text: &str) {
    if let Some(sink) = sink() {
        sink.info(text);
    }
}

pub fn warn(text: &str) {
    if let Some(sink) = sink() {
        sink.warn(text);
    }
}

pub fn error(text: &str) {
    if let Some(sink) = sink() {
        sink.error(text);
    }
}

/// Shows (`Some`), updates or clears (`None`) the updating line of a retry.
pub fn status(text: Option<&str>) {
    if let Some(sink) = sink() {
        sink.status(text);
    }
}

/// `len` steps of `what`, reported as they go.
pub struct Progress {
    steps: Option<Box<dyn Steps>>,
}

impl Progress {
    pub fn new(len: usize, what: &str) -> Progress {
        Progress {
            steps: SINK.get().map(|sink| sink.steps(len, what)),
        }
    }

    pub fn line(&self, text: &str) {
        if crate::world::cancel::is_interrupted() {
            return;
        }
        if let Some(steps) = &self.steps {
            steps.line(text);
        }
    }

    pub fn error(&self, text: &str) {
        self.line(&format!("error: {text}"));
    }

    pub fn inc(&self) {
        if let Some(steps) = &self.steps {
            steps.inc();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_agree_with_their_noun() {
        assert_eq!(super::count(0, "volume"), "0 volumes");
        assert_eq!(super::count(1, "volume"), "1 volume");
        assert_eq!(super::count(2, "runner"), "2 runners");
    }
}
