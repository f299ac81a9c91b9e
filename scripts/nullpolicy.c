/*
 * nullpolicy: a policy server that decides nothing, for scripts/bench's greylisting part (the floor for any policy
 * server on this machine, with the same load generator).
 *
 *   nullpolicy PORT                       answers every request (an empty line ends one) with the same
 *                                         DEFER_IF_PERMIT line ContentFilter sends for a new triplet;
 *   nullpolicy PORT REDIS_PORT SCRIPT     first runs one EVALSHA of SCRIPT per request on a Redis connection of
 *                                         the session's own, with the keys and arguments ContentFilter's Redis
 *                                         store gives its one-round-trip check (the triplet of client_address,
 *                                         sender and recipient; the client address), and waits for its reply.
 *
 * One thread per connection, blocking reads and writes, no parsing beyond finding three attributes: what is left
 * is the kernel's work for the TCP round trips. Loopback only.
 *
 *   gcc -O2 -pthread -o nullpolicy scripts/nullpolicy.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUFFER 65536

static const char REPLY[] =
    "action=DEFER_IF_PERMIT 4.2.0 Greylisted, see http://postgrey.schweikert.ch/help/bench.test.html\n\n";
static int redis_port;   /* 0: no Redis */
static char sha[41];

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("nullpolicy: connect to redis");
        exit(1);
    }
    return fd;
}

/* The value of "name=" in a request (up to its newline), or "" */
static const char *attribute(const char *req, size_t len, const char *name, int *vlen)
{
    size_t nl = strlen(name);
    const char *p = req, *end = req + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        if ((size_t)(eol - p) > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
            *vlen = (int)(eol - p - (ptrdiff_t)nl - 1);
            return p + nl + 1;
        }
        p = eol + 1;
    }
    *vlen = 0;
    return "";
}

/* Reads one RESP reply: an array of integers (the check script's), or an error line. */
static int read_reply(int fd)
{
    char b[1024];
    size_t have = 0;
    long items = -1, lines = 0;
    for (;;) {
        ssize_t n = read(fd, b + have, sizeof b - 1 - have);
        if (n <= 0)
            return -1;
        have += (size_t)n;
        b[have] = 0;
        if (b[0] == '-') {
            fprintf(stderr, "nullpolicy: redis: %s", b);
            return -1;
        }
        if (items < 0 && strstr(b, "\r\n"))
            items = strtol(b + 1, NULL, 10);
        lines = 0;
        for (char *p = b; (p = strstr(p, "\r\n")) != NULL; p += 2)
            lines++;
        if (items >= 0 && lines >= items + 1)
            return 0;
        if (have == sizeof b - 1)
            return -1;
    }
}

static int check(int fd, const char *req, size_t len)
{
    int al, sl, rl;
    const char *addr = attribute(req, len, "client_address", &al);
    const char *sender = attribute(req, len, "sender", &sl);
    const char *rcpt = attribute(req, len, "recipient", &rl);
    char t[768], c[128], now[24], cmd[2048];
    int tl = snprintf(t, sizeof t, "nullpolicy:t:%.*s/%.*s/%.*s", al, addr, sl, sender, rl, rcpt);
    int cl = snprintf(c, sizeof c, "nullpolicy:c:%.*s", al, addr);
    int nl = snprintf(now, sizeof now, "%ld", (long)time(NULL));
    /* EVALSHA sha 2 triplet client now delay window maxage threshold interval checkAutoWhitelist */
    int n = snprintf(cmd, sizeof cmd,
                     "*12\r\n$7\r\nEVALSHA\r\n$40\r\n%s\r\n$1\r\n2\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
                     "$3\r\n300\r\n$6\r\n172800\r\n$7\r\n3024000\r\n$1\r\n5\r\n$4\r\n3600\r\n$1\r\n1\r\n",
                     sha, tl, t, cl, c, nl, now);
    if (n <= 0 || (size_t)n >= sizeof cmd || write_all(fd, cmd, (size_t)n) != 0)
        return -1;
    return read_reply(fd);
}

static void *session(void *arg)
{
    int fd = (int)(long)arg, one = 1, redis = redis_port ? dial(redis_port) : -1;
    static __thread char buf[BUFFER];
    size_t have = 0;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - have);
        if (n <= 0)
            break;
        size_t from = have > 0 ? have - 1 : 0, start = 0;
        have += (size_t)n;
        for (size_t i = from; i + 1 < have; i++) {
            if (buf[i] != '\n' || buf[i + 1] != '\n')
                continue;
            if ((redis >= 0 && check(redis, buf + start, i + 1 - start) != 0)
                || write_all(fd, REPLY, sizeof REPLY - 1) != 0)
                goto done;
            start = i + 2;
            i++;
        }
        memmove(buf, buf + start, have - start);
        have -= start;
        if (have == sizeof buf)
            break;
    }
done:
    close(fd);
    if (redis >= 0)
        close(redis);
    return NULL;
}

/* SCRIPT LOAD of the file's text; its SHA-1 into sha */
static void load_script(const char *path)
{
    static char script[65536], cmd[256], reply[256];
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(1);
    }
    size_t len = fread(script, 1, sizeof script, f);
    fclose(f);
    int fd = dial(redis_port);
    int n = snprintf(cmd, sizeof cmd, "*3\r\n$6\r\nSCRIPT\r\n$4\r\nLOAD\r\n$%zu\r\n", len);
    ssize_t got;
    if (write_all(fd, cmd, (size_t)n) || write_all(fd, script, len) || write_all(fd, "\r\n", 2)
        || (got = read(fd, reply, sizeof reply - 1)) < 47 || reply[0] != '$') {
        fprintf(stderr, "nullpolicy: SCRIPT LOAD failed\n");
        exit(1);
    }
    memcpy(sha, strstr(reply, "\r\n") + 2, 40);
    close(fd);
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 4) {
        fprintf(stderr, "usage: nullpolicy PORT [REDIS_PORT SCRIPT]\n");
        return 64;
    }
    if (argc == 4) {
        redis_port = atoi(argv[2]);
        load_script(argv[3]);
    }
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 128) != 0) {
        perror("nullpolicy: bind");
        return 1;
    }
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0)
            continue;
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &at, session, (void *)(long)c) != 0)
            close(c);
        pthread_attr_destroy(&at);
    }
}
