//! Progress on stderr for long operations (pull, push).

use super::Ui;

/// A progress bar on stderr, drawn only on a terminal and only once an operation has
/// taken more than a second.
pub struct Bar {
    bar: Option<indicatif::ProgressBar>,
    start: std::time::Instant,
    enabled: bool,
    label: &'static str,
}

impl Bar {
    pub fn new(ui: &Ui, label: &'static str) -> Bar {
        use std::io::IsTerminal;
        Bar {
            bar: None,
            start: std::time::Instant::now(),
            enabled: !ui.quiet && std::io::stderr().is_terminal(),
            label,
        }
    }
    pub fn tick(&mut self, done: u64, total: u64) {
        if !self.enabled || self.start.elapsed() < std::time::Duration::from_secs(1) {
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let b = indicatif::ProgressBar::new(total);
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {per_sec}")
            {
                b.set_style(style);
            }
            b.set_message(self.label);
            b
        });
        bar.set_length(total.max(done));
        bar.set_position(done);
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
