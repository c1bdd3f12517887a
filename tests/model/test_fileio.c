/* fer/fileio.h (issue 18, items 5 and 8): atomic outputs never follow a planted symlink or
 * overwrite a planted file, a symlink at the final name is replaced rather than written through,
 * failed writes leave nothing behind, stale temporary files of ours are removed and nothing
 * else is; inputs that are FIFOs, folders or devices are refused at once (no hang), and reads
 * are bounded. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fer/fileio.h"
#define FER_CHECK_CONTINUE
#include "fer/status.h"
#include "../common/fer_check.h"
#include "../common/test_dir.h"

static char dir[64];

static const char *in_dir(const char *name)
{
    return test_path(dir, name);
}

static void write_plain(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static int file_is(const char *path, const char *text)
{
    char *got;
    size_t n;
    if (fer_read_file(path, 0, &got, &n) != FER_OK)
        return 0;
    int same = n == strlen(text) && memcmp(got, text, n) == 0;
    free(got);
    return same;
}

/* Entries of dir whose name ends in ".tmp". */
static int count_tmp(void)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        n += len > 4 && strcmp(e->d_name + len - 4, ".tmp") == 0;
    }
    closedir(d);
    return n;
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "FAIL test_fileio: hung on a FIFO\n";
    if (write(2, msg, sizeof msg - 1) < 0) {
    }
    _exit(1);
}

int main(void)
{
    test_dir_make(dir, "fileio");
    signal(SIGALRM, on_alarm);
    alarm(30);

    /* item 5: a symlink planted at the old temporary name PATH.tmp, and one at the final name */
    char victim[256], out[256];
    snprintf(victim, sizeof victim, "%s", in_dir("victim.txt"));
    snprintf(out, sizeof out, "%s", in_dir("out.json"));
    char tmp_link[300];
    snprintf(tmp_link, sizeof tmp_link, "%s.tmp", out);
    write_plain(victim, "precious");
    CHECK(symlink(victim, tmp_link) == 0, "symlink");
    OK(fer_write_file_atomic(out, "{\"a\":1}", 7));
    CHECK(file_is(victim, "precious"), "the symlink's target was written");
    CHECK(file_is(out, "{\"a\":1}"), "output content");
    unlink(tmp_link);

    const char *linked = in_dir("linked.json");
    CHECK(symlink(victim, linked) == 0, "symlink");
    OK(fer_write_file_atomic(linked, "new", 3));
    struct stat st;
    CHECK(lstat(linked, &st) == 0 && S_ISREG(st.st_mode), "the final name is a regular file");
    CHECK(file_is(victim, "precious"), "written through a symlink at the final name");

    /* the temporary file is created O_EXCL with a fresh name beside the target */
    fer_atomic_file af;
    OK(fer_atomic_open(out, &af));
    CHECK(strncmp(af.tmp, out, strlen(out)) == 0 && strlen(af.tmp) == strlen(out) + 11 &&
              strcmp(af.tmp + strlen(out) + 7, ".tmp") == 0,
          "temporary name %s is not OUT.XXXXXX.tmp", af.tmp);
    CHECK(lstat(af.tmp, &st) == 0 && S_ISREG(st.st_mode), "temporary file exists while open");
    fer_atomic_file af2;
    OK(fer_atomic_open(out, &af2));
    CHECK(strcmp(af.tmp, af2.tmp) != 0, "two writers share a temporary name");
    fputs("aborted", af2.f);
    fer_atomic_abort(&af2);
    fputs("committed", af.f);
    OK(fer_atomic_commit(&af));
    CHECK(file_is(out, "committed"), "commit content");
    CHECK(count_tmp() == 0, "temporary files left after commit/abort");

    /* a folder that does not exist: clear error, nothing created */
    fer_status s = fer_write_file_atomic(in_dir("no/such/folder/x.json"), "x", 1);
    CHECK(s == FER_ERR_IO && strstr(fer_last_error(), "x.json"), "missing folder: %s",
          fer_last_error());

    /* stale temporary files of ours (a killed writer) are removed, nothing else */
    write_plain(in_dir("best.fer.a1b2c3.tmp"), "stale");
    write_plain(in_dir("metrics.json.zz9x0q.tmp"), "stale");
    write_plain(in_dir("notes.tmp"), "user file");
    write_plain(in_dir("data.ABCDEF.tmp"), "user file (upper case is not ours)");
    CHECK(symlink(victim, in_dir("last.fer.qqqqqq.tmp")) == 0, "symlink");
    CHECK(fer_remove_stale_tmp(dir) == 3, "stale files removed");
    CHECK(access(in_dir("notes.tmp"), F_OK) == 0 && access(in_dir("data.ABCDEF.tmp"), F_OK) == 0,
          "a file that is not ours was removed");
    CHECK(file_is(victim, "precious"), "the stale symlink's target changed");
    CHECK(fer_remove_stale_tmp(in_dir("nope")) == 0, "missing folder");

    /* item 8: only regular files are read; a FIFO must not block */
    const char *fifo = in_dir("pipe");
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo");
    const char *inputs[] = {fifo, dir, "/dev/zero", "/dev/null"};
    const char *kinds[] = {"a FIFO", "a folder", "a character device", "a character device"};
    for (int i = 0; i < 4; i++) {
        char *text;
        s = fer_read_file(inputs[i], 0, &text, NULL);
        CHECK(s == FER_ERR_IO && text == NULL, "%s accepted", inputs[i]);
        CHECK(strstr(fer_last_error(), inputs[i]) && strstr(fer_last_error(), kinds[i]) &&
                  strstr(fer_last_error(), "not a regular file"),
              "%s: message '%s'", inputs[i], fer_last_error());
        FILE *f;
        s = fer_open_regular(inputs[i], &f, NULL);
        CHECK(s == FER_ERR_IO && f == NULL, "fer_open_regular accepted %s", inputs[i]);
    }
    /* reads are bounded */
    write_plain(in_dir("big.json"), "0123456789");
    char *text;
    size_t n;
    CHECK(fer_read_file(in_dir("big.json"), 9, &text, &n) == FER_ERR_FORMAT &&
              strstr(fer_last_error(), "too large"),
          "cap not enforced");
    OK(fer_read_file(in_dir("big.json"), 10, &text, &n));
    CHECK(n == 10 && text[10] == 0, "read at the cap");
    free(text);
    /* text readers: a NUL byte would cut a C-string parser short, so it is refused */
    OK(fer_read_text_file(in_dir("big.json"), 0, &text, &n));
    CHECK(n == 10 && !strcmp(text, "0123456789"), "text read");
    free(text);
    FILE *nul = fopen(in_dir("nul.json"), "wb");
    CHECK(nul && fwrite("{}\0{\"a\":1}", 1, 10, nul) == 10, "write nul.json");
    if (nul)
        fclose(nul);
    text = (char *)"unchanged";
    CHECK(fer_read_text_file(in_dir("nul.json"), 0, &text, &n) == FER_ERR_FORMAT && !text &&
              strstr(fer_last_error(), "nul.json") && strstr(fer_last_error(), "NUL byte"),
          "NUL byte accepted: '%s'", fer_last_error());
    FILE *f;
    size_t size;
    OK(fer_open_regular(in_dir("big.json"), &f, &size));
    CHECK(size == 10 && fgetc(f) == '0', "regular file opens (blocking reads restored)");
    fclose(f);

    alarm(0);
    if (!fer_check_failures)
        test_dir_remove(dir);
    return fer_check_summary("test_fileio");
}
