#pragma once
// SwiftPM drops the .pc file's -D flags, so the wide-character API is switched on here.
#define NCURSES_WIDECHAR 1
#define _XOPEN_SOURCE_EXTENDED 1
#include <locale.h>
#include <langinfo.h>
#include <wchar.h>
#include <ncursesw/curses.h>

// Macros and C globals Swift cannot import (or, under Swift 6, cannot touch safely) as functions.
static inline WINDOW *nc_stdscr(void) { return stdscr; }
static inline int nc_colors(void) { return COLORS; }
static inline attr_t nc_a_normal(void) { return A_NORMAL; }
static inline attr_t nc_a_bold(void) { return A_BOLD; }
static inline attr_t nc_a_reverse(void) { return A_REVERSE; }
static inline attr_t nc_a_underline(void) { return A_UNDERLINE; }
static inline attr_t nc_a_dim(void) { return A_DIM; }
static inline int nc_key_resize(void) { return KEY_RESIZE; }
static inline const char *nc_codeset(void) { return nl_langinfo(CODESET); }

// MARK: terminal-restoring signal handlers (used only by TUI's TerminalPainter.swift)
// The counters are `static`, so every Swift file that calls these would get its own copy in a non-WMO build:
// keep all calls in one Swift file.
#include <signal.h>
static volatile sig_atomic_t nc_pending_quit_requests = 0;
static volatile sig_atomic_t nc_terminated = 0;

/// SIGINT (Ctrl-C) and SIGTERM (`kill`, a scheduler's time limit) are the same quit request, which the UI
/// loop polls for: it saves a checkpoint and leaves through the normal path, restoring the terminal. After
/// 3 unanswered ones (a stuck loop) the process terminates. Every other handled signal (a hang-up, a crash)
/// restores the terminal, then takes its default action (exit or core dump).
static void nc_on_signal(int sig) {
    if ((sig == SIGINT || sig == SIGTERM) && nc_pending_quit_requests < 2) {
        if (sig == SIGTERM) nc_terminated = 1;
        nc_pending_quit_requests += 1;
        return;
    }
    endwin();
    signal(sig, SIG_DFL);
    raise(sig);
}

static inline void nc_install_signal_handlers(void) {
    struct sigaction action = {0};
    action.sa_handler = nc_on_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;   /* no SA_RESTART: a pending get_wch returns so the loop sees the flag at once */
    int signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT};
    sigset_t handled;
    sigemptyset(&handled);
    for (unsigned i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        sigaction(signals[i], &action, 0);
        sigaddset(&handled, signals[i]);
    }
    /* A parent may have started us with these blocked (test runners, some job launchers), and the mask
       survives exec: unblock them, or Ctrl-C and `kill` would never reach the handler. Threads started
       later (the engine's) inherit this mask. */
    pthread_sigmask(SIG_UNBLOCK, &handled, 0);
}

/// While another program has the terminal (an editor the pickers started), Ctrl-C belongs to it: the parent
/// ignores SIGINT and SIGQUIT, as system(3) does, and takes them back after. The child starts with the default
/// dispositions (posix_spawn's POSIX_SPAWN_SETSIGDEF), so an ignored signal does not reach it ignored.
static inline void nc_ignore_interrupts(int ignore) {
    struct sigaction action = {0};
    action.sa_handler = ignore ? SIG_IGN : nc_on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, 0);
    sigaction(SIGQUIT, &action, 0);
}

/// How many quit requests (SIGINT or SIGTERM) arrived since the last call (and resets the count).
static inline int nc_take_quit_requests(void) {
    int n = nc_pending_quit_requests;
    nc_pending_quit_requests = 0;
    return n;
}

/// True once a SIGTERM has arrived: the process should end with 128 + SIGTERM after saving.
static inline int nc_was_terminated(void) { return nc_terminated; }
