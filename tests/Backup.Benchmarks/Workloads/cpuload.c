/*
 * Guest CPU workload for the execution-core benchmark (tests/Backup.Benchmarks, scenario "cpu").
 * Bare metal, M-mode, QEMU "virt" layout: 16550 UART at 0x10000000, sifive-test/syscon at 0x100000.
 * Each round: CRC-32 (table driven) of a 64 KiB buffer, a greedy LZ77 compression of it (hash chains of
 * one entry, like LZ4's fast mode), an FNV-1a hash of the compressed stream, then a small mutation of the buffer.
 * Prints "cpuload: rounds R checksum XXXXXXXXXXXXXXXX" and powers the machine off (0x5555 to the test device).
 * Built with: riscv64-linux-gnu-gcc -O2 -march=rv64imac -mabi=lp64 -nostdlib -static -ffreestanding
 */
#ifndef ROUNDS
#define ROUNDS 40
#endif

#define N 65536
#define HASH_BITS 12

typedef unsigned long u64;
typedef unsigned int u32;
typedef unsigned char u8;

static u8 input[N];
static u8 output[N + N / 8 + 64];
static u32 crc_table[256];
static u32 hash_table[1 << HASH_BITS];

#include "console.h"

static u64 rng = 0x9E3779B97F4A7C15UL;

static u64 next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static u32 crc32(const u8 *p, u32 n)
{
	u32 c = 0xFFFFFFFFu;
	for (u32 i = 0; i < n; i++)
		c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
	return ~c;
}

static u32 read32(const u8 *p)
{
	return (u32)p[0] | ((u32)p[1] << 8) | ((u32)p[2] << 16) | ((u32)p[3] << 24);
}

static u32 compress(const u8 *in, u32 n, u8 *out)
{
	u32 o = 0, i = 0, literal_start = 0;
	for (u32 k = 0; k < (1u << HASH_BITS); k++)
		hash_table[k] = 0xFFFFFFFFu;
	while (i + 4 <= n) {
		u32 h = (read32(in + i) * 2654435761u) >> (32 - HASH_BITS);
		u32 candidate = hash_table[h];
		hash_table[h] = i;
		if (candidate != 0xFFFFFFFFu && i - candidate < 65535 && read32(in + candidate) == read32(in + i)) {
			u32 len = 4;
			while (i + len < n && in[candidate + len] == in[i + len] && len < 255)
				len++;
			u32 lits = i - literal_start;
			out[o++] = (u8)(lits > 255 ? 255 : lits);
			for (u32 k = 0; k < lits; k++)
				out[o++] = in[literal_start + k];
			out[o++] = (u8)len;
			out[o++] = (u8)(i - candidate);
			out[o++] = (u8)((i - candidate) >> 8);
			i += len;
			literal_start = i;
		} else {
			i++;
		}
	}
	while (literal_start < n)
		out[o++] = in[literal_start++];
	return o;
}

static u64 fnv1a(const u8 *p, u32 n)
{
	u64 h = 0xcbf29ce484222325UL;
	for (u32 i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3UL;
	}
	return h;
}

void cpuload_main(void)
{
	for (u32 i = 0; i < 256; i++) {
		u32 c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}

	static const char words[] = "backup restore snapshot chain block disk guest kernel page ";
	for (u32 i = 0; i < N;) {
		u32 start = (u32)(next() % (sizeof(words) - 8));
		u32 len = 3 + (u32)(next() % 6);
		for (u32 k = 0; k < len && i < N; k++)
			input[i++] = (u8)words[start + k];
		if ((next() & 7) == 0 && i < N)
			input[i++] = (u8)next();
	}

	u64 checksum = 0;
	u64 compressed_total = 0;
	for (int round = 0; round < ROUNDS; round++) {
		u32 crc = crc32(input, N);
		u32 size = compress(input, N, output);
		compressed_total += size;
		checksum = (checksum * 31) ^ crc ^ fnv1a(output, size);
		for (int k = 0; k < 64; k++)
			input[next() % N] = (u8)next();
	}

	puts_("cpuload: rounds ");
	put_u64(ROUNDS, 0);
	puts_(" compressed ");
	put_u64(compressed_total, 0);
	puts_(" checksum ");
	put_u64(checksum, 1);
	puts_("\n");
	*test_device = 0x5555;
	for (;;)
		;
}

u8 cpuload_stack[65536] __attribute__((aligned(16)));

__asm__(
	".pushsection .text.start,\"ax\",@progbits\n"
	".globl _start\n"
	"_start:\n"
	"  la sp, cpuload_stack + 65536\n"
	"  call cpuload_main\n"
	"1: j 1b\n"
	".popsection\n");
