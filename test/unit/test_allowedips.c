/* AllowedIPs trie: the scripted cases of the Linux kernel's
 * selftest/allowedips.c (inputs and expected peers), a few of our own for the
 * packet helpers and argument checks, and a seeded randomized comparison with
 * a naive linear longest-prefix-match oracle. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>
#include <cmocka.h>

#include "wg/allowedips.h"

/* ---- helpers for the scripted cases ---------------------------------- */

static void ins4(struct wg_allowedips *t, void *peer, uint8_t a, uint8_t b, uint8_t c,
                 uint8_t d, uint8_t cidr)
{
    const uint8_t ip[4] = { a, b, c, d };
    assert_int_equal(wg_allowedips_insert(t, 4, ip, cidr, peer), 0);
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* IPv6 addresses written as four big-endian 32-bit words, as the kernel does. */
static void make6(uint8_t ip[16], uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
    put_be32(ip, a);
    put_be32(ip + 4, b);
    put_be32(ip + 8, c);
    put_be32(ip + 12, d);
}

static void ins6(struct wg_allowedips *t, void *peer, uint32_t a, uint32_t b, uint32_t c,
                 uint32_t d, uint8_t cidr)
{
    uint8_t ip[16];
    make6(ip, a, b, c, d);
    assert_int_equal(wg_allowedips_insert(t, 6, ip, cidr, peer), 0);
}

static void *get4(const struct wg_allowedips *t, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    const uint8_t ip[4] = { a, b, c, d };
    return wg_allowedips_lookup(t, 4, ip);
}

static void *get6(const struct wg_allowedips *t, uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
    uint8_t ip[16];
    make6(ip, a, b, c, d);
    return wg_allowedips_lookup(t, 6, ip);
}

/* Distinct, never-dereferenced peer handles. */
struct peers {
    char slot[8];
};
#define PEER(p, i) ((void *)&(p)->slot[i])

/* ---- kernel scripted cases ------------------------------------------- */

static void build_kernel_table(struct wg_allowedips *t, struct peers *p)
{
    void *a = PEER(p, 0), *b = PEER(p, 1), *c = PEER(p, 2), *d = PEER(p, 3);
    void *e = PEER(p, 4), *f = PEER(p, 5), *g = PEER(p, 6), *h = PEER(p, 7);

    ins4(t, a, 192, 168, 4, 0, 24);
    ins4(t, b, 192, 168, 4, 4, 32);
    ins4(t, c, 192, 168, 0, 0, 16);
    ins4(t, d, 192, 95, 5, 64, 27);
    ins4(t, c, 192, 95, 5, 65, 27);   /* replaces d; needs host bits masked */
    ins6(t, d, 0x26075300, 0x60006b00, 0, 0xc05f0543, 128);
    ins6(t, c, 0x26075300, 0x60006b00, 0, 0, 64);
    ins4(t, e, 0, 0, 0, 0, 0);
    ins6(t, e, 0, 0, 0, 0, 0);
    ins6(t, f, 0, 0, 0, 0, 0);        /* replaces e */
    ins6(t, g, 0x24046800, 0, 0, 0, 32);
    ins6(t, h, 0x24046800, 0x40040800, 0xdeadbeef, 0xdeadbeef, 64);   /* masked */
    ins6(t, a, 0x24046800, 0x40040800, 0xdeadbeef, 0xdeadbeef, 128);
    ins6(t, c, 0x24446800, 0x40e40800, 0xdeaebeef, 0xdefbeef, 128);
    ins6(t, b, 0x24446800, 0xf0e40800, 0xeeaebeef, 0, 98);
    ins4(t, g, 64, 15, 112, 0, 20);
    ins4(t, h, 64, 15, 123, 211, 25);  /* masked */
    ins4(t, a, 10, 0, 0, 0, 25);
    ins4(t, b, 10, 0, 0, 128, 25);
    ins4(t, a, 10, 1, 0, 0, 30);
    ins4(t, b, 10, 1, 0, 4, 30);
    ins4(t, c, 10, 1, 0, 8, 29);
    ins4(t, d, 10, 1, 0, 16, 29);
}

static void test_kernel_lookups(void **state)
{
    struct peers p;
    struct wg_allowedips t;
    void *a = PEER(&p, 0), *b = PEER(&p, 1), *c = PEER(&p, 2), *d = PEER(&p, 3);
    void *e = PEER(&p, 4), *f = PEER(&p, 5), *g = PEER(&p, 6), *h = PEER(&p, 7);

    wg_allowedips_init(&t);
    build_kernel_table(&t, &p);

    assert_ptr_equal(get4(&t, 192, 168, 4, 20), a);
    assert_ptr_equal(get4(&t, 192, 168, 4, 0), a);
    assert_ptr_equal(get4(&t, 192, 168, 4, 4), b);
    assert_ptr_equal(get4(&t, 192, 168, 200, 182), c);
    assert_ptr_equal(get4(&t, 192, 95, 5, 68), c);
    assert_ptr_equal(get4(&t, 192, 95, 5, 96), e);
    assert_ptr_equal(get6(&t, 0x26075300, 0x60006b00, 0, 0xc05f0543), d);
    assert_ptr_equal(get6(&t, 0x26075300, 0x60006b00, 0, 0xc02e01ee), c);
    assert_ptr_equal(get6(&t, 0x26075300, 0x60006b01, 0, 0), f);
    assert_ptr_equal(get6(&t, 0x24046800, 0x40040806, 0, 0x1006), g);
    assert_ptr_equal(get6(&t, 0x24046800, 0x40040806, 0x1234, 0x5678), g);
    assert_ptr_equal(get6(&t, 0x240467ff, 0x40040806, 0x1234, 0x5678), f);
    assert_ptr_equal(get6(&t, 0x24046801, 0x40040806, 0x1234, 0x5678), f);
    assert_ptr_equal(get6(&t, 0x24046800, 0x40040800, 0x1234, 0x5678), h);
    assert_ptr_equal(get6(&t, 0x24046800, 0x40040800, 0, 0), h);
    assert_ptr_equal(get6(&t, 0x24046800, 0x40040800, 0x10101010, 0x10101010), h);
    assert_ptr_equal(get6(&t, 0x24046800, 0x40040800, 0xdeadbeef, 0xdeadbeef), a);
    assert_ptr_equal(get4(&t, 64, 15, 116, 26), g);
    assert_ptr_equal(get4(&t, 64, 15, 127, 3), g);
    assert_ptr_equal(get4(&t, 64, 15, 123, 1), g);
    assert_ptr_equal(get4(&t, 64, 15, 123, 128), h);
    assert_ptr_equal(get4(&t, 64, 15, 123, 129), h);
    assert_ptr_equal(get4(&t, 10, 0, 0, 52), a);
    assert_ptr_equal(get4(&t, 10, 0, 0, 220), b);
    assert_ptr_equal(get4(&t, 10, 1, 0, 2), a);
    assert_ptr_equal(get4(&t, 10, 1, 0, 6), b);
    assert_ptr_equal(get4(&t, 10, 1, 0, 10), c);
    assert_ptr_equal(get4(&t, 10, 1, 0, 20), d);

    /* Host routes for a, then removing a leaves none of them pointing to a. */
    ins4(&t, a, 1, 0, 0, 0, 32);
    ins4(&t, a, 64, 0, 0, 0, 32);
    ins4(&t, a, 128, 0, 0, 0, 32);
    ins4(&t, a, 192, 0, 0, 0, 32);
    ins4(&t, a, 255, 0, 0, 0, 32);
    wg_allowedips_remove_by_peer(&t, a);
    assert_ptr_not_equal(get4(&t, 1, 0, 0, 0), a);
    assert_ptr_not_equal(get4(&t, 64, 0, 0, 0), a);
    assert_ptr_not_equal(get4(&t, 128, 0, 0, 0), a);
    assert_ptr_not_equal(get4(&t, 192, 0, 0, 0), a);
    assert_ptr_not_equal(get4(&t, 255, 0, 0, 0), a);
    /* Our own: the default route e still catches them. */
    assert_ptr_equal(get4(&t, 1, 0, 0, 0), e);

    wg_allowedips_free(&t);
    assert_null(t.root4);
    assert_null(t.root6);
}

/* Nested prefixes of one peer both go. */
static void test_kernel_remove_nested(void **state)
{
    struct peers p;
    struct wg_allowedips t;
    void *a = PEER(&p, 0);

    wg_allowedips_init(&t);
    ins4(&t, a, 192, 168, 0, 0, 16);
    ins4(&t, a, 192, 168, 0, 0, 24);
    wg_allowedips_remove_by_peer(&t, a);
    assert_ptr_not_equal(get4(&t, 192, 168, 0, 1), a);
    assert_null(t.root4);   /* our own: nothing left behind */
    wg_allowedips_free(&t);
}

/* 128 host routes that each differ from all-ones in one bit: the deepest
 * possible set of branch points; freeing must not trip over them. */
static void test_kernel_deep_v6(void **state)
{
    struct peers p;
    struct wg_allowedips t;
    void *a = PEER(&p, 0);
    uint8_t ip[16];

    wg_allowedips_init(&t);
    for (unsigned i = 0; i < 128; i++) {
        memset(ip, 0xff, sizeof(ip));
        ip[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
        assert_int_equal(wg_allowedips_insert(&t, 6, ip, 128, a), 0);
    }
    /* Our own: every one is found, and all-ones itself is not. */
    for (unsigned i = 0; i < 128; i++) {
        memset(ip, 0xff, sizeof(ip));
        ip[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
        assert_ptr_equal(wg_allowedips_lookup(&t, 6, ip), a);
    }
    memset(ip, 0xff, sizeof(ip));
    assert_null(wg_allowedips_lookup(&t, 6, ip));
    wg_allowedips_free(&t);
}

/* ---- walk ------------------------------------------------------------ */

struct seen {
    unsigned count, other;
    bool found[5];
};

static bool same_prefix(int fam, const uint8_t *addr, uint8_t cidr, int want_fam,
                        const uint8_t *want, uint8_t want_cidr)
{
    return fam == want_fam && cidr == want_cidr &&
           memcmp(addr, want, fam == 4 ? 4 : 16) == 0;
}

static void record(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
    struct seen *s = ctx;
    uint8_t v4a[4] = { 192, 95, 5, 64 }, v4c[4] = { 10, 1, 0, 16 };
    uint8_t v6b[16], v6d[16], v6e[16];
    make6(v6b, 0x26075300, 0x60006b00, 0, 0xc05f0543);
    make6(v6d, 0x26075300, 0x6d8a6bf8, 0xdab1e000, 0);
    make6(v6e, 0x26075000, 0, 0, 0);

    s->count++;
    if (same_prefix(family, addr, cidr, 4, v4a, 27))
        s->found[0] = true;
    else if (same_prefix(family, addr, cidr, 6, v6b, 128))
        s->found[1] = true;
    else if (same_prefix(family, addr, cidr, 4, v4c, 29))
        s->found[2] = true;
    else if (same_prefix(family, addr, cidr, 6, v6d, 83))
        s->found[3] = true;
    else if (same_prefix(family, addr, cidr, 6, v6e, 21))
        s->found[4] = true;
    else
        s->other++;
}

/* The kernel's peer-list walk, reported masked. */
static void test_kernel_walk(void **state)
{
    struct peers p;
    struct wg_allowedips t;
    struct seen s = { 0 };
    void *a = PEER(&p, 0), *b = PEER(&p, 1);

    wg_allowedips_init(&t);
    ins4(&t, a, 192, 95, 5, 93, 27);
    ins6(&t, a, 0x26075300, 0x60006b00, 0, 0xc05f0543, 128);
    ins4(&t, a, 10, 1, 0, 20, 29);
    ins6(&t, a, 0x26075300, 0x6d8a6bf8, 0xdab1f1df, 0xc05f1523, 83);
    ins6(&t, a, 0x26075300, 0x6d8a6bf8, 0xdab1f1df, 0xc05f1523, 21);
    ins4(&t, b, 10, 1, 0, 0, 24);   /* our own: another peer's route is not listed */
    wg_allowedips_walk_peer(&t, a, record, &s);
    assert_int_equal(s.count, 5);
    for (unsigned i = 0; i < 5; i++)
        assert_true(s.found[i]);
    assert_int_equal(s.other, 0);
    wg_allowedips_free(&t);
}

/* ---- our own: families, packets, arguments --------------------------- */

static void test_families_apart(void **state)
{
    struct peers p;
    struct wg_allowedips t;
    void *a = PEER(&p, 0), *b = PEER(&p, 1);
    uint8_t zero16[16] = { 0 };

    wg_allowedips_init(&t);
    ins4(&t, a, 0, 0, 0, 0, 0);
    assert_null(wg_allowedips_lookup(&t, 6, zero16));
    assert_ptr_equal(wg_allowedips_lookup(&t, 4, zero16), a);
    ins6(&t, b, 0, 0, 0, 0, 0);
    assert_ptr_equal(wg_allowedips_lookup(&t, 6, zero16), b);
    assert_ptr_equal(wg_allowedips_lookup(&t, 4, zero16), a);
    wg_allowedips_remove_by_peer(&t, a);
    assert_null(wg_allowedips_lookup(&t, 4, zero16));
    assert_ptr_equal(wg_allowedips_lookup(&t, 6, zero16), b);
    assert_null(wg_allowedips_lookup(&t, 5, zero16));
    wg_allowedips_free(&t);
}

static void test_bad_arguments(void **state)
{
    struct peers p;
    struct wg_allowedips t;
    uint8_t ip[16] = { 10 };

    wg_allowedips_init(&t);
    assert_int_equal(wg_allowedips_insert(&t, 4, ip, 33, PEER(&p, 0)), -1);
    assert_int_equal(wg_allowedips_insert(&t, 6, ip, 129, PEER(&p, 0)), -1);
    assert_int_equal(wg_allowedips_insert(&t, 5, ip, 8, PEER(&p, 0)), -1);
    assert_int_equal(wg_allowedips_insert(&t, 4, ip, 8, NULL), -1);
    assert_null(t.root4);
    assert_null(t.root6);
    assert_int_equal(wg_allowedips_insert(&t, 4, ip, 32, PEER(&p, 0)), 0);
    assert_int_equal(wg_allowedips_insert(&t, 6, ip, 128, PEER(&p, 0)), 0);
    wg_allowedips_free(&t);
}

static void test_packets(void **state)
{
    struct peers p;
    struct wg_allowedips t;
    void *src = PEER(&p, 0), *dst = PEER(&p, 1);
    uint8_t v4[20] = { 0x45 }, v6[40] = { 0x60 };

    wg_allowedips_init(&t);
    ins4(&t, src, 10, 0, 0, 1, 32);
    ins4(&t, dst, 10, 0, 0, 2, 32);
    ins6(&t, src, 0xfd000000, 0, 0, 1, 128);
    ins6(&t, dst, 0xfd000000, 0, 0, 2, 128);
    memcpy(v4 + 12, (uint8_t[]){ 10, 0, 0, 1 }, 4);
    memcpy(v4 + 16, (uint8_t[]){ 10, 0, 0, 2 }, 4);
    make6(v6 + 8, 0xfd000000, 0, 0, 1);
    make6(v6 + 24, 0xfd000000, 0, 0, 2);

    assert_ptr_equal(wg_allowedips_lookup_src(&t, v4, sizeof(v4)), src);
    assert_ptr_equal(wg_allowedips_lookup_dst(&t, v4, sizeof(v4)), dst);
    assert_ptr_equal(wg_allowedips_lookup_src(&t, v6, sizeof(v6)), src);
    assert_ptr_equal(wg_allowedips_lookup_dst(&t, v6, sizeof(v6)), dst);
    /* Truncated headers, an empty packet and a bad version find nothing. */
    assert_null(wg_allowedips_lookup_dst(&t, v4, sizeof(v4) - 1));
    assert_null(wg_allowedips_lookup_src(&t, v6, sizeof(v6) - 1));
    assert_null(wg_allowedips_lookup_dst(&t, v4, 0));
    v4[0] = 0x55;
    assert_null(wg_allowedips_lookup_dst(&t, v4, sizeof(v4)));
    wg_allowedips_free(&t);
}

/* ---- randomized comparison with a linear oracle ---------------------- */

enum {
    RAND_PEERS = 32,
    RAND_ROUTES = 50,     /* per family ... */
    RAND_MUTATED = 20,    /* ... each followed by this many near-misses */
    RAND_MAX_ENTRIES = 2 * RAND_ROUTES * (RAND_MUTATED + 1),
    RAND_QUERIES = 500,   /* per family, after each peer removal */
};

struct rng {
    uint64_t s;
};

static uint64_t rng_next(struct rng *r)   /* xorshift64: fixed seed, repeatable */
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

static unsigned rng_below(struct rng *r, unsigned n)
{
    return (unsigned)(rng_next(r) % n);
}

static void rng_bytes(struct rng *r, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)rng_next(r);
}

/* Keep the first `keep` bits of ip, randomize the rest. */
static void mutate(struct rng *r, uint8_t *ip, unsigned len, unsigned keep)
{
    uint8_t noise[16];
    rng_bytes(r, noise, len);
    for (unsigned i = 0; i < len * 8; i++) {
        if (i < keep)
            continue;
        uint8_t m = (uint8_t)(0x80u >> (i % 8));
        ip[i / 8] = (uint8_t)((ip[i / 8] & ~m) | (noise[i / 8] & m));
    }
}

struct oracle_entry {
    int family;
    uint8_t cidr;
    uint8_t key[16];
    void *peer;
};

struct oracle {
    struct oracle_entry e[RAND_MAX_ENTRIES];
    unsigned n;
};

static bool prefix_has(const uint8_t *key, uint8_t cidr, const uint8_t *ip)
{
    for (unsigned i = 0; i < cidr; i++) {
        uint8_t m = (uint8_t)(0x80u >> (i % 8));
        if ((key[i / 8] & m) != (ip[i / 8] & m))
            return false;
    }
    return true;
}

static void oracle_insert(struct oracle *o, int family, const uint8_t *ip, uint8_t cidr,
                          void *peer)
{
    uint8_t key[16] = { 0 };
    for (unsigned i = 0; i < cidr; i++)
        key[i / 8] |= (uint8_t)(ip[i / 8] & (0x80u >> (i % 8)));
    for (unsigned i = 0; i < o->n; i++) {
        struct oracle_entry *x = &o->e[i];
        if (x->family == family && x->cidr == cidr && !memcmp(x->key, key, 16)) {
            x->peer = peer;
            return;
        }
    }
    assert_true(o->n < RAND_MAX_ENTRIES);
    struct oracle_entry *x = &o->e[o->n++];
    x->family = family;
    x->cidr = cidr;
    memcpy(x->key, key, 16);
    x->peer = peer;
}

static void *oracle_lookup(const struct oracle *o, int family, const uint8_t *ip)
{
    const struct oracle_entry *best = NULL;
    for (unsigned i = 0; i < o->n; i++) {
        const struct oracle_entry *x = &o->e[i];
        if (x->peer && x->family == family && prefix_has(x->key, x->cidr, ip) &&
            (!best || x->cidr > best->cidr))
            best = x;
    }
    return best ? best->peer : NULL;
}

static void oracle_remove(struct oracle *o, void *peer)
{
    for (unsigned i = 0; i < o->n; i++)
        if (o->e[i].peer == peer)
            o->e[i].peer = NULL;
}

static unsigned oracle_count(const struct oracle *o, void *peer)
{
    unsigned n = 0;
    for (unsigned i = 0; i < o->n; i++)
        n += o->e[i].peer == peer;
    return n;
}

struct rand_ctx {
    struct rng rng;
    struct oracle oracle;
    struct wg_allowedips t;
    char peers[RAND_PEERS];
};

static void *rand_peer(struct rand_ctx *c)
{
    return &c->peers[rng_below(&c->rng, RAND_PEERS)];
}

static void both_insert(struct rand_ctx *c, int family, const uint8_t *ip, uint8_t cidr)
{
    void *peer = rand_peer(c);
    assert_int_equal(wg_allowedips_insert(&c->t, family, ip, cidr, peer), 0);
    oracle_insert(&c->oracle, family, ip, cidr, peer);
}

/* The kernel's scheme: a random prefix, then near-misses sharing a random
 * number of its leading bits, so prefixes nest and diverge at every depth. */
static void fill_family(struct rand_ctx *c, int family)
{
    unsigned len = family == 4 ? 4 : 16, bits = len * 8;
    uint8_t ip[16], mutated[16];
    for (unsigned i = 0; i < RAND_ROUTES; i++) {
        rng_bytes(&c->rng, ip, len);
        both_insert(c, family, ip, (uint8_t)rng_below(&c->rng, bits + 1));
        for (unsigned j = 0; j < RAND_MUTATED; j++) {
            memcpy(mutated, ip, len);
            mutate(&c->rng, mutated, len, rng_below(&c->rng, bits));
            both_insert(c, family, mutated, (uint8_t)rng_below(&c->rng, bits + 1));
        }
    }
}

/* Half the queries are uniform, half land near a stored prefix so long
 * matches get exercised too. */
static void query_family(struct rand_ctx *c, int family)
{
    unsigned len = family == 4 ? 4 : 16, bits = len * 8;
    uint8_t ip[16];
    for (unsigned i = 0; i < RAND_QUERIES; i++) {
        rng_bytes(&c->rng, ip, len);
        if (i % 2 && c->oracle.n) {
            const struct oracle_entry *x = &c->oracle.e[rng_below(&c->rng, c->oracle.n)];
            if (x->family == family) {
                memcpy(ip, x->key, len);
                mutate(&c->rng, ip, len, rng_below(&c->rng, bits + 1));
            }
        }
        void *want = oracle_lookup(&c->oracle, family, ip);
        void *got = wg_allowedips_lookup(&c->t, family, ip);
        if (got != want)
            fail_msg("v%d query %u: trie and oracle disagree", family, i);
    }
}

static void count_cb(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
    (*(unsigned *)ctx)++;
}

static void test_randomized(void **state)
{
    static struct rand_ctx c;   /* large; static only to keep it off the stack */
    memset(&c, 0, sizeof(c));
    c.rng.s = 0x9e3779b97f4a7c15ull;
    wg_allowedips_init(&c.t);
    fill_family(&c, 4);
    fill_family(&c, 6);
    assert_true(c.oracle.n >= 1000);

    for (unsigned p = 0; p <= RAND_PEERS; p++) {
        query_family(&c, 4);
        query_family(&c, 6);
        if (p == RAND_PEERS)
            break;
        unsigned walked = 0;
        wg_allowedips_walk_peer(&c.t, &c.peers[p], count_cb, &walked);
        assert_int_equal(walked, oracle_count(&c.oracle, &c.peers[p]));
        wg_allowedips_remove_by_peer(&c.t, &c.peers[p]);
        oracle_remove(&c.oracle, &c.peers[p]);
    }
    /* Every peer removed: branch points must all have been collapsed. */
    assert_null(c.t.root4);
    assert_null(c.t.root6);
    wg_allowedips_free(&c.t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernel_lookups),
        cmocka_unit_test(test_kernel_remove_nested),
        cmocka_unit_test(test_kernel_deep_v6),
        cmocka_unit_test(test_kernel_walk),
        cmocka_unit_test(test_families_apart),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_packets),
        cmocka_unit_test(test_randomized),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
