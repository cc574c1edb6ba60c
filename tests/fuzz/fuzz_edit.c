/*
 * fuzz_edit.c — the MANIFEST version-edit decoder (lsm/version.h) on
 * arbitrary bytes. An edit it accepts must re-encode to bytes that decode to
 * the same edit, and encoding that again must give the same bytes.
 */
#include "fuzz.h"

#include "error.h"
#include "version.h"

static int same_buf(const lsm_buf *a, const lsm_buf *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static void check_same(const lsm_version_edit *a, const lsm_version_edit *b)
{
	FUZZ_ASSERT(a->has_log_number == b->has_log_number);
	FUZZ_ASSERT(a->has_next_file == b->has_next_file);
	FUZZ_ASSERT(a->has_last_seq == b->has_last_seq);
	FUZZ_ASSERT(!a->has_log_number || a->log_number == b->log_number);
	FUZZ_ASSERT(!a->has_next_file || a->next_file == b->next_file);
	FUZZ_ASSERT(!a->has_last_seq || a->last_seq == b->last_seq);
	FUZZ_ASSERT(a->ndeleted == b->ndeleted && a->nadded == b->nadded);
	for (int i = 0; i < a->ndeleted; i++) {
		FUZZ_ASSERT(a->deleted[i].level == b->deleted[i].level);
		FUZZ_ASSERT(a->deleted[i].number == b->deleted[i].number);
	}
	for (int i = 0; i < a->nadded; i++) {
		const lsm_file_meta *x = a->added[i].meta, *y = b->added[i].meta;
		FUZZ_ASSERT(a->added[i].level == b->added[i].level);
		FUZZ_ASSERT(a->added[i].level >= 0 && a->added[i].level < LSM_MAX_LEVELS);
		FUZZ_ASSERT(x->number == y->number && x->size == y->size);
		FUZZ_ASSERT(x->smallest_seq == y->smallest_seq && x->largest_seq == y->largest_seq);
		FUZZ_ASSERT(same_buf(&x->smallest, &y->smallest));
		FUZZ_ASSERT(same_buf(&x->largest, &y->largest));
		FUZZ_ASSERT(x->smallest.len >= LSM_TRAILER && x->largest.len >= LSM_TRAILER);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lsm_version_edit e, e2;
	lsm_buf enc, enc2;
	int rc;

	rc = lsm_edit_decode(&e, lsm_slice_of(data, size));
	if (rc) {
		FUZZ_ASSERT(rc == -LSM_ECORRUPT || rc == -LSM_EVERSION);
		FUZZ_ASSERT(e.nadded == 0 && e.ndeleted == 0);
		lsm_edit_free(&e);
		return 0;
	}
	lsm_buf_init(&enc);
	lsm_buf_init(&enc2);
	FUZZ_ASSERT(lsm_edit_encode(&e, &enc) == 0);
	FUZZ_ASSERT(lsm_edit_decode(&e2, lsm_slice_of(enc.data, enc.len)) == 0);
	check_same(&e, &e2);
	FUZZ_ASSERT(lsm_edit_encode(&e2, &enc2) == 0);
	FUZZ_ASSERT(same_buf(&enc, &enc2));
	lsm_buf_free(&enc);
	lsm_buf_free(&enc2);
	lsm_edit_free(&e);
	lsm_edit_free(&e2);
	return 0;
}
