//! Ctrl-C and friends: ask the library to stop, clean up, then die of the same signal so the
//! calling shell sees the real cause (130 for SIGINT).

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
