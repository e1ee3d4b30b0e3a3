/*
 * lxa_bits.h - dense bitsets over statement ids, as the compiled engine uses them.
 *
 * The project's own C11; no Python.h. Every exported symbol starts with lxa_.
 *
 * A bitset of n bits is an array of ceil(n / 64) uint64_t words; bit i is (w[i >> 6] >> (i & 63)) & 1.
 * INVARIANT(tail-zero): the bits of the last word above n are always 0, so "any" and "count" need no mask.
 * Every function is pure (reads its inputs, writes only its output), never allocates and never fails, so all of
 * them may be called without the GIL and from many threads at once.
 */
#ifndef LXA_BITS_H
#define LXA_BITS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Words needed for n bits. */
static inline size_t lxa_bits_words(size_t n) { return (n + 63u) >> 6; }

static inline int lxa_bits_test(const uint64_t *w, size_t i) { return (int)((w[i >> 6] >> (i & 63u)) & 1u); }
static inline void lxa_bits_set(uint64_t *w, size_t i) { w[i >> 6] |= (uint64_t)1u << (i & 63u); }
static inline void lxa_bits_clear(uint64_t *w, size_t i) { w[i >> 6] &= ~((uint64_t)1u << (i & 63u)); }

/* out = a & b over nw words; returns 1 if any bit of the result is set. out may alias a or b. */
int lxa_bits_and(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t nw);

/* out &= a; returns 1 if any bit of out remains set. */
int lxa_bits_and_inplace(uint64_t *out, const uint64_t *a, size_t nw);

/* out |= a. */
void lxa_bits_or_inplace(uint64_t *out, const uint64_t *a, size_t nw);

/* out &= ~a. */
void lxa_bits_andnot_inplace(uint64_t *out, const uint64_t *a, size_t nw);

/* 1 if a & b has any bit set (nothing is written). */
int lxa_bits_intersects(const uint64_t *a, const uint64_t *b, size_t nw);

/* 1 if any bit is set. */
int lxa_bits_any(const uint64_t *a, size_t nw);

/* Number of set bits. */
size_t lxa_bits_count(const uint64_t *a, size_t nw);

/* The smallest set bit >= from, or SIZE_MAX when there is none. Iterate with
 *   for (i = lxa_bits_next(w, nw, 0); i != SIZE_MAX; i = lxa_bits_next(w, nw, i + 1)) ... */
size_t lxa_bits_next(const uint64_t *a, size_t nw, size_t from);

/* Set the bits listed in ids[0..n) (each < 64 * nw). */
void lxa_bits_set_many(uint64_t *out, const uint32_t *ids, size_t n);

/* Clear the bits listed in ids[0..n) (each < 64 * nw). */
void lxa_bits_clear_many(uint64_t *out, const uint32_t *ids, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* LXA_BITS_H */
