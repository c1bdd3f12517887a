/* TensorBoard event writer (see tb_events.h). Event files are append-only logs read while they
 * grow, so unlike the other outputs they are appended and flushed, not renamed into place;
 * a crash can at worst leave one truncated record, which TensorBoard skips. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "fer/crc.h"
#include "tb_events.h"

struct fer_tb_writer {
    FILE *f;
    char path[4096];
};

/* --- protobuf wire format ------------------------------------------------------------------ */

typedef struct pb {
    uint8_t *buf; /* NULL: only count */
    size_t n;
} pb;

static void pb_byte(pb *p, uint8_t b)
{
    if (p->buf) p->buf[p->n] = b;
    p->n++;
}

static void pb_varint(pb *p, uint64_t v)
{
    while (v >= 0x80) {
        pb_byte(p, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    pb_byte(p, (uint8_t)v);
}

static void pb_key(pb *p, int field, int wire_type)
{
    pb_varint(p, ((uint64_t)field << 3) | (uint64_t)wire_type);
}

static void pb_fixed(pb *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) pb_byte(p, (uint8_t)(v >> (8 * i)));
}

static void pb_double(pb *p, int field, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, 8);
    pb_key(p, field, 1);
    pb_fixed(p, bits, 8);
}

static void pb_float(pb *p, int field, float f)
{
    uint32_t bits;
    memcpy(&bits, &f, 4);
    pb_key(p, field, 5);
    pb_fixed(p, bits, 4);
}

static void pb_bytes(pb *p, int field, const void *data, size_t n)
{
    pb_key(p, field, 2);
    pb_varint(p, n);
    for (size_t i = 0; i < n; i++) pb_byte(p, ((const uint8_t *)data)[i]);
}

/* length of a varint */
static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t fer_tb_encode_scalar_event(uint8_t *buf, double wall_time, int64_t step, const char *tag,
                                  float value)
{
    size_t tag_len = strlen(tag);
    size_t value_len = 1 + varint_len(tag_len) + tag_len + 1 + 4; /* Value{tag, simple_value} */
    size_t summary_len = 1 + varint_len(value_len) + value_len;   /* Summary{value} */
    pb p = {buf, 0};
    pb_double(&p, 1, wall_time);
    pb_key(&p, 2, 0);
    pb_varint(&p, (uint64_t)step);
    pb_key(&p, 5, 2);
    pb_varint(&p, summary_len);
    pb_key(&p, 1, 2);
    pb_varint(&p, value_len);
    pb_bytes(&p, 1, tag, tag_len);
    pb_float(&p, 2, value);
    return p.n;
}

size_t fer_tb_encode_version_event(uint8_t *buf, double wall_time, const char *version)
{
    pb p = {buf, 0};
    pb_double(&p, 1, wall_time);
    pb_bytes(&p, 3, version, strlen(version));
    return p.n;
}

/* --- TFRecord framing ---------------------------------------------------------------------- */

static fer_status write_record(fer_tb_writer *w, const uint8_t *data, size_t n)
{
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)((uint64_t)n >> (8 * i));
    uint32_t len_crc = fer_crc32c_masked(len, 8);
    uint32_t data_crc = fer_crc32c_masked(data, n);
    uint8_t c1[4], c2[4];
    for (int i = 0; i < 4; i++) {
        c1[i] = (uint8_t)(len_crc >> (8 * i));
        c2[i] = (uint8_t)(data_crc >> (8 * i));
    }
    if (fwrite(len, 1, 8, w->f) != 8 || fwrite(c1, 1, 4, w->f) != 4 ||
        fwrite(data, 1, n, w->f) != n || fwrite(c2, 1, 4, w->f) != 4 || fflush(w->f) != 0)
        return fer_fail(FER_ERR_IO, "%s: write failed: %s", w->path, strerror(errno));
    return FER_OK;
}

fer_status fer_tb_open(const char *dir, fer_tb_writer **out)
{
    *out = NULL;
    fer_tb_writer *w = calloc(1, sizeof *w);
    if (!w) return fer_fail(FER_ERR_NOMEM, "out of memory");
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(w->path, sizeof w->path, "%s/events.out.tfevents.%lld.%s.%ld.0", dir,
             (long long)ts.tv_sec, host, (long)getpid());
    /* a fresh file of our own: a file or symlink planted under the name is never followed */
    int fd = open(w->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    w->f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!w->f) {
        if (fd >= 0) close(fd);
        fer_status s = fer_fail(FER_ERR_IO, "%s: cannot create: %s", w->path, strerror(errno));
        free(w);
        return s;
    }
    double now = (double)ts.tv_sec + ts.tv_nsec * 1e-9;
    uint8_t buf[64];
    size_t n = fer_tb_encode_version_event(buf, now, "brain.Event:2");
    fer_status s = write_record(w, buf, n);
    if (s) {
        fer_tb_close(w);
        return s;
    }
    *out = w;
    return FER_OK;
}

fer_status fer_tb_scalar(fer_tb_writer *w, const char *tag, float value, int64_t step,
                         double wall_time)
{
    size_t n = fer_tb_encode_scalar_event(NULL, wall_time, step, tag, value);
    uint8_t *buf = malloc(n);
    if (!buf) return fer_fail(FER_ERR_NOMEM, "out of memory");
    fer_tb_encode_scalar_event(buf, wall_time, step, tag, value);
    fer_status s = write_record(w, buf, n);
    free(buf);
    return s;
}

const char *fer_tb_path(const fer_tb_writer *w)
{
    return w->path;
}

void fer_tb_close(fer_tb_writer *w)
{
    if (!w) return;
    if (w->f) fclose(w->f);
    free(w);
}
