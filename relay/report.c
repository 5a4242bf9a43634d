/*
 * report.c - one TLSRPT spool record per decided session (RFC 8460)
 *
 * DESCRIPTION
 *	See report.h. The MX's HELO name for "receiving-mx-helo" is the
 *	first word of its greeting (RFC 5321 4.3.1: the greeting starts
 *	with the server's domain), kept only when it is a host name.
 */
#include "report.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "match.h"
#include "tlsrpt.h"

/* The local address of the MX leg, numeric, or "" when unknown. */
static void sending_ip(int fd, char *out, size_t outlen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	const void *addr = NULL;
	int family = 0;

	out[0] = '\0';
	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		addr = &((const struct sockaddr_in *)&ss)->sin_addr;
		family = AF_INET;
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)&ss;

		addr = &in6->sin6_addr;
		family = AF_INET6;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			addr = &in6->sin6_addr.s6_addr[12];
			family = AF_INET;
		}
	}
	if (addr == NULL || inet_ntop(family, addr, out, (socklen_t)outlen) ==
	    NULL)
		out[0] = '\0';
}

/* The first word after "220 " or "220-", when it is a host name. */
static void helo_name(const char *greeting, size_t len, char *out,
		      size_t outlen)
{
	size_t n = 0;

	out[0] = '\0';
	if (greeting == NULL || len < 5)
		return;
	for (size_t i = 4; i < len && n + 1 < outlen; i++) {
		char c = greeting[i];

		if (c == ' ' || c == '\r' || c == '\n')
			break;
		out[n++] = c;
	}
	out[n] = '\0';
	if (mts_hostname_check(out) != NULL)
		out[0] = '\0';
}

static enum mts_tlsrpt_result result_of(const char *name)
{
	enum mts_tlsrpt_result r = MTS_TLSRPT_SUCCESS;

	if (name != NULL && mts_tlsrpt_result_parse(name, &r) < 0)
		r = MTS_TLSRPT_VALIDATION_FAILURE;
	return r;
}

void relay_report_record(const struct mts_config *cfg,
			 const struct relay_report *r)
{
	struct mts_tlsrpt_session s;
	char local[INET6_ADDRSTRLEN], helo[MTS_DOMAIN_MAX + 1], err[256];
	const struct mts_result *p = r->policy;

	if (r->domain == NULL || p == NULL)
		return;
	mts_tlsrpt_session_init(&s);
	s.policy_domain = r->domain;
	s.mx_host = r->mx;
	s.receiving_ip = r->receiving_ip;
	sending_ip(r->tcp_fd, local, sizeof(local));
	s.sending_ip = local;
	helo_name(r->greeting, r->greeting_len, helo, sizeof(helo));
	s.receiving_helo = helo;
	s.result = result_of(r->result);
	s.failure_reason = r->failure_reason;
	if (p->status == MTS_POLICY) {
		s.policy_type = MTS_TLSRPT_POLICY_STS;
		s.policy_text = p->text.data;
		s.policy_text_len = p->text.len;
	} else if (mts_tlsrpt_result_from_failure(p->failure) !=
		   MTS_TLSRPT_SUCCESS) {
		/* The policy could not be fetched and nothing was cached:
		 * that is the failure this session reports. */
		s.policy_type = MTS_TLSRPT_POLICY_STS;
		s.result = mts_tlsrpt_result_from_failure(p->failure);
		s.failure_reason = p->reason[0] != '\0' ? p->reason : NULL;
	} else {
		s.policy_type = MTS_TLSRPT_POLICY_NO_POLICY;
	}
	if (mts_tlsrpt_record(cfg->report_dir, &s, err, sizeof(err)) < 0)
		mts_log(MTS_LOG_WARN, "tlsrpt: %s", err);
}
