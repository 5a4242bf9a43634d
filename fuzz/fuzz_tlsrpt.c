/*
 * fuzz_tlsrpt.c - libFuzzer target for the TLSRPT spool record and TXT parsers
 *
 * DESCRIPTION
 *	Each input is read three ways:
 *	  - as a spool line, exactly as given (the CRC must match);
 *	  - as a spool line without its CRC field: the target appends the
 *	    right one, so the fuzzer reaches the field parsers behind it;
 *	  - as a _smtp._tls TXT record.
 *	Invariants of a spool line that parses: its domain is a host name;
 *	formatting the record again (mts_tlsrpt_format) and parsing that
 *	gives the same record, except that host names come back lower
 *	case and without a trailing dot, and a field whose escaped form exceeds its cap comes back
 *	truncated (a prefix); a TXT record that parses is a TLSRPT record
 *	with at least one mailto: or https: URI.
 */
#include <inttypes.h>
#include <stdint.h>
#include <strings.h>

#include "fuzz.h"
#include "gzip.h"
#include "match.h"
#include "tlsrpt.h"

/* The length of s once escaped in the spool. */
static size_t escaped_len(const char *s)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\\' || *p == '\t' || *p == '\n' || *p == '\r')
			n += 2;
		else if (*p >= 0x20 && *p < 0x7f)
			n += 1;
		else
			n += 4;
	}
	return n;
}

static size_t dotless_len(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && s[n - 1] == '.' ? n - 1 : n;
}

static void same_field(const char *orig, const char *again, size_t cap)
{
	if (escaped_len(orig) <= cap)
		FUZZ_ASSERT(strcmp(orig, again) == 0);
	else
		FUZZ_ASSERT(strncmp(orig, again, strlen(again)) == 0);
}

static void check_record(const struct mts_tlsrpt_rec *rec)
{
	static struct mts_tlsrpt_rec again;
	struct mts_tlsrpt_session s;
	struct mts_buf line = MTS_BUF_INIT;
	char err[256];

	FUZZ_ASSERT(mts_hostname_check(rec->domain) == NULL);
	FUZZ_ASSERT(rec->time >= 0);
	mts_tlsrpt_session_init(&s);
	s.time = rec->time;
	s.policy_domain = rec->domain;
	s.policy_type = rec->policy_type;
	s.mx_host = rec->mx_host;
	s.sending_ip = rec->sending_ip;
	s.receiving_ip = rec->receiving_ip;
	s.receiving_helo = rec->receiving_helo;
	s.result = rec->result;
	s.failure_reason = rec->failure_reason;
	s.additional_info = rec->additional_info;
	if (mts_tlsrpt_format(&s, rec->time, rec->policy_hash[0] ?
			      rec->policy_hash : NULL, &line, err,
			      sizeof(err)) < 0) {
		/* Only the addresses are checked harder when writing. */
		FUZZ_ASSERT(strstr(err, "IP") != NULL);
		goto out;
	}
	FUZZ_ASSERT(line.len <= MTS_TLSRPT_RECORD_MAX);
	FUZZ_ASSERT(mts_tlsrpt_parse(line.data, line.len, &again) == 0);
	FUZZ_ASSERT(again.time == rec->time);
	FUZZ_ASSERT(strlen(again.domain) == dotless_len(rec->domain) &&
		    strncasecmp(again.domain, rec->domain,
				strlen(again.domain)) == 0);
	FUZZ_ASSERT(again.policy_type == rec->policy_type);
	FUZZ_ASSERT(again.result == rec->result);
	if (rec->policy_type == MTS_TLSRPT_POLICY_STS)
		FUZZ_ASSERT(strcmp(again.policy_hash, rec->policy_hash) == 0);
	/* The MX name is stored lower case, without one trailing dot. */
	FUZZ_ASSERT((strlen(again.mx_host) == dotless_len(rec->mx_host) &&
		     strncasecmp(again.mx_host, rec->mx_host,
				 strlen(again.mx_host)) == 0) ||
		    escaped_len(rec->mx_host) > MTS_TLSRPT_HOST_MAX);
	same_field(rec->sending_ip, again.sending_ip, MTS_TLSRPT_IP_MAX);
	same_field(rec->receiving_ip, again.receiving_ip, MTS_TLSRPT_IP_MAX);
	same_field(rec->receiving_helo, again.receiving_helo,
		   MTS_TLSRPT_HELO_MAX);
	same_field(rec->failure_reason, again.failure_reason,
		   MTS_TLSRPT_REASON_MAX);
	same_field(rec->additional_info, again.additional_info,
		   MTS_TLSRPT_INFO_MAX);
out:
	mts_buf_free(&line);
}

static void check_spool_line(const uint8_t *data, size_t size)
{
	static struct mts_tlsrpt_rec rec;
	char *line = fuzz_dup(data, size, 0);
	char *fixed = malloc(size + 10);
	char crc[12];

	if (mts_tlsrpt_parse(line, size, &rec) == 0)
		check_record(&rec);
	if (fixed == NULL)
		abort();
	memcpy(fixed, data, size);
	snprintf(crc, sizeof(crc), "\t%08" PRIx32,
		 mts_crc32(0, data, size));
	memcpy(fixed + size, crc, 9);
	if (mts_tlsrpt_parse(fixed, size + 9, &rec) == 0)
		check_record(&rec);
	free(fixed);
	free(line);
}

static void check_txt(const uint8_t *data, size_t size)
{
	struct mts_strlist rua = MTS_STRLIST_INIT;
	char *rec = fuzz_dup(data, size, 0);

	if (mts_tlsrpt_txt_parse(rec, size, &rua) == NULL) {
		FUZZ_ASSERT(mts_tlsrpt_txt_is_tlsrpt(rec, size));
		FUZZ_ASSERT(rua.count >= 1);
		for (size_t i = 0; i < rua.count; i++)
			FUZZ_ASSERT(strncasecmp(rua.item[i], "mailto:", 7) == 0 ||
				    strncasecmp(rua.item[i], "https:", 6) == 0);
	}
	mts_strlist_free(&rua);
	free(rec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 2 * MTS_TLSRPT_RECORD_MAX)
		return 0;
	check_spool_line(data, size);
	check_txt(data, size);
	return 0;
}
