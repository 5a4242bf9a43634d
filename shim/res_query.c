/*
 * res_query.c - learn MX hosts and addresses from the resolver calls
 *
 * SYNOPSIS
 *	res_query, res_search, res_nquery, res_nsearch, res_send, res_nsend
 *	and their __res_* names (what programs built against an older C
 *	library call).
 *
 * DESCRIPTION
 *	Mail senders find the MX hosts of a domain with these calls. Each
 *	hook calls the real function with the thread's guard set and then
 *	reads the answer it returned (dnsmsg.c, at most the caller's buffer
 *	length): MX records teach domain -> MX host, A and AAAA records
 *	host -> address (names.c). Results, errno and h_errno are the real
 *	call's.
 *
 *	The real functions are looked up on first use: on older C libraries
 *	they live in libresolv, which may be loaded after us. The __res_
 *	hooks call the same real function as the plain names (glibc 2.34+
 *	keeps __res_query & co only as compatibility aliases of it).
 */
#include "shim.h"

#include <errno.h>
#include <string.h>

/* The real function in *slot, binding it on first use. */
static void *bound(void *slot, const char *name)
{
	void *p;

	memcpy(&p, slot, sizeof(p));
	if (p == NULL && (p = mts_real_resolver(name)) != NULL)
		memcpy(slot, &p, sizeof(p));	/* same value for all */
	return p;
}

static int unavailable(void)
{
	h_errno = NO_RECOVERY;
	errno = ENOSYS;
	return -1;
}

static void learn(const unsigned char *answer, int rc, int anslen)
{
	int saved = errno;

	if (rc > 0 && answer != NULL)
		mts_names_learn_dns(answer, rc, anslen);
	errno = saved;
}

static int query(void *slot, const char *sym, const char *dname, int class,
		 int type, unsigned char *answer, int anslen)
{
	mts_res_query_fn real;
	int rc;

	mts_init();
	if ((real = (mts_res_query_fn)bound(slot, sym)) == NULL)
		return unavailable();
	if (mts_in_shim)
		return real(dname, class, type, answer, anslen);
	mts_in_shim++;
	rc = real(dname, class, type, answer, anslen);
	learn(answer, rc, anslen);
	mts_in_shim--;
	return rc;
}

static int nquery(void *slot, const char *sym, res_state st,
		  const char *dname, int class, int type,
		  unsigned char *answer, int anslen)
{
	mts_res_nquery_fn real;
	int rc;

	mts_init();
	if ((real = (mts_res_nquery_fn)bound(slot, sym)) == NULL)
		return unavailable();
	if (mts_in_shim)
		return real(st, dname, class, type, answer, anslen);
	mts_in_shim++;
	rc = real(st, dname, class, type, answer, anslen);
	learn(answer, rc, anslen);
	mts_in_shim--;
	return rc;
}

static int send_(const unsigned char *msg, int len, unsigned char *answer,
		 int anslen)
{
	mts_res_send_fn real;
	int rc;

	mts_init();
	real = (mts_res_send_fn)bound(&mts_real.res_send, "res_send");
	if (real == NULL)
		return unavailable();
	if (mts_in_shim)
		return real(msg, len, answer, anslen);
	mts_in_shim++;
	rc = real(msg, len, answer, anslen);
	learn(answer, rc, anslen);
	mts_in_shim--;
	return rc;
}

static int nsend(res_state st, const unsigned char *msg, int len,
		 unsigned char *answer, int anslen)
{
	mts_res_nsend_fn real;
	int rc;

	mts_init();
	real = (mts_res_nsend_fn)bound(&mts_real.res_nsend, "res_nsend");
	if (real == NULL)
		return unavailable();
	if (mts_in_shim)
		return real(st, msg, len, answer, anslen);
	mts_in_shim++;
	rc = real(st, msg, len, answer, anslen);
	learn(answer, rc, anslen);
	mts_in_shim--;
	return rc;
}

MTS_EXPORT int res_query(const char *d, int c, int t, unsigned char *a, int n)
{
	return query(&mts_real.res_query, "res_query", d, c, t, a, n);
}

MTS_EXPORT int __res_query(const char *d, int c, int t, unsigned char *a,
			   int n)
{
	return query(&mts_real.res_query, "res_query", d, c, t, a, n);
}

MTS_EXPORT int res_search(const char *d, int c, int t, unsigned char *a, int n)
{
	return query(&mts_real.res_search, "res_search", d, c, t, a, n);
}

MTS_EXPORT int __res_search(const char *d, int c, int t, unsigned char *a,
			    int n)
{
	return query(&mts_real.res_search, "res_search", d, c, t, a, n);
}

MTS_EXPORT int res_nquery(res_state s, const char *d, int c, int t,
			  unsigned char *a, int n)
{
	return nquery(&mts_real.res_nquery, "res_nquery", s, d, c, t, a, n);
}

MTS_EXPORT int __res_nquery(res_state s, const char *d, int c, int t,
			    unsigned char *a, int n)
{
	return nquery(&mts_real.res_nquery, "res_nquery", s, d, c, t, a, n);
}

MTS_EXPORT int res_nsearch(res_state s, const char *d, int c, int t,
			   unsigned char *a, int n)
{
	return nquery(&mts_real.res_nsearch, "res_nsearch", s, d, c, t, a, n);
}

MTS_EXPORT int __res_nsearch(res_state s, const char *d, int c, int t,
			     unsigned char *a, int n)
{
	return nquery(&mts_real.res_nsearch, "res_nsearch", s, d, c, t, a, n);
}

MTS_EXPORT int res_send(const unsigned char *m, int l, unsigned char *a, int n)
{
	return send_(m, l, a, n);
}

MTS_EXPORT int __res_send(const unsigned char *m, int l, unsigned char *a,
			  int n)
{
	return send_(m, l, a, n);
}

MTS_EXPORT int res_nsend(res_state s, const unsigned char *m, int l,
			 unsigned char *a, int n)
{
	return nsend(s, m, l, a, n);
}

MTS_EXPORT int __res_nsend(res_state s, const unsigned char *m, int l,
			   unsigned char *a, int n)
{
	return nsend(s, m, l, a, n);
}
