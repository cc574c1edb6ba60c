/*
 * lsmctl — inspect and poke at a liblsm database from the shell.
 *
 *   lsmctl DIR get KEY | put KEY VALUE | del KEY
 *   lsmctl DIR scan [--prefix P] [--from K] [--limit N]
 *   lsmctl DIR stats | flush | compact | verify | dump-manifest | shell
 *   lsmctl dump-wal FILE | dump-sst FILE
 *
 * Keys and values are text, or hex when written 0x... Binary bytes are
 * printed escaped (\xNN), so output is always one line per entry.
 */
#include "batch_internal.h"
#include "blob.h"
#include "checksum.h"
#include "env.h"
#include "error.h"
#include "lsm.h"
#include "table.h"
#include "version.h"
#include "wal.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_USAGE 2

static void usage(FILE *out)
{
	fprintf(out, "usage: lsmctl DIR COMMAND [ARGS]\n"
		     "       lsmctl dump-wal FILE | dump-sst FILE | dump-blob FILE\n"
		     "\n"
		     "commands on a database directory (it must not be open elsewhere):\n"
		     "  get KEY                      print the value of KEY\n"
		     "  put KEY VALUE                set KEY to VALUE (synced)\n"
		     "  del KEY                      delete KEY (synced)\n"
		     "  scan [--prefix P] [--from K] [--limit N]\n"
		     "                               print keys and values in order\n"
		     "  stats                        engine statistics\n"
		     "  flush                        write the memtable to a table\n"
		     "  compact                      compact the whole key range\n"
		     "  verify                       check every block of every live file\n"
		     "  dump-manifest                print the version edits of the MANIFEST\n"
		     "  shell                        interactive: SET K V, GET K, DEL K,\n"
		     "                               SCAN [PREFIX], FLUSH, EXIT\n"
		     "\n"
		     "KEY and VALUE are text, or hex bytes written 0x0a1b...\n"
		     "Binary output is escaped as \\xNN.\n");
}

/* Parses text or 0x-hex into a malloc'd buffer. Returns 0 or -1 on bad hex. */
static int parse_bytes(const char *s, uint8_t **out, size_t *len)
{
	size_t n = strlen(s);
	if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		const char *h = s + 2;
		size_t hl = n - 2;
		if (hl % 2)
			return -1;
		uint8_t *b = malloc(hl / 2 + 1);
		if (!b)
			return -1;
		for (size_t i = 0; i < hl / 2; i++) {
			unsigned v;
			if (!isxdigit((unsigned char)h[2 * i]) ||
			    !isxdigit((unsigned char)h[2 * i + 1]) ||
			    sscanf(h + 2 * i, "%2x", &v) != 1) {
				free(b);
				return -1;
			}
			b[i] = (uint8_t)v;
		}
		*out = b;
		*len = hl / 2;
		return 0;
	}
	*out = (uint8_t *)strdup(s);
	*len = n;
	return *out ? 0 : -1;
}

static void print_escaped(FILE *f, const void *data, size_t len, size_t max)
{
	const uint8_t *p = data;
	size_t n = len < max ? len : max;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\\')
			fputs("\\\\", f);
		else if (isprint(p[i]))
			fputc(p[i], f);
		else
			fprintf(f, "\\x%02x", p[i]);
	}
	if (n < len)
		fprintf(f, "...(%zu bytes)", len);
}

static int fail(const char *what, int rc)
{
	fprintf(stderr, "lsmctl: %s: %s: %s\n", what, lsm_strerror(rc), lsm_errmsg());
	return 1;
}

static int open_db(const char *dir, lsm_db **db, int create)
{
	lsm_options o;
	lsm_options_init(&o);
	o.create_if_missing = create;
	int rc = lsm_open(db, dir, &o);
	if (rc)
		return fail(dir, rc);
	return 0;
}

static int cmd_get(lsm_db *db, const char *k)
{
	uint8_t *key;
	size_t klen;
	if (parse_bytes(k, &key, &klen))
		return fprintf(stderr, "lsmctl: bad key %s\n", k), EXIT_USAGE;
	void *val;
	size_t vlen;
	int rc = lsm_get(db, NULL, key, klen, &val, &vlen);
	free(key);
	if (rc == LSM_NOTFOUND) {
		fprintf(stderr, "lsmctl: %s: not found\n", k);
		return 1;
	}
	if (rc)
		return fail("get", rc);
	print_escaped(stdout, val, vlen, SIZE_MAX);
	fputc('\n', stdout);
	free(val);
	return 0;
}

static int cmd_put_del(lsm_db *db, const char *k, const char *v)
{
	uint8_t *key, *val = NULL;
	size_t klen, vlen = 0;
	if (parse_bytes(k, &key, &klen) || (v && parse_bytes(v, &val, &vlen))) {
		fprintf(stderr, "lsmctl: bad hex in key or value\n");
		return EXIT_USAGE;
	}
	lsm_write_options w = {.sync = 1};
	int rc = v ? lsm_put(db, &w, key, klen, val, vlen) : lsm_delete(db, &w, key, klen);
	free(key);
	free(val);
	return rc ? fail(v ? "put" : "del", rc) : 0;
}

static int scan(lsm_db *db, const uint8_t *prefix, size_t plen, const uint8_t *from, size_t flen,
		long limit)
{
	lsm_iter *it = lsm_iter_new(db, NULL);
	if (!it)
		return fail("scan", -ENOMEM);
	if (from)
		lsm_iter_seek(it, from, flen);
	else if (prefix)
		lsm_iter_seek(it, prefix, plen);
	else
		lsm_iter_seek_first(it);
	long n = 0;
	for (; lsm_iter_valid(it) && (limit < 0 || n < limit); lsm_iter_next(it)) {
		size_t kl, vl;
		const void *k = lsm_iter_key(it, &kl);
		const void *v = lsm_iter_value(it, &vl);
		if (prefix && (kl < plen || memcmp(k, prefix, plen)))
			break;
		print_escaped(stdout, k, kl, SIZE_MAX);
		fputs(" => ", stdout);
		print_escaped(stdout, v, vl, 200);
		fputc('\n', stdout);
		n++;
	}
	int rc = lsm_iter_status(it);
	lsm_iter_free(it);
	return rc ? fail("scan", rc) : 0;
}

static int cmd_scan(lsm_db *db, int argc, char **argv)
{
	static const struct option longopts[] = {{"prefix", required_argument, NULL, 'p'},
						 {"from", required_argument, NULL, 'f'},
						 {"limit", required_argument, NULL, 'l'},
						 {NULL, 0, NULL, 0}};
	uint8_t *prefix = NULL, *from = NULL;
	size_t plen = 0, flen = 0;
	long limit = -1;
	int c, rc = EXIT_USAGE;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'p' && !parse_bytes(optarg, &prefix, &plen))
			continue;
		if (c == 'f' && !parse_bytes(optarg, &from, &flen))
			continue;
		if (c == 'l') {
			char *end;
			limit = strtol(optarg, &end, 10);
			if (*end == 0 && limit >= 0)
				continue;
		}
		fprintf(stderr, "lsmctl: scan: bad option\n");
		goto out;
	}
	rc = scan(db, prefix, plen, from, flen, limit);
out:
	free(prefix);
	free(from);
	return rc;
}

static void verify_report(void *arg, const lsm_verify_problem *p)
{
	int *problems = arg;
	const char *kind = p->kind == LSM_VERIFY_TORN_TAIL ? "torn tail"
			   : p->kind == LSM_VERIFY_CORRUPT ? "damaged"
							   : lsm_strerror(p->code);
	(*problems)++;
	printf("%s: offset %llu: %s: %s\n", p->file, (unsigned long long)p->offset, kind, p->msg);
}

static int cmd_verify(lsm_db *db)
{
	int problems = 0;
	int rc = lsm_verify_problems(db, verify_report, &problems);
	if (rc && !problems)
		return fail("verify", rc);
	if (problems) {
		printf("%d problem(s) found\n", problems);
		return 1;
	}
	printf("ok: every block of every live file, and every value a table refers to, checked\n");
	return 0;
}

static int print_batch_entry(void *arg, uint64_t seq, int type, lsm_slice key, lsm_slice val)
{
	printf("  seq %llu %s ", (unsigned long long)seq, type == LSM_TYPE_VALUE ? "put" : "del");
	print_escaped(stdout, key.data, key.len, 200);
	if (type == LSM_TYPE_VALUE) {
		fputs(" => ", stdout);
		print_escaped(stdout, val.data, val.len, 80);
	}
	fputc('\n', stdout);
	return 0;
}

static int cmd_dump_wal(const char *path)
{
	lsm_env *env = lsm_env_posix();
	lsm_wal_reader *r;
	int rc = lsm_wal_reader_open(env, path, 0, &r);
	if (rc)
		return fail(path, rc);
	lsm_slice rec;
	uint64_t off;
	long n = 0;
	while ((rc = lsm_wal_read(r, &rec, &off)) == 1) {
		printf("record %ld at offset %llu, %zu bytes\n", n++, (unsigned long long)off,
		       rec.len);
		rc = lsm_batch_iterate_at(rec, path, off, print_batch_entry, NULL);
		if (rc)
			break;
	}
	uint64_t torn_off = 0, torn_bytes = 0;
	if (rc == 0 && lsm_wal_reader_torn_tail(r, &torn_off, &torn_bytes))
		printf("torn tail at offset %llu (%llu bytes) dropped\n",
		       (unsigned long long)torn_off, (unsigned long long)torn_bytes);
	lsm_wal_reader_close(r);
	if (rc < 0)
		return fail(path, rc);
	printf("%ld record(s)\n", n);
	return 0;
}

static const char *type_name(int type)
{
	return type == LSM_TYPE_VALUE ? "put" : type == LSM_TYPE_BLOB ? "blob" : "del";
}

static void print_ikey(lsm_slice ik)
{
	lsm_slice uk = lsm_ikey_user(ik);
	print_escaped(stdout, uk.data, uk.len, 200);
	printf(" @%llu %s", (unsigned long long)lsm_ikey_seq(ik), type_name(lsm_ikey_type(ik)));
}

static void print_blob_ref(lsm_slice enc)
{
	lsm_blob_ref ref;
	if (lsm_blob_ref_decode(enc, &ref))
		printf(" => malformed blob reference (%zu bytes)", enc.len);
	else
		printf(" => value file %06llu offset %llu, %llu bytes, checksum %08x",
		       (unsigned long long)ref.file, (unsigned long long)ref.offset,
		       (unsigned long long)ref.len, ref.checksum);
}

/* dump-blob: one line per value a blob reference could point at. */
struct dump_blob {
	uint64_t header;
	const uint8_t *rep;
	long values;
};

static int print_blob_value(void *arg, uint64_t seq, int type, lsm_slice key, lsm_slice val)
{
	struct dump_blob *d = arg;
	if (type != LSM_TYPE_VALUE)
		return 0;
	printf("  offset %llu: %zu bytes, checksum %08x, seq %llu key ",
	       (unsigned long long)lsm_blob_payload_offset(d->header,
							   (uint64_t)(val.data - d->rep)),
	       val.len, lsm_checksum(val.data, val.len), (unsigned long long)seq);
	print_escaped(stdout, key.data, key.len, 80);
	fputc('\n', stdout);
	d->values++;
	return 0;
}

/*
 * A value file is a WAL (NNNNNN.log: each record a batch, whose values a
 * reference may point into) or the collector's NNNNNN.blob (each record
 * one value).
 */
static int cmd_dump_blob(const char *path)
{
	lsm_env *env = lsm_env_posix();
	lsm_wal_reader *r;
	uint64_t num;
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	int is_blob = lsm_parse_filename(base, &num) == LSM_FILE_BLOB;
	int rc = lsm_wal_reader_open(env, path, 0, &r);
	if (rc)
		return fail(path, rc);
	lsm_slice rec;
	uint64_t off;
	struct dump_blob d = {0};
	long records = 0;
	while ((rc = lsm_wal_read(r, &rec, &off)) == 1) {
		records++;
		if (is_blob) {
			printf("  offset %llu: %zu bytes, checksum %08x\n",
			       (unsigned long long)lsm_blob_payload_offset(off, 0), rec.len,
			       lsm_checksum(rec.data, rec.len));
			d.values++;
			continue;
		}
		d.header = off;
		d.rep = rec.data;
		rc = lsm_batch_iterate_at(rec, path, off, print_blob_value, &d);
		if (rc)
			break;
	}
	uint64_t torn_off = 0, torn_bytes = 0;
	if (rc == 0 && lsm_wal_reader_torn_tail(r, &torn_off, &torn_bytes))
		printf("torn tail at offset %llu (%llu bytes): nothing there is referred to\n",
		       (unsigned long long)torn_off, (unsigned long long)torn_bytes);
	lsm_wal_reader_close(r);
	if (rc < 0)
		return fail(path, rc);
	printf("%ld record(s), %ld value(s)\n", records, d.values);
	return 0;
}

static int cmd_dump_sst(const char *path)
{
	lsm_env *env = lsm_env_posix();
	uint64_t size;
	lsm_table *t;
	int rc = env->path_size(env, path, &size);
	if (!rc)
		rc = lsm_table_open(env, path, size, NULL, &t);
	if (rc)
		return fail(path, rc);
	const lsm_table_props *p = lsm_table_get_props(t);
	printf("table %s: %llu bytes, %llu entries (%llu deletions), %llu data blocks, "
	       "seq %llu..%llu\n",
	       path, (unsigned long long)size, (unsigned long long)p->entries,
	       (unsigned long long)p->deletions, (unsigned long long)p->data_blocks,
	       (unsigned long long)p->smallest_seq, (unsigned long long)p->largest_seq);
	lsm_it *it = lsm_table_iter(t, 0);
	for (lsm_it_seek_first(it); lsm_it_valid(it); lsm_it_next(it)) {
		print_ikey(lsm_it_key(it));
		if (lsm_ikey_type(lsm_it_key(it)) == LSM_TYPE_VALUE) {
			lsm_slice v = lsm_it_value(it);
			fputs(" => ", stdout);
			print_escaped(stdout, v.data, v.len, 80);
		} else if (lsm_ikey_type(lsm_it_key(it)) == LSM_TYPE_BLOB) {
			print_blob_ref(lsm_it_value(it));
		}
		fputc('\n', stdout);
	}
	rc = lsm_it_status(it);
	lsm_it_destroy(it);
	lsm_table_unref(t);
	return rc ? fail(path, rc) : 0;
}

static void print_edit(const lsm_version_edit *e)
{
	if (e->has_log_number)
		printf("  log_number %llu\n", (unsigned long long)e->log_number);
	if (e->has_next_file)
		printf("  next_file %llu\n", (unsigned long long)e->next_file);
	if (e->has_last_seq)
		printf("  last_seq %llu\n", (unsigned long long)e->last_seq);
	for (int i = 0; i < e->ndeleted; i++)
		printf("  delete L%d %06llu.sst\n", e->deleted[i].level,
		       (unsigned long long)e->deleted[i].number);
	for (int i = 0; i < e->nadded; i++) {
		const lsm_file_meta *m = e->added[i].meta;
		printf("  add L%d %06llu.sst %llu bytes [", e->added[i].level,
		       (unsigned long long)m->number, (unsigned long long)m->size);
		print_ikey(lsm_slice_of(m->smallest.data, m->smallest.len));
		fputs(" .. ", stdout);
		print_ikey(lsm_slice_of(m->largest.data, m->largest.len));
		fputs("]\n", stdout);
		for (int k = 0; k < m->nblobs; k++)
			printf("    refers to %llu value bytes in value file %06llu\n",
			       (unsigned long long)m->blobs[k].bytes,
			       (unsigned long long)m->blobs[k].file);
	}
}

static int cmd_dump_manifest(const char *dir)
{
	lsm_env *env = lsm_env_posix();
	char cur[4096];
	snprintf(cur, sizeof(cur), "%s/CURRENT", dir);
	uint8_t *name;
	size_t len;
	int rc = lsm_env_read_all(env, cur, &name, &len);
	if (rc)
		return fail(cur, rc);
	while (len && (name[len - 1] == '\n'))
		name[--len] = 0;
	char path[4096 + 64];
	snprintf(path, sizeof(path), "%s/%s", dir, (char *)name);
	free(name);
	lsm_wal_reader *r;
	rc = lsm_wal_reader_open(env, path, 0, &r);
	if (rc)
		return fail(path, rc);
	printf("%s\n", path);
	lsm_slice rec;
	uint64_t off;
	long n = 0;
	while ((rc = lsm_wal_read(r, &rec, &off)) == 1) {
		lsm_version_edit e;
		lsm_edit_init(&e);
		rc = lsm_edit_decode(&e, rec);
		if (rc) {
			lsm_edit_free(&e);
			if (rc == -LSM_ECORRUPT)
				rc = LSM_CORRUPT(path, off, "malformed version edit");
			break;
		}
		printf("edit %ld at offset %llu:\n", n++, (unsigned long long)off);
		print_edit(&e);
		lsm_edit_free(&e);
	}
	lsm_wal_reader_close(r);
	return rc < 0 ? fail(path, rc) : 0;
}

/* Splits line into up to 3 whitespace-separated words; the third takes the rest. */
static int split3(char *line, char **w)
{
	int n = 0;
	char *p = line;
	while (n < 3) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '\n')
			break;
		w[n++] = p;
		if (n == 3) {
			p[strcspn(p, "\n")] = 0;
			break;
		}
		p += strcspn(p, " \t\n");
		if (*p)
			*p++ = 0;
	}
	return n;
}

static int cmd_shell(lsm_db *db)
{
	char line[65536];
	int tty = isatty(0);
	for (;;) {
		if (tty) {
			fputs("lsm> ", stdout);
			fflush(stdout);
		}
		if (!fgets(line, sizeof(line), stdin))
			break;
		char *w[3];
		int n = split3(line, w);
		if (n == 0)
			continue;
		for (char *c = w[0]; *c; c++)
			*c = (char)toupper((unsigned char)*c);
		if (!strcmp(w[0], "EXIT") || !strcmp(w[0], "QUIT"))
			break;
		else if (!strcmp(w[0], "SET") && n == 3)
			cmd_put_del(db, w[1], w[2]);
		else if (!strcmp(w[0], "GET") && n == 2)
			cmd_get(db, w[1]);
		else if (!strcmp(w[0], "DEL") && n == 2)
			cmd_put_del(db, w[1], NULL);
		else if (!strcmp(w[0], "SCAN")) {
			uint8_t *p = NULL;
			size_t pl = 0;
			if (n >= 2 && parse_bytes(w[1], &p, &pl))
				continue;
			scan(db, p, pl, NULL, 0, -1);
			free(p);
		} else if (!strcmp(w[0], "FLUSH")) {
			int rc = lsm_flush(db);
			if (rc)
				fail("flush", rc);
		} else {
			fprintf(stderr, "commands: SET KEY VALUE, GET KEY, DEL KEY, SCAN [PREFIX], "
					"FLUSH, EXIT\n");
		}
		fflush(stdout);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "dump-wal"))
		return cmd_dump_wal(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "dump-sst"))
		return cmd_dump_sst(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "dump-blob"))
		return cmd_dump_blob(argv[2]);
	if (argc < 3) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *dir = argv[1], *cmd = argv[2];
	if (!strcmp(cmd, "dump-manifest"))
		return cmd_dump_manifest(dir);

	static const char *const known[] = {"get",   "put",	"del",	  "scan",  "stats",
					    "flush", "compact", "verify", "shell", NULL};
	int ok = 0;
	for (int i = 0; known[i]; i++)
		ok |= !strcmp(cmd, known[i]);
	if (!ok) {
		fprintf(stderr, "lsmctl: unknown command '%s'\n", cmd);
		usage(stderr);
		return EXIT_USAGE;
	}
	int want = !strcmp(cmd, "get") || !strcmp(cmd, "del") ? 4 : !strcmp(cmd, "put") ? 5 : 3;
	if (strcmp(cmd, "scan") && argc != want) {
		fprintf(stderr, "lsmctl: %s: wrong number of arguments\n", cmd);
		return EXIT_USAGE;
	}
	lsm_db *db;
	/* Only writing commands may create a database. */
	int create = !strcmp(cmd, "put") || !strcmp(cmd, "shell");
	if (open_db(dir, &db, create))
		return 1;
	int rc;
	if (!strcmp(cmd, "get"))
		rc = cmd_get(db, argv[3]);
	else if (!strcmp(cmd, "put"))
		rc = cmd_put_del(db, argv[3], argv[4]);
	else if (!strcmp(cmd, "del"))
		rc = cmd_put_del(db, argv[3], NULL);
	else if (!strcmp(cmd, "scan"))
		rc = cmd_scan(db, argc - 2, argv + 2);
	else if (!strcmp(cmd, "stats")) {
		char buf[8192];
		lsm_stats_text(db, buf, sizeof(buf));
		fputs(buf, stdout);
		rc = 0;
	} else if (!strcmp(cmd, "flush")) {
		int r = lsm_flush(db);
		rc = r ? fail("flush", r) : 0;
	} else if (!strcmp(cmd, "compact")) {
		int r = lsm_compact_range(db, NULL, 0, NULL, 0);
		rc = r ? fail("compact", r) : 0;
	} else if (!strcmp(cmd, "verify"))
		rc = cmd_verify(db);
	else
		rc = cmd_shell(db);
	int crc = lsm_close(db);
	if (crc && !rc)
		rc = fail("close", crc);
	return rc;
}
