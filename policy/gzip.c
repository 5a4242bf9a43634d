/*
 * gzip.c - a small gzip writer (RFC 1951 deflate, RFC 1952 gzip), no zlib
 *
 * SYNOPSIS
 *	struct mts_buf gz = MTS_BUF_INIT;
 *	if (mts_gzip(json.data, json.len, &gz) < 0) ...
 *
 * DESCRIPTION
 *	Compression is plain greedy LZ77 with fixed Huffman codes, because a
 *	TLSRPT report is a few kilobytes of very repetitive JSON: the field
 *	names and host names repeat, and fixed codes already shrink it to a
 *	fraction. Dynamic Huffman tables would gain little for much code.
 *
 *	Match finder: a hash of the next three bytes indexes head[], the most
 *	recent position with that hash; prev[] (indexed modulo the window)
 *	chains back to older positions with the same hash. At most
 *	CHAIN_LIMIT candidates are compared per position, the longest match
 *	(3..258 bytes, distance 1..32768) wins, and every position a match
 *	covers is entered into the chains so later data can refer to it.
 *	A chain entry that is out of the window, or that a newer position
 *	overwrote in prev[] (it then points forward), ends the walk.
 *
 *	Bits are packed least significant bit first; Huffman codes are
 *	defined most significant bit first, so codes are bit-reversed before
 *	they are packed (RFC 1951 section 3.1.1). Extra bits are packed as
 *	they are.
 *
 *	Stored blocks (at most 65535 bytes each) are the fallback when the
 *	coded stream would be longer than the input: random or already
 *	compressed data never grows by more than 5 bytes per block.
 */
#include "gzip.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW_SIZE 32768u
#define WINDOW_MASK (WINDOW_SIZE - 1)
#define HASH_BITS 15
#define HASH_SIZE (1u << HASH_BITS)
#define MIN_MATCH 3
#define MAX_MATCH 258
#define CHAIN_LIMIT 64
#define STORED_MAX 65535u
#define STAGE_SIZE 4096

/* ---- CRC-32 ---------------------------------------------------------- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_table_init(void)
{
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		crc_table[n] = c;
	}
}

uint32_t mts_crc32(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;

	pthread_once(&crc_once, crc_table_init);
	crc = ~crc;
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* ---- bit writer ------------------------------------------------------ */

struct bitw {
	struct mts_buf *out;
	unsigned char stage[STAGE_SIZE];
	size_t staged;
	uint64_t acc;		/* pending bits, least significant first */
	unsigned nbits;
	int failed;
};

static void stage_byte(struct bitw *w, unsigned char byte)
{
	if (w->staged == sizeof(w->stage)) {
		if (!w->failed &&
		    mts_buf_append(w->out, w->stage, w->staged) < 0)
			w->failed = 1;
		w->staged = 0;
	}
	w->stage[w->staged++] = byte;
}

/* Packs the n (<= 32) low bits of value, least significant first. */
static void put_bits(struct bitw *w, uint32_t value, unsigned n)
{
	w->acc |= (uint64_t)value << w->nbits;
	w->nbits += n;
	while (w->nbits >= 8) {
		stage_byte(w, (unsigned char)(w->acc & 0xff));
		w->acc >>= 8;
		w->nbits -= 8;
	}
}

/* Pads to a byte boundary and hands everything to the buffer. */
static int bitw_finish(struct bitw *w)
{
	if (w->nbits > 0)
		put_bits(w, 0, 8 - w->nbits);
	if (!w->failed && w->staged > 0 &&
	    mts_buf_append(w->out, w->stage, w->staged) < 0)
		w->failed = 1;
	w->staged = 0;
	return w->failed ? -1 : 0;
}

static uint32_t reverse_bits(uint32_t code, unsigned n)
{
	uint32_t r = 0;

	for (unsigned i = 0; i < n; i++) {
		r = (r << 1) | (code & 1);
		code >>= 1;
	}
	return r;
}

/* Fixed literal/length code of symbol 0..287 (RFC 1951 3.2.6). */
static void put_litlen(struct bitw *w, unsigned sym)
{
	uint32_t code;
	unsigned n;

	if (sym <= 143) {
		code = 0x30 + sym;
		n = 8;
	} else if (sym <= 255) {
		code = 0x190 + (sym - 144);
		n = 9;
	} else if (sym <= 279) {
		code = sym - 256;
		n = 7;
	} else {
		code = 0xC0 + (sym - 280);
		n = 8;
	}
	put_bits(w, reverse_bits(code, n), n);
}

static const uint16_t len_base[29] = {
	3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
	35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
};
static const uint8_t len_extra[29] = {
	0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
	3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
};
static const uint16_t dist_base[30] = {
	1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
	257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289,
	16385, 24577,
};
static const uint8_t dist_extra[30] = {
	0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
	7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
};

/* Length 3..258 and distance 1..32768 as codes plus extra bits. */
static void put_match(struct bitw *w, unsigned len, unsigned dist)
{
	unsigned i = 28, d = 29;

	while (len_base[i] > len)
		i--;
	put_litlen(w, 257 + i);
	put_bits(w, len - len_base[i], len_extra[i]);
	while (dist_base[d] > dist)
		d--;
	put_bits(w, reverse_bits(d, 5), 5);	/* fixed 5-bit distance codes */
	put_bits(w, dist - dist_base[d], dist_extra[d]);
}

/* ---- LZ77 ------------------------------------------------------------ */

struct matcher {
	const unsigned char *in;
	size_t len;
	int32_t *head;		/* HASH_SIZE entries, -1 = empty */
	int32_t *prev;		/* WINDOW_SIZE entries */
};

static unsigned hash3(const unsigned char *p)
{
	uint32_t h = ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];

	return (h * 2654435761u) >> (32 - HASH_BITS);
}

static void insert_pos(struct matcher *m, size_t pos)
{
	unsigned h;

	if (pos + MIN_MATCH > m->len)
		return;
	h = hash3(m->in + pos);
	m->prev[pos & WINDOW_MASK] = m->head[h];
	m->head[h] = (int32_t)pos;
}

/* Longest earlier match for pos; returns its length (0 if < MIN_MATCH). */
static unsigned longest_match(const struct matcher *m, size_t pos,
			      unsigned *dist)
{
	size_t limit = m->len - pos < MAX_MATCH ? m->len - pos : MAX_MATCH;
	unsigned best = 0;
	int32_t cand;

	if (limit < MIN_MATCH)
		return 0;
	cand = m->head[hash3(m->in + pos)];
	for (int chain = 0; cand >= 0 && chain < CHAIN_LIMIT; chain++) {
		size_t c = (size_t)cand, n = 0;
		int32_t next;

		if (c >= pos || pos - c > WINDOW_SIZE)
			break;
		while (n < limit && m->in[c + n] == m->in[pos + n])
			n++;
		if (n > best) {
			best = (unsigned)n;
			*dist = (unsigned)(pos - c);
			if (n == limit)
				break;
		}
		next = m->prev[c & WINDOW_MASK];
		if (next >= cand)	/* slot reused by a newer position */
			break;
		cand = next;
	}
	return best >= MIN_MATCH ? best : 0;
}

/* One final block with fixed Huffman codes. */
static int deflate_fixed(const unsigned char *in, size_t len,
			 struct mts_buf *out)
{
	struct matcher m = { in, len, NULL, NULL };
	struct bitw *w;
	size_t pos = 0;
	int rc = -1;

	w = calloc(1, sizeof(*w));
	m.head = malloc(HASH_SIZE * sizeof(*m.head));
	m.prev = malloc(WINDOW_SIZE * sizeof(*m.prev));
	if (w == NULL || m.head == NULL || m.prev == NULL) {
		errno = ENOMEM;
		goto out;
	}
	memset(m.head, 0xff, HASH_SIZE * sizeof(*m.head));	/* all -1 */
	memset(m.prev, 0xff, WINDOW_SIZE * sizeof(*m.prev));
	w->out = out;
	put_bits(w, 1, 1);	/* BFINAL */
	put_bits(w, 1, 2);	/* BTYPE 01: fixed Huffman codes */
	while (pos < len) {
		unsigned dist = 0, n = longest_match(&m, pos, &dist);

		if (n == 0) {
			put_litlen(w, in[pos]);
			insert_pos(&m, pos);
			pos++;
			continue;
		}
		put_match(w, n, dist);
		for (unsigned i = 0; i < n; i++)
			insert_pos(&m, pos + i);
		pos += n;
	}
	put_litlen(w, 256);	/* end of block */
	rc = bitw_finish(w);
out:
	free(m.head);
	free(m.prev);
	free(w);
	return rc;
}

/* Stored blocks of at most 65535 bytes; at least one (final) block. */
static int deflate_stored(const unsigned char *in, size_t len,
			  struct mts_buf *out)
{
	size_t pos = 0;

	do {
		size_t n = len - pos < STORED_MAX ? len - pos : STORED_MAX;
		unsigned char hdr[5];

		hdr[0] = pos + n == len ? 1 : 0;	/* BFINAL, BTYPE 00 */
		hdr[1] = (unsigned char)(n & 0xff);
		hdr[2] = (unsigned char)(n >> 8);
		hdr[3] = (unsigned char)(~n & 0xff);
		hdr[4] = (unsigned char)((~n >> 8) & 0xff);
		if (mts_buf_append(out, hdr, sizeof(hdr)) < 0 ||
		    mts_buf_append(out, in + pos, n) < 0)
			return -1;
		pos += n;
	} while (pos < len);
	return 0;
}

static size_t stored_size(size_t len)
{
	size_t blocks = len / STORED_MAX + (len % STORED_MAX ? 1 : 0);

	return len + 5 * (blocks ? blocks : 1);
}

int mts_deflate(const void *in, size_t len, struct mts_buf *out)
{
	struct mts_buf coded = MTS_BUF_INIT;
	size_t saved = out->len;
	int rc;

	if (len > MTS_BUF_MAX) {
		errno = EOVERFLOW;
		return -1;
	}
	if (deflate_fixed(in, len, &coded) == 0 &&
	    coded.len <= stored_size(len))
		rc = mts_buf_append(out, coded.data, coded.len);
	else
		rc = deflate_stored(in, len, out);
	mts_buf_free(&coded);
	if (rc < 0 && out->data != NULL) {
		out->len = saved;
		out->data[saved] = '\0';
	}
	return rc;
}

static void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v & 0xff);
	p[1] = (unsigned char)((v >> 8) & 0xff);
	p[2] = (unsigned char)((v >> 16) & 0xff);
	p[3] = (unsigned char)((v >> 24) & 0xff);
}

int mts_gzip(const void *in, size_t len, struct mts_buf *out)
{
	/* ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=255 (unknown) */
	static const unsigned char header[10] = {
		0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255,
	};
	unsigned char trailer[8];
	size_t saved = out->len;

	put_le32(trailer, mts_crc32(0, in, len));
	put_le32(trailer + 4, (uint32_t)(len & 0xffffffffu));
	if (mts_buf_append(out, header, sizeof(header)) < 0 ||
	    mts_deflate(in, len, out) < 0 ||
	    mts_buf_append(out, trailer, sizeof(trailer)) < 0) {
		if (out->data != NULL) {
			out->len = saved;
			out->data[saved] = '\0';
		}
		return -1;
	}
	return 0;
}
