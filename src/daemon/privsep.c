/* The firewall supervisor: forks helpers with CAP_NET_ADMIN only, hands their sockets to the main process, restarts them. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/privsep.h"
#include "fw/fw.h"
#include "core/timeutil.h"

#define SUPERVISOR_NAME		"jitgated-fwsup"
#define HELPER_NAME		"jitgated-fw"
#define SUPERVISOR_CTRL_FD	3	/* the supervisor keeps stdin/out/err and this */
#define SUPERVISOR_KEEP_FD	4	/* ... and the namespace's instance lock (instance.h), which its helpers inherit */
#define SUPERVISOR_STOP_MS	2000	/* a helper gets this long to end after main did */

static void
slog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
slog(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("jitgated: firewall supervisor: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	fflush(stderr);
	va_end(ap);
}

/* Send main one helper socket, with the helper's pid as the message. */
static int
send_helper(int ctrl, int fd, pid_t pid)
{
	int32_t p = (int32_t)pid;
	struct iovec iov = { &p, sizeof(p) };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;

	memset(&u, 0, sizeof(u));
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(fd));
	return sendmsg(ctrl, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof(p) ? 0 : -errno;
}

/* Fork one helper; its socket goes to main. The child never returns. */
static pid_t
spawn_helper(int ctrl, int sfd)
{
	struct core_error err = { 0 };
	sigset_t none;
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		slog("cannot make a socket pair: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		slog("cannot fork a helper: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		close(ctrl);
		close(sfd);
		close(sv[0]);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		prctl(PR_SET_NAME, HELPER_NAME, 0, 0, 0);
		/* stacked on the supervisor's: the helper cannot fork, kill or pass descriptors */
		if (sandbox_seccomp(SANDBOX_FW_HELPER, &err) < 0) {
			slog("helper: %s", err.message);
			exit(1);
		}
		exit(fw_helper_run(sv[1]));
	}
	close(sv[1]);
	if (send_helper(ctrl, sv[0], pid) < 0) {
		/* main is gone; the helper sees EOF and ends */
		close(sv[0]);
		return pid;
	}
	close(sv[0]);
	return pid;
}

static void
log_exit(pid_t pid, int status)
{
	if (WIFEXITED(status)) {
		int s = WEXITSTATUS(status);

		slog("helper %d exited with status %d%s", (int)pid, s,
		     s == FW_HELPER_EXIT_MALFORMED ? " (it refused a malformed message)"
		     : s == FW_HELPER_EXIT_UNAVAILABLE ? " (the kernel cannot hold the table)"
		     : s == FW_HELPER_EXIT_OK ? " (main closed its socket)" : "");
	} else if (WIFSIGNALED(status)) {
		slog("helper %d was killed by signal %d%s", (int)pid, WTERMSIG(status),
		     WTERMSIG(status) == SIGSYS ? " (a system call outside its seccomp list)" : "");
	}
}

/* The supervisor's life, after the drop: keep one helper running while main is there. */
static int
supervise(int ctrl, int sfd)
{
	int64_t started = 0, restart_at = 0, backoff = PRIVSEP_RESTART_MIN_MS;
	pid_t helper = -1;
	bool give_up = false;

	for (;;) {
		struct pollfd p[2] = { { .fd = ctrl, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
		int64_t now = time_mono_ms();
		int timeout = -1;

		if (helper < 0 && !give_up) {
			if (now >= restart_at) {
				helper = spawn_helper(ctrl, sfd);
				started = now;
				if (helper < 0)
					restart_at = now + PRIVSEP_RESTART_MAX_MS;
				continue;
			}
			timeout = (int)(restart_at - now);
		}
		if (poll(p, 2, timeout) < 0 && errno != EINTR)
			return 1;
		if (p[0].revents) {
			/* main closed its end (or died): nothing more to do; its helper sees EOF as well */
			int64_t until = time_mono_ms() + SUPERVISOR_STOP_MS;

			while (helper > 0 && waitpid(helper, NULL, WNOHANG) == 0) {
				if (time_mono_ms() >= until) {
					kill(helper, SIGKILL);
					waitpid(helper, NULL, 0);
					break;
				}
				nanosleep(&(struct timespec){ 0, 10 * 1000000 }, NULL);
			}
			return 0;
		}
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			int status;
			pid_t pid;

			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				;
			while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
				if (pid != helper)
					continue;
				log_exit(pid, status);
				helper = -1;
				if (WIFEXITED(status) && WEXITSTATUS(status) == FW_HELPER_EXIT_UNAVAILABLE) {
					give_up = true;
					continue;
				}
				now = time_mono_ms();
				if (now - started >= PRIVSEP_HELPER_STABLE_S * 1000)
					backoff = PRIVSEP_RESTART_MIN_MS;
				restart_at = now + backoff;
				slog("starting a new helper in %lld ms; until then no firewall change is made and the kernel "
				     "keeps its table",
				     (long long)backoff);
				backoff = backoff * 2 > PRIVSEP_RESTART_MAX_MS ? PRIVSEP_RESTART_MAX_MS : backoff * 2;
			}
		}
	}
}

static void __attribute__((noreturn))
supervisor_main(int ctrl, int keep_fd, const struct sandbox_user *user)
{
	struct core_error err = { 0 };
	sigset_t mask;
	int sfd;

	prctl(PR_SET_NAME, SUPERVISOR_NAME, 0, 0, 0);
	/*
	 * nothing of main's (listeners, store, TLS key) stays open here: the two we keep move up out of the way
	 * first (either may sit on 3 or 4 now), then down to their places, then everything above is closed
	 */
	ctrl = fcntl(ctrl, F_DUPFD_CLOEXEC, SUPERVISOR_KEEP_FD + 1);
	if (keep_fd >= 0)
		keep_fd = fcntl(keep_fd, F_DUPFD_CLOEXEC, SUPERVISOR_KEEP_FD + 1);
	if (ctrl < 0 || dup2(ctrl, SUPERVISOR_CTRL_FD) < 0 ||
	    (keep_fd >= 0 && dup2(keep_fd, SUPERVISOR_KEEP_FD) < 0))
		_exit(1);
	ctrl = SUPERVISOR_CTRL_FD;
	if (close_range(keep_fd >= 0 ? SUPERVISOR_KEEP_FD + 1 : SUPERVISOR_CTRL_FD + 1, ~0U, 0) < 0)
		_exit(1);
	/* a terminal's ^C reaches the whole process group: the supervisor and helper end when main does, not before */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		slog("signalfd: %s", strerror(errno));
		exit(1);
	}
	if (sandbox_drop(user, 1ULL << CAP_NET_ADMIN, &err) < 0 || sandbox_seccomp(SANDBOX_FW_SUPERVISOR, &err) < 0) {
		slog("%s", err.message);
		exit(1);
	}
	exit(supervise(ctrl, sfd));
}

int
privsep_start(const struct sandbox_user *user, int keep_fd, struct privsep *ret, struct core_error *err)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return core_error_set(err, "PrivilegeDrop", "", "socketpair: %s", strerror(errno)), -errno;
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		int e = errno;

		close(sv[0]);
		close(sv[1]);
		return core_error_set(err, "PrivilegeDrop", "", "cannot fork the firewall supervisor: %s", strerror(e)),
		       -e;
	}
	if (pid == 0) {
		close(sv[0]);
		supervisor_main(sv[1], keep_fd, user);
	}
	close(sv[1]);
	ret->supervisor = pid;
	ret->ctrl = sv[0];
	return 0;
}

int
privsep_helper_recv(struct privsep *ps, int timeout_ms, int *ret_fd, pid_t *ret_pid)
{
	struct pollfd p = { .fd = ps->ctrl, .events = POLLIN };
	int32_t pid = 0;
	struct iovec iov = { &pid, sizeof(pid) };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;
	ssize_t n;
	int k, fd = -1;

	if (ps->ctrl < 0)
		return -EPIPE;
	do
		k = poll(&p, 1, timeout_ms);
	while (k < 0 && errno == EINTR);
	if (k == 0)
		return -EAGAIN;
	if (k < 0)
		return -errno;
	memset(&u, 0, sizeof(u));
	n = recvmsg(ps->ctrl, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return -EAGAIN;
	if (n <= 0)
		return -EPIPE;
	c = CMSG_FIRSTHDR(&mh);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(c), sizeof(fd));
	if (fd < 0 || n != (ssize_t)sizeof(pid) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		if (fd >= 0)
			close(fd);
		return -EPIPE;	/* the supervisor never sends anything else */
	}
	*ret_fd = fd;
	*ret_pid = (pid_t)pid;
	return 0;
}

void
privsep_stop(struct privsep *ps)
{
	if (ps->ctrl >= 0)
		close(ps->ctrl);
	ps->ctrl = -1;
	if (ps->supervisor > 0)
		waitpid(ps->supervisor, NULL, 0);
	ps->supervisor = -1;
}
