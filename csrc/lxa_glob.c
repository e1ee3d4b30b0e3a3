/*
 * lxa_glob.c - the IAM wildcard matcher. Semantics, algorithm and cost are described in lxa_glob.h.
 */
#include "lxa_glob.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned char uc;

/* ======================================================================================================
 * Characters and case
 * ====================================================================================================== */

/* A UTF-8 continuation byte (10xxxxxx) never starts a character. */
static inline int is_cont(uc c) { return (c & 0xC0u) == 0x80u; }

/* ASCII-only folding: A-Z -> a-z, every other byte unchanged. */
static inline uc fold(uc c) { return (c >= 'A' && c <= 'Z') ? (uc)(c | 0x20u) : c; }

static inline uc cv(uc c, int icase) { return icase ? fold(c) : c; }

/* INVARIANT(char-start): i is a character start (or the end of the text) iff i == 0, i == n, or t[i] is not
 * a continuation byte. Every match starts and ends at such positions. */
static inline int is_start(const uc *t, size_t n, size_t i) { return i == 0 || i >= n || !is_cont(t[i]); }

/* The end of the character that starts at p (p < n). */
static inline size_t next_char(const uc *t, size_t n, size_t p)
{
    assert(p < n);
    p++;
    while (p < n && is_cont(t[p]))
        p++;
    return p;
}

/* The start of the character that ends at e (0 < e, e a character start). */
static inline size_t prev_char(const uc *t, size_t e)
{
    assert(e > 0);
    e--;
    while (e > 0 && is_cont(t[e]))
        e--;
    return e;
}

static int bytes_eq(const uc *a, const uc *b, size_t n, int icase)
{
    if (!icase)
        return memcmp(a, b, n) == 0;
    for (size_t i = 0; i < n; i++)
        if (fold(a[i]) != fold(b[i]))
            return 0;
    return 1;
}

/* ======================================================================================================
 * One segment (a piece of pattern without `*`) at a fixed position
 * ====================================================================================================== */

/* Match segment s[0..slen) forwards from text position p, not past lim (lim <= n).
 * On success store the end in *endp and return 1. */
static int seg_fwd(const uc *s, size_t slen, const uc *t, size_t n, size_t p, size_t lim, int icase,
                   size_t *endp)
{
    size_t i = 0;
    if (!is_start(t, n, p))
        return 0;
    while (i < slen) {
        if (s[i] == '?') {
            if (p >= lim)
                return 0;
            p = next_char(t, n, p);
            if (p > lim)
                return 0;
            i++;
        } else {
            size_t j = i;
            while (j < slen && s[j] != '?')
                j++;
            size_t run = j - i;
            if (lim - p < run || !bytes_eq(s + i, t + p, run, icase))
                return 0;
            p += run;
            if (!is_start(t, n, p))
                return 0; /* the literal ends inside a character */
            i = j;
        }
    }
    *endp = p;
    return 1;
}

/* Match segment s[0..slen) backwards so that it ends at text position e (a character start), not before lo.
 * On success store the start in *startp and return 1. */
static int seg_bwd(const uc *s, size_t slen, const uc *t, size_t n, size_t e, size_t lo, int icase,
                   size_t *startp)
{
    size_t i = slen;
    assert(is_start(t, n, e));
    while (i > 0) {
        if (s[i - 1] == '?') {
            if (e <= lo)
                return 0;
            e = prev_char(t, e);
            assert(e >= lo); /* lo is a character start (the end of S0), so one step back cannot pass it */
            i--;
        } else {
            size_t j = i;
            while (j > 0 && s[j - 1] != '?')
                j--;
            size_t run = i - j;
            if (e - lo < run || !bytes_eq(s + j, t + e - run, run, icase))
                return 0;
            e -= run;
            if (!is_start(t, n, e))
                return 0; /* the literal starts inside a character */
            i = j;
        }
    }
    *startp = e;
    return 1;
}

/* ======================================================================================================
 * Finding a middle segment: leftmost occurrence in [cur, hi)
 * ====================================================================================================== */

/* KMP failure table: fail[k] = length of the longest proper border of s[0..k], under cv(., icase). */
static void kmp_table(const uc *s, size_t m, int icase, size_t *fail)
{
    size_t k = 0;
    fail[0] = 0;
    for (size_t i = 1; i < m; i++) {
        uc c = cv(s[i], icase);
        while (k > 0 && cv(s[k], icase) != c)
            k = fail[k - 1];
        if (cv(s[k], icase) == c)
            k++;
        fail[i] = k;
    }
}

/* Leftmost occurrence of the `?`-free segment s[0..m) (m > 0) in t[cur..hi) that starts and ends at
 * character starts. The text pointer only moves forwards: O(hi - cur) after the O(m) table. */
static int find_kmp(const uc *s, size_t m, const size_t *fail, const uc *t, size_t n, size_t cur, size_t hi,
                    int icase, size_t *endp)
{
    size_t k = 0;
    for (size_t i = cur; i < hi; i++) {
        uc c = cv(t[i], icase);
        while (k > 0 && cv(s[k], icase) != c)
            k = fail[k - 1];
        if (cv(s[k], icase) == c)
            k++;
        if (k == m) {
            if (is_start(t, n, i + 1 - m) && is_start(t, n, i + 1)) {
                *endp = i + 1;
                return 1;
            }
            k = fail[m - 1];
        }
    }
    return 0;
}

/* Leftmost occurrence of any segment by trying every character start: O((hi - cur) * slen).
 * NOTE: used for segments containing `?` (a `?` breaks KMP's border argument, because it matches
 * characters of different byte lengths), and as the fallback when a large failure table cannot be allocated. */
static int find_direct(const uc *s, size_t slen, const uc *t, size_t n, size_t cur, size_t hi, int icase,
                       size_t *endp)
{
    for (size_t p = cur; p < hi; p++) {
        if (seg_fwd(s, slen, t, n, p, hi, icase, endp))
            return 1;
    }
    return 0;
}

/* ======================================================================================================
 * Middle segments with `?`
 *
 * A middle segment is `?`^a L `?`^b with L free of `?` (at most one literal piece), or it has `?` between two
 * literal pieces. The first kind is found in linear time: skip a characters, find L with KMP, skip b characters
 * (a leftmost L gives the leftmost segment, and if its end passes hi, every later one does too). The second kind
 * is pattern matching with don't-care characters, for which no linear-time algorithm is known; it is found by
 * bit-parallel Shift-And over characters: O(|text| * ceil(c / 64)) for a segment of c characters, with one mask
 * of ceil(c / 64) words per distinct character of the segment (plus one for every other character).
 * ====================================================================================================== */

static int has_q(const uc *s, size_t len) { return len > 0 && memchr(s, '?', len) != NULL; }

/* Skip k characters forwards from p, not past hi (a character start). 1 on success, new position in *endp. */
static int skip_chars(const uc *t, size_t n, size_t p, size_t k, size_t hi, size_t *endp)
{
    while (k-- > 0) {
        if (p >= hi)
            return 0;
        p = next_char(t, n, p);
    }
    *endp = p;
    return 1;
}

/* A multibyte (or malformed) character of a segment. Only its first byte can be ASCII (a stray continuation
 * byte joins the character before it), so case folding touches the first byte only. */
typedef struct {
    const uc *p;
    size_t len;
} lxa_wchar;

static int wchar_cmp_icase(const lxa_wchar *x, const lxa_wchar *y, int icase)
{
    uc a = cv(x->p[0], icase), b = cv(y->p[0], icase);
    if (a != b)
        return a < b ? -1 : 1;
    size_t m = x->len < y->len ? x->len : y->len;
    int r = m > 1 ? memcmp(x->p + 1, y->p + 1, m - 1) : 0;
    if (r != 0)
        return r;
    return (x->len > y->len) - (x->len < y->len);
}

static int wchar_cmp_exact(const void *a, const void *b) { return wchar_cmp_icase(a, b, 0); }
static int wchar_cmp_folded(const void *a, const void *b) { return wchar_cmp_icase(a, b, 1); }

/* The bit-parallel form of one middle segment (see above). Symbols: the segment's distinct ASCII characters
 * first, then its distinct multibyte ones in sorted order, then `other` (any character not in the segment). */
typedef struct {
    size_t c;          /* characters in the segment (>= 2: it has two literal pieces) */
    size_t W;          /* words per mask row: ceil(c / 64) */
    size_t nw;         /* distinct multibyte characters */
    uint32_t other;    /* the symbol of a character the segment does not contain */
    int icase;
    uint32_t ascii[128]; /* symbol of each single-byte ASCII character */
    lxa_wchar *w;      /* sorted distinct multibyte characters (pointing into the pattern copy) */
    uint64_t *masks;   /* (other + 1) rows of W words */
} lxa_sa;

/* The largest mask table a segment may have (bytes); a longer segment with many distinct characters is searched
 * by direct comparison instead, O(|text| * |segment|), and the header says so. */
#define LXA_GLOB_SA_MAX_BYTES ((size_t)8 << 20)

static void sa_free(lxa_sa *sa)
{
    if (sa != NULL) {
        free(sa->w);
        free(sa->masks);
        free(sa);
    }
}

static uint32_t sa_sym(const lxa_sa *sa, const uc *p, size_t len)
{
    if (len == 1 && p[0] < 0x80u)
        return sa->ascii[p[0]];
    size_t lo = 0, hi = sa->nw;
    lxa_wchar key = {p, len};
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = wchar_cmp_icase(&key, &sa->w[mid], sa->icase);
        if (r == 0)
            return sa->other - (uint32_t)sa->nw + (uint32_t)mid;
        if (r < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return sa->other;
}

/* Build the Shift-And form of segment s[0..m). NULL when memory runs out or the table would pass the cap. */
static lxa_sa *sa_build(const uc *s, size_t m, int icase)
{
    size_t c = 0;
    for (size_t i = 0; i < m; c++) { /* the same walk as below: `?`, or a byte and its continuation bytes */
        if (s[i++] != '?')
            while (i < m && is_cont(s[i]))
                i++;
    }
    lxa_sa *sa = calloc(1, sizeof(lxa_sa));
    if (sa == NULL)
        return NULL;
    sa->c = c;
    sa->W = (c + 63u) >> 6;
    sa->icase = icase;
    sa->w = malloc((c ? c : 1) * sizeof(lxa_wchar));
    if (sa->w == NULL) {
        sa_free(sa);
        return NULL;
    }
    /* distinct ASCII characters, then multibyte ones */
    uint32_t seen[128];
    for (size_t b = 0; b < 128; b++)
        seen[b] = UINT32_MAX;
    uint32_t na = 0;
    size_t nw = 0;
    for (size_t i = 0; i < m;) {
        if (s[i] == '?') {
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < m && is_cont(s[j]))
            j++;
        if (j == i + 1 && s[i] < 0x80u) {
            uc f = cv(s[i], icase);
            if (seen[f] == UINT32_MAX)
                seen[f] = na++;
        } else {
            sa->w[nw].p = s + i;
            sa->w[nw].len = j - i;
            nw++;
        }
        i = j;
    }
    if (nw > 1) {
        qsort(sa->w, nw, sizeof(lxa_wchar), icase ? wchar_cmp_folded : wchar_cmp_exact);
        size_t u = 1;
        for (size_t k = 1; k < nw; k++)
            if (wchar_cmp_icase(&sa->w[k], &sa->w[u - 1], icase) != 0)
                sa->w[u++] = sa->w[k];
        nw = u;
    }
    sa->nw = nw;
    sa->other = na + (uint32_t)nw;
    for (size_t b = 0; b < 128; b++) {
        uc f = cv((uc)b, icase);
        sa->ascii[b] = seen[f] == UINT32_MAX ? sa->other : seen[f];
    }
    size_t rows = (size_t)sa->other + 1;
    if (rows > LXA_GLOB_SA_MAX_BYTES / sizeof(uint64_t) / sa->W) {
        sa_free(sa);
        return NULL;
    }
    sa->masks = calloc(rows * sa->W, sizeof(uint64_t));
    if (sa->masks == NULL) {
        sa_free(sa);
        return NULL;
    }
    /* literal characters in their own row; `?` positions in every row (OR-ed in at the end) */
    uint64_t *wild = sa->masks + (size_t)sa->other * sa->W; /* the `other` row is exactly the `?` positions */
    size_t ci = 0;
    for (size_t i = 0; i < m; ci++) {
        if (s[i] == '?') {
            wild[ci >> 6] |= (uint64_t)1u << (ci & 63u);
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < m && is_cont(s[j]))
            j++;
        uint32_t y = sa_sym(sa, s + i, j - i);
        sa->masks[(size_t)y * sa->W + (ci >> 6)] |= (uint64_t)1u << (ci & 63u);
        i = j;
    }
    for (size_t y = 0; y < sa->other; y++)
        for (size_t w = 0; w < sa->W; w++)
            sa->masks[y * sa->W + w] |= wild[w];
    return sa;
}

/* Leftmost occurrence of the segment in t[cur..hi) (cur and hi character starts); its end in *endp.
 * D is scratch of sa->W words. */
static int sa_find(const lxa_sa *sa, const uc *t, size_t n, size_t cur, size_t hi, uint64_t *D, size_t *endp)
{
    size_t W = sa->W;
    size_t top_w = (sa->c - 1) >> 6;
    uint64_t top_b = (uint64_t)1u << ((sa->c - 1) & 63u);
    memset(D, 0, W * sizeof(uint64_t));
    for (size_t p = cur; p < hi;) {
        size_t e = next_char(t, n, p);
        const uint64_t *M = sa->masks + (size_t)sa_sym(sa, t + p, e - p) * W;
        uint64_t carry = 1;
        for (size_t w = 0; w < W; w++) {
            uint64_t d = D[w];
            D[w] = ((d << 1) | carry) & M[w];
            carry = d >> 63;
        }
        p = e;
        if (D[top_w] & top_b) {
            *endp = p;
            return 1;
        }
    }
    return 0;
}

/* Run sa_find with scratch on the stack for segments up to 64 * 64 characters, on the heap beyond;
 * -1 when that allocation fails. */
static int sa_find_any(const lxa_sa *sa, const uc *t, size_t n, size_t cur, size_t hi, size_t *endp)
{
    uint64_t stack_d[64];
    if (sa->W <= 64)
        return sa_find(sa, t, n, cur, hi, stack_d, endp);
    uint64_t *D = malloc(sa->W * sizeof(uint64_t));
    if (D == NULL)
        return -1;
    int r = sa_find(sa, t, n, cur, hi, D, endp);
    free(D);
    return r;
}

/* ======================================================================================================
 * Compiled patterns
 * ====================================================================================================== */

enum {
    SEG_EMPTY,  /* nothing between two adjacent stars */
    SEG_KMP,    /* no `?`: KMP with the failure table at .fail */
    SEG_QSKIP,  /* `?`^qa L `?`^qb, L free of `?` (L may be empty; its failure table at .fail) */
    SEG_SA,     /* `?` between literal pieces: Shift-And (.sa) */
    SEG_DIRECT, /* as SEG_SA when its table would pass LXA_GLOB_SA_MAX_BYTES: direct comparison */
};

typedef struct {
    size_t off;   /* into lxa_glob.pat */
    size_t len;
    int kind;
    size_t fail;  /* into lxa_glob.fail (SEG_KMP, SEG_QSKIP with a literal) */
    size_t qa, qb, loff, llen; /* SEG_QSKIP: leading and trailing `?` counts, the literal's offset and length */
    lxa_sa *sa;   /* SEG_SA */
} lxa_seg;

/* The struct, its segments, the failure tables and the pattern copy are one allocation, in that order; the
 * Shift-And tables of SEG_SA segments are separate allocations, freed by lxa_glob_free. */
struct lxa_glob {
    int icase;
    size_t nseg; /* number of `*` + 1 */
    lxa_seg *seg;
    const size_t *fail;
    const uc *pat;
};

/* The kind of middle segment s[0..len), and for SEG_QSKIP its shape. */
static int seg_kind(const uc *s, size_t len, size_t *qa, size_t *qb)
{
    if (len == 0)
        return SEG_EMPTY;
    if (!has_q(s, len))
        return SEG_KMP;
    size_t a = 0, b = 0;
    while (a < len && s[a] == '?')
        a++;
    while (b < len - a && s[len - 1 - b] == '?')
        b++;
    *qa = a;
    *qb = b;
    return has_q(s + a, len - a - b) ? SEG_SA : SEG_QSKIP;
}

lxa_glob *lxa_glob_compile(const char *pat, size_t plen, int icase)
{
    const uc *p = (const uc *)pat;
    size_t nstar = 0;
    for (size_t i = 0; i < plen; i++)
        nstar += (p[i] == '*');
    size_t nseg = nstar + 1;

    /* Failure tables: middle segments without `?`, and the literal of SEG_QSKIP segments. */
    size_t nfail = 0;
    {
        size_t start = 0, k = 0, qa, qb;
        for (size_t i = 0; i <= plen; i++) {
            if (i == plen || p[i] == '*') {
                if (k > 0 && k < nseg - 1) {
                    int kind = seg_kind(p + start, i - start, &qa, &qb);
                    if (kind == SEG_KMP)
                        nfail += i - start;
                    else if (kind == SEG_QSKIP)
                        nfail += i - start - qa - qb;
                }
                start = i + 1;
                k++;
            }
        }
    }

    /* Sizes; nseg <= plen + 1 and nfail <= plen, so guard against overflow once, on plen. */
    if (plen > (SIZE_MAX - sizeof(lxa_glob)) / (sizeof(lxa_seg) + sizeof(size_t) + 1) - 1)
        return NULL;
    size_t size = sizeof(lxa_glob) + nseg * sizeof(lxa_seg) + nfail * sizeof(size_t) + plen + 1;
    unsigned char *block = malloc(size);
    if (block == NULL)
        return NULL;

    lxa_glob *g = (lxa_glob *)block;
    lxa_seg *seg = (lxa_seg *)(block + sizeof(lxa_glob));
    size_t *fail = (size_t *)(block + sizeof(lxa_glob) + nseg * sizeof(lxa_seg));
    uc *copy = block + sizeof(lxa_glob) + nseg * sizeof(lxa_seg) + nfail * sizeof(size_t);
    if (plen)
        memcpy(copy, p, plen);
    copy[plen] = 0;
    g->icase = icase ? 1 : 0;
    g->nseg = nseg;
    g->seg = seg;
    g->fail = fail;
    g->pat = copy;

    size_t start = 0, k = 0, fo = 0;
    for (size_t i = 0; i <= plen; i++) {
        if (i == plen || copy[i] == '*') {
            lxa_seg *sg = &seg[k];
            memset(sg, 0, sizeof(*sg));
            sg->off = start;
            sg->len = i - start;
            sg->fail = SIZE_MAX;
            sg->kind = SEG_DIRECT; /* the first and last segments are anchored: kind unused */
            if (k > 0 && k < nseg - 1) {
                sg->kind = seg_kind(copy + start, sg->len, &sg->qa, &sg->qb);
                if (sg->kind == SEG_KMP) {
                    kmp_table(copy + start, sg->len, icase, fail + fo);
                    sg->fail = fo;
                    fo += sg->len;
                } else if (sg->kind == SEG_QSKIP) {
                    sg->loff = start + sg->qa;
                    sg->llen = sg->len - sg->qa - sg->qb;
                    if (sg->llen > 0) {
                        kmp_table(copy + sg->loff, sg->llen, icase, fail + fo);
                        sg->fail = fo;
                        fo += sg->llen;
                    }
                } else if (sg->kind == SEG_SA) {
                    sg->sa = sa_build(copy + start, sg->len, icase);
                    if (sg->sa == NULL)
                        sg->kind = SEG_DIRECT;
                }
            }
            start = i + 1;
            k++;
        }
    }
    assert(k == nseg && fo == nfail);
    return g;
}

/* Leftmost occurrence of middle segment sg in t[lo..hi); its end in *endp. -1 only when scratch memory for a
 * very long SEG_SA segment cannot be had (the caller then compares directly). */
static int seg_find(const lxa_glob *g, const lxa_seg *sg, const uc *t, size_t n, size_t lo, size_t hi,
                    size_t *endp)
{
    const uc *p = g->pat;
    int icase = g->icase;
    size_t pos;
    switch (sg->kind) {
    case SEG_EMPTY:
        *endp = lo;
        return 1;
    case SEG_KMP:
        return find_kmp(p + sg->off, sg->len, g->fail + sg->fail, t, n, lo, hi, icase, endp);
    case SEG_QSKIP:
        if (!skip_chars(t, n, lo, sg->qa, hi, &pos))
            return 0;
        if (sg->llen > 0 && !find_kmp(p + sg->loff, sg->llen, g->fail + sg->fail, t, n, pos, hi, icase, &pos))
            return 0;
        return skip_chars(t, n, pos, sg->qb, hi, endp);
    case SEG_SA: {
        int r = sa_find_any(sg->sa, t, n, lo, hi, endp);
        if (r >= 0)
            return r;
        return find_direct(p + sg->off, sg->len, t, n, lo, hi, icase, endp);
    }
    default:
        return find_direct(p + sg->off, sg->len, t, n, lo, hi, icase, endp);
    }
}

int lxa_glob_exec(const lxa_glob *g, const char *txt, size_t tlen)
{
    const uc *t = (const uc *)txt;
    const uc *p = g->pat;
    int icase = g->icase;
    size_t end, lo, hi;

    if (g->nseg == 1)
        return seg_fwd(p, g->seg[0].len, t, tlen, 0, tlen, icase, &end) && end == tlen;

    const lxa_seg *first = &g->seg[0];
    const lxa_seg *last = &g->seg[g->nseg - 1];
    if (!seg_fwd(p + first->off, first->len, t, tlen, 0, tlen, icase, &lo))
        return 0;
    if (!seg_bwd(p + last->off, last->len, t, tlen, tlen, lo, icase, &hi))
        return 0;

    for (size_t k = 1; k + 1 < g->nseg; k++) {
        if (!seg_find(g, &g->seg[k], t, tlen, lo, hi, &lo))
            return 0;
    }
    return 1;
}

void lxa_glob_free(lxa_glob *g)
{
    if (g == NULL)
        return;
    for (size_t k = 1; k + 1 < g->nseg; k++)
        sa_free(g->seg[k].sa);
    free(g);
}

/* ======================================================================================================
 * One-shot matching
 * ====================================================================================================== */


/* 1 if some middle segment of the pattern holds a `?` (such patterns are compiled for the one-shot match). */
static int middle_has_q(const uc *p, size_t first, size_t last)
{
    return last > first + 1 && has_q(p + first + 1, last - first - 1);
}

int lxa_glob_match(const char *pat, size_t plen, const char *txt, size_t tlen, int icase)
{
    const uc *p = (const uc *)pat;
    const uc *t = (const uc *)txt;
    size_t end, lo, hi;

    const uc *star = plen ? memchr(p, '*', plen) : NULL;
    if (star == NULL) /* no `*`: the whole text, nothing else */
        return seg_fwd(p, plen, t, tlen, 0, tlen, icase, &end) && end == tlen;

    size_t first = (size_t)(star - p);
    size_t last = plen - 1;
    while (p[last] != '*')
        last--;

    if (middle_has_q(p, first, last)) {
        lxa_glob *g = lxa_glob_compile(pat, plen, icase);
        if (g != NULL) {
            int r = lxa_glob_exec(g, txt, tlen);
            lxa_glob_free(g);
            return r;
        }
        /* out of memory: the direct search below gives the same answer, more slowly */
    }

    /* S0 is anchored at the start, Sk at the end; the middle segments go between them. */
    if (!seg_fwd(p, first, t, tlen, 0, tlen, icase, &lo))
        return 0;
    if (!seg_bwd(p + last + 1, plen - last - 1, t, tlen, tlen, lo, icase, &hi))
        return 0;

    size_t stack_table[LXA_GLOB_STACK_TABLE];
    size_t *heap_table = NULL;
    size_t heap_cap = 0;
    int ok = 1;

    size_t i = first + 1;
    while (ok && i < last) {
        size_t j = i;
        while (p[j] != '*') /* stops at `last` at the latest */
            j++;
        const uc *s = p + i;
        size_t m = j - i;
        if (m > 0) {
            size_t *table = NULL;
            if (!has_q(s, m)) {
                if (m <= LXA_GLOB_STACK_TABLE) {
                    table = stack_table;
                } else {
                    if (m > heap_cap) {
                        size_t *grown = (m <= SIZE_MAX / sizeof(size_t))
                                            ? realloc(heap_table, m * sizeof(size_t)) : NULL;
                        if (grown != NULL) {
                            heap_table = grown;
                            heap_cap = m;
                        }
                    }
                    if (m <= heap_cap)
                        table = heap_table;
                }
            }
            if (table != NULL) {
                kmp_table(s, m, icase, table);
                ok = find_kmp(s, m, table, t, tlen, lo, hi, icase, &lo);
            } else {
                ok = find_direct(s, m, t, tlen, lo, hi, icase, &lo);
            }
        }
        i = j + 1;
    }
    free(heap_table);
    return ok;
}

/* ======================================================================================================
 * Token matching over code points (patterns built per request, where a resolved policy variable's `*` is a
 * literal character): the same segment plan as above, on fixed-width characters, so `?` runs are O(1) skips.
 * ====================================================================================================== */

static inline int tok_eq(int32_t pt, uint32_t c) { return pt == LXA_TOK_ONE || (pt >= 0 && (uint32_t)pt == c); }

static int tok_at(const int32_t *s, size_t m, const uint32_t *t, size_t p)
{
    for (size_t i = 0; i < m; i++)
        if (!tok_eq(s[i], t[p + i]))
            return 0;
    return 1;
}

/* Leftmost occurrence of the literal code points s[0..m) (m > 0) in t[cur..hi): KMP. -1 out of memory. */
static int find_cp_kmp(const int32_t *s, size_t m, const uint32_t *t, size_t cur, size_t hi, size_t *endp)
{
    size_t stack_fail[LXA_GLOB_STACK_TABLE];
    size_t *fail = m <= LXA_GLOB_STACK_TABLE ? stack_fail : malloc(m * sizeof(size_t));
    if (fail == NULL)
        return -1;
    size_t k = 0;
    fail[0] = 0;
    for (size_t i = 1; i < m; i++) {
        while (k > 0 && s[k] != s[i])
            k = fail[k - 1];
        if (s[k] == s[i])
            k++;
        fail[i] = k;
    }
    int found = 0;
    k = 0;
    for (size_t i = cur; i < hi; i++) {
        while (k > 0 && (uint32_t)s[k] != t[i])
            k = fail[k - 1];
        if ((uint32_t)s[k] == t[i])
            k++;
        if (k == m) {
            *endp = i + 1;
            found = 1;
            break;
        }
    }
    if (fail != stack_fail)
        free(fail);
    return found;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Leftmost occurrence of s[0..m) (with `?` between literals) in t[cur..hi): Shift-And. -1 out of memory. */
static int find_cp_sa(const int32_t *s, size_t m, const uint32_t *t, size_t cur, size_t hi, size_t *endp)
{
    size_t W = (m + 63u) >> 6, nd = 0;
    uint32_t *d = malloc(m * sizeof(uint32_t));
    if (d == NULL)
        return -1;
    for (size_t i = 0; i < m; i++)
        if (s[i] >= 0)
            d[nd++] = (uint32_t)s[i];
    qsort(d, nd, sizeof(uint32_t), cmp_u32);
    size_t u = 0;
    for (size_t i = 0; i < nd; i++)
        if (u == 0 || d[i] != d[u - 1])
            d[u++] = d[i];
    size_t rows = u + 1; /* row u: any other code point */
    if (rows > LXA_GLOB_SA_MAX_BYTES / sizeof(uint64_t) / W) {
        free(d);
        size_t e;
        for (size_t p = cur; p + m <= hi; p++)
            if (tok_at(s, m, t, p)) {
                e = p + m;
                *endp = e;
                return 1;
            }
        return 0;
    }
    uint64_t *masks = calloc(rows * W + W, sizeof(uint64_t));
    if (masks == NULL) {
        free(d);
        return -1;
    }
    uint64_t *wild = masks + u * W, *D = masks + rows * W;
    for (size_t i = 0; i < m; i++) {
        uint64_t bit = (uint64_t)1u << (i & 63u);
        if (s[i] < 0) {
            wild[i >> 6] |= bit;
        } else {
            uint32_t *hit = bsearch(&(uint32_t){(uint32_t)s[i]}, d, u, sizeof(uint32_t), cmp_u32);
            masks[(size_t)(hit - d) * W + (i >> 6)] |= bit;
        }
    }
    for (size_t y = 0; y < u; y++)
        for (size_t w = 0; w < W; w++)
            masks[y * W + w] |= wild[w];
    size_t top_w = (m - 1) >> 6;
    uint64_t top_b = (uint64_t)1u << ((m - 1) & 63u);
    int found = 0;
    for (size_t p = cur; p < hi; p++) {
        uint32_t *hit = bsearch(&t[p], d, u, sizeof(uint32_t), cmp_u32);
        const uint64_t *M = masks + (hit ? (size_t)(hit - d) : u) * W;
        uint64_t carry = 1;
        for (size_t w = 0; w < W; w++) {
            uint64_t x = D[w];
            D[w] = ((x << 1) | carry) & M[w];
            carry = x >> 63;
        }
        if (D[top_w] & top_b) {
            *endp = p + 1;
            found = 1;
            break;
        }
    }
    free(masks);
    free(d);
    return found;
}

int lxa_tok_match(const int32_t *pat, size_t m, const uint32_t *txt, size_t n)
{
    size_t f = 0;
    while (f < m && pat[f] != LXA_TOK_ANY)
        f++;
    if (f == m)
        return m == n && tok_at(pat, m, txt, 0);
    size_t l = m - 1;
    while (pat[l] != LXA_TOK_ANY)
        l--;
    size_t k = m - l - 1;
    if (n < f + k || !tok_at(pat, f, txt, 0) || !tok_at(pat + l + 1, k, txt, n - k))
        return 0;
    size_t lo = f, hi = n - k;
    for (size_t i = f + 1; i < l;) {
        size_t j = i;
        while (pat[j] != LXA_TOK_ANY)
            j++;
        const int32_t *s = pat + i;
        size_t len = j - i, qa = 0, qb = 0;
        i = j + 1;
        if (len == 0)
            continue;
        while (qa < len && s[qa] == LXA_TOK_ONE)
            qa++;
        while (qb < len - qa && s[len - 1 - qb] == LXA_TOK_ONE)
            qb++;
        size_t inner = len - qa - qb, pos = lo + qa;
        int r = 1, has_one = 0;
        for (size_t x = qa; x < qa + inner && !has_one; x++)
            has_one = s[x] == LXA_TOK_ONE;
        if (pos > hi)
            return 0;
        if (has_one)
            r = find_cp_sa(s + qa, inner, txt, pos, hi, &pos);
        else if (inner > 0)
            r = find_cp_kmp(s + qa, inner, txt, pos, hi, &pos);
        if (r != 1)
            return r;
        if (pos + qb > hi)
            return 0;
        lo = pos + qb;
    }
    return 1;
}
