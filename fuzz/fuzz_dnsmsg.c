/*
 * fuzz_dnsmsg.c - libFuzzer target for the shim's DNS answer reader
 *
 * DESCRIPTION
 *	The input is one DNS message as a resolver would return it to the
 *	application (res_query(), the shim's look-up memory reads it).
 *	Invariants:
 *	  - every record lies inside the message, and records move forward,
 *	    so the walk ends after at most len / 11 records;
 *	  - every name given as a host name is at most 253 characters of
 *	    letters, digits, '-', '_' and '.', with no empty label;
 *	  - an MX exchange fills its rdata exactly;
 *	  - mts_dns_name() into a small buffer never writes past it.
 */
#include <stdint.h>

#include "dnsmsg.h"
#include "fuzz.h"

#define DNS_HEADER_LEN 12
#define RR_MIN_LEN 11	/* a root owner and the fixed part */

static void check_host_text(const char *s)
{
	size_t n = strnlen(s, MTS_DNS_NAME_MAX);

	FUZZ_ASSERT(n <= 253);
	if (n == 0)
		return;
	FUZZ_ASSERT(s[0] != '.' && s[n - 1] != '.');
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		FUZZ_ASSERT((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
			    (c == '.' && s[i + 1] != '.'));
	}
}

static void check_small_buffer(const uint8_t *data, size_t size)
{
	char out[40];
	size_t off, outsz, end = (size_t)-1;
	const char *why = NULL;
	int r;

	if (size < 3)
		return;
	off = ((size_t)data[0] << 8 | data[1]) % size;
	outsz = 1 + data[2] % 32;
	memset(out, 'X', sizeof(out));
	r = mts_dns_name(data, size, off, out, outsz, &end, &why);
	FUZZ_ASSERT(r >= -1 && r <= 1);
	for (size_t i = outsz; i < sizeof(out); i++)
		FUZZ_ASSERT(out[i] == 'X');
	if (r < 0) {
		FUZZ_ASSERT(why != NULL);
		return;
	}
	FUZZ_ASSERT(end > off && end <= size);
	FUZZ_ASSERT(memchr(out, '\0', outsz) != NULL);
	if (r == 1)
		check_host_text(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *msg;
	struct mts_dns_msg m;
	struct mts_dns_rr rr;
	size_t records = 0, last_end = 0;
	int r;

	if (size > 65535)
		return 0;
	msg = (unsigned char *)fuzz_dup(data, size, 0);
	check_small_buffer(msg, size);
	if (mts_dns_open(&m, msg, size) < 0) {
		FUZZ_ASSERT(m.error != NULL);
		goto out;
	}
	FUZZ_ASSERT(m.pos >= DNS_HEADER_LEN && m.pos <= size);
	if (m.has_question && m.qname_ok)
		check_host_text(m.qname);
	last_end = m.pos;
	while ((r = mts_dns_next(&m, &rr)) > 0) {
		char host[MTS_DNS_NAME_MAX];
		uint16_t pref;

		FUZZ_ASSERT(++records <= size / RR_MIN_LEN);
		FUZZ_ASSERT(rr.rdoff >= last_end + RR_MIN_LEN - 1);
		FUZZ_ASSERT(rr.rdoff <= size && rr.rdlen <= size - rr.rdoff);
		last_end = rr.rdoff + rr.rdlen;
		FUZZ_ASSERT(m.pos == last_end);
		if (rr.owner_ok)
			check_host_text(rr.owner);
		if (rr.type == MTS_DNS_T_MX) {
			int x = mts_dns_mx(&m, &rr, &pref, host, sizeof(host));

			FUZZ_ASSERT(x >= -1 && x <= 1);
			if (x == 1) {
				FUZZ_ASSERT(host[0] != '\0');
				check_host_text(host);
			}
		}
	}
	FUZZ_ASSERT(r == 0 || m.error != NULL);
out:
	free(msg);
	return 0;
}
