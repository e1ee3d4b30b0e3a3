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
 * One-shot matching
 * ====================================================================================================== */

static int has_q(const uc *s, size_t len) { return len > 0 && memchr(s, '?', len) != NULL; }

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
 * Compiled patterns
 * ====================================================================================================== */

typedef struct {
    size_t off;   /* into lxa_glob.pat */
    size_t len;
    size_t fail;  /* into lxa_glob.fail; SIZE_MAX when the segment is searched directly (has `?`) */
} lxa_seg;

/* INVARIANT(one-block): the struct, its segments, the failure tables and the pattern copy are one
 * allocation, in that order, so lxa_glob_free is a single free. */
struct lxa_glob {
    int icase;
    size_t nseg; /* number of `*` + 1 */
    const lxa_seg *seg;
    const size_t *fail;
    const uc *pat;
};

lxa_glob *lxa_glob_compile(const char *pat, size_t plen, int icase)
{
    const uc *p = (const uc *)pat;
    size_t nstar = 0;
    for (size_t i = 0; i < plen; i++)
        nstar += (p[i] == '*');
    size_t nseg = nstar + 1;

    /* Failure tables for the middle segments (not the first, not the last) without `?`. */
    size_t nfail = 0;
    {
        size_t start = 0, k = 0;
        for (size_t i = 0; i <= plen; i++) {
            if (i == plen || p[i] == '*') {
                if (k > 0 && k < nseg - 1 && !has_q(p + start, i - start))
                    nfail += i - start;
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

    size_t start = 0, k = 0, fo = 0;
    for (size_t i = 0; i <= plen; i++) {
        if (i == plen || copy[i] == '*') {
            size_t len = i - start;
            seg[k].off = start;
            seg[k].len = len;
            seg[k].fail = SIZE_MAX;
            if (k > 0 && k < nseg - 1 && len > 0 && !has_q(copy + start, len)) {
                kmp_table(copy + start, len, icase, fail + fo);
                seg[k].fail = fo;
                fo += len;
            }
            start = i + 1;
            k++;
        }
    }
    assert(k == nseg && fo == nfail);

    g->icase = icase ? 1 : 0;
    g->nseg = nseg;
    g->seg = seg;
    g->fail = fail;
    g->pat = copy;
    return g;
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
        const lxa_seg *sg = &g->seg[k];
        if (sg->len == 0)
            continue;
        int ok = (sg->fail != SIZE_MAX)
                     ? find_kmp(p + sg->off, sg->len, g->fail + sg->fail, t, tlen, lo, hi, icase, &lo)
                     : find_direct(p + sg->off, sg->len, t, tlen, lo, hi, icase, &lo);
        if (!ok)
            return 0;
    }
    return 1;
}

void lxa_glob_free(lxa_glob *g) { free(g); }
