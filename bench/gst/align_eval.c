/* Synthetic end-to-end check of ferclassify align=true (not a test; docs/results/alignment.md).
 *
 *   align_eval [--data ../shared/fer2013] [--model M.fer] [--n 500] [--seed 1] [--max-angle 20]
 *
 * N FER-2013 val faces (a seeded shuffle of the split) are each rotated by a uniform angle in
 * [-max-angle, +max-angle] degrees, scaled to a side of 64, 96, 128 or 192 px (in turn) and
 * pasted at a seeded random place into a 640x480 frame over a smooth random background. Every
 * frame goes through "ferfacedetect method=cnn detect-every=1 ! ferclassify align=false|true
 * smoothing=none classify-every=1" (GstHarness); the face counts as found when a detected box's centre lies
 * within a quarter side of the pasted centre, and its label is the found box's. The reference
 * is the classifier on the original 48x48 crops. Reports accuracy and macro-F1 of each (a face
 * not found counts as wrong) and the detection rate. Exit 77 (skip) without the data or the
 * CNN model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gst/gst.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#include "fer/classifier.h"
#include "fer/dataset.h"
#include "fer_config.h"
#include "ferclassify.h"
#include "fervideo.h"
#include "detect/gstferfacedetect.h"

#define FW 640
#define FH 480
#define MAXC 16

typedef struct Scores {
  gint n, correct, found;
  gint tp[MAXC], fp[MAXC], fn[MAXC];
} Scores;

static void
score_add (Scores * s, gint truth, gint pred)
{
  s->n++;
  if (pred == truth)
    s->correct++, s->tp[truth]++;
  else {
    s->fn[truth]++;
    if (pred >= 0)
      s->fp[pred]++;
  }
}

static gdouble
macro_f1 (const Scores * s, gint k)
{
  gdouble sum = 0;
  for (gint c = 0; c < k; c++) {
    gint d = 2 * s->tp[c] + s->fp[c] + s->fn[c];
    sum += d ? 2.0 * s->tp[c] / d : 0.0;
  }
  return sum / k;
}

static guint32
rng_next (guint64 * st)
{
  *st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
  return (guint32) (*st >> 33);
}

static gdouble
rng_unit (guint64 * st)
{
  return rng_next (st) / 2147483648.0;
}

/* Bilinear sample of a 48x48 face at (x, y) in pixel-centre coordinates; -1 outside. */
static gdouble
face_at (const guint8 * f, gdouble x, gdouble y)
{
  if (x < -0.5 || y < -0.5 || x > 47.5 || y > 47.5)
    return -1;
  x = CLAMP (x, 0.0, 47.0);
  y = CLAMP (y, 0.0, 47.0);
  gint x0 = (gint) x, y0 = (gint) y, x1 = MIN (x0 + 1, 47), y1 = MIN (y0 + 1, 47);
  gdouble fx = x - x0, fy = y - y0;
  gdouble top = f[y0 * 48 + x0] + (f[y0 * 48 + x1] - f[y0 * 48 + x0]) * fx;
  gdouble bot = f[y1 * 48 + x0] + (f[y1 * 48 + x1] - f[y1 * 48 + x0]) * fx;
  return top + (bot - top) * fy;
}

/* RGB frame: smooth random background, the face rotated by angle (radians) and scaled to side
 * px, centred at (cx, cy). */
static GstBuffer *
make_frame (const guint8 * face, gdouble angle, gint side, gdouble cx, gdouble cy, guint64 * rng)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, (gsize) FW * FH * 3, NULL);
  GstMapInfo map;
  gdouble a[4], ph[4];
  for (gint i = 0; i < 4; i++) {
    a[i] = 20 + 40 * rng_unit (rng);
    ph[i] = 6.283 * rng_unit (rng);
  }
  gdouble base = 60 + 120 * rng_unit (rng), c = cos (angle), s = sin (angle);
  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  for (gint y = 0; y < FH; y++)
    for (gint x = 0; x < FW; x++) {
      gdouble v = base + a[0] * sin (x * 0.013 + ph[0]) + a[1] * sin (y * 0.021 + ph[1]) +
          a[2] * sin ((x + y) * 0.007 + ph[2]) + a[3] * sin ((x - 2 * y) * 0.03 + ph[3]);
      /* inverse rotation into the face square, then into 48x48 coordinates */
      gdouble dx = x + 0.5 - cx, dy = y + 0.5 - cy;
      gdouble u = c * dx + s * dy, w = -s * dx + c * dy;
      gdouble f = face_at (face, (u / side + 0.5) * 48 - 0.5, (w / side + 0.5) * 48 - 0.5);
      if (f >= 0)
        v = f;
      guint8 g = (guint8) CLAMP (v + 0.5, 0, 255);
      guint8 *p = map.data + ((gsize) y * FW + x) * 3;
      p[0] = p[1] = p[2] = g;
    }
  gst_buffer_unmap (buf, &map);
  return buf;
}

typedef struct Job {
  gint index, side;
  gdouble angle, cx, cy;
} Job;

static gint
class_of (const gchar * label, const fer_dataset * d)
{
  for (gint c = 0; c < d->n_classes; c++)
    if (g_strcmp0 (label, d->class_names[c]) == 0)
      return c;
  return -1;
}

/* Runs the frames through detect -> classify with align on or off. */
static void
run_pipeline (const fer_dataset * d, const Job * jobs, gint n, const gchar * model,
    gboolean align, guint64 seed, Scores * sc)
{
  gchar *desc = g_strdup_printf ("ferfacedetect method=cnn detect-every=1 ! "
      "ferclassify model=\"%s\" "
      "align=%s smoothing=none classify-every=1", model, align ? "true" : "false");
  GstHarness *h = gst_harness_new_parse (desc);
  gchar *caps = g_strdup_printf ("video/x-raw,format=RGB,width=%d,height=%d,framerate=25/1",
      FW, FH);
  gst_harness_set_src_caps_str (h, caps);
  guint64 rng = seed * 7919 + 17;
  for (gint i = 0; i < n; i++) {
    const Job *j = &jobs[i];
    const guint8 *face = d->pixels + (gsize) j->index * 48 * 48;
    GstBuffer *in = make_frame (face, j->angle, j->side, j->cx, j->cy, &rng);
    GST_BUFFER_PTS (in) = i * 40 * GST_MSECOND;
    GstBuffer *out = gst_harness_push_and_pull (h, in);
    gpointer state = NULL;
    GstVideoRegionOfInterestMeta *roi;
    gint pred = -1;
    gdouble best = G_MAXDOUBLE;
    while ((roi = fer_buffer_iterate_faces (out, &state))) {
      gdouble ex = roi->x + roi->w / 2.0 - j->cx, ey = roi->y + roi->h / 2.0 - j->cy;
      gdouble dist = sqrt (ex * ex + ey * ey);
      GstStructure *s = gst_video_region_of_interest_meta_get_param (roi,
          FER_EXPRESSION_PARAM);
      if (dist < j->side / 4.0 && dist < best && s) {
        best = dist;
        pred = class_of (gst_structure_get_string (s, "label"), d);
      }
    }
    sc->found += best < G_MAXDOUBLE;
    score_add (sc, d->labels[j->index], pred);
    gst_buffer_unref (out);
  }
  gst_harness_teardown (h);
  g_free (caps);
  g_free (desc);
}

int
main (int argc, char **argv)
{
  gchar *data = NULL, *model = NULL;
  gint n = 500, seed = 1;
  gdouble max_angle = 20;
  GOptionEntry options[] = {
    {"data", 0, 0, G_OPTION_ARG_FILENAME, &data, "FER-2013 root (default ../shared/fer2013)",
        "DIR"},
    {"model", 0, 0, G_OPTION_ARG_FILENAME, &model, "expression model (default: ferclassify's)",
        "M.fer"},
    {"n", 0, 0, G_OPTION_ARG_INT, &n, "faces (default 500)", "N"},
    {"seed", 0, 0, G_OPTION_ARG_INT, &seed, "seed (default 1)", "S"},
    {"max-angle", 0, 0, G_OPTION_ARG_DOUBLE, &max_angle, "rotation bound in degrees (20)", "D"},
    {NULL}
  };
  GOptionContext *ctx = g_option_context_new ("- synthetic detect/align/classify report");
  GError *err = NULL;

  g_option_context_add_main_entries (ctx, options, NULL);
  gst_init (&argc, &argv);
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    g_printerr ("align_eval: %s\n", err->message);
    return 2;
  }
  g_option_context_free (ctx);
  GST_ELEMENT_REGISTER (ferfacedetect, NULL);
  GST_ELEMENT_REGISTER (ferclassify, NULL);
  if (!data)
    data = g_build_filename (FER_SOURCE_DIR, "..", "shared", "fer2013", NULL);
  if (!model)
    model = g_strdup (gst_fer_classify_default_model ());
  gchar *val = g_build_filename (data, "val", NULL);
  if (!g_file_test (val, G_FILE_TEST_IS_DIR)) {
    printf ("SKIP: %s not found (FER-2013 PNG folders)\n", val);
    return 77;
  }
  gchar *cnn = gst_fer_face_detect_default_model ();
  if (!cnn) {
    printf ("SKIP: the CNN face detector model is not installed (data/models/fetch.sh)\n");
    return 77;
  }
  fer_dataset *d = NULL;
  fer_load_options lo = { 0 };
  if (fer_dataset_load (data, "val", &lo, &d) != FER_OK) {
    g_printerr ("align_eval: %s\n", fer_last_error ());
    return 1;
  }
  fer_classifier *cls = NULL;
  if (fer_classifier_new (model, "cpu", 1, 64, &cls) != FER_OK) {
    g_printerr ("align_eval: %s\n", fer_last_error ());
    return 1;
  }
  n = CLAMP (n, 1, d->n);

  /* seeded shuffle; per face a rotation, a side and a place */
  guint64 rng = (guint64) seed * 2654435761ULL + 1;
  gint *order = g_new (gint, d->n);
  for (gint i = 0; i < d->n; i++)
    order[i] = i;
  for (gint i = d->n - 1; i > 0; i--) {
    gint k = (gint) (rng_next (&rng) % (guint32) (i + 1)), t = order[i];
    order[i] = order[k];
    order[k] = t;
  }
  static const gint sides[] = { 64, 96, 128, 192 };
  Job *jobs = g_new (Job, n);
  for (gint i = 0; i < n; i++) {
    Job *j = &jobs[i];
    j->index = order[i];
    j->side = sides[i % G_N_ELEMENTS (sides)];
    j->angle = (2 * rng_unit (&rng) - 1) * max_angle * G_PI / 180;
    gdouble r = j->side * 0.75;   /* room for the rotated corners */
    j->cx = r + rng_unit (&rng) * (FW - 2 * r);
    j->cy = r + rng_unit (&rng) * (FH - 2 * r);
  }

  /* Reference: the original 48x48 crops. */
  Scores ref = { 0 }, off = { 0 }, on = { 0 };
  gfloat *probs = g_new (gfloat, (gsize) fer_classifier_n_classes (cls));
  for (gint i = 0; i < n; i++) {
    gint k = fer_classifier_n_classes (cls), best = 0;
    fer_classifier_run_u8 (cls, d->pixels + (gsize) jobs[i].index * 48 * 48, 1, NULL, probs);
    for (gint c = 1; c < k; c++)
      if (probs[c] > probs[best])
        best = c;
    score_add (&ref, d->labels[jobs[i].index], class_of (fer_classifier_class_name (cls,
                best), d));
  }
  ref.found = n;
  run_pipeline (d, jobs, n, model, FALSE, (guint64) seed, &off);
  run_pipeline (d, jobs, n, model, TRUE, (guint64) seed, &on);

  gint k = d->n_classes;
  printf ("faces: %d FER-2013 val faces (seed %d), rotated by up to +-%.0f deg, sides 64/96/"
      "128/192 px in 640x480 frames; model %s\n", n, seed, max_angle, model);
  printf ("| input | faces found | accuracy | macro-F1 |\n|---|---|---|---|\n");
  const struct {
    const gchar *name;
    const Scores *s;
  } rows[] = {
    {"original 48x48 crops (no detection)", &ref},
    {"frames: ferfacedetect method=cnn ! ferclassify align=false", &off},
    {"frames: ferfacedetect method=cnn ! ferclassify align=true", &on},
  };
  for (gsize r = 0; r < G_N_ELEMENTS (rows); r++)
    printf ("| %s | %d / %d | %.4f | %.4f |\n", rows[r].name, rows[r].s->found, n,
        (gdouble) rows[r].s->correct / n, macro_f1 (rows[r].s, k));
  g_free (probs);
  g_free (jobs);
  g_free (order);
  fer_classifier_free (cls);
  fer_dataset_free (d);
  g_free (cnn);
  g_free (val);
  g_free (data);
  g_free (model);
  return 0;
}
