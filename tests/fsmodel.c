/* fsmodel.c — the in-memory POSIX tree of fsmodel.h. */
#include "fsmodel.h"

#include "lsmfs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void fm_init(fsmodel *m)
{
	memset(m, 0, sizeof(*m));
	m->cap = 64;
	m->nodes = calloc((size_t)m->cap, sizeof(*m->nodes));
	m->n = 1;
	m->nodes[0].type = FM_DIR;
	m->nodes[0].nlink = 2;
	m->nodes[0].parent = 0;
	m->nodes[0].ino = LSMFS_ROOT_INO;
}

static void node_release(fm_node *nd)
{
	for (int i = 0; i < nd->nents; i++)
		free(nd->ents[i].name);
	free(nd->ents);
	free(nd->data);
	memset(nd, 0, sizeof(*nd));
}

void fm_free(fsmodel *m)
{
	for (int i = 0; i < m->n; i++)
		node_release(&m->nodes[i]);
	free(m->nodes);
	memset(m, 0, sizeof(*m));
}

static int name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0)
		return -ENOENT;
	if (n > LSMFS_NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}

static int is_dot(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

static int find(const fm_node *d, const char *name)
{
	for (int i = 0; i < d->nents; i++)
		if (strcmp(d->ents[i].name, name) == 0)
			return i;
	return -1;
}

int fm_lookup(const fsmodel *m, int dir, const char *name)
{
	const fm_node *d = &m->nodes[dir];
	int i;

	if (d->type != FM_DIR)
		return -ENOTDIR;
	i = find(d, name);
	return i < 0 ? -ENOENT : d->ents[i].node;
}

static void ent_add(fm_node *d, const char *name, int node)
{
	if (d->nents == d->entcap) {
		d->entcap = d->entcap ? d->entcap * 2 : 8;
		d->ents = realloc(d->ents, (size_t)d->entcap * sizeof(*d->ents));
	}
	d->ents[d->nents].name = strdup(name);
	d->ents[d->nents].node = node;
	d->nents++;
}

static void ent_del(fm_node *d, const char *name)
{
	int i = find(d, name);

	free(d->ents[i].name);
	d->ents[i] = d->ents[--d->nents];
}

int fm_nlink(const fsmodel *m, int node)
{
	const fm_node *nd = &m->nodes[node];
	int n = 2;

	if (nd->type != FM_DIR)
		return nd->nlink;
	for (int i = 0; i < nd->nents; i++)
		if (m->nodes[nd->ents[i].node].type == FM_DIR)
			n++;
	return n;
}

int fm_create(fsmodel *m, int dir, const char *name, int type)
{
	int rc = name_ok(name), node;

	if (rc)
		return rc;
	if (m->nodes[dir].type != FM_DIR)
		return -ENOTDIR;
	if (is_dot(name) || find(&m->nodes[dir], name) >= 0)
		return -EEXIST;
	if (m->n == m->cap) {
		m->cap *= 2;
		m->nodes = realloc(m->nodes, (size_t)m->cap * sizeof(*m->nodes));
		memset(m->nodes + m->n, 0, (size_t)(m->cap - m->n) * sizeof(*m->nodes));
	}
	node = m->n++;
	m->nodes[node].type = type;
	m->nodes[node].nlink = type == FM_DIR ? 2 : 1;
	m->nodes[node].parent = dir;
	ent_add(&m->nodes[dir], name, node);
	return node;
}

/* Drops one link of node (all of a directory's); frees it at zero. */
static void drop_link(fsmodel *m, int node)
{
	fm_node *nd = &m->nodes[node];

	if (nd->type == FM_DIR || --nd->nlink == 0)
		node_release(nd);
}

/* The lookup part shared by unlink and rmdir. */
static int locate(fsmodel *m, int dir, const char *name)
{
	if (m->nodes[dir].type != FM_DIR)
		return -ENOTDIR;
	int i = find(&m->nodes[dir], name);
	return i < 0 ? -ENOENT : m->nodes[dir].ents[i].node;
}

int fm_unlink(fsmodel *m, int dir, const char *name)
{
	int rc = name_ok(name), node;

	if (rc)
		return rc;
	if (is_dot(name))
		return -EISDIR;
	node = locate(m, dir, name);
	if (node < 0)
		return node;
	if (m->nodes[node].type == FM_DIR)
		return -EISDIR;
	ent_del(&m->nodes[dir], name);
	drop_link(m, node);
	return 0;
}

int fm_rmdir(fsmodel *m, int dir, const char *name)
{
	int rc = name_ok(name), node;

	if (rc)
		return rc;
	if (strcmp(name, ".") == 0)
		return -EINVAL;
	if (strcmp(name, "..") == 0)
		return -ENOTEMPTY;
	node = locate(m, dir, name);
	if (node < 0)
		return node;
	if (m->nodes[node].type != FM_DIR)
		return -ENOTDIR;
	if (m->nodes[node].nents)
		return -ENOTEMPTY;
	ent_del(&m->nodes[dir], name);
	drop_link(m, node);
	return 0;
}

int fm_link(fsmodel *m, int node, int dir, const char *name)
{
	int rc = name_ok(name);

	if (rc)
		return rc;
	if (m->nodes[node].type == 0)
		return -ENOENT;
	if (m->nodes[node].type == FM_DIR)
		return -EPERM;
	if (m->nodes[dir].type != FM_DIR)
		return -ENOTDIR;
	if (is_dot(name) || find(&m->nodes[dir], name) >= 0)
		return -EEXIST;
	m->nodes[node].nlink++;
	ent_add(&m->nodes[dir], name, node);
	return 0;
}

/* Whether directory anc is start or above it. */
static int is_ancestor(const fsmodel *m, int anc, int start)
{
	for (int n = start;; n = m->nodes[n].parent) {
		if (n == anc)
			return 1;
		if (n == 0)
			return 0;
	}
}

int fm_rename(fsmodel *m, int dir, const char *name, int ndir, const char *nname, unsigned flags)
{
	int rc, src, dst, sdir, ddir, exchange = (flags & LSMFS_RENAME_EXCHANGE) != 0;

	if ((flags & LSMFS_RENAME_NOREPLACE) && exchange)
		return -EINVAL;
	rc = name_ok(name);
	if (!rc)
		rc = name_ok(nname);
	if (rc)
		return rc;
	if (is_dot(name) || is_dot(nname))
		return -EINVAL;
	if (m->nodes[dir].type != FM_DIR || m->nodes[ndir].type != FM_DIR)
		return -ENOTDIR;
	src = locate(m, dir, name);
	if (src < 0)
		return src;
	dst = locate(m, ndir, nname);
	if (dst < 0)
		dst = -1;
	if ((flags & LSMFS_RENAME_NOREPLACE) && dst >= 0)
		return -EEXIST;
	if (exchange && dst < 0)
		return -ENOENT;
	if (src == dst)
		return 0;
	sdir = m->nodes[src].type == FM_DIR;
	ddir = dst >= 0 && m->nodes[dst].type == FM_DIR;
	if (dst >= 0 && !exchange) {
		if (sdir && !ddir)
			return -ENOTDIR;
		if (!sdir && ddir)
			return -EISDIR;
		if (ddir && m->nodes[dst].nents)
			return -ENOTEMPTY;
	}
	if (dir != ndir && sdir && is_ancestor(m, src, ndir))
		return -EINVAL;
	if (dir != ndir && exchange && ddir && is_ancestor(m, dst, dir))
		return -EINVAL;
	if (exchange) {
		m->nodes[dir].ents[find(&m->nodes[dir], name)].node = dst;
		m->nodes[ndir].ents[find(&m->nodes[ndir], nname)].node = src;
		if (sdir)
			m->nodes[src].parent = ndir;
		if (ddir)
			m->nodes[dst].parent = dir;
		return 0;
	}
	if (dst >= 0) {
		ent_del(&m->nodes[ndir], nname);
		drop_link(m, dst);
	}
	ent_del(&m->nodes[dir], name);
	ent_add(&m->nodes[ndir], nname, src);
	if (sdir)
		m->nodes[src].parent = ndir;
	return 0;
}

static void reserve(fm_node *nd, size_t size)
{
	if (size <= nd->cap)
		return;
	size_t cap = nd->cap ? nd->cap : 4096;
	while (cap < size)
		cap *= 2;
	nd->data = realloc(nd->data, cap);
	memset(nd->data + nd->cap, 0, cap - nd->cap);
	nd->cap = cap;
}

int fm_write(fsmodel *m, int node, uint64_t off, const void *buf, size_t n)
{
	fm_node *nd = &m->nodes[node];

	if (nd->type == FM_DIR)
		return -EISDIR;
	if (n == 0)
		return 0;
	reserve(nd, off + n);
	memcpy(nd->data + off, buf, n);
	if (off + n > nd->size)
		nd->size = off + n;
	return 0;
}

int fm_truncate(fsmodel *m, int node, uint64_t size)
{
	fm_node *nd = &m->nodes[node];

	if (nd->type == FM_DIR)
		return -EISDIR;
	reserve(nd, size);
	if (size < nd->size)
		memset(nd->data + size, 0, nd->size - size);
	nd->size = size;
	return 0;
}

int fm_pick(const fsmodel *m, tu_rng *r, int type)
{
	uint64_t n = 0, k;

	for (int i = 0; i < m->n; i++)
		if (m->nodes[i].type && (!type || m->nodes[i].type == type))
			n++;
	if (!n)
		return -1;
	k = tu_below(r, n);
	for (int i = 0; i < m->n; i++)
		if (m->nodes[i].type && (!type || m->nodes[i].type == type) && k-- == 0)
			return i;
	return -1;
}
