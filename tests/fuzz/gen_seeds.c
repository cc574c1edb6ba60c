/*
 * gen_seeds.c — writes valid seed inputs for every fuzz target, made by the
 * engine's own writers: a real WAL, real tables (raw, lz4, zstd, with and
 * without a filter), a real MANIFEST, and encoded blocks, edits, batches and
 * fs values. Usage: gen_seeds CORPUS_DIR (it writes CORPUS_DIR/<target>/seed-*).
 * Deterministic: running it again rewrites the same bytes.
 */
#include "fuzz.h"

#include "batch_internal.h"
#include "block.h"
#include "error.h"
#include "keys.h"
#include "table.h"
#include "version.h"
#include "wal.h"

#include <sys/stat.h>

static const char *outdir;

#define CHECK(x)                                                                             \
	do {                                                                                 \
		int rc_ = (x);                                                               \
		if (rc_) {                                                                   \
			fprintf(stderr, "%s:%d: %s: %d (%s)\n", __FILE__, __LINE__, #x, rc_, \
				lsm_errmsg());                                               \
			exit(1);                                                             \
		}                                                                            \
	} while (0)

static void save(const char *target, const char *name, const void *data, size_t size)
{
	char path[4200];
	FILE *f;

	if (snprintf(path, sizeof(path), "%s/%s", outdir, target) >= (int)sizeof(path))
		exit(1);
	mkdir(path, 0755);
	if (snprintf(path, sizeof(path), "%s/%s/seed-%s", outdir, target, name) >=
	    (int)sizeof(path))
		exit(1);
	f = fopen(path, "wb");
	if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) {
		perror(path);
		exit(1);
	}
}

static void save_file(const char *target, const char *name, const char *path)
{
	uint8_t *data;
	size_t len;

	CHECK(lsm_env_read_all(lsm_env_posix(), path, &data, &len));
	save(target, name, data, len);
	free(data);
}

static void scratch(const char *name, char *path, size_t len)
{
	if (snprintf(path, len, "%s/%s", fuzz_dir(), name) >= (int)len)
		exit(1);
	unlink(path);
}

/* A batch of n puts (every third a delete), keys "key%05d", values of vlen bytes. */
static lsm_batch *make_batch(uint64_t seq, int n, size_t vlen)
{
	lsm_batch *b = lsm_batch_new();
	char key[32];
	uint8_t *val = malloc(vlen + 1);

	for (size_t i = 0; i < vlen; i++)
		val[i] = (uint8_t)('a' + i % 26);
	for (int i = 0; i < n; i++) {
		int kl = snprintf(key, sizeof(key), "key%05d", i);
		if (i % 3 == 2)
			CHECK(lsm_batch_delete(b, key, (size_t)kl));
		else
			CHECK(lsm_batch_put(b, key, (size_t)kl, val, vlen));
	}
	lsm_batch_set_seq(b, seq);
	free(val);
	return b;
}

static void gen_batch(void)
{
	lsm_batch *b = make_batch(0, 0, 0);
	lsm_slice r = lsm_batch_rep(b);
	save("batch", "empty", r.data, r.len);
	lsm_batch_free(b);
	b = make_batch(100, 10, 12);
	r = lsm_batch_rep(b);
	save("batch", "puts-deletes", r.data, r.len);
	lsm_batch_free(b);
	b = make_batch(LSM_MAX_SEQ - 3, 3, 0);
	r = lsm_batch_rep(b);
	save("batch", "near-max-seq", r.data, r.len);
	lsm_batch_free(b);
}

static void gen_wal(void)
{
	char path[4200];
	lsm_wal_writer *w;
	lsm_batch *b;

	/* A few small records. */
	scratch("small.log", path, sizeof(path));
	CHECK(lsm_wal_writer_open(lsm_env_posix(), path, &w));
	for (int i = 0; i < 4; i++) {
		b = make_batch(1 + 10 * (uint64_t)i, i + 1, 8);
		lsm_slice r = lsm_batch_rep(b);
		CHECK(lsm_wal_add_record(w, r.data, r.len));
		lsm_batch_free(b);
	}
	CHECK(lsm_wal_add_record(w, "", 0));
	CHECK(lsm_wal_writer_close(w));
	save_file("wal", "small", path);

	/* A record spanning blocks (FIRST, MIDDLE?, LAST) between small ones. */
	scratch("multi.log", path, sizeof(path));
	CHECK(lsm_wal_writer_open(lsm_env_posix(), path, &w));
	b = make_batch(1, 2, 10);
	lsm_slice r = lsm_batch_rep(b);
	CHECK(lsm_wal_add_record(w, r.data, r.len));
	lsm_batch_free(b);
	b = make_batch(3, 4, 12000);
	r = lsm_batch_rep(b);
	CHECK(lsm_wal_add_record(w, r.data, r.len));
	lsm_batch_free(b);
	b = make_batch(7, 3, 5);
	r = lsm_batch_rep(b);
	lsm_slice two[2] = {r, r};
	CHECK(lsm_wal_add_records(w, two, 2));
	lsm_batch_free(b);
	CHECK(lsm_wal_writer_close(w));
	save_file("wal", "multiblock", path);
}

static void gen_block(void)
{
	lsm_block_builder bb;
	lsm_slice out;
	uint8_t ik[64];
	char key[32], val[64];

	for (int interval = 1; interval <= 16; interval *= 4) {
		lsm_block_builder_init(&bb, interval);
		for (int i = 0; i < 40; i++) {
			int kl = snprintf(key, sizeof(key), "user/key/%04d", i);
			int vl = snprintf(val, sizeof(val), "value-%d", i * 7);
			lsm_ikey_make(ik, key, (size_t)kl, 1000 - (uint64_t)i, i % 5 ? 1 : 0);
			CHECK(lsm_block_builder_add(&bb, lsm_slice_of(ik, (size_t)kl + 8),
						    lsm_slice_of(val, (size_t)vl)));
		}
		CHECK(lsm_block_builder_finish(&bb, &out));
		save("block", interval == 1 ? "restart-every-key" : "restart-16", out.data,
		     out.len);
		lsm_block_builder_free(&bb);
	}
	lsm_block_builder_init(&bb, 16);
	CHECK(lsm_block_builder_finish(&bb, &out));
	save("block", "empty", out.data, out.len);
	lsm_block_builder_free(&bb);
}

static void build_table(const char *name, int n, size_t block_bytes, int bloom, int compression)
{
	char path[4200];
	lsm_table_options o = {block_bytes, 16, bloom, compression};
	lsm_table_builder *tb;
	uint64_t fsize;
	uint8_t ik[64];
	char key[32], val[128];

	scratch("seed.sst", path, sizeof(path));
	CHECK(lsm_table_builder_new(lsm_env_posix(), path, &o, &tb));
	for (int i = 0; i < n; i++) {
		int kl = snprintf(key, sizeof(key), "k%06d", i * 3);
		int vl = snprintf(val, sizeof(val), "value %d value %d value %d", i, i, i);
		/* Two versions of every fourth key: newer first. */
		if (i % 4 == 0) {
			lsm_ikey_make(ik, key, (size_t)kl, 5000 + (uint64_t)i, LSM_TYPE_DELETE);
			CHECK(lsm_table_builder_add(tb, lsm_slice_of(ik, (size_t)kl + 8),
						    lsm_slice_of("", 0)));
		}
		lsm_ikey_make(ik, key, (size_t)kl, 1 + (uint64_t)i, LSM_TYPE_VALUE);
		CHECK(lsm_table_builder_add(tb, lsm_slice_of(ik, (size_t)kl + 8),
					    lsm_slice_of(val, (size_t)vl)));
	}
	CHECK(lsm_table_builder_finish(tb, &fsize, NULL));
	lsm_table_builder_free(tb);
	save_file("table", name, path);
	unlink(path);
}

static void gen_table(void)
{
	build_table("raw-bloom", 200, 1024, 10, LSM_COMPRESS_NONE);
	build_table("raw-nofilter", 60, 256, 0, LSM_COMPRESS_NONE);
	build_table("lz4", 200, 2048, 10, LSM_COMPRESS_LZ4);
	build_table("zstd", 200, 2048, 0, LSM_COMPRESS_ZSTD);
	build_table("empty", 0, 4096, 10, LSM_COMPRESS_NONE);
	build_table("one-entry", 1, 4096, 10, LSM_COMPRESS_NONE);
}

static void add_file(lsm_version_edit *e, int level, uint64_t num, const char *lo, const char *hi)
{
	uint8_t a[64], b[64];
	size_t la = strlen(lo), lb = strlen(hi);
	lsm_ikey_make(a, lo, la, 10 * num, LSM_TYPE_VALUE);
	lsm_ikey_make(b, hi, lb, 10 * num + 5, LSM_TYPE_VALUE);
	CHECK(lsm_edit_add_file(e, level, num, 4096 * num, lsm_slice_of(a, la + 8),
				lsm_slice_of(b, lb + 8), 10 * num, 10 * num + 5));
}

static void gen_edit_manifest(void)
{
	char dir[4200], path[4300];
	lsm_version_set vs;
	lsm_version_edit e;
	lsm_options opts;
	lsm_buf enc;
	uint8_t *cur;
	size_t len;

	/* Bare edits. */
	lsm_edit_init(&e);
	e.has_log_number = e.has_next_file = e.has_last_seq = 1;
	e.log_number = 7, e.next_file = 12, e.last_seq = 999;
	add_file(&e, 0, 9, "apple", "melon");
	add_file(&e, 1, 10, "a", "f");
	add_file(&e, 1, 11, "g", "z");
	CHECK(lsm_edit_delete_file(&e, 0, 3));
	CHECK(lsm_edit_delete_file(&e, 2, 4));
	lsm_buf_init(&enc);
	CHECK(lsm_edit_encode(&e, &enc));
	save("edit", "full", enc.data, enc.len);
	lsm_edit_free(&e);
	lsm_edit_init(&e);
	enc.len = 0;
	CHECK(lsm_edit_encode(&e, &enc));
	save("edit", "empty", enc.data, enc.len);
	lsm_edit_free(&e);
	lsm_buf_free(&enc);

	/* A MANIFEST written by the version set: a snapshot, then edits. */
	if (snprintf(dir, sizeof(dir), "%s/db", fuzz_dir()) >= (int)sizeof(dir))
		exit(1);
	mkdir(dir, 0755);
	lsm_options_init(&opts);
	memset(&vs, 0, sizeof(vs));
	CHECK(lsm_vset_create(&vs, lsm_env_posix(), dir, &opts));
	if (snprintf(path, sizeof(path), "%s/CURRENT", dir) >= (int)sizeof(path))
		exit(1);
	CHECK(lsm_env_read_all(lsm_env_posix(), path, &cur, &len));
	if (snprintf(path, sizeof(path), "%s/%.*s", dir, (int)(len - 1), (const char *)cur) >=
	    (int)sizeof(path))
		exit(1);
	free(cur);
	save_file("manifest", "new-db", path);
	lsm_edit_init(&e);
	add_file(&e, 0, 2, "b", "q");
	add_file(&e, 0, 3, "a", "c");
	CHECK(lsm_vset_log_and_apply(&vs, &e));
	lsm_edit_free(&e);
	lsm_edit_init(&e);
	add_file(&e, 1, 4, "a", "m");
	add_file(&e, 1, 5, "n", "z");
	add_file(&e, 2, 6, "c", "d");
	CHECK(lsm_edit_delete_file(&e, 0, 2));
	e.has_log_number = 1;
	e.log_number = 3;
	CHECK(lsm_vset_log_and_apply(&vs, &e));
	lsm_edit_free(&e);
	if (snprintf(path, sizeof(path), "%s/CURRENT", dir) >= (int)sizeof(path))
		exit(1);
	CHECK(lsm_env_read_all(lsm_env_posix(), path, &cur, &len));
	if (snprintf(path, sizeof(path), "%s/%.*s", dir, (int)(len - 1), (const char *)cur) >=
	    (int)sizeof(path))
		exit(1);
	free(cur);
	lsm_vset_destroy(&vs);
	save_file("manifest", "three-levels", path);
}

static void gen_fskeys(void)
{
	struct lsmfs_super sb = {1,
				 65536,
				 {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
				 0,
				 1700000000000000000,
				 4096};
	struct lsmfs_attr a = {0100644, 1000, 1000, 1, LSMFS_IFLAG_XATTR, 123456, 2, 5, 7,
			       -1,	12,   42,   1, 2 * STORED_UNIT,	  0};
	struct fref r;
	uint8_t buf[INODE_LEN + FREF_MAX_LEN];

	super_encode(buf, &sb);
	save("fskeys", "super", buf, SB_LEN);
	memset(buf + SB_LEN, 0xee, 8);
	save("fskeys", "super-longer", buf, SB_LEN + 8);
	save("fskeys", "inode", buf, inode_encode(buf, &a));
	a.stored_old = 1; /* as a build before the stored field wrote it */
	save("fskeys", "inode-old", buf, inode_encode(buf, &a));
	memset(r.sha, 0xab, SHA_LEN);
	r.len = 4096;
	r.npatch = 0;
	r.nsum = 0;
	r.inl = 0;
	save("fskeys", "fref", buf, fref_encode(buf, &r, NULL));
	r.len = 15;
	r.inl = 1;
	save("fskeys", "fref-inline", buf,
	     fref_encode(buf, &r, (const uint8_t *)"fifteen bytes!\n"));
	r.len = 4096;
	r.inl = 0;
	r.npatch = 2;
	r.patch[0].off = 100;
	r.patch[0].len = 4096;
	r.patch[1].off = 0;
	r.patch[1].len = 10;
	save("fskeys", "fref-patched", buf, fref_encode(buf, &r, NULL));
	r.nsum = 1;
	r.sum[0] = 0x12345678;
	save("fskeys", "fref-sums", buf, fref_encode(buf, &r, NULL));
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	outdir = argv[1];
	mkdir(outdir, 0755);
	gen_batch();
	gen_wal();
	gen_block();
	gen_table();
	gen_edit_manifest();
	gen_fskeys();
	fuzz_dir_cleanup();
	return 0;
}
