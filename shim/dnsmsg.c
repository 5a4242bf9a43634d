/*
 * dnsmsg.c - a small, bounded reader of DNS messages (see dnsmsg.h)
 *
 * DESCRIPTION
 *	The shim learns MX hosts and addresses from the answers the host's
 *	own resolver calls return. Those answers come off the network, so
 *	this reader checks every offset before it reads, refuses names
 *	longer than 255 wire bytes and compression pointers that do not
 *	point strictly backwards (no loops), and keeps no state beyond the
 *	caller's struct. It is also a fuzz target.
 */
#include "dnsmsg.h"

#include <string.h>

#define DNS_HEADER 12
#define DNS_WIRE_NAME_MAX 255
#define DNS_RR_FIXED 10		/* type, class, ttl, rdlength */

static uint16_t get16(const unsigned char *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static int host_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int mts_dns_name(const unsigned char *msg, size_t len, size_t off,
		 char *out, size_t outsz, size_t *end, const char **why)
{
	size_t pos = off, limit = off, wire = 1, n = 0;
	int jumped = 0, host = outsz > 0;

	for (;;) {
		unsigned c;

		if (pos >= len) {
			*why = "name runs past the end";
			return -1;
		}
		c = msg[pos];
		if (c == 0) {
			if (!jumped)
				*end = pos + 1;
			break;
		}
		if ((c & 0xc0) == 0xc0) {
			size_t target;

			if (pos + 1 >= len) {
				*why = "pointer runs past the end";
				return -1;
			}
			target = (size_t)(c & 0x3f) << 8 | msg[pos + 1];
			/* Strictly backwards from where this stretch of the
			 * name began: the targets decrease, so no loop. */
			if (target >= limit) {
				*why = "compression pointer not backwards";
				return -1;
			}
			if (!jumped)
				*end = pos + 2;
			jumped = 1;
			pos = limit = target;
			continue;
		}
		if ((c & 0xc0) != 0) {
			*why = "unknown label type";
			return -1;
		}
		if (c > len - pos - 1) {
			*why = "label runs past the end";
			return -1;
		}
		wire += c + 1;
		if (wire > DNS_WIRE_NAME_MAX) {
			*why = "name longer than 255 bytes";
			return -1;
		}
		for (unsigned i = 1; i <= c && host; i++)
			if (!host_char(msg[pos + i]))
				host = 0;
		/* wire <= 255 means the text fits 253 bytes plus NUL, but the
		 * caller's buffer may be smaller. */
		if (host && n + (n > 0) + c + 1 > outsz)
			host = 0;
		if (host) {
			if (n > 0)
				out[n++] = '.';
			memcpy(out + n, msg + pos + 1, c);
			n += c;
		}
		pos += (size_t)c + 1;
	}
	if (host)
		out[n] = '\0';
	else if (outsz > 0)
		out[0] = '\0';
	return host;
}

int mts_dns_open(struct mts_dns_msg *m, const void *msg, size_t len)
{
	const unsigned char *p = msg;
	unsigned qd;
	size_t end;

	memset(m, 0, sizeof(*m));
	m->msg = p;
	m->len = len;
	if (p == NULL || len < DNS_HEADER) {
		m->error = "shorter than a header";
		return -1;
	}
	if ((p[2] & 0x80) == 0) {
		m->error = "not a response";
		return -1;
	}
	m->rcode = p[3] & 0x0f;
	qd = get16(p + 4);
	m->left[MTS_DNS_ANSWER] = get16(p + 6);
	m->left[MTS_DNS_AUTHORITY] = get16(p + 8);
	m->left[MTS_DNS_ADDITIONAL] = get16(p + 10);
	m->pos = DNS_HEADER;
	for (unsigned i = 0; i < qd; i++) {
		char name[MTS_DNS_NAME_MAX];
		int r = mts_dns_name(p, len, m->pos, name, sizeof(name), &end,
				     &m->error);

		if (r < 0)
			return -1;
		if (end > len || len - end < 4) {
			m->error = "question runs past the end";
			return -1;
		}
		if (i == 0) {
			m->has_question = 1;
			m->qname_ok = r;
			memcpy(m->qname, name, sizeof(name));
			m->qtype = get16(p + end);
			m->qclass = get16(p + end + 2);
		}
		m->pos = end + 4;
	}
	return 0;
}

int mts_dns_next(struct mts_dns_msg *m, struct mts_dns_rr *rr)
{
	const unsigned char *p = m->msg;
	size_t end, rdlen;
	int s, r;

	for (s = MTS_DNS_ANSWER; s <= MTS_DNS_ADDITIONAL; s++)
		if (m->left[s] > 0)
			break;
	if (s > MTS_DNS_ADDITIONAL)
		return 0;
	m->left[s]--;
	memset(rr, 0, sizeof(*rr));
	rr->section = (enum mts_dns_section)s;
	r = mts_dns_name(p, m->len, m->pos, rr->owner, sizeof(rr->owner),
			 &end, &m->error);
	if (r < 0)
		goto malformed;
	rr->owner_ok = r;
	if (end > m->len || m->len - end < DNS_RR_FIXED) {
		m->error = "record runs past the end";
		goto malformed;
	}
	rr->type = get16(p + end);
	rr->rclass = get16(p + end + 2);
	rr->ttl = get32(p + end + 4);
	rdlen = get16(p + end + 8);
	end += DNS_RR_FIXED;
	if (rdlen > m->len - end) {
		m->error = "rdata runs past the end";
		goto malformed;
	}
	rr->rdoff = end;
	rr->rdlen = rdlen;
	m->pos = end + rdlen;
	return 1;
malformed:
	/* Nothing after a malformed record can be trusted. */
	m->left[0] = m->left[1] = m->left[2] = 0;
	return -1;
}

int mts_dns_mx(struct mts_dns_msg *m, const struct mts_dns_rr *rr,
	       uint16_t *pref, char *host, size_t hostsz)
{
	size_t end;
	int r;

	if (rr->type != MTS_DNS_T_MX || rr->rdlen < 3) {
		m->error = "MX rdata too short";
		return -1;
	}
	*pref = get16(m->msg + rr->rdoff);
	/* The exchange may point anywhere before it, but must itself end
	 * inside the rdata. */
	r = mts_dns_name(m->msg, m->len, rr->rdoff + 2, host, hostsz, &end,
			 &m->error);
	if (r < 0)
		return -1;
	if (end != rr->rdoff + rr->rdlen) {
		m->error = "MX exchange does not fill the rdata";
		return -1;
	}
	if (r == 1 && host[0] == '\0')
		return 0;	/* null MX (RFC 7505) */
	return r;
}
