/*
 * corrupt_util.h — the harness of the corruption and full-disk suites
 * (check_corrupt_wal, _table, _manifest and _space): the database every
 * damage case starts from, the damage itself, and the checks that a damaged
 * copy opens or fails as the rules of its case say and never reads back a
 * wrong value. corrupt_util.c says what the database holds.
 */
#ifndef LSM_CORRUPT_UTIL_H
#define LSM_CORRUPT_UTIL_H

#include "lsm.h"
#include "testutil.h"

#include <stddef.h>
#include <stdint.h>

#define NOLD   3000 /* keys written before the tail */
#define NNEW   150  /* keys only the tail writes */
#define NKEYS  (NOLD + NNEW)
#define NTAIL  240 /* records in the WAL tail */
#define KEYLEN 9   /* "key%06u" */
#define VMAX   256

/* Set by each suite's main from tu_seed(); every value depends on it. */
extern uint64_t g_seed;
/* What the running case does, for failure messages. */
extern char g_case[256];

/* Every failure names the seed and the case, so it can be replayed. */
void fail_at(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define EXPECT(cond, ...)                               \
	do {                                            \
		if (!(cond))                            \
			fail_at(__LINE__, __VA_ARGS__); \
	} while (0)

/* ---- keys, values and states ---- */

/* The key of number k: "key%06u", KEYLEN bytes. */
void key_of(uint32_t k, char out[16]);
/* Writes version ver of key k's value (at most VMAX bytes) into buf; returns its length. */
size_t value_of(uint32_t k, int ver, uint8_t *buf);

/* A state maps each key to its version, -1 when absent. */
typedef struct allowed {
	const int *st[3];
	const char *name[3];
	int n;
	uint32_t nkeys;
	int errors_ok; /* reads may fail with a negative code */
} allowed;

/*
 * Gets and both iterations must all agree on one allowed state; returns the
 * bit mask of the states they agree with. Failed reads count into *errors.
 */
unsigned check_contents(lsm_db *db, const allowed *a, const char *how, int *errors);

/* ---- the database every damage case starts from ---- */

typedef struct op {
	uint32_t key;
	int ver; /* -1: delete */
} tail_op;

typedef struct rec {
	int nops;
	tail_op ops[3];
} tail_rec;

typedef struct table_info {
	char name[32];
	uint64_t size;
	int level;
} table_info;

/* Where each record of a log (a WAL or the MANIFEST) lies. */
#define MAXRECS 512
typedef struct logmap {
	int n;
	uint64_t off[MAXRECS], end[MAXRECS]; /* [first fragment's header, end of the last) */
	size_t len[MAXRECS];		     /* payload bytes */
	uint64_t size;			     /* of the file */
} logmap;

typedef struct image {
	char *dir;
	int pre[NKEYS];	 /* the state before the WAL tail */
	int full[NKEYS]; /* after it */
	tail_rec recs[NTAIL];
	char wal[32], manifest[32];
	logmap wl, ml; /* wl.off[i]: tail record i */
	table_info tables[256];
	int ntables, deepest;
} image;

/* The options every image is built and opened with (create_if_missing off). */
void base_opts(lsm_options *o);
/* Builds the database in a new directory; salt picks its keys' order and tail. */
image *build_image(uint64_t salt);
/* Removes the directory and frees img. */
void free_image(image *img);
/* The state after the first n tail records, into out[NKEYS]. */
void state_prefix(const image *img, int n, int *out);
/* The record whose bytes hold off, or -1 for a block trailer. */
int record_at(const logmap *m, uint64_t off);

/* ---- damage ---- */

enum { KIND_WAL, KIND_TABLE, KIND_MANIFEST, KIND_CURRENT, NKINDS };
enum { DMG_FLIP, DMG_TRUNCATE, DMG_DELETE, NDMG };

typedef struct damage {
	int kind, op;
	const char *file; /* base name */
	uint64_t off;	  /* DMG_FLIP: where; DMG_TRUNCATE: the new length */
	uint8_t mask;	  /* DMG_FLIP: xor'ed into the byte */
} damage;

/* A copy of the database in a new directory; the caller removes it. */
char *copy_db(const char *from);
/* Damages one file of dir as d says. */
void apply_damage(const char *dir, const damage *d);

/* ---- running one case ---- */

enum { OPEN_OK, OPEN_FAILS, OPEN_EITHER };

typedef struct rules {
	int open;	  /* OPEN_*, for every open of the case */
	int fail_rc;	  /* the code a failing open must give */
	int ro_fail_rc;	  /* nonzero: what a failing read-only open gives instead */
	const char *name; /* what the failure message and verify's reports must name */
	allowed a;	  /* the states the db may hold when it opens */
	int verify_ro;	  /* lsm_verify of a read-only open must report naming name */
	int verify_rw;	  /* same after a read-write open */
	int paranoid_rc;  /* nonzero: a paranoid read-only open must fail with this code */
	int paranoid_alt; /* or with this one */
	int create;	  /* open with create_if_missing */
} rules;

/*
 * Damages a copy of img as d says, then opens it (paranoid if the rules ask,
 * read-only, read-write, and read-write again) and checks each open against
 * r; detail goes into failure messages. The copy is removed.
 */
void run_case(const image *img, const damage *d, const rules *r, const char *detail);
/* Prints how many cases of each kind and damage ran so far, after test's name. */
void print_counts(const char *test, double secs);
double now_secs(void);
/* A nonzero byte to xor into a flipped byte. */
uint8_t random_mask(tu_rng *r);

#endif
