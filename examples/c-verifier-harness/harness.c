/*
 * c-verifier-harness: an example, in C, of the campus card conformance suite's verifier harness
 * protocol (docs/guides/conformance.md).
 *
 * THIS IS NOT A VERIFIER. It implements the transport (JSON lines on stdin, one JSON line per
 * request on stdout) and the structural checks a reader runs before any cryptography
 * (token-format §8 QR text and Base45, §2.1 deterministic CBOR, UTF-8 text and limits, §2.2
 * COSE_Sign1 shape, protected headers and algorithms, §2.4 COSE_Key members, §5 presentation
 * fields). It has no signature code: every code that passes the structural checks is denied
 * INTERNAL_ERROR (fail closed), and trust material is accepted after a structural check only.
 * Against the suite it passes the decoding vectors and fails the rest, which is the point: a vendor
 * replaces `check_signatures_and_state` with their verifier.
 *
 * Build: cc -std=c99 -O2 -Wall -Wextra -o c-verifier-harness harness.c
 * Run:   campus-card-conformance run --plan verifier --target ./c-verifier-harness
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE (8 * 1024 * 1024)
#define MAX_QR 1024
#define MAX_TEXT 64 /* characters (code points) in every text field (§2.1) */

/* The limits of §2.1 for each structure: bytes, arrays and maps nested in one another, elements in
   one array or map. Over a limit is ERR_INPUT_TOO_LARGE or ERR_CBOR_TOO_DEEP: BAD_FORMAT here. */
typedef struct { size_t max_bytes; int max_depth; uint64_t max_items; } Limits;
static const Limits PRESENTATION = {680, 8, 64};
static const Limits CREDENTIAL = {600, 8, 64};
static const Limits PROTECTED_HEADER = {64, 1, 4};
static const Limits TRUST_LIST = {262144, 8, 65536};
static const Limits STATUS_LIST = {4194304, 8, 65536};
static const Limits ROSTER = {33554432, 8, 1048576};

/* ---------- a minimal JSON reader: top-level string members of one object ---------- */

/* Skips a JSON string starting at s (on the opening quote); returns the char after it. */
static const char *skip_string(const char *s) {
  for (s++; *s && *s != '"'; s++)
    if (*s == '\\' && s[1]) s++;
  return *s ? s + 1 : s;
}

/* Skips any JSON value (nested objects and arrays included). */
static const char *skip_value(const char *s) {
  int depth = 0;
  do {
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') s++;
    if (*s == '"') { s = skip_string(s); }
    else if (*s == '{' || *s == '[') { depth++; s++; }
    else if (*s == '}' || *s == ']') { depth--; s++; }
    else if (*s == ',' || *s == ':') { s++; if (depth == 0) return s - 1; }
    else if (*s) { while (*s && !strchr(",:]} \t\r\n", *s)) s++; }
    else return s;
  } while (depth > 0 || (*s && !strchr(",}", *s)));
  return s;
}

/*
 * Copies the raw JSON text of top-level member `key` of the object in `json` into out (at most n
 * bytes); returns 1 if found. String values keep their quotes.
 */
static int json_member(const char *json, const char *key, char *out, size_t n) {
  const char *s = strchr(json, '{');
  if (!s) return 0;
  s++;
  for (;;) {
    while (*s == ' ' || *s == ',' || *s == '\t' || *s == '\r' || *s == '\n') s++;
    if (*s != '"') return 0;
    const char *k = s + 1, *kend = skip_string(s) - 1;
    s = kend + 1;
    while (*s == ' ' || *s == ':') s++;
    const char *v = s, *vend = skip_value(s);
    if ((size_t)(kend - k) == strlen(key) && strncmp(k, key, kend - k) == 0) {
      size_t len = (size_t)(vend - v);
      while (len > 0 && strchr(" \t\r\n", v[len - 1])) len--;
      if (len >= n) len = n - 1;
      memcpy(out, v, len);
      out[len] = 0;
      return 1;
    }
    s = vend;
    if (!*s || *s == '}') return 0;
  }
}

/* Unquotes a JSON string in place (escapes \" \\ \/ \n \t; \uXXXX outside ASCII becomes '?'). */
static int json_unquote(char *s) {
  size_t len = strlen(s);
  if (len < 2 || s[0] != '"' || s[len - 1] != '"') return 0;
  char *w = s;
  for (size_t i = 1; i < len - 1; i++) {
    char c = s[i];
    if (c == '\\' && i + 1 < len - 1) {
      c = s[++i];
      if (c == 'n') c = '\n';
      else if (c == 't') c = '\t';
      else if (c == 'u' && i + 4 < len - 1) {
        unsigned v = (unsigned)strtoul((char[]){s[i + 1], s[i + 2], s[i + 3], s[i + 4], 0}, NULL, 16);
        c = v < 0x80 ? (char)v : '?';
        i += 4;
      }
    }
    *w++ = c;
  }
  *w = 0;
  return 1;
}

/* ---------- Base45 (RFC 9285, token-format §8) ---------- */

static const char B45[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

static int b45_value(char c) {
  const char *p = c ? strchr(B45, c) : NULL;
  return p ? (int)(p - B45) : -1;
}

/* Decodes text into out; returns the length, or -1 if invalid. */
static long base45_decode(const char *text, uint8_t *out, size_t cap) {
  size_t n = strlen(text), o = 0;
  if (n % 3 == 1) return -1; /* a dangling single character */
  for (size_t i = 0; i < n; i += 3) {
    int a = b45_value(text[i]), b = b45_value(text[i + 1]);
    if (a < 0 || b < 0) return -1;
    if (i + 2 < n) {
      int c = b45_value(text[i + 2]);
      if (c < 0) return -1;
      long v = a + 45L * b + 2025L * c;
      if (v > 65535 || o + 2 > cap) return -1;
      out[o++] = (uint8_t)(v >> 8);
      out[o++] = (uint8_t)(v & 0xff);
    } else {
      long v = a + 45L * b;
      if (v > 255 || o + 1 > cap) return -1;
      out[o++] = (uint8_t)v;
    }
  }
  return (long)o;
}

/* ---------- deterministic CBOR (token-format §2.1) ---------- */

typedef struct { const uint8_t *p; size_t len, pos; } Cbor;

/* Reads a head: major type and argument, rejecting non-shortest and indefinite forms. */
static int cbor_head(Cbor *c, int *major, uint64_t *arg) {
  if (c->pos >= c->len) return 0;
  uint8_t b = c->p[c->pos++];
  *major = b >> 5;
  int ai = b & 31;
  if (ai < 24) { *arg = (uint64_t)ai; return 1; }
  if (ai > 27) return 0; /* indefinite length or reserved */
  int bytes = 1 << (ai - 24);
  if (c->pos + (size_t)bytes > c->len) return 0;
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++) v = (v << 8) | c->p[c->pos++];
  uint64_t min = ai == 24 ? 24 : ai == 25 ? 0x100 : ai == 26 ? 0x10000 : 0x100000000ULL;
  if (v < min) return 0; /* not the shortest form */
  *arg = v;
  return 1;
}

/* The number of characters (code points) of the UTF-8 text s[0, n), or -1 if it is not UTF-8 (§2.1:
   ERR_CBOR_MALFORMED). Well-formed UTF-8 is Unicode's table 3-7, which a fatal decoder (the TS
   reference's TextDecoder) applies too: no stray continuation byte, no lead byte C0, C1 or F5 to FF,
   no overlong form (E0 then 80..9F, F0 then 80..8F), no surrogate U+D800..U+DFFF (ED then A0..BF),
   nothing above U+10FFFF (F4 then 90..BF), no character cut short by the end of the string. */
static long utf8_chars(const uint8_t *s, uint64_t n) {
  long chars = 0;
  for (uint64_t i = 0; i < n; chars++) {
    uint8_t b = s[i];
    uint64_t more;
    uint8_t lo = 0x80, hi = 0xBF; /* the range of the byte after the lead byte */
    if (b < 0x80) { i++; continue; }
    if (b >= 0xC2 && b <= 0xDF) more = 1;
    else if (b >= 0xE0 && b <= 0xEF) {
      more = 2;
      if (b == 0xE0) lo = 0xA0;      /* below: an overlong form of U+0000..U+07FF */
      else if (b == 0xED) hi = 0x9F; /* above: a surrogate */
    } else if (b >= 0xF0 && b <= 0xF4) {
      more = 3;
      if (b == 0xF0) lo = 0x90;      /* below: an overlong form of U+0000..U+FFFF */
      else if (b == 0xF4) hi = 0x8F; /* above: beyond U+10FFFF */
    } else return -1;
    if (n - i - 1 < more || s[i + 1] < lo || s[i + 1] > hi) return -1;
    for (uint64_t j = 2; j <= more; j++)
      if ((s[i + j] & 0xC0) != 0x80) return -1;
    i += 1 + more;
  }
  return chars;
}

/* Checks one well-formed, deterministic item within the profile (no tags, floats, null) and the
   limits; `depth` is the number of arrays and maps it is in. */
static int cbor_item(Cbor *c, int depth, const Limits *l) {
  int major;
  uint64_t arg;
  if (!cbor_head(c, &major, &arg)) return 0;
  switch (major) {
  /* |n| <= 2^53 - 1: a negative integer is -1 - arg, so its argument is at most 2^53 - 2 */
  case 0: return arg <= 0x1FFFFFFFFFFFFFULL;
  case 1: return arg < 0x1FFFFFFFFFFFFFULL;
  case 2: case 3:
    if (arg > c->len - c->pos) return 0;
    if (major == 3 && utf8_chars(c->p + c->pos, arg) < 0) return 0; /* not UTF-8: ERR_CBOR_MALFORMED */
    c->pos += (size_t)arg;
    return 1;
  case 4:
    if (depth + 1 > l->max_depth || arg > l->max_items) return 0;
    for (uint64_t i = 0; i < arg; i++) if (!cbor_item(c, depth + 1, l)) return 0;
    return 1;
  case 5: {
    if (depth + 1 > l->max_depth || arg > l->max_items) return 0;
    size_t prev_start = 0, prev_len = 0;
    for (uint64_t i = 0; i < arg; i++) {
      size_t start = c->pos;
      /* keys are integers or text (ERR_CBOR_UNSUPPORTED_TYPE) */
      if (start >= c->len || (c->p[start] >> 5 != 0 && c->p[start] >> 5 != 1 && c->p[start] >> 5 != 3)) return 0;
      if (!cbor_item(c, depth + 1, l)) return 0;
      size_t klen = c->pos - start;
      if (i > 0) { /* keys sorted bytewise by their encodings, no duplicates */
        size_t m = klen < prev_len ? klen : prev_len;
        int cmp = memcmp(c->p + prev_start, c->p + start, m);
        if (cmp > 0 || (cmp == 0 && prev_len >= klen)) return 0;
      }
      prev_start = start;
      prev_len = klen;
      if (!cbor_item(c, depth + 1, l)) return 0;
    }
    return 1;
  }
  case 7: return arg == 20 || arg == 21; /* false, true */
  default: return 0; /* tags */
  }
}

/* Validates a whole buffer as one item with no trailing bytes, within the limits `l`. */
static int cbor_valid(const uint8_t *p, size_t len, const Limits *l) {
  Cbor c = {p, len, 0};
  return len <= l->max_bytes && cbor_item(&c, 0, l) && c.pos == len;
}

/* Skips one item that cbor_valid already accepted. */
static void cbor_skip(Cbor *c) {
  static const Limits any = {(size_t)-1, 64, (uint64_t)-1};
  cbor_item(c, 0, &any);
}

/* Reads a head and, for byte/text strings, points at the content. */
static int cbor_next(Cbor *c, int *major, uint64_t *arg, const uint8_t **content) {
  if (!cbor_head(c, major, arg)) return 0;
  *content = c->p + c->pos;
  if (*major == 2 || *major == 3) c->pos += (size_t)*arg;
  return 1;
}

/* The length of the CBOR head of an argument, in shortest form. */
static uint64_t head_len(uint64_t arg) {
  return arg < 24 ? 1 : arg < 0x100 ? 2 : arg < 0x10000 ? 3 : arg < 0x100000000ULL ? 5 : 9;
}

/* Reads a text string of 1 to MAX_TEXT characters (code points, §2.1). */
static int text_ok(Cbor *c) {
  int major;
  uint64_t arg;
  const uint8_t *x;
  if (!cbor_next(c, &major, &arg, &x) || major != 3) return 0;
  long chars = utf8_chars(x, arg);
  return chars >= 1 && chars <= MAX_TEXT;
}

/* A COSE_Key (§2.4) holds 1 (kty), 3 (alg), -1 (crv), -2 (x) and -3 (y) only: no 2 (kid), which is
   always computed from the key and never carried, and no other member (a private -4, d, say).
   3 (alg) is there in a trust list and a roster (want_alg 1), and not in a credential's phone key
   (want_alg 0). Anything else is ERR_KEY_INVALID (BAD_FORMAT). The key itself is checked with the
   signatures. */
static int cose_key_ok(Cbor *c, int want_alg) {
  int major, km;
  uint64_t n, k;
  const uint8_t *x;
  int has_alg = 0;
  if (!cbor_next(c, &major, &n, &x) || major != 5) return 0;
  for (uint64_t i = 0; i < n; i++) {
    if (!cbor_next(c, &km, &k, &x)) return 0;
    if (!((km == 0 && (k == 1 || k == 3)) || (km == 1 && k <= 2))) return 0; /* -1 - k: -1, -2, -3 */
    if (km == 0 && k == 3) has_alg = 1;
    cbor_skip(c);
  }
  return has_alg == want_alg;
}

/* ---------- the checks ---------- */

/* The protected header of a COSE_Sign1 (§2.2): 1 (alg) and, in every structure but a presentation,
   4 (kid, 8 bytes). Nothing else: no other label, and no kid in a presentation (want_kid 0). In the
   reference order: a label other than 1 and 4 (ERR_STRUCTURE), then alg, -7 or -8 (any other is
   ERR_ALG_NOT_ALLOWED: BAD_SIGNATURE), then the kid (ERR_STRUCTURE). */
static const char *check_protected(const uint8_t *prot, size_t len, int want_kid) {
  if (!cbor_valid(prot, len, &PROTECTED_HEADER)) return "BAD_FORMAT";
  Cbor h = {prot, len, 0};
  int major, km, vm;
  uint64_t n, k, v;
  const uint8_t *x;
  if (!cbor_next(&h, &major, &n, &x) || major != 5) return "BAD_FORMAT";
  int alg_ok = 0, has_kid = 0, kid_ok = 0;
  for (uint64_t i = 0; i < n; i++) {
    if (!cbor_next(&h, &km, &k, &x) || !cbor_next(&h, &vm, &v, &x)) return "BAD_FORMAT";
    if (km != 0 || (k != 1 && k != 4)) return "BAD_FORMAT"; /* another label, integer or text */
    if (k == 1) alg_ok = vm == 1 && (v == 6 || v == 7);     /* -7 and -8 encode as 1/6, 1/7 */
    else { has_kid = 1; kid_ok = vm == 2 && v == 8; }
  }
  if (!alg_ok) return "BAD_SIGNATURE"; /* ERR_ALG_NOT_ALLOWED */
  if (has_kid != want_kid || (has_kid && !kid_ok)) return "BAD_FORMAT";
  return NULL;
}

/* COSE_Sign1 (§2.2): [bstr protected, {} , bstr payload, bstr(64) signature], then its protected
   header (want_kid: whether it must, or must not, name a kid). */
static const char *check_sign1(const uint8_t *p, size_t len, int want_kid, const uint8_t **payload,
                               size_t *payload_len) {
  Cbor c = {p, len, 0};
  int major;
  uint64_t arg;
  const uint8_t *prot, *x;
  if (!cbor_next(&c, &major, &arg, &x) || major != 4 || arg != 4) return "BAD_FORMAT";
  if (!cbor_next(&c, &major, &arg, &prot) || major != 2) return "BAD_FORMAT";
  size_t prot_len = (size_t)arg;
  if (!cbor_next(&c, &major, &arg, &x) || major != 5 || arg != 0) return "BAD_FORMAT"; /* unprotected: {} */
  if (!cbor_next(&c, &major, &arg, payload) || major != 2) return "BAD_FORMAT";
  *payload_len = (size_t)arg;
  if (!cbor_next(&c, &major, &arg, &x) || major != 2 || arg != 64) return "BAD_FORMAT";
  return check_protected(prot, prot_len, want_kid);
}

/* The credential's claims (§4.1) within the credential's limits (§2.1): at most 64 elements in one
   array or map (so 64 groups), and iss, sub, the physical card, every group and every linked card a
   text of 1 to 64 characters; extras present only when one of their keys is, groups and linked cards
   [+ tstr] (at least one); the phone key (cnf, {1: COSE_Key}) without a kid or any other member a
   COSE_Key does not hold. (A verifier reads them once the issuer signature has verified; this
   example, with no signature code, reads them first. Either way the code is denied.) */
static int credential_claims_ok(const uint8_t *p, size_t len) {
  if (!cbor_valid(p, len, &CREDENTIAL)) return 0;
  Cbor c = {p, len, 0};
  int major;
  uint64_t n, m, arg;
  const uint8_t *x;
  if (!cbor_next(&c, &major, &n, &x) || major != 5) return 0;
  for (uint64_t i = 0; i < n; i++) {
    int km;
    uint64_t k;
    const uint8_t *key;
    if (!cbor_next(&c, &km, &k, &key)) return 0;
    if (km == 0 && (k == 1 || k == 2)) { /* iss, sub */
      if (!text_ok(&c)) return 0;
    } else if (km == 0 && k == 8) { /* cnf: {1: COSE_Key} */
      int cm;
      uint64_t ck;
      if (!cbor_next(&c, &major, &m, &x) || major != 5) return 0;
      for (uint64_t j = 0; j < m; j++)
        if (!cbor_next(&c, &cm, &ck, &x) || cm != 0 || ck != 1 || !cose_key_ok(&c, 0)) return 0;
    } else if (km == 3 && k == 1 && key[0] == 'c') { /* [role, status index, validity, ? extras] */
      if (!cbor_next(&c, &major, &m, &x) || major != 4 || m < 3 || m > 4) return 0;
      for (int j = 0; j < 3; j++) cbor_skip(&c);
      if (m == 3) continue;
      uint64_t extras;
      if (!cbor_next(&c, &major, &extras, &x) || major != 5 || extras == 0) return 0;
      for (uint64_t e = 0; e < extras; e++) {
        if (!cbor_next(&c, &km, &k, &key)) return 0;
        if (km == 0 && k == 4) { /* physical card */
          if (!text_ok(&c)) return 0;
        } else if (km == 0 && (k == 5 || k == 6)) { /* groups, linked cards */
          if (!cbor_next(&c, &major, &arg, &x) || major != 4 || arg == 0) return 0;
          for (uint64_t g = 0; g < arg; g++)
            if (!text_ok(&c)) return 0;
        } else {
          cbor_skip(&c);
        }
      }
    } else {
      cbor_skip(&c);
    }
  }
  return 1;
}

/* The compact card id (§5.2) has exactly one encoding: decimal digits, the first not 0, of value at
   most 2^53 - 1 ("1" to "9007199254740991") travel as that unsigned integer, any other id as text.
   So the integer 0 ("0" is text) and such an id sent as text are malformed. */
static int card_id_ok(int major, uint64_t arg, const uint8_t *text) {
  if (major == 0) return arg >= 1; /* above 2^53 - 1 is already refused by cbor_valid */
  if (arg == 0) return 1; /* empty: refused by text_ok */
  if (arg > 16 || text[0] < '1' || text[0] > '9') return 1;
  uint64_t v = 0;
  for (uint64_t i = 0; i < arg; i++) {
    if (text[i] < '0' || text[i] > '9') return 1;
    v = v * 10 + (uint64_t)(text[i] - '0');
  }
  return v > 0x1FFFFFFFFFFFFFULL; /* 2^53 and above: text */
}

/* Presentation payload (§5): full [bstr, bstr, bstr(64), uint t, bstr(4), ?uint] or compact
   [card id (uint or tstr, one encoding each), bstr(8), uint t, bstr(4), ?uint]. In full mode, then
   the credential it carries (§5.3 step 2): its protected header {1: alg, 4: kid}, and its claims. */
static const char *check_presentation_payload(const uint8_t *p, size_t len) {
  if (!cbor_valid(p, len, &PRESENTATION)) return "BAD_FORMAT";
  Cbor c = {p, len, 0};
  int major;
  uint64_t arg, n;
  const uint8_t *x;
  if (!cbor_next(&c, &major, &n, &x) || major != 4) return "BAD_FORMAT";
  int f0;
  uint64_t a0;
  size_t f0_at = c.pos;
  const uint8_t *cred_protected = NULL, *claims = NULL;
  size_t claims_len = 0;
  if (!cbor_next(&c, &f0, &a0, &x)) return "BAD_FORMAT";
  if (f0 == 2) { /* full mode */
    if (n != 5 && n != 6) return "BAD_FORMAT";
    cred_protected = x;
    if (!cbor_next(&c, &major, &arg, &claims) || major != 2) return "BAD_FORMAT";
    claims_len = (size_t)arg;
    /* the credential [protected, {}, claims, signature] within its 600 bytes */
    if (1 + head_len(a0) + a0 + 1 + head_len(arg) + arg + 2 + 64 > CREDENTIAL.max_bytes) return "BAD_FORMAT";
    if (!cbor_next(&c, &major, &arg, &x) || major != 2 || arg != 64) return "BAD_FORMAT";
  } else if (f0 == 0 || f0 == 3) { /* compact mode */
    if (n != 4 && n != 5) return "BAD_FORMAT";
    if (!card_id_ok(f0, a0, x)) return "BAD_FORMAT";
    Cbor id = {p, len, f0_at};
    if (f0 == 3 && !text_ok(&id)) return "BAD_FORMAT";
    if (!cbor_next(&c, &major, &arg, &x) || major != 2 || arg != 8) return "BAD_FORMAT";
  } else return "BAD_FORMAT";
  if (!cbor_next(&c, &major, &arg, &x) || major != 0) return "BAD_FORMAT"; /* t */
  if (!cbor_next(&c, &major, &arg, &x) || major != 2 || arg != 4) return "BAD_FORMAT"; /* nonce */
  if (c.pos < len && (!cbor_next(&c, &major, &arg, &x) || major != 0 || arg > 255)) return "BAD_FORMAT"; /* scene */
  if (cred_protected) {
    const char *r = check_protected(cred_protected, (size_t)a0, 1);
    if (r) return r;
    if (!credential_claims_ok(claims, claims_len)) return "BAD_FORMAT";
  }
  return NULL;
}

/* A trust list's payload (§3): keys, [+ entry], present and not empty (an empty list trusts no one and
   is refused when loaded: ERR_STRUCTURE), and the key (1) of each entry a COSE_Key as cose_key_ok
   wants it (ERR_KEY_INVALID). The rest of the list is the verifier's to check. */
static int trust_list_ok(const uint8_t *p, size_t len) {
  Cbor c = {p, len, 0};
  int major, km;
  uint64_t fields, key, entries, members;
  const uint8_t *x;
  int has_keys = 0;
  if (!cbor_next(&c, &major, &fields, &x) || major != 5) return 0;
  for (uint64_t i = 0; i < fields; i++) {
    if (!cbor_next(&c, &km, &key, &x)) return 0;
    if (!(km == 0 && key == 4)) { cbor_skip(&c); continue; }
    if (!cbor_next(&c, &major, &entries, &x) || major != 4 || entries == 0) return 0;
    has_keys = 1;
    for (uint64_t e = 0; e < entries; e++) {
      if (!cbor_next(&c, &major, &members, &x) || major != 5) return 0;
      for (uint64_t m = 0; m < members; m++) {
        if (!cbor_next(&c, &km, &key, &x)) return 0;
        if (km == 0 && key == 1) { if (!cose_key_ok(&c, 1)) return 0; }
        else cbor_skip(&c);
      }
    }
  }
  return has_keys;
}

/* A roster's payload (§6.2): the phone keys (4) of every card (4) are COSE_Keys as cose_key_ok wants
   them. The rest of the roster is the verifier's to check. */
static int roster_ok(const uint8_t *p, size_t len) {
  Cbor c = {p, len, 0};
  int major, km;
  uint64_t fields, key, cards, members, keys;
  const uint8_t *x;
  if (!cbor_next(&c, &major, &fields, &x) || major != 5) return 0;
  for (uint64_t i = 0; i < fields; i++) {
    if (!cbor_next(&c, &km, &key, &x)) return 0;
    if (!(km == 0 && key == 4)) { cbor_skip(&c); continue; }
    if (!cbor_next(&c, &major, &cards, &x) || major != 4) return 0;
    for (uint64_t e = 0; e < cards; e++) {
      if (!cbor_next(&c, &major, &members, &x) || major != 5) return 0;
      for (uint64_t m = 0; m < members; m++) {
        if (!cbor_next(&c, &km, &key, &x)) return 0;
        if (!(km == 0 && key == 4)) { cbor_skip(&c); continue; }
        if (!cbor_next(&c, &major, &keys, &x) || major != 4) return 0;
        for (uint64_t k = 0; k < keys; k++)
          if (!cose_key_ok(&c, 1)) return 0;
      }
    }
  }
  return 1;
}

/* The structural checks of trust material before its signature: deterministic CBOR within the
   limits of its kind (§2.1), a COSE_Sign1 whose protected header is {1: alg, 4: kid} (§2.2), and
   the checks of trust_list_ok and roster_ok. NULL when they pass, else the reason to refuse it. */
static const char *check_material(const char *kind, const uint8_t *p, size_t n) {
  const Limits *l = strcmp(kind, "trustList") == 0    ? &TRUST_LIST
                    : strcmp(kind, "statusList") == 0 ? &STATUS_LIST
                    : strcmp(kind, "roster") == 0     ? &ROSTER
                                                      : NULL;
  const uint8_t *payload;
  size_t payload_len;
  if (!l || !cbor_valid(p, n, l)) return "BAD_FORMAT";
  const char *r = check_sign1(p, n, 1, &payload, &payload_len);
  if (r) return r;
  if (!cbor_valid(payload, payload_len, l)) return "BAD_FORMAT";
  if (l == &TRUST_LIST && !trust_list_ok(payload, payload_len)) return "BAD_FORMAT";
  if (l == &ROSTER && !roster_ok(payload, payload_len)) return "BAD_FORMAT";
  return NULL;
}

/* Where a real harness calls its verifier: signatures, time window, status list, replay window. */
static const char *check_signatures_and_state(void) {
  return "INTERNAL_ERROR"; /* no cryptography in this example: fail closed */
}

static const char *check_qr(const char *qr) {
  static uint8_t buf[MAX_QR];
  if (strlen(qr) > MAX_QR) return "BAD_FORMAT";             /* ERR_INPUT_TOO_LARGE */
  if (strncmp(qr, "CC1:", 4) != 0) return "BAD_FORMAT";      /* ERR_QR_PREFIX */
  long n = base45_decode(qr + 4, buf, sizeof buf);
  if (n < 0) return "BAD_FORMAT";                            /* ERR_QR_BASE45 */
  if (!cbor_valid(buf, (size_t)n, &PRESENTATION)) return "BAD_FORMAT"; /* ERR_INPUT_TOO_LARGE, ERR_CBOR_* */
  const uint8_t *payload;
  size_t payload_len;
  const char *r = check_sign1(buf, (size_t)n, 0, &payload, &payload_len);
  if (r) return r;
  r = check_presentation_payload(payload, payload_len);
  return r ? r : check_signatures_and_state();
}

static int hex_to_bytes(const char *hex, uint8_t *out, size_t cap, size_t *len) {
  size_t n = strlen(hex);
  if (n % 2 || n / 2 > cap) return 0;
  for (size_t i = 0; i < n / 2; i++) {
    unsigned v;
    if (sscanf(hex + 2 * i, "%2x", &v) != 1) return 0;
    out[i] = (uint8_t)v;
  }
  *len = n / 2;
  return 1;
}

/* ---------- the protocol loop ---------- */

int main(void) {
  char *line = malloc(MAX_LINE), *id = malloc(256), *op = malloc(64), *arg = malloc(MAX_LINE);
  uint8_t *bytes = malloc(MAX_LINE / 2);
  if (!line || !id || !op || !arg || !bytes) return 1;
  while (fgets(line, MAX_LINE, stdin)) {
    if (!json_member(line, "id", id, 256)) strcpy(id, "null");
    if (!json_member(line, "op", op, 64) || !json_unquote(op)) {
      printf("{\"id\":%s,\"error\":\"no op\"}\n", id);
    } else if (strcmp(op, "hello") == 0) {
      printf("{\"id\":%s,\"name\":\"c-verifier-harness (structural checks only, not a verifier)\",\"capabilities\":[]}\n", id);
    } else if (strcmp(op, "reset") == 0) {
      printf("{\"id\":%s,\"ok\":true}\n", id);
    } else if (strcmp(op, "load") == 0) {
      size_t n;
      const char *reason = "BAD_FORMAT";
      if (json_member(line, "kind", op, 64) && json_unquote(op) && json_member(line, "hex", arg, MAX_LINE) &&
          json_unquote(arg) && hex_to_bytes(arg, bytes, MAX_LINE / 2, &n))
        reason = check_material(op, bytes, n);
      if (reason) printf("{\"id\":%s,\"ok\":false,\"reason\":\"%s\"}\n", id, reason);
      else printf("{\"id\":%s,\"ok\":true}\n", id);
    } else if (strcmp(op, "verify") == 0) {
      const char *reason = json_member(line, "qr", arg, MAX_LINE) && json_unquote(arg) ? check_qr(arg) : "BAD_FORMAT";
      printf("{\"id\":%s,\"accepted\":false,\"reason\":\"%s\"}\n", id, reason);
    } else {
      printf("{\"id\":%s,\"error\":\"unsupported op\"}\n", id);
    }
    fflush(stdout);
  }
  return 0;
}
