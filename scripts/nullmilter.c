/*
 * nullmilter: a milter that does nothing, for scripts/bench's milter part (the floor for any milter).
 *
 * It negotiates what ContentFilter's milter negotiates (protocol 6; actions ADDHDRS|CHGHDRS|QUARANTINE; no
 * UNKNOWN or DATA events, no reply to any event but end of body, header values with their leading space; the
 * same macro lists), so Postfix does the same work for it as for ContentFilter, and answers CONTINUE at end of
 * body. One thread per connection, reads of up to 256 KiB parsed in place, the listening socket's MSS clamped
 * like ContentFilter's (docs/benchmarks.md, "Milter: where Postfix's extra CPU went"). Loopback only.
 *
 *   gcc -O2 -pthread -o nullmilter scripts/nullmilter.c && ./nullmilter PORT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFFER (256 * 1024)
#define MAX_PACKET (BUFFER - 4)

/* SMFIF_* and SMFIP_* bits (libmilter's mfapi.h) */
#define ACTIONS (0x01 | 0x10 | 0x20)   /* ADDHDRS, CHGHDRS, QUARANTINE */
#define SETSYMLIST 0x100
#define PROTOCOL (0x100 | 0x200 | 0x1000 | 0x2000 | 0x4000 | 0x8000 | 0x80 | 0x40000 | 0x80000 | 0x10000 | 0x20000 \
                  | 0x100000)   /* NOUNKNOWN NODATA NR_CONN NR_HELO NR_MAIL NR_RCPT NR_HDR NR_EOH NR_BODY NR_DATA
                                   NR_UNKN HDR_LEADSPC */

static const struct { uint32_t stage; const char *macros; } LISTS[] = {
    { 0, "j _ {daemon_name} {daemon_addr} {client_addr} {client_name} {client_port}" },  /* connect */
    { 2, "i {auth_type} {auth_authen}" },  /* MAIL */
    { 3, "i" },                           /* RCPT */
    { 5, "i" },                           /* end of message */
};

static int write_all(int fd, const unsigned char *p, size_t n)
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

static void put32(unsigned char *p, uint32_t v)
{
    v = htonl(v);
    memcpy(p, &v, 4);
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return ntohl(v);
}

/* The reply to SMFIC_OPTNEG: version, actions, protocol, then the macro lists if the MTA offers SETSYMLIST. */
static int negotiate(int fd, const unsigned char *packet, uint32_t len)
{
    unsigned char out[512];
    uint32_t offered_actions = len >= 9 ? get32(packet + 5) : 0;
    uint32_t offered_protocol = len >= 13 ? get32(packet + 9) : 0;
    int lists = (offered_actions & SETSYMLIST) != 0;
    size_t n = 4;
    out[n++] = 'O';
    put32(out + n, 6);
    put32(out + n + 4, (ACTIONS | (lists ? SETSYMLIST : 0)) & offered_actions);
    put32(out + n + 8, PROTOCOL & offered_protocol);
    n += 12;
    for (size_t i = 0; lists && i < sizeof LISTS / sizeof LISTS[0]; i++) {
        size_t m = strlen(LISTS[i].macros) + 1;
        put32(out + n, LISTS[i].stage);
        memcpy(out + n + 4, LISTS[i].macros, m);
        n += 4 + m;
    }
    put32(out, (uint32_t)(n - 4));
    return write_all(fd, out, n);
}

static void *session(void *arg)
{
    int fd = (int)(intptr_t)arg;
    unsigned char *buf = malloc(BUFFER);
    size_t have = 0, at = 0;
    static const unsigned char cont[5] = { 0, 0, 0, 1, 'c' };
    while (buf != NULL) {
        uint32_t len = have - at >= 4 ? get32(buf + at) : 0;
        if (have - at >= 4 && (len == 0 || len > MAX_PACKET))
            break;   /* not a milter peer */
        if (have - at < 4 || have - at < 4 + (size_t)len) {
            memmove(buf, buf + at, have - at);
            have -= at;
            at = 0;
            ssize_t r = read(fd, buf + have, BUFFER - have);
            if (r <= 0)
                break;
            have += (size_t)r;
            continue;
        }
        const unsigned char *packet = buf + at + 4;
        at += 4 + (size_t)len;
        if (packet[0] == 'O' && negotiate(fd, packet, len) != 0)
            break;
        if (packet[0] == 'E' && write_all(fd, cont, sizeof cont) != 0)
            break;
        if (packet[0] == 'Q')
            break;
        /* every other command: no reply (NR_* negotiated, or none expected) */
    }
    free(buf);
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: nullmilter PORT (listens on 127.0.0.1)\n");
        return 2;
    }
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1, mss = 2060;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(s, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 128) != 0) {
        perror("nullmilter");
        return 1;
    }
    pthread_attr_t detached;
    pthread_attr_init(&detached);
    pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0)
            continue;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t t;
        if (pthread_create(&t, &detached, session, (void *)(intptr_t)c) != 0)
            close(c);
    }
}
