/*
 * fuzz_blob.c — blob references and value reads (lsm/blob.h) on arbitrary
 * bytes. The input is [1 byte n][n bytes: a reference][the rest: a value
 * file]. A reference either is refused or decodes to one that encodes and
 * decodes to itself; reading what it names from that file either fails
 * (never out of bounds) or gives exactly the bytes found there once the
 * fragment headers are skipped, with the reference's checksum.
 */
#include "fuzz.h"

#include "blob.h"
#include "checksum.h"
#include "error.h"
#include "wal.h"

/* The value as an independent walk over the file finds it; 0 if the file is too short. */
static int expected_value(const uint8_t *file, size_t size, const lsm_blob_ref *ref, uint8_t *out)
{
	uint64_t pos = ref->offset, left = ref->len;
	while (left) {
		if (pos % LSM_WAL_BLOCK == 0)
			pos += LSM_WAL_HEADER; /* a later fragment's header */
		uint64_t room = LSM_WAL_BLOCK - pos % LSM_WAL_BLOCK;
		uint64_t n = left < room ? left : room;
		if (pos > size || n > size - pos)
			return 0;
		memcpy(out, file + pos, (size_t)n);
		out += n;
		pos += n;
		left -= n;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || (size_t)data[0] + 1 > size)
		return 0;
	size_t n = data[0];
	lsm_blob_ref ref, again;
	if (lsm_blob_ref_decode(lsm_slice_of(data + 1, n), &ref))
		return 0;
	uint8_t enc[LSM_BLOB_REF_MAX];
	size_t len = lsm_blob_ref_encode(&ref, enc);
	FUZZ_ASSERT(len <= LSM_BLOB_REF_MAX);
	FUZZ_ASSERT(lsm_blob_ref_decode(lsm_slice_of(enc, len), &again) == 0);
	FUZZ_ASSERT(again.file == ref.file && again.offset == ref.offset && again.len == ref.len &&
		    again.checksum == ref.checksum);
	/* A value's place in its file is never inside a fragment header. */
	FUZZ_ASSERT(ref.offset % LSM_WAL_BLOCK >= LSM_WAL_HEADER);
	FUZZ_ASSERT(lsm_blob_span(ref.offset, ref.len) >= ref.len);

	const uint8_t *file = data + 1 + n;
	size_t fsize = size - 1 - n;
	/* Values longer than the file cannot be read; keep the work bounded. */
	if (ref.len > fsize || ref.offset > fsize)
		return 0;
	char path[4200];
	fuzz_write_file("000001.log", file, fsize, path, sizeof(path));
	ref.file = 1;
	lsm_blob_files *bf = lsm_blob_files_new(lsm_env_posix(), fuzz_dir(), 2);
	FUZZ_ASSERT(bf);
	lsm_buf out;
	lsm_buf_init(&out);
	int rc = lsm_blob_read(bf, &ref, &out);
	uint8_t *want = malloc((size_t)ref.len);
	FUZZ_ASSERT(want);
	int have = expected_value(file, fsize, &ref, want);
	if (rc == 0) {
		FUZZ_ASSERT(have);
		FUZZ_ASSERT(out.len == ref.len);
		FUZZ_ASSERT(memcmp(out.data, want, (size_t)ref.len) == 0);
		FUZZ_ASSERT(lsm_checksum(out.data, out.len) == ref.checksum);
	} else {
		FUZZ_ASSERT(rc == -LSM_ECORRUPT);
		/* Refused only when the file is short or the bytes do not match. */
		FUZZ_ASSERT(!have || lsm_checksum(want, (size_t)ref.len) != ref.checksum);
	}
	free(want);
	lsm_buf_free(&out);
	lsm_blob_files_free(bf);
	return 0;
}
