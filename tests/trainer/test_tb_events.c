/* The TensorBoard event file decodes with an independent reader: TFRecord framing with masked
 * CRC32C (bitwise CRC here, not fer/crc.h), a generic protobuf walk, and `protoc --decode_raw`
 * when protobuf-compiler is installed. */
#include <dirent.h>
#include <string.h>
#include "fixtures.h"
#include "tb_events.h"

static uint32_t crc32c_bitwise(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1u)));
    }
    return ~c;
}

static uint32_t masked(uint32_t crc)
{
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static uint64_t varint(const uint8_t *p, size_t *pos, size_t end)
{
    uint64_t v = 0;
    for (int shift = 0; *pos < end; shift += 7) {
        uint8_t b = p[(*pos)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
    }
    CHECK(!"truncated varint");
    return 0;
}

typedef struct event {
    double wall_time;
    long step;
    char version[32];
    char tag[64];
    float value;
    int has_value;
} event;

/* Generic protobuf walk of Event / Summary / Value */
static void parse_value(const uint8_t *p, size_t pos, size_t end, event *e)
{
    while (pos < end) {
        uint64_t key = varint(p, &pos, end);
        if (key == ((1 << 3) | 2)) {
            uint64_t n = varint(p, &pos, end);
            CHECK(n < sizeof e->tag && pos + n <= end);
            memcpy(e->tag, p + pos, n);
            e->tag[n] = 0;
            pos += n;
        } else if (key == ((2 << 3) | 5)) {
            uint32_t bits = (uint32_t)le(p + pos, 4);
            memcpy(&e->value, &bits, 4);
            e->has_value = 1;
            pos += 4;
        } else {
            CHECK(!"unexpected field in Value");
        }
    }
}

static void parse_event(const uint8_t *p, size_t n, event *e)
{
    memset(e, 0, sizeof *e);
    size_t pos = 0;
    while (pos < n) {
        uint64_t key = varint(p, &pos, n);
        int field = (int)(key >> 3), wt = (int)(key & 7);
        if (field == 1 && wt == 1) {
            uint64_t bits = le(p + pos, 8);
            memcpy(&e->wall_time, &bits, 8);
            pos += 8;
        } else if (field == 2 && wt == 0) {
            e->step = (long)varint(p, &pos, n);
        } else if (field == 3 && wt == 2) {
            uint64_t len = varint(p, &pos, n);
            CHECK(len < sizeof e->version);
            memcpy(e->version, p + pos, len);
            pos += len;
        } else if (field == 5 && wt == 2) {
            size_t end = pos + varint(p, &pos, n);
            CHECK(end <= n);
            uint64_t k = varint(p, &pos, end); /* Summary.value */
            CHECK(k == ((1 << 3) | 2));
            size_t vend = pos + varint(p, &pos, end);
            CHECK(vend == end); /* exactly one value */
            parse_value(p, pos, vend, e);
            pos = end;
        } else {
            CHECK(!"unexpected field in Event");
        }
    }
}

static void protoc_check(const char *dir, const uint8_t *payload, size_t n, const char *needle)
{
    if (system("command -v protoc >/dev/null 2>&1") != 0) return;
    char in[4200], cmd[9000];
    snprintf(in, sizeof in, "%s/record.bin", dir);
    FILE *f = fopen(in, "wb");
    CHECK(f && fwrite(payload, 1, n, f) == n);
    fclose(f);
    snprintf(cmd, sizeof cmd, "protoc --decode_raw < '%s'", in);
    FILE *p = popen(cmd, "r");
    CHECK(p);
    char out[4096];
    size_t got = fread(out, 1, sizeof out - 1, p);
    out[got] = 0;
    CHECK(pclose(p) == 0);
    if (!strstr(out, needle)) {
        fprintf(stderr, "protoc --decode_raw output lacks %s:\n%s\n", needle, out);
        exit(1);
    }
}

int main(void)
{
    char *dir = fx_tempdir("tb");
    fer_tb_writer *w = NULL;
    CHECK(fer_tb_open(dir, &w) == FER_OK);
    const char *tags[3] = {"train/loss", "val/macro_f1", "lr"};
    const float values[3] = {1.25f, 0.5f, 1e-3f};
    for (int step = 1; step <= 300; step += 299)
        for (int k = 0; k < 3; k++)
            CHECK(fer_tb_scalar(w, tags[k], values[k] * step, step, 1700000000.5 + step) == FER_OK);
    char path[4200];
    snprintf(path, sizeof path, "%s", fer_tb_path(w));
    fer_tb_close(w);
    CHECK(strstr(path, "/events.out.tfevents."));

    size_t n = 0;
    uint8_t *buf = (uint8_t *)fx_read_file(path, &n);
    CHECK(buf);
    size_t pos = 0;
    int records = 0;
    while (pos < n) {
        CHECK(pos + 12 <= n);
        uint64_t len = le(buf + pos, 8);
        CHECK((uint32_t)le(buf + pos + 8, 4) == masked(crc32c_bitwise(buf + pos, 8)));
        CHECK(pos + 12 + len + 4 <= n);
        const uint8_t *payload = buf + pos + 12;
        CHECK((uint32_t)le(payload + len, 4) == masked(crc32c_bitwise(payload, len)));
        event e;
        parse_event(payload, len, &e);
        if (records == 0) {
            CHECK(!strcmp(e.version, "brain.Event:2") && e.wall_time > 1e9);
            protoc_check(dir, payload, len, "brain.Event:2");
        } else {
            int k = (records - 1) % 3, step = records <= 3 ? 1 : 300;
            CHECK(!strcmp(e.tag, tags[k]) && e.has_value && e.value == values[k] * step);
            CHECK(e.step == step && e.wall_time == 1700000000.5 + step);
            if (records == 4) protoc_check(dir, payload, len, "\"train/loss\"");
        }
        records++;
        pos += 12 + len + 4;
    }
    CHECK(records == 7);
    free(buf);
    fx_rm_rf(dir);
    free(dir);
    printf("test_tb_events: ok\n");
    return 0;
}
