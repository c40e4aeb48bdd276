/*
 * An LD_PRELOAD shim for the clock test: moves CLOCK_REALTIME (clock_gettime, gettimeofday, time) by an offset
 * in seconds read from the file $FAKECLOCK_FILE, re-read at most every 100 ms; CLOCK_MONOTONIC is left alone.
 * A missing or unreadable file means offset 0. The file holds a decimal number of seconds, e.g. "45" or "-30.5".
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define FAKECLOCK_REREAD_NS	(100 * 1000000LL)
#define NS			1000000000LL

static int64_t offset_ns;	/* read and written with __atomic: a program may call the clock from any thread */
static int64_t next_read_ns;

/* The real clock, past any interposition (and past the vDSO, which is fine for a test). */
static int
real_clock(clockid_t id, struct timespec *ts)
{
	return (int)syscall(SYS_clock_gettime, id, ts);
}

static int64_t
current_offset(void)
{
	struct timespec m;
	int64_t now, due = __atomic_load_n(&next_read_ns, __ATOMIC_RELAXED);
	const char *path;
	char buf[64];
	ssize_t n;
	int fd;

	if (real_clock(CLOCK_MONOTONIC, &m) < 0)
		return __atomic_load_n(&offset_ns, __ATOMIC_RELAXED);
	now = (int64_t)m.tv_sec * NS + m.tv_nsec;
	if (now < due || !__atomic_compare_exchange_n(&next_read_ns, &due, now + FAKECLOCK_REREAD_NS, false,
						       __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return __atomic_load_n(&offset_ns, __ATOMIC_RELAXED);
	path = getenv("FAKECLOCK_FILE");
	if (!path || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		__atomic_store_n(&offset_ns, 0, __ATOMIC_RELAXED);
		return 0;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		char *end;
		double s;

		buf[n] = '\0';
		s = strtod(buf, &end);
		if (end != buf)
			__atomic_store_n(&offset_ns, (int64_t)(s * (double)NS), __ATOMIC_RELAXED);
	}
	return __atomic_load_n(&offset_ns, __ATOMIC_RELAXED);
}

static void
shift(struct timespec *ts)
{
	int64_t t = (int64_t)ts->tv_sec * NS + ts->tv_nsec + current_offset();

	ts->tv_sec = (time_t)(t / NS);
	ts->tv_nsec = (long)(t % NS);
	if (ts->tv_nsec < 0) {
		ts->tv_nsec += NS;
		ts->tv_sec--;
	}
}

int
clock_gettime(clockid_t id, struct timespec *ts)
{
	int r = real_clock(id, ts);

	if (r == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
		shift(ts);
	return r;
}

int
gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
	struct timespec ts;

	(void)tz;
	if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
		return -1;
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = ts.tv_nsec / 1000;
	return 0;
}

time_t
time(time_t *t)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (t)
		*t = ts.tv_sec;
	return ts.tv_sec;
}
