/*
 * fuzz_batch.c — the write-batch decoder (lsm/batch_internal.h) on arbitrary
 * bytes: lsm_batch_iterate either rejects the input before any callback or
 * walks entries that lie inside it with consecutive sequence numbers; an
 * accepted batch survives lsm_batch_set_rep byte for byte, and re-encoding
 * its entries gives a batch with the same entries.
 */
#include "fuzz.h"

#include "batch_internal.h"
#include "coding.h"

struct entry {
	int type;
	lsm_slice key, val;
};

struct walk {
	const uint8_t *start, *end;
	uint64_t first_seq;
	uint64_t n, checked;
	lsm_batch *copy;    /* entries re-added here */
	struct entry *ents; /* and remembered here (an entry takes 2 bytes or more) */
};

static int in_input(const struct walk *w, lsm_slice s)
{
	return s.len == 0 || (s.data >= w->start && s.data + s.len <= w->end);
}

static int on_entry(void *arg, uint64_t seq, int type, lsm_slice key, lsm_slice val)
{
	struct walk *w = arg;

	FUZZ_ASSERT(seq == w->first_seq + w->n);
	FUZZ_ASSERT(seq <= LSM_MAX_SEQ);
	FUZZ_ASSERT(type == LSM_TYPE_VALUE || type == LSM_TYPE_DELETE);
	FUZZ_ASSERT(key.len <= LSM_MAX_KEY && val.len <= LSM_MAX_VALUE);
	FUZZ_ASSERT(in_input(w, key) && in_input(w, val));
	if (type == LSM_TYPE_DELETE)
		FUZZ_ASSERT(val.len == 0);
	FUZZ_ASSERT(w->n < (uint64_t)(w->end - w->start) / 2);
	w->ents[w->n] = (struct entry){type, key, val};
	if (w->copy) {
		int rc = type == LSM_TYPE_VALUE
				 ? lsm_batch_put(w->copy, key.data, key.len, val.data, val.len)
				 : lsm_batch_delete(w->copy, key.data, key.len);
		FUZZ_ASSERT(rc == 0);
	}
	w->n++;
	return 0;
}

static int same(lsm_slice a, lsm_slice b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

/* Walks the re-encoded batch: entry n must match the original's entry n. */
static int compare_entry(void *arg, uint64_t seq, int type, lsm_slice key, lsm_slice val)
{
	struct walk *w = arg;
	const struct entry *e = &w->ents[w->checked];

	FUZZ_ASSERT(w->checked < w->n);
	FUZZ_ASSERT(seq == w->first_seq + w->checked);
	FUZZ_ASSERT(e->type == type && same(e->key, key) && same(e->val, val));
	w->checked++;
	return 0;
}

static int count_entries(void *arg, uint64_t seq, int type, lsm_slice key, lsm_slice val)
{
	(void)seq, (void)type, (void)key, (void)val;
	(*(uint64_t *)arg)++;
	return 0;
}

static int stop_at_first(void *arg, uint64_t seq, int type, lsm_slice key, lsm_slice val)
{
	(void)arg, (void)seq, (void)type, (void)key, (void)val;
	return 7;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lsm_slice rep = lsm_slice_of(data, size);
	struct walk w = {data, data + size, 0, 0, 0, NULL, NULL};
	uint64_t again = 0;
	int rc;

	if (size >= LSM_BATCH_HEADER)
		w.first_seq = lsm_get_le64(data);
	w.copy = lsm_batch_new();
	w.ents = malloc((size / 2 + 1) * sizeof(*w.ents));
	FUZZ_ASSERT(w.copy != NULL && w.ents != NULL);
	rc = lsm_batch_iterate(rep, on_entry, &w);
	if (rc) {
		/* Validation comes before the first callback: all or nothing. */
		FUZZ_ASSERT(rc == -LSM_ECORRUPT);
		FUZZ_ASSERT(w.n == 0);
		FUZZ_ASSERT(lsm_batch_iterate_at(rep, "fuzz", 0, count_entries, &again) == rc);
		FUZZ_ASSERT(again == 0);
		lsm_batch *b = lsm_batch_new();
		FUZZ_ASSERT(b != NULL);
		FUZZ_ASSERT(lsm_batch_set_rep(b, rep) == -LSM_ECORRUPT);
		lsm_batch_free(b);
		lsm_batch_free(w.copy);
		free(w.ents);
		return 0;
	}
	FUZZ_ASSERT(size >= LSM_BATCH_HEADER);
	FUZZ_ASSERT(w.n == lsm_get_le32(data + 8));
	FUZZ_ASSERT(lsm_batch_iterate(rep, stop_at_first, NULL) == (w.n ? 7 : 0));

	/*
	 * The entries put back into a batch encode to a batch holding the same
	 * entries: not always the same bytes, as a length may be a non-minimal
	 * varint in the input.
	 */
	lsm_batch_set_seq(w.copy, w.first_seq);
	lsm_slice enc = lsm_batch_rep(w.copy);
	FUZZ_ASSERT(enc.len <= size);
	FUZZ_ASSERT(lsm_batch_iterate(enc, compare_entry, &w) == 0);
	FUZZ_ASSERT(w.checked == w.n);

	/* set_rep accepts it and keeps it byte for byte. */
	lsm_batch *b = lsm_batch_new();
	FUZZ_ASSERT(b != NULL);
	FUZZ_ASSERT(lsm_batch_set_rep(b, rep) == 0);
	enc = lsm_batch_rep(b);
	FUZZ_ASSERT(enc.len == size && memcmp(enc.data, data, size) == 0);
	FUZZ_ASSERT(lsm_batch_seq(b) == w.first_seq);
	lsm_batch_free(b);
	lsm_batch_free(w.copy);
	free(w.ents);
	return 0;
}
