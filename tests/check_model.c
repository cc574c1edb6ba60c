/*
 * check_model.c — liblsm behaves like a sorted map.
 *
 * Random sequences of puts, deletes, atomic batches, gets, iterations
 * (seek, seek_for_prev, next, prev, turning around), snapshots, flushes,
 * compactions and close/reopen run against the engine and against kvmodel,
 * and every read is compared byte for byte. Each case uses an option set that
 * pushes a different part of the engine: a tiny memtable so flushes and L0
 * compactions never stop, a tiny level size so there are several levels,
 * lz4 and zstd blocks, no bloom filter.
 *
 * A failure prints the seed (LSM_TEST_SEED replays it), the case, the index
 * of the failing operation and the last operations before it.
 *
 * The last case runs writers and readers on threads while flushes and
 * compactions run in the background: a read must never see a value older
 * than the one its writer had acknowledged when the read began.
 */
#include "kvmodel.h"
#include "lsm.h"
#include "testutil.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_LINES 20
#define LOG_WIDTH 200
#define MAX_SNAPS 4
#define MAX_VALUE (64u * 1024u)
#define MAX_TKEY  (16u * 1024u) /* the longest key the test makes */

struct model_case {
	const char *name;
	int nops;		    /* operations at LSM_TEST_SCALE=1 */
	int nkeys;		    /* size of the small key space */
	size_t memtable_bytes;	    /* 0: default */
	uint64_t level_base_bytes;  /* 0: default */
	uint64_t target_file_bytes; /* 0: default */
	size_t block_bytes;	    /* 0: default */
	int compression;
	int bloom_bits; /* -1: default */
	int reopen_per_mille;
	int big_value_per_mille;  /* values of 8..64 KiB */
	size_t blob_threshold;	  /* 0: values stay in tables */
	uint64_t blob_file_bytes; /* 0: default */
};

struct snap {
	const lsm_snapshot *s;
	kvmodel *m; /* the model as it was when the snapshot was taken */
	uint64_t op;
};

struct mctx {
	const struct model_case *mc;
	uint64_t seed;
	tu_rng rng;
	char *dir;
	lsm_options opts;
	lsm_db *db;
	kvmodel *m;
	struct snap snaps[MAX_SNAPS];
	int nsnaps;
	uint64_t op; /* index of the operation running now */
	char log[LOG_LINES][LOG_WIDTH];
	uint64_t nlog;
	unsigned char *val; /* scratch for generated values */
	unsigned char key[MAX_TKEY];
};

/* Printable form of a byte string, cut at 32 bytes. */
static const char *show(char *out, size_t cap, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t o = 0;
	for (size_t i = 0; i < n && i < 32 && o + 8 < cap; i++) {
		if (b[i] >= 0x20 && b[i] < 0x7f && b[i] != '\\')
			out[o++] = (char)b[i];
		else
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", b[i]);
	}
	if (n > 32 && o + 16 < cap)
		o += (size_t)snprintf(out + o, cap - o, "...(%zu)", n);
	out[o] = 0;
	return out;
}

/* Records the current operation for the failure report. */
__attribute__((format(printf, 2, 3))) static void note(struct mctx *c, const char *fmt, ...)
{
	char *line = c->log[c->nlog++ % LOG_LINES];
	int n = snprintf(line, LOG_WIDTH, "#%llu ", (unsigned long long)c->op);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + n, LOG_WIDTH - (size_t)n, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 3, 4))) static void model_fail(struct mctx *c, int line,
							     const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("FAILED: case %s, LSM_TEST_SEED=%llu, operation #%llu (line %d): %s\n", c->mc->name,
	       (unsigned long long)c->seed, (unsigned long long)c->op, line, msg);
	printf("last operations, oldest first:\n");
	uint64_t first = c->nlog > LOG_LINES ? c->nlog - LOG_LINES : 0;
	for (uint64_t i = first; i < c->nlog; i++)
		printf("  %s\n", c->log[i % LOG_LINES]);
	printf("lsm_errmsg: %s\n", lsm_errmsg());
	fflush(stdout);
	ck_abort_msg("case %s seed %llu op #%llu: %s", c->mc->name, (unsigned long long)c->seed,
		     (unsigned long long)c->op, msg);
}

#define FAIL(c, ...) model_fail((c), __LINE__, __VA_ARGS__)
#define CHECK_RC(c, call)                                                                \
	do {                                                                             \
		int rc_ = (call);                                                        \
		if (rc_ != 0)                                                            \
			FAIL((c), "%s returned %d (%s)", #call, rc_, lsm_strerror(rc_)); \
	} while (0)

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- keys and values ---- */

/*
 * Key id -> key bytes. The shapes are chosen to meet the engine's edge cases:
 * decimal ids are prefixes of one another ("k1" < "k10" < "k100"), binary ids
 * contain zero bytes, long ids share a 30-byte prefix (restart points and
 * prefix compression), and id 0 is the empty key.
 */
static size_t small_key(unsigned char *out, unsigned id)
{
	if (id == 0)
		return 0;
	switch (id % 4) {
	case 0:
	case 1:
		return (size_t)sprintf((char *)out, "k%u", id);
	case 2:
		out[0] = 0;
		out[1] = 'b';
		out[2] = (unsigned char)(id >> 8);
		out[3] = (unsigned char)id;
		return 4;
	default:
		return (size_t)sprintf((char *)out, "long-key-prefix-shared-by-many/%08u", id);
	}
}

/* A key for the next operation in c->key: mostly from the small space. */
static size_t pick_key(struct mctx *c)
{
	uint64_t r = tu_below(&c->rng, 100);
	if (r < 85 || (r < 95 && kvm_count(c->m) == 0))
		return small_key(c->key, (unsigned)tu_below(&c->rng, (uint64_t)c->mc->nkeys));
	if (r < 95) {
		const void *k, *v;
		size_t kl, vl;
		kvm_at(c->m, tu_below(&c->rng, kvm_count(c->m)), &k, &kl, &v, &vl);
		memcpy(c->key, k, kl);
		return kl;
	}
	/* Rarely a key longer than a data block: it must still work as one entry. */
	uint64_t shape = tu_below(&c->rng, 1000);
	size_t kl = 1 + tu_below(&c->rng, shape < 980 ? 40 : shape < 998 ? 1000 : MAX_TKEY);
	tu_fill(&c->rng, c->key, kl);
	return kl;
}

/* A value in c->val: mostly small, sometimes up to 64 KiB, half compressible. */
static size_t pick_value(struct mctx *c)
{
	uint64_t r = tu_below(&c->rng, 1000);
	size_t len;
	if (r < (uint64_t)c->mc->big_value_per_mille)
		len = 8192 + tu_below(&c->rng, MAX_VALUE - 8192 + 1);
	else if (r < 600)
		len = tu_below(&c->rng, 33);
	else if (r < 950)
		len = 33 + tu_below(&c->rng, 1000);
	else
		len = 1024 + tu_below(&c->rng, 7 * 1024);
	if (tu_below(&c->rng, 2)) {
		tu_fill(&c->rng, c->val, len);
	} else {
		unsigned char pat[8];
		tu_fill(&c->rng, pat, sizeof(pat));
		for (size_t i = 0; i < len; i++)
			c->val[i] = pat[i % 8];
	}
	return len;
}

/* ---- comparing reads ---- */

static void expect_get(struct mctx *c, const lsm_read_options *ro, const kvmodel *m,
		       const void *key, size_t kl)
{
	char ks[160];
	const void *mv;
	size_t mvl;
	void *v = NULL;
	size_t vl = 0;
	int want = kvm_get(m, key, kl, &mv, &mvl);
	int rc = lsm_get(c->db, ro, key, kl, &v, &vl);
	if (rc < 0)
		FAIL(c, "get %s: error %d (%s)", show(ks, sizeof(ks), key, kl), rc,
		     lsm_strerror(rc));
	if (!want && rc != LSM_NOTFOUND)
		FAIL(c, "get %s: found a value of %zu bytes, model has no such key",
		     show(ks, sizeof(ks), key, kl), vl);
	if (want && rc == LSM_NOTFOUND)
		FAIL(c, "get %s: not found, model has %zu bytes", show(ks, sizeof(ks), key, kl),
		     mvl);
	if (want && (vl != mvl || (vl && memcmp(v, mv, vl))))
		FAIL(c, "get %s: value of %zu bytes differs from the model's %zu bytes",
		     show(ks, sizeof(ks), key, kl), vl, mvl);
	if (rc == 0 && ((const char *)v)[vl] != 0)
		FAIL(c, "get %s: value is not followed by a NUL byte",
		     show(ks, sizeof(ks), key, kl));
	free(v);
}

/* The iterator must stand where the model's index pos stands (pos outside [0,n): invalid). */
static void expect_at(struct mctx *c, lsm_iter *it, const kvmodel *m, long pos, const char *what)
{
	long n = (long)kvm_count(m);
	int want = pos >= 0 && pos < n;
	int st = lsm_iter_status(it);
	char a[160], b[160];
	if (st)
		FAIL(c, "iterator after %s: status %d (%s)", what, st, lsm_strerror(st));
	if (lsm_iter_valid(it) != want) {
		if (want) {
			const void *k, *v;
			size_t kl, vl;
			kvm_at(m, (size_t)pos, &k, &kl, &v, &vl);
			FAIL(c, "iterator after %s: not valid, model is at %s", what,
			     show(a, sizeof(a), k, kl));
		}
		size_t kl;
		const void *k = lsm_iter_key(it, &kl);
		FAIL(c, "iterator after %s: valid at %s, model is past the end", what,
		     show(a, sizeof(a), k, kl));
	}
	if (!want)
		return;
	const void *mk, *mv, *k, *v;
	size_t mkl, mvl, kl, vl;
	kvm_at(m, (size_t)pos, &mk, &mkl, &mv, &mvl);
	k = lsm_iter_key(it, &kl);
	v = lsm_iter_value(it, &vl);
	if (kvm_keycmp(k, kl, mk, mkl))
		FAIL(c, "iterator after %s: at key %s, model at %s", what,
		     show(a, sizeof(a), k, kl), show(b, sizeof(b), mk, mkl));
	if (vl != mvl || (vl && memcmp(v, mv, vl)))
		FAIL(c, "iterator after %s: at %s value of %zu bytes differs from the model's %zu",
		     what, show(a, sizeof(a), k, kl), vl, mvl);
}

/* Positions it and the model at a random start, then walks both, turning at random. */
static void walk(struct mctx *c, lsm_iter *it, const kvmodel *m)
{
	char ks[160];
	long n = (long)kvm_count(m), pos;
	int fwd = 1;
	size_t kl;
	switch (tu_below(&c->rng, 4)) {
	case 0:
		lsm_iter_seek_first(it);
		pos = 0;
		note(c, "  seek_first");
		break;
	case 1:
		lsm_iter_seek_last(it);
		pos = n - 1;
		fwd = 0;
		note(c, "  seek_last");
		break;
	case 2:
		kl = pick_key(c);
		lsm_iter_seek(it, c->key, kl);
		pos = (long)kvm_lower_bound(m, c->key, kl);
		note(c, "  seek %s", show(ks, sizeof(ks), c->key, kl));
		break;
	default:
		kl = pick_key(c);
		lsm_iter_seek_for_prev(it, c->key, kl);
		pos = (long)kvm_upper_bound(m, c->key, kl) - 1;
		fwd = 0;
		note(c, "  seek_for_prev %s", show(ks, sizeof(ks), c->key, kl));
		break;
	}
	expect_at(c, it, m, pos, "seek");
	int steps = (int)tu_below(&c->rng, tu_below(&c->rng, 10) ? 40 : 2000);
	for (int i = 0; i < steps && pos >= 0 && pos < n; i++) {
		if (tu_below(&c->rng, 10) < 2)
			fwd = !fwd;
		if (fwd) {
			lsm_iter_next(it);
			pos++;
		} else {
			lsm_iter_prev(it);
			pos--;
		}
		expect_at(c, it, m, pos, fwd ? "next" : "prev");
	}
}

/* Whole-database comparison, both directions. */
static void verify_all(struct mctx *c, const lsm_read_options *ro, const kvmodel *m)
{
	lsm_iter *it = lsm_iter_new(c->db, ro);
	if (!it)
		FAIL(c, "lsm_iter_new returned NULL");
	long n = (long)kvm_count(m);
	lsm_iter_seek_first(it);
	for (long i = 0; i <= n; i++) {
		expect_at(c, it, m, i, "full forward scan");
		if (i < n)
			lsm_iter_next(it);
	}
	lsm_iter_seek_last(it);
	for (long i = n - 1; i >= -1; i--) {
		expect_at(c, it, m, i, "full backward scan");
		if (i >= 0)
			lsm_iter_prev(it);
	}
	lsm_iter_free(it);
}

/* ---- operations ---- */

static void open_db(struct mctx *c)
{
	CHECK_RC(c, lsm_open(&c->db, c->dir, &c->opts));
}

static void release_snap(struct mctx *c, int i)
{
	lsm_snapshot_release(c->db, c->snaps[i].s);
	kvm_free(c->snaps[i].m);
	c->snaps[i] = c->snaps[--c->nsnaps];
}

static void op_put(struct mctx *c, const lsm_write_options *wo)
{
	char ks[160];
	size_t kl = pick_key(c), vl = pick_value(c);
	note(c, "put %s vlen=%zu%s", show(ks, sizeof(ks), c->key, kl), vl, wo->sync ? " sync" : "");
	CHECK_RC(c, lsm_put(c->db, wo, c->key, kl, c->val, vl));
	kvm_put(c->m, c->key, kl, c->val, vl);
}

static void op_delete(struct mctx *c, const lsm_write_options *wo)
{
	char ks[160];
	size_t kl = pick_key(c);
	note(c, "delete %s%s", show(ks, sizeof(ks), c->key, kl), wo->sync ? " sync" : "");
	CHECK_RC(c, lsm_delete(c->db, wo, c->key, kl));
	kvm_delete(c->m, c->key, kl);
}

/* Several puts and deletes (the same key may come twice: the last one wins). */
static void op_batch(struct mctx *c, const lsm_write_options *wo)
{
	lsm_batch *b = lsm_batch_new();
	kvmodel *next = kvm_clone(c->m);
	int nops = 2 + (int)tu_below(&c->rng, 20);
	char ks[160];
	note(c, "batch of %d%s:", nops, wo->sync ? " sync" : "");
	for (int i = 0; i < nops; i++) {
		size_t kl = pick_key(c);
		if (tu_below(&c->rng, 3)) {
			size_t vl = pick_value(c);
			if (i < 4)
				note(c, "  batch put %s vlen=%zu", show(ks, sizeof(ks), c->key, kl),
				     vl);
			CHECK_RC(c, lsm_batch_put(b, c->key, kl, c->val, vl));
			kvm_put(next, c->key, kl, c->val, vl);
		} else {
			if (i < 4)
				note(c, "  batch delete %s", show(ks, sizeof(ks), c->key, kl));
			CHECK_RC(c, lsm_batch_delete(b, c->key, kl));
			kvm_delete(next, c->key, kl);
		}
	}
	if (lsm_batch_count(b) != (size_t)nops)
		FAIL(c, "lsm_batch_count is %zu after %d operations", lsm_batch_count(b), nops);
	/* Before the write nothing of the batch is visible. */
	size_t kl = pick_key(c);
	expect_get(c, NULL, c->m, c->key, kl);
	CHECK_RC(c, lsm_write(c->db, wo, b));
	lsm_batch_free(b);
	kvm_free(c->m);
	c->m = next;
}

static void op_get(struct mctx *c)
{
	char ks[160];
	size_t kl = pick_key(c);
	note(c, "get %s", show(ks, sizeof(ks), c->key, kl));
	expect_get(c, NULL, c->m, c->key, kl);
}

/*
 * An iterator over the latest state; sometimes writes come between its
 * creation and the walk, which must not see them.
 */
static void op_iterate(struct mctx *c)
{
	kvmodel *frozen = NULL;
	lsm_read_options ro = {.fill_cache = (int)tu_below(&c->rng, 2)};
	lsm_iter *it = lsm_iter_new(c->db, &ro);
	if (!it)
		FAIL(c, "lsm_iter_new returned NULL");
	if (tu_below(&c->rng, 5) == 0) {
		lsm_write_options wo = {0};
		frozen = kvm_clone(c->m);
		note(c, "iterate, with writes after its creation");
		for (int i = (int)tu_below(&c->rng, 6); i >= 0; i--) {
			if (tu_below(&c->rng, 3))
				op_put(c, &wo);
			else
				op_delete(c, &wo);
		}
	} else {
		note(c, "iterate");
	}
	walk(c, it, frozen ? frozen : c->m);
	lsm_iter_free(it);
	kvm_free(frozen);
}

/* Create, read through, or release a snapshot. */
static void op_snapshot(struct mctx *c)
{
	uint64_t r = tu_below(&c->rng, 10);
	if (c->nsnaps == 0 || (r < 3 && c->nsnaps < MAX_SNAPS)) {
		if (c->nsnaps == MAX_SNAPS)
			release_snap(c, (int)tu_below(&c->rng, (uint64_t)c->nsnaps));
		struct snap *s = &c->snaps[c->nsnaps];
		s->s = lsm_snapshot_new(c->db);
		if (!s->s)
			FAIL(c, "lsm_snapshot_new returned NULL");
		s->m = kvm_clone(c->m);
		s->op = c->op;
		c->nsnaps++;
		note(c, "snapshot new (%d live)", c->nsnaps);
		return;
	}
	int i = (int)tu_below(&c->rng, (uint64_t)c->nsnaps);
	if (r < 5) {
		note(c, "snapshot release (taken at #%llu)", (unsigned long long)c->snaps[i].op);
		release_snap(c, i);
		return;
	}
	lsm_read_options ro = {.snapshot = c->snaps[i].s, .fill_cache = 1};
	if (r < 8) {
		char ks[160];
		size_t kl = pick_key(c);
		note(c, "snapshot get %s (taken at #%llu)", show(ks, sizeof(ks), c->key, kl),
		     (unsigned long long)c->snaps[i].op);
		expect_get(c, &ro, c->snaps[i].m, c->key, kl);
		return;
	}
	note(c, "snapshot iterate (taken at #%llu)", (unsigned long long)c->snaps[i].op);
	lsm_iter *it = lsm_iter_new(c->db, &ro);
	if (!it)
		FAIL(c, "lsm_iter_new returned NULL");
	walk(c, it, c->snaps[i].m);
	lsm_iter_free(it);
}

static void op_compact(struct mctx *c)
{
	static unsigned char a[MAX_TKEY], b[MAX_TKEY];
	size_t al = pick_key(c);
	memcpy(a, c->key, al);
	size_t bl = pick_key(c);
	memcpy(b, c->key, bl);
	if (kvm_keycmp(a, al, b, bl) > 0) {
		/* c->key holds b: swap through it */
		memcpy(b, a, al);
		memcpy(a, c->key, bl);
		size_t tl = al;
		al = bl;
		bl = tl;
	}
	int nb = tu_below(&c->rng, 4) == 0, ne = tu_below(&c->rng, 4) == 0;
	char s1[160], s2[160];
	note(c, "compact_range [%s, %s]", nb ? "-inf" : show(s1, sizeof(s1), a, al),
	     ne ? "+inf" : show(s2, sizeof(s2), b, bl));
	CHECK_RC(c,
		 lsm_compact_range(c->db, nb ? NULL : a, nb ? 0 : al, ne ? NULL : b, ne ? 0 : bl));
}

static void op_reopen(struct mctx *c)
{
	note(c, "close and reopen");
	while (c->nsnaps)
		release_snap(c, c->nsnaps - 1);
	CHECK_RC(c, lsm_close(c->db));
	c->db = NULL;
	open_db(c);
	verify_all(c, NULL, c->m);
}

static void run_model(const struct model_case *mc, uint64_t salt)
{
	struct mctx *c = calloc(1, sizeof(*c));
	ck_assert_ptr_nonnull(c);
	c->mc = mc;
	c->seed = tu_seed() ^ salt;
	tu_rng_init(&c->rng, c->seed);
	c->dir = tu_mkdtemp("model");
	c->m = kvm_new();
	c->val = malloc(MAX_VALUE);
	ck_assert_ptr_nonnull(c->val);
	lsm_options_init(&c->opts);
	if (mc->memtable_bytes)
		c->opts.memtable_bytes = mc->memtable_bytes;
	if (mc->level_base_bytes)
		c->opts.level_base_bytes = mc->level_base_bytes;
	if (mc->target_file_bytes)
		c->opts.target_file_bytes = mc->target_file_bytes;
	if (mc->block_bytes)
		c->opts.block_bytes = mc->block_bytes;
	if (mc->bloom_bits >= 0)
		c->opts.bloom_bits_per_key = mc->bloom_bits;
	c->opts.compression = mc->compression;
	c->opts.blob_threshold = mc->blob_threshold;
	if (mc->blob_file_bytes)
		c->opts.blob_file_bytes = mc->blob_file_bytes;
	open_db(c);

	double t0 = now();
	uint64_t nops = (uint64_t)mc->nops * (uint64_t)tu_scale();
	lsm_write_options nosync = {0}, sync = {.sync = 1};
	for (c->op = 0; c->op < nops; c->op++) {
		uint64_t r = tu_below(&c->rng, 1000);
		const lsm_write_options *wo = tu_below(&c->rng, 200) ? &nosync : &sync;
		if (r < (uint64_t)mc->reopen_per_mille)
			op_reopen(c);
		else if (r < 300)
			op_put(c, wo);
		else if (r < 400)
			op_delete(c, wo);
		else if (r < 500)
			op_batch(c, wo);
		else if (r < 750)
			op_get(c);
		else if (r < 850)
			op_iterate(c);
		else if (r < 930)
			op_snapshot(c);
		else if (r < 934) {
			note(c, "flush");
			CHECK_RC(c, lsm_flush(c->db));
		} else if (r < 936)
			op_compact(c);
		else if (r < 938) {
			note(c, "sync");
			CHECK_RC(c, lsm_sync(c->db));
		} else
			op_get(c);
		if (c->op % 20000 == 19999) {
			note(c, "verify all");
			verify_all(c, NULL, c->m);
			for (int i = 0; i < c->nsnaps; i++) {
				lsm_read_options ro = {.snapshot = c->snaps[i].s};
				verify_all(c, &ro, c->snaps[i].m);
			}
		}
	}
	/* Everything once more, then after a full compaction, then after a reopen. */
	note(c, "final verify");
	verify_all(c, NULL, c->m);
	for (int i = 0; i < c->nsnaps; i++) {
		lsm_read_options ro = {.snapshot = c->snaps[i].s};
		verify_all(c, &ro, c->snaps[i].m);
	}
	note(c, "final compact_range [-inf, +inf]");
	CHECK_RC(c, lsm_compact_range(c->db, NULL, 0, NULL, 0));
	verify_all(c, NULL, c->m);
	for (int i = 0; i < c->nsnaps; i++) {
		lsm_read_options ro = {.snapshot = c->snaps[i].s};
		verify_all(c, &ro, c->snaps[i].m);
	}
	CHECK_RC(c, lsm_verify(c->db, NULL, NULL));
	lsm_stats st;
	lsm_stats_get(c->db, &st);
	printf("case %s: %llu operations in %.1f s, %zu keys at the end; since the last reopen: "
	       "%llu flushes, %llu compactions, %llu writes slowed, %llu stopped (%.1f s "
	       "stalled), files per level %d/%d/%d/%d/%d/%d/%d\n",
	       mc->name, (unsigned long long)nops, now() - t0, kvm_count(c->m),
	       (unsigned long long)st.flushes, (unsigned long long)st.compactions,
	       (unsigned long long)st.stall_slowdowns, (unsigned long long)st.stall_stops,
	       (double)st.stall_micros / 1e6, st.level_files[0], st.level_files[1],
	       st.level_files[2], st.level_files[3], st.level_files[4], st.level_files[5],
	       st.level_files[6]);
	op_reopen(c);
	CHECK_RC(c, lsm_close(c->db));
	kvm_free(c->m);
	free(c->val);
	tu_rmtree(c->dir);
	free(c);
}

/* The reference itself: lsm.h's order, replace, delete, and clones that do not move. */
START_TEST(test_reference_model_orders_like_lsm_h_and_clones_stay_frozen)
{
	kvmodel *m = kvm_new();
	kvm_put(m, "b", 1, "1", 1);
	kvm_put(m, "ab", 2, "2", 1);
	kvm_put(m, "a", 1, "3", 1);
	kvm_put(m, "a\0", 2, "4", 1);
	kvm_put(m, "", 0, "5", 1);
	kvm_put(m, "a", 1, "6", 1); /* replaces */
	ck_assert_uint_eq(kvm_count(m), 5);
	const char *order[] = {"", "a", "a\0", "ab", "b"};
	size_t lens[] = {0, 1, 2, 2, 1};
	for (size_t i = 0; i < 5; i++) {
		const void *k, *v;
		size_t kl, vl;
		kvm_at(m, i, &k, &kl, &v, &vl);
		ck_assert_uint_eq(kl, lens[i]);
		ck_assert_int_eq(memcmp(k, order[i], kl), 0);
	}
	kvmodel *c = kvm_clone(m);
	kvm_delete(m, "a", 1);
	kvm_put(m, "ab", 2, "7", 1);
	const void *v;
	size_t vl;
	ck_assert_int_eq(kvm_get(m, "a", 1, &v, &vl), 0);
	ck_assert_int_eq(kvm_get(c, "a", 1, &v, &vl), 1);
	ck_assert_int_eq(memcmp(v, "6", 1), 0);
	ck_assert_int_eq(kvm_get(c, "ab", 2, &v, &vl), 1);
	ck_assert_int_eq(memcmp(v, "2", 1), 0);
	ck_assert_uint_eq(kvm_lower_bound(c, "a\0", 2), 2);
	ck_assert_uint_eq(kvm_upper_bound(c, "a\0", 2), 3);
	ck_assert_uint_eq(kvm_lower_bound(c, "aa", 2), 3);
	ck_assert_uint_eq(kvm_upper_bound(c, "c", 1), 5);
	ck_assert_int_lt(kvm_keycmp("a", 1, "a\0", 2), 0);
	ck_assert_int_gt(kvm_keycmp("\xff", 1, "a", 1), 0); /* unsigned bytes */
	kvm_free(m);
	kvm_free(c);
}
END_TEST

/* A 64 KiB memtable: flushes and L0 compactions happen every few hundred operations. */
static const struct model_case case_tiny_memtable = {
	.name = "tiny-memtable",
	.nops = 60000,
	.nkeys = 1500,
	.memtable_bytes = 64 * 1024,
	.bloom_bits = -1,
	.reopen_per_mille = 1,
	.big_value_per_mille = 5,
};

/* L1 of 256 KiB and 64 KiB files: data spreads over several levels. */
static const struct model_case case_many_levels_lz4 = {
	.name = "many-levels-lz4",
	.nops = 50000,
	.nkeys = 3000,
	.memtable_bytes = 64 * 1024,
	.level_base_bytes = 256 * 1024,
	.target_file_bytes = 64 * 1024,
	.compression = LSM_COMPRESS_LZ4,
	.bloom_bits = -1,
	.reopen_per_mille = 1,
	.big_value_per_mille = 5,
};

/* zstd, 1 KiB blocks (many restart points and index entries), no bloom filter. */
static const struct model_case case_zstd_no_bloom = {
	.name = "zstd-small-blocks-no-bloom",
	.nops = 50000,
	.nkeys = 2000,
	.memtable_bytes = 128 * 1024,
	.level_base_bytes = 512 * 1024,
	.target_file_bytes = 128 * 1024,
	.block_bytes = 1024,
	.compression = LSM_COMPRESS_ZSTD,
	.bloom_bits = 0,
	.reopen_per_mille = 1,
	.big_value_per_mille = 5,
};

/* Default options, and a close/reopen every hundred operations or so: recovery from the WAL. */
static const struct model_case case_default_reopens = {
	.name = "default-options-frequent-reopen",
	.nops = 40000,
	.nkeys = 500,
	.bloom_bits = -1,
	.reopen_per_mille = 10,
	.big_value_per_mille = 10,
};

/*
 * Value separation with a threshold so low that most values are references
 * into WALs, value files cut at 64 KiB and several levels: references move
 * through flushes, compactions and reopens while snapshots and iterators
 * still read the values they point at.
 */
static const struct model_case case_blobs_most = {
	.name = "blobs-most-values",
	.nops = 50000,
	.nkeys = 2000,
	.memtable_bytes = 64 * 1024,
	.level_base_bytes = 256 * 1024,
	.target_file_bytes = 64 * 1024,
	.bloom_bits = -1,
	.reopen_per_mille = 2,
	.big_value_per_mille = 20,
	.blob_threshold = 8,
	.blob_file_bytes = 64 * 1024,
};

/* Value separation for the large values only (4 KiB and up), default sizes otherwise. */
static const struct model_case case_blobs_mixed = {
	.name = "blobs-mixed",
	.nops = 40000,
	.nkeys = 800,
	.bloom_bits = -1,
	.reopen_per_mille = 5,
	.big_value_per_mille = 100,
	.blob_threshold = 4096,
	.blob_file_bytes = 256 * 1024,
};

START_TEST(test_model_blobs_most_values)
{
	run_model(&case_blobs_most, 0x5555);
}
END_TEST

START_TEST(test_model_blobs_mixed)
{
	run_model(&case_blobs_mixed, 0x6666);
}
END_TEST

START_TEST(test_model_tiny_memtable_flushes_constantly)
{
	run_model(&case_tiny_memtable, 0x1111);
}
END_TEST

START_TEST(test_model_several_levels_lz4)
{
	run_model(&case_many_levels_lz4, 0x2222);
}
END_TEST

START_TEST(test_model_zstd_small_blocks_no_bloom)
{
	run_model(&case_zstd_no_bloom, 0x3333);
}
END_TEST

START_TEST(test_model_default_options_frequent_reopen)
{
	run_model(&case_default_reopens, 0x4444);
}
END_TEST

/* ---- concurrent writers and readers ---- */

#define MT_WRITERS 4
#define MT_READERS 2
#define MT_KEYS	   256

/*
 * Each writer owns the keys "w<w>/<id>". Version v of a key is either a
 * deletion or a value derived from (w, id, v), so a reader can check any
 * value it sees without asking the writer. issued[] is raised before a
 * write starts and acked[] after it returns: a read that starts after
 * acked reached a must see at least version a, and cannot see a version
 * beyond what was issued when it ended.
 */
struct mt {
	lsm_db *db;
	uint64_t seed;
	int batches; /* per writer */
	_Atomic uint32_t issued[MT_WRITERS][MT_KEYS];
	_Atomic uint32_t acked[MT_WRITERS][MT_KEYS];
	atomic_int writers_left;
	atomic_int failed;
	atomic_ulong reads, scans;
	pthread_mutex_t mu;
	char msg[600];
};

struct mt_arg {
	struct mt *t;
	int idx;
};

__attribute__((format(printf, 2, 3))) static void mt_fail(struct mt *t, const char *fmt, ...)
{
	pthread_mutex_lock(&t->mu);
	if (!atomic_load(&t->failed)) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(t->msg, sizeof(t->msg), fmt, ap);
		va_end(ap);
		atomic_store(&t->failed, 1);
	}
	pthread_mutex_unlock(&t->mu);
}

static uint64_t mix(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t h =
		a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull) * 0xbf58476d1ce4e5b9ull;
	h ^= (c + 1) * 0x94d049bb133111ebull;
	h ^= h >> 31;
	h *= 0xd6e8feb86659fd93ull;
	return h ^ (h >> 32);
}

static int mt_is_delete(unsigned w, unsigned id, uint32_t v)
{
	return v == 0 || mix(w, id, v) % 6 == 0;
}

static size_t mt_key(char *out, unsigned w, unsigned id)
{
	return (size_t)sprintf(out, "w%u/%04u", w, id);
}

/* The value of version v: [w:1][id:2][v:4] then bytes derived from them. */
static size_t mt_value(unsigned char *out, unsigned w, unsigned id, uint32_t v)
{
	uint64_t h = mix(w, id, v);
	size_t len = 7 + (h % 16 == 0 ? h % 9000 : h % 600);
	out[0] = (unsigned char)w;
	out[1] = (unsigned char)(id >> 8);
	out[2] = (unsigned char)id;
	memcpy(out + 3, &v, 4);
	tu_rng r;
	tu_rng_init(&r, h);
	tu_fill(&r, out + 7, len - 7);
	return len;
}

/* Is a read of (w, id) that returned val/vl (or nothing if !val) allowed in [lo, hi]? */
static void mt_check(struct mt *t, unsigned w, unsigned id, const void *val, size_t vl, uint32_t lo,
		     uint32_t hi, unsigned char *scratch, const char *how)
{
	if (!val) {
		for (uint32_t v = lo; v <= hi; v++)
			if (mt_is_delete(w, id, v))
				return;
		mt_fail(t, "%s w%u/%04u: absent, but versions %u..%u are all values", how, w, id,
			lo, hi);
		return;
	}
	const unsigned char *b = val;
	uint32_t v;
	if (vl < 7 || b[0] != w || b[1] != (id >> 8 & 0xff) || b[2] != (id & 0xff)) {
		mt_fail(t, "%s w%u/%04u: value of %zu bytes belongs to another key", how, w, id,
			vl);
		return;
	}
	memcpy(&v, b + 3, 4);
	if (v < lo || v > hi || mt_is_delete(w, id, v)) {
		mt_fail(t, "%s w%u/%04u: saw version %u, allowed %u..%u (acked..issued)", how, w,
			id, v, lo, hi);
		return;
	}
	size_t el = mt_value(scratch, w, id, v);
	if (el != vl || memcmp(scratch, val, vl))
		mt_fail(t, "%s w%u/%04u: version %u has wrong bytes", how, w, id, v);
}

static void *mt_writer(void *arg)
{
	struct mt_arg *a = arg;
	struct mt *t = a->t;
	unsigned w = (unsigned)a->idx;
	tu_rng rng;
	tu_rng_init(&rng, t->seed ^ (0x77 + w));
	unsigned char *val = malloc(9100);
	lsm_batch *b = lsm_batch_new();
	char key[32];
	for (int n = 0; n < t->batches && !atomic_load(&t->failed); n++) {
		unsigned ids[8];
		int k = 1 + (int)tu_below(&rng, 8);
		lsm_batch_clear(b);
		for (int i = 0; i < k; i++) {
			unsigned id;
			int dup;
			do {
				id = (unsigned)tu_below(&rng, MT_KEYS);
				dup = 0;
				for (int j = 0; j < i; j++)
					dup |= ids[j] == id;
			} while (dup);
			ids[i] = id;
			uint32_t v = atomic_load(&t->issued[w][id]) + 1;
			size_t kl = mt_key(key, w, id);
			atomic_store(&t->issued[w][id], v);
			if (mt_is_delete(w, id, v))
				lsm_batch_delete(b, key, kl);
			else
				lsm_batch_put(b, key, kl, val, mt_value(val, w, id, v));
		}
		lsm_write_options wo = {.sync = tu_below(&rng, 500) == 0};
		int rc = lsm_write(t->db, &wo, b);
		if (rc) {
			mt_fail(t, "writer %u: lsm_write: %d (%s): %s", w, rc, lsm_strerror(rc),
				lsm_errmsg());
			break;
		}
		for (int i = 0; i < k; i++)
			atomic_store(&t->acked[w][ids[i]], atomic_load(&t->issued[w][ids[i]]));
		if (w == 0 && n % 1000 == 999 && (rc = lsm_flush(t->db)) != 0)
			mt_fail(t, "writer 0: lsm_flush: %d (%s)", rc, lsm_strerror(rc));
	}
	lsm_batch_free(b);
	free(val);
	atomic_fetch_sub(&t->writers_left, 1);
	return NULL;
}

/* One writer's whole range through an iterator, checked key by key. */
static void mt_scan(struct mt *t, unsigned w, unsigned char *scratch)
{
	uint32_t mine[MT_KEYS];
	for (unsigned id = 0; id < MT_KEYS; id++)
		mine[id] = atomic_load(&t->acked[w][id]);
	lsm_iter *it = lsm_iter_new(t->db, NULL);
	if (!it) {
		mt_fail(t, "lsm_iter_new returned NULL");
		return;
	}
	char first[32];
	size_t fl = (size_t)sprintf(first, "w%u/", w);
	unsigned next_id = 0;
	for (lsm_iter_seek(it, first, fl); lsm_iter_valid(it); lsm_iter_next(it)) {
		size_t kl, vl;
		const char *k = lsm_iter_key(it, &kl);
		if (kl != fl + 4 || memcmp(k, first, fl))
			break;
		unsigned id = (unsigned)atoi(k + fl);
		if (id < next_id || id >= MT_KEYS) {
			mt_fail(t, "scan of w%u: key %.*s out of order", w, (int)kl, k);
			break;
		}
		/* Keys skipped by the iterator were absent in its view. */
		for (; next_id < id; next_id++)
			mt_check(t, w, next_id, NULL, 0, mine[next_id],
				 atomic_load(&t->issued[w][next_id]), scratch, "scan");
		const void *v = lsm_iter_value(it, &vl);
		mt_check(t, w, id, v, vl, mine[id], atomic_load(&t->issued[w][id]), scratch,
			 "scan");
		next_id = id + 1;
	}
	if (lsm_iter_status(it))
		mt_fail(t, "scan of w%u: iterator status %d", w, lsm_iter_status(it));
	for (; next_id < MT_KEYS; next_id++)
		mt_check(t, w, next_id, NULL, 0, mine[next_id], atomic_load(&t->issued[w][next_id]),
			 scratch, "scan");
	lsm_iter_free(it);
	atomic_fetch_add(&t->scans, 1);
}

static void *mt_reader(void *arg)
{
	struct mt_arg *a = arg;
	struct mt *t = a->t;
	tu_rng rng;
	tu_rng_init(&rng, t->seed ^ (0x99 + (unsigned)a->idx));
	unsigned char *scratch = malloc(9100);
	char key[32];
	while (atomic_load(&t->writers_left) > 0 && !atomic_load(&t->failed)) {
		unsigned w = (unsigned)tu_below(&rng, MT_WRITERS);
		uint64_t r = tu_below(&rng, 100);
		if (r == 0) {
			mt_scan(t, w, scratch);
			continue;
		}
		unsigned id = (unsigned)tu_below(&rng, MT_KEYS);
		size_t kl = mt_key(key, w, id);
		if (r < 5) {
			/* Two reads through one snapshot agree while writers go on. */
			const lsm_snapshot *s = lsm_snapshot_new(t->db);
			lsm_read_options ro = {.snapshot = s};
			void *v1 = NULL, *v2 = NULL;
			size_t l1 = 0, l2 = 0;
			int r1 = lsm_get(t->db, &ro, key, kl, &v1, &l1);
			sched_yield();
			int r2 = lsm_get(t->db, &ro, key, kl, &v2, &l2);
			if (r1 < 0 || r1 != r2 || l1 != l2 || (r1 == 0 && memcmp(v1, v2, l1)))
				mt_fail(t, "snapshot reads of %s differ: %d/%zu then %d/%zu", key,
					r1, l1, r2, l2);
			free(v1);
			free(v2);
			lsm_snapshot_release(t->db, s);
			continue;
		}
		uint32_t lo = atomic_load(&t->acked[w][id]);
		void *v = NULL;
		size_t vl = 0;
		int rc = lsm_get(t->db, NULL, key, kl, &v, &vl);
		uint32_t hi = atomic_load(&t->issued[w][id]);
		if (rc < 0)
			mt_fail(t, "get %s: %d (%s)", key, rc, lsm_strerror(rc));
		else
			mt_check(t, w, id, rc == 0 ? v : NULL, vl, lo, hi, scratch, "get");
		free(v);
		atomic_fetch_add(&t->reads, 1);
	}
	free(scratch);
	return NULL;
}

/* With no writer running, every key holds exactly its last acknowledged version. */
static void mt_verify_final(struct mt *t)
{
	unsigned char *scratch = malloc(9100);
	char key[32];
	for (unsigned w = 0; w < MT_WRITERS; w++) {
		for (unsigned id = 0; id < MT_KEYS; id++) {
			uint32_t v = atomic_load(&t->acked[w][id]);
			size_t kl = mt_key(key, w, id);
			void *val = NULL;
			size_t vl = 0;
			int rc = lsm_get(t->db, NULL, key, kl, &val, &vl);
			ck_assert_msg(rc >= 0, "get %s: %d", key, rc);
			mt_check(t, w, id, rc == 0 ? val : NULL, vl, v, v, scratch, "final get");
			free(val);
		}
		mt_scan(t, w, scratch);
	}
	free(scratch);
	ck_assert_msg(!atomic_load(&t->failed), "LSM_TEST_SEED=%llu: %s",
		      (unsigned long long)tu_seed(), t->msg);
}

START_TEST(test_concurrent_reads_never_see_older_than_acknowledged)
{
	struct mt *t = calloc(1, sizeof(*t));
	ck_assert_ptr_nonnull(t);
	char *dir = tu_mkdtemp("model-mt");
	lsm_options o;
	lsm_options_init(&o);
	o.memtable_bytes = 64 * 1024;
	o.level_base_bytes = 512 * 1024;
	o.target_file_bytes = 128 * 1024;
	ck_assert_int_eq(lsm_open(&t->db, dir, &o), 0);
	t->seed = tu_seed() ^ 0x5555;
	t->batches = 3000 * tu_scale();
	double t0 = now();
	pthread_mutex_init(&t->mu, NULL);
	atomic_store(&t->writers_left, MT_WRITERS);
	pthread_t th[MT_WRITERS + MT_READERS];
	struct mt_arg args[MT_WRITERS + MT_READERS];
	for (int i = 0; i < MT_WRITERS + MT_READERS; i++) {
		args[i].t = t;
		args[i].idx = i < MT_WRITERS ? i : i - MT_WRITERS;
		ck_assert_int_eq(pthread_create(&th[i], NULL,
						i < MT_WRITERS ? mt_writer : mt_reader, &args[i]),
				 0);
	}
	for (int i = 0; i < MT_WRITERS + MT_READERS; i++)
		pthread_join(th[i], NULL);
	ck_assert_msg(!atomic_load(&t->failed), "LSM_TEST_SEED=%llu: %s",
		      (unsigned long long)tu_seed(), t->msg);
	lsm_stats st;
	lsm_stats_get(t->db, &st);
	printf("concurrent: %d writers x %d batches in %.1f s, %lu reads, %lu scans, %llu flushes, "
	       "%llu compactions\n",
	       MT_WRITERS, t->batches, now() - t0, atomic_load(&t->reads), atomic_load(&t->scans),
	       (unsigned long long)st.flushes, (unsigned long long)st.compactions);
	mt_verify_final(t);
	ck_assert_int_eq(lsm_close(t->db), 0);
	ck_assert_int_eq(lsm_open(&t->db, dir, &o), 0);
	mt_verify_final(t);
	ck_assert_int_eq(lsm_close(t->db), 0);
	pthread_mutex_destroy(&t->mu);
	free(t);
	tu_rmtree(dir);
}
END_TEST

/* A test case of its own with the long timeout: these run for tens of seconds under ASan. */
static TCase *long_tcase(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);
	tcase_set_timeout(tc, 900);
	suite_add_tcase(s, tc);
	return tc;
}

int main(void)
{
	tu_seed();
	Suite *s = suite_create("model");
	TCase *tr = tcase_create("reference");
	tcase_add_test(tr, test_reference_model_orders_like_lsm_h_and_clones_stay_frozen);
	suite_add_tcase(s, tr);
	tcase_add_test(long_tcase(s, "tiny_memtable"), test_model_tiny_memtable_flushes_constantly);
	tcase_add_test(long_tcase(s, "several_levels_lz4"), test_model_several_levels_lz4);
	tcase_add_test(long_tcase(s, "zstd_no_bloom"), test_model_zstd_small_blocks_no_bloom);
	tcase_add_test(long_tcase(s, "default_reopen"), test_model_default_options_frequent_reopen);
	tcase_add_test(long_tcase(s, "blobs_most"), test_model_blobs_most_values);
	tcase_add_test(long_tcase(s, "blobs_mixed"), test_model_blobs_mixed);
	tcase_add_test(long_tcase(s, "concurrent"),
		       test_concurrent_reads_never_see_older_than_acknowledged);
	return tu_run_suite(s);
}
