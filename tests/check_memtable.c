/*
 * check_memtable.c — the skiplist memtable against a sorted reference array,
 * its iterator, its reference counting, and one writer racing readers.
 */
#include "memtable.h"
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reference model: every entry added, sorted by internal key ---- */

typedef struct ref_entry {
	uint8_t *ikey; /* user key + trailer */
	size_t ikey_len;
	uint8_t *val;
	size_t vlen;
} ref_entry;

typedef struct ref_model {
	ref_entry *e;
	size_t n;
	uint8_t **keys; /* the user key pool */
	size_t *key_lens;
	size_t nkeys;
} ref_model;

static lsm_slice ref_ikey(const ref_entry *e)
{
	return lsm_slice_of(e->ikey, e->ikey_len);
}

static int ref_cmp(const void *a, const void *b)
{
	return lsm_ikey_compare(ref_ikey(a), ref_ikey(b));
}

/*
 * A key pool with short keys, shared prefixes, the empty key and a few long
 * ones, so that length tie-breaks and prefix ordering are exercised.
 */
static void make_keys(ref_model *r, tu_rng *rng, size_t nkeys)
{
	r->nkeys = nkeys;
	r->keys = calloc(nkeys, sizeof(*r->keys));
	r->key_lens = calloc(nkeys, sizeof(*r->key_lens));
	for (size_t i = 0; i < nkeys; i++) {
		size_t len;
		if (i == 0)
			len = 0;
		else if (tu_below(rng, 20) == 0)
			len = 100 + tu_below(rng, 400);
		else
			len = 1 + tu_below(rng, 6);
		r->keys[i] = malloc(len + 1);
		if (i > 1 && tu_below(rng, 3) == 0 && len > 1) {
			/* share a prefix with an earlier key */
			size_t j = 1 + tu_below(rng, i - 1);
			size_t p = r->key_lens[j] < len ? r->key_lens[j] : len - 1;
			memcpy(r->keys[i], r->keys[j], p);
			for (size_t k = p; k < len; k++)
				r->keys[i][k] = (uint8_t)('a' + tu_below(rng, 4));
		} else {
			for (size_t k = 0; k < len; k++)
				r->keys[i][k] = (uint8_t)('a' + tu_below(rng, 4));
		}
		r->key_lens[i] = len;
	}
}

/*
 * Fills m and r with n entries: random keys from the pool, distinct
 * sequences added in shuffled order, about one deletion in five, values
 * mostly small with a few up to 64 KiB.
 */
static void fill_random(lsm_memtable *m, ref_model *r, tu_rng *rng, size_t n)
{
	uint64_t *seqs = malloc(n * sizeof(*seqs));
	for (size_t i = 0; i < n; i++)
		seqs[i] = i + 1;
	for (size_t i = n; i > 1; i--) {
		size_t j = tu_below(rng, i);
		uint64_t t = seqs[i - 1];
		seqs[i - 1] = seqs[j];
		seqs[j] = t;
	}
	r->e = calloc(n, sizeof(*r->e));
	r->n = n;
	for (size_t i = 0; i < n; i++) {
		ref_entry *e = &r->e[i];
		size_t k = tu_below(rng, r->nkeys);
		int type = tu_below(rng, 5) == 0 ? LSM_TYPE_DELETE : LSM_TYPE_VALUE;
		size_t vlen = 0;
		if (type == LSM_TYPE_VALUE)
			vlen = tu_below(rng, 50) == 0 ? tu_below(rng, 65537) : tu_below(rng, 64);
		e->ikey_len = r->key_lens[k] + LSM_TRAILER;
		e->ikey = malloc(e->ikey_len);
		lsm_ikey_make(e->ikey, r->keys[k], r->key_lens[k], seqs[i], type);
		e->vlen = vlen;
		e->val = malloc(vlen + 1);
		tu_fill(rng, e->val, vlen);
		ck_assert_int_eq(lsm_memtable_add(m, seqs[i], type,
						  lsm_slice_of(r->keys[k], r->key_lens[k]),
						  lsm_slice_of(e->val, vlen)),
				 0);
	}
	free(seqs);
	qsort(r->e, n, sizeof(*r->e), ref_cmp);
}

static void ref_free(ref_model *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->e[i].ikey);
		free(r->e[i].val);
	}
	for (size_t i = 0; i < r->nkeys; i++)
		free(r->keys[i]);
	free(r->e);
	free(r->keys);
	free(r->key_lens);
}

/* Index of the first reference entry >= target, r->n if none. */
static size_t ref_lower_bound(const ref_model *r, lsm_slice target)
{
	size_t lo = 0, hi = r->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (lsm_ikey_compare(ref_ikey(&r->e[mid]), target) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void assert_at(lsm_it *it, const ref_model *r, size_t i)
{
	ck_assert(lsm_it_valid(it));
	lsm_slice k = lsm_it_key(it), v = lsm_it_value(it);
	ck_assert_uint_eq(k.len, r->e[i].ikey_len);
	ck_assert(memcmp(k.data, r->e[i].ikey, k.len) == 0);
	ck_assert_uint_eq(v.len, r->e[i].vlen);
	ck_assert(v.len == 0 || memcmp(v.data, r->e[i].val, v.len) == 0);
}

START_TEST(test_memtable_get_returns_newest_visible_version)
{
	tu_rng rng;
	tu_rng_init(&rng, tu_seed());
	ref_model r = {0};
	make_keys(&r, &rng, 300);
	lsm_memtable *m = lsm_memtable_new();
	ck_assert_ptr_nonnull(m);
	size_t n = 5000;
	fill_random(m, &r, &rng, n);

	uint8_t *probe = malloc(600 + LSM_TRAILER);
	for (int t = 0; t < 20000; t++) {
		size_t k = tu_below(&rng, r.nkeys);
		/* sometimes a key absent from the pool: an existing one plus a byte */
		int absent = tu_below(&rng, 10) == 0;
		size_t klen = r.key_lens[k] + (absent ? 1 : 0);
		memcpy(probe, r.keys[k], r.key_lens[k]);
		if (absent)
			probe[klen - 1] = 'z';
		uint64_t seq = tu_below(&rng, 8) == 0 ? LSM_MAX_SEQ : tu_below(&rng, n + 2);

		/* expected: first entry >= (key, seq) with the same user key */
		uint8_t *target = malloc(klen + LSM_TRAILER);
		lsm_ikey_make(target, probe, klen, seq, LSM_TYPE_FOR_SEEK);
		size_t i = ref_lower_bound(&r, lsm_slice_of(target, klen + LSM_TRAILER));
		int want = i < r.n && lsm_user_compare(lsm_ikey_user(ref_ikey(&r.e[i])),
						       lsm_slice_of(probe, klen)) == 0;
		free(target);

		int type = -1;
		lsm_slice v = {0};
		int got = lsm_memtable_get(m, lsm_slice_of(probe, klen), seq, &type, &v);
		ck_assert_int_eq(got, want);
		if (!want)
			continue;
		ck_assert(!absent);
		ck_assert_uint_le(lsm_ikey_seq(ref_ikey(&r.e[i])), seq);
		ck_assert_int_eq(type, lsm_ikey_type(ref_ikey(&r.e[i])));
		ck_assert_uint_eq(v.len, r.e[i].vlen);
		ck_assert(v.len == 0 || memcmp(v.data, r.e[i].val, v.len) == 0);
	}
	free(probe);
	ck_assert_uint_eq(lsm_memtable_count(m), n);
	lsm_memtable_unref(m);
	ref_free(&r);
}
END_TEST

START_TEST(test_memtable_iterates_in_reference_order_both_ways)
{
	tu_rng rng;
	tu_rng_init(&rng, tu_seed() + 1);
	ref_model r = {0};
	make_keys(&r, &rng, 200);
	lsm_memtable *m = lsm_memtable_new();
	fill_random(m, &r, &rng, 4000);
	lsm_it *it = lsm_memtable_iter(m);
	ck_assert_ptr_nonnull(it);

	size_t i = 0;
	for (lsm_it_seek_first(it); lsm_it_valid(it); lsm_it_next(it))
		assert_at(it, &r, i++);
	ck_assert_uint_eq(i, r.n);
	ck_assert_int_eq(lsm_it_status(it), 0);

	i = r.n;
	for (lsm_it_seek_last(it); lsm_it_valid(it); lsm_it_prev(it))
		assert_at(it, &r, --i);
	ck_assert_uint_eq(i, 0);

	lsm_it_destroy(it);
	lsm_memtable_unref(m);
	ref_free(&r);
}
END_TEST

START_TEST(test_memtable_seek_lands_on_first_entry_at_or_after_target)
{
	tu_rng rng;
	tu_rng_init(&rng, tu_seed() + 2);
	ref_model r = {0};
	make_keys(&r, &rng, 200);
	lsm_memtable *m = lsm_memtable_new();
	size_t n = 3000;
	fill_random(m, &r, &rng, n);
	lsm_it *it = lsm_memtable_iter(m);

	uint8_t target[600 + LSM_TRAILER];
	for (int t = 0; t < 5000; t++) {
		size_t tlen;
		if (tu_below(&rng, 2)) {
			/* exactly an existing internal key */
			const ref_entry *e = &r.e[tu_below(&rng, r.n)];
			memcpy(target, e->ikey, e->ikey_len);
			tlen = e->ikey_len;
		} else {
			size_t k = tu_below(&rng, r.nkeys);
			size_t klen = r.key_lens[k];
			memcpy(target, r.keys[k], klen);
			if (tu_below(&rng, 4) == 0)
				target[klen++] = (uint8_t)('a' + tu_below(&rng, 5));
			lsm_put_le64(target + klen, lsm_pack_trailer(tu_below(&rng, n + 2),
								     (int)tu_below(&rng, 2)));
			tlen = klen + LSM_TRAILER;
		}
		size_t i = ref_lower_bound(&r, lsm_slice_of(target, tlen));
		lsm_it_seek(it, lsm_slice_of(target, tlen));
		if (i == r.n) {
			ck_assert(!lsm_it_valid(it));
			continue;
		}
		assert_at(it, &r, i);
		/* a short random walk from there, both directions */
		for (int s = 0; s < 8; s++) {
			if (tu_below(&rng, 2)) {
				lsm_it_next(it);
				if (++i == r.n) {
					ck_assert(!lsm_it_valid(it));
					break;
				}
			} else {
				lsm_it_prev(it);
				if (i-- == 0) {
					ck_assert(!lsm_it_valid(it));
					break;
				}
			}
			assert_at(it, &r, i);
		}
	}
	lsm_it_destroy(it);
	lsm_memtable_unref(m);
	ref_free(&r);
}
END_TEST

START_TEST(test_memtable_empty_has_nothing)
{
	lsm_memtable *m = lsm_memtable_new();
	int type;
	lsm_slice v;
	ck_assert_int_eq(lsm_memtable_get(m, lsm_slice_of("a", 1), LSM_MAX_SEQ, &type, &v), 0);
	ck_assert_int_eq(lsm_memtable_get(m, lsm_slice_of(NULL, 0), LSM_MAX_SEQ, &type, &v), 0);
	lsm_it *it = lsm_memtable_iter(m);
	lsm_it_seek_first(it);
	ck_assert(!lsm_it_valid(it));
	lsm_it_seek_last(it);
	ck_assert(!lsm_it_valid(it));
	uint8_t t[9];
	lsm_ikey_make(t, "a", 1, 5, LSM_TYPE_VALUE);
	lsm_it_seek(it, lsm_slice_of(t, 9));
	ck_assert(!lsm_it_valid(it));
	ck_assert_uint_eq(lsm_memtable_count(m), 0);
	lsm_it_destroy(it);
	lsm_memtable_unref(m);
}
END_TEST

START_TEST(test_memtable_deletion_hides_older_value_only_from_newer_snapshots)
{
	lsm_memtable *m = lsm_memtable_new();
	lsm_slice k = lsm_slice_of("key", 3);
	ck_assert_int_eq(lsm_memtable_add(m, 10, LSM_TYPE_VALUE, k, lsm_slice_of("v10", 3)), 0);
	ck_assert_int_eq(lsm_memtable_add(m, 20, LSM_TYPE_DELETE, k, lsm_slice_of(NULL, 0)), 0);
	ck_assert_int_eq(lsm_memtable_add(m, 30, LSM_TYPE_VALUE, k, lsm_slice_of("v30", 3)), 0);
	int type;
	lsm_slice v;
	ck_assert_int_eq(lsm_memtable_get(m, k, 9, &type, &v), 0);
	ck_assert_int_eq(lsm_memtable_get(m, k, 10, &type, &v), 1);
	ck_assert_int_eq(type, LSM_TYPE_VALUE);
	ck_assert(v.len == 3 && memcmp(v.data, "v10", 3) == 0);
	ck_assert_int_eq(lsm_memtable_get(m, k, 19, &type, &v), 1);
	ck_assert(v.len == 3 && memcmp(v.data, "v10", 3) == 0);
	ck_assert_int_eq(lsm_memtable_get(m, k, 20, &type, &v), 1);
	ck_assert_int_eq(type, LSM_TYPE_DELETE);
	ck_assert_int_eq(lsm_memtable_get(m, k, 29, &type, &v), 1);
	ck_assert_int_eq(type, LSM_TYPE_DELETE);
	ck_assert_int_eq(lsm_memtable_get(m, k, LSM_MAX_SEQ, &type, &v), 1);
	ck_assert_int_eq(type, LSM_TYPE_VALUE);
	ck_assert(v.len == 3 && memcmp(v.data, "v30", 3) == 0);
	/* a longer key with the same prefix is a different key */
	ck_assert_int_eq(lsm_memtable_get(m, lsm_slice_of("key2", 4), LSM_MAX_SEQ, &type, &v), 0);
	ck_assert_int_eq(lsm_memtable_get(m, lsm_slice_of("ke", 2), LSM_MAX_SEQ, &type, &v), 0);
	lsm_memtable_unref(m);
}
END_TEST

START_TEST(test_memtable_counts_entries_and_grows_in_bytes)
{
	lsm_memtable *m = lsm_memtable_new();
	size_t b0 = lsm_memtable_bytes(m);
	uint8_t val[1000] = {0};
	char key[32];
	for (int i = 0; i < 1000; i++) {
		int kl = snprintf(key, sizeof(key), "k%06d", i);
		ck_assert_int_eq(lsm_memtable_add(m, (uint64_t)i + 1, LSM_TYPE_VALUE,
						  lsm_slice_of(key, (size_t)kl),
						  lsm_slice_of(val, sizeof(val))),
				 0);
	}
	ck_assert_uint_eq(lsm_memtable_count(m), 1000);
	/* at least the values themselves, and not wildly more */
	ck_assert_uint_ge(lsm_memtable_bytes(m) - b0, 1000 * sizeof(val));
	ck_assert_uint_lt(lsm_memtable_bytes(m) - b0, 2 * 1000 * sizeof(val) + 65536);
	lsm_memtable_unref(m);
}
END_TEST

START_TEST(test_memtable_iterator_keeps_memtable_alive_after_unref)
{
	lsm_memtable *m = lsm_memtable_new();
	char key[16];
	for (int i = 0; i < 500; i++) {
		int kl = snprintf(key, sizeof(key), "k%04d", i);
		ck_assert_int_eq(lsm_memtable_add(m, (uint64_t)i + 1, LSM_TYPE_VALUE,
						  lsm_slice_of(key, (size_t)kl),
						  lsm_slice_of(key, (size_t)kl)),
				 0);
	}
	lsm_it *it = lsm_memtable_iter(m);
	lsm_it *it2 = lsm_memtable_iter(m);
	lsm_memtable_unref(m); /* the iterators now hold the only references */
	int i = 0;
	for (lsm_it_seek_first(it); lsm_it_valid(it); lsm_it_next(it), i++) {
		int kl = snprintf(key, sizeof(key), "k%04d", i);
		lsm_slice k = lsm_it_key(it), v = lsm_it_value(it);
		ck_assert_uint_eq(k.len, (size_t)kl + LSM_TRAILER);
		ck_assert(memcmp(k.data, key, (size_t)kl) == 0);
		ck_assert(v.len == (size_t)kl && memcmp(v.data, key, (size_t)kl) == 0);
	}
	ck_assert_int_eq(i, 500);
	lsm_it_destroy(it);
	/* still alive for the second one; ASan catches a use after free */
	lsm_it_seek_last(it2);
	ck_assert(lsm_it_valid(it2));
	ck_assert(memcmp(lsm_it_key(it2).data, "k0499", 5) == 0);
	lsm_it_destroy(it2);
}
END_TEST

/* ---- one writer, concurrent readers ---- */

#define CONC_KEYS 5000

/* Value bytes derived from (key index, seq) so a reader can verify them. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static size_t conc_key(uint64_t k, uint8_t *out)
{
	return (size_t)snprintf((char *)out, 32, "key%08llu", (unsigned long long)k);
}

/* [le64 seq][le64 key index][le64 mix(key, seq)] then (seq % 40) filler bytes */
static size_t conc_value(uint64_t k, uint64_t seq, uint8_t *out)
{
	size_t len = 24 + seq % 40;
	lsm_put_le64(out, seq);
	lsm_put_le64(out + 8, k);
	lsm_put_le64(out + 16, mix(k * 1000003 + seq));
	memset(out + 24, (int)(seq & 0xff), len - 24);
	return len;
}

/* Checks a value found under user key index k; returns its sequence. */
static uint64_t conc_check(uint64_t k, lsm_slice v)
{
	ck_assert_uint_ge(v.len, 24);
	uint64_t seq = lsm_get_le64(v.data);
	uint8_t want[64];
	size_t len = conc_value(k, seq, want);
	ck_assert_uint_eq(v.len, len);
	ck_assert(memcmp(v.data, want, len) == 0);
	return seq;
}

typedef struct conc_state {
	lsm_memtable *m;
	uint64_t published; /* atomic: highest sequence fully added */
	int done;	    /* atomic */
	uint64_t seed;
	uint64_t reads; /* per reader, for the log */
} conc_state;

static void *conc_writer(void *arg)
{
	conc_state *st = arg;
	tu_rng rng;
	tu_rng_init(&rng, st->seed);
	uint8_t key[32], val[64];
	for (uint64_t seq = 1; seq <= 200000; seq++) {
		uint64_t k = tu_below(&rng, CONC_KEYS);
		size_t kl = conc_key(k, key);
		size_t vl = conc_value(k, seq, val);
		ck_assert_int_eq(lsm_memtable_add(st->m, seq, LSM_TYPE_VALUE, lsm_slice_of(key, kl),
						  lsm_slice_of(val, vl)),
				 0);
		__atomic_store_n(&st->published, seq, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&st->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

typedef struct reader_arg {
	conc_state *st;
	uint64_t seed;
	uint64_t ops;
} reader_arg;

static void *conc_reader(void *arg)
{
	reader_arg *ra = arg;
	conc_state *st = ra->st;
	tu_rng rng;
	tu_rng_init(&rng, ra->seed);
	uint64_t *last_seen = calloc(CONC_KEYS, sizeof(*last_seen));
	uint8_t key[32];
	lsm_it *it = lsm_memtable_iter(st->m);
	while (!__atomic_load_n(&st->done, __ATOMIC_ACQUIRE)) {
		if (tu_below(&rng, 50) != 0) {
			uint64_t k = tu_below(&rng, CONC_KEYS);
			size_t kl = conc_key(k, key);
			uint64_t pub = __atomic_load_n(&st->published, __ATOMIC_ACQUIRE);
			/* half the gets at an older snapshot */
			uint64_t snap = tu_below(&rng, 2) ? LSM_MAX_SEQ : tu_below(&rng, pub + 1);
			int type;
			lsm_slice v;
			if (lsm_memtable_get(st->m, lsm_slice_of(key, kl), snap, &type, &v)) {
				ck_assert_int_eq(type, LSM_TYPE_VALUE);
				uint64_t seq = conc_check(k, v);
				ck_assert_uint_le(seq, snap);
				if (snap == LSM_MAX_SEQ) {
					/* the newest version never goes backwards */
					ck_assert_uint_ge(seq, last_seen[k]);
					last_seen[k] = seq;
				}
			}
			ra->ops++;
			continue;
		}
		/* a window of the iteration: sorted, each value matches its key */
		uint8_t t[32 + LSM_TRAILER];
		size_t tl = conc_key(tu_below(&rng, CONC_KEYS), t);
		lsm_put_le64(t + tl, lsm_pack_trailer(LSM_MAX_SEQ, LSM_TYPE_FOR_SEEK));
		lsm_it_seek(it, lsm_slice_of(t, tl + LSM_TRAILER));
		uint8_t prev[32 + LSM_TRAILER];
		size_t prev_len = 0;
		int backward = tu_below(&rng, 2);
		for (int s = 0; s < 200 && lsm_it_valid(it); s++) {
			lsm_slice ik = lsm_it_key(it);
			ck_assert_uint_le(ik.len, sizeof(prev));
			if (prev_len) {
				int c = lsm_ikey_compare(lsm_slice_of(prev, prev_len), ik);
				ck_assert_int_lt(backward ? -c : c, 0);
			}
			memcpy(prev, ik.data, ik.len);
			prev_len = ik.len;
			uint64_t k = 0;
			for (int d = 3; d < 11; d++)
				k = k * 10 + (uint64_t)(ik.data[d] - '0');
			ck_assert_uint_eq(conc_check(k, lsm_it_value(it)), lsm_ikey_seq(ik));
			if (backward)
				lsm_it_prev(it);
			else
				lsm_it_next(it);
		}
		ra->ops++;
	}
	lsm_it_destroy(it);
	free(last_seen);
	return NULL;
}

START_TEST(test_memtable_readers_see_consistent_entries_while_writer_adds)
{
	conc_state st = {0};
	st.m = lsm_memtable_new();
	st.seed = tu_seed() + 3;
	reader_arg ra[2];
	pthread_t w, rd[2];
	for (int i = 0; i < 2; i++) {
		ra[i].st = &st;
		ra[i].seed = st.seed + 100 + (uint64_t)i;
		ra[i].ops = 0;
		ck_assert_int_eq(pthread_create(&rd[i], NULL, conc_reader, &ra[i]), 0);
	}
	ck_assert_int_eq(pthread_create(&w, NULL, conc_writer, &st), 0);
	pthread_join(w, NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(rd[i], NULL);
	printf("reader ops: %llu %llu\n", (unsigned long long)ra[0].ops,
	       (unsigned long long)ra[1].ops);
	ck_assert_uint_gt(ra[0].ops + ra[1].ops, 0);
	ck_assert_uint_eq(lsm_memtable_count(st.m), 200000);

	/* afterwards, a full scan has every entry, in order */
	lsm_it *it = lsm_memtable_iter(st.m);
	uint64_t n = 0;
	uint8_t prev[32 + LSM_TRAILER];
	size_t prev_len = 0;
	for (lsm_it_seek_first(it); lsm_it_valid(it); lsm_it_next(it), n++) {
		lsm_slice ik = lsm_it_key(it);
		if (prev_len)
			ck_assert_int_lt(lsm_ikey_compare(lsm_slice_of(prev, prev_len), ik), 0);
		memcpy(prev, ik.data, ik.len);
		prev_len = ik.len;
	}
	ck_assert_uint_eq(n, 200000);
	lsm_it_destroy(it);
	lsm_memtable_unref(st.m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("memtable");
	TCase *tc = tcase_create("model");
	tcase_add_test(tc, test_memtable_get_returns_newest_visible_version);
	tcase_add_test(tc, test_memtable_iterates_in_reference_order_both_ways);
	tcase_add_test(tc, test_memtable_seek_lands_on_first_entry_at_or_after_target);
	tcase_add_test(tc, test_memtable_empty_has_nothing);
	tcase_add_test(tc, test_memtable_deletion_hides_older_value_only_from_newer_snapshots);
	tcase_add_test(tc, test_memtable_counts_entries_and_grows_in_bytes);
	tcase_add_test(tc, test_memtable_iterator_keeps_memtable_alive_after_unref);
	suite_add_tcase(s, tc);

	TCase *tcc = tcase_create("concurrent");
	tcase_set_timeout(tcc, 600);
	tcase_add_test(tcc, test_memtable_readers_see_consistent_entries_while_writer_adds);
	suite_add_tcase(s, tcc);
	return tu_run_suite(s);
}
