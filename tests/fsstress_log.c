/*
 * fsstress_log.c — the logged workload (-L): one process, operations that
 * must all succeed, each logged before it starts and when it returns.
 */
#include "config.h"

#include "fsstress.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

struct worker {
	const char *dir;
	int logfd;
	struct rng r;
	struct kmodel m;
	uint8_t *buf;
};

#define KMAXDATA (512 * 1024)

static void wlog(struct worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void wlog(struct worker *w, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One write(2) per record on an O_APPEND file: a record is whole or absent. */
	if (write(w->logfd, line, (size_t)n) != n) {
		perror("fsstress: writing the log");
		exit(2);
	}
}

/* A random entry whose node has the given type (0: any); -1 if none. */
static int pick_ent(struct worker *w, int type)
{
	int v[KENTS], n = 0;

	for (int i = 0; i < KENTS; i++)
		if (w->m.e[i].dir >= 0 && (!type || w->m.n[w->m.e[i].node].type == type))
			v[n++] = i;
	return n ? v[below(&w->r, (uint64_t)n)] : -1;
}

/* A random directory node (0 is DIR). */
static int pick_dir(struct worker *w)
{
	int e = pick_ent(w, KT_DIR);

	return e < 0 || below(&w->r, 3) == 0 ? 0 : w->m.e[e].node;
}

static int count_type(struct worker *w, int type)
{
	int n = 0;

	for (int i = 0; i < KNODES; i++)
		n += w->m.n[i].type == type;
	return n;
}

/* A free name in dir: "fN" for files, "sN" for directories. */
static int free_name(struct worker *w, int dir, int type, char *out)
{
	for (int tries = 0; tries < 20; tries++) {
		snprintf(out, KNAME, "%c%d", type == KT_DIR ? 's' : 'f',
			 (int)below(&w->r, type == KT_DIR ? 6 : 16));
		if (km_find(&w->m, dir, out) < 0)
			return 0;
	}
	return -1;
}

static void path_in(struct worker *w, int dir, const char *name, char *out, size_t cap)
{
	char d[64];

	km_dir_path(&w->m, dir, d, sizeof(d));
	path_fmt(out, cap, "%s%s%s", d, d[0] ? "/" : "", name);
}

static uint64_t data_seed(struct worker *w)
{
	return below(&w->r, 12) == 0 ? 0 : 1 + below(&w->r, UINT64_MAX - 1);
}

/* Chooses an operation the model says must succeed; 0, or -1 to choose again. */
static int choose_kop(struct worker *w, struct kop *o)
{
	static const unsigned modes[] = {0600, 0640, 0644, 0755};
	int files = count_type(w, KT_FILE), dirs = count_type(w, KT_DIR);
	uint64_t x = below(&w->r, 100);
	int e, dir;
	char name[KNAME];

	memset(o, 0, sizeof(*o));
	if (files < 3 || (x < 14 && files < 40)) {
		dir = pick_dir(w);
		if (free_name(w, dir, KT_FILE, name))
			return -1;
		o->kind = K_CREATE;
		path_in(w, dir, name, o->p, sizeof(o->p));
		x = below(&w->r, 10);
		o->a = x < 5   ? below(&w->r, 4097)
		       : x < 9 ? below(&w->r, 131073)
			       : below(&w->r, KMAXDATA);
		o->c = data_seed(w);
		return 0;
	}
	if (x < 20 && dirs < 8) {
		dir = pick_dir(w);
		if (free_name(w, dir, KT_DIR, name))
			return -1;
		o->kind = K_MKDIR;
		path_in(w, dir, name, o->p, sizeof(o->p));
		return 0;
	}
	if (x < 24) {
		e = pick_ent(w, KT_DIR);
		if (e < 0 || km_subdirs(&w->m, w->m.e[e].node))
			return -1;
		for (int i = 0; i < KENTS; i++)
			if (w->m.e[i].dir == w->m.e[e].node)
				return -1;
		o->kind = K_RMDIR;
		km_ent_path(&w->m, e, o->p, sizeof(o->p));
		return 0;
	}
	if (x < 30) {
		/* a directory moves: never into itself */
		e = pick_ent(w, KT_DIR);
		dir = pick_dir(w);
		if (e < 0 || km_is_within(&w->m, w->m.e[e].node, dir) ||
		    free_name(w, dir, KT_DIR, name))
			return -1;
		o->kind = K_RENAME;
		km_ent_path(&w->m, e, o->p, sizeof(o->p));
		path_in(w, dir, name, o->q, sizeof(o->q));
		return 0;
	}
	e = pick_ent(w, KT_FILE);
	if (e < 0)
		return -1;
	km_ent_path(&w->m, e, o->p, sizeof(o->p));
	if (x < 40) {
		/* a file moves, replacing a file of the target name if there is one */
		int q;

		dir = pick_dir(w);
		snprintf(name, KNAME, "f%d", (int)below(&w->r, 16));
		q = km_find(&w->m, dir, name);
		if (q >= 0 && w->m.n[w->m.e[q].node].type != KT_FILE)
			return -1;
		o->kind = K_RENAME;
		path_in(w, dir, name, o->q, sizeof(o->q));
	} else if (x < 44) {
		dir = pick_dir(w);
		if (free_name(w, dir, KT_FILE, name))
			return -1;
		o->kind = K_LINK;
		path_in(w, dir, name, o->q, sizeof(o->q));
	} else if (x < 52) {
		o->kind = K_UNLINK;
	} else if (x < 68) {
		struct knode *n = &w->m.n[w->m.e[e].node];

		o->kind = below(&w->r, 4) == 0 ? K_WSYNC : K_WRITE;
		o->a = below(&w->r, n->size + 8192);
		o->b = 1 + below(&w->r, 65536);
		o->c = data_seed(w);
		if (o->a + o->b > KMAXDATA)
			return -1;
	} else if (x < 74) {
		o->kind = K_APPEND;
		o->b = 1 + below(&w->r, 32768);
		o->c = data_seed(w);
		if (w->m.n[w->m.e[e].node].size + o->b > KMAXDATA)
			return -1;
	} else if (x < 80) {
		o->kind = K_TRUNC;
		o->a = below(&w->r, w->m.n[w->m.e[e].node].size * 2 + 4096);
		if (o->a > KMAXDATA)
			return -1;
	} else if (x < 85) {
		o->kind = K_CHMOD;
		o->a = modes[below(&w->r, 4)];
	} else if (x < 90) {
		o->kind = K_SETX;
		o->a = below(&w->r, 1000000);
	} else if (x < 93) {
		if (!w->m.n[w->m.e[e].node].xv[0])
			return -1;
		o->kind = K_RMX;
	} else {
		o->kind = K_FSYNC;
	}
	return 0;
}

static int w_close(int fd, int rc)
{
	if (close(fd) && !rc)
		rc = errno;
	return rc;
}

static int w_pwrite(int fd, const uint8_t *p, size_t n, off_t off, int append)
{
	for (size_t done = 0; done < n;) {
		ssize_t k = append ? write(fd, p + done, n - done)
				   : pwrite(fd, p + done, n - done, off + (off_t)done);

		if (k <= 0)
			return k < 0 ? errno : EIO;
		done += (size_t)k;
	}
	return 0;
}

/* Runs op on the filesystem; 0 or an errno. */
static int kop_exec(struct worker *w, const struct kop *o)
{
	char p[PATH_MAX], q[PATH_MAX];
	char val[24];
	int fd, rc = 0;

	path_fmt(p, sizeof(p), "%s/%s", w->dir, o->p);
	path_fmt(q, sizeof(q), "%s/%s", w->dir, o->q);
	switch (o->kind) {
	case K_MKROOT:
		return mkdir(w->dir, 0755) ? errno : 0;
	case K_CREATE:
		fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0)
			return errno;
		gen(o->c, w->buf, o->a);
		return w_close(fd, w_pwrite(fd, w->buf, o->a, 0, 0));
	case K_WRITE:
	case K_WSYNC:
	case K_APPEND:
		fd = open(p, O_WRONLY | (o->kind == K_APPEND ? O_APPEND : 0));
		if (fd < 0)
			return errno;
		gen(o->c, w->buf, o->b);
		rc = w_pwrite(fd, w->buf, o->b, (off_t)o->a, o->kind == K_APPEND);
		if (!rc && o->kind == K_WSYNC && fsync(fd))
			rc = errno;
		return w_close(fd, rc);
	case K_FSYNC:
		fd = open(p, O_RDONLY);
		if (fd < 0)
			return errno;
		return w_close(fd, fsync(fd) ? errno : 0);
	case K_TRUNC:
		return truncate(p, (off_t)o->a) ? errno : 0;
	case K_RENAME:
		return rename(p, q) ? errno : 0;
	case K_LINK:
		return link(p, q) ? errno : 0;
	case K_UNLINK:
		return unlink(p) ? errno : 0;
	case K_MKDIR:
		return mkdir(p, 0755) ? errno : 0;
	case K_RMDIR:
		return rmdir(p) ? errno : 0;
	case K_CHMOD:
		return chmod(p, (mode_t)o->a) ? errno : 0;
	case K_SETX:
		snprintf(val, sizeof(val), "v%" PRIu64, o->a);
		return setxattr(p, "user.k", val, strlen(val), 0) ? errno : 0;
	case K_RMX:
		return removexattr(p, "user.k") ? errno : 0;
	default:
		return EINVAL;
	}
}

int logged_workload(const char *dir, const char *log, uint64_t nops, uint64_t seed)
{
	struct worker *w = calloc(1, sizeof(*w));
	char line[256];
	int rc = 0;

	if (!w || !(w->buf = malloc(KMAXDATA)))
		die("out of memory");
	w->dir = dir;
	km_init(&w->m);
	rng_init(&w->r, seed);
	umask(0);
	w->logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	if (w->logfd < 0)
		die("%s: %s", log, strerror(errno));
	wlog(w, "# fsstress logged workload: seed %" PRIu64 " dir %s\n", seed, dir);
	for (uint64_t seq = 1; seq <= nops; seq++) {
		struct kop o;
		int e;

		if (seq == 1) {
			memset(&o, 0, sizeof(o));
			o.kind = K_MKROOT;
		} else {
			while (choose_kop(w, &o))
				;
		}
		o.seq = seq;
		kop_format(&o, line, sizeof(line));
		wlog(w, "B %s\n", line);
		e = kop_exec(w, &o);
		if (e) {
			wlog(w, "F %" PRIu64 " %d %s\n", seq, e, strerror(e));
			if (e == ENOTCONN || e == ECONNABORTED || fs_gone(dir)) {
				printf("fsstress: %s: the filesystem went away at operation "
				       "%" PRIu64 " (%s)\n",
				       dir, seq, strerror(e));
				rc = 3;
			} else {
				fprintf(stderr, "fsstress: %s: operation %s failed: %s\n", dir,
					line, strerror(e));
				rc = 1;
			}
			break;
		}
		if (km_apply(&w->m, &o))
			die("internal: the model refuses its own operation %s", line);
		wlog(w, "D %" PRIu64 "\n", seq);
	}
	if (!rc)
		printf("fsstress: %s: all %" PRIu64 " operations done\n", dir, nops);
	close(w->logfd);
	km_free(&w->m);
	free(w->buf);
	free(w);
	return rc;
}
