/*
 * getaddrinfo.c - learn host -> address from getaddrinfo()
 *
 * SYNOPSIS
 *	int getaddrinfo(const char *node, const char *service,
 *			const struct addrinfo *hints, struct addrinfo **res);
 *
 * DESCRIPTION
 *	Calls the real getaddrinfo() with the thread's guard set (a resolver
 *	module that connects or closes fds inside it is not ours to touch),
 *	then remembers node -> every address returned (names.c). Numeric
 *	nodes teach nothing. The result, errno and h_errno are the real
 *	call's.
 */
#include "shim.h"

#include <errno.h>

MTS_EXPORT int getaddrinfo(const char *restrict node,
			   const char *restrict service,
			   const struct addrinfo *restrict hints,
			   struct addrinfo **restrict res)
{
	int rc, saved;

	mts_init();
	if (mts_real.getaddrinfo == NULL) {
		errno = ENOSYS;
		return EAI_SYSTEM;
	}
	if (mts_in_shim)
		return mts_real.getaddrinfo(node, service, hints, res);
	mts_in_shim++;
	rc = mts_real.getaddrinfo(node, service, hints, res);
	if (rc == 0 && node != NULL && res != NULL &&
	    !(hints != NULL && (hints->ai_flags & AI_NUMERICHOST))) {
		saved = errno;
		mts_names_learn_addrinfo(node, *res);
		errno = saved;
	}
	mts_in_shim--;
	return rc;
}
