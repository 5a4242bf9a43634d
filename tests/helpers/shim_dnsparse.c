/*
 * shim_dnsparse.c - drive the shim's DNS message reader (shim/dnsmsg.c)
 *
 * SYNOPSIS
 *	shim_dnsparse < message          one binary DNS message
 *	shim_dnsparse -f FILE            many: each a 2-byte big-endian
 *	                                 length, then that many bytes
 *
 * DESCRIPTION
 *	Prints what the shim would read from a resolver answer, one line
 *	each: "question NAME TYPE" (or "question -" when the name is not a
 *	host name), "rr SECTION OWNER TYPE [mx PREF HOST | a ADDR]", and
 *	"end" or "error: TEXT". With -f only a summary line per message is
 *	printed ("N records, end|error"). The reader is compiled in from the
 *	shim's own source, so this is also the harness a fuzzer can use.
 */
#include "../../shim/dnsmsg.c"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_MAX 65535

static int parse(const unsigned char *msg, size_t len, int verbose)
{
	struct mts_dns_msg m;
	struct mts_dns_rr rr;
	int r, n = 0;

	if (mts_dns_open(&m, msg, len) < 0) {
		printf("error: %s\n", m.error);
		return -1;
	}
	if (verbose && m.has_question)
		printf("question %s %u\n", m.qname_ok ? m.qname : "-", m.qtype);
	while ((r = mts_dns_next(&m, &rr)) > 0) {
		char host[MTS_DNS_NAME_MAX], addr[INET6_ADDRSTRLEN];
		uint16_t pref;

		n++;
		if (!verbose)
			continue;
		printf("rr %d %s %u", (int)rr.section,
		       rr.owner_ok ? rr.owner : "-", rr.type);
		if (rr.type == MTS_DNS_T_MX) {
			int x = mts_dns_mx(&m, &rr, &pref, host, sizeof(host));

			if (x < 0)
				printf(" mx error: %s", m.error);
			else
				printf(" mx %u %s", pref, x == 1 ? host : "-");
		} else if ((rr.type == MTS_DNS_T_A && rr.rdlen == 4) ||
			   (rr.type == MTS_DNS_T_AAAA && rr.rdlen == 16)) {
			inet_ntop(rr.type == MTS_DNS_T_A ? AF_INET : AF_INET6,
				  m.msg + rr.rdoff, addr, sizeof(addr));
			printf(" a %s", addr);
		}
		printf("\n");
	}
	if (verbose)
		printf(r < 0 ? "error: %s\n" : "end\n", r < 0 ? m.error : "");
	else
		printf("%d records, %s\n", n, r < 0 ? "error" : "end");
	return r;
}

int main(int argc, char **argv)
{
	static unsigned char buf[MSG_MAX];
	size_t len;

	if (argc == 3 && strcmp(argv[1], "-f") == 0) {
		FILE *f = fopen(argv[2], "rb");
		unsigned char hdr[2];

		if (f == NULL) {
			perror(argv[2]);
			return 2;
		}
		while (fread(hdr, 1, 2, f) == 2) {
			len = (size_t)hdr[0] << 8 | hdr[1];
			if (fread(buf, 1, len, f) != len)
				break;
			/* Exactly len bytes on the heap: ASan sees any
			 * read past the message. */
			unsigned char *copy = malloc(len ? len : 1);

			if (copy == NULL)
				return 2;
			memcpy(copy, buf, len);
			parse(copy, len, 0);
			free(copy);
		}
		fclose(f);
		return 0;
	}
	len = fread(buf, 1, sizeof(buf), stdin);
	parse(buf, len, 1);
	return 0;
}
