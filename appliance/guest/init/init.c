/*
 * PID 1 of the appliance's first guest.
 *
 * Built with the Linux kernel's own nolibc (tools/include/nolibc), static,
 * -march=rv64imac -mabi=lp64 (no FP instructions); see appliance/guest/build.
 * Behaviour and kernel command-line knobs are documented in docs/guest.md:
 *
 *   guest.heartbeat=N  print "guest: heartbeat K" every N seconds (0 = off, the default)
 *   guest.disktest=0|1 block write/read-back test on /dev/vda (default: on if /dev/vda exists)
 *   guest.poweroff=K   power off after K heartbeats (K=0: right after the disk test)
 *
 * Every line goes to /dev/console in a single write() so that it is not torn
 * apart by kernel messages.  PID 1 never exits (that would panic the kernel).
 */

#ifndef O_DIRECT
#define O_DIRECT 0x4000 /* asm-generic value, used by riscv */
#endif

#define DISK_PATH        "/dev/vda"
#define DISK_SECTOR      1u                     /* block offset: sector 1 */
#define DISK_BLOCK       512u                   /* block size in bytes */
#define DISK_OFFSET      (DISK_SECTOR * DISK_BLOCK) /* = 512 */
#define DISK_MAGIC       "guest-block-v1"
#define DISK_HEADER      64u                    /* ASCII header, then a byte pattern */

/* ---------------------------------------------------------------- output */

struct line {
	char buf[256];
	unsigned int len;
};

static void l_str(struct line *l, const char *s)
{
	while (*s && l->len < sizeof(l->buf) - 1)
		l->buf[l->len++] = *s++;
}

static void l_u64(struct line *l, unsigned long long v)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n && l->len < sizeof(l->buf) - 1)
		l->buf[l->len++] = tmp[--n];
}

static void l_emit(struct line *l)
{
	l->buf[l->len++] = '\n';
	(void)write(1, l->buf, l->len);
}

static void say(const char *a)
{
	struct line l = { .len = 0 };

	l_str(&l, "guest: ");
	l_str(&l, a);
	l_emit(&l);
}

static void say_u(const char *a, unsigned long long v)
{
	struct line l = { .len = 0 };

	l_str(&l, "guest: ");
	l_str(&l, a);
	l_u64(&l, v);
	l_emit(&l);
}

static const char *errname(int e)
{
	switch (e) {
	case EPERM:   return "EPERM";
	case ENOENT:  return "ENOENT";
	case EIO:     return "EIO";
	case ENXIO:   return "ENXIO";
	case EBADF:   return "EBADF";
	case ENOMEM:  return "ENOMEM";
	case EACCES:  return "EACCES";
	case EFAULT:  return "EFAULT";
	case EBUSY:   return "EBUSY";
	case EEXIST:  return "EEXIST";
	case ENODEV:  return "ENODEV";
	case ENOTDIR: return "ENOTDIR";
	case EINVAL:  return "EINVAL";
	case ENOTTY:  return "ENOTTY";
	case ENOSPC:  return "ENOSPC";
	case EROFS:   return "EROFS";
	case ENOSYS:  return "ENOSYS";
	default:      return "errno";
	}
}

/* "guest: <what> FAILED <reason>: <ERRNAME> (<n>)" */
static void say_err(const char *what, const char *reason, int e)
{
	struct line l = { .len = 0 };

	l_str(&l, "guest: ");
	l_str(&l, what);
	l_str(&l, " FAILED ");
	l_str(&l, reason);
	if (e) {
		l_str(&l, ": ");
		l_str(&l, errname(e));
		l_str(&l, " (");
		l_u64(&l, (unsigned long long)e);
		l_str(&l, ")");
	}
	l_emit(&l);
}

/* ---------------------------------------------------------------- setup */

static void setup_console(void)
{
	int fd;

	/* The kernel opens /dev/console as fd 0/1/2 when it exists in the
	 * initramfs. If it could not, try again ourselves (needs /dev mounted). */
	if (write(1, "", 0) == 0)
		return;
	fd = open("/dev/console", O_RDWR | O_NOCTTY, 0);
	if (fd < 0)
		return; /* nowhere to report to */
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

static void mount_fs(const char *src, const char *dir, const char *type)
{
	if (mount(src, dir, type, 0, 0) == 0 || errno == EBUSY)
		return; /* EBUSY: already mounted (e.g. devtmpfs automount) */
	mkdir(dir, 0755);
	if (mount(src, dir, type, 0, 0) == 0 || errno == EBUSY)
		return;
	{
		struct line l = { .len = 0 };

		l_str(&l, "mount ");
		l_str(&l, type);
		l_str(&l, " on ");
		l_str(&l, dir);
		say_err(l.buf, "", errno); /* keeps going: report and continue */
	}
}

/* ---------------------------------------------------------------- cmdline */

static char cmdline[4096];

/* Returns the value of "name=" in /proc/cmdline as a number, or dflt when
 * absent; *present is set when the knob is given. */
static long knob(const char *name, long dflt, int *present)
{
	size_t n = strlen(name);
	const char *p = cmdline;

	if (present)
		*present = 0;
	while (*p) {
		while (*p == ' ' || *p == '\n' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (strncmp(p, name, n) == 0 && p[n] == '=') {
			const char *v = p + n + 1;
			long r = 0;
			int digits = 0;

			while (*v >= '0' && *v <= '9') {
				r = r * 10 + (*v++ - '0');
				digits++;
			}
			if (!digits || (*v && *v != ' ' && *v != '\n')) {
				struct line l = { .len = 0 };

				l_str(&l, "guest: ignoring malformed knob ");
				l_str(&l, name);
				l_emit(&l);
				return dflt;
			}
			if (present)
				*present = 1;
			dflt = r; /* last occurrence wins, like the kernel */
		}
		while (*p && *p != ' ' && *p != '\n' && *p != '\t')
			p++;
	}
	return dflt;
}

static void read_cmdline(void)
{
	int fd = open("/proc/cmdline", O_RDONLY, 0);
	ssize_t n = -1;

	if (fd >= 0) {
		n = read(fd, cmdline, sizeof(cmdline) - 1);
		close(fd);
	}
	if (n < 0) {
		say_err("read /proc/cmdline", "", errno);
		n = 0;
	}
	cmdline[n] = 0;
}

/* ---------------------------------------------------------------- disk */

static unsigned char wbuf[DISK_BLOCK] __attribute__((aligned(4096)));
static unsigned char rbuf[DISK_BLOCK] __attribute__((aligned(4096)));

static unsigned int current_cpu(void)
{
	unsigned int cpu = 0;

#ifdef __NR_getcpu
	if (my_syscall3(__NR_getcpu, &cpu, 0, 0) != 0)
		cpu = 0;
#endif
	return cpu;
}

/* Sequence number stored by a previous boot, or 0. */
static unsigned long prev_seq(const unsigned char *b)
{
	const char *key = DISK_MAGIC " seq=";
	size_t n = strlen(key);
	unsigned long v = 0;
	unsigned int i;

	if (memcmp(b, key, n) != 0)
		return 0;
	for (i = n; i < DISK_HEADER && b[i] >= '0' && b[i] <= '9'; i++)
		v = v * 10 + (b[i] - '0');
	return v;
}

/*
 * Block layout (512 bytes at byte offset 512 = sector 1 of /dev/vda):
 *   0..63   ASCII "guest-block-v1 seq=<10 digits> cpu=<hart> " padded with
 *           spaces, byte 63 = '\n'
 *   64..511 byte i = (i & 0xff), i.e. 0x40 0x41 ... 0xff 0x00 ... 0xff
 */
static void fill_block(unsigned long seq, unsigned int cpu)
{
	struct line l = { .len = 0 };
	unsigned int i;
	char digits[11];

	l_str(&l, DISK_MAGIC " seq=");
	for (i = 0; i < 10; i++) {          /* fixed width, zero padded */
		digits[9 - i] = (char)('0' + seq % 10);
		seq /= 10;
	}
	digits[10] = 0;
	l_str(&l, digits);
	l_str(&l, " cpu=");
	l_u64(&l, cpu);
	for (i = 0; i < DISK_HEADER - 1; i++)
		wbuf[i] = i < l.len ? (unsigned char)l.buf[i] : ' ';
	wbuf[DISK_HEADER - 1] = '\n';
	for (i = DISK_HEADER; i < DISK_BLOCK; i++)
		wbuf[i] = (unsigned char)(i & 0xff);
}

static int read_block(int fd, unsigned char *buf, const char **why)
{
	ssize_t n;

	if (lseek(fd, DISK_OFFSET, SEEK_SET) != (off_t)DISK_OFFSET) {
		*why = "seek";
		return -1;
	}
	n = read(fd, buf, DISK_BLOCK);
	if (n != (ssize_t)DISK_BLOCK) {
		*why = n < 0 ? "read" : "short read";
		if (n >= 0)
			errno = 0;
		return -1;
	}
	return 0;
}

static void disk_test(int requested)
{
	unsigned long long size = 0;
	const char *why = "";
	unsigned long seq;
	int fd, direct = 1;

	fd = open(DISK_PATH, O_RDWR, 0);
	if (fd < 0) {
		if (errno == ENOENT && !requested) {
			say("no disk (" DISK_PATH " absent), disk test skipped");
			return;
		}
		say_err("disk write", "open " DISK_PATH, errno);
		return;
	}

	if (ioctl(fd, BLKGETSIZE64, &size) < 0) {
		say_err("disk size", "BLKGETSIZE64", errno);
		size = 0;
	} else {
		say_u("disk size ", size);
	}
	if (size && size < DISK_OFFSET + DISK_BLOCK) {
		say_err("disk write", "disk smaller than 1024 bytes", 0);
		close(fd);
		return;
	}

	/* Previous block, for the boot sequence number (garbage -> 0). */
	seq = read_block(fd, rbuf, &why) == 0 ? prev_seq(rbuf) : 0;
	fill_block(seq + 1, current_cpu());

	if (lseek(fd, DISK_OFFSET, SEEK_SET) != (off_t)DISK_OFFSET) {
		say_err("disk write", "seek", errno);
		close(fd);
		return;
	}
	{
		ssize_t n = write(fd, wbuf, DISK_BLOCK);

		if (n != (ssize_t)DISK_BLOCK) {
			say_err("disk write", n < 0 ? "write" : "short write", n < 0 ? errno : 0);
			close(fd);
			return;
		}
	}
	if (fsync(fd) < 0) {
		say_err("disk write", "fsync", errno);
		close(fd);
		return;
	}
	/* Drop this device's page cache so the read-back comes from the disk. */
	if (ioctl(fd, BLKFLSBUF, 0) < 0)
		say_err("BLKFLSBUF", "(continuing)", errno);
	close(fd);

	/* Re-open and read back, bypassing the page cache when O_DIRECT works. */
	fd = open(DISK_PATH, O_RDONLY | O_DIRECT, 0);
	if (fd < 0) {
		direct = 0;
		fd = open(DISK_PATH, O_RDONLY, 0);
	}
	if (fd < 0) {
		say_err("disk write", "re-open " DISK_PATH, errno);
		return;
	}
	memset(rbuf, 0, sizeof(rbuf));
	if (read_block(fd, rbuf, &why) < 0) {
		say_err("disk write", why, errno);
		close(fd);
		return;
	}
	close(fd);
	if (memcmp(rbuf, wbuf, DISK_BLOCK) != 0) {
		say_err("disk write", "read-back mismatch", 0);
		return;
	}
	say(direct ? "disk write ok" : "disk write ok (read back without O_DIRECT)");
	say_u("disk seq ", seq + 1);
}

/* ---------------------------------------------------------------- main */

static void power_off(void)
{
	say("poweroff");
	(void)my_syscall0(__NR_sync);
	reboot(LINUX_REBOOT_CMD_POWER_OFF);
	say_err("poweroff", "reboot(POWER_OFF)", errno);
	for (;;) /* PID 1 must not exit */
		sleep(3600);
}

int main(void)
{
	long heartbeat, poweroff, disktest;
	int have_poweroff, have_disktest;
	unsigned long beat = 0;

	setup_console();
	mount_fs("devtmpfs", "/dev", "devtmpfs");
	setup_console();
	mount_fs("proc", "/proc", "proc");
	mount_fs("sysfs", "/sys", "sysfs");
	read_cmdline();

	heartbeat = knob("guest.heartbeat", 0, 0);
	poweroff  = knob("guest.poweroff", -1, &have_poweroff);
	disktest  = knob("guest.disktest", 1, &have_disktest);

	say("ready");

	if (disktest)
		disk_test(have_disktest);
	else
		say("disk test disabled (guest.disktest=0)");

	if (have_poweroff && poweroff == 0)
		power_off();

	for (;;) {
		if (heartbeat > 0) {
			sleep((unsigned int)heartbeat);
			beat++;
			say_u("heartbeat ", beat);
			if (have_poweroff && beat >= (unsigned long)poweroff)
				power_off();
		} else if (have_poweroff) {
			/* No heartbeat to count: K counts silent seconds. */
			sleep((unsigned int)poweroff);
			power_off();
		} else {
			sleep(3600);
		}
	}
	return 0;
}
