/*
 * gzip.h - a small gzip writer (RFC 1951 deflate, RFC 1952 gzip), no zlib
 *
 * SYNOPSIS
 *	struct mts_buf gz = MTS_BUF_INIT;
 *	if (mts_gzip(json.data, json.len, &gz) < 0) ...
 *
 * DESCRIPTION
 *	TLSRPT reports are sent as application/tlsrpt+gzip (RFC 8460 5.3,
 *	5.4). The project's fixed dependencies do not include zlib, so this
 *	module compresses on its own: LZ77 with a hash-chain match finder
 *	over the 32 KiB window, coded with the fixed Huffman codes of RFC
 *	1951 section 3.2.6. When that would be larger than the input, the
 *	data goes out as stored blocks instead, so the output is never more
 *	than a few bytes per 64 KiB larger than the input.
 *
 *	mts_gzip() appends one complete gzip member to out: the 10-byte
 *	header (no name, no time stamp, OS "unknown"), the deflate stream
 *	(one final block, or stored blocks), the CRC-32 and the input length
 *	modulo 2^32. Any gzip reader (gzip -d, Python's gzip module) reads it.
 *
 *	mts_crc32() is the CRC-32 of ISO 3309 / ITU-T V.42 used by gzip:
 *	start with crc = 0 and feed the result back for the next piece.
 *
 * DIAGNOSTICS
 *	mts_gzip() returns 0, or -1 (out of memory, or the input or output
 *	over MTS_BUF_MAX) with out left as it was before the call.
 */
#ifndef MTS_GZIP_H
#define MTS_GZIP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

uint32_t mts_crc32(uint32_t crc, const void *data, size_t len);

int mts_gzip(const void *in, size_t len, struct mts_buf *out);

/* The raw deflate stream of in (no gzip framing), appended to out.
 * Exposed for tests. Same return convention as mts_gzip(). */
int mts_deflate(const void *in, size_t len, struct mts_buf *out);

#endif
