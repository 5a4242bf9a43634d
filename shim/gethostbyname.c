/*
 * gethostbyname.c - learn host -> address from the gethostbyname family
 *
 * SYNOPSIS
 *	struct hostent *gethostbyname(const char *name);
 *	struct hostent *gethostbyname2(const char *name, int af);
 *	int gethostbyname_r(name, ret, buf, buflen, result, h_errnop);
 *	int gethostbyname2_r(name, af, ret, buf, buflen, result, h_errnop);
 *
 * DESCRIPTION
 *	Each calls the real function with the thread's guard set and, on
 *	success, remembers name -> every address of the hostent (names.c).
 *	Results, errno and h_errno are the real call's.
 */
#include "shim.h"

#include <errno.h>

static void learn(const char *name, const struct hostent *h)
{
	int saved = errno;

	if (name != NULL && h != NULL)
		mts_names_learn_hostent(name, h);
	errno = saved;
}

MTS_EXPORT struct hostent *gethostbyname(const char *name)
{
	struct hostent *h;

	mts_init();
	if (mts_real.gethostbyname == NULL) {
		h_errno = NO_RECOVERY;
		return NULL;
	}
	if (mts_in_shim)
		return mts_real.gethostbyname(name);
	mts_in_shim++;
	h = mts_real.gethostbyname(name);
	learn(name, h);
	mts_in_shim--;
	return h;
}

MTS_EXPORT struct hostent *gethostbyname2(const char *name, int af)
{
	struct hostent *h;

	mts_init();
	if (mts_real.gethostbyname2 == NULL) {
		h_errno = NO_RECOVERY;
		return NULL;
	}
	if (mts_in_shim)
		return mts_real.gethostbyname2(name, af);
	mts_in_shim++;
	h = mts_real.gethostbyname2(name, af);
	learn(name, h);
	mts_in_shim--;
	return h;
}

MTS_EXPORT int gethostbyname_r(const char *restrict name,
			       struct hostent *restrict ret,
			       char *restrict buf, size_t buflen,
			       struct hostent **restrict result,
			       int *restrict h_errnop)
{
	int rc;

	mts_init();
	if (mts_real.gethostbyname_r == NULL)
		return ENOSYS;
	if (mts_in_shim)
		return mts_real.gethostbyname_r(name, ret, buf, buflen, result,
						h_errnop);
	mts_in_shim++;
	rc = mts_real.gethostbyname_r(name, ret, buf, buflen, result,
				      h_errnop);
	if (rc == 0 && result != NULL)
		learn(name, *result);
	mts_in_shim--;
	return rc;
}

MTS_EXPORT int gethostbyname2_r(const char *restrict name, int af,
				struct hostent *restrict ret,
				char *restrict buf, size_t buflen,
				struct hostent **restrict result,
				int *restrict h_errnop)
{
	int rc;

	mts_init();
	if (mts_real.gethostbyname2_r == NULL)
		return ENOSYS;
	if (mts_in_shim)
		return mts_real.gethostbyname2_r(name, af, ret, buf, buflen,
						 result, h_errnop);
	mts_in_shim++;
	rc = mts_real.gethostbyname2_r(name, af, ret, buf, buflen, result,
				       h_errnop);
	if (rc == 0 && result != NULL)
		learn(name, *result);
	mts_in_shim--;
	return rc;
}
