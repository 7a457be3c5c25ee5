/*
 * The workload's row format, shared by guest-workload (writer) and
 * guest-agent (checker).  Documented in docs/guest.md ("Workload").
 *
 *   CREATE TABLE rows(seq INTEGER PRIMARY KEY,
 *                     payload BLOB NOT NULL,
 *                     checksum INTEGER NOT NULL)
 *
 * payload:  64..512 bytes, a pure function of seq (row_payload below):
 *           x = splitmix64 state seeded with seq; len = 64 + next(x) % 449;
 *           then the bytes of successive next(x) values, little-endian,
 *           truncated to len.
 * checksum: FNV-1a 64 over the 8 bytes of seq (little-endian, two's
 *           complement) followed by the payload bytes; stored as the signed
 *           64-bit integer with the same bit pattern.
 */
#ifndef ROWDEF_H
#define ROWDEF_H

#include <stddef.h>
#include <stdint.h>

#define ROW_TABLE_SQL                                                     \
	"CREATE TABLE IF NOT EXISTS rows(seq INTEGER PRIMARY KEY, "       \
	"payload BLOB NOT NULL, checksum INTEGER NOT NULL)"

#define ROW_PAYLOAD_MIN 64u
#define ROW_PAYLOAD_MAX 512u

#define FNV64_OFFSET 0xcbf29ce484222325ull
#define FNV64_PRIME  0x00000100000001b3ull

static inline uint64_t row_checksum(int64_t seq, const unsigned char *p, size_t n)
{
	uint64_t h = FNV64_OFFSET;
	uint64_t s = (uint64_t)seq;
	size_t i;

	for (i = 0; i < 8; i++) {
		h ^= (unsigned char)(s >> (8 * i));
		h *= FNV64_PRIME;
	}
	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= FNV64_PRIME;
	}
	return h;
}

static inline uint64_t splitmix64_next(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Fills buf (at least ROW_PAYLOAD_MAX bytes) with the payload of seq; returns its length. */
static inline size_t row_payload(int64_t seq, unsigned char *buf)
{
	uint64_t x = (uint64_t)seq;
	size_t len = ROW_PAYLOAD_MIN + (size_t)(splitmix64_next(&x) % (ROW_PAYLOAD_MAX - ROW_PAYLOAD_MIN + 1));
	size_t i = 0;

	while (i < len) {
		uint64_t v = splitmix64_next(&x);
		int b;

		for (b = 0; b < 8 && i < len; b++)
			buf[i++] = (unsigned char)(v >> (8 * b));
	}
	return len;
}

#endif
