/* Shared helpers for the Criterion unit tests: temporary directories, fixture paths, running the tools.
 * Dependencies: core/core.h (hb_buf), <criterion/criterion.h> in the callers. */
#ifndef HB_TESTUTIL_H
#define HB_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* A fresh directory under $TMPDIR (removed by tu_rmtree). Returns a malloc'd path. */
char *tu_mkdtemp(void);
void tu_rmtree(const char *path);
/* Path of a file under ../shared (env HB_SHARED overrides); malloc'd. */
char *tu_shared(const char *rel);
/* Path of a file in the repository (env HB_ROOT, else "."); malloc'd. */
char *tu_repo(const char *rel);
/* Path of a built tool (env HB_BIN, else "bin"); malloc'd. */
char *tu_bin(const char *tool);
/* Run a shell command; stdout into *out (malloc'd, NUL-terminated, may be NULL); returns the exit status. */
int tu_run(const char *cmd, char **out);
/* Whole file; NULL when it cannot be read. */
uint8_t *tu_read(const char *path, size_t *len);
int tu_write(const char *path, const void *p, size_t n);

#endif
