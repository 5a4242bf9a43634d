/*
 * names.c - what the process's own look-ups taught us about MX hosts
 *
 * SYNOPSIS
 *	mts_names_learn_dns(answer, len, bufsize);	(res_query & co)
 *	mts_names_learn_addrinfo("mx1.example.net", res);
 *	mts_names_lookup(AF_INET, &dest.sin_addr, host, sizeof(host),
 *			 domain, sizeof(domain));
 *
 * DESCRIPTION
 *	A mail sender looks up the MX records of the recipient domain, then
 *	the addresses of the MX host, then connects to one address. The
 *	shim sees only the address at connect(), so it remembers two things
 *	from the look-ups the process makes itself:
 *
 *	  MX      domain -> MX host (and its preference), from MX answers;
 *	  ADDR    host -> address, from A/AAAA answers (the name asked for,
 *	          or the owner in the additional section), getaddrinfo()
 *	          and the gethostbyname() family.
 *
 *	At connect(dest) the most recent host whose address is dest is the
 *	MX host, and the most recent domain whose MX that host is, the
 *	domain. Each memory is a ring of MTS_NAMES_MAX entries, newest
 *	first; learning a fact again moves it to the front. Host names are
 *	stored lower-case without the trailing dot; v4-mapped IPv6
 *	addresses are stored and compared as IPv4.
 *
 *	One mutex guards both rings and is held only for memory copies and
 *	compares; the DNS parsing happens before it is taken.
 */
#include "shim.h"
#include "dnsmsg.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>

#define MTS_NAMES_MAX 256
#define MTS_HOSTENT_ADDRS_MAX 64
#define MTS_ADDRINFO_MAX 64

struct addr_entry {
	uint64_t seq;			/* 0: empty */
	int family;
	unsigned char addr[16];
	char host[MTS_HOST_MAX];
};

struct mx_entry {
	uint64_t seq;			/* 0: empty */
	uint16_t pref;
	char domain[MTS_HOST_MAX];
	char host[MTS_HOST_MAX];
};

static pthread_mutex_t names_lock = PTHREAD_MUTEX_INITIALIZER;
static struct addr_entry addrs[MTS_NAMES_MAX];
static struct mx_entry mxs[MTS_NAMES_MAX];
static unsigned addr_next, mx_next;	/* next slot to write */
static uint64_t names_seq;

static void lock(void)
{
	mts_in_shim++;
	pthread_mutex_lock(&names_lock);
}

static void unlock(void)
{
	pthread_mutex_unlock(&names_lock);
	mts_in_shim--;
}

/* Lower-cases and strips one trailing dot into out[MTS_HOST_MAX].
 * Returns 0, or -1 when s is not a plausible host name. */
static int normalise_host(const char *s, char *out)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		unsigned char c = (unsigned char)s[n];

		if (n >= MTS_HOST_MAX - 1)
			return -1;
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			   c == '-' || c == '_' || c == '.'))
			return -1;
		out[n] = (char)c;
	}
	if (n > 0 && out[n - 1] == '.')
		n--;
	out[n] = '\0';
	return n == 0 || out[0] == '.' ? -1 : 0;
}

/* A numeric address is no host name: "192.0.2.1", "::1". */
static int is_numeric(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 ||
	       inet_pton(AF_INET6, s, buf) == 1;
}

/* (family, addr) as stored: v4-mapped IPv6 becomes IPv4. */
static int canonical_addr(int family, const void *addr, unsigned char *out)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
						  0, 0xff, 0xff };

	if (family == AF_INET) {
		memcpy(out, addr, 4);
		return AF_INET;
	}
	if (family != AF_INET6)
		return -1;
	if (memcmp(addr, mapped, sizeof(mapped)) == 0) {
		memcpy(out, (const unsigned char *)addr + 12, 4);
		return AF_INET;
	}
	memcpy(out, addr, 16);
	return AF_INET6;
}

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* Caller holds the lock. */
static void remember_addr(const char *host, int family,
			  const unsigned char *addr)
{
	struct addr_entry *e;

	for (unsigned i = 0; i < MTS_NAMES_MAX; i++) {
		e = &addrs[i];
		if (e->seq != 0 && e->family == family &&
		    memcmp(e->addr, addr, addr_len(family)) == 0 &&
		    strcmp(e->host, host) == 0)
			e->seq = 0;	/* re-learnt: moves to the front */
	}
	e = &addrs[addr_next];
	addr_next = (addr_next + 1) % MTS_NAMES_MAX;
	e->seq = ++names_seq;
	e->family = family;
	memset(e->addr, 0, sizeof(e->addr));
	memcpy(e->addr, addr, addr_len(family));
	mts_scopy(e->host, host, sizeof(e->host));
}

/* Caller holds the lock. */
static void remember_mx(const char *domain, const char *host, uint16_t pref)
{
	struct mx_entry *e;

	for (unsigned i = 0; i < MTS_NAMES_MAX; i++) {
		e = &mxs[i];
		if (e->seq != 0 && strcmp(e->domain, domain) == 0 &&
		    strcmp(e->host, host) == 0)
			e->seq = 0;
	}
	e = &mxs[mx_next];
	mx_next = (mx_next + 1) % MTS_NAMES_MAX;
	e->seq = ++names_seq;
	e->pref = pref;
	mts_scopy(e->domain, domain, sizeof(e->domain));
	mts_scopy(e->host, host, sizeof(e->host));
}

void mts_names_learn_addr(const char *host, int family, const void *addr)
{
	char name[MTS_HOST_MAX];
	unsigned char a[16];
	int fam;

	if (host == NULL || addr == NULL || is_numeric(host) ||
	    normalise_host(host, name) < 0)
		return;
	if ((fam = canonical_addr(family, addr, a)) < 0)
		return;
	lock();
	remember_addr(name, fam, a);
	unlock();
}

void mts_names_learn_hostent(const char *host, const struct hostent *h)
{
	if (h == NULL || h->h_addr_list == NULL)
		return;
	if (!((h->h_addrtype == AF_INET && h->h_length == 4) ||
	      (h->h_addrtype == AF_INET6 && h->h_length == 16)))
		return;
	for (int i = 0; i < MTS_HOSTENT_ADDRS_MAX && h->h_addr_list[i]; i++)
		mts_names_learn_addr(host, h->h_addrtype, h->h_addr_list[i]);
}

void mts_names_learn_addrinfo(const char *host, const struct addrinfo *ai)
{
	for (int i = 0; ai != NULL && i < MTS_ADDRINFO_MAX;
	     ai = ai->ai_next, i++) {
		if (ai->ai_addr == NULL)
			continue;
		if (ai->ai_family == AF_INET &&
		    ai->ai_addrlen >= sizeof(struct sockaddr_in))
			mts_names_learn_addr(host, AF_INET,
			    &((const struct sockaddr_in *)(const void *)
			      ai->ai_addr)->sin_addr);
		else if (ai->ai_family == AF_INET6 &&
			 ai->ai_addrlen >= sizeof(struct sockaddr_in6))
			mts_names_learn_addr(host, AF_INET6,
			    &((const struct sockaddr_in6 *)(const void *)
			      ai->ai_addr)->sin6_addr);
	}
}

/* One resource record of an answer the process received. */
static void learn_rr(struct mts_dns_msg *m, const struct mts_dns_rr *rr)
{
	char host[MTS_DNS_NAME_MAX];
	const char *owner = NULL;
	uint16_t pref;

	if (rr->rclass != MTS_DNS_C_IN)
		return;
	if (rr->type == MTS_DNS_T_MX && rr->section == MTS_DNS_ANSWER &&
	    m->qname_ok) {
		char domain[MTS_HOST_MAX], mx[MTS_HOST_MAX];

		/* The domain is the name the process asked about, also when
		 * the answer went through a CNAME. */
		if (mts_dns_mx(m, rr, &pref, host, sizeof(host)) == 1 &&
		    normalise_host(m->qname, domain) == 0 &&
		    normalise_host(host, mx) == 0) {
			lock();
			remember_mx(domain, mx, pref);
			unlock();
		}
		return;
	}
	if (rr->type != MTS_DNS_T_A && rr->type != MTS_DNS_T_AAAA)
		return;
	/* In the answer: the name asked for (the owner may be the end of a
	 * CNAME chain). In the additional section: glue for MX hosts. */
	if (rr->section == MTS_DNS_ANSWER && m->qname_ok)
		owner = m->qname;
	else if (rr->section == MTS_DNS_ADDITIONAL && rr->owner_ok)
		owner = rr->owner;
	if (owner == NULL)
		return;
	if (rr->type == MTS_DNS_T_A && rr->rdlen == 4)
		mts_names_learn_addr(owner, AF_INET, m->msg + rr->rdoff);
	else if (rr->type == MTS_DNS_T_AAAA && rr->rdlen == 16)
		mts_names_learn_addr(owner, AF_INET6, m->msg + rr->rdoff);
}

void mts_names_learn_dns(const unsigned char *msg, int len, int bufsize)
{
	struct mts_dns_msg m;
	struct mts_dns_rr rr;
	size_t n;

	if (msg == NULL || len <= 0 || bufsize <= 0)
		return;
	/* res_query() returns the full length even when the answer did not
	 * fit the caller's buffer. */
	n = (size_t)(len < bufsize ? len : bufsize);
	if (mts_dns_open(&m, msg, n) < 0 || !m.has_question)
		return;
	while (mts_dns_next(&m, &rr) > 0)
		learn_rr(&m, &rr);
}

int mts_names_lookup(int family, const void *addr, char *host,
		     size_t hostsz, char *domain, size_t domainsz)
{
	unsigned char a[16];
	char found[MTS_HOST_MAX] = "";
	int fam, result = 0;

	if ((fam = canonical_addr(family, addr, a)) < 0)
		return 0;
	lock();
	for (unsigned k = 1; k <= MTS_NAMES_MAX; k++) {
		const struct addr_entry *e =
			&addrs[(addr_next + MTS_NAMES_MAX - k) % MTS_NAMES_MAX];

		if (e->seq != 0 && e->family == fam &&
		    memcmp(e->addr, a, addr_len(fam)) == 0) {
			mts_scopy(found, e->host, sizeof(found));
			result |= 1;
			break;
		}
	}
	for (unsigned k = 1; result && k <= MTS_NAMES_MAX; k++) {
		const struct mx_entry *e =
			&mxs[(mx_next + MTS_NAMES_MAX - k) % MTS_NAMES_MAX];

		if (e->seq != 0 && strcmp(e->host, found) == 0) {
			mts_scopy(domain, e->domain, domainsz);
			result |= 2;
			break;
		}
	}
	unlock();
	if (result & 1)
		mts_scopy(host, found, hostsz);
	return result;
}

void mts_names_atfork_prepare(void)
{
	pthread_mutex_lock(&names_lock);
}

void mts_names_atfork_parent(void)
{
	pthread_mutex_unlock(&names_lock);
}

void mts_names_atfork_child(void)
{
	pthread_mutex_init(&names_lock, NULL);
}
