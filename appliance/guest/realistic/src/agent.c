/*
 * guest-agent: the realistic guest's agent on a serial channel.
 *
 * Usage: guest-agent [TTY [DATADIR]]     (defaults: /dev/ttyS1 /data)
 *        guest-agent --stdio [DATADIR]   (same protocol on stdin/stdout, for tests)
 *
 * Protocol (docs/guest.md, "Guest agent"): line-based ASCII, '\n'-terminated;
 * the tty is put in raw mode, no echo, 115200 8N1.
 *   request   <id> <command> [args]       id: 1..64 chars of [0-9A-Za-z-]
 *   response  <id> ok <payload>  |  <id> err <message>   (exactly one line)
 *   at start  <none> ok agent-ready
 * Commands: ping -> pong; uptime -> seconds since boot (/proc/uptime);
 * freeze -> sync + FIFREEZE DATADIR -> frozen; thaw -> FITHAW DATADIR -> thawed;
 * check db -> integrity=ok maxseq=<N> count=<M> badsum=<K>.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "sqlite3.h"
#include "rowdef.h"
#include "vfsrandom.h"

#define MAX_LINE        512   /* longer request lines are answered with err */
#define MAX_ID          64
#define CHECK_TIMEOUT_S 60    /* a check that takes longer is abandoned */

static int in_fd = 0, out_fd = 1;
static const char *data_dir = "/data";
static int frozen_by_us;

static void console(const char *fmt, ...)
{
	char line[300];
	va_list ap;
	int n, fd;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, line, (size_t)n) < 0) {
			/* nothing to do */
		}
		close(fd);
	}
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

/* Sends "<id> <status> <text>\n"; the text never contains a newline. */
static void reply(const char *id, const char *status, const char *fmt, ...)
{
	char line[MAX_LINE + 128];
	va_list ap;
	int n, m, i;

	n = snprintf(line, sizeof(line), "%s %s ", id, status);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	for (i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	write_all(out_fd, line, (size_t)n);
}

static int valid_id(const char *s)
{
	size_t n = 0;

	for (; *s; s++, n++) {
		char c = *s;

		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-'))
			return 0;
	}
	return n > 0 && n <= MAX_ID;
}

/* ---------------------------------------------------------------- commands */

static void cmd_uptime(const char *id)
{
	char buf[128];
	ssize_t n;
	int fd = open("/proc/uptime", O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		reply(id, "err", "/proc/uptime: %s", strerror(errno));
		return;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		reply(id, "err", "/proc/uptime: unreadable");
		return;
	}
	buf[n] = 0;
	buf[strcspn(buf, " \n")] = 0;
	reply(id, "ok", "%s", buf);
}

static void cmd_freeze(const char *id, int freeze)
{
	int fd, rc, e;

	if (freeze)
		sync();
	fd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		reply(id, "err", "open %s: %s", data_dir, strerror(errno));
		return;
	}
	rc = ioctl(fd, freeze ? FIFREEZE : FITHAW, 0);
	e = errno;
	close(fd);
	if (rc != 0) {
		reply(id, "err", "%s %s: %s", freeze ? "FIFREEZE" : "FITHAW", data_dir, strerror(e));
		return;
	}
	frozen_by_us = freeze;
	reply(id, "ok", freeze ? "frozen" : "thawed");
}

/*
 * PRAGMA integrity_check plus a scan of every row, in one read transaction,
 * on a read-only connection.  Runs in a child process: a reader may block on
 * a frozen file system (WAL shared memory), and the agent must stay able to
 * answer "thaw".  Writes the reply payload ("ok ..." or "err ...") to fd.
 */
static void check_db_child(int fd)
{
	char path[512], out[700];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long long maxseq = 0, count = 0, badsum = 0;
	char integrity[256];
	int rc;

	snprintf(path, sizeof(path), "%s/app.db", data_dir);
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK) {
		snprintf(out, sizeof(out), "err open %s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		goto done;
	}
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK) {
		snprintf(out, sizeof(out), "err %s", sqlite3_errmsg(db));
		goto done;
	}
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		snprintf(out, sizeof(out), "err integrity_check: %s", sqlite3_errmsg(db));
		goto done;
	}
	snprintf(integrity, sizeof(integrity), "%s", (const char *)sqlite3_column_text(st, 0));
	for (char *p = integrity; *p; p++)
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			*p = '_';
	sqlite3_finalize(st);
	st = NULL;

	if (sqlite3_prepare_v2(db, "SELECT seq, payload, checksum FROM rows", -1, &st, NULL) != SQLITE_OK) {
		snprintf(out, sizeof(out), "err select: %s", sqlite3_errmsg(db));
		goto done;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		long long seq = sqlite3_column_int64(st, 0);
		const unsigned char *p = sqlite3_column_blob(st, 1);
		size_t n = (size_t)sqlite3_column_bytes(st, 1);
		uint64_t want = (uint64_t)sqlite3_column_int64(st, 2);

		count++;
		if (seq > maxseq)
			maxseq = seq;
		if (row_checksum(seq, p ? p : (const unsigned char *)"", n) != want)
			badsum++;
	}
	if (rc != SQLITE_DONE) {
		snprintf(out, sizeof(out), "err scan: %s", sqlite3_errmsg(db));
		goto done;
	}
	snprintf(out, sizeof(out), "ok integrity=%s maxseq=%lld count=%lld badsum=%lld", integrity, maxseq, count,
		 badsum);
done:
	sqlite3_finalize(st);
	if (db)
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);
	write_all(fd, out, strlen(out));
}

static void cmd_check_db(const char *id)
{
	char buf[800];
	size_t got = 0;
	int pfd[2];
	pid_t pid;
	time_t deadline;

	if (frozen_by_us) {
		reply(id, "err", "%s is frozen (thaw first)", data_dir);
		return;
	}
	if (pipe(pfd) != 0) {
		reply(id, "err", "pipe: %s", strerror(errno));
		return;
	}
	pid = fork();
	if (pid < 0) {
		reply(id, "err", "fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return;
	}
	if (pid == 0) {
		close(pfd[0]);
		check_db_child(pfd[1]);
		_exit(0);
	}
	close(pfd[1]);
	deadline = time(NULL) + CHECK_TIMEOUT_S;
	for (;;) {
		struct pollfd p = { pfd[0], POLLIN, 0 };
		long left = (long)(deadline - time(NULL));
		ssize_t n;

		if (left <= 0) {
			kill(pid, SIGKILL);
			close(pfd[0]);
			reply(id, "err", "check timed out after %d s", CHECK_TIMEOUT_S);
			return; /* the child is reaped by the main loop's waitpid(WNOHANG) */
		}
		if (poll(&p, 1, (int)(left * 1000)) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (!(p.revents & (POLLIN | POLLHUP)))
			continue;
		n = read(pfd[0], buf + got, sizeof(buf) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof(buf) - 1)
			break;
	}
	close(pfd[0]);
	buf[got] = 0;
	if (strncmp(buf, "ok ", 3) == 0)
		reply(id, "ok", "%s", buf + 3);
	else if (strncmp(buf, "err ", 4) == 0)
		reply(id, "err", "%s", buf + 4);
	else
		reply(id, "err", "check failed (no result)");
}

static void handle_line(char *line)
{
	char *id, *cmd, *args, *save = NULL;
	size_t n = strlen(line);

	if (n && line[n - 1] == '\r')
		line[--n] = 0;
	id = strtok_r(line, " \t", &save);
	if (!id)
		return; /* empty line: ignored */
	if (!valid_id(id)) {
		reply("<none>", "err", "bad id (want 1-%d characters of [0-9A-Za-z-])", MAX_ID);
		return;
	}
	cmd = strtok_r(NULL, " \t", &save);
	args = strtok_r(NULL, "", &save);
	while (args && (*args == ' ' || *args == '\t'))
		args++;
	if (args) {
		char *e = args + strlen(args);

		while (e > args && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = 0;
		if (!*args)
			args = NULL;
	}
	if (!cmd) {
		reply(id, "err", "missing command");
	} else if (strcmp(cmd, "check") == 0) {
		if (args && strcmp(args, "db") == 0)
			cmd_check_db(id);
		else
			reply(id, "err", "unknown check '%s' (known: db)", args ? args : "");
	} else if (args) {
		reply(id, "err", "%s takes no arguments", cmd);
	} else if (strcmp(cmd, "ping") == 0) {
		reply(id, "ok", "pong");
	} else if (strcmp(cmd, "uptime") == 0) {
		cmd_uptime(id);
	} else if (strcmp(cmd, "freeze") == 0) {
		cmd_freeze(id, 1);
	} else if (strcmp(cmd, "thaw") == 0) {
		cmd_freeze(id, 0);
	} else {
		reply(id, "err", "unknown command '%s'", cmd);
	}
}

/* Raw mode, no echo, 115200 8N1, no flow control. */
static int setup_tty(int fd)
{
	struct termios t;

	if (tcgetattr(fd, &t) != 0)
		return -1;
	cfmakeraw(&t);
	t.c_cflag &= ~(CSIZE | PARENB | CSTOPB | CRTSCTS);
	t.c_cflag |= CS8 | CLOCAL | CREAD;
	t.c_iflag &= ~(IXON | IXOFF | IXANY);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (cfsetispeed(&t, B115200) != 0 || cfsetospeed(&t, B115200) != 0)
		return -1;
	if (tcsetattr(fd, TCSANOW, &t) != 0)
		return -1;
	tcflush(fd, TCIFLUSH);
	return 0;
}

static void open_channel(const char *dev)
{
	int reported = 0;

	for (;;) {
		int fd = open(dev, O_RDWR | O_NOCTTY | O_CLOEXEC);

		if (fd >= 0 && setup_tty(fd) == 0) {
			in_fd = out_fd = fd;
			if (reported)
				console("agent: %s is now usable", dev);
			return;
		}
		if (!reported) {
			console("agent: cannot use %s: %s (retrying every 5 s)", dev, strerror(errno));
			reported = 1;
		}
		if (fd >= 0)
			close(fd);
		sleep(5);
	}
}

int main(int argc, char **argv)
{
	char line[MAX_LINE + 1];
	size_t len = 0;
	int overflow = 0;
	int stdio = argc > 1 && strcmp(argv[1], "--stdio") == 0;

	signal(SIGPIPE, SIG_IGN);
	if (stdio) {
		if (argc > 2)
			data_dir = argv[2];
	} else {
		if (argc > 2)
			data_dir = argv[2];
		open_channel(argc > 1 ? argv[1] : "/dev/ttyS1");
	}
	vfsrandom_install();
	reply("<none>", "ok", "agent-ready");

	for (;;) {
		char buf[256];
		ssize_t n = read(in_fd, buf, sizeof(buf));
		ssize_t i;

		while (waitpid(-1, NULL, WNOHANG) > 0)
			; /* reap finished or abandoned check children */
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			console("agent: read failed: %s", strerror(errno));
			sleep(1);
			return 1;
		}
		if (n == 0) {
			if (stdio)
				return 0;
			sleep(1); /* hang-up on a tty: keep serving */
			continue;
		}
		for (i = 0; i < n; i++) {
			char c = buf[i];

			if (c != '\n') {
				if (len < MAX_LINE)
					line[len++] = c;
				else
					overflow = 1;
				continue;
			}
			line[len] = 0;
			if (overflow) {
				/* Answer with the line's id when it has a valid one. */
				char *sp = strpbrk(line, " \t");
				if (sp)
					*sp = 0;
				reply(valid_id(line) ? line : "<none>", "err", "line too long (max %d bytes)", MAX_LINE);
			} else {
				handle_line(line);
			}
			len = 0;
			overflow = 0;
		}
	}
}
