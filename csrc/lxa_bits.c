/*
 * lxa_bits.c - dense bitsets over statement ids. See lxa_bits.h.
 */
#include "lxa_bits.h"

int lxa_bits_and(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t nw)
{
    uint64_t acc = 0;
    for (size_t i = 0; i < nw; i++) {
        uint64_t v = a[i] & b[i];
        out[i] = v;
        acc |= v;
    }
    return acc != 0;
}

int lxa_bits_and_inplace(uint64_t *out, const uint64_t *a, size_t nw)
{
    uint64_t acc = 0;
    for (size_t i = 0; i < nw; i++) {
        uint64_t v = out[i] & a[i];
        out[i] = v;
        acc |= v;
    }
    return acc != 0;
}

void lxa_bits_or_inplace(uint64_t *out, const uint64_t *a, size_t nw)
{
    for (size_t i = 0; i < nw; i++)
        out[i] |= a[i];
}

void lxa_bits_andnot_inplace(uint64_t *out, const uint64_t *a, size_t nw)
{
    for (size_t i = 0; i < nw; i++)
        out[i] &= ~a[i];
}

int lxa_bits_intersects(const uint64_t *a, const uint64_t *b, size_t nw)
{
    for (size_t i = 0; i < nw; i++)
        if (a[i] & b[i])
            return 1;
    return 0;
}

int lxa_bits_any(const uint64_t *a, size_t nw)
{
    for (size_t i = 0; i < nw; i++)
        if (a[i])
            return 1;
    return 0;
}

size_t lxa_bits_count(const uint64_t *a, size_t nw)
{
    size_t c = 0;
    for (size_t i = 0; i < nw; i++)
        c += (size_t)__builtin_popcountll(a[i]);
    return c;
}

size_t lxa_bits_next(const uint64_t *a, size_t nw, size_t from)
{
    size_t wi = from >> 6;
    if (wi >= nw)
        return SIZE_MAX;
    uint64_t w = a[wi] & (~(uint64_t)0 << (from & 63u));
    for (;;) {
        if (w)
            return (wi << 6) + (size_t)__builtin_ctzll(w);
        if (++wi >= nw)
            return SIZE_MAX;
        w = a[wi];
    }
}

void lxa_bits_set_many(uint64_t *out, const uint32_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[ids[i] >> 6] |= (uint64_t)1u << (ids[i] & 63u);
}

void lxa_bits_clear_many(uint64_t *out, const uint32_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[ids[i] >> 6] &= ~((uint64_t)1u << (ids[i] & 63u));
}
