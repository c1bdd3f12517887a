/* Building blocks of the detector against plain definitions: integral images (incl. the
 * 45-degree one), bilinear resize, cv::groupRectangles grouping and duplicate removal,
 * argument checks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "cascade_internal.h"

#include "../../common/fer_check.h"

static guint8 *
random_image (int w, int h, guint32 seed)
{
  GRand *r = g_rand_new_with_seed (seed);
  guint8 *img = g_malloc ((gsize) w * h);
  for (int i = 0; i < w * h; i++)
    img[i] = (guint8) g_rand_int_range (r, 0, 256);
  g_rand_free (r);
  return img;
}

/* cv::integral's tilted definition, summed pixel by pixel. */
static guint64
tilted_by_definition (const guint8 *img, int w, int h, int X, int Y)
{
  guint64 s = 0;
  for (int y = 0; y < Y && y < h; y++)
    for (int x = 0; x < w; x++)
      if (abs (x - X + 1) <= Y - y - 1)
        s += img[y * w + x];
  return s;
}

static void
test_integrals (void)
{
  const int w = 37, h = 29, stride = w + 5;
  guint8 *img = random_image (w, h, 7);
  uint32_t *sum = g_new0 (uint32_t, (gsize) stride * (h + 1));
  uint32_t *sq = g_new0 (uint32_t, (gsize) stride * (h + 1));
  uint32_t *tilted = g_new0 (uint32_t, (gsize) stride * (h + 1));
  uint32_t *rows = g_new0 (uint32_t, 3 * (gsize) (w + 2 * h + 3));

  fer_integral (img, w, h, w, sum, sq, stride);
  fer_integral_tilted (img, w, h, w, tilted, stride, rows);
  for (int Y = 0; Y <= h; Y++)
    for (int X = 0; X <= w; X++) {
      guint64 s = 0, q = 0;
      for (int y = 0; y < Y; y++)
        for (int x = 0; x < X; x++) {
          s += img[y * w + x];
          q += (guint64) img[y * w + x] * img[y * w + x];
        }
      CHECK (sum[Y * stride + X] == s, "sum(%d,%d) %u != %" G_GUINT64_FORMAT, X, Y,
          sum[Y * stride + X], s);
      CHECK (sq[Y * stride + X] == (uint32_t) q, "sqsum(%d,%d)", X, Y);
      guint64 t = tilted_by_definition (img, w, h, X, Y);
      CHECK (tilted[Y * stride + X] == t, "tilted(%d,%d) %u != %" G_GUINT64_FORMAT, X, Y,
          tilted[Y * stride + X], t);
    }

  /* A tilted rectangle (corners as in OpenCV's CV_TILTED_OFFSETS) covers 2*w*h pixels. */
  memset (img, 1, (gsize) w * h);
  fer_integral_tilted (img, w, h, w, tilted, stride, rows);
  const int rects[][4] = { {5, 0, 3, 2}, {10, 2, 4, 4}, {8, 1, 1, 6}, {12, 3, 7, 5} };
  for (gsize i = 0; i < G_N_ELEMENTS (rects); i++) {
    int x = rects[i][0], y = rects[i][1], rw = rects[i][2], rh = rects[i][3];
#define T(px, py) ((int64_t) tilted[(py) * stride + (px)])
    int64_t s = T (x, y) - T (x - rh, y + rh) - T (x + rw, y + rw) +
        T (x + rw - rh, y + rw + rh);
#undef T
    CHECK (s == 2 * rw * rh, "tilted rect %d %d %d %d covers %" G_GINT64_FORMAT " pixels, "
        "want %d", x, y, rw, rh, s, 2 * rw * rh);
  }
  g_free (img);
  g_free (sum);
  g_free (sq);
  g_free (tilted);
  g_free (rows);
  g_print ("ok  integrals (sum, squared, tilted) match their definitions\n");
}

static void
test_resize (void)
{
  fer_cascade c = { 0 };
  c.path = (char *) "resize";
  const int sw = 64, sh = 48;
  guint8 *src = g_malloc (sw * sh), *dst = g_malloc (sw * sh);

  memset (src, 93, sw * sh);
  CHECK (fer_resize_bilinear (&c, src, sw, sh, sw, dst, 23, 17) == FER_OK, "resize");
  for (int i = 0; i < 23 * 17; i++)
    CHECK (dst[i] == 93, "constant image changed at %d: %d", i, dst[i]);

  /* Horizontal ramp 4*x: centre-aligned bilinear sampling at x' = (d + 0.5) * 2 - 0.5. */
  for (int y = 0; y < sh; y++)
    for (int x = 0; x < sw; x++)
      src[y * sw + x] = (guint8) (4 * x);
  CHECK (fer_resize_bilinear (&c, src, sw, sh, sw, dst, 32, 24) == FER_OK, "resize");
  for (int y = 0; y < 24; y++)
    for (int d = 0; d < 32; d++) {
      double fx = (d + 0.5) * 2 - 0.5;
      CHECK (fabs (dst[y * 32 + d] - 4 * fx) <= 1.0, "ramp at %d: %d, want %.1f", d,
          dst[y * 32 + d], 4 * fx);
    }

  /* Same size: a copy. */
  guint8 *rnd = random_image (sw, sh, 3);
  CHECK (fer_resize_bilinear (&c, rnd, sw, sh, sw, dst, sw, sh) == FER_OK, "resize");
  CHECK (memcmp (rnd, dst, sw * sh) == 0, "identity resize changed pixels");
  g_free (rnd);
  g_free (src);
  g_free (dst);
  free (c.resize_tab);
  free (c.resize_rows);
  g_print ("ok  bilinear resize\n");
}

static void
add_cluster (fer_cascade_boxes *raw, int x, int y, int s, int n, int jitter)
{
  for (int i = 0; i < n; i++) {
    int j = (i % 3 - 1) * jitter;
    fer_cascade_box b = { x + j, y - j, s + (i % 2) * jitter, s + (i % 2) * jitter, 1 };
    CHECK (fer_cascade_boxes_push (raw, b) == FER_OK, "push");
  }
}

static void
test_grouping (void)
{
  fer_cascade_boxes raw = { 0 }, out = { 0 };

  add_cluster (&raw, 100, 100, 50, 6, 2);  /* a face: 6 hits */
  add_cluster (&raw, 300, 40, 40, 2, 1);   /* weak: 2 hits */
  add_cluster (&raw, 110, 110, 20, 4, 1);  /* small cluster inside the face */
  add_cluster (&raw, 500, 300, 60, 5, 3);  /* another face: 5 hits */
  CHECK (fer_cascade_group (raw.v, raw.n, 3, 0.2, &out) == FER_OK, "group");
  CHECK (out.n == 2, "min_neighbors 3: %zu boxes, want 2 (the weak cluster and the small "
      "one inside the face removed)", out.n);
  CHECK (out.v[0].neighbors == 6 && out.v[1].neighbors == 5, "sorted by neighbors");
  CHECK (abs (out.v[0].x - 100) <= 1 && abs (out.v[0].w - 51) <= 1, "averaged box %d %d %d %d",
      out.v[0].x, out.v[0].y, out.v[0].w, out.v[0].h);

  CHECK (fer_cascade_group (raw.v, raw.n, 1, 0.2, &out) == FER_OK, "group");
  CHECK (out.n == 3, "min_neighbors 1: %zu boxes, want 3", out.n);
  CHECK (fer_cascade_group (raw.v, raw.n, 0, 0.2, &out) == FER_OK, "group");
  CHECK (out.n == 3, "min_neighbors 0 still groups (no raw duplicates): %zu", out.n);
  CHECK (fer_cascade_group (raw.v, raw.n, 6, 0.2, &out) == FER_OK && out.n == 0,
      "min_neighbors 6: nothing has more than 6 hits");

  /* Two clusters that are not "similar" but overlap: the weaker one is a duplicate. */
  raw.n = 0;
  add_cluster (&raw, 100, 100, 60, 8, 1);
  add_cluster (&raw, 125, 100, 60, 5, 1);
  CHECK (fer_cascade_group (raw.v, raw.n, 3, 0.2, &out) == FER_OK, "group");
  CHECK (out.n == 1 && out.v[0].neighbors == 8, "overlapping clusters: %zu boxes", out.n);

  CHECK (fer_cascade_group (NULL, 0, 3, 0.2, &out) == FER_OK && out.n == 0, "empty input");
  /* Hits but no cluster strong enough, into a list never grown (v == NULL): nothing to sort
   * (qsort(NULL, 0) was undefined behaviour, caught by UBSan on 4K frames). */
  fer_cascade_boxes fresh = { 0 };
  CHECK (fer_cascade_group (raw.v, raw.n, 100, 0.2, &fresh) == FER_OK && fresh.n == 0 &&
      fresh.v == NULL, "no cluster passes min_neighbors");
  fer_cascade_box a = { 0, 0, 10, 10, 0 }, b = { 5, 0, 10, 10, 0 }, e = { 0, 0, 0, 10, 0 };
  CHECK (fabs (fer_cascade_box_iou (&a, &b) - 50.0 / 150.0) < 1e-9, "IoU");
  CHECK (fer_cascade_box_iou (&a, &e) == 0.0, "IoU with an empty box");
  fer_cascade_boxes_clear (&raw);
  fer_cascade_boxes_clear (&out);
  g_print ("ok  grouping (cv::groupRectangles rules + duplicate removal)\n");
}

static void
test_args (void)
{
  const char *path = "/usr/share/opencv4/lbpcascades/lbpcascade_frontalface.xml";
  fer_cascade *c = NULL;
  fer_cascade_boxes out = { 0 };
  fer_cascade_params p;
  guint8 img[200 * 200];

  if (fer_cascade_load (path, &c) != FER_OK) {
    g_print ("note: %s missing, argument checks skipped\n", path);
    return;
  }
  fer_cascade_params_default (&p);
  memset (img, 128, sizeof img);
  CHECK (fer_cascade_detect (c, img, 200, 200, 200, &p, &out) == FER_OK && out.n == 0,
      "blank image: %zu boxes", out.n);
  CHECK (fer_cascade_detect (c, img, 10, 10, 10, &p, &out) == FER_OK && out.n == 0,
      "image smaller than the window");
  CHECK (fer_cascade_detect (c, NULL, 200, 200, 200, &p, &out) == FER_ERR_ARG, "NULL image");
  CHECK (fer_cascade_detect (c, img, 200, 0, 200, &p, &out) == FER_ERR_ARG, "height 0");
  CHECK (fer_cascade_detect (c, img, 200, 200, 100, &p, &out) == FER_ERR_ARG, "short stride");
  CHECK (strstr (fer_last_error (), "bad image size"), "%s", fer_last_error ());
  p.scale_factor = 1.0;
  CHECK (fer_cascade_detect (c, img, 200, 200, 200, &p, &out) == FER_ERR_ARG, "scale 1");
  CHECK (strstr (fer_last_error (), "scale factor"), "%s", fer_last_error ());
  fer_cascade_params_default (&p);
  p.min_size = -1;
  CHECK (fer_cascade_detect (c, img, 200, 200, 200, &p, &out) == FER_ERR_ARG, "min_size");
  fer_cascade_params_default (&p);
  p.min_size = 300;             /* no scale qualifies */
  CHECK (fer_cascade_detect (c, img, 200, 200, 200, &p, &out) == FER_OK && out.n == 0,
      "min_size above the image");
  fer_cascade_boxes_clear (&out);
  fer_cascade_free (c);
  fer_cascade_free (NULL);
  g_print ("ok  argument checks\n");
}

int
main (void)
{
  test_integrals ();
  test_resize ();
  test_grouping ();
  test_args ();
  return 0;
}
