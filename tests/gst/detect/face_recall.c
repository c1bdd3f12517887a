/* Recall and precision of ferfacedetect on the annotated sample images (data/samples/faces.json).
 *
 *   face_recall [--json FILE] [--props "PROPS"] [--print] [--check]
 *
 * Each annotated image (or clip frame, optionally scaled) is decoded to RGB, pushed through
 * "ferfacedetect PROPS" in a GstHarness, and its face boxes are matched one to one to the
 * recorded ones (greedy by IoU, a match needs IoU >= 0.5). Without --props both methods run:
 * "method=cascade" and "method=cnn" (the CNN only when its converted model is installed).
 * Images of faces.json marked "fetched" come from data/samples/fetch.sh --extra and are
 * skipped, with a note, when absent.
 *
 * --check (the meson test): with the element's defaults the cascade finds all five faces of
 * sample5.jpg at every recorded scale, and the CNN finds every face the cascade finds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include <gst/check/gstharness.h>

#include "detect_test.h"
#include "fervideo.h"

#define MATCH_IOU 0.5
#define MAX_BOXES 64

typedef struct Entry {
  gchar *label;                 /* file[@width][#frame] */
  gchar *path;                  /* NULL: not available (fetched image missing) */
  gint frame, width, height;    /* decode size (0: native) */
  gdouble scale;                /* recorded boxes -> decoded frame */
  DtBox truth[MAX_BOXES];
  gint n_truth;
} Entry;

typedef gboolean HitRow[MAX_BOXES];    /* truth box i of an entry was found */

typedef struct Tally {
  gint truth, found, matched;
} Tally;

static gchar *
samples_path (const gchar * relative)
{
  const gchar *dir = g_getenv ("FER_SAMPLES_DIR");
  if (dir)
    return g_build_filename (dir, relative, NULL);
  gchar *rel = g_build_filename ("data", "samples", relative, NULL);
  gchar *path = fer_gst_test_source_path (rel);
  g_free (rel);
  return path;
}

static gint
json_int (const cJSON * o, const gchar * key, gint dflt)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive (o, key);
  return cJSON_IsNumber (v) ? v->valueint : dflt;
}

/* Reads the annotations; exits with a message naming the file on malformed input. */
static GPtrArray *
load_entries (const gchar * json_path)
{
  gchar *text = NULL;
  GError *err = NULL;
  GPtrArray *entries = g_ptr_array_new ();

  FER_CHECK (g_file_get_contents (json_path, &text, NULL, &err), "%s: %s", json_path,
      err ? err->message : "cannot read");
  cJSON *root = cJSON_Parse (text);
  FER_CHECK (root, "%s: not valid JSON", json_path);
  const cJSON *images = cJSON_GetObjectItemCaseSensitive (root, "images");
  FER_CHECK (cJSON_IsArray (images), "%s: no \"images\" array", json_path);
  const cJSON *img;
  cJSON_ArrayForEach (img, images) {
    const cJSON *file = cJSON_GetObjectItemCaseSensitive (img, "file");
    const cJSON *size = cJSON_GetObjectItemCaseSensitive (img, "size");
    const cJSON *faces = cJSON_GetObjectItemCaseSensitive (img, "faces");
    FER_CHECK (cJSON_IsString (file) && cJSON_IsArray (size) && cJSON_GetArraySize (size) == 2
        && cJSON_IsArray (faces), "%s: an image needs \"file\", \"size\" [w, h] and \"faces\"",
        json_path);
    Entry *e = g_new0 (Entry, 1);
    gint ow = cJSON_GetArrayItem (size, 0)->valueint, oh = cJSON_GetArrayItem (size, 1)->valueint;
    FER_CHECK (ow > 0 && oh > 0, "%s: %s: bad size", json_path, file->valuestring);
    e->frame = json_int (img, "frame", 0);
    e->width = json_int (img, "width", 0);
    e->scale = e->width > 0 ? (gdouble) e->width / ow : 1.0;
    e->height = e->width > 0 ? (gint) (oh * e->scale + 0.5) : 0;
    GString *label = g_string_new (file->valuestring);
    if (e->width)
      g_string_append_printf (label, "@%d", e->width);
    if (cJSON_GetObjectItemCaseSensitive (img, "frame"))
      g_string_append_printf (label, "#%d", e->frame);
    e->label = g_string_free (label, FALSE);
    e->path = samples_path (file->valuestring);
    if (!g_file_test (e->path, G_FILE_TEST_IS_REGULAR))
      g_clear_pointer (&e->path, g_free);
    const cJSON *f;
    cJSON_ArrayForEach (f, faces) {
      FER_CHECK (cJSON_IsArray (f) && cJSON_GetArraySize (f) == 4 && e->n_truth < MAX_BOXES,
          "%s: %s: a face is [x, y, w, h]", json_path, file->valuestring);
      gdouble v[4];
      for (gint k = 0; k < 4; k++)
        v[k] = cJSON_GetArrayItem (f, k)->valuedouble * e->scale;
      e->truth[e->n_truth++] = (DtBox) { (gint) (v[0] + 0.5), (gint) (v[1] + 0.5),
          (gint) (v[2] + 0.5), (gint) (v[3] + 0.5) };
    }
    g_ptr_array_add (entries, e);
  }
  cJSON_Delete (root);
  g_free (text);
  return entries;
}

static gint
detect_faces (const gchar * props, GstSample * sample, DtBox * out)
{
  gchar *desc = g_strdup_printf ("ferfacedetect %s", props);
  GstHarness *h = gst_harness_new_parse (desc);
  gint n = 0;
  gpointer state = NULL;
  GstVideoRegionOfInterestMeta *roi;

  FER_CHECK (h, "cannot make %s", desc);
  gst_harness_set_src_caps (h, gst_caps_ref (gst_sample_get_caps (sample)));
  GstBuffer *outbuf = gst_harness_push_and_pull (h, gst_buffer_ref (gst_sample_get_buffer
          (sample)));
  FER_CHECK (outbuf, "%s: no output buffer", desc);
  while ((roi = fer_buffer_iterate_faces (outbuf, &state)) && n < MAX_BOXES)
    out[n++] = (DtBox) { (gint) roi->x, (gint) roi->y, (gint) roi->w, (gint) roi->h };
  gst_buffer_unref (outbuf);
  gst_harness_teardown (h);
  g_free (desc);
  return n;
}

/* One-to-one greedy matching by decreasing IoU; matched_truth[i] tells which truth boxes were
 * found. Returns the number of matches. */
static gint
match (const DtBox * truth, gint nt, const DtBox * found, gint nf, gboolean * matched_truth)
{
  gboolean used_f[MAX_BOXES] = { 0 };
  gint n = 0;

  memset (matched_truth, 0, nt * sizeof *matched_truth);
  for (;;) {
    gdouble best = MATCH_IOU;
    gint bi = -1, bj = -1;
    for (gint i = 0; i < nt; i++)
      for (gint j = 0; j < nf; j++)
        if (!matched_truth[i] && !used_f[j] && dt_iou (&truth[i], &found[j]) >= best) {
          best = dt_iou (&truth[i], &found[j]);
          bi = i;
          bj = j;
        }
    if (bi < 0)
      return n;
    matched_truth[bi] = used_f[bj] = TRUE;
    n++;
  }
}

/* Runs one configuration over all entries; hits[e][i]: truth box i of entry e was found. */
static Tally
run_method (const gchar * props, GPtrArray * entries, GstSample ** samples, gboolean print,
    HitRow * hits)
{
  Tally t = { 0 };
  g_print ("== ferfacedetect %s\n", props);
  for (guint k = 0; k < entries->len; k++) {
    Entry *e = entries->pdata[k];
    if (!samples[k])
      continue;
    DtBox found[MAX_BOXES];
    gint nf = detect_faces (props, samples[k], found);
    gint m = match (e->truth, e->n_truth, found, nf, hits[k]);
    t.truth += e->n_truth;
    t.found += nf;
    t.matched += m;
    gchar *s = dt_boxes_string (found, nf);
    g_print ("  %-28s faces %2d found %2d matched %2d%s%s\n", e->label, e->n_truth, nf, m,
        print ? "  " : "", print ? s : "");
    g_free (s);
  }
  g_print ("  total: recall %d/%d = %.3f, precision %d/%d = %.3f (IoU >= %.1f)\n",
      t.matched, t.truth, t.truth ? (gdouble) t.matched / t.truth : 0.0, t.matched, t.found,
      t.found ? (gdouble) t.matched / t.found : 1.0, MATCH_IOU);
  return t;
}

static gboolean
has_method_property (void)
{
  GstElement *e = gst_element_factory_make ("ferfacedetect", NULL);
  gboolean ok = e && g_object_class_find_property (G_OBJECT_GET_CLASS (e), "method");
  if (e)
    gst_object_unref (e);
  return ok;
}

static gboolean
cnn_available (void)
{
  GstElement *e = gst_element_factory_make ("ferfacedetect", NULL);
  gboolean ok = FALSE;
  if (e && g_object_class_find_property (G_OBJECT_GET_CLASS (e), "model")) {
    gchar *model = NULL;
    g_object_get (e, "model", &model, NULL);
    ok = model && g_file_test (model, G_FILE_TEST_IS_REGULAR);
    g_free (model);
  }
  if (e)
    gst_object_unref (e);
  return ok;
}

int
main (int argc, char **argv)
{
  gchar *json = NULL, *props = NULL;
  gboolean print = FALSE, check = FALSE;
  GOptionEntry options[] = {
    {"json", 0, 0, G_OPTION_ARG_FILENAME, &json, "annotations (default data/samples/faces.json)",
        "FILE"},
    {"props", 0, 0, G_OPTION_ARG_STRING, &props, "ferfacedetect properties (default: both "
          "methods)", "PROPS"},
    {"print", 0, 0, G_OPTION_ARG_NONE, &print, "print the found boxes", NULL},
    {"check", 0, 0, G_OPTION_ARG_NONE, &check, "test mode: fail unless the defaults find "
          "every sample5.jpg face and the CNN finds every face the cascade finds", NULL},
    {NULL}
  };
  GOptionContext *ctx = g_option_context_new ("- face detector recall/precision");
  GError *err = NULL;

  g_option_context_add_main_entries (ctx, options, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    g_printerr ("face_recall: %s\n", err->message);
    return 2;
  }
  g_option_context_free (ctx);
  fer_gst_test_init (&argc, &argv);
  if (!json)
    json = samples_path ("faces.json");
  GPtrArray *entries = load_entries (json);
  GstSample **samples = g_new0 (GstSample *, entries->len);
  HitRow *hits_cascade = g_new0 (HitRow, entries->len);
  HitRow *hits_cnn = g_new0 (HitRow, entries->len);
  gint missing = 0;

  for (guint k = 0; k < entries->len; k++) {
    Entry *e = entries->pdata[k];
    if (!e->path) {
      missing++;
      continue;
    }
    samples[k] = dt_decode_frame (e->path, GST_VIDEO_FORMAT_RGB, e->width, e->height,
        e->frame);
  }
  if (missing)
    g_print ("note: %d annotated images not present (data/samples/fetch.sh --extra fetches "
        "them); skipped\n", missing);

  gint status = 0;
  if (props) {
    run_method (props, entries, samples, print, hits_cascade);
  } else {
    run_method (has_method_property () ? "method=cascade" : "", entries, samples, print,
        hits_cascade);
    if (cnn_available ()) {
      run_method ("method=cnn", entries, samples, print, hits_cnn);
      if (check)
        for (guint k = 0; k < entries->len; k++) {
          Entry *e = entries->pdata[k];
          for (gint i = 0; i < e->n_truth; i++)
            if (hits_cascade[k][i] && !hits_cnn[k][i]) {
              g_printerr ("FAIL: %s: the cascade finds face [%d %d %d %d], the CNN not\n",
                  e->label, e->truth[i].x, e->truth[i].y, e->truth[i].w, e->truth[i].h);
              status = 1;
            }
        }
    } else {
      g_print ("note: method=cnn skipped: the converted face detector model is not installed "
          "(see data/models/README.md)\n");
    }
  }
  if (check)
    for (guint k = 0; k < entries->len; k++) {
      Entry *e = entries->pdata[k];
      if (!samples[k] || !g_str_has_prefix (e->label, "sample5.jpg"))
        continue;
      for (gint i = 0; i < e->n_truth; i++)
        if (!hits_cascade[k][i]) {
          g_printerr ("FAIL: %s: the cascade with its defaults misses face [%d %d %d %d]\n",
              e->label, e->truth[i].x, e->truth[i].y, e->truth[i].w, e->truth[i].h);
          status = 1;
        }
    }

  for (guint k = 0; k < entries->len; k++) {
    Entry *e = entries->pdata[k];
    if (samples[k])
      gst_sample_unref (samples[k]);
    g_free (e->label);
    g_free (e->path);
    g_free (e);
  }
  g_ptr_array_free (entries, TRUE);
  g_free (samples);
  g_free (hits_cascade);
  g_free (hits_cnn);
  g_free (json);
  g_free (props);
  return status;
}
