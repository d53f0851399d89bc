#include "lib/proc.h"

#include "lib/err.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int rum_proc_run(const char *const argv[], uid_t uid, gid_t gid, const char *log_path)
{
	pid_t pid;
	int status;

	pid = fork();
	if (pid < 0)
		return rum_err_set(RUM_EIO, "fork: %s", strerror(errno));
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		if (devnull >= 0)
			dup2(devnull, 0);
		if (log_path) {
			/* Never through a symlink: as root this must not be
			 * steered to another file. */
			int fd = open(log_path,
				      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);

			if (fd >= 0) {
				if (uid != (uid_t)-1 && fchown(fd, uid, gid) != 0)
					_exit(126);
				dup2(fd, 1);
				dup2(fd, 2);
			}
		}
		if (uid != (uid_t)-1) {
			struct passwd *pw = getpwuid(uid);

			if ((pw && initgroups(pw->pw_name, gid) != 0) || setgid(gid) != 0 ||
			    setuid(uid) != 0)
				_exit(126);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return rum_err_set(RUM_EIO, "waitpid: %s", strerror(errno));
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		return rum_err_set(RUM_EIO, "%s exited with status %d%s", argv[0],
				   WEXITSTATUS(status),
				   WEXITSTATUS(status) == 127 ? " (cannot execute)" : "");
	return rum_err_set(RUM_EIO, "%s was killed by signal %d", argv[0],
			   WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
