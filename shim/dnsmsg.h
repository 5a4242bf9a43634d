/*
 * dnsmsg.h - a small, bounded reader of DNS messages (RFC 1035 4.1)
 *
 * SYNOPSIS
 *	struct mts_dns_msg m;
 *	struct mts_dns_rr rr;
 *	int r;
 *
 *	if (mts_dns_open(&m, answer, len) < 0)
 *		return;				(m.error says why)
 *	while ((r = mts_dns_next(&m, &rr)) > 0)
 *		if (rr.type == MTS_DNS_T_MX) mts_dns_mx(&m, &rr, &pref, ...);
 *
 * DESCRIPTION
 *	Reads the header, the question (its first entry is kept as qname)
 *	and then yields the resource records of the answer, authority and
 *	additional sections one by one. Every byte is treated as hostile:
 *	each read is checked against the message length, a name may not
 *	exceed 255 bytes on the wire, and a compression pointer must point
 *	strictly before the place the name was being read from, which makes
 *	loops impossible. No allocation, no global state.
 *
 *	Names are returned as dotted text without the trailing dot ("" for
 *	the root). A name whose labels hold anything but letters, digits,
 *	'-' and '_' is well-formed but not a host name: it is reported as
 *	such (owner_ok / qname_ok = 0, or 0 from mts_dns_name) and its text
 *	is not filled in.
 *
 * DIAGNOSTICS
 *	mts_dns_open() returns 0 or -1, mts_dns_next() 1 (a record), 0 (no
 *	more) or -1; on -1 m->error holds a short text. A message truncated
 *	in the middle of a record yields the records before it, then -1.
 */
#ifndef MTS_DNSMSG_H
#define MTS_DNSMSG_H

#include <stddef.h>
#include <stdint.h>

#define MTS_DNS_NAME_MAX 256	/* 253 characters of text, NUL, spare */

#define MTS_DNS_T_A 1
#define MTS_DNS_T_CNAME 5
#define MTS_DNS_T_MX 15
#define MTS_DNS_T_AAAA 28
#define MTS_DNS_T_ANY 255
#define MTS_DNS_C_IN 1

enum mts_dns_section {
	MTS_DNS_ANSWER = 0,
	MTS_DNS_AUTHORITY = 1,
	MTS_DNS_ADDITIONAL = 2,
};

struct mts_dns_msg {
	const unsigned char *msg;
	size_t len;
	size_t pos;			/* where the next record starts */
	unsigned left[3];		/* records still to read per section */
	unsigned rcode;
	int has_question;
	int qname_ok;			/* qname is a host name */
	char qname[MTS_DNS_NAME_MAX];
	uint16_t qtype, qclass;
	const char *error;		/* why the last call returned -1 */
};

struct mts_dns_rr {
	enum mts_dns_section section;
	int owner_ok;			/* owner is a host name */
	char owner[MTS_DNS_NAME_MAX];
	uint16_t type, rclass;
	uint32_t ttl;
	size_t rdoff, rdlen;		/* the rdata: m->msg + rdoff */
};

int mts_dns_open(struct mts_dns_msg *m, const void *msg, size_t len);
int mts_dns_next(struct mts_dns_msg *m, struct mts_dns_rr *rr);

/* Expands the name at msg[off]. *end receives the offset just past the
 * name where it sits (not where pointers led). Returns 1 (a host name in
 * out), 0 (well-formed, not a host name) or -1 (malformed; *why set). */
int mts_dns_name(const unsigned char *msg, size_t len, size_t off,
		 char *out, size_t outsz, size_t *end, const char **why);

/* The preference and exchange of an MX record. Returns 1, 0 (exchange is
 * not a host name, e.g. the null MX ".") or -1 (malformed). */
int mts_dns_mx(struct mts_dns_msg *m, const struct mts_dns_rr *rr,
	       uint16_t *pref, char *host, size_t hostsz);

#endif
