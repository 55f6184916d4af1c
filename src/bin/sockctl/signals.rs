//! Ctrl-C and friends: ask the library to stop, clean up, then die of the same signal so the
//! calling shell sees the real cause (130 for SIGINT).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, Ordering};

static RECEIVED: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signal: libc::c_int) {
    RECEIVED.store(signal, Ordering::SeqCst);
    sockctl::interrupt::request();
}

/// Installs the handlers without `SA_RESTART`, so blocking calls return `EINTR` and notice the
/// request, and with `SA_RESETHAND`, so a second Ctrl-C kills at once. A write past the
/// file-size limit becomes an `EFBIG` error instead of a silent death, so the temporary file is
/// removed and the message says why.
pub fn install() {
    // SAFETY: setting a signal to be ignored has no preconditions.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        // As std's runtime would: a closed pipe is an EPIPE error to handle, not death.
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: a zeroed sigaction is valid; the handler only does atomic stores.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_RESETHAND;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// For the interactive shell: every Ctrl-C abandons the wait for one reply (the shell clears
/// the request), so SIGINT stays handled instead of killing on the second press.
pub fn keep_handling_interrupts() {
    // SAFETY: as in `install`.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
        action.sa_flags = 0;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut());
    }
}

/// The name of the signal that asked the run to stop (SIGINT when none was recorded).
pub fn received_name() -> &'static str {
    match RECEIVED.load(Ordering::SeqCst) {
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "SIGINT",
    }
}

/// The terminal's modes when the interactive shell started, for [`on_shell_end`].
static TERMINAL: OnceLock<libc::termios> = OnceLock::new();

/// SIGTERM or SIGHUP in the interactive shell. The line editor holds the terminal in raw mode
/// and retries a read that a signal interrupted, so a flag would only be seen once the next
/// command was typed (and was then taken for a Ctrl-C on that command). The shell has nothing
/// to clean up (history is saved after every command; the kernel closes the connection), so
/// the handler puts the terminal back as it was and dies of the signal at once. Only
/// async-signal-safe calls: `tcsetattr`, `write`, `sigaction`, `raise`.
extern "C" fn on_shell_end(signal: libc::c_int) {
    // SAFETY: see above; the termios was stored before the handler was installed.
    unsafe {
        if let Some(mode) = TERMINAL.get() {
            libc::tcsetattr(0, libc::TCSANOW, mode);
            // Bracketed paste off, as the line editor leaves it when it ends normally.
            let off = b"\x1b[?2004l";
            libc::write(0, off.as_ptr().cast(), off.len());
        }
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = libc::SIG_DFL;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(signal, &action, std::ptr::null_mut());
        // Blocked until this handler returns; then the default action ends the process.
        libc::raise(signal);
    }
}

/// For the interactive shell: SIGTERM and SIGHUP end it at once with the terminal restored
/// (Ctrl-C keeps its meaning: abandon the wait for one reply).
pub fn end_shell_on_termination() {
    // SAFETY: tcgetattr fills in a termios it is given; sigaction as in `install`.
    unsafe {
        let mut mode: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(0, &mut mode) == 0 {
            let _ = TERMINAL.set(mode);
        }
        for signal in [libc::SIGTERM, libc::SIGHUP] {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_shell_end as *const () as libc::sighandler_t;
            action.sa_flags = 0;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// Called on the way out of an interrupted run, after cleanup.
pub fn reraise_and_exit() -> ! {
    let signal = match RECEIVED.load(Ordering::SeqCst) {
        0 => libc::SIGINT,
        s => s,
    };
    // SAFETY: restoring the default action and raising are plain libc calls.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
    std::process::exit(128 + signal)
}
