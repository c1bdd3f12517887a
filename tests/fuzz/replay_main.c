/* Replays fuzz inputs through a target without libFuzzer (any compiler): every regular file
 * under the folders (or the files) given on the command line is passed once to
 * LLVMFuzzerTestOneInput, in name order. This is how the committed corpora and reproducers run
 * as ordinary meson tests (suite 'fuzz') in the gcc build and in the gcc ASan + UBSan build.
 *
 *   replay_TARGET [--timeout SECONDS] [--rss_limit_mb MB] PATH...
 *
 * A finding aborts (as under libFuzzer); so does an input that runs longer than the timeout
 * (default 60 s) or after which the process's peak memory exceeds the limit (default 1024 MB: a
 * reader that allocates and fills what a small file declares before checking it), naming the
 * input. Exit 0 when every input ran, 77 (skipped) when none was found. */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* As run.sh's -malloc_limit_mb=1024: under ASan one allocation above 1 GiB is a finding (no
 * input a target accepts needs one), not a slow success. The environment's ASAN_OPTIONS still win
 * for options they set. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "max_allocation_size_mb=1024:allocator_may_return_null=0";
}

static const char *current_input = "";

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "replay: input ran past the time limit: ";
    (void)!write(2, msg, sizeof msg - 1);
    (void)!write(2, current_input, strlen(current_input));
    (void)!write(2, "\n", 1);
    abort();
}

typedef struct path_list {
    char **v;
    size_t n, cap;
} path_list;

static void add_path(path_list *l, const char *p)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v) {
            fprintf(stderr, "replay: out of memory\n");
            exit(1);
        }
    }
    l->v[l->n] = strdup(p);
    if (!l->v[l->n++]) {
        fprintf(stderr, "replay: out of memory\n");
        exit(1);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void collect(path_list *l, const char *path, int depth)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: no such file or folder\n", path);
        exit(1);
    }
    if (S_ISREG(st.st_mode)) {
        add_path(l, path);
        return;
    }
    if (!S_ISDIR(st.st_mode) || depth > 8)
        return;
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "replay: %s: cannot open the folder\n", path);
        exit(1);
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue; /* ., .., and hidden files such as .gitkeep */
        char child[4096 + 256];
        snprintf(child, sizeof child, "%.4095s/%s", path, e->d_name);
        collect(l, child, depth + 1);
    }
    closedir(d);
}

static unsigned char *read_input(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: %s: cannot open\n", path);
        exit(1);
    }
    size_t cap = 4096, n = 0;
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fprintf(stderr, "replay: out of memory\n");
            exit(1);
        }
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        cap *= 2;
        buf = realloc(buf, cap);
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        fprintf(stderr, "replay: %s: read error\n", path);
        exit(1);
    }
    *size = n;
    return buf;
}

int main(int argc, char **argv)
{
    unsigned timeout = 60;
    long rss_limit_mb = 1024;
    path_list inputs = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
            timeout = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--rss_limit_mb") && i + 1 < argc)
            rss_limit_mb = strtol(argv[++i], NULL, 10);
        else
            collect(&inputs, argv[i], 0);
    }
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    qsort(inputs.v, inputs.n, sizeof *inputs.v, cmp_str);
    signal(SIGALRM, on_alarm);
    for (size_t i = 0; i < inputs.n; i++) {
        size_t size;
        unsigned char *data = read_input(inputs.v[i], &size);
        current_input = inputs.v[i];
        fprintf(stderr, "replay: %s (%zu bytes)\n", inputs.v[i], size);
        alarm(timeout);
        LLVMFuzzerTestOneInput(data, size);
        alarm(0);
        free(data);
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru) == 0 && ru.ru_maxrss / 1024 > rss_limit_mb) {
            fprintf(stderr, "replay: peak memory %ld MB after %s exceeds %ld MB\n",
                    ru.ru_maxrss / 1024, inputs.v[i], rss_limit_mb);
            abort();
        }
    }
    printf("replay: %zu inputs ran\n", inputs.n);
    for (size_t i = 0; i < inputs.n; i++)
        free(inputs.v[i]);
    free(inputs.v);
    return inputs.n ? 0 : 77;
}
