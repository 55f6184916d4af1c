//! A one-line progress bar on stderr while many sockets are being asked.
//!
//! Only for a person: it is drawn when stderr is a terminal, and only once the work has gone
//! on for a while (a second, or a quarter of one with ten targets or more), so quick runs and
//! scripts never see it. It is erased before any other output and redrawn after it.

use std::io::Write;
use std::time::{Duration, Instant};

const WIDTH: usize = 30;

pub struct Progress {
    total: usize,
    done: usize,
    failed: usize,
    start: Instant,
    enabled: bool,
    /// A bar is on the screen.
    shown: bool,
}

impl Progress {
    pub fn new(total: usize) -> Self {
        Progress {
            total,
            done: 0,
            failed: 0,
            start: Instant::now(),
            enabled: total > 1 && crate::config::Terminal::get().stderr,
            shown: false,
        }
    }

    /// Redraws the bar if it is due.
    pub fn tick(&mut self) {
        let elapsed = self.start.elapsed();
        let due = elapsed >= Duration::from_secs(1)
            || (self.total >= 10 && elapsed >= Duration::from_millis(250));
        if self.enabled && due && self.done < self.total {
            let line = bar(self.done, self.failed, self.total, elapsed);
            let _ = std::io::stderr().write_all(format!("\r{line}\x1b[K").as_bytes());
            self.shown = true;
        }
    }

    /// One more target is done.
    pub fn finished(&mut self, failed: bool) {
        self.done += 1;
        self.failed += usize::from(failed);
        self.tick();
    }

    /// Erases the bar, before other output or at the end.
    pub fn clear(&mut self) {
        if self.shown {
            let _ = std::io::stderr().write_all(b"\r\x1b[K");
            self.shown = false;
        }
    }
}

/// `[#########.....................] 12/40 sockets, 1 failed, 3.2 s`
fn bar(done: usize, failed: usize, total: usize, elapsed: Duration) -> String {
    let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
    let failed = match failed {
        0 => String::new(),
        n => format!(", {n} failed"),
    };
    format!(
        "[{}{}] {done}/{total} sockets{failed}, {:.1} s",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled),
        elapsed.as_secs_f64()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_with_the_work() {
        let line = bar(12, 1, 40, Duration::from_millis(3210));
        assert_eq!(
            line,
            format!(
                "[{}{}] 12/40 sockets, 1 failed, 3.2 s",
                "#".repeat(9),
                ".".repeat(21)
            )
        );
        assert!(bar(0, 0, 3, Duration::ZERO).starts_with(&format!("[{}]", ".".repeat(30))));
        assert!(bar(3, 0, 3, Duration::ZERO).starts_with(&format!("[{}]", "#".repeat(30))));
    }
}
