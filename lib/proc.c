#include "lib/proc.h"

#include "lib/err.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* The inherited environment with env's settings replacing or added to it;
 * built before fork(), since the child of a threaded process may only make
 * async-signal-safe calls. The array is malloc'd, its strings borrowed. */
static char **rum_proc_environ(const char *const env[])
{
	size_t n = 0, k = 0, extra = 0;
	char **out;

	while (environ && environ[n])
		n++;
	while (env && env[extra])
		extra++;
	out = malloc((n + extra + 1) * sizeof(*out));
	if (!out)
		abort();
	for (size_t i = 0; i < n; i++) {
		size_t len = strcspn(environ[i], "=");
		bool replaced = false;

		for (size_t j = 0; j < extra && !replaced; j++)
			replaced = strncmp(env[j], environ[i], len) == 0 && env[j][len] == '=';
		if (!replaced)
			out[k++] = environ[i];
	}
	for (size_t j = 0; j < extra; j++)
		out[k++] = (char *)env[j];
	out[k] = NULL;
	return out;
}

int rum_proc_run(const char *const argv[], uid_t uid, gid_t gid, const char *log_path)
{
	return rum_proc_run_env(argv, NULL, uid, gid, log_path);
}

int rum_proc_run_env(const char *const argv[], const char *const env[], uid_t uid, gid_t gid,
		     const char *log_path)
{
	char **envp = rum_proc_environ(env);
	pid_t pid;
	int status;

	pid = fork();
	if (pid < 0) {
		free(envp);
		return rum_err_set(RUM_EIO, "fork: %s", strerror(errno));
	}
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
		execve(argv[0], (char *const *)argv, envp);
		_exit(127);
	}
	free(envp);
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
