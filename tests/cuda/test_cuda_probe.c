/* Device probe and backend selection, in every build:
 * - built without CUDA: "cuda" is FER_ERR_UNSUPPORTED, "auto" is cpu with a note;
 * - built with CUDA, no device (or no driver): the probe answers 0 without crashing, "cuda" is
 *   FER_ERR_NODEVICE with a clear message, "auto" falls back to cpu with one informative note;
 * - with a device: "cuda" and "auto" give the cuda backend, and memory round-trips.
 * Linking this test also proves the CUDA objects link into a program. */
#include <stdio.h>
#include <string.h>

#include "fer/backend.h"
#include "fer_config.h"

#define FER_CHECK_CONTINUE /* report every mismatch, not only the first */
#include "../common/fer_check.h"

static int listed(const char *name)
{
    for (const char *const *l = fer_backend_list(); *l; l++)
        if (strcmp(*l, name) == 0)
            return 1;
    return 0;
}

static void check_no_device(void)
{
    fer_backend *b = NULL;
    fer_status st = fer_backend_new("cuda", 1, &b);
#if FER_HAVE_CUDA
    CHECK(st == FER_ERR_NODEVICE, "cuda without a device: got %s, want %s",
          fer_status_name(st), fer_status_name(FER_ERR_NODEVICE));
#else
    CHECK(st == FER_ERR_UNSUPPORTED, "cuda in a build without CUDA: got %s",
          fer_status_name(st));
#endif
    CHECK(b == NULL, "no backend object on failure");
    CHECK(strncmp(fer_last_error(), "cuda: ", 6) == 0, "message names cuda: '%s'",
          fer_last_error());
    printf("--backend cuda -> %s: %s\n", fer_status_name(st), fer_last_error());

    st = fer_backend_new("auto", 1, &b);
    CHECK(st == FER_OK, "auto without a device: %s", fer_last_error());
    if (st == FER_OK) {
        CHECK(strcmp(fer_backend_name(b), "cpu") == 0, "auto fell back to '%s', want cpu",
              fer_backend_name(b));
        CHECK(fer_backend_note(b)[0] != '\0', "auto fallback explains itself in the note");
        printf("--backend auto -> %s (%s)\n", fer_backend_name(b), fer_backend_note(b));
        fer_backend_free(b);
    }
}

static void check_device(void)
{
    fer_backend *b = NULL;
    fer_status st = fer_backend_new("cuda", 1, &b);
    CHECK(st == FER_OK, "cuda with a device: %s", fer_last_error());
    if (st != FER_OK)
        return;
    CHECK(strcmp(fer_backend_name(b), "cuda") == 0, "name '%s'", fer_backend_name(b));
    CHECK(b->ops->crop_faces_48 != NULL, "cuda offers the face batch op");
    printf("--backend cuda -> %s\n", fer_backend_note(b));
    float host[5] = {1, 2, 3, 4, 5}, back[5] = {0};
    void *dev = NULL;
    st = b->ops->alloc(b, sizeof host, &dev);
    CHECK(st == FER_OK, "alloc: %s", fer_last_error());
    if (st == FER_OK) {
        CHECK(b->ops->download(b, back, dev, sizeof back) == FER_OK, "download");
        CHECK(back[0] == 0.0f && back[4] == 0.0f, "alloc is zero-filled");
        CHECK(b->ops->upload(b, dev, host, sizeof host) == FER_OK, "upload");
        CHECK(b->ops->scale(b, 5, dev, 2.0f) == FER_OK, "scale");
        CHECK(b->ops->download(b, back, dev, sizeof back) == FER_OK, "download");
        CHECK(back[4] == 10.0f, "round trip through scale: %g", back[4]);
        b->ops->release(b, dev);
    }
    fer_backend_free(b);

    st = fer_backend_new("auto", 1, &b);
    CHECK(st == FER_OK && strcmp(fer_backend_name(b), "cuda") == 0, "auto picks cuda");
    fer_backend_free(b);
}

int main(void)
{
    int n = fer_cuda_device_count();
    CHECK(n >= 0, "device count %d", n);
    CHECK(fer_cuda_device_count() == n, "probe is stable");
    CHECK(listed("ref") && listed("cpu"), "ref and cpu are always listed");
    CHECK(listed("cuda") == FER_HAVE_CUDA, "cuda listed iff built (FER_HAVE_CUDA=%d)",
          FER_HAVE_CUDA);
    printf("CUDA backend built: %s; devices: %d\n", FER_HAVE_CUDA ? "yes" : "no", n);
    if (n > 0)
        check_device();
    else
        check_no_device();
    if (fer_check_summary("test_cuda_probe"))
        return 1;
    return 0;
}
