/*
 * cutenv.h — an env whose power goes off at the Nth call that changes the
 * disk, for the power-cut tests of the engine (check_crash) and of the fs
 * core (check_powercut).
 *
 * It wraps the fault env (lsm_env_fault_new over the POSIX env). Every call
 * that changes the disk counts down; the one that brings the countdown to
 * zero does not happen: the fault env drops everything unsynced
 * (lsm_fault_power_cut) and from then on every call fails with -EIO, as if
 * the process had died with the machine, until cut_env_revive(). Handles
 * are the fault env's; closing a file or letting go of a lock always
 * works, so that the next open can take the lock again.
 *
 * A read-write lock keeps a call from straddling the cut. The call that
 * takes the countdown to zero marks the cut pending before it lets go of
 * the read lock; whoever takes the write lock next (it, or
 * cut_env_disarm()) cuts, so that no cut lands after the test has looked.
 * A table of the open files gives each its kind, so that the test can log
 * where the cuts fell (WAL, table, MANIFEST: the flush and compaction paths
 * are covered only if some land there).
 */
#ifndef LSM_CUTENV_H
#define LSM_CUTENV_H

#include "env.h"

#include <pthread.h>
#include <stdatomic.h>

#define CUT_ENV_MAX_OPEN 256
#define CUT_ENV_WHERE	 64

typedef struct cut_env {
	lsm_env iface; /* first: a cut_env * is an lsm_env * */
	lsm_env *fault;
	pthread_rwlock_t lk;
	atomic_long countdown; /* calls that change the disk until the cut */
	atomic_long calls;     /* calls that changed the disk, for sizing the next countdown */
	atomic_int dead;       /* the power is off; read it with cut_env_dead() */
	int cut_rc;	       /* what lsm_fault_power_cut said (under lk) */
	/* What the cut interrupted, "append .log" ("" or the caller's words between two calls).
	 * Written under lk held for writing; read it once the power is off. */
	char where[CUT_ENV_WHERE];
	int pending; /* a call reached zero and the cut is on its way (under lk) */
	char pending_where[CUT_ENV_WHERE];
	pthread_mutex_t mu; /* protects open[] */
	struct {
		lsm_file *f;
		char kind[16];
	} open[CUT_ENV_MAX_OPEN];
} cut_env;

/* A new machine, power on and no cut armed; a Check assertion fails if it cannot be made.
 * Free it with ce->iface.destroy(&ce->iface). */
cut_env *cut_env_new(void);
/* The power goes off after n more calls that change the disk. */
void cut_env_arm(cut_env *ce, long n);
/* No cut from now on but cut_env_cut's; one already on its way lands first. */
void cut_env_disarm(cut_env *ce);
/* The power goes off now; where says what it interrupted unless a call's cut was on its way. */
void cut_env_cut(cut_env *ce, const char *where);
/* The machine is back: the env works again on what survived. Nothing of the engine may run. */
void cut_env_revive(cut_env *ce);
/* Whether the power is off. */
int cut_env_dead(cut_env *ce);

/* Counts of where the cuts fell, for the log: coverage at a glance. */
typedef struct cut_tally {
	struct {
		char what[CUT_ENV_WHERE];
		int n;
	} v[64]; /* in the order first seen; n == 0 ends the list */
} cut_tally;

/* Counts one more cut at what (a full tally ignores new places). */
void cut_tally_add(cut_tally *t, const char *what);

#endif
