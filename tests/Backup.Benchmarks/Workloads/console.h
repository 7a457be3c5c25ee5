/*
 * The benchmark workloads' console and power-off on QEMU's "virt" layout, shared by cpuload.c and fpload.c:
 * 16550 UART at 0x10000000 (polled), sifive-test/syscon at 0x100000. Include after the u8/u32/u64 typedefs.
 */
static volatile u8 *const uart = (volatile u8 *)0x10000000UL;
static volatile u32 *const test_device = (volatile u32 *)0x100000UL;

static void put(char c)
{
	while ((uart[5] & 0x20) == 0)
		;
	uart[0] = (u8)c;
}

static void puts_(const char *s)
{
	while (*s)
		put(*s++);
}

static void put_u64(u64 v, int hex)
{
	char digits[20];
	int n = 0;
	if (hex) {
		for (int i = 15; i >= 0; i--)
			put("0123456789abcdef"[(v >> (4 * i)) & 15]);
		return;
	}
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		put(digits[--n]);
}
