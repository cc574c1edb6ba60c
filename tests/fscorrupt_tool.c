/*
 * fscorrupt_tool.c — the parts of the filesystem-level corruption campaign
 * (tests/campaign/fscorrupt.sh) that a shell loop cannot do well:
 *
 *	fscorrupt_tool gen SEED SIZE [text]
 *		SIZE bytes made from SEED on stdout (random, or lower-case words
 *		that compress), so that a seed replays the same tree.
 *	fscorrupt_tool damage FILE flip OFF N SEED
 *		XOR N bytes from OFF with non-zero masks made from SEED (into an
 *		empty file: write N such bytes); prints what changed.
 *	fscorrupt_tool damage FILE zero OFF N
 *		overwrite N bytes from OFF with zeros (within the file); says
 *		so when they all were zeros already.
 *	fscorrupt_tool check [-v] [-t ORDER] MNT REF
 *		compare the tree at MNT with the reference tree REF (a copy made
 *		on another filesystem) entry by entry.
 *
 * check looks at every entry of REF through MNT: lstat (type, mode, owner,
 * size, link count, hard links sharing one inode), the whole contents of
 * files, symbolic link targets, directory listings (names and d_type, no
 * name missing or extra) and user.* extended attributes. Each entry is
 * "ok" (all of it exactly as in REF) or "eio" (a call failed with EIO: the
 * filesystem says it cannot serve it); anything else — different bytes, a
 * different listing, a missing name, another errno — is "WRONG", the one
 * thing the campaign never accepts.
 *
 * ORDER lists, one per line and in the order they were made, the entries
 * made after the engine's last flush: they live only in its write-ahead log.
 * With -t (the log was damaged) they may show an earlier state, as a crash
 * would leave: absent, or a file holding a prefix of its bytes ("earlier").
 * Each was made, and fsync'd, after the one before it, so the states must
 * be a prefix of the list: nothing may be there, even in part, after
 * something missing or cut short.
 *
 * Output: the entries that are not ok (all with -v), then
 *	entries N: ok N, eio N, earlier N, wrong N
 * Exit 0 when nothing is wrong, 1 when something is, 2 on misuse or when
 * REF cannot be read.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

enum state { ST_OK, ST_EIO, ST_EARLIER, ST_ABSENT, ST_WRONG };

struct entry {
	char *rel; /* path below the roots; "." for the root */
	struct stat ref;
	int tail;  /* its place in ORDER plus one, or 0 */
	int state; /* enum state */
	ino_t ino; /* the inode number MNT gave it */
};

struct tool {
	const char *mnt, *ref;
	int verbose, tail_ok;
	struct entry *e;
	size_t n, cap;
	char **order;
	size_t norder;
	unsigned long counts[ST_WRONG + 1];
};

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "fscorrupt_tool: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: enough to make bytes a seed can replay */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

static int tool_gen(int argc, char **argv)
{
	static const char *const words[] = {"lsm",   "tree", "chunk", "inode", "table",
					    "block", "log",  "fsck",  "entry", "level"};
	uint64_t s, left;
	char buf[4096];
	int text;

	if (argc < 2 || argc > 3)
		die("usage: gen SEED SIZE [text]");
	s = strtoull(argv[0], NULL, 0) * 0x9e3779b97f4a7c15ull + 1;
	left = strtoull(argv[1], NULL, 0);
	text = argc == 3 && strcmp(argv[2], "text") == 0;
	while (left) {
		size_t n = 0;

		while (n < sizeof(buf) && n < left) {
			uint64_t x = rng_next(&s);

			if (!text) {
				for (int i = 0; i < 8 && n < sizeof(buf) && n < left; i++)
					buf[n++] = (char)(x >> (8 * i));
				continue;
			}
			for (const char *w = words[x % 10]; *w && n < sizeof(buf) && n < left; w++)
				buf[n++] = *w;
			if (n < sizeof(buf) && n < left)
				buf[n++] = (x >> 32) % 13 ? ' ' : '\n';
		}
		if (fwrite(buf, 1, n, stdout) != n)
			die("writing: %s", strerror(errno));
		left -= n;
	}
	return 0;
}

static int tool_damage(int argc, char **argv)
{
	const char *path;
	struct stat st;
	uint64_t off, n, s = 0;
	int flip, fd, changed = 0;

	if (argc < 4)
		die("usage: damage FILE flip OFF N SEED | damage FILE zero OFF N");
	path = argv[0];
	flip = strcmp(argv[1], "flip") == 0;
	if (!flip && strcmp(argv[1], "zero") != 0)
		die("damage: unknown kind '%s'", argv[1]);
	if (flip && argc != 5)
		die("damage FILE flip OFF N SEED");
	off = strtoull(argv[2], NULL, 0);
	n = strtoull(argv[3], NULL, 0);
	if (flip)
		s = strtoull(argv[4], NULL, 0) * 0x9e3779b97f4a7c15ull + 1;
	fd = open(path, O_RDWR);
	if (fd < 0 || fstat(fd, &st) != 0)
		die("%s: %s", path, strerror(errno));
	if (st.st_size == 0 && flip) {
		/* Nothing to flip: garbage where the file had none. */
		off = 0;
	} else if (off >= (uint64_t)st.st_size) {
		die("%s: offset %" PRIu64 " is past its %lld bytes", path, off,
		    (long long)st.st_size);
	} else if (off + n > (uint64_t)st.st_size) {
		n = (uint64_t)st.st_size - off;
	}
	printf("%s %" PRIu64 " byte%s at %" PRIu64 ":", flip ? "flipped" : "zeroed", n,
	       n == 1 ? "" : "s", off);
	for (uint64_t i = 0; i < n; i++) {
		unsigned char old = 0, new = 0;

		if (st.st_size && pread(fd, &old, 1, (off_t)(off + i)) != 1)
			die("%s: read: %s", path, strerror(errno));
		if (flip) {
			unsigned char mask;

			do
				mask = (unsigned char)rng_next(&s);
			while (!mask);
			new = old ^ mask;
		}
		if (pwrite(fd, &new, 1, (off_t)(off + i)) != 1)
			die("%s: write: %s", path, strerror(errno));
		changed |= old != new;
		if (i < 8)
			printf(" %02x>%02x", old, new);
	}
	printf("%s%s\n", n > 8 ? " ..." : "", changed ? "" : " (no byte changed)");
	if (close(fd) != 0)
		die("%s: close: %s", path, strerror(errno));
	return 0;
}

/* ---- check ---- */

static const char *const state_name[] = {"ok", "eio", "earlier", "earlier", "WRONG"};

/* Records the verdict on entry e (the first that is not ok stands). */
static int verdict(struct entry *e, int state, const char *fmt, ...)
{
	va_list ap;

	if (e->state != ST_OK)
		return e->state;
	e->state = state;
	if (state == ST_OK)
		return state;
	printf("%s %s: ", state_name[state], e->rel);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	return state;
}

/* The verdict for a failed call: EIO is the filesystem saying so. */
static int failed(struct entry *e, const char *call, int err)
{
	if (err == EIO)
		return verdict(e, ST_EIO, "%s: EIO", call);
	return verdict(e, ST_WRONG, "%s failed with %s (%s), not EIO", call,
		       strerrorname_np(err) ? strerrorname_np(err) : "?", strerror(err));
}

static void path_of(char *buf, size_t len, const char *root, const char *rel)
{
	if (strcmp(rel, ".") == 0)
		snprintf(buf, len, "%s", root);
	else
		snprintf(buf, len, "%s/%s", root, rel);
}

static struct entry *find(struct tool *t, const char *rel)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->e[i].rel, rel) == 0)
			return &t->e[i];
	return NULL;
}

static void add_entry(struct tool *t, const char *rel)
{
	char path[4096];
	struct entry *e;

	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 64;
		t->e = realloc(t->e, t->cap * sizeof(*t->e));
		if (!t->e)
			die("out of memory");
	}
	e = &t->e[t->n++];
	memset(e, 0, sizeof(*e));
	e->rel = strdup(rel);
	if (!e->rel)
		die("out of memory");
	path_of(path, sizeof(path), t->ref, rel);
	if (lstat(path, &e->ref) != 0)
		die("reference %s: %s", path, strerror(errno));
}

static void free_names(char **names, unsigned char *types, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(types);
}

/* The names in directory path, sorted, without . and ..; -errno on failure. */
static int list_dir(const char *path, char ***names, unsigned char **types, size_t *n)
{
	DIR *d = opendir(path);
	struct dirent *de;
	size_t cap = 0;
	int err = 0;

	*names = NULL;
	*types = NULL;
	*n = 0;
	if (!d)
		return -errno;
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			err = errno;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			*names = realloc(*names, cap * sizeof(**names));
			*types = realloc(*types, cap);
			if (!*names || !*types)
				die("out of memory");
		}
		(*types)[*n] = de->d_type;
		if (!((*names)[(*n)++] = strdup(de->d_name)))
			die("out of memory");
	}
	closedir(d);
	if (err) {
		free_names(*names, *types, *n);
		*names = NULL;
		*types = NULL;
		*n = 0;
		return -err;
	}
	/* The types go with the names: sort pairs by name. */
	for (size_t i = 1; i < *n; i++)
		for (size_t j = i; j > 0 && strcmp((*names)[j - 1], (*names)[j]) > 0; j--) {
			char *nm = (*names)[j];
			unsigned char ty = (*types)[j];

			(*names)[j] = (*names)[j - 1];
			(*types)[j] = (*types)[j - 1];
			(*names)[j - 1] = nm;
			(*types)[j - 1] = ty;
		}
	return 0;
}

/* Walks REF depth-first, parents before children, names in order. */
static void walk_ref(struct tool *t, const char *rel)
{
	char path[4096], child[4096];
	char **names;
	unsigned char *types;
	size_t n;
	int rc;

	add_entry(t, rel);
	if (!S_ISDIR(t->e[t->n - 1].ref.st_mode))
		return;
	path_of(path, sizeof(path), t->ref, rel);
	rc = list_dir(path, &names, &types, &n);
	if (rc)
		die("reference %s: %s", path, strerror(-rc));
	for (size_t i = 0; i < n; i++) {
		if (strcmp(rel, ".") == 0)
			snprintf(child, sizeof(child), "%s", names[i]);
		else
			snprintf(child, sizeof(child), "%s/%s", rel, names[i]);
		walk_ref(t, child);
	}
	free_names(names, types, n);
}

static void check_listing(struct tool *t, struct entry *e, const char *mpath)
{
	char rpath[4096], crel[4096];
	char **mn, **rn;
	unsigned char *mt, *rt;
	size_t nm, nr, i = 0, j = 0;
	int rc;

	path_of(rpath, sizeof(rpath), t->ref, e->rel);
	rc = list_dir(rpath, &rn, &rt, &nr);
	if (rc)
		die("reference %s: %s", rpath, strerror(-rc));
	rc = list_dir(mpath, &mn, &mt, &nm);
	if (rc) {
		failed(e, "readdir", -rc);
		free_names(rn, rt, nr);
		return;
	}
	while (i < nr || j < nm) {
		int c = i == nr ? 1 : j == nm ? -1 : strcmp(rn[i], mn[j]);

		if (c > 0) {
			verdict(e, ST_WRONG, "readdir lists '%s', which is not in the reference",
				mn[j]);
			break;
		}
		if (strcmp(e->rel, ".") == 0)
			snprintf(crel, sizeof(crel), "%s", rn[i]);
		else
			snprintf(crel, sizeof(crel), "%s/%s", e->rel, rn[i]);
		if (c < 0) {
			struct entry *ce = find(t, crel);

			/* Missing from the listing: only what a cut log can take away. */
			if (!t->tail_ok || !ce || !ce->tail) {
				verdict(e, ST_WRONG, "readdir does not list '%s'", rn[i]);
				break;
			}
			i++;
			continue;
		}
		if (mt[j] != DT_UNKNOWN && mt[j] != rt[i]) {
			verdict(e, ST_WRONG, "readdir gives '%s' type %d, not %d", mn[j], mt[j],
				rt[i]);
			break;
		}
		i++;
		j++;
	}
	free_names(rn, rt, nr);
	free_names(mn, mt, nm);
}

static void check_file(struct tool *t, struct entry *e, const char *mpath, const struct stat *st)
{
	char rpath[4096];
	char *want, *got;
	size_t wlen = (size_t)e->ref.st_size, glen = 0, cap = (size_t)st->st_size + 65536;
	int fd;
	FILE *f;

	path_of(rpath, sizeof(rpath), t->ref, e->rel);
	want = malloc(wlen + 1);
	got = malloc(cap);
	if (!want || !got)
		die("out of memory");
	f = fopen(rpath, "rb");
	if (!f || fread(want, 1, wlen, f) != wlen)
		die("reference %s: cannot read", rpath);
	fclose(f);
	fd = open(mpath, O_RDONLY);
	if (fd < 0) {
		failed(e, "open", errno);
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, got + glen, cap - glen);

		if (r < 0) {
			failed(e, "read", errno);
			close(fd);
			goto out;
		}
		if (r == 0)
			break;
		glen += (size_t)r;
		if (glen == cap)
			break; /* longer than it said: wrong below */
	}
	close(fd);
	if (glen != (size_t)st->st_size)
		verdict(e, ST_WRONG, "read %zu bytes, stat says %lld", glen,
			(long long)st->st_size);
	else if (glen > wlen)
		verdict(e, ST_WRONG, "holds %zu bytes, the reference %zu", glen, wlen);
	else if (memcmp(want, got, glen) != 0) {
		size_t k = 0;

		while (want[k] == got[k])
			k++;
		verdict(e, ST_WRONG, "byte %zu is 0x%02x, the reference's 0x%02x", k,
			(unsigned char)got[k], (unsigned char)want[k]);
	} else if (glen < wlen) {
		if (t->tail_ok && e->tail)
			verdict(e, ST_EARLIER, "%zu of its %zu bytes (a cut log)", glen, wlen);
		else
			verdict(e, ST_WRONG, "holds %zu bytes, the reference %zu", glen, wlen);
	}
out:
	free(want);
	free(got);
}

static void check_xattrs(struct tool *t, struct entry *e, const char *mpath)
{
	char rpath[4096], rl[65536], ml[65536], rv[65536], mv[65536];
	ssize_t rn, mn;
	size_t nr = 0, nm = 0;

	path_of(rpath, sizeof(rpath), t->ref, e->rel);
	rn = llistxattr(rpath, rl, sizeof(rl));
	if (rn < 0)
		die("reference %s: listxattr: %s", rpath, strerror(errno));
	mn = llistxattr(mpath, ml, sizeof(ml));
	if (mn < 0) {
		failed(e, "listxattr", errno);
		return;
	}
	for (char *p = ml; p < ml + mn; p += strlen(p) + 1)
		nm += strncmp(p, "user.", 5) == 0;
	for (char *p = rl; p < rl + rn; p += strlen(p) + 1) {
		ssize_t a, b;

		if (strncmp(p, "user.", 5) != 0)
			continue;
		nr++;
		a = lgetxattr(rpath, p, rv, sizeof(rv));
		if (a < 0)
			die("reference %s: getxattr %s: %s", rpath, p, strerror(errno));
		b = lgetxattr(mpath, p, mv, sizeof(mv));
		if (b < 0) {
			failed(e, "getxattr", errno);
			return;
		}
		if (a != b || memcmp(rv, mv, (size_t)a) != 0) {
			verdict(e, ST_WRONG, "xattr %s differs (%zd bytes, the reference %zd)", p,
				b, a);
			return;
		}
	}
	if (nm != nr)
		verdict(e, ST_WRONG, "%zu user xattrs, the reference %zu", nm, nr);
}

static void check_entry(struct tool *t, struct entry *e)
{
	char mpath[4096], rpath[4096], rbuf[4096], mbuf[4096];
	struct stat st;
	int root = strcmp(e->rel, ".") == 0;

	path_of(mpath, sizeof(mpath), t->mnt, e->rel);
	if (lstat(mpath, &st) != 0) {
		if (errno == ENOENT && t->tail_ok && e->tail) {
			verdict(e, ST_ABSENT, "absent (a cut log)");
			return;
		}
		failed(e, "lstat", errno);
		return;
	}
	e->ino = st.st_ino;
	if ((st.st_mode & S_IFMT) != (e->ref.st_mode & S_IFMT)) {
		verdict(e, ST_WRONG, "type %o, the reference %o", st.st_mode & S_IFMT,
			e->ref.st_mode & S_IFMT);
		return;
	}
	if (!root && (st.st_mode != e->ref.st_mode || st.st_uid != e->ref.st_uid ||
		      st.st_gid != e->ref.st_gid)) {
		verdict(e, ST_WRONG, "mode %o uid %u gid %u, the reference %o %u %u", st.st_mode,
			st.st_uid, st.st_gid, e->ref.st_mode, e->ref.st_uid, e->ref.st_gid);
		return;
	}
	/* A directory's count depends on subdirectories a cut log may take. */
	if (st.st_nlink != e->ref.st_nlink && !(S_ISDIR(st.st_mode) && t->tail_ok)) {
		verdict(e, ST_WRONG, "%lu links, the reference %lu", (unsigned long)st.st_nlink,
			(unsigned long)e->ref.st_nlink);
		return;
	}
	/* Names of one inode in REF must be names of one inode here. */
	for (struct entry *o = t->e; o < e; o++)
		if (o->ino && o->ref.st_ino == e->ref.st_ino && !S_ISDIR(st.st_mode) &&
		    o->ino != st.st_ino) {
			verdict(e, ST_WRONG, "inode %lu, but its hard link %s has %lu",
				(unsigned long)st.st_ino, o->rel, (unsigned long)o->ino);
			return;
		}
	if (S_ISREG(st.st_mode)) {
		check_file(t, e, mpath, &st);
	} else if (S_ISLNK(st.st_mode)) {
		ssize_t a, b;

		path_of(rpath, sizeof(rpath), t->ref, e->rel);
		a = readlink(rpath, rbuf, sizeof(rbuf));
		if (a < 0)
			die("reference %s: readlink: %s", rpath, strerror(errno));
		b = readlink(mpath, mbuf, sizeof(mbuf));
		if (b < 0)
			failed(e, "readlink", errno);
		else if (a != b || memcmp(rbuf, mbuf, (size_t)a) != 0 || st.st_size != a)
			verdict(e, ST_WRONG, "target '%.*s' (size %lld), the reference '%.*s'",
				(int)b, mbuf, (long long)st.st_size, (int)a, rbuf);
	} else if (S_ISDIR(st.st_mode)) {
		check_listing(t, e, mpath);
	}
	if (e->state == ST_OK && !S_ISLNK(st.st_mode))
		check_xattrs(t, e, mpath);
}

static void read_order(struct tool *t, const char *file)
{
	char line[4096];
	FILE *f = fopen(file, "r");

	if (!f)
		die("%s: %s", file, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (!line[0])
			continue;
		t->order = realloc(t->order, (t->norder + 1) * sizeof(*t->order));
		if (!t->order || !(t->order[t->norder++] = strdup(line)))
			die("out of memory");
	}
	fclose(f);
}

/* The log is replayed in order: what it kept of ORDER must be a prefix. */
static void check_order(struct tool *t)
{
	struct entry *gap = NULL;

	for (size_t i = 0; i < t->norder; i++) {
		struct entry *e = find(t, t->order[i]);

		if (!e)
			die("%s (in the order list) is not in the reference", t->order[i]);
		if (e->state == ST_EIO)
			continue;
		if (gap && (e->state == ST_OK || e->state == ST_EARLIER)) {
			printf("WRONG %s: there (%s), but %s made before it is %s\n", e->rel,
			       state_name[e->state], gap->rel,
			       gap->state == ST_ABSENT ? "absent" : "cut short");
			e->state = ST_WRONG;
		}
		if (!gap && (e->state == ST_ABSENT || e->state == ST_EARLIER))
			gap = e;
	}
}

static int tool_check(int argc, char **argv)
{
	struct tool t = {0};
	const char *order = NULL;
	int c;

	optind = 1;
	while ((c = getopt(argc, argv, "vt:o:")) != -1) {
		switch (c) {
		case 'v':
			t.verbose = 1;
			break;
		case 't':
			t.tail_ok = 1;
			order = optarg;
			break;
		case 'o':
			order = optarg;
			break;
		default:
			die("usage: check [-v] [-t ORDER | -o ORDER] MNT REF");
		}
	}
	if (argc - optind != 2)
		die("usage: check [-v] [-t ORDER | -o ORDER] MNT REF");
	t.mnt = argv[optind];
	t.ref = argv[optind + 1];
	walk_ref(&t, ".");
	if (order)
		read_order(&t, order);
	for (size_t i = 0; i < t.norder; i++) {
		struct entry *e = find(&t, t.order[i]);

		if (!e)
			die("%s (in the order list) is not in the reference", t.order[i]);
		e->tail = (int)i + 1;
	}
	for (size_t i = 0; i < t.n; i++) {
		check_entry(&t, &t.e[i]);
		if (t.verbose && t.e[i].state == ST_OK)
			printf("ok %s\n", t.e[i].rel);
	}
	check_order(&t);
	for (size_t i = 0; i < t.n; i++) {
		int s = t.e[i].state == ST_ABSENT ? ST_EARLIER : t.e[i].state;

		t.counts[s]++;
		free(t.e[i].rel);
	}
	printf("entries %zu: ok %lu, eio %lu, earlier %lu, wrong %lu\n", t.n, t.counts[ST_OK],
	       t.counts[ST_EIO], t.counts[ST_EARLIER], t.counts[ST_WRONG]);
	for (size_t i = 0; i < t.norder; i++)
		free(t.order[i]);
	free(t.order);
	free(t.e);
	return t.counts[ST_WRONG] ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "gen") == 0)
		return tool_gen(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "damage") == 0)
		return tool_damage(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "check") == 0)
		return tool_check(argc - 1, argv + 1);
	fprintf(stderr,
		"usage: fscorrupt_tool gen SEED SIZE [text]\n"
		"       fscorrupt_tool damage FILE flip OFF N SEED | damage FILE zero OFF N\n"
		"       fscorrupt_tool check [-v] [-t ORDER | -o ORDER] MNT REF\n");
	return 2;
}
