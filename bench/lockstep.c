/* The lockstep floor: the least a client can do for a batch that stops at its first failure.
 *
 *   lockstep SOCKET FILE    SOCKET is HAProxy's stats socket (a Unix socket path); FILE holds
 *                           one command per line
 *
 * One connection in prompt mode, as `sockctl haproxy exec --batch` without --keep-going uses
 * it: `prompt p`, then `set severity-output number`, then each line of FILE, one at a time,
 * each reply read up to its prompt (`\n> `) before the next line is written. Blocking I/O: a
 * command costs one write and, when the reply comes in one piece, one read. A reply whose
 * message has a severity tag of 3 (error) or less, or that says `Unknown command`, stops the
 * batch: it is printed to stderr and the exit code is 1. Other replies are written to stdout
 * as received, without their prompt: nothing at all for a silent success, as from sockctl.
 *
 * Not a general client: no timeouts, no payloads (`<<`), no master socket, and a reply is taken
 * to end where the bytes received so far end with `\n> `, which holds for one command at a
 * time on a stats socket. Build: cc -O2 -o lockstep lockstep.c */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static char reply[1 << 20];

static int write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) return -1;
        p += w, n -= (size_t)w;
    }
    return 0;
}

/* Reads one reply up to its prompt; returns its length without the prompt (`\n> `, the newline
 * of which ends the reply's last line when the reply is not empty), or -1. */
static ssize_t read_reply(int fd) {
    size_t have = 0;
    for (;;) {
        if (have == sizeof reply) return -1;
        ssize_t n = read(fd, reply + have, sizeof reply - have);
        if (n <= 0) return -1;
        have += (size_t)n;
        if (have >= 3 && memcmp(reply + have - 3, "\n> ", 3) == 0) return (ssize_t)(have - 3);
    }
}

/* A failure as sockctl sees one on this workload: `[0]: ` to `[3]: ` at the start, or HAProxy
 * 2.6's `Unknown command` (tagged at severity 6). */
static int failed(const char *r, size_t n) {
    if (n >= 5 && r[0] == '[' && r[2] == ']' && r[3] == ':' && r[4] == ' ') {
        if (r[1] >= '0' && r[1] <= '3') return 1;
        r += 5, n -= 5;
    }
    return n >= 15 && memcmp(r, "Unknown command", 15) == 0;
}

static int exchange(int fd, const char *line, size_t len, ssize_t *got) {
    if (write_all(fd, line, len)) return perror("write"), -1;
    if ((*got = read_reply(fd)) < 0) return fprintf(stderr, "lockstep: no prompt after a reply\n"), -1;
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) return fprintf(stderr, "usage: lockstep SOCKET FILE\n"), 2;
    FILE *in = fopen(argv[2], "r");
    if (!in) return perror(argv[2]), 2;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    strncpy(sun.sun_path, argv[1], sizeof sun.sun_path - 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun)) return perror("connect"), 3;

    static const char hello[] = "prompt p\n", severity[] = "set severity-output number\n";
    ssize_t got;
    if (exchange(fd, hello, sizeof hello - 1, &got) || exchange(fd, severity, sizeof severity - 1, &got))
        return 5;
    if (got != 0) return fprintf(stderr, "lockstep: set severity-output was refused\n"), 5;

    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned long lineno = 0;
    while ((len = getline(&line, &cap, in)) > 0) {
        lineno++;
        if (line[len - 1] != '\n') line[len++] = '\n'; /* getline left room for its NUL */
        if (len == 1) continue;
        if (exchange(fd, line, (size_t)len, &got)) return 5;
        if (failed(reply, (size_t)got)) {
            fprintf(stderr, "lockstep: line %lu: %.*s", lineno, (int)got, reply);
            return 1;
        }
        if (got && write_all(1, reply, (size_t)got)) return perror("stdout"), 6;
    }
    return 0;
}
