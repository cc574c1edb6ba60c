/*
 * fsstress_verify.c — the verifier of a logged workload (-V): the tree
 * must equal the state after every operation that returned, or that plus
 * the one in flight.
 */
#include "config.h"

#include "fsstress.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

/* Reads the tree at dir into m (nodes by inode number); 0, or -1 with a message in err. */
static int scan_dir(struct kmodel *m, ino_t *inos, const char *path, int dir, char *err, size_t cap)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int rc = 0;

	if (!d) {
		say(err, cap, "opendir %s: %s", path, strerror(errno));
		return -1;
	}
	while (!rc && (de = readdir(d))) {
		char sub[PATH_MAX];
		struct stat st;
		int node = -1;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		path_fmt(sub, sizeof(sub), "%s/%s", path, de->d_name);
		if (strlen(de->d_name) >= KNAME) {
			say(err, cap, "%s: a name the workload never makes", sub);
			rc = -1;
			break;
		}
		if (lstat(sub, &st)) {
			say(err, cap, "readdir lists %s, lstat fails: %s", sub, strerror(errno));
			rc = -1;
			break;
		}
		for (int i = 1; i < KNODES && node < 0; i++)
			if (m->n[i].type != KT_FREE && inos[i] == st.st_ino)
				node = i;
		if (node < 0) {
			node = km_new_node(m, S_ISDIR(st.st_mode) ? KT_DIR : KT_FILE);
			if (node < 0) {
				say(err, cap, "%s: more inodes than the workload makes", sub);
				rc = -1;
				break;
			}
			inos[node] = st.st_ino;
			m->n[node].perm = st.st_mode & 07777;
			m->n[node].nlink = st.st_nlink;
			if (lgetxattr(sub, "user.k", m->n[node].xv, sizeof(m->n[node].xv) - 1) < 0)
				m->n[node].xv[0] = 0;
		}
		if (km_new_ent(m, dir, de->d_name, node) < 0) {
			say(err, cap, "%s: more names than the workload makes", sub);
			rc = -1;
		} else if (S_ISDIR(st.st_mode)) {
			rc = scan_dir(m, inos, sub, node, err, cap);
		} else if (!S_ISREG(st.st_mode)) {
			say(err, cap, "%s: mode 0%o, which the workload never makes", sub,
			    (unsigned)st.st_mode);
			rc = -1;
		} else if (!m->n[node].data) {
			int fd = open(sub, O_RDONLY);
			ssize_t k = 0;

			if (fd < 0 || km_reserve(&m->n[node], (size_t)st.st_size + 1)) {
				say(err, cap, "open %s: %s", sub, strerror(errno));
				rc = -1;
				if (fd >= 0)
					close(fd);
				break;
			}
			while ((k = read(fd, m->n[node].data + m->n[node].size,
					 m->n[node].cap - m->n[node].size)) > 0) {
				m->n[node].size += (size_t)k;
				if (km_reserve(&m->n[node], m->n[node].size + 65536))
					break;
			}
			if (k < 0) {
				say(err, cap, "read %s: %s", sub, strerror(errno));
				rc = -1;
			} else if (m->n[node].size != (size_t)st.st_size) {
				say(err, cap, "%s: reads %zu bytes, size %lld", sub,
				    m->n[node].size, (long long)st.st_size);
				rc = -1;
			}
			close(fd);
		}
	}
	closedir(d);
	return rc;
}

static int scan_tree(struct kmodel *m, const char *dir, char *err, size_t cap)
{
	static ino_t inos[KNODES];
	struct stat st;

	km_init(m);
	memset(inos, 0, sizeof(inos));
	if (lstat(dir, &st)) {
		if (errno == ENOENT)
			return 0;
		say(err, cap, "%s: %s", dir, strerror(errno));
		return -1;
	}
	m->root = 1;
	m->n[0].type = KT_DIR;
	m->n[0].perm = st.st_mode & 07777;
	m->n[0].nlink = st.st_nlink;
	if (lgetxattr(dir, "user.k", m->n[0].xv, sizeof(m->n[0].xv) - 1) < 0)
		m->n[0].xv[0] = 0;
	return scan_dir(m, inos, dir, 0, err, cap);
}

/* A write in flight may have landed in part: each byte old, new or zero. */
struct lenient {
	int node; /* in the expected model; -1: none */
	const uint8_t *old;
	size_t old_size;
};

struct cmp {
	const struct kmodel *x, *a; /* expected, actual */
	int x2a[KNODES], a2x[KNODES];
	const struct lenient *len;
	char *err;
	size_t cap;
};

static int ent_name_cmp(const void *p, const void *q, void *m)
{
	const struct kmodel *km = m;

	return strcmp(km->e[*(const int *)p].name, km->e[*(const int *)q].name);
}

/* The entries of dir, sorted by name, into v; returns how many. */
static int sorted_ents(const struct kmodel *m, int dir, int *v)
{
	int n = 0;

	for (int i = 0; i < KENTS; i++)
		if (m->e[i].dir == dir)
			v[n++] = i;
	qsort_r(v, (size_t)n, sizeof(int), ent_name_cmp, (void *)m);
	return n;
}

static int cmp_data(struct cmp *c, int xn, int an, const char *path)
{
	const struct knode *x = &c->x->n[xn], *a = &c->a->n[an];
	const struct lenient *l = c->len;

	if (l && l->node == xn) {
		size_t lo = x->size < l->old_size ? x->size : l->old_size;
		size_t hi = x->size > l->old_size ? x->size : l->old_size;

		if (a->size < lo || a->size > hi) {
			snprintf(c->err, c->cap,
				 "%s: size %zu, but a write in flight leaves it in %zu..%zu", path,
				 a->size, lo, hi);
			return -1;
		}
		for (size_t i = 0; i < a->size; i++) {
			uint8_t b = a->data[i];

			if (b && !(i < x->size && b == x->data[i]) &&
			    !(i < l->old_size && b == l->old[i])) {
				snprintf(c->err, c->cap,
					 "%s: byte %zu is 0x%02x, neither old (0x%02x) nor new "
					 "(0x%02x) nor zero",
					 path, i, b, i < l->old_size ? l->old[i] : 0,
					 i < x->size ? x->data[i] : 0);
				return -1;
			}
		}
		return 0;
	}
	if (a->size != x->size) {
		snprintf(c->err, c->cap, "%s: size %zu, expected %zu", path, a->size, x->size);
		return -1;
	}
	for (size_t i = 0; i < x->size; i++) {
		if (a->data[i] != x->data[i]) {
			snprintf(c->err, c->cap, "%s: byte %zu is 0x%02x, expected 0x%02x", path, i,
				 a->data[i], x->data[i]);
			return -1;
		}
	}
	return 0;
}

static int cmp_node(struct cmp *c, int xn, int an, const char *path)
{
	const struct knode *x = &c->x->n[xn], *a = &c->a->n[an];
	nlink_t want;

	if (c->x2a[xn] >= 0 || c->a2x[an] >= 0) {
		if (c->x2a[xn] != an || c->a2x[an] != xn) {
			snprintf(c->err, c->cap, "%s: hard links differ from the expected ones",
				 path);
			return -1;
		}
		return 1; /* seen through another name already */
	}
	c->x2a[xn] = an;
	c->a2x[an] = xn;
	if (x->type != a->type) {
		snprintf(c->err, c->cap, "%s: a %s, expected a %s", path,
			 a->type == KT_DIR ? "directory" : "file",
			 x->type == KT_DIR ? "directory" : "file");
		return -1;
	}
	want = x->type == KT_DIR ? (nlink_t)(2 + km_subdirs(c->x, xn))
				 : (nlink_t)km_names(c->x, xn);
	if (a->nlink != want) {
		snprintf(c->err, c->cap, "%s: link count %lu, expected %lu", path,
			 (unsigned long)a->nlink, (unsigned long)want);
		return -1;
	}
	if (a->perm != x->perm) {
		snprintf(c->err, c->cap, "%s: mode 0%o, expected 0%o", path, a->perm, x->perm);
		return -1;
	}
	if (strcmp(a->xv, x->xv)) {
		snprintf(c->err, c->cap, "%s: xattr user.k '%s', expected '%s'", path, a->xv,
			 x->xv);
		return -1;
	}
	return x->type == KT_FILE ? cmp_data(c, xn, an, path) : 0;
}

static int cmp_dir(struct cmp *c, int xd, int ad, const char *path)
{
	int xv[KENTS], av[KENTS];
	int nx = sorted_ents(c->x, xd, xv), na = sorted_ents(c->a, ad, av);

	for (int i = 0, j = 0; i < nx || j < na;) {
		int d = i == nx	  ? 1
			: j == na ? -1
				  : strcmp(c->x->e[xv[i]].name, c->a->e[av[j]].name);
		char sub[PATH_MAX];
		int rc;

		if (d) {
			snprintf(c->err, c->cap, "%s/%s: %s", path,
				 d < 0 ? c->x->e[xv[i]].name : c->a->e[av[j]].name,
				 d < 0 ? "missing" : "there, but should not be");
			return -1;
		}
		path_fmt(sub, sizeof(sub), "%s/%s", path, c->x->e[xv[i]].name);
		rc = cmp_node(c, c->x->e[xv[i]].node, c->a->e[av[j]].node, sub);
		if (rc < 0)
			return -1;
		if (rc == 0 && c->x->n[c->x->e[xv[i]].node].type == KT_DIR &&
		    cmp_dir(c, c->x->e[xv[i]].node, c->a->e[av[j]].node, sub))
			return -1;
		i++;
		j++;
	}
	return 0;
}

/* 0 if the scanned tree a equals the model x (lenient for one node); else -1 and err. */
static int kcompare(const struct kmodel *x, const struct kmodel *a, const struct lenient *l,
		    const char *dir, char *err, size_t cap)
{
	struct cmp c = {.x = x, .a = a, .len = l, .err = err, .cap = cap};

	memset(c.x2a, -1, sizeof(c.x2a));
	memset(c.a2x, -1, sizeof(c.a2x));
	if (x->root != a->root) {
		say(err, cap, "%s %s", dir, x->root ? "is missing" : "should not exist yet");
		return -1;
	}
	if (!x->root)
		return 0;
	if (cmp_node(&c, 0, 0, dir) < 0)
		return -1;
	return cmp_dir(&c, 0, 0, dir);
}

struct klog {
	struct kop *ops;
	int *done;
	size_t n, cap;
	int failed_errno;
};

static void read_log(const char *path, struct klog *l)
{
	FILE *f = fopen(path, "r");
	char line[512];

	memset(l, 0, sizeof(*l));
	if (!f)
		die("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		unsigned long long seq;
		int e;

		if (line[0] == 'B') {
			if (l->n == l->cap) {
				l->cap = l->cap ? 2 * l->cap : 1024;
				l->ops = realloc(l->ops, l->cap * sizeof(*l->ops));
				l->done = realloc(l->done, l->cap * sizeof(*l->done));
			}
			if (kop_parse(line + 2, &l->ops[l->n]) || l->ops[l->n].seq != l->n + 1)
				die("%s: bad record: %s", path, line);
			if (l->n && !l->done[l->n - 1])
				die("%s: operation %zu started before %zu returned", path, l->n + 1,
				    l->n);
			l->done[l->n++] = 0;
		} else if (line[0] == 'D') {
			if (sscanf(line + 2, "%llu", &seq) != 1 || seq != l->n || !l->n)
				die("%s: bad record: %s", path, line);
			l->done[l->n - 1] = 1;
		} else if (line[0] == 'F') {
			if (sscanf(line + 2, "%llu %d", &seq, &e) != 2 || seq != l->n)
				die("%s: bad record: %s", path, line);
			l->failed_errno = e;
		}
	}
	fclose(f);
}

/* The model after every returned operation (plus the one in flight with inflight). */
static void replay_log(const struct klog *l, struct kmodel *m, int inflight, const char *path)
{
	km_init(m);
	for (size_t i = 0; i < l->n; i++) {
		char line[256];

		if (!l->done[i] && !inflight)
			break;
		if (km_apply(m, &l->ops[i])) {
			kop_format(&l->ops[i], line, sizeof(line));
			die("%s: the log does not replay: operation %s", path, line);
		}
	}
}

int verify_log(const char *dir, const char *log)
{
	static struct kmodel before, after, actual;
	struct klog l;
	char err1[512], err2[512], line[256];
	struct lenient len = {.node = -1};
	int inflight, rc = 0;

	read_log(log, &l);
	inflight = l.n && !l.done[l.n - 1];
	replay_log(&l, &before, 0, log);
	replay_log(&l, &after, 1, log);
	if (scan_tree(&actual, dir, err1, sizeof(err1))) {
		fprintf(stderr, "fsstress: verify %s: %s\n", dir, err1);
		rc = 1;
		goto out;
	}
	if (inflight) {
		const struct kop *o = &l.ops[l.n - 1];
		int parent, e, eb;
		const char *last;

		kop_format(o, line, sizeof(line));
		if (o->kind == K_CREATE || o->kind == K_WRITE || o->kind == K_WSYNC ||
		    o->kind == K_APPEND) {
			e = km_resolve(&after, o->p, &parent, &last);
			eb = km_resolve(&before, o->p, &parent, &last);
			len.node = after.e[e].node;
			if (eb >= 0) {
				len.old = before.n[before.e[eb].node].data;
				len.old_size = before.n[before.e[eb].node].size;
			}
		}
	}
	if (kcompare(&before, &actual, NULL, dir, err1, sizeof(err1)) == 0) {
		printf("fsstress: verify %s: %zu operations returned; all there%s%s\n", dir,
		       l.n - (size_t)inflight, inflight ? "; not yet the one in flight: " : "",
		       inflight ? line : "");
	} else if (inflight && kcompare(&after, &actual, &len, dir, err2, sizeof(err2)) == 0) {
		printf("fsstress: verify %s: %zu operations returned; all there, and the one "
		       "in flight too: %s\n",
		       dir, l.n - 1, line);
	} else {
		fprintf(stderr,
			"fsstress: verify %s: FAILED against %s (%zu operations returned)\n"
			"  after the last returned operation: %s\n",
			dir, log, l.n - (size_t)inflight, err1);
		if (inflight)
			fprintf(stderr, "  with the one in flight (%s): %s\n", line, err2);
		fprintf(stderr, "  the last operations:\n");
		for (size_t i = l.n > 12 ? l.n - 12 : 0; i < l.n; i++) {
			kop_format(&l.ops[i], line, sizeof(line));
			fprintf(stderr, "    %s%s\n", line, l.done[i] ? "" : "   (in flight)");
		}
		rc = 1;
	}
out:
	km_free(&before);
	km_free(&after);
	km_free(&actual);
	free(l.ops);
	free(l.done);
	return rc;
}
