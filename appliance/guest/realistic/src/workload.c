/*
 * guest-workload: the realistic guest's database service.
 *
 * Keeps inserting rows into /data/app.db (SQLite, WAL, synchronous=FULL), one
 * transaction per row, each row carrying a sequence number and a checksum
 * (rowdef.h).  Started (and respawned) by busybox init; see docs/guest.md.
 *
 * Console lines (written to /dev/console, one write() per line):
 *   guest: ready                      once per boot, after the first commit
 *   workload: committed seq <N>       after COMMIT returned, for the first
 *                                     commit of the process and every
 *                                     N % report_every == 0 (default 10)
 *   workload: database error <msg>    any failure; the service closes the
 *                                     database and retries every second
 *   workload: stopped at seq <N>      on SIGTERM/SIGINT (clean stop)
 *
 * Kernel command line knobs (read from /proc/cmdline):
 *   workload.interval_ms=N    pause between transactions (default 100)
 *   workload.report_every=N   print every N-th commit (default 10; 1 = every
 *                             commit, so a host sees each committed seq)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sqlite3.h"
#include "rowdef.h"
#include "vfsrandom.h"

#define DATA_DIR   "/data"
#define DB_PATH    DATA_DIR "/app.db"
#define READY_MARK "/run/guest-workload.ready"
#define DEFAULT_INTERVAL_MS 100L
#define DEFAULT_REPORT_EVERY 10L
#define ERROR_REPEAT_EVERY  60 /* an unchanged error is printed again every 60 tries */

static volatile sig_atomic_t stop_requested;
static int console_fd = -1;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void say(const char *fmt, ...)
{
	char line[600];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (console_fd < 0)
		console_fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (write(console_fd >= 0 ? console_fd : 2, line, (size_t)n) < 0) {
		/* nowhere else to report it */
	}
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (!stop_requested && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * A numeric knob "<key>N" from /proc/cmdline, min <= N <= max; the last
 * well-formed occurrence wins, a malformed one is reported and skipped.
 */
static long read_knob(const char *key, long val, long min, long max)
{
	char buf[4096];
	size_t klen = strlen(key);
	ssize_t n;
	char *p;
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return val;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return val;
	buf[n] = 0;
	for (p = strtok(buf, " \t\n"); p; p = strtok(NULL, " \t\n")) {
		char *end;
		long v;

		if (strncmp(p, key, klen) != 0)
			continue;
		errno = 0;
		v = strtol(p + klen, &end, 10);
		if (errno || *end || end == p + klen || v < min || v > max)
			say("workload: ignoring malformed knob %s", p);
		else
			val = v;
	}
	return val;
}

/* Last reported error, to avoid printing an unchanged error every second forever. */
static char last_error[512];
static unsigned long repeats;

static void report_error(const char *msg)
{
	if (strcmp(msg, last_error) == 0) {
		repeats++;
		if (repeats % ERROR_REPEAT_EVERY != 0)
			return;
		say("workload: database error %s (unchanged for %lu retries)", msg, repeats);
		return;
	}
	snprintf(last_error, sizeof(last_error), "%s", msg);
	repeats = 0;
	say("workload: database error %s", msg);
}

static int exec_sql(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", sql, msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* /data must be a mounted file system, never the root file system's directory. */
static int data_mounted(char *err, size_t errlen)
{
	struct stat root, data;

	if (stat("/", &root) != 0 || stat(DATA_DIR, &data) != 0) {
		snprintf(err, errlen, "%s: %s", DATA_DIR, strerror(errno));
		return 0;
	}
	if (root.st_dev == data.st_dev) {
		snprintf(err, errlen, "%s is not mounted (no data disk?)", DATA_DIR);
		return 0;
	}
	return 1;
}

/* Opens and checks the database; returns NULL and fills err on failure. */
static sqlite3 *open_db(char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc;

	if (!data_mounted(err, errlen))
		return NULL;
	rc = sqlite3_open_v2(DB_PATH, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "open %s: %s", DB_PATH, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 10000);
	if (exec_sql(db, "PRAGMA journal_mode=WAL", err, errlen) ||
	    exec_sql(db, "PRAGMA synchronous=FULL", err, errlen) ||
	    exec_sql(db, ROW_TABLE_SQL, err, errlen))
		goto fail;
	/* A quick structural check at start: a corrupt database is reported, not written to. */
	if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "quick_check: %s", sqlite3_errmsg(db));
		goto fail;
	}
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		snprintf(err, errlen, "quick_check: %s", sqlite3_errmsg(db));
		goto fail;
	}
	if (strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0) {
		snprintf(err, errlen, "quick_check: %s", (const char *)sqlite3_column_text(st, 0));
		goto fail;
	}
	sqlite3_finalize(st);
	return db;
fail:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return NULL;
}

/* One transaction: BEGIN IMMEDIATE; INSERT max(seq)+1; COMMIT.  Returns the seq or -1. */
static long long commit_one(sqlite3 *db, sqlite3_stmt *maxq, sqlite3_stmt *ins, char *err, size_t errlen)
{
	unsigned char payload[ROW_PAYLOAD_MAX];
	long long seq;
	size_t len;
	int rc;

	if (exec_sql(db, "BEGIN IMMEDIATE", err, errlen))
		return -1;
	rc = sqlite3_step(maxq);
	if (rc != SQLITE_ROW) {
		snprintf(err, errlen, "select max(seq): %s", sqlite3_errmsg(db));
		goto rollback;
	}
	seq = sqlite3_column_int64(maxq, 0) + 1;
	sqlite3_reset(maxq);

	len = row_payload(seq, payload);
	sqlite3_bind_int64(ins, 1, seq);
	sqlite3_bind_blob(ins, 2, payload, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(ins, 3, (sqlite3_int64)row_checksum(seq, payload, len));
	rc = sqlite3_step(ins);
	sqlite3_reset(ins);
	sqlite3_clear_bindings(ins);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "insert seq %lld: %s", seq, sqlite3_errmsg(db));
		goto rollback;
	}
	if (exec_sql(db, "COMMIT", err, errlen))
		goto rollback;
	return seq;
rollback:
	sqlite3_reset(maxq);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int main(void)
{
	struct sigaction sa;
	long interval, report_every;
	long long last_seq = 0;
	int first_commit = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	interval = read_knob("workload.interval_ms=", DEFAULT_INTERVAL_MS, 0, 3600000L);
	report_every = read_knob("workload.report_every=", DEFAULT_REPORT_EVERY, 1, 1000000L);
	vfsrandom_install();

	while (!stop_requested) {
		char err[512];
		sqlite3 *db = open_db(err, sizeof(err));
		sqlite3_stmt *maxq = NULL, *ins = NULL;

		if (!db) {
			report_error(err);
			sleep_ms(1000);
			continue;
		}
		if (sqlite3_prepare_v2(db, "SELECT coalesce(max(seq), 0) FROM rows", -1, &maxq, NULL) != SQLITE_OK ||
		    sqlite3_prepare_v2(db, "INSERT INTO rows(seq, payload, checksum) VALUES(?1, ?2, ?3)", -1, &ins,
				       NULL) != SQLITE_OK) {
			snprintf(err, sizeof(err), "prepare: %s", sqlite3_errmsg(db));
			report_error(err);
			sqlite3_finalize(maxq);
			sqlite3_finalize(ins);
			sqlite3_close(db);
			sleep_ms(1000);
			continue;
		}
		while (!stop_requested) {
			long long seq = commit_one(db, maxq, ins, err, sizeof(err));

			if (seq < 0)
				break;
			last_seq = seq;
			last_error[0] = 0;
			if (first_commit || seq % report_every == 0)
				say("workload: committed seq %lld", seq);
			if (first_commit) {
				int fd = open(READY_MARK, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

				first_commit = 0;
				/* Once per boot (/run is a tmpfs), not once per respawn. */
				if (fd >= 0 || errno != EEXIST)
					say("guest: ready");
				if (fd >= 0)
					close(fd);
			}
			sleep_ms(interval);
		}
		sqlite3_finalize(maxq);
		sqlite3_finalize(ins);
		sqlite3_close(db);
		if (!stop_requested) {
			report_error(err);
			sleep_ms(1000);
		}
	}
	say("workload: stopped at seq %lld", last_seq);
	return 0;
}
