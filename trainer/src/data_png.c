/* ROOT/<split>/<class>/... PNG folders, as torchvision's ImageFolder saw them: class folders
 * sorted by name (byte order), files walked recursively in sorted order. Hidden entries
 * (".name") are ignored; every other entry must be a readable PNG (FIFOs, devices and sockets
 * are refused by fer_open_regular, never opened for reading, so they cannot block the load).
 * Symlinks are followed, but each folder is walked at most once per class folder: a folder
 * reached again (a symlink loop such as a link to ".", or a second link to the same folder) is
 * skipped, so the walk always ends and never counts an image twice. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "data_internal.h"

typedef struct name_list {
    char **names;
    int n, cap;
} name_list;

static void names_free(name_list *l)
{
    for (int i = 0; i < l->n; i++) free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof *l);
}

static fer_status names_push(name_list *l, const char *s)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        char **p = realloc(l->names, (size_t)cap * sizeof(char *));
        if (!p) return fer_fail(FER_ERR_NOMEM, "out of memory");
        l->names = p;
        l->cap = cap;
    }
    if (!(l->names[l->n] = strdup(s))) return fer_fail(FER_ERR_NOMEM, "out of memory");
    l->n++;
    return FER_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s/%s", a, b);
    return s;
}

/* Sorted non-hidden entries of dir; dirs_only keeps subdirectories only. */
static fer_status list_dir(const char *dir, int dirs_only, name_list *out)
{
    DIR *dp = opendir(dir);
    if (!dp) return fer_fail(FER_ERR_IO, "%s: cannot open folder", dir);
    fer_status s = FER_OK;
    struct dirent *e;
    while (!s && (e = readdir(dp))) {
        if (e->d_name[0] == '.') continue;
        if (dirs_only) {
            char *p = join(dir, e->d_name);
            struct stat st;
            int is_dir = p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
            free(p);
            if (!is_dir) continue;
        }
        s = names_push(out, e->d_name);
    }
    closedir(dp);
    if (s) return s;
    if (out->n > 1) qsort(out->names, (size_t)out->n, sizeof(char *), cmp_str);
    return FER_OK;
}

/* Folders already walked, by (device, inode). */
typedef struct dir_set {
    struct dir_id {
        dev_t dev;
        ino_t ino;
    } *ids;
    int n, cap;
} dir_set;

/* 1 when (dev, ino) was already in the set, else adds it and returns 0; -1 out of memory. */
static int dir_set_seen(dir_set *set, const struct stat *st)
{
    for (int i = 0; i < set->n; i++)
        if (set->ids[i].dev == st->st_dev && set->ids[i].ino == st->st_ino) return 1;
    if (set->n == set->cap) {
        int cap = set->cap ? 2 * set->cap : 16;
        struct dir_id *p = realloc(set->ids, (size_t)cap * sizeof *p);
        if (!p) return -1;
        set->ids = p;
        set->cap = cap;
    }
    set->ids[set->n].dev = st->st_dev;
    set->ids[set->n].ino = st->st_ino;
    set->n++;
    return 0;
}

/* Appends the paths of all files under dir (recursive, sorted) to files; dir itself is already
 * in visited. */
static fer_status collect_files(const char *dir, dir_set *visited, name_list *files)
{
    name_list entries = {0};
    fer_status s = list_dir(dir, 0, &entries);
    for (int i = 0; !s && i < entries.n; i++) {
        char *p = join(dir, entries.names[i]);
        if (!p) {
            s = fer_fail(FER_ERR_NOMEM, "out of memory");
            break;
        }
        struct stat st;
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            int seen = dir_set_seen(visited, &st);
            if (seen < 0) s = fer_fail(FER_ERR_NOMEM, "out of memory");
            else if (!seen) s = collect_files(p, visited, files);
        } else {
            s = names_push(files, p); /* non-regular files are refused when read */
        }
        free(p);
    }
    names_free(&entries);
    return s;
}

/* All files under a class folder, each folder once. */
static fer_status collect_class_files(const char *cdir, name_list *files)
{
    dir_set visited = {0};
    struct stat st;
    fer_status s = FER_OK;
    if (stat(cdir, &st) != 0) s = fer_fail(FER_ERR_IO, "%s: cannot open folder", cdir);
    else if (dir_set_seen(&visited, &st) < 0) s = fer_fail(FER_ERR_NOMEM, "out of memory");
    if (!s) s = collect_files(cdir, &visited, files);
    free(visited.ids);
    return s;
}

fer_status fer_dataset_load_folder(const char *root, const char *split,
                                   const fer_load_options *opt, fer_dataset_builder *b)
{
    fer_dataset *d = b->d;
    char *split_dir = join(root, split);
    if (!split_dir) return fer_fail(FER_ERR_NOMEM, "out of memory");
    struct stat st;
    if (stat(split_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fer_status s = fer_fail(FER_ERR_IO, "%s: missing split folder \"%s\"", split_dir, split);
        free(split_dir);
        return s;
    }
    name_list classes = {0};
    name_list *files = NULL;
    fer_status s = list_dir(split_dir, 1, &classes);
    if (!s && classes.n == 0)
        s = fer_fail(FER_ERR_FORMAT, "%s: no class folders", split_dir);
    if (!s && classes.n > FER_MAX_CLASSES)
        s = fer_fail(FER_ERR_FORMAT, "%s: %d class folders, at most %d supported", split_dir,
                     classes.n, FER_MAX_CLASSES);
    if (!s) files = calloc((size_t)classes.n, sizeof(name_list));
    if (!s && !files) s = fer_fail(FER_ERR_NOMEM, "out of memory");
    int total = 0;
    for (int c = 0; !s && c < classes.n; c++) {
        if (strlen(classes.names[c]) >= FER_NAME_LEN) {
            s = fer_fail(FER_ERR_FORMAT, "%s/%s: class name longer than %d characters",
                         split_dir, classes.names[c], FER_NAME_LEN - 1);
            break;
        }
        snprintf(d->class_names[c], FER_NAME_LEN, "%s", classes.names[c]);
        char *cdir = join(split_dir, classes.names[c]);
        if (!cdir) {
            s = fer_fail(FER_ERR_NOMEM, "out of memory");
            break;
        }
        s = collect_class_files(cdir, &files[c]);
        if (!s && files[c].n == 0) {
            s = fer_fail(FER_ERR_FORMAT, "%s: empty class folder (no images)", cdir);
            s = fer_bad_input(opt, d, s);
        }
        free(cdir);
        total += files[c].n;
    }
    d->n_classes = classes.n;
    uint8_t *img = malloc((size_t)d->h * d->w);
    if (!s && !img) s = fer_fail(FER_ERR_NOMEM, "out of memory");
    char what[512];
    snprintf(what, sizeof what, "%s", split_dir);
    int done = 0;
    for (int c = 0; !s && c < classes.n; c++) {
        for (int i = 0; !s && i < files[c].n; i++, done++) {
            const char *path = files[c].names[i];
            s = fer_png_read_gray(path, d->w, d->h, img);
            if (s == FER_ERR_FORMAT || s == FER_ERR_IO) {
                s = fer_bad_input(opt, d, s);
            } else if (!s) {
                s = fer_builder_add(b, img, c, path);
            }
            if (done % 1024 == 0) fer_load_progress(opt, what, done, total, 0);
        }
    }
    if (!s) fer_load_progress(opt, what, done, total, 1);
    if (!s && d->n == 0) s = fer_fail(FER_ERR_FORMAT, "%s: no readable images", split_dir);
    free(img);
    if (files)
        for (int c = 0; c < classes.n; c++) names_free(&files[c]);
    free(files);
    names_free(&classes);
    free(split_dir);
    return s;
}
