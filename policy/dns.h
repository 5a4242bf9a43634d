/*
 * dns.h - the DNS look-ups of the policy engine, through c-ares
 *
 * DESCRIPTION
 *	Every look-up goes to the servers of cfg->dns_servers (or the system's
 *	resolv.conf when empty), is bounded by a deadline, and follows CNAMEs
 *	(the recursive server returns the chain; c-ares' parsers accept it).
 *	Synchronous for the caller: each call creates a channel, runs its
 *	query to completion or deadline, and destroys the channel.
 *
 *	The outcome distinguishes the three cases that lead to different
 *	decisions (RFC 8461 section 3.3, 5):
 *	  MTS_DNS_OK        answers were found
 *	  MTS_DNS_NOTFOUND  NXDOMAIN, or NOERROR with no record of the type
 *	                    (NODATA): authoritative "there is none"
 *	  MTS_DNS_TEMPFAIL  SERVFAIL, REFUSED, timeout, no server reachable,
 *	                    malformed answer: "try again later"
 */
#ifndef MTS_DNS_H
#define MTS_DNS_H

#include <stddef.h>

#include "buf.h"
#include "config.h"

enum mts_dns_status {
	MTS_DNS_OK = 0,
	MTS_DNS_NOTFOUND,
	MTS_DNS_TEMPFAIL,
};

/* TXT records of name: each record's strings joined without spaces
 * (c-ares' record_start marks where a record begins). records[i] may
 * contain NUL bytes: lens->item is not used; see mts_dns_txt_lens. On
 * MTS_DNS_OK, out holds >= 1 record and lens[i] its length. err gets a
 * reason on failure. */
struct mts_txt_records {
	struct mts_strlist rec;	/* NUL-terminated copies */
	size_t *len;		/* len[i] = true length of rec.item[i] */
};

void mts_txt_records_free(struct mts_txt_records *r);

enum mts_dns_status mts_dns_txt(const struct mts_config *cfg,
				const char *name, unsigned timeout_ms,
				struct mts_txt_records *out,
				char *err, size_t errlen);

/* A and AAAA addresses of host as numeric strings ("192.0.2.1", "::1"). */
enum mts_dns_status mts_dns_addrs(const struct mts_config *cfg,
				  const char *host, unsigned timeout_ms,
				  struct mts_strlist *out,
				  char *err, size_t errlen);

const char *mts_dns_status_name(enum mts_dns_status s);

#endif
