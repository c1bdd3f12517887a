/* Window evaluation against a naive oracle: for every window of a small face image, the stage
 * at which the cascade rejects it (or acceptance) must be identical on the scalar path, the
 * SIMD coarse-grid path and the SIMD adjacent path, and equal to an evaluation that sums
 * pixels with plain loops (no integral images, no precomputed offsets). Covers LBP stumps,
 * Haar stumps, Haar trees, and tilted Haar features (stumps and trees). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cascade_eval.h"
#include "detect_test.h"

typedef struct Image {
  const guint8 *px;
  int w, h;
  gint64 *tilted;               /* (w+1) x (h+1), by cv::integral's definition */
} Image;

static gint64
rect_sum (const Image * im, int x, int y, int w, int h, gboolean squared)
{
  gint64 s = 0;
  for (int yy = y; yy < y + h; yy++)
    for (int xx = x; xx < x + w; xx++) {
      gint64 v = im->px[yy * im->w + xx];
      s += squared ? v * v : v;
    }
  return s;
}

static void
make_tilted (Image * im)
{
  im->tilted = g_new0 (gint64, (gsize) (im->w + 1) * (im->h + 1));
  for (int Y = 0; Y <= im->h; Y++)
    for (int X = 0; X <= im->w; X++) {
      gint64 s = 0;
      for (int y = 0; y < Y; y++)
        for (int x = MAX (0, X - Y + y); x <= MIN (im->w - 1, X + Y - y - 2); x++)
          s += im->px[y * im->w + x];
      im->tilted[Y * (im->w + 1) + X] = s;
    }
}

static gint64
tilted_sum (const Image * im, int x, int y, int w, int h)
{
#define T(px, py) im->tilted[(py) * (im->w + 1) + (px)]
  return T (x, y) - T (x - h, y + h) - T (x + w, y + w) + T (x + w - h, y + w + h);
#undef T
}

static float
haar_feature (const fer_haar_feature * f, const Image * im, int wx, int wy)
{
  float v = 0;
  for (int i = 0; i < f->n_rects; i++) {
    const fer_haar_rect *r = &f->r[i];
    gint64 s = f->tilted ? tilted_sum (im, wx + r->x, wy + r->y, r->w, r->h) :
        rect_sum (im, wx + r->x, wy + r->y, r->w, r->h, FALSE);
    v = i == 0 ? f->r[0].weight * (float) s : v + r->weight * (float) s;
  }
  return v;
}

static int
lbp_feature (const fer_lbp_feature * f, const Image * im, int wx, int wy)
{
  gint64 cell[3][3];
  for (int r = 0; r < 3; r++)
    for (int q = 0; q < 3; q++)
      cell[r][q] = rect_sum (im, wx + f->x + q * f->w, wy + f->y + r * f->h, f->w, f->h, FALSE);
  gint64 c = cell[1][1];
  return (cell[0][0] >= c) << 7 | (cell[0][1] >= c) << 6 | (cell[0][2] >= c) << 5 |
      (cell[1][2] >= c) << 4 | (cell[2][2] >= c) << 3 | (cell[2][1] >= c) << 2 |
      (cell[2][0] >= c) << 1 | (cell[1][0] >= c);
}

/* The cascade semantics of cv::CascadeClassifier, written out plainly. */
static int
oracle (const fer_cascade * c, const Image * im, int wx, int wy)
{
  float inv = 1;
  if (c->type == FER_CASCADE_HAAR) {
    int area = (c->win_w - 2) * (c->win_h - 2);
    gint64 s = rect_sum (im, wx + 1, wy + 1, c->win_w - 2, c->win_h - 2, FALSE);
    gint64 q = rect_sum (im, wx + 1, wy + 1, c->win_w - 2, c->win_h - 2, TRUE);
    gint64 nf = area * q - s * s;
    if (nf <= 0)
      return -1;
    inv = (float) (1.0 / sqrt ((double) nf));
    if (!((double) area * inv < 0.1))
      return -1;
  }
  for (int si = 0; si < c->n_stages; si++) {
    const fer_stage *st = &c->stages[si];
    float sum = 0;
    int32_t sum_fx = 0;
    for (int t = st->first_tree; t < st->first_tree + st->n_trees; t++) {
      const fer_tree *tree = &c->trees[t];
      int idx = 0;
      do {
        const fer_tree_node *n = &c->nodes[tree->first_node + idx];
        gboolean left;
        if (c->type == FER_CASCADE_LBP) {
          int code = lbp_feature (&c->lbp[n->feature], im, wx, wy);
          left = (n->subset[code / 32] >> (code % 32)) & 1;
        } else {
          left = haar_feature (&c->haar[n->feature], im, wx, wy) * inv < n->threshold;
        }
        idx = left ? n->left : n->right;
      } while (idx > 0);
      sum += c->leaves[tree->first_leaf - idx];
      if (c->lbp_stumps)        /* the fast path keeps LBP leaves in fixed point */
        sum_fx += idx == 0 ? c->lbp_stumps[t].left_fx : c->lbp_stumps[t].right_fx;
    }
    if (c->lbp_stumps ? sum_fx < st->threshold_fx : sum < st->threshold)
      return -si;
  }
  return 1;
}

static void
check_cascade (const char *file, const guint8 * gray, int w, int h, int min_deepest)
{
  gchar *path = g_build_filename ("/usr/share/opencv4",
      g_str_has_prefix (file, "lbp") ? "lbpcascades" : "haarcascades", file, NULL);
  fer_cascade *c = NULL;
  fer_cascade_params p;
  fer_cascade_boxes boxes = { 0 };
  Image im = { gray, w, h, NULL };

  FER_CHECK (fer_cascade_load (path, &c) == FER_OK, "%s", fer_last_error ());
  if (c->has_tilted)
    make_tilted (&im);
  if (c->lbp_stumps)            /* fixed-point leaves stay within rounding of the floats */
    for (int t = 0; t < c->n_trees; t++)
      FER_CHECK (fabs (ldexp (c->lbp_stumps[t].left_fx, -c->fx_shift) -
              c->leaves[c->trees[t].first_leaf]) <= ldexp (1, -c->fx_shift), "fixed point");

  /* One pyramid level at scale 1 (no resize); leaves the integral planes and, for stump
   * cascades, the SIMD split layout of this image in c. */
  fer_cascade_params_default (&p);
  p.min_size = p.max_size = MAX (c->win_w, c->win_h);
  p.step = 1;
  FER_CHECK (fer_cascade_detect (c, gray, w, h, w, &p, &boxes) == FER_OK, "%s",
      fer_last_error ());

  int nx = w - c->win_w + 1, ny = h - c->win_h + 1, hits = 0, deepest = 0;
  int *want = g_new (int, (gsize) nx * ny);
  for (int y = 0; y < ny; y++)
    for (int x = 0; x < nx; x++) {
      int r = want[y * nx + x] = oracle (c, &im, x, y);
      hits += r > 0;
      deepest = MAX (deepest, r > 0 ? c->n_stages : -r);
      int got = fer_eval_window (c, c->ints + (gsize) y * c->ofs_stride + x);
      FER_CHECK (got == r, "%s: window (%d,%d): scalar %d, oracle %d", file, x, y, got, r);
    }

  int simd_checked = 0;
  if (fer_simd_usable (c)) {
    /* The coarse grid's layout: lanes two pixels apart (a level this small is scanned
     * densely, which needs no split at step 1, so it is made here). */
    int k = 2;
    FER_CHECK (fer_simd_prepare (c, k, w, h) == FER_OK, "%s", fer_last_error ());
    fer_simd_split (c, w, h);
    for (int y = 0; y < ny; y++) {
      for (int x0 = 0; x0 < nx; x0 += 8 * k) {
        int res[8], n = MIN (8, (nx - x0 + k - 1) / k);
        fer_simd_eval8 (c, x0, y, n, res);
        for (int l = 0; l < n; l++, simd_checked++)
          FER_CHECK (res[l] == want[y * nx + x0 + l * k], "%s: SIMD window (%d,%d): %d, "
              "oracle %d", file, x0 + l * k, y, res[l], want[y * nx + x0 + l * k]);
      }
      for (int x = 0; x < nx; x += 8) {
        int res[8];
        unsigned lanes = (1u << MIN (8, nx - x)) - 1;
        fer_simd_eval8_adjacent (c, x, y, lanes, res);
        for (int l = 0; l < MIN (8, nx - x); l++)
          FER_CHECK (res[l] == want[y * nx + x + l], "%s: SIMD adjacent (%d,%d): %d, "
              "oracle %d", file, x + l, y, res[l], want[y * nx + x + l]);
      }
    }
  }
  g_print ("ok  %-40s %d windows, %d accepted, deepest stage %d of %d, SIMD lanes %d\n", file,
      nx * ny, hits, deepest, c->n_stages, simd_checked);
  /* The comparison must reach into the cascade to mean something. */
  FER_CHECK (deepest >= min_deepest, "%s: no window got past stage %d", file, deepest);

  g_free (want);
  g_free (im.tilted);
  fer_cascade_boxes_clear (&boxes);
  fer_cascade_free (c);
  g_free (path);
}

int
main (int argc, char **argv)
{
  gchar *astronaut;
  guint8 *gray;
  int w, h;

  fer_gst_test_init (&argc, &argv);
  if (!g_file_test ("/usr/share/opencv4/haarcascades/haarcascade_frontalface_alt.xml",
          G_FILE_TEST_EXISTS)) {
    g_print ("SKIP: opencv-data is not installed\n");
    return FER_TEST_SKIP;
  }
  astronaut = dt_sample ("astronaut.png");
  /* Face about 26 px wide: windows at scale 1 reach the last stages. */
  GstSample *s = dt_decode (astronaut, GST_VIDEO_FORMAT_GRAY8, 112, 112);
  GstVideoInfo info;
  GstVideoFrame frame;
  gst_video_info_from_caps (&info, gst_sample_get_caps (s));
  FER_CHECK (gst_video_frame_map (&frame, &info, gst_sample_get_buffer (s), GST_MAP_READ),
      "map");
  w = GST_VIDEO_INFO_WIDTH (&info);
  h = GST_VIDEO_INFO_HEIGHT (&info);
  gray = g_malloc ((gsize) w * h);
  for (int y = 0; y < h; y++)
    memcpy (gray + y * w, (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0) +
        y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0), w);
  gst_video_frame_unmap (&frame);
  gst_sample_unref (s);

  /* Face cascades must accept the face; the others must at least get a few stages in. */
  check_cascade ("lbpcascade_frontalface.xml", gray, w, h, 20);
  check_cascade ("haarcascade_frontalface_alt.xml", gray, w, h, 22);
  check_cascade ("haarcascade_frontalface_alt2.xml", gray, w, h, 20);
  check_cascade ("haarcascade_frontalcatface_extended.xml", gray, w, h, 3);
  check_cascade ("haarcascade_eye_tree_eyeglasses.xml", gray, w, h, 3);

  g_free (gray);
  g_free (astronaut);
  return 0;
}
