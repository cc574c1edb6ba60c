/*
 * check_table.c — sorted string tables against a sorted reference, damage
 * (every byte flipped, truncation, wrong magic, newer version), the block
 * cache, and the compression codecs underneath.
 */
#include "cache.h"
#include "checksum.h"
#include "compress.h"
#include "error.h"
#include "table.h"
#include "testutil.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the reference: a sorted array of internal keys and values ---- */

struct kv {
	uint8_t *key; /* internal key */
	size_t klen;
	uint8_t *val;
	size_t vlen;
};

struct model {
	struct kv *e;
	size_t n;
	uint64_t deletions;
	uint64_t max_seq;
};

static lsm_slice kv_key(const struct kv *e)
{
	return lsm_slice_of(e->key, e->klen);
}

static int kv_cmp(const void *a, const void *b)
{
	return lsm_ikey_compare(kv_key(a), kv_key(b));
}

static void fill_value(tu_rng *r, uint8_t *v, size_t n, int compressible)
{
	if (!compressible) {
		tu_fill(r, v, n);
		return;
	}
	static const char words[] = "lorem ipsum dolor sit amet consectetur adipiscing elit ";
	size_t off = tu_below(r, sizeof(words) - 1);
	for (size_t i = 0; i < n; i++)
		v[i] = (uint8_t)words[(off + i) % (sizeof(words) - 1)];
	if (n)
		v[tu_below(r, n)] = (uint8_t)tu_rand(r); /* not all alike */
}

/*
 * About nuser user keys, each with 1-3 versions (distinct sequences), 15%
 * deletions, values mostly small with a few up to 64 KiB.
 */
static void model_make(tu_rng *r, size_t nuser, int big_values, int compressible, struct model *m)
{
	size_t cap = nuser * 3, n = 0;
	struct kv *e = calloc(cap, sizeof(*e));
	ck_assert_ptr_nonnull(e);
	uint64_t seq = 1;
	for (size_t u = 0; u < nuser; u++) {
		char uk[40];
		int ul = snprintf(uk, sizeof(uk), "%c%04llx/", (char)('a' + tu_below(r, 26)),
				  (unsigned long long)tu_below(r, 0x10000));
		int extra = (int)tu_below(r, 10);
		for (int i = 0; i < extra; i++)
			uk[ul++] = (char)tu_below(r, 256);
		int versions = 1 + (int)tu_below(r, 3);
		for (int v = 0; v < versions; v++) {
			struct kv *x = &e[n++];
			int type = tu_below(r, 100) < 15 ? LSM_TYPE_DELETE : LSM_TYPE_VALUE;
			seq += 1 + tu_below(r, 3);
			x->klen = (size_t)ul + LSM_TRAILER;
			x->key = malloc(x->klen);
			lsm_ikey_make(x->key, uk, (size_t)ul, seq, type);
			size_t p = tu_below(r, 1000);
			x->vlen = type == LSM_TYPE_DELETE  ? 0
				  : p < 900		   ? tu_below(r, 100)
				  : p < 990 || !big_values ? tu_below(r, 4096)
							   : tu_below(r, 65537);
			x->val = malloc(x->vlen + 1);
			fill_value(r, x->val, x->vlen, compressible);
		}
	}
	qsort(e, n, sizeof(*e), kv_cmp);
	/* Same user key drawn twice with equal sequences cannot happen: sequences are unique. */
	m->e = e;
	m->n = n;
	m->deletions = 0;
	m->max_seq = seq;
	for (size_t i = 0; i < n; i++) {
		m->deletions += lsm_ikey_type(kv_key(&e[i])) == LSM_TYPE_DELETE;
		if (i)
			ck_assert_int_lt(kv_cmp(&e[i - 1], &e[i]), 0);
	}
}

static void model_free(struct model *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->e[i].key);
		free(m->e[i].val);
	}
	free(m->e);
}

static size_t model_lower_bound(const struct model *m, lsm_slice target)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (lsm_ikey_compare(kv_key(&m->e[mid]), target) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static lsm_table_options opts_of(int compression, int bloom, size_t block_bytes)
{
	lsm_table_options o = {block_bytes, 16, bloom, compression};
	return o;
}

static uint64_t build(const char *path, const struct model *m, const lsm_table_options *o,
		      lsm_table_props *props)
{
	lsm_table_builder *b;
	uint64_t size;
	ck_assert_int_eq(lsm_table_builder_new(lsm_env_posix(), path, o, &b), 0);
	for (size_t i = 0; i < m->n; i++) {
		ck_assert_int_eq(lsm_table_builder_add(b, kv_key(&m->e[i]),
						       lsm_slice_of(m->e[i].val, m->e[i].vlen)),
				 0);
		ck_assert_uint_eq(lsm_table_builder_entries(b), i + 1);
	}
	uint64_t est = lsm_table_builder_size(b);
	ck_assert_int_eq(lsm_table_builder_finish(b, &size, props), 0);
	/* The estimate counts the pending block uncompressed; raw, the file only adds to it. */
	if (o->compression == LSM_COMPRESS_NONE)
		ck_assert_uint_ge(size, est);
	ck_assert_uint_gt(size, LSM_TABLE_FOOTER);
	lsm_table_builder_free(b);
	return size;
}

/*
 * ---- the fixture: a table file in a fresh directory, the model it was
 * built from and the table opened on it; tt_free undoes it all ----
 */

struct tt_table {
	char *dir, *path;      /* a fresh directory, and t.sst in it */
	tu_rng r;	       /* the stream the model was drawn from, for the test to go on */
	struct model m;	       /* what the table holds */
	uint64_t size;	       /* the file's size, as the builder wrote it */
	lsm_table_props props; /* as the builder reported them */
	lsm_cache *cache;      /* the cache tt_open was given: freed with the table */
	lsm_table *t;	       /* opened by tt_open, or NULL */
};

/* A fresh directory, an empty model, nothing built. */
static void tt_init(struct tt_table *x)
{
	memset(x, 0, sizeof(*x));
	x->dir = tu_mkdtemp("table");
	x->path = tu_path(x->dir, "t.sst");
}

/* tt_init, then about nuser user keys drawn with seed (see model_make). */
static void tt_new(struct tt_table *x, uint64_t seed, size_t nuser, int big_values,
		   int compressible)
{
	tt_init(x);
	tu_rng_init(&x->r, seed);
	model_make(&x->r, nuser, big_values, compressible, &x->m);
}

/* Builds the model into the file with o, replacing whatever an earlier build left. */
static void tt_build(struct tt_table *x, lsm_table_options o)
{
	unlink(x->path);
	lsm_table_props_free(&x->props);
	x->size = build(x->path, &x->m, &o, &x->props);
}

/* Opens the built file through env (NULL: posix) and cache (NULL: none); failure fails. */
static lsm_table *tt_open(struct tt_table *x, lsm_env *env, lsm_cache *cache)
{
	int rc = lsm_table_open(env ? env : lsm_env_posix(), x->path, x->size, cache, &x->t);
	ck_assert_msg(rc == 0, "open: %d %s", rc, lsm_errmsg());
	x->cache = cache;
	return x->t;
}

/* Drops the fixture's reference to the table (iterators and threads may hold their own). */
static void tt_close(struct tt_table *x)
{
	if (x->t)
		lsm_table_unref(x->t);
	x->t = NULL;
}

static void tt_free(struct tt_table *x)
{
	tt_close(x);
	lsm_cache_free(x->cache);
	lsm_table_props_free(&x->props);
	free(x->path);
	tu_rmtree(x->dir);
	model_free(&x->m);
}

/* Inverts byte 20 of the file, in the first data block, which holds the first key. */
static void tt_damage_first_block(struct tt_table *x)
{
	int fd = open(x->path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	uint8_t b;
	ck_assert_int_eq(pread(fd, &b, 1, 20), 1);
	ck_assert_int_eq(pwrite(fd, &(uint8_t){(uint8_t)~b}, 1, 20), 1);
	close(fd);
}

static void assert_entry(lsm_slice k, lsm_slice v, const struct kv *e)
{
	ck_assert_int_eq(lsm_ikey_compare(k, kv_key(e)), 0);
	ck_assert_uint_eq(v.len, e->vlen);
	ck_assert(v.len == 0 || memcmp(v.data, e->val, v.len) == 0);
}

/* A seek target: a model user key or a random one, with a random snapshot sequence. */
static size_t random_target(tu_rng *r, const struct model *m, uint8_t *buf)
{
	size_t ul;
	if (m->n && tu_below(r, 3)) {
		const struct kv *x = &m->e[tu_below(r, m->n)];
		ul = x->klen - LSM_TRAILER;
		memcpy(buf, x->key, ul);
		if (tu_below(r, 4) == 0)
			buf[ul++] = (uint8_t)tu_rand(r); /* just past it */
	} else {
		ul = tu_below(r, 12);
		for (size_t i = 0; i < ul; i++)
			buf[i] = (uint8_t)(i == 0 ? 'a' + tu_below(r, 27) : tu_rand(r));
	}
	lsm_put_le64(buf + ul, lsm_pack_trailer(tu_below(r, m->max_seq + 2), LSM_TYPE_FOR_SEEK));
	return ul + LSM_TRAILER;
}

static void check_iter(lsm_table *t, const struct model *m, tu_rng *r, int fill_cache)
{
	lsm_it *it = lsm_table_iter(t, fill_cache);
	ck_assert_ptr_nonnull(it);
	size_t i = 0;
	for (lsm_it_seek_first(it); lsm_it_valid(it); lsm_it_next(it))
		assert_entry(lsm_it_key(it), lsm_it_value(it), &m->e[i++]);
	ck_assert_int_eq(lsm_it_status(it), 0);
	ck_assert_uint_eq(i, m->n);
	for (lsm_it_seek_last(it); lsm_it_valid(it); lsm_it_prev(it))
		assert_entry(lsm_it_key(it), lsm_it_value(it), &m->e[--i]);
	ck_assert_int_eq(lsm_it_status(it), 0);
	ck_assert_uint_eq(i, 0);
	uint8_t tk[64];
	for (int round = 0; round < 1000; round++) {
		lsm_slice target = lsm_slice_of(tk, random_target(r, m, tk));
		size_t want = model_lower_bound(m, target);
		lsm_it_seek(it, target);
		if (want == m->n) {
			ck_assert(!lsm_it_valid(it));
			continue;
		}
		assert_entry(lsm_it_key(it), lsm_it_value(it), &m->e[want]);
		/* a few steps either way cross block boundaries */
		int steps = (int)tu_below(r, 4);
		size_t at = want;
		for (int s = 0; s < steps && lsm_it_valid(it); s++) {
			if (tu_below(r, 2)) {
				lsm_it_next(it);
				at++;
			} else {
				lsm_it_prev(it);
				at--; /* wraps to SIZE_MAX before the first */
			}
			if (at >= m->n) {
				ck_assert(!lsm_it_valid(it));
				break;
			}
			assert_entry(lsm_it_key(it), lsm_it_value(it), &m->e[at]);
		}
	}
	ck_assert_int_eq(lsm_it_status(it), 0);
	lsm_it_destroy(it);
}

static void check_gets(lsm_table *t, const struct model *m, tu_rng *r, int fill_cache,
		       int *skipped_absent)
{
	lsm_buf v;
	lsm_buf_init(&v);
	int type, skipped;
	/* every version, looked up at its own sequence */
	for (size_t i = 0; i < m->n; i++) {
		const struct kv *x = &m->e[i];
		int rc = lsm_table_get(t, kv_key(x), fill_cache, &type, &v, &skipped);
		ck_assert_msg(rc == 1, "get %zu: %d %s", i, rc, lsm_errmsg());
		ck_assert_int_eq(skipped, 0);
		ck_assert_int_eq(type, lsm_ikey_type(kv_key(x)));
		if (type == LSM_TYPE_VALUE) {
			ck_assert_uint_eq(v.len, x->vlen);
			ck_assert(v.len == 0 || memcmp(v.data, x->val, v.len) == 0);
		}
	}
	/* random snapshots and absent keys */
	uint8_t tk[64];
	int absent = 0;
	*skipped_absent = 0;
	for (int round = 0; round < 2000; round++) {
		lsm_slice target = lsm_slice_of(tk, random_target(r, m, tk));
		size_t want = model_lower_bound(m, target);
		int found = want < m->n && lsm_user_compare(lsm_ikey_user(kv_key(&m->e[want])),
							    lsm_ikey_user(target)) == 0;
		int rc = lsm_table_get(t, target, fill_cache, &type, &v, &skipped);
		ck_assert_int_eq(rc, found);
		if (found) {
			ck_assert_int_eq(type, lsm_ikey_type(kv_key(&m->e[want])));
			if (type == LSM_TYPE_VALUE)
				ck_assert_uint_eq(v.len, m->e[want].vlen);
		} else {
			absent++;
			*skipped_absent += skipped;
		}
	}
	(void)absent;
	lsm_buf_free(&v);
}

static void check_props(lsm_table *t, const struct model *m, const lsm_table_props *built)
{
	const lsm_table_props *p = lsm_table_get_props(t);
	ck_assert_uint_eq(p->entries, m->n);
	ck_assert_uint_eq(p->deletions, m->deletions);
	ck_assert_uint_eq(p->entries, built->entries);
	ck_assert_uint_eq(p->data_blocks, built->data_blocks);
	ck_assert_uint_eq(p->raw_key_bytes, built->raw_key_bytes);
	ck_assert_uint_eq(p->raw_value_bytes, built->raw_value_bytes);
	uint64_t smin = UINT64_MAX, smax = 0;
	for (size_t i = 0; i < m->n; i++) {
		uint64_t s = lsm_ikey_seq(kv_key(&m->e[i]));
		smin = s < smin ? s : smin;
		smax = s > smax ? s : smax;
	}
	ck_assert_uint_eq(p->smallest_seq, smin);
	ck_assert_uint_eq(p->largest_seq, smax);
	ck_assert_int_eq(
		lsm_ikey_compare(lsm_slice_of(p->smallest.data, p->smallest.len), kv_key(&m->e[0])),
		0);
	ck_assert_int_eq(lsm_ikey_compare(lsm_slice_of(p->largest.data, p->largest.len),
					  kv_key(&m->e[m->n - 1])),
			 0);
}

/* _i: compression = _i % 3 (none, lz4, zstd), bloom filter when _i >= 3. */
START_TEST(test_table_matches_sorted_reference_with_versions_and_deletions)
{
	int compression = _i % 3, bloom = _i >= 3 ? 10 : 0;
	struct tt_table x;
	tt_init(&x);
	tu_rng_init(&x.r, tu_seed() + (uint64_t)_i);
	model_make(&x.r, 2500, 1, (int)tu_below(&x.r, 2), &x.m);
	tt_build(&x, opts_of(compression, bloom, 4096));
	lsm_table *t = tt_open(&x, NULL, NULL);
	check_props(t, &x.m, &x.props);
	check_iter(t, &x.m, &x.r, 1);
	int skipped;
	check_gets(t, &x.m, &x.r, 1, &skipped);
	if (!bloom)
		ck_assert_int_eq(skipped, 0);
	ck_assert_int_eq(lsm_table_verify(t, NULL, NULL), 0);
	tt_free(&x);
}
END_TEST

static int map_fails(lsm_env *env, lsm_file *f, uint64_t size, const void **addr)
{
	(void)env;
	(void)f;
	(void)size;
	(void)addr;
	return lsm_seterr(-ENOMEM, "mmap: address space exhausted (injected)");
}

/*
 * _i / 2 picks the env: 0 posix (tables mapped), 1 one without map (pread),
 * 2 one whose map fails (pread after all), 3 the fault env over posix
 * (mapped through it); _i % 2 picks raw or lz4 blocks.
 */
START_TEST(test_table_reads_alike_mapped_or_not_and_mapped_raw_blocks_skip_pread_and_cache)
{
	int which = _i / 2, compression = _i % 2 ? LSM_COMPRESS_LZ4 : LSM_COMPRESS_NONE;
	lsm_env plain = *lsm_env_posix(), *env = &plain;
	if (which == 1)
		plain.map = NULL;
	else if (which == 2)
		plain.map = map_fails;
	else if (which == 3)
		env = lsm_env_fault_new(lsm_env_posix());
	int mapped = which == 0 || which == 3;
	struct tt_table x;
	tt_new(&x, tu_seed() + (uint64_t)_i, 1500, 0, 1);
	tt_build(&x, opts_of(compression, 10, 2048));
	lsm_cache *cache = lsm_cache_new(64 << 20);
	lsm_table *t = tt_open(&x, env, cache);
	lsm_fault_counters before, after;
	if (which == 3)
		lsm_fault_counters_get(env, &before);
	for (int round = 0; round < 2; round++) {
		int skipped;
		check_iter(t, &x.m, &x.r, 1);
		check_gets(t, &x.m, &x.r, 1, &skipped);
	}
	uint64_t hits, misses;
	lsm_table_cache_stats(t, &hits, &misses);
	if (mapped && compression == LSM_COMPRESS_NONE) {
		/* read in place: nothing cached, nothing counted */
		ck_assert_uint_eq(lsm_cache_usage(cache), 0);
		ck_assert_uint_eq(hits + misses, 0);
	} else {
		/* each block read once, then served from the cache (mapped: those lz4 kept raw are
		 * read in place) */
		ck_assert_uint_gt(lsm_cache_usage(cache), 0);
		if (mapped)
			ck_assert_uint_le(misses, x.props.data_blocks);
		else
			ck_assert_uint_eq(misses, x.props.data_blocks);
		ck_assert_uint_gt(misses, 0);
		ck_assert_uint_gt(hits, x.m.n);
	}
	if (which == 3) {
		/* a mapped table reads its blocks without a single pread ... */
		lsm_fault_counters_get(env, &after);
		ck_assert_uint_eq(after.bytes_read, before.bytes_read);
		/* ... but verify reads the whole file again */
		ck_assert_int_eq(lsm_table_verify(t, NULL, NULL), 0);
		lsm_fault_counters_get(env, &after);
		ck_assert_uint_ge(after.bytes_read - before.bytes_read, x.size - LSM_TABLE_FOOTER);
	}
	ck_assert_int_eq(lsm_table_verify(t, NULL, NULL), 0);
	tt_free(&x);
	if (which == 3)
		env->destroy(env);
}
END_TEST

START_TEST(test_table_bloom_filter_skips_absent_keys)
{
	struct tt_table x;
	tt_new(&x, tu_seed(), 2000, 0, 0);
	tt_build(&x, opts_of(LSM_COMPRESS_NONE, 10, 4096));
	lsm_table *t = tt_open(&x, NULL, NULL);
	int type, skipped, nskipped = 0;
	uint8_t k[32];
	for (int i = 0; i < 2000; i++) {
		int l = snprintf((char *)k, 24, "absent-%d", i); /* model keys never start so */
		lsm_put_le64(k + l, lsm_pack_trailer(LSM_MAX_SEQ, LSM_TYPE_FOR_SEEK));
		ck_assert_int_eq(
			lsm_table_get(t, lsm_slice_of(k, (size_t)l + 8), 1, &type, NULL, &skipped),
			0);
		nskipped += skipped;
	}
	uint64_t hits, misses;
	lsm_table_cache_stats(t, &hits, &misses);
	/* ~0.8% false positives: at least 95% answered by the filter without a block read */
	ck_assert_int_ge(nskipped, 1900);
	ck_assert_uint_le(misses, 2000 - (uint64_t)nskipped);
	tt_free(&x);
}
END_TEST

START_TEST(test_table_compression_shrinks_compressible_and_keeps_random_raw)
{
	for (int compressible = 0; compressible < 2; compressible++) {
		struct tt_table x;
		tt_new(&x, tu_seed() + 7, 800, 0, compressible);
		for (size_t i = 0; !compressible && i < x.m.n; i++) {
			/* random values large enough that nothing around them is worth compressing
			 */
			struct kv *e = &x.m.e[i];
			e->vlen = 200 + tu_below(&x.r, 200);
			e->val = realloc(e->val, e->vlen);
			tu_fill(&x.r, e->val, e->vlen);
		}
		uint64_t sizes[3];
		for (int c = 0; c < 3; c++) {
			tt_build(&x, opts_of(c, 0, 4096));
			sizes[c] = x.size;
			int skipped;
			check_gets(tt_open(&x, NULL, NULL), &x.m, &x.r, 0, &skipped);
			tt_close(&x);
		}
		printf("%s values: raw %llu, lz4 %llu, zstd %llu bytes\n",
		       compressible ? "compressible" : "random", (unsigned long long)sizes[0],
		       (unsigned long long)sizes[1], (unsigned long long)sizes[2]);
		if (compressible) {
			ck_assert_uint_lt(sizes[1], sizes[0] / 2);
			ck_assert_uint_lt(sizes[2], sizes[0] / 2);
		} else {
			/* keys alone are not worth it either: every block stored raw, same bytes */
			ck_assert_uint_eq(sizes[1], sizes[0]);
			ck_assert_uint_eq(sizes[2], sizes[0]);
		}
		tt_free(&x);
	}
}
END_TEST

START_TEST(test_table_empty_table_has_nothing)
{
	struct tt_table x;
	tt_init(&x); /* the model holds nothing */
	tt_build(&x, opts_of(LSM_COMPRESS_LZ4, 10, 4096));
	ck_assert_uint_eq(x.props.entries, 0);
	lsm_table *t = tt_open(&x, NULL, NULL);
	lsm_it *it = lsm_table_iter(t, 1);
	lsm_it_seek_first(it);
	ck_assert(!lsm_it_valid(it));
	lsm_it_seek_last(it);
	ck_assert(!lsm_it_valid(it));
	uint8_t k[9];
	lsm_ikey_make(k, "a", 1, 1, 1);
	lsm_it_seek(it, lsm_slice_of(k, 9));
	ck_assert(!lsm_it_valid(it));
	ck_assert_int_eq(lsm_it_status(it), 0);
	lsm_it_destroy(it);
	int type;
	ck_assert_int_eq(lsm_table_get(t, lsm_slice_of(k, 9), 1, &type, NULL, NULL), 0);
	ck_assert_int_eq(lsm_table_verify(t, NULL, NULL), 0);
	tt_free(&x);
}
END_TEST

START_TEST(test_table_builder_refuses_existing_file)
{
	struct tt_table x;
	tt_init(&x);
	FILE *f = fopen(x.path, "w");
	fclose(f);
	lsm_table_builder *b;
	lsm_table_options o = opts_of(0, 0, 4096);
	ck_assert_int_eq(lsm_table_builder_new(lsm_env_posix(), x.path, &o, &b), -EEXIST);
	o.compression = 9;
	ck_assert_int_eq(lsm_table_builder_new(lsm_env_posix(), x.path, &o, &b), -EINVAL);
	tt_free(&x);
}
END_TEST

START_TEST(test_table_iterator_keeps_table_alive)
{
	struct tt_table x;
	tt_new(&x, tu_seed(), 300, 0, 0);
	tt_build(&x, opts_of(0, 10, 1024));
	lsm_it *it = lsm_table_iter(tt_open(&x, NULL, NULL), 1);
	tt_close(&x); /* the iterator's reference is the last */
	size_t i = 0;
	for (lsm_it_seek_first(it); lsm_it_valid(it); lsm_it_next(it))
		assert_entry(lsm_it_key(it), lsm_it_value(it), &x.m.e[i++]);
	ck_assert_uint_eq(i, x.m.n);
	lsm_it_destroy(it);
	tt_free(&x);
}
END_TEST

/* ---- read-ahead of sequential scans ---- */

/* The ranges table_read asks read-ahead for, in order. */
static struct {
	uint64_t off[4096], len[4096];
	int n;
} ra;

static int record_readahead(lsm_env *env, lsm_file *f, uint64_t off, uint64_t len)
{
	(void)env;
	(void)f;
	ck_assert_int_lt(ra.n, 4096);
	ra.off[ra.n] = off;
	ra.len[ra.n++] = len;
	return 0;
}

/*
 * A forward scan asks for the bytes ahead of it once per window, each
 * range starting where the one before ended, up to the end of the data
 * blocks; a backward scan likewise towards the start; point lookups and
 * short seeks ask for nothing (read-ahead would only waste the cache).
 */
START_TEST(test_table_sequential_scans_read_ahead_point_lookups_do_not)
{
	/* blocks under 32 KiB: see the test below for big ones */
	struct tt_table x;
	tt_new(&x, tu_seed(), 8000, 0, 0);
	tt_build(&x, opts_of(0, 10, 4096));
	const struct model *m = &x.m;
	uint64_t size = x.size;
	ck_assert_uint_gt(size, 2 * 512 * 1024); /* several windows */
	lsm_env env = *lsm_env_posix();
	env.readahead = record_readahead;
	lsm_table *t = tt_open(&x, &env, NULL);

	ra.n = 0;
	lsm_it *it = lsm_table_iter(t, 0);
	size_t i = 0;
	for (lsm_it_seek_first(it); lsm_it_valid(it); lsm_it_next(it))
		assert_entry(lsm_it_key(it), lsm_it_value(it), &m->e[i++]);
	ck_assert_uint_eq(i, m->n);
	ck_assert_int_ge(ra.n, (int)(size / (512 * 1024)) - 1);
	ck_assert_uint_lt(ra.off[0], 512 * 1024);
	for (int k = 1; k < ra.n; k++)
		ck_assert_uint_eq(ra.off[k], ra.off[k - 1] + ra.len[k - 1]);
	uint64_t fwd_end = ra.off[ra.n - 1] + ra.len[ra.n - 1];
	ck_assert_uint_le(fwd_end, size);
	ck_assert_uint_gt(fwd_end, size - size / 8); /* the data blocks are nearly all of it */

	ra.n = 0;
	i = m->n;
	for (lsm_it_seek_last(it); lsm_it_valid(it); lsm_it_prev(it))
		assert_entry(lsm_it_key(it), lsm_it_value(it), &m->e[--i]);
	ck_assert_uint_eq(i, 0);
	ck_assert_int_ge(ra.n, (int)(size / (512 * 1024)) - 1);
	for (int k = 1; k < ra.n; k++)
		ck_assert_uint_eq(ra.off[k] + ra.len[k], ra.off[k - 1]);
	ck_assert_uint_eq(ra.off[ra.n - 1], 0);

	ra.n = 0;
	lsm_buf val;
	lsm_buf_init(&val);
	for (int k = 0; k < 200; k++) {
		const struct kv *e = &m->e[tu_below(&x.r, m->n)];
		int type, skipped;
		ck_assert_int_eq(lsm_table_get(t, kv_key(e), 0, &type, &val, &skipped),
				 1); /* found */
		lsm_it_seek(it, kv_key(e));
		ck_assert(lsm_it_valid(it));
		lsm_it_next(it);
	}
	ck_assert_int_eq(ra.n, 0);
	lsm_buf_free(&val);
	lsm_it_destroy(it);
	tt_free(&x);
}
END_TEST

/*
 * A block of 32 KiB or more (a file chunk) is asked for whole before it is
 * read, by a point lookup too: through the mapping its pages would
 * otherwise come in one fault, one disk read, at a time.
 */
START_TEST(test_table_big_blocks_are_read_ahead_whole)
{
	const size_t vlen = 40 * 1024;
	struct tt_table x;
	tt_init(&x);
	/* keys "ka".."kt", each with 40 KiB of zeros */
	x.m.e = calloc(20, sizeof(*x.m.e));
	ck_assert_ptr_nonnull(x.m.e);
	for (x.m.n = 0; x.m.n < 20; x.m.n++) {
		struct kv *e = &x.m.e[x.m.n];
		e->klen = 2 + LSM_TRAILER;
		e->key = malloc(e->klen);
		lsm_ikey_make(e->key, (char[]){'k', (char)('a' + x.m.n)}, 2, 1, LSM_TYPE_VALUE);
		e->vlen = vlen;
		e->val = calloc(1, vlen);
		ck_assert_ptr_nonnull(e->val);
	}
	tt_build(&x, opts_of(0, 10, 4096));
	lsm_env env = *lsm_env_posix();
	env.readahead = record_readahead;
	lsm_table *t = tt_open(&x, &env, NULL);
	lsm_buf val;
	lsm_buf_init(&val);
	ra.n = 0;
	for (int i = 0; i < 20; i++) {
		int type, skipped;
		ck_assert_int_eq(lsm_table_get(t, kv_key(&x.m.e[i]), 0, &type, &val, &skipped), 1);
		ck_assert_uint_eq(val.len, vlen);
		ck_assert_int_eq(ra.n, i + 1);
		ck_assert_uint_ge(ra.len[i], vlen);
		ck_assert_uint_lt(ra.len[i], vlen + 1024);
		ck_assert_uint_le(ra.off[i] + ra.len[i], x.size);
	}
	lsm_buf_free(&val);
	tt_free(&x);
}
END_TEST

/* ---- the block cache ---- */

START_TEST(test_table_block_cache_serves_repeated_reads)
{
	struct tt_table x;
	tt_new(&x, tu_seed(), 1000, 0, 1);
	tt_build(&x, opts_of(LSM_COMPRESS_ZSTD, 10, 2048));
	const struct model *m = &x.m;
	tu_rng *r = &x.r;
	lsm_cache *cache = lsm_cache_new(64 << 20);
	/* Not mapped, so that every block goes through the cache, even one zstd left raw. */
	lsm_env nomap = *lsm_env_posix();
	nomap.map = NULL;
	lsm_table *t = tt_open(&x, &nomap, cache);
	uint64_t hits, misses;
	int skipped;

	/* fill_cache = 0 reads around the cache */
	check_gets(t, m, r, 0, &skipped);
	ck_assert_uint_eq(lsm_cache_usage(cache), 0);
	lsm_table_cache_stats(t, &hits, &misses);
	ck_assert_uint_eq(hits, 0);

	check_iter(t, m, r, 1);
	ck_assert_uint_gt(lsm_cache_usage(cache), 0);
	uint64_t before = misses;
	lsm_table_cache_stats(t, &hits, &misses);
	/* every block read from disk exactly once, then served from the cache */
	ck_assert_uint_eq(misses - before, x.props.data_blocks);
	check_gets(t, m, r, 1, &skipped);
	check_iter(t, m, r, 1);
	uint64_t misses2;
	lsm_table_cache_stats(t, &hits, &misses2);
	ck_assert_uint_eq(misses2, misses);
	ck_assert_uint_gt(hits, m->n);
	ck_assert_int_eq(lsm_table_verify(t, NULL, NULL), 0);
	tt_free(&x);
}
END_TEST

START_TEST(test_table_iterators_pin_blocks_in_a_cache_that_keeps_nothing)
{
	struct tt_table x;
	tt_new(&x, tu_seed(), 600, 0, 0);
	tt_build(&x, opts_of(LSM_COMPRESS_LZ4, 0, 512));
	const struct model *m = &x.m;
	/* Capacity 0: every block is evicted the moment nobody holds it. */
	lsm_cache *cache = lsm_cache_new(0);
	lsm_table *t = tt_open(&x, NULL, cache);
	lsm_it *a = lsm_table_iter(t, 1), *b = lsm_table_iter(t, 1);
	lsm_buf v;
	lsm_buf_init(&v);
	size_t i = 0, j = m->n;
	lsm_it_seek_first(a);
	lsm_it_seek_last(b);
	while (lsm_it_valid(a)) {
		assert_entry(lsm_it_key(a), lsm_it_value(a), &m->e[i]);
		ck_assert(lsm_it_valid(b));
		assert_entry(lsm_it_key(b), lsm_it_value(b), &m->e[--j]);
		/* interleave point reads that load and drop other blocks */
		const struct kv *e = &m->e[tu_below(&x.r, m->n)];
		int type;
		ck_assert_int_eq(lsm_table_get(t, kv_key(e), 1, &type, &v, NULL), 1);
		lsm_it_next(a);
		lsm_it_prev(b);
		i++;
	}
	ck_assert_uint_eq(i, m->n);
	ck_assert(!lsm_it_valid(b));
	lsm_it_destroy(a);
	lsm_it_destroy(b);
	ck_assert_uint_eq(lsm_cache_usage(cache), 0);
	lsm_buf_free(&v);
	tt_free(&x);
}
END_TEST

struct reader_arg {
	lsm_table *t;
	const struct model *m;
	uint64_t seed;
	int failures;
};

static void *reader(void *p)
{
	struct reader_arg *a = p;
	tu_rng r;
	tu_rng_init(&r, a->seed);
	lsm_buf v;
	lsm_buf_init(&v);
	for (int i = 0; i < 3000; i++) {
		const struct kv *x = &a->m->e[tu_below(&r, a->m->n)];
		int type;
		if (lsm_table_get(a->t, kv_key(x), 1, &type, &v, NULL) != 1 ||
		    (type == LSM_TYPE_VALUE &&
		     (v.len != x->vlen || (v.len && memcmp(v.data, x->val, v.len)))))
			a->failures++;
	}
	lsm_buf_free(&v);
	return NULL;
}

START_TEST(test_table_concurrent_gets_through_a_small_cache)
{
	struct tt_table x;
	tt_new(&x, tu_seed(), 1500, 0, 1);
	/* zstd: each reader thread sets up (and at exit frees) its own decompression context */
	tt_build(&x, opts_of(LSM_COMPRESS_ZSTD, 10, 1024));
	lsm_cache *cache = lsm_cache_new(16 * 1024); /* a handful of blocks: constant eviction */
	lsm_table *t = tt_open(&x, NULL, cache);
	pthread_t th[4];
	struct reader_arg args[4];
	for (int i = 0; i < 4; i++) {
		args[i] = (struct reader_arg){t, &x.m, tu_seed() + (uint64_t)i, 0};
		lsm_table_ref(t);
		ck_assert_int_eq(pthread_create(&th[i], NULL, reader, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(args[i].failures, 0);
		lsm_table_unref(t);
	}
	tt_free(&x);
}
END_TEST

/* ---- damage ---- */

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *p = malloc(*len + 1);
	ck_assert_uint_eq(fread(p, 1, *len, f), *len);
	fclose(f);
	return p;
}

static void write_file(const char *path, const uint8_t *p, size_t len)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, len, f), len);
	fclose(f);
}

static void put_byte(int fd, size_t off, uint8_t v)
{
	ck_assert_int_eq(pwrite(fd, &v, 1, (off_t)off), 1);
}

/*
 * Runs every read path on tt's (possibly damaged) file. Anything returned
 * must match the model; errors must be corruption. Returns 1 if the damage
 * was reported by some path.
 */
static int read_everything(const struct tt_table *tt)
{
	const char *path = tt->path;
	const struct model *m = &tt->m;
	lsm_table *t;
	int rc = lsm_table_open(lsm_env_posix(), path, tt->size, NULL, &t);
	if (rc) {
		ck_assert_int_eq(rc, -LSM_ECORRUPT);
		ck_assert_ptr_nonnull(strstr(lsm_errmsg(), path));
		return 1;
	}
	int seen = 0, type;
	lsm_buf v;
	lsm_buf_init(&v);
	for (size_t i = 0; i < m->n; i++) {
		const struct kv *x = &m->e[i];
		rc = lsm_table_get(t, kv_key(x), 1, &type, &v, NULL);
		if (rc < 0) {
			ck_assert_int_eq(rc, -LSM_ECORRUPT);
			ck_assert_ptr_nonnull(strstr(lsm_errmsg(), path));
			seen = 1;
			continue;
		}
		ck_assert_int_eq(rc, 1);
		ck_assert_int_eq(type, lsm_ikey_type(kv_key(x)));
		if (type == LSM_TYPE_VALUE) {
			ck_assert_uint_eq(v.len, x->vlen);
			ck_assert(v.len == 0 || memcmp(v.data, x->val, v.len) == 0);
		}
	}
	uint8_t k[16];
	lsm_ikey_make(k, "~absent", 7, 1, LSM_TYPE_FOR_SEEK);
	rc = lsm_table_get(t, lsm_slice_of(k, 15), 1, &type, &v, NULL);
	ck_assert(rc == 0 || rc == -LSM_ECORRUPT);
	lsm_buf_free(&v);

	lsm_it *it = lsm_table_iter(t, 1);
	size_t i = 0;
	for (lsm_it_seek_first(it); lsm_it_valid(it); lsm_it_next(it)) {
		ck_assert_uint_lt(i, m->n);
		assert_entry(lsm_it_key(it), lsm_it_value(it), &m->e[i++]);
	}
	rc = lsm_it_status(it);
	if (rc) {
		ck_assert_int_eq(rc, -LSM_ECORRUPT);
		seen = 1;
	} else {
		ck_assert_uint_eq(i, m->n);
	}
	i = m->n;
	for (lsm_it_seek_last(it); lsm_it_valid(it); lsm_it_prev(it)) {
		ck_assert_uint_gt(i, 0);
		assert_entry(lsm_it_key(it), lsm_it_value(it), &m->e[--i]);
	}
	ck_assert(lsm_it_status(it) == 0 || lsm_it_status(it) == -LSM_ECORRUPT);
	lsm_it_destroy(it);

	rc = lsm_table_verify(t, NULL, NULL);
	ck_assert(rc == 0 || rc == -LSM_ECORRUPT);
	seen |= rc != 0;
	lsm_table_unref(t);
	return seen;
}

START_TEST(test_table_every_byte_flip_is_detected_never_misread)
{
	/* _i: 0 raw blocks, 1 lz4 blocks; both with a filter and several blocks */
	struct tt_table x;
	tt_new(&x, tu_seed() + (uint64_t)_i, 40, 0, 1);
	for (size_t i = 0; i < x.m.n; i++) /* a small file: few flips */
		x.m.e[i].vlen = x.m.e[i].vlen < 40 ? x.m.e[i].vlen : 40;
	tt_build(&x, opts_of(_i ? LSM_COMPRESS_LZ4 : LSM_COMPRESS_NONE, 10, 400));
	ck_assert_uint_ge(x.props.data_blocks, 3);
	ck_assert_int_eq(read_everything(&x), 0);
	size_t len;
	uint8_t *orig = read_file(x.path, &len);
	printf("flipping each of %zu bytes (%llu data blocks)\n", len,
	       (unsigned long long)x.props.data_blocks);
	int fd = open(x.path, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	for (size_t off = 0; off < len; off++) {
		uint8_t flip = (uint8_t)(1 + tu_below(&x.r, 255));
		put_byte(fd, off, orig[off] ^ flip);
		ck_assert_msg(read_everything(&x), "flip of byte %zu (^%02x) went unnoticed", off,
			      flip);
		put_byte(fd, off, orig[off]);
	}
	close(fd);
	ck_assert_int_eq(read_everything(&x), 0);
	free(orig);
	tt_free(&x);
}
END_TEST

/* _i: 0 raw blocks (read in place from the mapping), 1 lz4 blocks (through the cache) */
START_TEST(test_table_damaged_block_fails_every_read_never_remembered_as_good)
{
	struct tt_table x;
	tt_new(&x, tu_seed() + (uint64_t)_i, 300, 0, 1);
	tt_build(&x, opts_of(_i ? LSM_COMPRESS_LZ4 : LSM_COMPRESS_NONE, 10, 1024));
	ck_assert_uint_ge(x.props.data_blocks, 3);
	tt_damage_first_block(&x);
	lsm_table *t = tt_open(&x, NULL, lsm_cache_new(1 << 20));
	lsm_buf v;
	lsm_buf_init(&v);
	int type;
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(lsm_table_get(t, kv_key(&x.m.e[0]), 1, &type, &v, NULL),
				 -LSM_ECORRUPT);
		ck_assert_ptr_nonnull(strstr(lsm_errmsg(), "checksum"));
		lsm_it *it = lsm_table_iter(t, 1);
		lsm_it_seek_first(it);
		ck_assert(!lsm_it_valid(it));
		ck_assert_int_eq(lsm_it_status(it), -LSM_ECORRUPT);
		lsm_it_destroy(it);
	}
	/* the other blocks are unharmed */
	const struct kv *last = &x.m.e[x.m.n - 1];
	ck_assert_int_eq(lsm_table_get(t, kv_key(last), 1, &type, &v, NULL), 1);
	ck_assert_int_eq(type, lsm_ikey_type(kv_key(last)));
	ck_assert_int_eq(lsm_table_verify(t, NULL, NULL), -LSM_ECORRUPT);
	lsm_buf_free(&v);
	tt_free(&x);
}
END_TEST

START_TEST(test_table_truncated_file_is_rejected_naming_it)
{
	struct tt_table x;
	tt_new(&x, tu_seed(), 200, 0, 0);
	tt_build(&x, opts_of(0, 10, 1024));
	const char *path = x.path;
	uint64_t size = x.size;
	size_t len;
	uint8_t *orig = read_file(path, &len);
	size_t cuts[] = {0, 1, 63, 64, 65, len / 2, len - 65, len - 64, len - 9, len - 1};
	for (size_t c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
		lsm_table *t;
		write_file(path, orig, cuts[c]);
		/* the size the MANIFEST remembers */
		ck_assert_int_eq(lsm_table_open(lsm_env_posix(), path, size, NULL, &t),
				 -LSM_ECORRUPT);
		ck_assert_ptr_nonnull(strstr(lsm_errmsg(), path));
		ck_assert_ptr_nonnull(strstr(lsm_errmsg(), "truncated"));
		/* the size the file now has */
		ck_assert_int_eq(lsm_table_open(lsm_env_posix(), path, cuts[c], NULL, &t),
				 -LSM_ECORRUPT);
		ck_assert_ptr_nonnull(strstr(lsm_errmsg(), path));
	}
	write_file(path, orig, len);
	tt_open(&x, NULL, NULL);
	free(orig);
	tt_free(&x);
}
END_TEST

START_TEST(test_table_wrong_magic_is_corruption_newer_version_is_eversion)
{
	struct tt_table x;
	tt_new(&x, tu_seed(), 50, 0, 0);
	tt_build(&x, opts_of(0, 10, 1024));
	const char *path = x.path;
	uint64_t size = x.size;
	size_t len;
	uint8_t *orig = read_file(path, &len), *bad = malloc(len);
	uint8_t *footer = bad + len - LSM_TABLE_FOOTER;
	lsm_table *t;

	memcpy(bad, orig, len);
	memcpy(footer + 56, "NOTATABL", 8);
	write_file(path, bad, len);
	ck_assert_int_eq(lsm_table_open(lsm_env_posix(), path, size, NULL, &t), -LSM_ECORRUPT);
	ck_assert_ptr_nonnull(strstr(lsm_errmsg(), path));
	ck_assert_ptr_nonnull(strstr(lsm_errmsg(), "magic"));

	/* a well-formed footer of a newer format */
	memcpy(bad, orig, len);
	lsm_put_le32(footer + 48, LSM_TABLE_VERSION + 1);
	lsm_put_le32(footer + 52, lsm_checksum(footer, 52));
	write_file(path, bad, len);
	ck_assert_int_eq(lsm_table_open(lsm_env_posix(), path, size, NULL, &t), -LSM_EVERSION);
	ck_assert_ptr_nonnull(strstr(lsm_errmsg(), path));

	/* the same version change without its checksum is damage, not a newer table */
	lsm_put_le32(footer + 52, lsm_get_le32(orig + len - LSM_TABLE_FOOTER + 52));
	write_file(path, bad, len);
	ck_assert_int_eq(lsm_table_open(lsm_env_posix(), path, size, NULL, &t), -LSM_ECORRUPT);

	free(bad);
	free(orig);
	tt_free(&x);
}
END_TEST

struct report_log {
	int calls;
	char file[256];
	uint64_t offset;
	char msg[256];
};

static void record_report(void *arg, const char *file, uint64_t offset, const char *msg)
{
	struct report_log *l = arg;
	if (l->calls++ == 0) {
		snprintf(l->file, sizeof(l->file), "%s", file);
		l->offset = offset;
		snprintf(l->msg, sizeof(l->msg), "%s", msg);
	}
}

START_TEST(test_table_verify_reports_damaged_block_with_file_and_offset)
{
	struct tt_table x;
	tt_new(&x, tu_seed(), 300, 0, 0);
	tt_build(&x, opts_of(0, 10, 1024));
	lsm_table *t = tt_open(&x, NULL, NULL);
	struct report_log log = {0};
	ck_assert_int_eq(lsm_table_verify(t, record_report, &log), 0);
	ck_assert_int_eq(log.calls, 0);

	/* damage the first data block after open: only verify (or a read) can see it */
	tt_damage_first_block(&x);
	ck_assert_int_eq(lsm_table_verify(t, record_report, &log), -LSM_ECORRUPT);
	ck_assert_int_eq(log.calls, 1);
	ck_assert_str_eq(log.file, x.path);
	ck_assert_uint_eq(log.offset, 0);
	ck_assert_ptr_nonnull(strstr(log.msg, "checksum"));
	ck_assert_ptr_null(strstr(log.msg, "corruption in")); /* file and offset not repeated */
	tt_close(&x);
	/* opened again, the table checks the block at its first read */
	t = tt_open(&x, NULL, NULL);
	int type;
	ck_assert_int_eq(lsm_table_get(t, kv_key(&x.m.e[0]), 1, &type, NULL, NULL), -LSM_ECORRUPT);
	tt_free(&x);
}
END_TEST

/* ---- compression codecs ---- */

START_TEST(test_compress_round_trip_each_method)
{
	tu_rng r;
	tu_rng_init(&r, tu_seed());
	static const size_t sizes[] = {256, 1000, 4096, 65536, 300000};
	lsm_buf c, d;
	lsm_buf_init(&c);
	lsm_buf_init(&d);
	for (int method = LSM_COMPRESS_LZ4; method <= LSM_COMPRESS_ZSTD; method++) {
		for (int s = 0; s < 5; s++) {
			uint8_t *src = malloc(sizes[s]);
			fill_value(&r, src, sizes[s], 1);
			ck_assert_int_eq(lsm_compress(method, src, sizes[s], &c), 0);
			ck_assert_uint_le(c.len, sizes[s] - sizes[s] / 8);
			ck_assert_int_eq(lsm_decompress(method, c.data, c.len, &d), 0);
			ck_assert_uint_eq(d.len, sizes[s]);
			ck_assert(memcmp(d.data, src, sizes[s]) == 0);
			free(src);
		}
	}
	lsm_buf_free(&c);
	lsm_buf_free(&d);
}
END_TEST

START_TEST(test_compress_incompressible_data_is_left_raw)
{
	tu_rng r;
	tu_rng_init(&r, tu_seed());
	uint8_t src[4096];
	tu_fill(&r, src, sizeof(src));
	lsm_buf c;
	lsm_buf_init(&c);
	ck_assert_int_eq(lsm_compress(LSM_COMPRESS_LZ4, src, sizeof(src), &c), 1);
	ck_assert_int_eq(lsm_compress(LSM_COMPRESS_ZSTD, src, sizeof(src), &c), 1);
	ck_assert_int_eq(lsm_compress(LSM_COMPRESS_NONE, src, sizeof(src), &c), 1);
	ck_assert_int_eq(lsm_compress(LSM_COMPRESS_LZ4, src, 0, &c), 1);
	ck_assert_int_eq(lsm_compress(77, src, sizeof(src), &c), -EINVAL);
	lsm_buf_free(&c);
}
END_TEST

START_TEST(test_decompress_rejects_malformed_input)
{
	tu_rng r;
	tu_rng_init(&r, tu_seed());
	uint8_t src[8192];
	fill_value(&r, src, sizeof(src), 1);
	lsm_buf c, d;
	lsm_buf_init(&c);
	lsm_buf_init(&d);
	for (int method = LSM_COMPRESS_LZ4; method <= LSM_COMPRESS_ZSTD; method++) {
		ck_assert_int_eq(lsm_compress(method, src, sizeof(src), &c), 0);
		/* every truncation fails cleanly */
		for (size_t len = 0; len < c.len; len++) {
			uint8_t *cut = malloc(len + 1);
			memcpy(cut, c.data, len);
			ck_assert_int_eq(lsm_decompress(method, cut, len, &d), -LSM_ECORRUPT);
			free(cut);
		}
		/* flipped bytes: an error or some output of the promised size, never a crash */
		for (size_t off = 0; off < c.len; off++) {
			uint8_t *bad = malloc(c.len);
			memcpy(bad, c.data, c.len);
			bad[off] ^= (uint8_t)(1 + tu_below(&r, 255));
			int rc = lsm_decompress(method, bad, c.len, &d);
			ck_assert(rc == -LSM_ECORRUPT || (rc == 0 && d.len <= 2 * sizeof(src)));
			free(bad);
		}
		/* garbage */
		for (int i = 0; i < 200; i++) {
			uint8_t junk[256];
			tu_fill(&r, junk, sizeof(junk));
			int rc = lsm_decompress(method, junk, sizeof(junk), &d);
			ck_assert(rc == -LSM_ECORRUPT || rc == 0);
		}
	}
	ck_assert_int_eq(lsm_decompress(9, src, 10, &d), -LSM_ECORRUPT);
	lsm_buf_free(&c);
	lsm_buf_free(&d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("table");
	TCase *tc = tcase_create("table");
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_table_matches_sorted_reference_with_versions_and_deletions, 0,
			    6);
	tcase_add_test(tc, test_table_bloom_filter_skips_absent_keys);
	tcase_add_test(tc, test_table_compression_shrinks_compressible_and_keeps_random_raw);
	tcase_add_test(tc, test_table_empty_table_has_nothing);
	tcase_add_test(tc, test_table_builder_refuses_existing_file);
	tcase_add_test(tc, test_table_iterator_keeps_table_alive);
	tcase_add_test(tc, test_table_sequential_scans_read_ahead_point_lookups_do_not);
	tcase_add_test(tc, test_table_big_blocks_are_read_ahead_whole);
	tcase_add_loop_test(
		tc, test_table_reads_alike_mapped_or_not_and_mapped_raw_blocks_skip_pread_and_cache,
		0, 8);
	suite_add_tcase(s, tc);

	TCase *cache = tcase_create("cache");
	tcase_set_timeout(cache, 600);
	tcase_add_test(cache, test_table_block_cache_serves_repeated_reads);
	tcase_add_test(cache, test_table_iterators_pin_blocks_in_a_cache_that_keeps_nothing);
	tcase_add_test(cache, test_table_concurrent_gets_through_a_small_cache);
	suite_add_tcase(s, cache);

	TCase *damage = tcase_create("damage");
	tcase_set_timeout(damage, 600);
	tcase_add_loop_test(damage, test_table_every_byte_flip_is_detected_never_misread, 0, 2);
	tcase_add_loop_test(
		damage, test_table_damaged_block_fails_every_read_never_remembered_as_good, 0, 2);
	tcase_add_test(damage, test_table_truncated_file_is_rejected_naming_it);
	tcase_add_test(damage, test_table_wrong_magic_is_corruption_newer_version_is_eversion);
	tcase_add_test(damage, test_table_verify_reports_damaged_block_with_file_and_offset);
	suite_add_tcase(s, damage);

	TCase *comp = tcase_create("compress");
	tcase_add_test(comp, test_compress_round_trip_each_method);
	tcase_add_test(comp, test_compress_incompressible_data_is_left_raw);
	tcase_add_test(comp, test_decompress_rejects_malformed_input);
	suite_add_tcase(s, comp);
	return tu_run_suite(s);
}
