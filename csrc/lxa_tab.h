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

/* An exact str whose code units can be read without the GIL (its object layout is the public one). */
static inline int lxa_str_exact_ready(PyObject *o) {
    return Py_IS_TYPE(o, &PyUnicode_Type) && PyUnicode_IS_READY(o);
}

/* The content hash of a small dict of exact str, from its items' str hashes in the dict's order: start from
 * lxa_ctx_hash_start, mix in each (key, value) with lxa_ctx_hash_mix, end with lxa_ctx_hash_end (never 0).  The
 * str hashes are keyed per process (the interpreter's hash secret), so crafted contexts cannot be made to share
 * one; when they do, a probe still compares the items. */
static inline uint64_t lxa_ctx_hash_start(void) {
    return 0x84222325CBF29CE4ULL;
}

static inline uint64_t lxa_ctx_hash_mix(uint64_t h, Py_hash_t kh, Py_hash_t vh) {
    h = (h ^ (uint64_t)kh) * 0x100000001B3ULL;
    h = (h ^ (uint64_t)vh) * 0x9E3779B97F4A7C15ULL;
    return h ^ (h >> 31);
}

static inline uint64_t lxa_ctx_hash_end(uint64_t h) {
    return h | 1;
}

/* A dict context as the context table keeps it: its serial, and its items inline (`n_inline` >= 0) or as the
 * (key, value, ...) items of a tuple the owner keeps (`flat`, `n_flat` objects).  `owner` is the Python object
 * the record lives in. */
#define LXA_KEPT_ITEMS 4
typedef struct {
    uint64_t serial;
    Py_ssize_t n_inline;
    PyObject *const *flat;
    Py_ssize_t n_flat;
    PyObject *owner;
    lxa_item items[LXA_KEPT_ITEMS];
} lxa_ctx_rec;

/* One item of a request's dict context copied for a probe without the GIL: the key object's address (compared,
 * never read: the dict may change once the GIL is released), the key's and the value's str hashes (-1 until
 * computed) and their code units.  Only items whose key and value fit are copied. */
#define LXA_PAIR_BYTES 24
typedef struct {
    PyObject *key;
    Py_hash_t kh, vh;
    uint32_t kmeta, vmeta;         /* length << 3 | kind */
    char kdata[LXA_PAIR_BYTES];
    char vdata[LXA_PAIR_BYTES];
} lxa_pair;

static inline int lxa_copy_str(PyObject *s, uint32_t *meta, char *data) {
    size_t n = (size_t)PyUnicode_GET_LENGTH(s) * (size_t)PyUnicode_KIND(s);
    if (n > LXA_PAIR_BYTES)
        return 0;
    *meta = ((uint32_t)PyUnicode_GET_LENGTH(s) << 3) | (uint32_t)PyUnicode_KIND(s);
    memcpy(data, PyUnicode_DATA(s), n);
    return 1;
}

/* Copy exact, ready str `k` and `v` into `p` (the GIL held); 0 when either is too long. */
static inline int lxa_pair_fill(lxa_pair *p, PyObject *k, PyObject *v) {
    if (!lxa_copy_str(k, &p->kmeta, p->kdata) || !lxa_copy_str(v, &p->vmeta, p->vdata))
        return 0;
    p->key = k;
    p->kh = ((PyASCIIObject *)k)->hash;
    p->vh = ((PyASCIIObject *)v)->hash;
    return 1;
}

/* The str hash of copied code units: the function of them the interpreter computes for a str (its hash of the
 * code unit bytes), computed without the GIL. */
static inline Py_hash_t lxa_copy_hash(uint32_t meta, const char *data) {
    size_t n = (size_t)(meta >> 3) * (size_t)(meta & 7);
#if PY_VERSION_HEX >= 0x030E0000
    return Py_HashBuffer(data, (Py_ssize_t)n);
#else
    return _Py_HashBytes(data, (Py_ssize_t)n);
#endif
}

/* The content hash of `n` copied items (lxa_ctx_hash_* over their str hashes, computing the missing ones). */
static inline uint64_t lxa_pairs_hash(lxa_pair *p, Py_ssize_t n) {
    Py_ssize_t j;
    uint64_t h = lxa_ctx_hash_start();
    for (j = 0; j < n; j++) {
        if (p[j].kh == -1)
            p[j].kh = lxa_copy_hash(p[j].kmeta, p[j].kdata);
        if (p[j].vh == -1)
            p[j].vh = lxa_copy_hash(p[j].vmeta, p[j].vdata);
        h = lxa_ctx_hash_mix(h, p[j].kh, p[j].vh);
    }
    return lxa_ctx_hash_end(h);
}

/* Whether str object `s` (kept alive by the owner) holds the copied code units. */
static inline int lxa_str_is_copy(PyObject *s, uint32_t meta, const char *data) {
    if (meta != (((uint32_t)PyUnicode_GET_LENGTH(s) << 3) | (uint32_t)PyUnicode_KIND(s)))
        return 0;
    return memcmp(PyUnicode_DATA(s), data, (size_t)(meta >> 3) * (size_t)(meta & 7)) == 0;
}

/* Whether the `n` copied items are the record's, in order. */
static inline int lxa_ctx_same_pairs(const lxa_ctx_rec *r, const lxa_pair *p, Py_ssize_t n) {
    Py_ssize_t j;
    if (r->n_inline >= 0) {
        if (n != r->n_inline)
            return 0;
        for (j = 0; j < n; j++) {
            const lxa_item *it = &r->items[j];
            if (it->meta != p[j].vmeta || memcmp(it->data, p[j].vdata, (size_t)(it->meta >> 3) * (it->meta & 7)))
                return 0;
            if (p[j].key != it->key && !lxa_str_is_copy(it->key, p[j].kmeta, p[j].kdata))
                return 0;
        }
        return 1;
    }
    if (2 * n != r->n_flat)
        return 0;
    for (j = 0; j < n; j++)
        if (!lxa_str_is_copy(r->flat[2 * j], p[j].kmeta, p[j].kdata)
                || !lxa_str_is_copy(r->flat[2 * j + 1], p[j].vmeta, p[j].vdata))
            return 0;
    return 1;
}

/* The context table: a dict context's content hash -> its record, with the record's serial and its first three
 * items (values of up to 20 bytes of code units) in the slot itself.  A slot is 128 bytes, two adjacent cache
 * lines, so a probe for a context of up to three short items reads one slot and nothing else; longer contexts
 * are compared with the record.  One record per hash: a second content of the same hash is not added (its rows
 * take the slower path).  Readers and the one writer follow lxa_tab's rules (a slot is published by a release
 * store of its tag; a grown table replaces the old one, which is kept until lxa_ctab_free). */
#define LXA_CSLOT_ITEMS 3
#define LXA_CSLOT_BYTES 20
typedef struct {
    PyObject *key;
    uint32_t meta;                 /* value length << 3 | kind */
    char data[LXA_CSLOT_BYTES];
} lxa_citem;

typedef struct {
    uint64_t tag;                  /* 0: empty; else the content hash (lxa_ctx_hash_end: never 0) */
    uint64_t serial;
    const lxa_ctx_rec *rec;        /* kept alive by the table's owner */
    int32_t n;                     /* items in the slot: the whole context; -1: compare with the record */
    uint32_t pad_;
    lxa_citem items[LXA_CSLOT_ITEMS];
} lxa_cslot;
_Static_assert(sizeof(lxa_cslot) == 128, "a context slot is two cache lines");

typedef struct lxa_ctab_data {
    size_t mask, used;
    struct lxa_ctab_data *older;
    lxa_cslot *slots;              /* 64-byte aligned */
} lxa_ctab_data;

typedef struct {
    lxa_ctab_data *cur;
    size_t limit;
} lxa_ctab;

static inline lxa_ctab_data *lxa_ctab_data_new(size_t n) {
    lxa_ctab_data *d = (lxa_ctab_data *)calloc(1, sizeof(lxa_ctab_data));
    if (d == NULL)
        return NULL;
    d->slots = (lxa_cslot *)aligned_alloc(64, n * sizeof(lxa_cslot));
    if (d->slots == NULL) {
        free(d);
        return NULL;
    }
    memset(d->slots, 0, n * sizeof(lxa_cslot));
    d->mask = n - 1;
    return d;
}

static inline int lxa_ctab_init(lxa_ctab *t, size_t limit) {
    t->limit = limit;
    t->cur = lxa_ctab_data_new(64);
    return t->cur == NULL ? -1 : 0;
}

static inline void lxa_ctab_free(lxa_ctab *t) {
    lxa_ctab_data *d = t->cur, *next;
    while (d != NULL) {
        next = d->older;
        free(d->slots);
        free(d);
        d = next;
    }
    t->cur = NULL;
}

static inline size_t lxa_ctab_len(const lxa_ctab *t) {
    return t->cur == NULL ? 0 : t->cur->used;
}

/* The slot of hash `h`, or NULL. */
static inline const lxa_cslot *lxa_ctab_slot(const lxa_ctab *t, uint64_t h) {
    const lxa_ctab_data *d = __atomic_load_n(&t->cur, __ATOMIC_ACQUIRE);
    size_t i = (size_t)(lxa_mix3(h, 0, 0) >> 7) & d->mask;
    uint64_t st;
    for (;;) {
        const lxa_cslot *s = &d->slots[i];
        st = __atomic_load_n(&s->tag, __ATOMIC_ACQUIRE);
        if (st == 0)
            return NULL;
        if (st == h)
            return s;
        i = (i + 1) & d->mask;
    }
}

/* The record of hash `h`, or NULL. */
static inline const lxa_ctx_rec *lxa_ctab_get(const lxa_ctab *t, uint64_t h) {
    const lxa_cslot *s = lxa_ctab_slot(t, h);
    return s == NULL ? NULL : s->rec;
}

/* The serial of the context whose `n` copied items are `p` (their content hash `h`), or 0 when the table has none. */
static inline uint64_t lxa_ctab_find(const lxa_ctab *t, uint64_t h, const lxa_pair *p, Py_ssize_t n) {
    const lxa_cslot *s = lxa_ctab_slot(t, h);
    Py_ssize_t j;
    if (s == NULL)
        return 0;
    if (s->n < 0)
        return lxa_ctx_same_pairs(s->rec, p, n) ? s->serial : 0;
    if (s->n != n)
        return 0;
    for (j = 0; j < n; j++) {
        const lxa_citem *it = &s->items[j];
        if (it->meta != p[j].vmeta || memcmp(it->data, p[j].vdata, (size_t)(it->meta >> 3) * (it->meta & 7)))
            return 0;
        if (p[j].key != it->key && !lxa_str_is_copy(it->key, p[j].kmeta, p[j].kdata))
            return 0;
    }
    return s->serial;
}

static inline void lxa_cslot_place(lxa_ctab_data *d, const lxa_cslot *from) {
    size_t i = (size_t)(lxa_mix3(from->tag, 0, 0) >> 7) & d->mask;
    while (d->slots[i].tag != 0)
        i = (i + 1) & d->mask;
    memcpy((char *)&d->slots[i] + sizeof(uint64_t), (const char *)from + sizeof(uint64_t),
           sizeof(lxa_cslot) - sizeof(uint64_t));
    __atomic_store_n(&d->slots[i].tag, from->tag, __ATOMIC_RELEASE);
    d->used++;
}

/* Add record `rec` (kept alive by the caller as long as the table) under hash `h`.  1 added, 0 not (at the limit,
 * or the hash is present), -1 out of memory.  Writer only (the GIL held). */
static inline int lxa_ctab_put(lxa_ctab *t, uint64_t h, const lxa_ctx_rec *rec) {
    lxa_ctab_data *d = t->cur, *n;
    lxa_cslot s;
    size_t i;
    Py_ssize_t j;
    if (lxa_ctab_slot(t, h) != NULL || d->used >= t->limit)
        return 0;
    if ((d->used + 1) * 2 > d->mask + 1) {
        n = lxa_ctab_data_new((d->mask + 1) * 2);
        if (n == NULL)
            return -1;
        for (i = 0; i <= d->mask; i++)
            if (d->slots[i].tag != 0)
                lxa_cslot_place(n, &d->slots[i]);
        n->older = d;
        __atomic_store_n(&t->cur, n, __ATOMIC_RELEASE);
        d = n;
    }
    memset(&s, 0, sizeof(s));
    s.tag = h;
    s.serial = rec->serial;
    s.rec = rec;
    s.n = (rec->n_inline >= 0 && rec->n_inline <= LXA_CSLOT_ITEMS) ? (int32_t)rec->n_inline : -1;
    for (j = 0; s.n > 0 && j < s.n; j++) {
        const lxa_item *it = &rec->items[j];
        if ((size_t)(it->meta >> 3) * (it->meta & 7) > LXA_CSLOT_BYTES) {
            s.n = -1;
            break;
        }
        s.items[j].key = it->key;
        s.items[j].meta = it->meta;
        memcpy(s.items[j].data, it->data, (size_t)(it->meta >> 3) * (it->meta & 7));
    }
    lxa_cslot_place(d, &s);
    return 1;
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

/* Start loading the slot a probe for str key `o` reads first (nothing when `o` has no cached hash). */
static inline void lxa_tab_prefetch_str(const lxa_tab *t, PyObject *o) {
    const lxa_tab_data *d = __atomic_load_n(&t->cur, __ATOMIC_ACQUIRE);
    Py_hash_t h;
    if (!PyUnicode_CheckExact(o))
        return;
    h = ((PyASCIIObject *)o)->hash;
    if (h != -1)
        __builtin_prefetch(&d->slots[(size_t)(lxa_mix_hash(h) >> 7) & d->mask]);
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

/* The item array of a tuple. */
static inline PyObject **lxa_tuple_items(PyObject *t) {
    return ((PyTupleObject *)t)->ob_item;
}

/* The item array of a list the caller owns and nobody resizes while it is read. */
static inline PyObject **lxa_list_items(PyObject *l) {
    return ((PyListObject *)l)->ob_item;
}

#endif /* LXA_TAB_H */
