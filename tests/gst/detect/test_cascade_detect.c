/* The detector on the sample images: the recorded faces are found (IoU >= 0.5) with no
 * duplicates; SIMD and scalar paths give identical boxes; the exhaustive (OpenCV-like) scan
 * and the default coarse-to-fine scan find the same faces; the LBP cascade finds the
 * astronaut too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cascade_internal.h"
#include "detect_test.h"

#define HAAR_ALT "/usr/share/opencv4/haarcascades/haarcascade_frontalface_alt.xml"
#define LBP_FRONTAL "/usr/share/opencv4/lbpcascades/lbpcascade_frontalface.xml"

static gint
detect (const char *cascade, const guint8 * gray, int w, int h, gboolean exhaustive,
    gboolean simd, DtBox * out, gint max)
{
  fer_cascade *c = NULL;
  fer_cascade_params p;
  fer_cascade_boxes boxes = { 0 };
  gint n;

  FER_CHECK (fer_cascade_load (cascade, &c) == FER_OK, "%s", fer_last_error ());
  c->no_simd = !simd;
  fer_cascade_params_default (&p);
  p.exhaustive = exhaustive;
  FER_CHECK (fer_cascade_detect (c, gray, w, h, w, &p, &boxes) == FER_OK, "%s",
      fer_last_error ());
  /* A second call reuses the scratch buffers and must give the same answer. */
  fer_cascade_boxes again = { 0 };
  FER_CHECK (fer_cascade_detect (c, gray, w, h, w, &p, &again) == FER_OK, "again");
  FER_CHECK (again.n == boxes.n && (boxes.n == 0 ||
          memcmp (again.v, boxes.v, boxes.n * sizeof *boxes.v) == 0), "second run differs");
  n = MIN ((gint) boxes.n, max);
  for (gint i = 0; i < n; i++) {
    out[i] = (DtBox) { boxes.v[i].x, boxes.v[i].y, boxes.v[i].w, boxes.v[i].h };
    FER_CHECK (boxes.v[i].neighbors > p.min_neighbors, "neighbors %d", boxes.v[i].neighbors);
    FER_CHECK (boxes.v[i].x >= 0 && boxes.v[i].y >= 0 && boxes.v[i].x + boxes.v[i].w <= w &&
        boxes.v[i].y + boxes.v[i].h <= h, "box outside the image");
  }
  fer_cascade_boxes_clear (&boxes);
  fer_cascade_boxes_clear (&again);
  fer_cascade_free (c);
  return n;
}

static void
check_image (const char *name, const DtBox * expected, gint n_expected)
{
  gchar *path = dt_sample (name);
  gint w, h;
  guint8 *gray = dt_gray (path, &w, &h);
  DtBox found[32], scalar[32], exhaustive[32];
  gint n = detect (HAAR_ALT, gray, w, h, FALSE, TRUE, found, 32);
  gchar *s = dt_boxes_string (found, n);

  if (g_getenv ("FER_DT_PRINT"))
    g_print ("%s: %s\n", name, s);
  FER_CHECK (n == n_expected, "%s: %d faces, want %d: %s", name, n, n_expected, s);
  FER_CHECK (dt_matched (expected, n_expected, found, n, 0.5) == n_expected,
      "%s: recorded faces not all found (IoU >= 0.5): %s", name, s);
  dt_check_no_duplicates (found, n, 0.0, name);

  gint ns = detect (HAAR_ALT, gray, w, h, FALSE, FALSE, scalar, 32);
  FER_CHECK (ns == n && memcmp (scalar, found, n * sizeof *found) == 0,
      "%s: scalar path differs from SIMD", name);
  gint ne = detect (HAAR_ALT, gray, w, h, TRUE, TRUE, exhaustive, 32);
  gchar *se = dt_boxes_string (exhaustive, ne);
  FER_CHECK (dt_matched (expected, n_expected, exhaustive, ne, 0.5) == n_expected,
      "%s: exhaustive scan misses faces: %s", name, se);
  g_print ("ok  %s: %s (exhaustive: %s)\n", name, s, se);
  g_free (se);
  g_free (s);
  g_free (gray);
  g_free (path);
}

int
main (int argc, char **argv)
{
  fer_gst_test_init (&argc, &argv);
  if (!g_file_test (HAAR_ALT, G_FILE_TEST_EXISTS)) {
    g_print ("SKIP: opencv-data is not installed\n");
    return FER_TEST_SKIP;
  }
  check_image ("astronaut.png", dt_astronaut_faces, 1);
  check_image ("sample5.jpg", dt_sample5_faces, 5);

  /* The LBP cascade (SIMD and scalar) on the astronaut. */
  gchar *path = dt_sample ("astronaut.png");
  gint w, h;
  guint8 *gray = dt_gray (path, &w, &h);
  DtBox a[8], b[8];
  gint na = detect (LBP_FRONTAL, gray, w, h, FALSE, TRUE, a, 8);
  gint nb = detect (LBP_FRONTAL, gray, w, h, FALSE, FALSE, b, 8);
  FER_CHECK (na == 1 && dt_iou (&a[0], &dt_astronaut_faces[0]) >= 0.5, "LBP astronaut");
  FER_CHECK (nb == na && memcmp (a, b, na * sizeof *a) == 0, "LBP scalar differs from SIMD");
  g_print ("ok  LBP cascade on astronaut.png: [%d %d %d %d]\n", a[0].x, a[0].y, a[0].w,
      a[0].h);
  g_free (gray);
  g_free (path);
  return 0;
}
