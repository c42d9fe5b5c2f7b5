/*
 * The benchmark's stand-in NIM in C: the same answers as benchmarks/standin_nim.py for the
 * same requests, at a fraction of its CPU, so that the client, not the server, is measured.
 *
 * One thread, one epoll loop, Linux only. HTTP/1.1 keep-alive (HTTP/1.0 closes unless it asks
 * for keep-alive), TCP_NODELAY, a listen backlog of 4 096. Every POST is answered after the
 * latency with one ranking per passage, sorted by logit as NIM sorts them; the latency runs on
 * a timerfd over a queue ordered by due time, so every request in flight waits it at the same
 * time, and a connection's answers keep their order.
 *
 * Scoring (the Python stand-in's rule, byte for byte): the passages' region of the body is
 * split on what stands between two passages (compact '"},{"text":"' or json.dumps's spaced
 * '"}, {"text": "'); a passage's key is the CRC-32 (zlib's) of its bytes as sent XOR the
 * CRC-32 of the query's text as sent; passages are ranked by key, highest first (equal keys in
 * input order); the logit is (key >> 16 - 32768) / 3276.8 written with "%.5f".
 *
 * What it does not handle it answers with 400 and closes: a body without Content-Length
 * (Transfer-Encoding), Expect, folded headers, a malformed request line or header, a head over
 * 64 KiB, a body over 1 GiB, and a POST body that is neither empty nor holds a "query" and a
 * "passages" list of {"text": ...} objects in one of the two spellings above (the Python
 * stand-in decodes such bodies with json; this one sends them to --standin python).
 *
 * Control routes, never counted as traffic and never delayed:
 *   GET /_stats         {"requests", "connections", "passages", "cpu", "parser"}
 *   GET /_latency?ms=N  sets the latency from now on
 *
 * Build and run:  cc -O2 -o standin_nim benchmarks/standin_nim.c
 *                 ./standin_nim [--latency-ms 50] [--port 0]
 * Prints its URL, then serves until killed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define BACKLOG 4096
#define MAX_HEAD (64 * 1024)
#define MAX_BODY ((size_t)1 << 30)
#define READ_CHUNK (64 * 1024)
#define MODELS "{\"object\": \"list\", \"data\": [{\"id\": \"nvidia/rerank-qa-mistral-4b\", \"object\": \"model\"}]}"
#define PARSER "hand-written (C)"

/* ---- scoring --------------------------------------------------------------------------- */

static uint32_t crc_table[8][256];

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[0][i] = c;
    }
    for (int t = 1; t < 8; t++)
        for (int i = 0; i < 256; i++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xFF];
}

/* zlib's crc32(0, p, n): reflected, polynomial 0xEDB88320, eight bytes a step. */
static uint32_t crc32_of(const unsigned char *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (n >= 8) {
        uint32_t one, two;
        memcpy(&one, p, 4);
        memcpy(&two, p + 4, 4);
        one ^= c;
        c = crc_table[7][one & 0xFF] ^ crc_table[6][(one >> 8) & 0xFF] ^
            crc_table[5][(one >> 16) & 0xFF] ^ crc_table[4][one >> 24] ^
            crc_table[3][two & 0xFF] ^ crc_table[2][(two >> 8) & 0xFF] ^
            crc_table[1][(two >> 16) & 0xFF] ^ crc_table[0][two >> 24];
        p += 8;
        n -= 8;
    }
#endif
    while (n--) c = crc_table[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

/* "%.5f}," of (k - 32768) / 3276.8, for every 16-bit k: the logit of a key's top 16 bits. */
static char logit_text[65536][12];
static unsigned char logit_len[65536];

static void logit_init(void) {
    for (int k = 0; k < 65536; k++)
        logit_len[k] = (unsigned char)snprintf(logit_text[k], sizeof logit_text[k], "%.5f},",
                                               (k - 32768) / 3276.8);
}

struct form {
    const char *opening, *between, *closing;
};
static const struct form FORMS[] = {
    {"\"passages\":[{\"text\":\"", "\"},{\"text\":\"", "\"}]"},
    {"\"passages\": [{\"text\": \"", "\"}, {\"text\": \"", "\"}]"},
};

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static const char *skip_space(const char *p, const char *end) {
    while (p < end && is_space(*p)) p++;
    return p;
}

/* A JSON string's content at p (p at its opening quote): escapes kept as sent. */
static int string_at(const char *p, const char *end, const char **text, size_t *len) {
    if (p >= end || *p != '"') return 0;
    const char *s = ++p;
    while (p < end) {
        if (*p == '"') {
            *text = s;
            *len = (size_t)(p - s);
            return 1;
        }
        if (*p == '\\') {
            if (p + 1 >= end || p[1] == '\n') return 0;
            p += 2;
        } else {
            p++;
        }
    }
    return 0;
}

static int literal_at(const char *p, const char *end, const char *word) {
    size_t n = strlen(word);
    return (size_t)(end - p) >= n && memcmp(p, word, n) == 0;
}

/* The first "query": "..." or "query": {"text": "..."}; *at is where "query" starts. */
static int find_query(const char *body, size_t n, size_t *at, const char **text, size_t *len) {
    const char *end = body + n, *p = body;
    while ((p = memmem(p, (size_t)(end - p), "\"query\"", 7)) != NULL) {
        const char *s = skip_space(p + 7, end);
        if (s < end && *s == ':') {
            s = skip_space(s + 1, end);
            const char *t = s;
            if (t < end && *t == '{') {
                t = skip_space(t + 1, end);
                if (literal_at(t, end, "\"text\"")) {
                    t = skip_space(t + 6, end);
                    if (t < end && *t == ':' && string_at(skip_space(t + 1, end), end, text, len)) {
                        *at = (size_t)(p - body);
                        return 1;
                    }
                }
            }
            if (string_at(s, end, text, len)) {
                *at = (size_t)(p - body);
                return 1;
            }
        }
        p++;
    }
    return 0;
}

/* Where needle (which starts with '"') next occurs in [p, end), or NULL. */
static const char *next_between(const char *p, const char *end, const char *needle, size_t n) {
    while ((p = memchr(p, '"', (size_t)(end - p))) != NULL) {
        if ((size_t)(end - p) < n) return NULL;
        if (memcmp(p, needle, n) == 0) return p;
        p++;
    }
    return NULL;
}

struct buf {
    char *p;
    size_t len, cap;
};

static void reserve(struct buf *b, size_t more) {
    if (b->len + more <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more) cap *= 2;
    b->p = realloc(b->p, cap);
    if (b->p == NULL) {
        perror("realloc");
        exit(1);
    }
    b->cap = cap;
}

static void put(struct buf *b, const void *data, size_t n) {
    reserve(b, n);
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static int by_key(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t *slots;
static size_t slots_cap;

/* The answer to a ranking request, appended to out; the passages scored, or -1 for a body of
 * a shape this server does not read. */
static long rankings(const char *body, size_t n, struct buf *out) {
    const char *query;
    size_t query_len, query_at;
    if (n == 0) {
        put(out, "{\"rankings\":[]}", 15);
        return 0;
    }
    if (!find_query(body, n, &query_at, &query, &query_len)) return -1;
    const struct form *form = NULL;
    const char *opening = NULL;
    for (size_t f = 0; f < sizeof FORMS / sizeof FORMS[0] && form == NULL; f++) {
        opening = memmem(body, n, FORMS[f].opening, strlen(FORMS[f].opening));
        if (opening != NULL) form = &FORMS[f];
    }
    if (form == NULL) {
        if (memmem(body, n, "\"passages\":[]", 13) || memmem(body, n, "\"passages\": []", 14)) {
            put(out, "{\"rankings\":[]}", 15);
            return 0;
        }
        return -1;
    }
    size_t start = (size_t)(opening - body) + strlen(form->opening);
    size_t bound = query_at > start ? query_at : n;
    size_t closing_len = strlen(form->closing), between_len = strlen(form->between);
    if (bound < start + closing_len) return -1;
    size_t end = bound - closing_len + 1;
    do {
        end--;
        if (memcmp(body + end, form->closing, closing_len) == 0) break;
    } while (end > start);
    if (memcmp(body + end, form->closing, closing_len) != 0) return -1;

    uint32_t seed = crc32_of((const unsigned char *)query, query_len);
    size_t count = 0;
    const char *p = body + start, *stop = body + end;
    for (;;) {
        const char *next = next_between(p, stop, form->between, between_len);
        const char *piece_end = next ? next : stop;
        if (count == slots_cap) {
            slots_cap = slots_cap ? slots_cap * 2 : 1024;
            slots = realloc(slots, slots_cap * sizeof *slots);
            if (slots == NULL) {
                perror("realloc");
                exit(1);
            }
        }
        uint32_t key = crc32_of((const unsigned char *)p, (size_t)(piece_end - p)) ^ seed;
        slots[count] = ((uint64_t)~key << 32) | count; /* ascending: highest key, then index */
        count++;
        if (next == NULL) break;
        p = next + between_len;
    }
    qsort(slots, count, sizeof *slots, by_key);

    reserve(out, 16 + count * 40);
    char *w = out->p + out->len;
    memcpy(w, "{\"rankings\":[", 13);
    w += 13;
    for (size_t i = 0; i < count; i++) {
        uint32_t index = (uint32_t)slots[i], key = ~(uint32_t)(slots[i] >> 32);
        memcpy(w, "{\"index\":", 9);
        w += 9;
        char digits[12];
        int d = 0;
        do {
            digits[d++] = (char)('0' + index % 10);
            index /= 10;
        } while (index);
        while (d) *w++ = digits[--d];
        memcpy(w, ",\"logit\":", 9);
        w += 9;
        memcpy(w, logit_text[key >> 16], 12);
        w += logit_len[key >> 16];
    }
    w--; /* the last piece's comma */
    memcpy(w, "]}", 2);
    out->len = (size_t)(w + 2 - out->p);
    return (long)count;
}

/* ---- connections, the answer queue ----------------------------------------------------- */

struct conn {
    int fd;
    uint32_t gen;
    int counted;       /* carried traffic: counted once in "connections" */
    int closing;       /* close once everything queued is written */
    int writing;       /* EPOLLOUT is registered */
    size_t queued;     /* delayed answers not sent yet */
    uint64_t last_due; /* due time of its latest delayed answer: answers keep their order */
    struct buf in, out;
    size_t out_off;
};

struct timed {
    uint64_t due, seq;
    int fd;
    uint32_t gen;
    int close_after;
    char *message;
    size_t len;
};

static int epfd, timerfd_, listener;
static struct conn **conns;
static size_t conns_cap;
static uint32_t generation;
static struct timed *heap;
static size_t heap_len, heap_cap;
static uint64_t sequence, armed;
static uint64_t latency_ns;
static unsigned long long requests, connections, passages;

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int earlier(const struct timed *a, const struct timed *b) {
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void heap_push(struct timed item) {
    if (heap_len == heap_cap) {
        heap_cap = heap_cap ? heap_cap * 2 : 256;
        heap = realloc(heap, heap_cap * sizeof *heap);
        if (heap == NULL) {
            perror("realloc");
            exit(1);
        }
    }
    size_t i = heap_len++;
    while (i > 0 && earlier(&item, &heap[(i - 1) / 2])) {
        heap[i] = heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    heap[i] = item;
}

static struct timed heap_pop(void) {
    struct timed top = heap[0], last = heap[--heap_len];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= heap_len) break;
        if (child + 1 < heap_len && earlier(&heap[child + 1], &heap[child])) child++;
        if (!earlier(&heap[child], &last)) break;
        heap[i] = heap[child];
        i = child;
    }
    if (heap_len) heap[i] = last;
    return top;
}

/* The timerfd set to the queue's first due time (or disarmed). */
static void arm(void) {
    uint64_t due = heap_len ? heap[0].due : 0;
    if (due == armed) return;
    armed = due;
    struct itimerspec at = {0};
    if (due) {
        at.it_value.tv_sec = (time_t)(due / 1000000000u);
        at.it_value.tv_nsec = (long)(due % 1000000000u);
    }
    timerfd_settime(timerfd_, TFD_TIMER_ABSTIME, &at, NULL);
}

static void conn_close(struct conn *c) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    conns[c->fd] = NULL;
    free(c->in.p);
    free(c->out.p);
    free(c);
}

static void watch(struct conn *c, int writing) {
    if (c->writing == writing) return;
    c->writing = writing;
    struct epoll_event event = {.events = EPOLLIN | (writing ? EPOLLOUT : 0), .data.fd = c->fd};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &event);
}

/* Writes what is pending; 0 if the connection was closed. */
static int flush_out(struct conn *c) {
    while (c->out_off < c->out.len) {
        ssize_t w = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                watch(c, 1);
                return 1;
            }
            conn_close(c);
            return 0;
        }
        c->out_off += (size_t)w;
    }
    c->out.len = c->out_off = 0;
    watch(c, 0);
    if (c->closing && c->queued == 0) {
        conn_close(c);
        return 0;
    }
    return 1;
}

/* Sends a message now; 0 if the connection was closed. */
static int transmit(struct conn *c, const char *message, size_t len, int close_after) {
    put(&c->out, message, len);
    if (close_after) c->closing = 1;
    return flush_out(c);
}

/* Sends a message after delay (at once if 0 and nothing is waiting before it). */
static int deliver(struct conn *c, char *message, size_t len, int close_after, uint64_t delay) {
    if (close_after) c->closing = 1; /* nothing after this request is read */
    if (delay == 0 && c->queued == 0) {
        int open = transmit(c, message, len, close_after);
        free(message);
        return open;
    }
    uint64_t due = now_ns() + delay;
    if (due < c->last_due) due = c->last_due;
    c->last_due = due;
    c->queued++;
    heap_push((struct timed){due, sequence++, c->fd, c->gen, close_after, message, len});
    arm();
    return 1;
}

static void timer_fired(void) {
    uint64_t expirations;
    if (read(timerfd_, &expirations, sizeof expirations) < 0 && errno != EAGAIN) return;
    armed = 0;
    uint64_t now = now_ns();
    while (heap_len && heap[0].due <= now) {
        struct timed item = heap_pop();
        struct conn *c = (size_t)item.fd < conns_cap ? conns[item.fd] : NULL;
        if (c != NULL && c->gen == item.gen) {
            c->queued--;
            transmit(c, item.message, item.len, item.close_after);
        }
        free(item.message);
    }
    arm();
}

/* head + payload in one allocation. */
static char *message_of(const char *status, const char *extra, const char *payload, size_t n,
                        size_t *len) {
    char head[256];
    int h = snprintf(head, sizeof head,
                     "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n",
                     status, n, extra);
    char *message = malloc((size_t)h + n);
    if (message == NULL) {
        perror("malloc");
        exit(1);
    }
    memcpy(message, head, (size_t)h);
    memcpy(message + h, payload, n);
    *len = (size_t)h + n;
    return message;
}

static void refuse(struct conn *c, const char *why) {
    char payload[512];
    int n = snprintf(payload, sizeof payload, "{\"error\": \"%s\"}", why);
    size_t len;
    char *message = message_of("400 Bad Request", "Connection: close\r\n", payload, (size_t)n, &len);
    c->closing = 1;
    deliver(c, message, len, 1, 0);
}

static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One whole request; 0 if the connection was closed. */
static int handle(struct conn *c, const char *method, size_t method_len, const char *target,
                  size_t target_len, const char *body, size_t body_len, int keep_alive) {
    char payload[512];
    size_t len;
    char *message;
    if (target_len >= 2 && target[0] == '/' && target[1] == '_') {
        if (target_len >= 9 && memcmp(target, "/_latency", 9) == 0) {
            const char *ms = memmem(target, target_len, "ms=", 3);
            double value = 0;
            if (ms != NULL && ms + 3 < target + target_len) {
                char number[64];
                size_t n = (size_t)(target + target_len - ms - 3);
                if (n >= sizeof number) n = sizeof number - 1;
                memcpy(number, ms + 3, n);
                number[n] = 0;
                char *after;
                value = strtod(number, &after);
                if (*after != 0 || value < 0) {
                    refuse(c, "ms must be a number of milliseconds");
                    return 0;
                }
            }
            latency_ns = (uint64_t)(value * 1e6);
            message = message_of("200 OK", "", "{\"ok\":true}", 11, &len);
        } else {
            int n = snprintf(payload, sizeof payload,
                             "{\"requests\": %llu, \"connections\": %llu, \"passages\": %llu, "
                             "\"cpu\": %.9f, \"parser\": \"" PARSER "\"}",
                             requests, connections, passages, cpu_seconds());
            message = message_of("200 OK", "", payload, (size_t)n, &len);
        }
        return deliver(c, message, len, !keep_alive, 0);
    }
    if (method_len == 4 && memcmp(method, "POST", 4) == 0) {
        struct buf out = {0};
        reserve(&out, 128);
        out.len = 128; /* room for the head */
        long count = rankings(body, body_len, &out);
        if (count < 0) {
            free(out.p);
            refuse(c, "this stand-in reads a query and a passages list of {text} objects, "
                      "compact or json.dumps-spaced; run the bench with --standin python");
            return 0;
        }
        char head[128];
        int h = snprintf(head, sizeof head,
                         "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                         "%zu\r\n\r\n",
                         out.len - 128);
        memcpy(out.p + 128 - h, head, (size_t)h);
        memmove(out.p, out.p + 128 - h, out.len - 128 + (size_t)h);
        message = out.p;
        len = out.len - 128 + (size_t)h;
        passages += (unsigned long long)count;
    } else {
        message = message_of("200 OK", "", MODELS, strlen(MODELS), &len);
    }
    requests++;
    if (!c->counted) {
        c->counted = 1;
        connections++;
    }
    return deliver(c, message, len, !keep_alive, latency_ns);
}

static int name_is(const char *p, size_t n, const char *name) {
    return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

/* Parses and answers every whole request buffered; 0 if the connection was closed. */
static int serve_buffered(struct conn *c) {
    size_t off = 0;
    int open = 1;
    while (open && !c->closing) {
        const char *p = c->in.p + off;
        size_t avail = c->in.len - off;
        const char *blank = memmem(p, avail < MAX_HEAD ? avail : MAX_HEAD, "\r\n\r\n", 4);
        if (blank == NULL) {
            if (avail >= MAX_HEAD) {
                refuse(c, "request head over 64 KiB");
                return 0;
            }
            break;
        }
        const char *head_end = blank + 2; /* every line below ends with CRLF before this */
        const char *eol = memmem(p, (size_t)(head_end - p), "\r\n", 2);
        const char *sp1 = memchr(p, ' ', (size_t)(eol - p));
        const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
        if (sp1 == NULL || sp2 == NULL || sp1 == p || sp2 == sp1 + 1) {
            refuse(c, "malformed request line");
            return 0;
        }
        for (const char *m = p; m < sp1; m++)
            if (*m < 'A' || *m > 'Z') {
                refuse(c, "malformed method");
                return 0;
            }
        size_t version_len = (size_t)(eol - sp2 - 1);
        int http10 = version_len == 8 && memcmp(sp2 + 1, "HTTP/1.0", 8) == 0;
        if (!http10 && !(version_len == 8 && memcmp(sp2 + 1, "HTTP/1.1", 8) == 0)) {
            refuse(c, "only HTTP/1.0 and HTTP/1.1");
            return 0;
        }
        int close_asked = 0, keep_asked = 0, has_length = 0;
        size_t length = 0;
        for (const char *line = eol + 2; line < head_end;) {
            const char *line_end = memmem(line, (size_t)(head_end - line), "\r\n", 2);
            const char *colon = memchr(line, ':', (size_t)(line_end - line));
            if (*line == ' ' || *line == '\t' || colon == NULL || colon == line) {
                refuse(c, "malformed header");
                return 0;
            }
            const char *value = colon + 1, *value_end = line_end;
            while (value < value_end && (*value == ' ' || *value == '\t')) value++;
            while (value_end > value && (value_end[-1] == ' ' || value_end[-1] == '\t')) value_end--;
            size_t name_len = (size_t)(colon - line);
            if (name_is(line, name_len, "content-length")) {
                size_t n = 0;
                if (value == value_end) {
                    refuse(c, "malformed Content-Length");
                    return 0;
                }
                for (const char *d = value; d < value_end; d++) {
                    if (*d < '0' || *d > '9' || n > MAX_BODY) {
                        refuse(c, "malformed or too large Content-Length");
                        return 0;
                    }
                    n = n * 10 + (size_t)(*d - '0');
                }
                if (n > MAX_BODY || (has_length && n != length)) {
                    refuse(c, "too large or conflicting Content-Length");
                    return 0;
                }
                has_length = 1;
                length = n;
            } else if (name_is(line, name_len, "transfer-encoding")) {
                refuse(c, "Transfer-Encoding is not handled: send Content-Length");
                return 0;
            } else if (name_is(line, name_len, "expect")) {
                refuse(c, "Expect is not handled");
                return 0;
            } else if (name_is(line, name_len, "connection")) {
                for (const char *t = value; t < value_end;) {
                    const char *comma = memchr(t, ',', (size_t)(value_end - t));
                    const char *t_end = comma ? comma : value_end;
                    while (t < t_end && (*t == ' ' || *t == '\t')) t++;
                    const char *e = t_end;
                    while (e > t && (e[-1] == ' ' || e[-1] == '\t')) e--;
                    if (name_is(t, (size_t)(e - t), "close")) close_asked = 1;
                    if (name_is(t, (size_t)(e - t), "keep-alive")) keep_asked = 1;
                    t = comma ? comma + 1 : value_end;
                }
            }
            line = line_end + 2;
        }
        size_t head_len = (size_t)(blank + 4 - p);
        if (avail < head_len + length) {
            reserve(&c->in, head_len + length - avail); /* room for the rest of the body */
            break;
        }
        int keep_alive = http10 ? keep_asked && !close_asked : !close_asked;
        open = handle(c, p, (size_t)(sp1 - p), sp1 + 1, (size_t)(sp2 - sp1 - 1), p + head_len,
                      length, keep_alive);
        off += head_len + length;
    }
    if (open) {
        if (c->closing) {
            c->in.len = 0;
        } else if (off) {
            memmove(c->in.p, c->in.p + off, c->in.len - off);
            c->in.len -= off;
        }
        if (c->in.len == 0 && c->in.cap > (1u << 20)) { /* a big body's buffer is not kept */
            free(c->in.p);
            c->in = (struct buf){0};
        }
    }
    return open;
}

static void readable(struct conn *c) {
    for (;;) {
        reserve(&c->in, READ_CHUNK);
        size_t room = c->in.cap - c->in.len;
        ssize_t r = recv(c->fd, c->in.p + c->in.len, room, 0);
        if (r > 0) {
            c->in.len += (size_t)r;
            if ((size_t)r < room) break;
            continue;
        }
        if (r == 0) { /* the client closed: answers still waiting are dropped, as asyncio does */
            conn_close(c);
            return;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        conn_close(c);
        return;
    }
    if (!c->closing) serve_buffered(c);
}

static void accept_all(void) {
    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE) perror("accept4");
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if ((size_t)fd >= conns_cap) {
            size_t cap = conns_cap ? conns_cap : 1024;
            while (cap <= (size_t)fd) cap *= 2;
            conns = realloc(conns, cap * sizeof *conns);
            if (conns == NULL) {
                perror("realloc");
                exit(1);
            }
            memset(conns + conns_cap, 0, (cap - conns_cap) * sizeof *conns);
            conns_cap = cap;
        }
        struct conn *c = calloc(1, sizeof *c);
        if (c == NULL) {
            perror("calloc");
            exit(1);
        }
        c->fd = fd;
        c->gen = ++generation;
        conns[fd] = c;
        struct epoll_event event = {.events = EPOLLIN, .data.fd = fd};
        epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event);
    }
}

int main(int argc, char **argv) {
    double latency_ms = 50;
    int port = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--latency-ms") == 0 && i + 1 < argc) {
            latency_ms = strtod(argv[++i], NULL);
        } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            port = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--latency-ms 50] [--port 0]\n", argv[0]);
            return 2;
        }
    }
    latency_ns = (uint64_t)(latency_ms * 1e6);
    crc_init();
    logit_init();
    signal(SIGPIPE, SIG_IGN);
    struct rlimit files;
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max; /* a burst of thousands of connections */
        setrlimit(RLIMIT_NOFILE, &files);
    }

    listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&address, sizeof address) < 0 ||
        listen(listener, BACKLOG) < 0) {
        perror("bind/listen");
        return 1;
    }
    socklen_t size = sizeof address;
    getsockname(listener, (struct sockaddr *)&address, &size);

    epfd = epoll_create1(EPOLL_CLOEXEC);
    timerfd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = listener};
    epoll_ctl(epfd, EPOLL_CTL_ADD, listener, &event);
    event.data.fd = timerfd_;
    epoll_ctl(epfd, EPOLL_CTL_ADD, timerfd_, &event);

    printf("stand-in NIM listening on http://127.0.0.1:%d\n", ntohs(address.sin_port));
    fflush(stdout);

    struct epoll_event events[256];
    for (;;) {
        int n = epoll_wait(epfd, events, 256, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == listener) {
                accept_all();
            } else if (fd == timerfd_) {
                timer_fired();
            } else if ((size_t)fd < conns_cap && conns[fd] != NULL) {
                struct conn *c = conns[fd];
                if (events[i].events & (EPOLLERR | EPOLLHUP)) {
                    conn_close(c);
                    continue;
                }
                if ((events[i].events & EPOLLOUT) && !flush_out(c)) continue;
                if (events[i].events & EPOLLIN) readable(c);
            }
        }
    }
}
