/*
 * deliver.h - delivering one TLSRPT report to one rua endpoint (RFC 8460 5.3-5.4)
 *
 * SYNOPSIS
 *	struct mts_deliver_opts o;
 *	if (mts_deliver_opts_load(&o, &cfg, &meta, &dkim, err, errlen) < 0) ...
 *	switch (mts_deliver_rua_lookup(&cfg, "example.com", &rua, err, len)) ...
 *	st = mts_deliver(&o, rua.item[i], &report, err, sizeof(err));
 *
 * DESCRIPTION
 *	mts_deliver_rua_lookup() reads TXT _smtp._tls.<domain> with the
 *	engine's resolver and applies mts_tlsrpt_txt_select(): MTS_DNS_OK
 *	with the usable rua URIs, MTS_DNS_NOTFOUND when the domain asks for
 *	no reports (no record, or not exactly one valid one; err says why),
 *	MTS_DNS_TEMPFAIL when DNS failed.
 *
 *	mts_deliver() sends the gzip'd report to one URI:
 *
 *	https: a POST of the report with Content-Type application/tlsrpt+gzip
 *	(5.4); success is any 2xx status. The host is resolved with the
 *	engine's resolver and pinned; TLS 1.2+, the certificate verified
 *	against cfg->ca_file / cfg->ca_path (the system store when both are
 *	empty); no redirects, no proxy; bounded by cfg->timeout_s.
 *
 *	mailto: a MIME message (5.3): multipart/report; report-type="tlsrpt"
 *	with a text/plain part and the report as an application/tlsrpt+gzip
 *	attachment (base64, named after the report file); header fields
 *	From, To, Subject "Report Domain: <d> Submitter: <s> Report-ID:
 *	<<id>>" (folded before Submitter: and Report-ID: where a line would
 *	pass 78 characters), Date, Message-ID, MIME-Version, TLS-Report-Domain,
 *	TLS-Report-Submitter, Auto-Submitted: auto-generated and
 *	TLS-Required: No (RFC 8689: a report must get through even where TLS
 *	is broken, which is what it reports). DKIM-signed when o->dkim is
 *	set. Submitted
 *	  - to MTASTS_REPORT_SMTP (host[:port], default port 25) with
 *	    libcurl's smtp://: STARTTLS when offered, the certificate not
 *	    verified (a report is never held back by TLS, RFC 8460 5.3),
 *	    no authentication; success is the server's acceptance after DATA;
 *	  - else through `sendmail -t -oi -f <from>` (MTASTS_REPORT_SENDMAIL,
 *	    default /usr/sbin/sendmail), started with posix_spawn and an
 *	    environment without LD_PRELOAD and LD_AUDIT, so the local MTA is
 *	    never run under the MTA-STS shim; success is exit status 0.
 *	Bounded by cfg->timeout_s either way.
 *
 *	mts_deliver_opts_load() reads (secure_getenv):
 *	  MTASTS_REPORT_SMTP      host[:port] of a submission relay
 *	  MTASTS_REPORT_SENDMAIL  absolute path of a sendmail program
 *	  MTASTS_REPORT_FROM      sender address (default
 *	                          noreply-tlsrpt@<submitter>)
 *	and checks them; DKIM comes from mts_dkim_from_env().
 *
 * RETURNS
 *	MTS_DELIVER_OK: the endpoint accepted the report.
 *	MTS_DELIVER_TEMPFAIL: try again later (network, status, exit code).
 *	MTS_DELIVER_PERMFAIL: this URI can never work (malformed address,
 *	unsupported scheme): do not retry it.
 *	err says why in the last two cases.
 */
#ifndef MTS_DELIVER_H
#define MTS_DELIVER_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "dkim.h"
#include "dns.h"

#define MTS_MAIL_ADDR_MAX 320

enum mts_deliver_status {
	MTS_DELIVER_OK = 0,
	MTS_DELIVER_TEMPFAIL,
	MTS_DELIVER_PERMFAIL,
};

struct mts_deliver_opts {
	const struct mts_config *cfg;
	char smtp_host[256];		/* "" = use sendmail */
	unsigned short smtp_port;
	char sendmail[4096];
	char from[MTS_MAIL_ADDR_MAX + 1];
	char ehlo[MTS_DOMAIN_MAX + 1];
	const struct mts_dkim *dkim;	/* NULL: not signed here */
};

/* What goes into one report mail or POST. */
struct mts_report_msg {
	const char *domain;		/* policy domain: TLS-Report-Domain */
	const char *submitter;		/* TLS-Report-Submitter */
	const char *org;
	const char *report_id;
	const char *day;		/* YYYY-MM-DD */
	const char *filename;		/* the .json.gz name */
	const void *gz;
	size_t gzlen;
	int64_t now;
};

/* submitter: the submitter domain (for the default From address);
 * dkim: a loaded signer or NULL. */
int mts_deliver_opts_load(struct mts_deliver_opts *o,
			  const struct mts_config *cfg, const char *submitter,
			  const struct mts_dkim *dkim,
			  char *err, size_t errlen);

enum mts_dns_status mts_deliver_rua_lookup(const struct mts_config *cfg,
					   const char *domain,
					   struct mts_strlist *rua,
					   char *err, size_t errlen);

enum mts_deliver_status mts_deliver(const struct mts_deliver_opts *o,
				    const char *uri,
				    const struct mts_report_msg *r,
				    char *err, size_t errlen);

/* ---- pieces, exposed for tests ---- */

/* The single address of a mailto: URI (percent-decoded, without
 * ?query), checked: local@domain, no spaces, commas, quotes or angle
 * brackets. Returns 0 or -1. */
int mts_deliver_mailto_address(const char *uri, char *out, size_t outlen);

/* The complete message (DKIM-Signature first when o->dkim is set). */
int mts_deliver_build_mail(const struct mts_deliver_opts *o, const char *to,
			   const struct mts_report_msg *r, struct mts_buf *out,
			   char *err, size_t errlen);

/* A copy of envp without LD_PRELOAD and LD_AUDIT (NULL-terminated; free
 * the array only, the strings are borrowed). NULL when out of memory. */
char **mts_deliver_child_env(char *const *envp);

#endif
