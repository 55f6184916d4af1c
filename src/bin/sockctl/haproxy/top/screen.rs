//! The full-screen view (termion puts the terminal in raw mode, on the alternate screen, and
//! reads the keys): the table, a line for each socket that could not be read, and a line
//! of keys or of the question being asked. The terminal is put back as it was on every way
//! out: `q`, Ctrl-C, the end of input, SIGTERM, SIGHUP, or an error.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use termion::event::Key;
use termion::input::TermRead;
use termion::raw::IntoRawMode;
use termion::screen::IntoAlternateScreen;
use termion::{clear, color, cursor, style};

use sockctl::haproxy::operate::{Action, ServerName};
use sockctl::haproxy::stat::Kind;

use super::Sampler;
use super::model::{self, Line, Model, Sort};
use crate::exit::Code;
use crate::haproxy::operate;
use crate::sanitize;

/// How often a signal is looked for while nothing else happens.
const TICK: Duration = Duration::from_millis(100);

/// What the keys do now.
enum Mode {
    Browse,
    /// Typing the filter.
    Filter,
    /// `y` does the action to the line.
    Confirm(Action, Line),
    /// Typing the weight for the line.
    Weight(String, Line),
}

struct View<'a> {
    sampler: &'a Sampler<'a>,
    model: Model,
    sort: Sort,
    filter: String,
    /// The selected line by name, so that it stays selected when lines move; and where it
    /// was, for when it went away.
    selected: Option<(usize, String, String)>,
    index: usize,
    /// The first line on the screen, when they do not all fit.
    top: usize,
    mode: Mode,
    /// The outcome of the last action, or a hint.
    message: String,
    /// The last refresh's verdict.
    code: Code,
}

pub fn run(sampler: &Sampler<'_>) -> anyhow::Result<Code> {
    let mut screen = std::io::stdout().into_raw_mode()?.into_alternate_screen()?;
    write!(screen, "{}", cursor::Hide)?;
    // Keys are read on a thread of their own, so that the refresh keeps its time.
    let (keys, pressed) = mpsc::channel();
    std::thread::spawn(move || {
        for key in std::io::stdin().keys() {
            match key {
                Ok(key) if keys.send(key).is_ok() => {}
                // A signal interrupted the read: the main loop sees it.
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                _ => break,
            }
        }
    });
    let mut view = View {
        sampler,
        model: Model::default(),
        sort: Sort::Config,
        filter: sampler.args.filter.clone(),
        selected: None,
        index: 0,
        top: 0,
        mode: Mode::Browse,
        message: String::new(),
        code: Code::Ok,
    };
    let mut next = Instant::now();
    let mut refreshes = 0;
    let result = loop {
        if sockctl::interrupt::requested() {
            break Ok(view.code);
        }
        if Instant::now() >= next {
            if sampler.args.count.is_some_and(|n| refreshes >= n) {
                break Ok(view.code);
            }
            view.code = sampler.refresh(&mut view.model);
            refreshes += 1;
            next = Instant::now() + sampler.args.interval.0;
        }
        let (width, height) = termion::terminal_size().unwrap_or((80, 24));
        let frame = view.draw(usize::from(width), usize::from(height));
        if let Err(e) = screen
            .write_all(frame.as_bytes())
            .and_then(|()| screen.flush())
        {
            break Err(e.into());
        }
        let wait = next.saturating_duration_since(Instant::now()).min(TICK);
        match pressed.recv_timeout(wait) {
            Ok(key) => match view.key(key) {
                Next::Stay => {}
                Next::Refresh => next = Instant::now(),
                Next::Quit => break Ok(view.code),
            },
            Err(RecvTimeoutError::Timeout) => {}
            // The terminal went away.
            Err(RecvTimeoutError::Disconnected) => break Ok(view.code),
        }
    };
    // The cursor shown again; then the drops leave the alternate screen and restore the
    // terminal's modes.
    write!(screen, "{}{}", style::Reset, cursor::Show)?;
    drop(screen);
    // The way back to the main screen is in stdout's buffer, which a death by the signal
    // (see `main`) would not write.
    std::io::stdout().flush()?;
    result
}

/// What follows a key.
enum Next {
    Stay,
    Refresh,
    Quit,
}

impl View<'_> {
    fn shown(&self) -> Vec<&Line> {
        model::shown(&self.model.lines, &self.filter, self.sort)
    }

    /// The index of the selected line among `shown`, after lines came, went or moved.
    fn place(&mut self, count: usize) -> usize {
        let key = self.selected.clone();
        let found = key.and_then(|(socket, proxy, name)| {
            self.shown()
                .iter()
                .position(|l| l.socket == socket && l.proxy == proxy && l.name == name)
        });
        self.index = found.unwrap_or(self.index).min(count.saturating_sub(1));
        self.index
    }

    fn select(&mut self, index: usize) {
        let shown = self.shown();
        if shown.is_empty() {
            return;
        }
        let index = index.min(shown.len() - 1);
        let line = shown[index];
        self.selected = Some((line.socket, line.proxy.clone(), line.name.clone()));
        self.index = index;
    }

    fn selected_line(&self) -> Option<Line> {
        self.shown().get(self.index).map(|l| (*l).clone())
    }

    fn key(&mut self, key: Key) -> Next {
        match std::mem::replace(&mut self.mode, Mode::Browse) {
            Mode::Browse => self.browse(key),
            Mode::Filter => {
                match key {
                    Key::Char('\n') | Key::Esc => {}
                    Key::Backspace => {
                        self.filter.pop();
                        self.mode = Mode::Filter;
                    }
                    Key::Char(c) if !c.is_control() => {
                        self.filter.push(c);
                        self.mode = Mode::Filter;
                    }
                    _ => self.mode = Mode::Filter,
                }
                Next::Stay
            }
            Mode::Confirm(action, line) => {
                if matches!(key, Key::Char('y') | Key::Char('Y')) {
                    self.act(action, &line);
                    return Next::Refresh;
                }
                self.message = "not done".into();
                Next::Stay
            }
            Mode::Weight(mut typed, line) => match key {
                Key::Char('\n') => match typed.parse::<u32>() {
                    Ok(weight) if weight <= 256 => {
                        self.mode = Mode::Confirm(Action::Weight(weight), line);
                        Next::Stay
                    }
                    _ => {
                        self.message = format!("not a weight (0 to 256): {typed}");
                        Next::Stay
                    }
                },
                Key::Esc => Next::Stay,
                Key::Backspace => {
                    typed.pop();
                    self.mode = Mode::Weight(typed, line);
                    Next::Stay
                }
                Key::Char(c) if c.is_ascii_digit() && typed.len() < 3 => {
                    typed.push(c);
                    self.mode = Mode::Weight(typed, line);
                    Next::Stay
                }
                _ => {
                    self.mode = Mode::Weight(typed, line);
                    Next::Stay
                }
            },
        }
    }

    fn browse(&mut self, key: Key) -> Next {
        // A message stays until the next key.
        self.message.clear();
        let page = 10;
        match key {
            Key::Char('q') | Key::Ctrl('c') | Key::Ctrl('d') => return Next::Quit,
            Key::Down | Key::Char('j') => self.select(self.index + 1),
            Key::Up | Key::Char('k') => self.select(self.index.saturating_sub(1)),
            Key::PageDown => self.select(self.index + page),
            Key::PageUp => self.select(self.index.saturating_sub(page)),
            Key::Home | Key::Char('g') => self.select(0),
            Key::End | Key::Char('G') => self.select(usize::MAX),
            Key::Char('s') => self.sort = self.sort.next(),
            Key::Char('/') => {
                self.filter.clear();
                self.mode = Mode::Filter;
            }
            Key::Char(c @ ('d' | 'r' | 'm' | 'w')) => {
                let Some(line) = self.selected_line().filter(|l| l.kind == Kind::Server) else {
                    self.message = "select a server first".into();
                    return Next::Stay;
                };
                self.mode = match c {
                    'd' => Mode::Confirm(Action::Drain, line),
                    'r' => Mode::Confirm(Action::Ready, line),
                    'm' => Mode::Confirm(Action::Maint, line),
                    _ => Mode::Weight(String::new(), line),
                };
            }
            Key::Char(' ') => return Next::Refresh,
            _ => {}
        }
        Next::Stay
    }

    /// Does `action` to the server of `line` as `sockctl haproxy ACTION BACKEND/NAME` would.
    fn act(&mut self, action: Action, line: &Line) {
        let address = &self.sampler.sockets[line.socket];
        let server = ServerName {
            backend: Some(line.proxy.clone()),
            server: line.name.clone(),
        };
        let args = self.sampler.args;
        let (code, said) =
            operate::apply(address, &args.exchange, args.route.worker, action, &server);
        let said = said.lines().last().unwrap_or_default().to_string();
        self.message = match code {
            Code::Ok => said,
            code => format!("failed (exit {}): {said}", code as i32),
        };
    }

    /// The whole screen, `width` by `height`, as one write: each row from its start, the
    /// rest of it cleared, so that nothing flickers.
    fn draw(&mut self, width: usize, height: usize) -> String {
        let sockets = self.sampler.sockets.len();
        let mut rows: Vec<String> = Vec::with_capacity(height);
        let mut heading = format!(
            "sockctl haproxy top: {} every {}, sorted by {}",
            match sockets {
                1 => self.sampler.sockets[0].to_string(),
                n => format!("{n} sockets"),
            },
            sockctl::units::format_duration(self.sampler.args.interval.0),
            self.sort.name()
        );
        if !self.filter.is_empty() || matches!(self.mode, Mode::Filter) {
            heading.push_str(&format!(", filter: {}", self.filter));
        }
        rows.push(styled(style::Bold, &fit(&sanitize::cell(&heading), width)));

        let header = self.sampler.header();
        let cells: Vec<Vec<String>> = self
            .shown()
            .iter()
            .map(|line| {
                self.sampler
                    .cells(line)
                    .iter()
                    .map(|c| sanitize::cell(c).into_owned())
                    .collect()
            })
            .collect();
        let widths: Vec<usize> = (0..header.len())
            .map(|i| {
                cells
                    .iter()
                    .map(|r| r[i].chars().count())
                    .chain([header[i].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let status_column = header.iter().position(|h| *h == "STATUS");
        let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
        rows.push(styled(style::Bold, &fit(&join(&header, &widths), width)));

        let failures: Vec<String> = self
            .model
            .failures
            .iter()
            .map(|(_, why)| {
                format!(
                    "{}{}{}",
                    color::Fg(color::Red),
                    fit(&sanitize::cell(why), width),
                    style::Reset
                )
            })
            .collect();
        // Title, header, failures and the last line: the rest is for the table.
        let room = height.saturating_sub(3 + failures.len()).max(1);
        let count = cells.len();
        let index = self.place(count);
        if index < self.top {
            self.top = index;
        } else if index >= self.top + room {
            self.top = index + 1 - room;
        }
        self.top = self.top.min(count.saturating_sub(room));
        for (i, row) in cells.iter().enumerate().skip(self.top).take(room) {
            let text = fit(&join(row, &widths), width);
            if i == index {
                rows.push(styled(style::Invert, &text));
            } else {
                rows.push(colour_status(&text, row, &widths, status_column));
            }
        }
        while rows.len() < height.saturating_sub(1 + failures.len()) {
            rows.push(String::new());
        }
        rows.extend(failures);

        let prompt = match &self.mode {
            Mode::Browse if !self.message.is_empty() => self.message.clone(),
            Mode::Browse => "d drain  r ready  m maint  w weight  / filter  s sort  q quit".into(),
            Mode::Filter => format!("filter (Enter to keep, Esc to clear): {}", self.filter),
            Mode::Confirm(action, line) => format!(
                "{} {} on {}? y to confirm, any other key not to",
                match action {
                    Action::Weight(w) => format!("weight {w} for"),
                    action => action.name().to_string(),
                },
                line.path(),
                self.sampler.sockets[line.socket]
            ),
            Mode::Weight(typed, line) => format!("weight for {} (0 to 256): {typed}", line.path()),
        };
        rows.push(styled(style::Invert, &fit(&sanitize::cell(&prompt), width)));

        let mut frame = String::new();
        for (y, row) in rows.iter().take(height).enumerate() {
            let _ = write!(
                frame,
                "{}{row}{}",
                cursor::Goto(1, y as u16 + 1),
                clear::UntilNewline
            );
        }
        frame
    }
}

/// The cells padded to their column's width, two spaces apart; the last one not padded.
fn join(cells: &[String], widths: &[usize]) -> String {
    let mut line = String::new();
    let last = cells.len().saturating_sub(1);
    for (i, cell) in cells.iter().enumerate() {
        if i == last {
            line.push_str(cell);
        } else {
            let _ = write!(line, "{cell:<0$}  ", widths[i]);
        }
    }
    line
}

/// At most `width` characters.
fn fit(text: &str, width: usize) -> String {
    text.chars().take(width).collect()
}

fn styled(style: impl std::fmt::Display, text: &str) -> String {
    format!("{style}{text}{}", style::Reset)
}

/// `text` (a joined row cut to the screen) with its status cell in the status's colour.
fn colour_status(text: &str, row: &[String], widths: &[usize], column: Option<usize>) -> String {
    let Some(column) = column else {
        return text.to_string();
    };
    let start: usize = widths[..column].iter().map(|w| w + 2).sum();
    let status = &row[column];
    let colour = if status.starts_with("UP") || status == "OPEN" {
        color::Fg(color::Green).to_string()
    } else if status.starts_with("DOWN") {
        color::Fg(color::Red).to_string()
    } else if ["MAINT", "DRAIN", "NOLB"]
        .iter()
        .any(|s| status.starts_with(s))
    {
        color::Fg(color::Yellow).to_string()
    } else {
        return text.to_string();
    };
    let chars: Vec<char> = text.chars().collect();
    if start >= chars.len() {
        return text.to_string();
    }
    let end = (start + status.chars().count()).min(chars.len());
    let part = |range: std::ops::Range<usize>| chars[range].iter().collect::<String>();
    format!(
        "{}{colour}{}{}{}",
        part(0..start),
        part(start..end),
        style::Reset,
        part(end..chars.len())
    )
}
