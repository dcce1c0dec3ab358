#include "testutil.h"

#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

char *tu_mkdtemp(void) {
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/hbtest.XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    return d ? hb_xstrdup(d) : NULL;
}

void tu_rmtree(const char *path) {
    if (!path || strlen(path) < 8) return;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", path);
}

static char *under(const char *env, const char *dflt, const char *rel) {
    const char *b = getenv(env);
    return hb_path_join(b && *b ? b : dflt, rel);
}

char *tu_shared(const char *rel) { return under("HB_SHARED", "../shared", rel); }
char *tu_repo(const char *rel) { return under("HB_ROOT", ".", rel); }
char *tu_bin(const char *tool) { return under("HB_BIN", "bin", tool); }

int tu_run(const char *cmd, char **out) {
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    hb_buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0) hb_buf_append(&b, chunk, n);
    int st = pclose(p);
    hb_buf_cstr(&b);
    if (out) *out = (char *)b.data;
    else hb_buf_free(&b);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

uint8_t *tu_read(const char *path, size_t *len) {
    uint8_t *d;
    size_t n;
    if (hb_file_read_all(path, &d, &n, NULL)) return NULL;
    if (len) *len = n;
    return d;
}

int tu_write(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(p, 1, n, f);
    fclose(f);
    return w == n ? 0 : -1;
}
