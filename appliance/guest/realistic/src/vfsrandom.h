/*
 * SQLite seeds its PRNG (WAL salts, temp names) through the VFS's
 * xRandomness, which for the unix VFS reads /dev/urandom.  On Linux 6.1 a
 * read of /dev/urandom before the kernel's RNG is initialised first runs the
 * jitter-entropy loop (try_to_generate_entropy), which under emulation took
 * ~2.5 s of the boot.  getrandom(GRND_INSECURE) neither blocks nor runs that
 * loop, so the default VFS is replaced by a copy whose xRandomness uses it
 * (falling back to the original method).  Call before opening a database.
 */
#ifndef VFSRANDOM_H
#define VFSRANDOM_H

#include <errno.h>
#include <sys/random.h>
#include <unistd.h>

#include "sqlite3.h"

#ifndef GRND_INSECURE
#define GRND_INSECURE 0x0004
#endif

static int (*vfsrandom_orig)(sqlite3_vfs *, int, char *);

static int vfsrandom_x(sqlite3_vfs *vfs, int n, char *out)
{
	int got = 0;

	while (got < n) {
		ssize_t r = getrandom(out + got, (size_t)(n - got), GRND_INSECURE);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return vfsrandom_orig(vfs, n, out);
		got += (int)r;
	}
	return n;
}

static void vfsrandom_install(void)
{
	static sqlite3_vfs copy;
	sqlite3_vfs *def;

	sqlite3_initialize();
	def = sqlite3_vfs_find(NULL);
	if (!def || vfsrandom_orig)
		return;
	copy = *def;
	copy.zName = "unix-getrandom";
	vfsrandom_orig = def->xRandomness;
	copy.xRandomness = vfsrandom_x;
	sqlite3_vfs_register(&copy, 1);
}

#endif
