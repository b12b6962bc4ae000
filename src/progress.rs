//! Terminal progress for `loupe index`: a spinner while the walk counts files, then a bar over the
//! files to read, with the indexer's status line (hidden when stderr is not a terminal).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use loupe_indexer::Progress;
use std::sync::Mutex;

/// Draws an index run's [`Progress`] on stderr.
#[derive(Default)]
pub struct Bars {
    /// The spinner during the walk, then the bar.
    current: Mutex<Option<ProgressBar>>,
}

impl Bars {
    pub fn new() -> Self {
        Self::default()
    }

    fn with(&self, f: impl FnOnce(&ProgressBar)) {
        if let Ok(g) = self.current.lock()
            && let Some(bar) = g.as_ref()
        {
            f(bar);
        }
    }

    /// Replaces what is drawn (clearing the old one).
    fn show(&self, next: Option<ProgressBar>) {
        if let Ok(mut g) = self.current.lock() {
            if let Some(old) = g.take() {
                old.finish_and_clear();
            }
            *g = next;
        }
    }

    /// Clears whatever is drawn (also after a run that stopped with an error).
    pub fn clear(&self) {
        self.show(None);
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        self.clear();
    }
}

fn bar(len: Option<u64>) -> ProgressBar {
    let bar = match len {
        Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template("{bar:40.cyan/blue} {pos}/{len} files  {per_sec}  eta {eta}  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template("{spinner} {pos} files {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

impl Progress for Bars {
    fn walk_started(&self) {
        let spinner = bar(None);
        spinner.set_message("scanning");
        self.show(Some(spinner));
    }

    fn file_found(&self) {
        self.with(|b| b.inc(1));
    }

    fn walk_done(&self, total: u64) {
        self.show(Some(bar(Some(total))));
    }

    fn status(&self, text: &str) {
        self.with(|b| b.set_message(text.to_string()));
    }

    fn files_done(&self, n: u64) {
        self.with(|b| b.inc(n));
    }

    fn finished(&self) {
        self.clear();
    }
}
