/* The floor: the least a client can do for one exchange.
 *
 *   floor ADDR COMMAND      ADDR is a Unix socket path (anything with a '/') or HOST:PORT
 *
 * Connects, writes COMMAND and a newline, shutdown(SHUT_WR), then copies the reply to standard
 * output in 64 KiB reads until EOF. Blocking I/O, no timeouts, no checks beyond what keeps the
 * byte count honest. Build: cc -O2 -o floor floor.c */
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int dial(const char *addr) {
    if (strchr(addr, '/')) {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        strncpy(sun.sun_path, addr, sizeof sun.sun_path - 1);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        return fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0 ? fd : -1;
    }
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= sizeof host) return -1;
    memcpy(host, addr, colon - addr);
    host[colon - addr] = 0;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(host, colon + 1, &hints, &ai)) return -1;
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen)) fd = -1;
    freeaddrinfo(ai);
    return fd;
}

static int write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) return -1;
        p += w, n -= (size_t)w;
    }
    return 0;
}

int main(int argc, char **argv) {
    static char buf[64 * 1024];
    if (argc != 3) return fprintf(stderr, "usage: floor ADDR COMMAND\n"), 2;
    int fd = dial(argv[1]);
    if (fd < 0) return perror("connect"), 3;
    size_t len = strlen(argv[2]);
    if (len + 1 > sizeof buf) return 2;
    memcpy(buf, argv[2], len);
    buf[len] = '\n';
    if (write_all(fd, buf, len + 1) || shutdown(fd, SHUT_WR)) return perror("send"), 5;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        if (write_all(1, buf, (size_t)n)) return perror("write"), 6;
    return n < 0 ? (perror("read"), 5) : 0;
}
