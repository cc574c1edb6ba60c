/*
 * fuzz_wal.c — the write-ahead log reader (lsm/wal.h) on arbitrary file
 * contents, strict and lenient: every record read must lie inside the file,
 * and a lenient read must never report corruption where a strict one ends
 * cleanly.
 */
#include "fuzz.h"

#include "error.h"
#include "wal.h"

/* Reads every record; returns the last lsm_wal_read result (0 or negative). */
static int read_all(const char *path, int strict, size_t size, unsigned long *nrecs)
{
	lsm_wal_reader *r = NULL;
	lsm_slice rec;
	uint64_t off = 0, toff = 0, tbytes = 0, prev = 0;
	int rc;

	*nrecs = 0;
	rc = lsm_wal_reader_open(lsm_env_posix(), path, strict, &r);
	if (rc)
		return rc;
	while ((rc = lsm_wal_read(r, &rec, &off)) == 1) {
		/* The record and at least one fragment header lie inside the file. */
		FUZZ_ASSERT(off <= size && rec.len + LSM_WAL_HEADER <= size - off);
		FUZZ_ASSERT(*nrecs == 0 || off > prev);
		prev = off;
		/* Touch every byte: ASan catches a record pointing outside its buffer. */
		volatile uint8_t sum = 0;
		for (size_t i = 0; i < rec.len; i++)
			sum ^= rec.data[i];
		(void)sum;
		(*nrecs)++;
	}
	if (rc == 0 && lsm_wal_reader_torn_tail(r, &toff, &tbytes)) {
		FUZZ_ASSERT(toff <= size);
		FUZZ_ASSERT(tbytes <= size - toff);
	}
	if (rc < 0)
		(void)lsm_errmsg();
	lsm_wal_reader_close(r);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[4200];
	unsigned long lenient_recs, strict_recs;
	int lenient, strict;

	fuzz_write_file("000001.log", data, size, path, sizeof(path));
	lenient = read_all(path, 0, size, &lenient_recs);
	strict = read_all(path, 1, size, &strict_recs);
	FUZZ_ASSERT(lenient <= 0 && strict <= 0);
	/* Strictness only adds errors (a torn tail): it never removes any. */
	if (lenient < 0)
		FUZZ_ASSERT(strict < 0);
	/* Both see the same records up to where either stops. */
	if (lenient == 0 && strict == 0)
		FUZZ_ASSERT(lenient_recs == strict_recs);
	return 0;
}
