/* A private temporary folder per test: made under /tmp, paths inside it, removed at the end
 * (only when the test passed, so a failure leaves its files to look at). Header-only. */
#ifndef FER_TEST_DIR_H
#define FER_TEST_DIR_H
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Makes /tmp/fer_TAG_XXXXXX into dir (capacity 64); exits the test when it cannot. */
static inline void test_dir_make(char dir[64], const char *tag)
{
    snprintf(dir, 64, "/tmp/fer_%.32s_XXXXXX", tag);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
}

/* DIR/NAME in one of 8 rotating buffers: copy it when it must outlive 8 more calls. */
static inline const char *test_path(const char *dir, const char *name)
{
    static char buf[8][320];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

static inline int test_dir_unlink_(const char *path, const struct stat *st, int flag,
                                   struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path); /* keep going: a leftover in /tmp is harmless */
    return 0;
}

/* Removes dir and everything in it (symlinks themselves, never their targets). */
static inline void test_dir_remove(const char *dir)
{
    nftw(dir, test_dir_unlink_, 16, FTW_DEPTH | FTW_PHYS);
}
#endif
