/*
 * fscheck_tree.c — the passes of lsmfs_check over the namespace: the
 * superblock, inodes (damaged, root, reservation), stray keys, symlinks and
 * xattr flags, entries, orphans, link counts and parents, and reachability
 * from the root, reconnecting what is lost under /lost+found.
 */
#include "fscheck_impl.h"

/* ---- superblock and inodes ---- */

/* 0 to go on; 1 when the filesystem level cannot be checked; negative: refuse. */
int fsck_check_super(struct ck *st, const char *dir, const char **msgp, char *msg)
{
	if (!st->have_sb) {
		snprintf(msg, MSG_LEN, "%s holds a database but no lsmfs superblock", dir);
		*msgp = msg;
		return -EMEDIUMTYPE;
	}
	if (st->sb_rc == 0 && st->sb.version > LSMFS_FORMAT_VERSION) {
		snprintf(msg, MSG_LEN,
			 "%s uses lsmfs format version %" PRIu32 "; this build knows %d", dir,
			 st->sb.version, LSMFS_FORMAT_VERSION);
		*msgp = msg;
		return -EPROTONOSUPPORT;
	}
	if (st->sb_rc == 0 && (st->sb.incompat & ~SB_INCOMPAT_KNOWN)) {
		snprintf(msg, MSG_LEN, "%s uses features this build does not know (0x%" PRIx64 ")",
			 dir, st->sb.incompat & ~SB_INCOMPAT_KNOWN);
		*msgp = msg;
		return -EPROTONOSUPPORT;
	}
	if (st->sb_rc) {
		ck_report(st, LSMFS_CK_SUPER, LSMFS_CK_PROBLEM, 0, NULL,
			  "the superblock is damaged (bad magic, version 0 or too short)");
		return 1;
	}
	if (st->sb.chunk_size < LSMFS_MIN_CHUNK || st->sb.chunk_size > LSMFS_MAX_CHUNK ||
	    (st->sb.chunk_size & (st->sb.chunk_size - 1))) {
		ck_report(st, LSMFS_CK_SUPER, LSMFS_CK_PROBLEM, 0, NULL,
			  "the superblock's chunk size %" PRIu32
			  " is not a power of two from %u to %u",
			  st->sb.chunk_size, LSMFS_MIN_CHUNK, LSMFS_MAX_CHUNK);
		return 1;
	}
	st->cs = st->sb.chunk_size;
	return 0;
}

static void fresh_dir(struct lsmfs_attr *a, uint32_t perm, uint64_t parent)
{
	memset(a, 0, sizeof(*a));
	a->mode = S_IFDIR | perm;
	a->nlink = 2;
	a->generation = 1;
	a->parent = parent;
	a->atime = a->mtime = a->ctime = lsmfs_now();
}

/* A new inode record (for ino greater than any, or the root); NULL when out of memory. */
static struct ck_ino *ino_insert(struct ck *st, uint64_t ino)
{
	size_t at = st->nin;
	struct ck_ino *ci;

	if (!PUSH(st, st->in, st->nin, st->capin))
		return NULL;
	while (at > 0 && st->in[at - 1].ino > ino)
		at--;
	memmove(&st->in[at + 1], &st->in[at], (st->nin - 1 - at) * sizeof(*st->in));
	ci = &st->in[at];
	memset(ci, 0, sizeof(*ci));
	ci->ino = ino;
	ci->dent = NONE;
	ci->is_new = 1;
	return ci;
}

static void check_root(struct ck *st)
{
	struct ck_ino *r = ck_ino_find(st, LSMFS_ROOT_INO);
	const char *fix = "Make a new root directory inode (its entries stay)";

	if (!r) {
		ck_report(st, LSMFS_CK_ROOT, LSMFS_CK_PROBLEM, LSMFS_ROOT_INO, fix,
			  "the root directory's inode is missing");
		r = ino_insert(st, LSMFS_ROOT_INO);
		if (r)
			fresh_dir(&r->a, 0755, LSMFS_ROOT_INO);
	} else if (r->state == ST_DAMAGED || !S_ISDIR(r->a.mode)) {
		ck_report(st, LSMFS_CK_ROOT, LSMFS_CK_PROBLEM, LSMFS_ROOT_INO, fix,
			  "the root directory's inode is %s",
			  r->state == ST_DAMAGED ? "damaged" : "not a directory");
		fresh_dir(&r->a, 0755, LSMFS_ROOT_INO);
		if (r->state != ST_DAMAGED) {
			r->a.uid = r->was.uid;
			r->a.gid = r->was.gid;
		}
		r->state = ST_LIVE;
		r->force = 1;
	}
	if (r) {
		r->was = r->is_new ? r->a : r->was;
		r->reached = 1;
	}
}

void fsck_check_inodes(struct ck *st)
{
	uint64_t maxino = 0;

	check_root(st);
	for (size_t i = 0; i < st->nin; i++) {
		struct ck_ino *ci = &st->in[i];

		if (ci->ino > maxino)
			maxino = ci->ino;
		if (ci->state == ST_DAMAGED) {
			if (ci->vlen < INODE_LEN_OLD)
				ck_report(st, LSMFS_CK_INODE, LSMFS_CK_PROBLEM, ci->ino,
					  "Clear it, with its keys and the entries naming it",
					  "%s is damaged (%" PRIu32 " bytes, %d expected)",
					  ck_where(st, ci->ino, 0), ci->vlen, INODE_LEN);
			else
				ck_report(st, LSMFS_CK_INODE, LSMFS_CK_PROBLEM, ci->ino,
					  "Clear it, with its keys and the entries naming it",
					  "%s has a mode of no known type (0%o)",
					  ck_where(st, ci->ino, 0), ci->a.mode);
			continue;
		}
		st->res->inodes++;
		if (S_ISDIR(ci->a.mode))
			st->res->dirs++;
		else if (S_ISREG(ci->a.mode))
			st->res->files++;
		else if (S_ISLNK(ci->a.mode))
			st->res->symlinks++;
	}
	if (maxino >= st->sb.ino_end) {
		ck_report(st, LSMFS_CK_RESERVATION, LSMFS_CK_PROBLEM, maxino,
			  ck_fixf(st, "Raise it to %" PRIu64, maxino + 1),
			  "inode %" PRIu64 " is at or past the superblock's inode reservation "
			  "(end %" PRIu64 "): its number could be handed out again",
			  maxino, st->sb.ino_end);
		st->sb.ino_end = maxino + 1;
		st->sb_dirty = 1;
	}
}

/* Gives each inode a first entry naming it, so that messages can show paths. */
void fsck_index_paths(struct ck *st)
{
	for (size_t i = 0; i < st->nde; i++) {
		struct ck_ino *ci = st->de[i].bad ? NULL : ck_ino_find(st, st->de[i].child);

		if (ci && ci->dent == NONE && ci->ino != LSMFS_ROOT_INO)
			ci->dent = i;
	}
}

/* Counts, per chunk and per inode, the references as found. */
void fsck_count_raw(struct ck *st)
{
	for (size_t i = 0; i < st->nf; i++) {
		struct ck_fref *f = &st->f[i];
		struct ck_ino *ci = ck_ino_find(st, f->ino);
		struct ck_chunk *c = f->bad || !f->len || f->inl ? NULL : ck_chunk_find(st, f->sha);

		if (c)
			c->raw++;
		if (!ci)
			continue;
		ci->rawf++;
		if (f->bad || f->len > st->cs)
			ci->fbad = 1;
		else
			ci->rawstored += ck_fref_stored(st, f);
	}
}

static int stray_cmp(const void *a, const void *b)
{
	const struct ck_stray *x = a, *y = b;

	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return (x->tag > y->tag) - (x->tag < y->tag);
}

/* "3 chunk references, an extended attribute and a symlink target". */
static void stray_parts(char *out, size_t size, uint32_t nf, uint32_t nx, uint32_t nl)
{
	const char *sep[3] = {"", "", ""};
	int parts = (nf > 0) + (nx > 0) + (nl > 0), k = 0;
	size_t n = 0;

	for (int i = 1; i < parts; i++)
		sep[i] = i == parts - 1 ? " and " : ", ";
	if (nf)
		n += (size_t)snprintf(out + n, size - n, "%s%" PRIu32 " chunk reference%s",
				      sep[k++], nf, nf == 1 ? "" : "s");
	if (nx)
		n += (size_t)snprintf(out + n, size - n, "%s%" PRIu32 " extended attribute%s",
				      sep[k++], nx, nx == 1 ? "" : "s");
	if (nl)
		snprintf(out + n, size - n, "%sa symlink target", sep[k]);
}

/* F keys of missing or non-regular inodes, L keys of non-symlinks: one report per inode. */
void fsck_check_strays(struct ck *st)
{
	for (size_t i = 0; i < st->nf; i++) {
		struct ck_ino *ci = ck_ino_find(st, st->f[i].ino);

		if (!ci || (ci->state == ST_LIVE && !S_ISREG(ci->a.mode))) {
			ck_add_stray(st, st->f[i].ino, KEY_FCHUNK);
			st->f[i].act = F_DROP;
		}
	}
	for (size_t i = 0; i < st->nin; i++) {
		struct ck_ino *ci = &st->in[i];
		struct fkey k;

		if (ci->state == ST_LIVE && ci->has_l && !S_ISLNK(ci->a.mode)) {
			ck_add_stray(st, ci->ino, KEY_LINK);
			key_ino(&k, KEY_LINK, ci->ino);
			ck_del_key(st, k.b, k.len);
			ci->has_l = 0;
		}
	}
	if (st->nstray > 1)
		qsort(st->stray, st->nstray, sizeof(*st->stray), stray_cmp);
	for (size_t i = 0; i < st->nstray;) {
		uint64_t ino = st->stray[i].ino;
		struct ck_ino *ci = ck_ino_find(st, ino);
		uint32_t n[3] = {0, 0, 0};
		char parts[160];

		for (; i < st->nstray && st->stray[i].ino == ino; i++)
			n[st->stray[i].tag == KEY_FCHUNK  ? 0
			  : st->stray[i].tag == KEY_XATTR ? 1
							  : 2]++;
		stray_parts(parts, sizeof(parts), n[0], n[1], n[2]);
		if (!ci)
			ck_report(st, LSMFS_CK_STRAY, LSMFS_CK_PROBLEM, ino, "Remove them",
				  "inode %" PRIu64 " does not exist, but %s of it remain%s", ino,
				  parts, n[0] + n[1] + n[2] == 1 ? "s" : "");
		else
			ck_report(st, LSMFS_CK_STRAY, LSMFS_CK_PROBLEM, ino, "Remove them",
				  "%s is a %s but has %s", ck_where(st, ino, 0),
				  ck_type_name(ci->a.mode), parts);
	}
}

void fsck_check_symlinks_xattrs(struct ck *st)
{
	for (size_t i = 0; i < st->nin; i++) {
		struct ck_ino *ci = &st->in[i];

		if (ci->state != ST_LIVE)
			continue;
		if (S_ISLNK(ci->a.mode) && (!ci->has_l || ci->llen == 0)) {
			ck_report(st, LSMFS_CK_SYMLINK, LSMFS_CK_PROBLEM, ci->ino,
				  "Remove it, with the entries naming it", "symlink %s has %s",
				  ck_where(st, ci->ino, 0),
				  ci->has_l ? "an empty target" : "no target");
			ci->state = ST_REMOVE;
			continue;
		}
		if (S_ISLNK(ci->a.mode) && ci->a.size != ci->llen) {
			ck_report(st, LSMFS_CK_SYMLINK, LSMFS_CK_PROBLEM, ci->ino,
				  ck_fixf(st, "Set the size to %" PRIu32, ci->llen),
				  "symlink %s has size %" PRIu64 ", but its target has %" PRIu32
				  " bytes",
				  ck_where(st, ci->ino, 0), ci->a.size, ci->llen);
			ci->a.size = ci->llen;
		}
		if (ci->xkeys && !(ci->a.flags & LSMFS_IFLAG_XATTR)) {
			ck_report(st, LSMFS_CK_XATTR_FLAG, LSMFS_CK_PROBLEM, ci->ino,
				  "Set the flag",
				  "%s has %" PRIu64 " extended attribute%s but not the flag that "
				  "frees them with it",
				  ck_where(st, ci->ino, 0), ci->xkeys, ci->xkeys == 1 ? "" : "s");
			ci->a.flags |= LSMFS_IFLAG_XATTR;
		}
	}
}

/* ---- entries ---- */

/*
 * Entries under a wrong name hash: lookups cannot find them, readdir can.
 * Each moves to the right key unless an entry of the same name is there
 * already (or another moved one claims it): then it is the duplicate.
 */
static void check_hashes(struct ck *st)
{
	size_t *moved = NULL, nmoved = 0, capmoved = 0;

	for (size_t i = 0; i < st->nsorted && !st->err; i++) {
		struct ck_dent *d = &st->de[i];
		const char *nm = st->pool + d->name;
		uint64_t h;
		int dup;

		if (d->bad)
			continue;
		h = name_hash(st->sb.uuid, nm, d->nlen);
		if (h == d->nhash)
			continue;
		dup = ck_dent_lookup(st, d->parent, h, nm, d->nlen) != NONE;
		for (size_t j = 0; j < nmoved && !dup; j++) {
			struct ck_dent *o = &st->de[moved[j]];

			dup = o->parent == d->parent && o->nlen == d->nlen &&
			      memcmp(st->pool + o->name, nm, d->nlen) == 0;
		}
		if (dup) {
			ck_report(st, LSMFS_CK_DENT_HASH, LSMFS_CK_PROBLEM, d->parent, "Remove it",
				  "entry \"%s\" in %s is stored under a wrong name hash, and an "
				  "entry of the same name exists",
				  ck_dent_name(st, 0, d), ck_where(st, d->parent, 0));
			d->act = D_DROP;
			continue;
		}
		ck_report(st, LSMFS_CK_DENT_HASH, LSMFS_CK_PROBLEM, d->parent,
			  "Move it to the right key",
			  "entry \"%s\" in %s is stored under a wrong name hash: lookups cannot "
			  "find it",
			  ck_dent_name(st, 0, d), ck_where(st, d->parent, 0));
		d->rekey = 1;
		d->newhash = h;
		if (nmoved == capmoved && !ck_grow(st, &moved, &capmoved, sizeof(*moved)))
			break;
		moved[nmoved++] = i;
	}
	free(moved);
}

/* A directory named by entries i and j keeps one: the one its parent field agrees with. */
static void dir_second_entry(struct ck *st, struct ck_ino *c, size_t i)
{
	size_t j = c->kdent, lose = i;

	if (st->de[i].parent == c->was.parent && st->de[j].parent != c->was.parent) {
		c->kdent = i;
		lose = j;
	}
	st->de[lose].act = D_DROP;
	c->dent = c->kdent; /* name it by the entry it keeps */
	ck_report(st, LSMFS_CK_DIR_LINK, LSMFS_CK_PROBLEM, c->ino, "Remove that entry",
		  "directory %s is also named \"%s\" in %s", ck_where(st, c->ino, 0),
		  ck_dent_name(st, 0, &st->de[lose]), ck_where(st, st->de[lose].parent, 1));
}

void fsck_check_entries(struct ck *st)
{
	for (size_t i = 0; i < st->nin; i++)
		st->in[i].kdent = NONE;
	check_hashes(st);
	for (size_t i = 0; i < st->nsorted; i++) {
		struct ck_dent *d = &st->de[i];
		struct ck_ino *p, *c;

		ck_tick(st, 3, "checking inodes and entries", i, st->nsorted + st->nin);
		if (d->act == D_DROP)
			continue;
		if (d->bad) {
			ck_report(st, LSMFS_CK_DENT, LSMFS_CK_PROBLEM, d->parent, "Remove it",
				  "entry \"%s\" in %s %s", ck_dent_name(st, 0, d),
				  ck_where(st, d->parent, 0), d->bad);
			d->act = D_DROP;
			continue;
		}
		p = ck_ino_find(st, d->parent);
		c = ck_ino_find(st, d->child);
		d->act = D_DROP;
		if (p && p->state != ST_LIVE)
			continue; /* its directory is cleared: the entry goes with it */
		if (!p || !S_ISDIR(p->a.mode)) {
			ck_report(st, LSMFS_CK_DANGLING, LSMFS_CK_PROBLEM, d->parent, "Remove it",
				  "entry \"%s\" is in %s, which %s", ck_dent_name(st, 0, d),
				  ck_where(st, d->parent, 0),
				  p ? "is not a directory" : "does not exist");
			continue;
		}
		if (c && c->state != ST_LIVE)
			continue; /* names an inode the repair removes */
		if (!c) {
			ck_report(st, LSMFS_CK_DANGLING, LSMFS_CK_PROBLEM, d->parent, "Remove it",
				  "entry \"%s\" in %s names inode %" PRIu64
				  ", which does not exist",
				  ck_dent_name(st, 0, d), ck_where(st, d->parent, 0), d->child);
			continue;
		}
		if (c->ino == LSMFS_ROOT_INO) {
			ck_report(st, LSMFS_CK_DIR_LINK, LSMFS_CK_PROBLEM, d->parent, "Remove it",
				  "entry \"%s\" in %s names the root directory",
				  ck_dent_name(st, 0, d), ck_where(st, d->parent, 0));
			continue;
		}
		d->act = D_KEEP;
		if (d->dtype != IFTODT(c->a.mode)) {
			ck_report(st, LSMFS_CK_DENT_TYPE, LSMFS_CK_PROBLEM, d->parent, "Rewrite it",
				  "entry \"%s\" in %s has type %u, but inode %" PRIu64
				  " is a %s (type %u)",
				  ck_dent_name(st, 0, d), ck_where(st, d->parent, 0), d->dtype,
				  c->ino, ck_type_name(c->a.mode), IFTODT(c->a.mode));
			d->retype = 1;
		}
		if (c->kdent == NONE)
			c->kdent = i;
		else if (S_ISDIR(c->a.mode))
			dir_second_entry(st, c, i);
	}
	/* From now on paths follow the entries that stay. */
	for (size_t i = 0; i < st->nin; i++)
		st->in[i].dent = st->in[i].kdent;
}

/* Links and subdirectories from the entries the repair keeps. */
void fsck_count_links(struct ck *st)
{
	for (size_t i = 0; i < st->nin; i++)
		st->in[i].links = st->in[i].subdirs = 0;
	for (size_t i = 0; i < st->nde; i++) {
		struct ck_dent *d = &st->de[i];
		struct ck_ino *c, *p;

		if (d->act == D_DROP)
			continue;
		c = ck_ino_find(st, d->child);
		p = ck_ino_find(st, d->parent);
		if (!c || !p)
			continue;
		c->links++;
		if (S_ISDIR(c->a.mode))
			p->subdirs++;
	}
}

/*
 * O keys: an unlinked inode still in use when the daemon stopped is a
 * pending orphan (a note; the repair frees it, as a mount would). An O key
 * on an inode that is linked is stale.
 */
void fsck_check_orphans(struct ck *st)
{
	for (size_t i = 0; i < st->nin; i++) {
		struct ck_ino *ci = &st->in[i];

		if (ci->state != ST_LIVE || !ci->orphan)
			continue;
		if (ci->ino == LSMFS_ROOT_INO || ci->links > 0 || ci->a.nlink > 0) {
			ck_report(st, LSMFS_CK_ORPHAN, LSMFS_CK_PROBLEM, ci->ino, "Remove the key",
				  "%s has an orphan key but link count %" PRIu32 " and %" PRIu32
				  " entr%s",
				  ck_where(st, ci->ino, 0), ci->a.nlink, ci->links,
				  ci->links == 1 ? "y" : "ies");
			ci->drop_o = 1;
			continue;
		}
		ci->pending = 1;
		ck_report(st, LSMFS_CK_PENDING_ORPHAN, LSMFS_CK_NOTE, ci->ino, "Free it",
			  "inode %" PRIu64 " (a %s of %" PRIu64
			  " bytes) was unlinked while in use; "
			  "the next mount frees it",
			  ci->ino, ck_type_name(ci->a.mode), ci->a.size);
		if (st->repair) {
			ci->state = ST_REMOVE;
			st->res->finished++;
		}
	}
}

/* Link counts and directory parents, against the entries as found (less the broken ones). */
void fsck_check_counts(struct ck *st)
{
	for (size_t i = 0; i < st->nin; i++) {
		struct ck_ino *ci = &st->in[i];

		ck_tick(st, 3, "checking inodes and entries", st->nsorted + i,
			st->nsorted + st->nin);
		/* A root made anew has the counts the end of the check gives it. */
		if (ci->state != ST_LIVE || ci->pending || ci->is_new || ci->force)
			continue;
		if (S_ISDIR(ci->a.mode)) {
			uint32_t want = 2 + ci->subdirs;
			uint64_t wantp = ci->ino == LSMFS_ROOT_INO ? LSMFS_ROOT_INO
					 : ci->dent != NONE	   ? st->de[ci->dent].parent
								   : ci->a.parent;

			if (ci->a.nlink != want) {
				ck_report(st, LSMFS_CK_NLINK, LSMFS_CK_PROBLEM, ci->ino,
					  ck_fixf(st, "Set it to %" PRIu32, want),
					  "directory %s has link count %" PRIu32 ", but %" PRIu32
					  " subdirector%s",
					  ck_where(st, ci->ino, 0), ci->a.nlink, ci->subdirs,
					  ci->subdirs == 1 ? "y" : "ies");
				ci->a.nlink = want;
			}
			if (ci->a.parent != wantp) {
				ck_report(st, LSMFS_CK_PARENT, LSMFS_CK_PROBLEM, ci->ino,
					  ck_fixf(st, "Set it to %" PRIu64, wantp),
					  "directory %s has parent %" PRIu64
					  ", but its entry is in directory %" PRIu64,
					  ck_where(st, ci->ino, 0), ci->a.parent, wantp);
				ci->a.parent = wantp;
			}
		} else if (ci->links > 0 && ci->a.nlink != ci->links) {
			ck_report(st, LSMFS_CK_NLINK, LSMFS_CK_PROBLEM, ci->ino,
				  ck_fixf(st, "Set it to %" PRIu32, ci->links),
				  "%s has link count %" PRIu32 ", but %" PRIu32 " entr%s name it",
				  ck_where(st, ci->ino, 0), ci->a.nlink, ci->links,
				  ci->links == 1 ? "y" : "ies");
			ci->a.nlink = ci->links;
		}
	}
}

/* ---- reachability and /lost+found ---- */

/* Adds an entry the repair creates; its index, or NONE. */
static size_t dent_new(struct ck *st, uint64_t parent, const char *name, size_t nlen,
		       uint64_t child, uint32_t mode)
{
	size_t off = ck_pool_add(st, name, nlen);
	struct ck_dent *d;

	if (off == NONE)
		return NONE;
	d = PUSH(st, st->de, st->nde, st->capde);
	if (!d)
		return NONE;
	d->parent = parent;
	d->child = child;
	d->nhash = name_hash(st->sb.uuid, name, nlen);
	d->name = off;
	d->nlen = (uint16_t)nlen;
	d->dtype = (uint8_t)IFTODT(mode);
	d->act = D_NEW;
	return st->nde - 1;
}

/* Marks everything below directory top reached (breadth first over kept entries). */
static void mark_reached(struct ck *st, uint64_t top)
{
	uint64_t *q = NULL;
	size_t nq = 0, capq = 0, head = 0;

	if (nq == capq && !ck_grow(st, &q, &capq, sizeof(*q)))
		return;
	q[nq++] = top;
	while (head < nq) {
		uint64_t dir = q[head++];
		size_t i = ck_dent_first(st, dir);

		/* Stored entries of dir, then the ones the repair adds (few, at the end). */
		for (;; i++) {
			struct ck_dent *d;
			struct ck_ino *c;

			if (i < st->nsorted && st->de[i].parent != dir)
				i = st->nsorted;
			if (i >= st->nde)
				break;
			d = &st->de[i];
			if (d->parent != dir || d->act == D_DROP)
				continue;
			c = ck_ino_find(st, d->child);
			if (!c || c->reached)
				continue;
			c->reached = 1;
			if (S_ISDIR(c->a.mode)) {
				if (nq == capq && !ck_grow(st, &q, &capq, sizeof(*q)))
					break;
				q[nq++] = c->ino;
			}
		}
	}
	free(q);
}

/* Finds or makes /lost+found; 1 when usable. */
static int lost_found(struct ck *st)
{
	static const char lfname[] = "lost+found";
	const size_t lflen = sizeof(lfname) - 1;
	struct ck_ino *lf;
	uint64_t ino, maxino;

	if (st->lf_state)
		return st->lf_state > 0;
	st->lf_state = -1;
	for (size_t i = ck_dent_first(st, LSMFS_ROOT_INO);
	     i < st->nsorted && st->de[i].parent == LSMFS_ROOT_INO; i++) {
		struct ck_dent *d = &st->de[i];
		struct ck_ino *c;

		if (d->act == D_DROP || d->nlen != lflen ||
		    memcmp(st->pool + d->name, lfname, lflen) != 0)
			continue;
		c = ck_ino_find(st, d->child);
		if (c && c->state == ST_LIVE && S_ISDIR(c->a.mode) && c->reached) {
			st->lf = c->ino;
			st->lf_state = 1;
		}
		return st->lf_state > 0;
	}
	maxino = st->nin ? st->in[st->nin - 1].ino : LSMFS_ROOT_INO;
	ino = st->sb.ino_end > maxino ? st->sb.ino_end : maxino + 1;
	lf = ino_insert(st, ino);
	if (!lf)
		return 0;
	fresh_dir(&lf->a, 0700, LSMFS_ROOT_INO);
	lf->was = lf->a;
	lf->reached = 1;
	if (dent_new(st, LSMFS_ROOT_INO, lfname, lflen, ino, lf->a.mode) == NONE)
		return 0;
	lf->dent = st->nde - 1;
	st->sb.ino_end = ino + 1;
	st->sb_dirty = 1;
	st->lf = ino;
	st->lf_made = 1;
	st->lf_state = 1;
	return 1;
}

/* The name inode ino gets in /lost+found: "#ino", or "#ino.N" if that is taken. */
static size_t lost_name(struct ck *st, uint64_t ino, char name[48])
{
	size_t n = (size_t)snprintf(name, 48, "#%" PRIu64, ino);

	for (int k = 1; ck_dent_name_taken(st, st->lf, name, n) && k < 1000; k++)
		n = (size_t)snprintf(name, 48, "#%" PRIu64 ".%d", ino, k);
	return n;
}

/* Links inode ino into /lost+found. */
static void link_lost(struct ck *st, uint64_t ino)
{
	char name[48];
	size_t n = lost_name(st, ino, name);
	struct ck_ino *ci = ck_ino_find(st, ino);
	size_t at = dent_new(st, st->lf, name, n, ino, ci->a.mode);

	if (at == NONE)
		return;
	ci = ck_ino_find(st, ino);
	ci->dent = at;
	ci->reached = 1;
	if (S_ISDIR(ci->a.mode)) {
		ci->a.parent = st->lf;
		mark_reached(st, ino);
	}
}

#define LF_UNUSABLE "; /lost+found is no directory it can go to (rename it and check again)"

/* The question of a reconnection: where the inode goes, and /lost+found's making. */
static const char *lost_fix(struct ck *st, uint64_t ino)
{
	char name[48];

	if (!lost_found(st))
		return NULL;
	lost_name(st, ino, name);
	return ck_fixf(st, "%s /lost+found as %s",
		       st->lf_made && !st->res->count[LSMFS_CK_UNREACHABLE]
			       ? "Make and connect it to"
			       : "Connect it to",
		       name);
}

/*
 * A directory nothing reaches: walk up its entries to the top of its
 * subtree (a directory with no entry, one in a cycle, or one whose parent
 * is being removed) and connect that top to /lost+found.
 */
static void reconnect_dir(struct ck *st, uint64_t ino)
{
	const char *fix = lost_fix(st, ino), *why = "";
	struct ck_ino *cur = ck_ino_find(st, ino);
	size_t cut = NONE;
	uint32_t gen = ++st->walkgen;

	for (;;) {
		struct ck_ino *p;

		cur->walk = gen;
		if (cur->dent == NONE)
			break;
		p = ck_ino_find(st, st->de[cur->dent].parent);
		if (!p || p->state != ST_LIVE || p->pending) {
			cut = cur->dent;
			why = ", being in a directory unlinked while in use";
			break;
		}
		if (p->walk == gen) {
			cut = cur->dent;
			why = ", being in a cycle of directories";
			break;
		}
		if (p->reached)
			break;
		cur = p;
	}
	if (cur->ino != ino)
		fix = lost_fix(st, cur->ino);
	ck_report(st, LSMFS_CK_UNREACHABLE, LSMFS_CK_PROBLEM, cur->ino, fix,
		  "directory %s is not reachable from the root%s%s", ck_where(st, cur->ino, 0), why,
		  fix ? "" : LF_UNUSABLE);
	if (!fix) {
		cur->reached = 1;
		mark_reached(st, cur->ino);
		return;
	}
	if (cut != NONE)
		st->de[cut].act = D_DROP;
	link_lost(st, cur->ino);
}

static void reconnect_file(struct ck *st, uint64_t ino)
{
	const char *fix = lost_fix(st, ino);
	struct ck_ino *ci = ck_ino_find(st, ino);

	ck_report(st, LSMFS_CK_UNREACHABLE, LSMFS_CK_PROBLEM, ino, fix,
		  "%s (a %s of %" PRIu64 " bytes, link count %" PRIu32
		  ") is not reachable from the root%s",
		  ck_where(st, ino, 0), ck_type_name(ci->a.mode), ci->a.size, ci->a.nlink,
		  fix ? "" : LF_UNUSABLE);
	if (!fix)
		return;
	/* Its entries, if any, are in directories the repair removes. */
	for (size_t i = 0; ci->links && i < st->nde; i++)
		if (st->de[i].child == ino)
			st->de[i].act = D_DROP;
	link_lost(st, ino);
}

void fsck_check_reachable(struct ck *st)
{
	mark_reached(st, LSMFS_ROOT_INO);
	for (int dirs = 1; dirs >= 0; dirs--) {
		for (size_t i = 0; i < st->nin && !st->err; i++) {
			struct ck_ino *ci = &st->in[i];

			if (ci->state != ST_LIVE || ci->pending || ci->reached ||
			    !S_ISDIR(ci->a.mode) != !dirs)
				continue;
			if (dirs)
				reconnect_dir(st, ci->ino);
			else
				reconnect_file(st, ci->ino);
		}
	}
}

/*
 * The live inode count (N keys, fs/keys.h) must equal the I keys as found.
 * The repair sets it to the inodes the repair leaves: silently where only
 * the repair moved it (an inode cleared, a /lost+found made). A volume
 * without N keys is an older one, not a problem: mount counts; so does a
 * repair.
 */
void fsck_check_icount(struct ck *st)
{
	uint64_t after = 0;

	for (size_t i = 0; i < st->nin; i++)
		after += st->in[i].state == ST_LIVE;
	st->icount_after = after;
	if (!st->icount_shards) {
		st->icount_set = st->repair;
		return;
	}
	if (st->icount_bad) {
		ck_report(st, LSMFS_CK_ICOUNT, LSMFS_CK_PROBLEM, 0,
			  ck_fixf(st, "Set it to %" PRIu64, after),
			  "a key of the inode count has a value of other than 8 bytes");
		st->icount_set = 1;
	} else if (st->icount != (int64_t)st->ikeys) {
		ck_report(st, LSMFS_CK_ICOUNT, LSMFS_CK_PROBLEM, 0,
			  ck_fixf(st, "Set it to %" PRIu64, after),
			  "the inode count says %" PRId64 ", but %" PRIu64 " inodes exist",
			  st->icount, st->ikeys);
		st->icount_set = 1;
	} else if (after != st->ikeys) {
		st->icount_set = 1;
	}
}
