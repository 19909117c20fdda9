/* Private files: written whole under a temporary name, then renamed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "venueless.h"

/*
 * Write path through fill(f, arg) with mode 0600, atomically: a reader
 * sees the old file or the whole new one, and a failure leaves the old
 * one. The temporary name is predictable, so in a shared directory
 * someone may have made it first (a symlink to a file of ours): only a
 * file this call creates is written. Returns 0, or -1 with errno set and
 * *failed naming the file in the way (owned by the caller, may be NULL).
 */
int
vl_write_private(const char *path, int (*fill)(FILE *, void *), void *arg,
    char **failed)
{
	size_t	 n = strlen(path) + 32;
	char	*tmp = xmalloc(n);
	FILE	*f = NULL;
	int	 fd, err;

	snprintf(tmp, n, "%s.%ld.tmp", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd != -1 && (f = fdopen(fd, "w")) == NULL) {
		err = errno;
		close(fd);
		unlink(tmp);
		errno = err;
	}
	if (f == NULL) {
		err = errno;
		/* Name the temporary file only when it is what is in the way. */
		if (failed != NULL && (err == EEXIST || err == ELOOP)) {
			*failed = tmp;
			return -1;
		}
		if (failed != NULL)
			*failed = xstrdup(path);
		free(tmp);
		errno = err;
		return -1;
	}
	errno = 0;
	err = fill(f, arg) == 0 ? 0 : (errno != 0 ? errno : EIO);
	if (fclose(f) != 0 && err == 0)
		err = errno;
	if (err == 0 && rename(tmp, path) == -1)
		err = errno;
	if (err != 0)
		unlink(tmp);
	free(tmp);
	if (err != 0 && failed != NULL)
		*failed = xstrdup(path);
	errno = err;
	return err == 0 ? 0 : -1;
}
