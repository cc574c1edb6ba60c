/*
 * workpool.c — see workpool.h. A run is a counter of pieces handed out and
 * one of pieces finished. The caller queues its run, wakes the pool, and
 * takes pieces itself; a pool thread takes the oldest queued run that has
 * pieces left. The run leaves the queue when its last piece is handed out,
 * and the caller waits only for pieces others are still finishing.
 */
#include "workpool.h"

#include <pthread.h>
#include <stdlib.h>

struct run {
	work_fn fn;
	void *arg;
	size_t n;
	size_t next; /* next piece to hand out; wp->mu */
	size_t done; /* pieces finished; wp->mu */
	pthread_cond_t done_cv;
	struct run *qnext; /* in wp->queue while next < n */
};

struct workpool {
	pthread_mutex_t mu;
	pthread_cond_t work_cv; /* a run was queued, or stop */
	struct run *queue, **qtail;
	int stop;
	unsigned nthreads;
	pthread_t *threads;
};

/* REQUIRES: wp->mu held, r->next < r->n. Hands out a piece; the run leaves the queue with its last.
 */
static size_t take_piece(struct workpool *wp, struct run *r)
{
	size_t i = r->next++;

	if (r->next == r->n) {
		struct run **p = &wp->queue;

		while (*p != r)
			p = &(*p)->qnext;
		*p = r->qnext;
		if (!*p)
			wp->qtail = p;
	}
	return i;
}

/* REQUIRES: wp->mu held. Runs piece i of r without the lock and counts it. */
static void do_piece(struct workpool *wp, struct run *r, size_t i)
{
	pthread_mutex_unlock(&wp->mu);
	r->fn(r->arg, i);
	pthread_mutex_lock(&wp->mu);
	if (++r->done == r->n)
		pthread_cond_signal(&r->done_cv);
}

static void *pool_main(void *p)
{
	struct workpool *wp = p;

	pthread_mutex_lock(&wp->mu);
	for (;;) {
		while (!wp->stop && !wp->queue)
			pthread_cond_wait(&wp->work_cv, &wp->mu);
		if (wp->stop)
			break;
		struct run *r = wp->queue;

		do_piece(wp, r, take_piece(wp, r));
	}
	pthread_mutex_unlock(&wp->mu);
	return NULL;
}

struct workpool *workpool_new(unsigned nthreads)
{
	struct workpool *wp = calloc(1, sizeof(*wp));

	if (!wp)
		return NULL;
	pthread_mutex_init(&wp->mu, NULL);
	pthread_cond_init(&wp->work_cv, NULL);
	wp->qtail = &wp->queue;
	wp->threads = calloc(nthreads ? nthreads : 1, sizeof(*wp->threads));
	if (!wp->threads) {
		workpool_free(wp);
		return NULL;
	}
	for (unsigned i = 0; i < nthreads; i++) {
		if (pthread_create(&wp->threads[i], NULL, pool_main, wp) != 0)
			break; /* fewer helpers: runs still finish on their callers */
		wp->nthreads++;
	}
	return wp;
}

void workpool_free(struct workpool *wp)
{
	if (!wp)
		return;
	pthread_mutex_lock(&wp->mu);
	wp->stop = 1;
	pthread_cond_broadcast(&wp->work_cv);
	pthread_mutex_unlock(&wp->mu);
	for (unsigned i = 0; i < wp->nthreads; i++)
		pthread_join(wp->threads[i], NULL);
	free(wp->threads);
	pthread_cond_destroy(&wp->work_cv);
	pthread_mutex_destroy(&wp->mu);
	free(wp);
}

void workpool_run(struct workpool *wp, size_t n, work_fn fn, void *arg)
{
	struct run r = {.fn = fn, .arg = arg, .n = n};

	if (!wp || !wp->nthreads || n < 2) {
		for (size_t i = 0; i < n; i++)
			fn(arg, i);
		return;
	}
	pthread_cond_init(&r.done_cv, NULL);
	pthread_mutex_lock(&wp->mu);
	*wp->qtail = &r;
	wp->qtail = &r.qnext;
	/* The caller takes a piece too, so n - 1 helpers at most are of use. */
	if (n - 1 >= wp->nthreads)
		pthread_cond_broadcast(&wp->work_cv);
	else
		for (size_t i = 0; i < n - 1; i++)
			pthread_cond_signal(&wp->work_cv);
	while (r.next < r.n)
		do_piece(wp, &r, take_piece(wp, &r));
	while (r.done < r.n)
		pthread_cond_wait(&r.done_cv, &wp->mu);
	pthread_mutex_unlock(&wp->mu);
	pthread_cond_destroy(&r.done_cv);
}
