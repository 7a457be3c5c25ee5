/*
 * FP guest workload for the execution-core benchmark (tests/Backup.Benchmarks, scenario "fpload").
 * Bare metal, M-mode, QEMU "virt" layout: 16550 UART at 0x10000000, sifive-test/syscon at 0x100000.
 * Each round: a 48x48 double matrix multiply, a 1024-point radix-2 complex FFT and its inverse (doubles), and a
 * single-precision dot product with sqrt; the bits of the results feed an FNV-1a checksum, so any rounding
 * difference between machines changes the line "fpload: rounds R checksum XXXXXXXXXXXXXXXX".
 * Built with: riscv64-linux-gnu-gcc -O2 -march=rv64gc -mabi=lp64d -nostdlib -static -ffreestanding
 */
#ifndef ROUNDS
#define ROUNDS 10
#endif

#define M 48
#define FFT_N 1024

typedef unsigned long u64;
typedef unsigned int u32;
typedef unsigned char u8;

static double a[M][M], b[M][M], c[M][M];
static double re[FFT_N], im[FFT_N], twr[FFT_N / 2], twi[FFT_N / 2];
static float xs[4096], ys[4096];

#include "console.h"

static u64 hash = 0xcbf29ce484222325UL;

static void mix(u64 v)
{
	for (int i = 0; i < 8; i++) {
		hash ^= (v >> (8 * i)) & 0xFF;
		hash *= 0x100000001b3UL;
	}
}

static u64 bits(double d)
{
	union { double d; u64 u; } x = { .d = d };
	return x.u;
}

/* sin and cos by Taylor series after range reduction to [-pi/4, pi/4]: FP adds, multiplies and divides only. */
static void sincos_(double x, double *s, double *c)
{
	const double pi = 3.14159265358979323846;
	int q = (int)(x / (pi / 2) + (x >= 0 ? 0.5 : -0.5));
	double r = x - q * (pi / 2), r2 = r * r;
	double sn = r * (1 - r2 / 6 * (1 - r2 / 20 * (1 - r2 / 42 * (1 - r2 / 72 * (1 - r2 / 110)))));
	double cs = 1 - r2 / 2 * (1 - r2 / 12 * (1 - r2 / 30 * (1 - r2 / 56 * (1 - r2 / 90))));
	switch (q & 3) {
	case 0: *s = sn; *c = cs; break;
	case 1: *s = cs; *c = -sn; break;
	case 2: *s = -sn; *c = -cs; break;
	default: *s = -cs; *c = sn; break;
	}
}

static void fft(int inverse)
{
	for (u32 i = 1, j = 0; i < FFT_N; i++) {
		u32 bit = FFT_N >> 1;
		for (; j & bit; bit >>= 1)
			j ^= bit;
		j ^= bit;
		if (i < j) {
			double t = re[i]; re[i] = re[j]; re[j] = t;
			t = im[i]; im[i] = im[j]; im[j] = t;
		}
	}
	for (u32 len = 2; len <= FFT_N; len <<= 1) {
		u32 step = FFT_N / len;
		for (u32 i = 0; i < FFT_N; i += len) {
			for (u32 k = 0; k < len / 2; k++) {
				double wr = twr[k * step], wi = inverse ? -twi[k * step] : twi[k * step];
				u32 p = i + k, q = i + k + len / 2;
				double xr = re[q] * wr - im[q] * wi, xi = re[q] * wi + im[q] * wr;
				re[q] = re[p] - xr; im[q] = im[p] - xi;
				re[p] += xr; im[p] += xi;
			}
		}
	}
	if (inverse)
		for (u32 i = 0; i < FFT_N; i++) {
			re[i] /= FFT_N;
			im[i] /= FFT_N;
		}
}

void fpload_main(void)
{
	const double pi = 3.14159265358979323846;
	for (int i = 0; i < FFT_N / 2; i++)
		sincos_(-2 * pi * i / FFT_N, &twi[i], &twr[i]);
	for (int i = 0; i < M; i++)
		for (int j = 0; j < M; j++) {
			a[i][j] = (double)(i * M + j) / (M * M) - 0.5;
			b[i][j] = (double)((i + 3 * j) % M) / M + 0.25;
		}
	for (int i = 0; i < 4096; i++) {
		xs[i] = (float)i / 4096.0f;
		ys[i] = 1.0f - (float)i / 8192.0f;
	}

	for (int round = 0; round < ROUNDS; round++) {
		for (int i = 0; i < M; i++)
			for (int j = 0; j < M; j++) {
				double s = 0;
				for (int k = 0; k < M; k++)
					s += a[i][k] * b[k][j];
				c[i][j] = s;
			}
		for (int i = 0; i < M; i++) {
			mix(bits(c[i][i]));
			a[i][(i + round) % M] += c[i][M - 1 - i] * 1e-3;
		}

		for (int i = 0; i < FFT_N; i++) {
			re[i] = c[i % M][(i / M) % M] + round;
			im[i] = (double)i / FFT_N;
		}
		fft(0);
		mix(bits(re[1])); mix(bits(im[FFT_N - 1]));
		fft(1);
		mix(bits(re[FFT_N / 3])); mix(bits(im[7]));

		float dot = 0;
		for (int i = 0; i < 4096; i++)
			dot += xs[i] * ys[i];
		dot = __builtin_sqrtf(dot) + (float)round;
		union { float f; u32 u; } d = { .f = dot };
		mix(d.u);
		mix((u64)(long)(c[round % M][0] * 1e6));
	}

	puts_("fpload: rounds ");
	put_u64(ROUNDS, 0);
	puts_(" checksum ");
	put_u64(hash, 1);
	put('\n');
	*test_device = 0x5555;
	for (;;)
		;
}

__asm__(
	".pushsection .text.start, \"ax\"\n"
	".globl _start\n"
	"_start:\n"
	"  li t0, 0x2000\n"
	"  csrs mstatus, t0\n"
	"  la sp, __stack_top\n"
	"  call fpload_main\n"
	"1: j 1b\n"
	".popsection\n"
	".pushsection .bss\n"
	".balign 16\n"
	".space 65536\n"
	"__stack_top:\n"
	".popsection\n");
