/* Libraries loaded with dlopen on first use, to keep start-up fast. */
#include <dlfcn.h>
#include <string.h>

#include "venueless.h"

/*
 * Load soname once into *handle and resolve names[i] into *slots[i] (a
 * function pointer each); 0, or -1 with *cause (dlerror's text) and
 * nothing kept.
 */
int
vl_dlopen(const char *soname, const char *const names[], void *const slots[],
    size_t n, void **handle, const char **cause)
{
	void	*h, *p;
	size_t	 i;

	if (*handle != NULL)
		return 0;
	if ((h = dlopen(soname, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		*cause = dlerror();
		return -1;
	}
	for (i = 0; i < n; i++) {
		if ((p = dlsym(h, names[i])) == NULL) {
			*cause = dlerror();
			dlclose(h);
			return -1;
		}
		memcpy(slots[i], &p, sizeof p);
	}
	*handle = h;
	return 0;
}
