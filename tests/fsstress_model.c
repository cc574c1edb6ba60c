/*
 * fsstress_model.c — the model of the logged workload (-L, -V): a tree of
 * nodes and entries the operations apply to, and the text form of an
 * operation in the log. The types are in fsstress.h.
 */
#include "config.h"

#include "fsstress.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const kop_names[K_NKINDS] = {
	"mkroot", "create", "write", "append", "trunc", "rename", "link",  "unlink",
	"mkdir",  "rmdir",  "chmod", "setx",   "rmx",	"fsync",  "wsync",
};

void km_init(struct kmodel *m)
{
	memset(m, 0, sizeof(*m));
	for (int i = 0; i < KENTS; i++)
		m->e[i].dir = -1;
}

void km_free(struct kmodel *m)
{
	for (int i = 0; i < KNODES; i++)
		free(m->n[i].data);
}

/* The bytes an operation writes: a stream from its data seed (0: zeros, a hole on lsmfs). */
void gen(uint64_t dseed, uint8_t *p, size_t n)
{
	struct rng r;
	size_t i = 0;

	if (!n)
		return; /* p may be NULL: a zero-length write to an empty file */
	if (!dseed) {
		memset(p, 0, n);
		return;
	}
	rng_init(&r, dseed);
	for (; i + 8 <= n; i += 8) {
		uint64_t x = rnd(&r);

		memcpy(p + i, &x, 8);
	}
	for (uint64_t x = rnd(&r); i < n; i++, x >>= 8)
		p[i] = (uint8_t)x;
}

int km_new_node(struct kmodel *m, int type)
{
	for (int i = 1; i < KNODES; i++) {
		if (m->n[i].type == KT_FREE) {
			memset(&m->n[i], 0, sizeof(m->n[i]));
			m->n[i].type = type;
			m->n[i].perm = type == KT_DIR ? 0755 : 0644;
			return i;
		}
	}
	return -1;
}

int km_new_ent(struct kmodel *m, int dir, const char *name, int node)
{
	for (int i = 0; i < KENTS; i++) {
		if (m->e[i].dir < 0) {
			m->e[i].dir = dir;
			m->e[i].node = node;
			snprintf(m->e[i].name, KNAME, "%s", name);
			return i;
		}
	}
	return -1;
}

int km_find(const struct kmodel *m, int dir, const char *name)
{
	for (int i = 0; i < KENTS; i++)
		if (m->e[i].dir == dir && !strcmp(m->e[i].name, name))
			return i;
	return -1;
}

int km_names(const struct kmodel *m, int node)
{
	int n = 0;

	for (int i = 0; i < KENTS; i++)
		n += m->e[i].dir >= 0 && m->e[i].node == node;
	return n;
}

int km_subdirs(const struct kmodel *m, int dir)
{
	int n = 0;

	for (int i = 0; i < KENTS; i++)
		n += m->e[i].dir == dir && m->n[m->e[i].node].type == KT_DIR;
	return n;
}

/* The entry path names (relative to DIR), with *parent set; -1 if absent. */
int km_resolve(const struct kmodel *m, const char *path, int *parent, const char **last)
{
	char comp[64];
	const char *s = path;
	int dir = 0;

	if (!m->root)
		return -1;
	for (;;) {
		const char *slash = strchr(s, '/');
		int e;

		if (!slash) {
			*parent = dir;
			*last = s;
			return km_find(m, dir, s);
		}
		snprintf(comp, sizeof(comp), "%.*s", (int)(slash - s), s);
		e = km_find(m, dir, comp);
		if (e < 0 || m->n[m->e[e].node].type != KT_DIR) {
			*parent = -1;
			return -1;
		}
		dir = m->e[e].node;
		s = slash + 1;
	}
}

/* The path of a node that is a directory ("" for DIR), into out. */
void km_dir_path(const struct kmodel *m, int dir, char *out, size_t cap)
{
	char tmp[64];

	out[0] = 0;
	while (dir != 0) {
		int e = -1;

		for (int i = 0; i < KENTS && e < 0; i++)
			if (m->e[i].dir >= 0 && m->e[i].node == dir)
				e = i;
		if (e < 0)
			return;
		path_fmt(tmp, sizeof(tmp), "%s%s%s", m->e[e].name, out[0] ? "/" : "", out);
		path_fmt(out, cap, "%s", tmp);
		dir = m->e[e].dir;
	}
}

void km_ent_path(const struct kmodel *m, int e, char *out, size_t cap)
{
	char d[64];

	km_dir_path(m, m->e[e].dir, d, sizeof(d));
	path_fmt(out, cap, "%s%s%s", d, d[0] ? "/" : "", m->e[e].name);
}

int km_reserve(struct knode *n, size_t size)
{
	if (size > n->cap) {
		size_t cap = size + size / 2 + 4096;
		uint8_t *p = realloc(n->data, cap);

		if (!p)
			return -1;
		n->data = p;
		n->cap = cap;
	}
	return 0;
}

static int km_write(struct knode *n, uint64_t off, uint64_t len, uint64_t dseed)
{
	if (km_reserve(n, off + len))
		return -1;
	if (off > n->size)
		memset(n->data + n->size, 0, off - n->size);
	gen(dseed, n->data + off, len);
	if (off + len > n->size)
		n->size = off + len;
	return 0;
}

static int km_resize(struct knode *n, uint64_t size)
{
	if (km_reserve(n, size))
		return -1;
	if (size > n->size)
		memset(n->data + n->size, 0, size - n->size);
	n->size = size;
	return 0;
}

static void km_drop_ent(struct kmodel *m, int e)
{
	int node = m->e[e].node;

	m->e[e].dir = -1;
	if (km_names(m, node) == 0) {
		free(m->n[node].data);
		memset(&m->n[node], 0, sizeof(m->n[node]));
	}
}

int km_is_within(const struct kmodel *m, int node, int dir)
{
	/* whether dir is node or lies under it */
	while (dir != 0) {
		int e = -1;

		if (dir == node)
			return 1;
		for (int i = 0; i < KENTS && e < 0; i++)
			if (m->e[i].dir >= 0 && m->e[i].node == dir)
				e = i;
		if (e < 0)
			return 0;
		dir = m->e[e].dir;
	}
	return node == 0;
}

/* Applies op to the model; -1 if it cannot apply (the log and the model disagree). */
int km_apply(struct kmodel *m, const struct kop *o)
{
	int parent, qparent, e, q, node;
	const char *last, *qlast;

	if (o->kind == K_MKROOT) {
		if (m->root)
			return -1;
		m->root = 1;
		m->n[0].type = KT_DIR;
		m->n[0].perm = 0755;
		return 0;
	}
	e = km_resolve(m, o->p, &parent, &last);
	switch (o->kind) {
	case K_CREATE:
	case K_MKDIR:
		if (e >= 0 || parent < 0)
			return -1;
		node = km_new_node(m, o->kind == K_CREATE ? KT_FILE : KT_DIR);
		if (node < 0 || km_new_ent(m, parent, last, node) < 0)
			return -1;
		return o->kind == K_CREATE ? km_write(&m->n[node], 0, o->a, o->c) : 0;
	case K_LINK:
	case K_RENAME:
		if (e < 0)
			return -1;
		q = km_resolve(m, o->q, &qparent, &qlast);
		if (qparent < 0)
			return -1;
		node = m->e[e].node;
		if (o->kind == K_LINK) {
			if (q >= 0 || m->n[node].type != KT_FILE)
				return -1;
			return km_new_ent(m, qparent, qlast, node) < 0 ? -1 : 0;
		}
		if (q >= 0 && m->e[q].node == node)
			return 0; /* two names of one file: rename does nothing */
		/* the workload moves a directory only to a free name, never into itself */
		if (m->n[node].type == KT_DIR && (q >= 0 || km_is_within(m, node, qparent)))
			return -1;
		if (q >= 0) {
			if (m->n[m->e[q].node].type != KT_FILE)
				return -1;
			km_drop_ent(m, q);
		}
		m->e[e].dir = qparent;
		snprintf(m->e[e].name, KNAME, "%s", qlast);
		return 0;
	default:
		break;
	}
	if (e < 0)
		return -1;
	node = m->e[e].node;
	switch (o->kind) {
	case K_WRITE:
	case K_WSYNC:
		return m->n[node].type == KT_FILE ? km_write(&m->n[node], o->a, o->b, o->c) : -1;
	case K_APPEND:
		return m->n[node].type == KT_FILE
			       ? km_write(&m->n[node], m->n[node].size, o->b, o->c)
			       : -1;
	case K_TRUNC:
		return m->n[node].type == KT_FILE ? km_resize(&m->n[node], o->a) : -1;
	case K_UNLINK:
		if (m->n[node].type != KT_FILE)
			return -1;
		km_drop_ent(m, e);
		return 0;
	case K_RMDIR:
		for (int i = 0; i < KENTS; i++)
			if (m->e[i].dir == node)
				return -1;
		if (m->n[node].type != KT_DIR)
			return -1;
		km_drop_ent(m, e);
		return 0;
	case K_CHMOD:
		m->n[node].perm = (unsigned)o->a;
		return 0;
	case K_SETX:
		snprintf(m->n[node].xv, sizeof(m->n[node].xv), "v%" PRIu64, o->a);
		return 0;
	case K_RMX:
		if (!m->n[node].xv[0])
			return -1;
		m->n[node].xv[0] = 0;
		return 0;
	case K_FSYNC:
		return m->n[node].type == KT_FILE ? 0 : -1;
	default:
		return -1;
	}
}

void kop_format(const struct kop *o, char *out, size_t cap)
{
	snprintf(out, cap, "%" PRIu64 " %s %s %s %" PRIu64 " %" PRIu64 " %" PRIu64, o->seq,
		 kop_names[o->kind], o->p[0] ? o->p : "-", o->q[0] ? o->q : "-", o->a, o->b, o->c);
}

int kop_parse(const char *s, struct kop *o)
{
	char name[16], p[64], q[64];
	unsigned long long seq, a, b, c;

	if (sscanf(s, "%llu %15s %63s %63s %llu %llu %llu", &seq, name, p, q, &a, &b, &c) != 7)
		return -1;
	memset(o, 0, sizeof(*o));
	for (o->kind = 0; o->kind < K_NKINDS; o->kind++)
		if (!strcmp(name, kop_names[o->kind]))
			break;
	if (o->kind == K_NKINDS)
		return -1;
	o->seq = seq;
	snprintf(o->p, sizeof(o->p), "%s", strcmp(p, "-") ? p : "");
	snprintf(o->q, sizeof(o->q), "%s", strcmp(q, "-") ? q : "");
	o->a = a;
	o->b = b;
	o->c = c;
	return 0;
}
