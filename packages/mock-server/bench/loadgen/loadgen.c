/*
 * A native HTTP/1.1 load generator for the mock platform's server benchmark (bench/server.ts).
 *
 * Why native: the benchmark runs the load generator on the same two cores as the server it
 * measures, so whatever the generator spends is taken from the server. The node generator
 * (bench/lib/lean-http.ts) costs 27 – 40 % of a core at 2 000 requests/s; most of that is node's
 * streams, promises and timers around each request, not its work. This one does the same work
 * for 11 – 19 %, as wrk does: keep-alive connections, one request in flight on each, and every
 * payment signed live (RFC 9421, ES256 with OpenSSL, RFC 9530 Content-Digest) with its own
 * out_trade_no, Idempotency-Key, nonce and QR code, at the moment it is made.
 *
 * Usage (every argument is key=value):
 *   loadgen mode=open|closed|health port=N [connections=50] [seconds=10] [rate=2000] [lead=1] [tick=1]
 *           key=device.pem keyid=pos-01 codes=codes.txt prefix=bench-x- nonce=abc
 * - open: payments at `rate` a second for lead + seconds; the first `lead` seconds are not
 *   measured. Latency runs from each request's scheduled send time (no coordinated omission) to
 *   the kernel's receive time of its answer's last bytes (SO_TIMESTAMPNS). "MEASURE" is printed
 *   (and flushed) when the measured part begins. It wakes every `tick` ms (default 1, as the node
 *   generator's 1-ms timer), sends what is due and reads what came: between ticks it sleeps, not
 *   on its sockets, so an answer wakes no thread. On this VM a wake-up is dear, and the server's
 *   `writev` paid for it: waiting on the sockets cost the server's event loop 5 – 10 % more a
 *   payment (four pairs). tick=0 waits on the sockets, and sends each request at its own time.
 * - closed: payments, each connection sending its next one when the last is answered.
 * - health: unsigned GET /health, closed loop.
 * Output, after the run: one line per measured request,
 *   "R <scheduled ms from the measured start> <latency ms> <late ms> <ok 0|1> <status> <code>",
 * then "CPU <user ms> <system ms> <wall ms>" (this process, over the measured part) and
 * "DONE <ok> <failed> <codes left>". A payment is ok when it is answered 201 with
 * "status":"success"; otherwise <code> is the problem's code (or "-").
 * Exit status 2 on bad arguments or a failed setup, 0 otherwise.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONN 1024
#define REQ_MAX 4096
#define IN_MAX 65536

typedef struct {
  char bytes[REQ_MAX];
  int len;
  double scheduled; /* ms, monotonic */
  double late;      /* ms */
  int measured;
} Req;

typedef struct {
  int fd;
  Req *req; /* in flight, or NULL */
  int sent; /* bytes of req written */
  char in[IN_MAX];
  int inlen;
} Conn;

typedef struct {
  double at, latency, late;
  int ok, status;
  char code[48];
} Result;

static const char *mode = "open";
static int port = 0, connections = 50;
static double seconds = 10, rate = 2000, lead = 1, tick = 1;
static const char *keyfile = NULL, *keyid = "pos-01", *codesfile = NULL, *prefix = "bench-", *noncebase = "n";

static EVP_PKEY_CTX *signctx;
static char **codes;
static long ncodes;
static unsigned long counter;
static int epfd;
static Conn *conns;
static Result *results;
static long nresults, capresults;
static long okcount, failcount;

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* A failed system call: its errno is named. */
/* Sleeps until `until_ms` (monotonic). */
static void sleep_until(double until_ms) {
  struct timespec t = {(time_t)(until_ms / 1e3), 0};
  t.tv_nsec = (long)((until_ms - t.tv_sec * 1e3) * 1e6);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR) {
  }
}

/* The kernel's receive timestamps are CLOCK_REALTIME: a realtime time in monotonic ms. */
static double realtime_to_ms(const struct timespec *r) {
  struct timespec rt, mt;
  clock_gettime(CLOCK_REALTIME, &rt);
  clock_gettime(CLOCK_MONOTONIC, &mt);
  double offset = (rt.tv_sec - mt.tv_sec) * 1e3 + (rt.tv_nsec - mt.tv_nsec) / 1e6;
  return r->tv_sec * 1e3 + r->tv_nsec / 1e6 - offset;
}

static void die(const char *what) {
  fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
  exit(2);
}

/* Anything else that stops the run. */
static void fail(const char *what) {
  fprintf(stderr, "loadgen: %s\n", what);
  exit(2);
}

static int base36(unsigned long n, char *out) {
  char tmp[32];
  int i = 0;
  do {
    tmp[i++] = "0123456789abcdefghijklmnopqrstuvwxyz"[n % 36];
    n /= 36;
  } while (n);
  for (int j = 0; j < i; j++) out[j] = tmp[i - 1 - j];
  out[i] = 0;
  return i;
}

static void load_key(void) {
  FILE *f = fopen(keyfile, "r");
  if (!f) die("cannot open the key file");
  EVP_PKEY *pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
  fclose(f);
  if (!pkey) fail("cannot read the private key (PKCS#8 PEM, P-256)");
  signctx = EVP_PKEY_CTX_new(pkey, NULL);
  if (!signctx || EVP_PKEY_sign_init(signctx) <= 0 || EVP_PKEY_CTX_set_signature_md(signctx, EVP_sha256()) <= 0)
    fail("cannot set up ES256 signing");
}

static void load_codes(void) {
  FILE *f = fopen(codesfile, "r");
  if (!f) die("cannot open the codes file");
  long cap = 1024;
  codes = malloc(cap * sizeof *codes);
  if (!codes) fail("out of memory");
  char *line = NULL;
  size_t n = 0;
  ssize_t got;
  while ((got = getline(&line, &n, f)) > 0) {
    while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) line[--got] = 0;
    if (got == 0) continue;
    if (ncodes == cap && !(codes = realloc(codes, (cap *= 2) * sizeof *codes))) fail("out of memory");
    if (!(codes[ncodes++] = strdup(line))) fail("out of memory");
  }
  free(line);
  fclose(f);
}

/* ES256 over `data`: raw r ‖ s, base64 into `out` (88 chars + NUL). */
static void sign_b64(const unsigned char *data, size_t len, char *out) {
  unsigned char dgst[32], der[80], raw[64];
  size_t derlen = sizeof der;
  SHA256(data, len, dgst);
  if (EVP_PKEY_sign(signctx, der, &derlen, dgst, sizeof dgst) <= 0) fail("signing failed");
  const unsigned char *p = der;
  ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
  if (!sig) fail("bad DER signature");
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32);
  ECDSA_SIG_free(sig);
  EVP_EncodeBlock((unsigned char *)out, raw, 64);
}

/* A new signed payment into `r`; returns 0 when the codes ran out. */
static int make_payment(Req *r) {
  if (ncodes == 0) return 0;
  const char *qr = codes[--ncodes];
  char n36[32], no[160], body[2048], digest[64], params[512], base[1024], sig[100];
  unsigned char h[32];
  base36(counter++, n36);
  if (snprintf(no, sizeof no, "%s%s", prefix, n36) >= (int)sizeof no) fail("prefix= is too long");
  int blen = snprintf(body, sizeof body, "{\"out_trade_no\":\"%s\",\"amount\":1,\"qr_text\":\"%s\"}", no, qr);
  if (blen >= (int)sizeof body) fail("a code is too long");
  SHA256((unsigned char *)body, blen, h);
  char d64[48];
  EVP_EncodeBlock((unsigned char *)d64, h, 32);
  snprintf(digest, sizeof digest, "sha-256=:%s:", d64);
  if (snprintf(params, sizeof params,
               "(\"@method\" \"@path\" \"content-digest\");created=%ld;keyid=\"%s\";alg=\"ecdsa-p256-sha256\";nonce=\"%s%s\"",
               (long)time(NULL), keyid, noncebase, n36) >= (int)sizeof params)
    fail("keyid= or nonce= is too long");
  int baselen = snprintf(base, sizeof base,
                         "\"@method\": POST\n\"@path\": /v1/payments\n\"content-digest\": %s\n\"@signature-params\": %s",
                         digest, params);
  if (baselen >= (int)sizeof base) fail("the signature base is too long");
  sign_b64((unsigned char *)base, baselen, sig);
  r->len = snprintf(r->bytes, REQ_MAX,
                    "POST /v1/payments HTTP/1.1\r\nhost: 127.0.0.1:%d\r\ncontent-type: application/json\r\n"
                    "idempotency-key: %s\r\ncontent-digest: %s\r\nsignature-input: sig1=%s\r\n"
                    "signature: sig1=:%s:\r\ncontent-length: %d\r\n\r\n%s",
                    port, no, digest, params, sig, blen, body);
  if (r->len >= REQ_MAX) fail("a request is too long");
  return 1;
}

static int make_health(Req *r) {
  r->len = snprintf(r->bytes, REQ_MAX, "GET /health HTTP/1.1\r\nhost: 127.0.0.1:%d\r\n\r\n", port);
  return 1;
}

static int make(Req *r) { return strcmp(mode, "health") == 0 ? make_health(r) : make_payment(r); }

static void open_conn(Conn *c) {
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  if (c->fd < 0) die("socket");
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  /* each read says when the kernel received its last bytes: an answer's latency ends there */
  setsockopt(c->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
  if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) < 0) die("O_NONBLOCK");
  c->inlen = 0;
  c->req = NULL;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
}

static void record(Req *r, double at_end, int ok, int status, const char *code) {
  if (ok) okcount++;
  else failcount++;
  if (!r->measured) return;
  if (nresults == capresults) {
    capresults = capresults ? capresults * 2 : 65536;
    results = realloc(results, capresults * sizeof *results);
    if (!results) fail("out of memory");
  }
  Result *x = &results[nresults++];
  x->at = r->scheduled;
  x->latency = at_end - r->scheduled;
  x->late = r->late;
  x->ok = ok;
  x->status = status;
  snprintf(x->code, sizeof x->code, "%s", code);
}

/* Writes what is left of the connection's request; arms EPOLLOUT while the socket is full. */
static void flush_conn(Conn *c) {
  while (c->sent < c->req->len) {
    ssize_t w = write(c->fd, c->req->bytes + c->sent, c->req->len - c->sent);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
        return;
      }
      return; /* the read side sees the error */
    }
    c->sent += (int)w;
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void send_on(Conn *c, Req *r) {
  c->req = r;
  c->sent = 0;
  flush_conn(c);
}

/* Case-insensitive search of `needle` (lower case) in the first `n` bytes of `h`. */
static const char *find_ci(const char *h, int n, const char *needle) {
  int m = (int)strlen(needle);
  for (int i = 0; i + m <= n; i++) {
    int j = 0;
    while (j < m) {
      char ch = h[i + j];
      if (ch >= 'A' && ch <= 'Z') ch = (char)(ch + 32);
      if (ch != needle[j]) break;
      j++;
    }
    if (j == m) return h + i;
  }
  return NULL;
}

/*
 * One complete response at the start of c->in: its length, or 0 when more bytes are needed, or
 * -1 when it cannot be read (no Content-Length: this server always sends one).
 */
static int parse_response(Conn *c, int *status, int *ok, char *code, int codelen) {
  char *end = memmem(c->in, c->inlen, "\r\n\r\n", 4);
  if (!end) return c->inlen >= IN_MAX ? -1 : 0;
  int head = (int)(end - c->in) + 4;
  if (c->inlen < 12 || memcmp(c->in, "HTTP/1.", 7) != 0) return -1;
  *status = atoi(c->in + 9);
  const char *cl = find_ci(c->in, head, "\r\ncontent-length:");
  if (!cl) return -1;
  long blen = strtol(cl + 17, NULL, 10);
  if (blen < 0 || head + blen > IN_MAX) return -1;
  if (c->inlen < head + blen) return 0;
  const char *body = c->in + head;
  *ok = 0;
  snprintf(code, codelen, "-");
  if (*status == 200 && strcmp(mode, "health") == 0) *ok = 1;
  else if (*status == 201) {
    if (memmem(body, blen, "\"status\":\"success\"", 18)) *ok = 1;
    else snprintf(code, codelen, "not_success");
  } else {
    const char *k = memmem(body, blen, "\"code\":\"", 8);
    if (k) {
      k += 8;
      int i = 0;
      while (i < codelen - 1 && k + i < body + blen && k[i] != '"') {
        code[i] = k[i];
        i++;
      }
      code[i] = 0;
    }
  }
  return head + (int)blen;
}

/* Queue of made requests waiting for a free connection (open loop). */
static Req **queue;
static long qhead, qtail, qcap;
static Conn **idle;
static int nidle;

static void dispatch(Req *r) {
  if (nidle > 0) {
    send_on(idle[--nidle], r);
    return;
  }
  if (qhead == qtail) qhead = qtail = 0;
  if (qtail == qcap) {
    if (qhead > 0) {
      memmove(queue, queue + qhead, (qtail - qhead) * sizeof *queue);
      qtail -= qhead;
      qhead = 0;
    } else {
      queue = realloc(queue, (qcap = qcap ? qcap * 2 : 1024) * sizeof *queue);
      if (!queue) fail("out of memory");
    }
  }
  queue[qtail++] = r;
}

static Req *pool_get(void);
static void pool_put(Req *r);
static int closed_loop, running = 1;
static long outstanding;

/* A connection is free: a closed loop sends its next request (while running), an open loop the
 * oldest waiting one; otherwise it waits for the next one made. */
static void next_on(Conn *c) {
  if (closed_loop) {
    if (!running) return;
    Req *n = pool_get();
    n->scheduled = now_ms();
    n->late = 0;
    n->measured = 1;
    if (make(n)) {
      outstanding++;
      send_on(c, n);
    } else {
      pool_put(n);
      running = 0;
    }
  } else if (qtail > qhead) {
    send_on(c, queue[qhead++]);
  } else {
    idle[nidle++] = c;
  }
}

/* Reads what the connection has; settles each complete response. Returns -1 if it broke. */
static int on_readable(Conn *c) {
  for (;;) {
    struct iovec iov = {c->in + c->inlen, IN_MAX - c->inlen};
    union {
      char buf[CMSG_SPACE(sizeof(struct timespec))];
      struct cmsghdr align;
    } ctl;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
    ssize_t got = recvmsg(c->fd, &msg, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return 0;
      return -1;
    }
    if (got == 0) return -1;
    int filled = got == IN_MAX - c->inlen;
    c->inlen += (int)got;
    double received = -1;
    for (struct cmsghdr *m = CMSG_FIRSTHDR(&msg); m; m = CMSG_NXTHDR(&msg, m))
      if (m->cmsg_level == SOL_SOCKET && m->cmsg_type == SCM_TIMESTAMPNS) {
        struct timespec ts;
        memcpy(&ts, CMSG_DATA(m), sizeof ts);
        received = realtime_to_ms(&ts);
      }
    for (;;) {
      int status = 0, ok = 0;
      char code[48];
      int used = parse_response(c, &status, &ok, code, sizeof code);
      if (used < 0) return -1;
      if (used == 0) break;
      /* the kernel's time, unless the realtime clock was stepped meanwhile */
      double t = now_ms();
      if (received >= 0 && received <= t && (!c->req || received >= c->req->scheduled)) t = received;
      memmove(c->in, c->in + used, c->inlen - used);
      c->inlen -= used;
      Req *r = c->req;
      c->req = NULL;
      if (r) {
        record(r, t, ok, status, code);
        pool_put(r);
        outstanding--;
      }
      next_on(c);
    }
    if (c->inlen == IN_MAX) return -1;
    /* a short read took all there was: epoll says when more comes (one read a response) */
    if (!filled) return 0;
  }
}

static Req **freelist;
static long nfree, capfree;
static Req *pool_get(void) {
  if (nfree > 0) return freelist[--nfree];
  Req *r = malloc(sizeof *r);
  if (!r) fail("out of memory");
  return r;
}
static void pool_put(Req *r) {
  if (nfree == capfree &&
      !(freelist = realloc(freelist, (capfree = capfree ? capfree * 2 : 1024) * sizeof *freelist)))
    fail("out of memory");
  freelist[nfree++] = r;
}

static void broken(Conn *c) {
  if (c->req) {
    record(c->req, now_ms(), 0, 0, "connection_lost");
    pool_put(c->req);
    outstanding--;
    c->req = NULL;
  }
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  open_conn(c);
  next_on(c); /* the new connection carries on where the lost one was */
}

/* Waits for socket events until `until_ms` (or one batch of events when until_ms <= now). */
static void poll_until(double until_ms) {
  struct epoll_event evs[256];
  double wait = until_ms - now_ms();
  struct timespec ts = {0, 0};
  if (wait > 0) {
    ts.tv_sec = (time_t)(wait / 1e3);
    ts.tv_nsec = (long)((wait - ts.tv_sec * 1e3) * 1e6);
  }
  int n = epoll_pwait2(epfd, evs, 256, &ts, NULL);
  for (int i = 0; i < n; i++) {
    Conn *c = evs[i].data.ptr;
    if ((evs[i].events & EPOLLOUT) && c->req) flush_conn(c);
    if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
      if (on_readable(c) < 0) broken(c);
  }
}

static double cpu_ms(struct rusage *u, int sys) {
  struct timeval t = sys ? u->ru_stime : u->ru_utime;
  return t.tv_sec * 1e3 + t.tv_usec / 1e3;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    char *eq = strchr(argv[i], '=');
    if (!eq) {
      fprintf(stderr, "loadgen: arguments are key=value (%s)\n", argv[i]);
      return 2;
    }
    *eq = 0;
    const char *k = argv[i], *v = eq + 1;
    if (!strcmp(k, "mode")) mode = v;
    else if (!strcmp(k, "port")) port = atoi(v);
    else if (!strcmp(k, "connections")) connections = atoi(v);
    else if (!strcmp(k, "seconds")) seconds = atof(v);
    else if (!strcmp(k, "rate")) rate = atof(v);
    else if (!strcmp(k, "lead")) lead = atof(v);
    else if (!strcmp(k, "tick")) tick = atof(v);
    else if (!strcmp(k, "key")) keyfile = v;
    else if (!strcmp(k, "keyid")) keyid = v;
    else if (!strcmp(k, "codes")) codesfile = v;
    else if (!strcmp(k, "prefix")) prefix = v;
    else if (!strcmp(k, "nonce")) noncebase = v;
    else {
      fprintf(stderr, "loadgen: unknown argument %s\n", k);
      return 2;
    }
  }
  int health = !strcmp(mode, "health");
  closed_loop = health || !strcmp(mode, "closed");
  if ((!closed_loop && strcmp(mode, "open")) || port <= 0 || connections < 1 || connections > MAX_CONN ||
      seconds <= 0 || rate <= 0 || lead < 0 || tick < 0) {
    fprintf(stderr, "loadgen: bad arguments\n");
    return 2;
  }
  if (!health) {
    if (!keyfile || !codesfile) {
      fprintf(stderr, "loadgen: payments need key= and codes=\n");
      return 2;
    }
    load_key();
    load_codes();
  }
  epfd = epoll_create1(0);
  if (epfd < 0) die("epoll_create1");
  conns = calloc(connections, sizeof *conns);
  idle = malloc(connections * sizeof *idle);
  if (!conns || !idle) fail("out of memory");
  for (int i = 0; i < connections; i++) open_conn(&conns[i]);

  struct rusage u0, u1;
  double t0, t1;
  if (closed_loop) {
    getrusage(RUSAGE_SELF, &u0);
    t0 = now_ms();
    double end = t0 + seconds * 1e3;
    for (int i = 0; i < connections; i++) next_on(&conns[i]);
    while (outstanding > 0) {
      if (running && now_ms() >= end) running = 0;
      poll_until(running ? end : now_ms() + 1e3);
    }
    t1 = now_ms();
    getrusage(RUSAGE_SELF, &u1);
  } else {
    for (int i = 0; i < connections; i++) idle[nidle++] = &conns[connections - 1 - i];
    long nlead = (long)(rate * lead + 0.5), n = (long)(rate * seconds + 0.5), total = nlead + n, i = 0;
    double leadstart = now_ms(), start = leadstart + nlead * 1e3 / rate;
    t0 = start;
    if (nlead == 0) {
      printf("MEASURE\n");
      fflush(stdout);
      getrusage(RUSAGE_SELF, &u0);
    }
    while (i < total) {
      double now = now_ms();
      long due = (long)((now - leadstart) / 1e3 * rate) + 1;
      if (due > total) due = total;
      for (; i < due; i++) {
        if (i == nlead && nlead > 0) {
          printf("MEASURE\n");
          fflush(stdout);
          getrusage(RUSAGE_SELF, &u0);
        }
        Req *r = pool_get();
        if (!make(r)) {
          pool_put(r);
          fprintf(stderr, "loadgen: ran out of codes\n");
          total = i;
          break;
        }
        r->scheduled = leadstart + i * 1e3 / rate;
        r->late = now_ms() - r->scheduled;
        r->measured = i >= nlead;
        outstanding++;
        dispatch(r);
      }
      if (i < total) {
        double next = leadstart + i * 1e3 / rate;
        /* with a tick, the requests due within it go out together at its end, as from a timer */
        if (tick > 0) {
          /* sleep to the tick, not on the sockets: an answer then wakes nobody (see above) */
          next = now + tick > next ? now + tick : next;
          sleep_until(next);
          poll_until(0);
        } else {
          poll_until(next);
        }
      }
    }
    double deadline = now_ms() + 60e3;
    while (outstanding > 0 && now_ms() < deadline) poll_until(now_ms() + 100);
    t1 = now_ms();
    getrusage(RUSAGE_SELF, &u1);
    for (; outstanding > 0; outstanding--) failcount++; /* never answered */
  }
  static char buf[1 << 20];
  setvbuf(stdout, buf, _IOFBF, sizeof buf);
  for (long k = 0; k < nresults; k++) {
    Result *x = &results[k];
    printf("R %.3f %.3f %.3f %d %d %s\n", x->at - t0, x->latency, x->late, x->ok, x->status, x->code);
  }
  printf("CPU %.1f %.1f %.1f\n", cpu_ms(&u1, 0) - cpu_ms(&u0, 0), cpu_ms(&u1, 1) - cpu_ms(&u0, 1), t1 - t0);
  printf("DONE %ld %ld %ld\n", okcount, failcount, ncodes);
  return 0;
}
