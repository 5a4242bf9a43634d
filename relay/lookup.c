/*
 * lookup.c - a policy look-up that cannot outlast its deadline
 *
 * DESCRIPTION
 *	See lookup.h. One heap job per look-up, shared by the caller and
 *	the worker thread under one mutex; whoever finishes with it last
 *	frees it: the caller when the worker was done in time, the worker
 *	when the caller gave up (abandoned). The result moves to the caller
 *	by structure copy (ownership of its buffers goes with it).
 *
 *	The condition variable runs on CLOCK_MONOTONIC, so a clock change
 *	cannot stretch the wait.
 */
#include "lookup.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"

static atomic_int running;

struct job {
	pthread_mutex_t lock;
	pthread_cond_t done_cv;
	int done;
	int abandoned;
	const struct mts_config *cfg;	/* lives as long as the process */
	unsigned flags;
	char domain[MTS_DOMAIN_MAX + 1];
	struct mts_result res;
};

static void job_free(struct job *j)
{
	mts_result_free(&j->res);
	pthread_cond_destroy(&j->done_cv);
	pthread_mutex_destroy(&j->lock);
	free(j);
}

static void *worker(void *arg)
{
	struct job *j = arg;
	int abandoned;

	mts_engine_lookup(j->cfg, j->domain, j->flags, &j->res);
	pthread_mutex_lock(&j->lock);
	j->done = 1;
	abandoned = j->abandoned;
	pthread_cond_signal(&j->done_cv);
	pthread_mutex_unlock(&j->lock);
	if (abandoned)
		job_free(j);
	atomic_fetch_sub(&running, 1);
	return NULL;
}

static void set_tempfail(struct mts_result *out, const char *why)
{
	mts_result_free(out);
	mts_result_init(out);
	out->status = MTS_TEMPFAIL;
	out->failure = MTS_FAIL_FETCH;
	mts_strlcpy(out->reason, why, sizeof(out->reason));
}

static struct job *job_new(const struct mts_config *cfg, const char *domain,
			   unsigned flags)
{
	struct job *j = calloc(1, sizeof(*j));
	pthread_condattr_t ca;

	if (j == NULL)
		return NULL;
	if (pthread_condattr_init(&ca) != 0) {
		free(j);
		return NULL;
	}
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_cond_init(&j->done_cv, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		free(j);
		return NULL;
	}
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&j->lock, NULL);
	j->cfg = cfg;
	j->flags = flags;
	mts_strlcpy(j->domain, domain, sizeof(j->domain));
	mts_result_init(&j->res);
	return j;
}

static int start_worker(struct job *j)
{
	pthread_attr_t attr;
	pthread_t tid;
	int rc;

	if (pthread_attr_init(&attr) != 0)
		return -ENOMEM;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	atomic_fetch_add(&running, 1);
	rc = pthread_create(&tid, &attr, worker, j);
	pthread_attr_destroy(&attr);
	if (rc != 0)
		atomic_fetch_sub(&running, 1);
	return rc == 0 ? 0 : -rc;
}

int relay_lookup_bounded(const struct mts_config *cfg, const char *domain,
			 unsigned flags, unsigned timeout_ms,
			 struct mts_result *out)
{
	struct job *j = job_new(cfg, domain, flags);
	struct timespec until;
	int rc, done;

	if (j == NULL) {
		set_tempfail(out, "policy look-up: out of memory");
		return -ENOMEM;
	}
	if ((rc = start_worker(j)) < 0) {
		job_free(j);
		set_tempfail(out, "policy look-up: no thread");
		return rc;
	}
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&j->lock);
	while (!j->done) {
		if (pthread_cond_timedwait(&j->done_cv, &j->lock, &until) ==
		    ETIMEDOUT)
			break;
	}
	done = j->done;
	if (!done)
		j->abandoned = 1;
	pthread_mutex_unlock(&j->lock);
	if (!done) {
		set_tempfail(out, "policy look-up timed out");
		return -ETIMEDOUT;
	}
	mts_result_free(out);
	*out = j->res;			/* the buffers move with it */
	mts_result_init(&j->res);
	job_free(j);
	return 0;
}

int relay_lookup_running(void)
{
	return atomic_load(&running);
}
