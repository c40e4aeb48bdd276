/* One jitgated per network namespace and per state directory (see instance.h). */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon/instance.h"

#define INSTANCE_RETRY_MS	50

static socklen_t
instance_addr(struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	/* sun_path[0] stays '\0': the abstract namespace; the length below ends the name (no trailing NUL) */
	memcpy(sa->sun_path + 1, INSTANCE_SOCKET_NAME, strlen(INSTANCE_SOCKET_NAME));
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(INSTANCE_SOCKET_NAME));
}

/* Who holds the name: connect and ask the kernel for the listener's credentials. */
static void
instance_holder(char *out, size_t size)
{
	struct sockaddr_un sa;
	socklen_t len = instance_addr(&sa), cl = sizeof(struct ucred);
	struct ucred cred;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	snprintf(out, size, "a process");
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sa, len) == 0 &&
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0 && cl == sizeof(cred))
		snprintf(out, size, "pid %d (uid %u)", (int)cred.pid, (unsigned)cred.uid);
	close(fd);
}

int
instance_lock_netns(int wait_ms, struct core_error *err)
{
	struct sockaddr_un sa;
	socklen_t len = instance_addr(&sa);
	char who[64];
	int waited = 0, fd = -1, e;

	for (;;) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return core_error_set(err, "InstanceLock", "", "socket: %s", strerror(errno)), -errno;
		if (bind(fd, (struct sockaddr *)&sa, len) == 0)
			break;
		e = errno;
		close(fd);
		if (e != EADDRINUSE)
			return core_error_set(err, "InstanceLock", "", "cannot bind @%s: %s", INSTANCE_SOCKET_NAME,
					      strerror(e)),
			       -e;
		if (waited >= wait_ms) {
			instance_holder(who, sizeof(who));
			core_error_set(err, "InstanceLock", "",
				       "another jitgated is running in this network namespace (%s holds the abstract "
				       "socket @%s): only one may manage table inet jitgate here, whatever its state "
				       "directory; stop it first",
				       who, INSTANCE_SOCKET_NAME);
			return -EBUSY;
		}
		nanosleep(&(struct timespec){ 0, INSTANCE_RETRY_MS * 1000000L }, NULL);
		waited += INSTANCE_RETRY_MS;
	}
	/* listening, so that the next one can ask the kernel who we are (SO_PEERCRED); nothing is ever accepted */
	if (listen(fd, 1) < 0) {
		e = errno;
		close(fd);
		return core_error_set(err, "InstanceLock", "", "listen on @%s: %s", INSTANCE_SOCKET_NAME, strerror(e)),
		       -e;
	}
	return fd;
}

int
instance_lock_state_dir(const char *dir, struct core_error *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), e;

	if (fd < 0)
		return core_error_set(err, "InstanceLock", "", "cannot open the state directory %s: %s", dir,
				      strerror(errno)),
		       -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		e = errno;
		close(fd);
		if (e == EWOULDBLOCK)
			return core_error_set(err, "InstanceLock", "",
					      "another jitgated is running on the state directory %s (it holds a lock on "
					      "the directory)",
					      dir),
			       -EBUSY;
		return core_error_set(err, "InstanceLock", "", "cannot lock the state directory %s: %s", dir,
				      strerror(e)),
		       -e;
	}
	return fd;	/* held open, and so locked, until we exit */
}
