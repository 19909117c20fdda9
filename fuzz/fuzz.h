/* What the libFuzzer harnesses in fuzz/ share. */
#ifndef VL_FUZZ_H
#define VL_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "venueless.h"

int		 LLVMFuzzerTestOneInput(const uint8_t *, size_t);
lua_State	*fuzz_state(void);
int		 fuzz_done(lua_State *);
void		 fuzz_push(lua_State *, const char *, const char *);
void		 fuzz_call(lua_State *, int, int, const char *);
void		 fuzz_crash(const char *, ...)
		    __attribute__((format(printf, 1, 2), noreturn));

#endif
