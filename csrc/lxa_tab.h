/* Read-mostly hash tables that threads probe without the GIL while one writer (holding the GIL) adds to them.
 *
 * Two kinds of key, one slot layout:
 *   - a str key: the slot holds the str object (kept alive by the owner) and its Python hash; a probe compares
 *     the object pointer first and then length, kind and code units (lxa_tab_get_str);
 *   - a triple of 64-bit integers (lxa_tab_get3).
 * The value is a pointer the owner keeps valid for the table's life.
 *
 * Concurrency: every write happens with the GIL held, so there is one writer at a time; readers may run on other
 * threads with the GIL released.  A slot is written key first and published by a release store of its tag; a
 * reader loads the tag with acquire, so it sees a whole slot or an empty one.  A table that fills past half is
 * copied into one twice the size and the new one is published by a release store; the old one is kept (not freed)
 * until the table is destroyed, because a reader may still be walking it.  Copies double, so what is kept is at
 * most the size of the live table.  A table at its entry limit takes no more entries (lxa_tab_put returns 0): its
 * owner then answers from its own slower caches, so memory stays bounded whatever the input.
 *
 * Only the interpreter's public object layout is read without the GIL (a str's length, kind, data and cached
 * hash), on objects the caller holds references to; str objects are immutable.
 */
#ifndef LXA_TAB_H
#define LXA_TAB_H

#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t tag;          /* 0: empty; else the key's mixed hash with the low bit set */
    uint64_t a, b, c;      /* the integer key, or (PyObject *) in a for a str key */
    const void *val;
} lxa_slot;

typedef struct lxa_tab_data {
    size_t mask;           /* slots - 1 (a power of two minus one) */
    size_t used;
    struct lxa_tab_data *older;  /* the table this one replaced, kept until lxa_tab_free */
    lxa_slot slots[];
} lxa_tab_data;

typedef struct {
    lxa_tab_data *cur;
    size_t limit;
} lxa_tab;

static inline uint64_t lxa_mix3(uint64_t a, uint64_t b, uint64_t c) {
    uint64_t h = a * 0x9E3779B97F4A7C15ULL;
    h ^= (b + 0x632BE59BD9B4E019ULL) * 0xC2B2AE3D27D4EB4FULL;
    h ^= (c + 0x85EBCA77C2B2AE63ULL) * 0x165667B19E3779F9ULL;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 32;
    return h | 1;
}

static inline uint64_t lxa_mix_hash(Py_hash_t ph) {
    uint64_t h = (uint64_t)ph * 0x9E3779B97F4A7C15ULL;
    h ^= h >> 31;
    return h | 1;
}

static inline lxa_tab_data *lxa_tab_data_new(size_t slots) {
    lxa_tab_data *d = (lxa_tab_data *)calloc(1, sizeof(lxa_tab_data) + slots * sizeof(lxa_slot));
    if (d != NULL)
        d->mask = slots - 1;
    return d;
}

/* 0 on success, -1 when out of memory. */
static inline int lxa_tab_init(lxa_tab *t, size_t limit) {
    t->limit = limit;
    t->cur = lxa_tab_data_new(64);
    return t->cur == NULL ? -1 : 0;
}

static inline void lxa_tab_free(lxa_tab *t) {
    lxa_tab_data *d = t->cur, *next;
    while (d != NULL) {
        next = d->older;
        free(d);
        d = next;
    }
    t->cur = NULL;
}

static inline size_t lxa_tab_len(const lxa_tab *t) {
    return t->cur == NULL ? 0 : t->cur->used;
}

/* A str usable as a key without the GIL: an exact, ready str whose hash is already computed. */
static inline int lxa_str_probeable(PyObject *o) {
    return Py_IS_TYPE(o, &PyUnicode_Type) && PyUnicode_IS_READY(o) && ((PyASCIIObject *)o)->hash != -1;
}

/* A str's cached hash, or -1 when not computed yet. */
static inline Py_hash_t lxa_str_hash(PyObject *o) {
    return ((PyASCIIObject *)o)->hash;
}

static inline int lxa_str_same(PyObject *x, PyObject *y) {
    Py_ssize_t n;
    int kind;
    if (x == y)
        return 1;
    n = PyUnicode_GET_LENGTH(x);
    kind = PyUnicode_KIND(x);
    if (n != PyUnicode_GET_LENGTH(y) || kind != PyUnicode_KIND(y))
        return 0;
    return memcmp(PyUnicode_DATA(x), PyUnicode_DATA(y), (size_t)n * (size_t)kind) == 0;
}

/* One item of a small dict of str kept by content: its key object (kept alive by the owner) and its value's length,
 * kind and code units inline, so that an equal item is recognised without reading the stored value object (in a
 * table of thousands of contexts, each object read is a cache miss). */
#define LXA_ITEM_BYTES 24
typedef struct {
    PyObject *key;
    uint32_t meta;                 /* value length << 3 | kind (never 0) */
    char data[LXA_ITEM_BYTES];
} lxa_item;

/* Fill `it` from exact str `k` and `v`; 0 when `v` is too long to keep inline. */
static inline int lxa_item_fill(lxa_item *it, PyObject *k, PyObject *v) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(v);
    int kind = PyUnicode_KIND(v);
    if ((size_t)n * (size_t)kind > LXA_ITEM_BYTES)
        return 0;
    it->key = k;
    it->meta = ((uint32_t)n << 3) | (uint32_t)kind;
    memcpy(it->data, PyUnicode_DATA(v), (size_t)n * (size_t)kind);
    return 1;
}

/* Whether exact str `k` and `v` are the item `it` holds (equal key, equal value). */
static inline int lxa_item_same(const lxa_item *it, PyObject *k, PyObject *v) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(v);
    int kind = PyUnicode_KIND(v);
    if (it->meta != (((uint32_t)n << 3) | (uint32_t)kind))
        return 0;
    if (k != it->key && !lxa_str_same(k, it->key))
        return 0;
    return memcmp(PyUnicode_DATA(v), it->data, (size_t)n * (size_t)kind) == 0;
}

/* The value of str key `o` (which must satisfy lxa_str_probeable), or NULL. */
static inline const void *lxa_tab_get_str(const lxa_tab *t, PyObject *o) {
    const lxa_tab_data *d = __atomic_load_n(&t->cur, __ATOMIC_ACQUIRE);
    uint64_t tag = lxa_mix_hash(((PyASCIIObject *)o)->hash), st;
    size_t i = (size_t)(tag >> 7) & d->mask;
    for (;;) {
        const lxa_slot *s = &d->slots[i];
        st = __atomic_load_n(&s->tag, __ATOMIC_ACQUIRE);
        if (st == 0)
            return NULL;
        if (st == tag && lxa_str_same((PyObject *)(uintptr_t)s->a, o))
            return s->val;
        i = (i + 1) & d->mask;
    }
}

static inline const void *lxa_tab_get3(const lxa_tab *t, uint64_t a, uint64_t b, uint64_t c) {
    const lxa_tab_data *d = __atomic_load_n(&t->cur, __ATOMIC_ACQUIRE);
    uint64_t tag = lxa_mix3(a, b, c), st;
    size_t i = (size_t)(tag >> 7) & d->mask;
    for (;;) {
        const lxa_slot *s = &d->slots[i];
        st = __atomic_load_n(&s->tag, __ATOMIC_ACQUIRE);
        if (st == 0)
            return NULL;
        if (st == tag && s->a == a && s->b == b && s->c == c)
            return s->val;
        i = (i + 1) & d->mask;
    }
}

static inline void lxa_slot_place(lxa_tab_data *d, uint64_t tag, uint64_t a, uint64_t b, uint64_t c,
                                  const void *val) {
    size_t i = (size_t)(tag >> 7) & d->mask;
    while (d->slots[i].tag != 0)
        i = (i + 1) & d->mask;
    d->slots[i].a = a;
    d->slots[i].b = b;
    d->slots[i].c = c;
    d->slots[i].val = val;
    __atomic_store_n(&d->slots[i].tag, tag, __ATOMIC_RELEASE);
    d->used++;
}

/* Make room for one more entry: 1 when there is room, 0 at the limit, -1 when out of memory.  Writer only. */
static inline int lxa_tab_reserve(lxa_tab *t) {
    lxa_tab_data *d = t->cur, *n;
    size_t i, slots;
    if (d->used >= t->limit)
        return 0;
    if ((d->used + 1) * 2 <= d->mask + 1)
        return 1;
    slots = (d->mask + 1) * 2;
    n = lxa_tab_data_new(slots);
    if (n == NULL)
        return -1;
    for (i = 0; i <= d->mask; i++)
        if (d->slots[i].tag != 0)
            lxa_slot_place(n, d->slots[i].tag, d->slots[i].a, d->slots[i].b, d->slots[i].c, d->slots[i].val);
    n->older = d;
    __atomic_store_n(&t->cur, n, __ATOMIC_RELEASE);
    return 1;
}

/* Add str key `o` (probeable, kept alive by the caller as long as the table) with `val`.  1 added, 0 not (at
 * the limit, or already present), -1 out of memory.  Writer only (the GIL held). */
static inline int lxa_tab_put_str(lxa_tab *t, PyObject *o, const void *val) {
    int r;
    if (lxa_tab_get_str(t, o) != NULL)
        return 0;
    r = lxa_tab_reserve(t);
    if (r <= 0)
        return r;
    lxa_slot_place(t->cur, lxa_mix_hash(((PyASCIIObject *)o)->hash), (uint64_t)(uintptr_t)o, 0, 0, val);
    return 1;
}

static inline int lxa_tab_put3(lxa_tab *t, uint64_t a, uint64_t b, uint64_t c, const void *val) {
    int r;
    if (lxa_tab_get3(t, a, b, c) != NULL)
        return 0;
    r = lxa_tab_reserve(t);
    if (r <= 0)
        return r;
    lxa_slot_place(t->cur, lxa_mix3(a, b, c), a, b, c, val);
    return 1;
}

/* The item array of a list the caller owns and nobody resizes while it is read. */
static inline PyObject **lxa_list_items(PyObject *l) {
    return ((PyListObject *)l)->ob_item;
}

#endif /* LXA_TAB_H */
