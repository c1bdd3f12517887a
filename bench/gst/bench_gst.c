/* Benchmark of the video path (not a test): frames per second of detect + classify with
 * ferfacedetect method=cnn, ferfacedetect method=cascade and gst-plugins-bad facedetect (each
 * followed by ferclassify, all other properties at their defaults) on the same frames in the
 * same run, and the share of frames in which each found a face.
 *
 * Frames are decoded into memory first, in each contender's native format (I420 for ours, the
 * decoder's own output; RGB for facedetect, the only format it takes), so only the elements are
 * timed. Inputs: the sample clip at its size and scaled to 640x480, and the five-face photo at
 * 640x480 as a still clip. Run pinned to one core: bench/gst/run.sh (taskset -c 0).
 *
 * Each contender runs R times (--repeat, default 3) interleaved with the others; the best
 * time of each is reported.
 *
 *   bench_gst [--model M.fer] [--frames N] [--repeat R] [--clip CLIP] [--faces5 IMAGE]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#include "fer/checkpoint.h"
#include "fer/model.h"
#include "fer_config.h"
#include "ferclassify.h"
#include "feroverlay.h"
#include "fervideo.h"
#include "detect/gstferfacedetect.h"

typedef struct Input {
  const gchar *name;
  const gchar *path;
  gboolean still;               /* an image repeated as a clip */
  gint width, height;           /* 0: keep the source size */
} Input;

typedef struct Result {
  guint frames, frames_with_face, faces;
  gdouble seconds;
} Result;

static void
collect (G_GNUC_UNUSED GstElement * sink, GstBuffer * buf, G_GNUC_UNUSED GstPad * pad,
    gpointer data)
{
  g_ptr_array_add (data, gst_buffer_ref (buf));
}

/* Decodes up to max_frames frames of the input in format; fills caps_out. */
static GPtrArray *
decode (const Input * in, const gchar * format, guint max_frames, gchar ** caps_out)
{
  GPtrArray *frames = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref);
  gchar *size = in->width ? g_strdup_printf (",width=%d,height=%d,pixel-aspect-ratio=1/1",
      in->width, in->height) : g_strdup ("");
  gchar *still = in->still ? g_strdup_printf ("imagefreeze num-buffers=%u ! "
      "video/x-raw,framerate=25/1 !", max_frames) : g_strdup ("");
  gchar *line = g_strdup_printf ("filesrc location=\"%s\" ! decodebin ! %s videoconvert ! "
      "videoscale ! video/x-raw,format=%s%s ! fakesink name=sink signal-handoffs=true "
      "sync=false", in->path, still, format, size);
  GError *err = NULL;
  GstElement *pipeline = gst_parse_launch (line, &err), *sink;
  GstBus *bus;
  GstMessage *msg;
  GstPad *pad;

  if (!pipeline) {
    g_printerr ("bench: %s: %s\n", in->path, err->message);
    exit (1);
  }
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_signal_connect (sink, "handoff", G_CALLBACK (collect), frames);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  bus = gst_element_get_bus (pipeline);
  msg = gst_bus_timed_pop_filtered (bus, 300 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  if (!msg || GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    g_printerr ("bench: cannot decode %s\n", in->path);
    exit (1);
  }
  pad = gst_element_get_static_pad (sink, "sink");
  {
    GstCaps *caps = gst_pad_get_current_caps (pad);
    *caps_out = gst_caps_to_string (caps);
    gst_caps_unref (caps);
  }
  gst_object_unref (pad);
  gst_message_unref (msg);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (line);
  g_free (size);
  g_free (still);
  if (frames->len > max_frames)
    g_ptr_array_set_size (frames, max_frames);
  if (frames->len == 0) {
    g_printerr ("bench: %s: no frames decoded\n", in->path);
    exit (1);
  }
  return frames;
}

static gboolean
have_element (const gchar * name)
{
  GstElementFactory *f = gst_element_factory_find (name);
  if (f)
    gst_object_unref (f);
  return f != NULL;
}

static gdouble
now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static guint
count_faces (GstBuffer * buf)
{
  gpointer state = NULL;
  guint n = 0;
  while (fer_buffer_iterate_faces (buf, &state))
    n++;
  return n;
}

static Result
run (const gchar * launch, GPtrArray * frames, const gchar * caps)
{
  GstHarness *h = gst_harness_new_parse (launch);
  Result r = { 0 };
  gdouble t0;

  gst_harness_set_src_caps_str (h, caps);
  /* one warm-up frame (lazy allocations, cascade pyramids, ...) */
  gst_buffer_unref (gst_harness_push_and_pull (h, gst_buffer_copy (frames->pdata[0])));
  t0 = now_s ();
  for (guint i = 0; i < frames->len; i++) {
    /* a shallow copy: metas start empty, pixels shared until an element writes */
    GstBuffer *in = gst_buffer_copy (frames->pdata[i]);
    GST_BUFFER_PTS (in) = i * 40 * GST_MSECOND;
    GstBuffer *out = gst_harness_push_and_pull (h, in);
    if (!out) {
      g_printerr ("bench: %s: no output frame (element error)\n", launch);
      exit (1);
    }
    guint n = count_faces (out);
    r.faces += n;
    r.frames_with_face += n > 0;
    r.frames++;
    gst_buffer_unref (out);
  }
  r.seconds = now_s () - t0;
  gst_harness_teardown (h);
  return r;
}

static void
keep_best (Result * best, Result r, guint rep)
{
  if (rep == 0 || r.seconds < best->seconds)
    *best = r;
}

static void
report (const gchar * input, const gchar * who, const Result * r)
{
  printf ("| %-28s | %-34s | %6u | %8.1f | %6.1f%% | %5.2f |\n", input, who, r->frames,
      r->frames / MAX (r->seconds, 1e-9), 100.0 * r->frames_with_face / MAX (r->frames, 1),
      (gdouble) r->faces / MAX (r->frames, 1));
}

static gchar *
simplecnn_model (const gchar * dir)
{
  fer_arch arch;
  fer_backend *be = NULL;
  fer_model *m = NULL;
  fer_checkpoint_meta meta;
  gchar *path = g_build_filename (dir, "simplecnn-random.fer", NULL);

  if (fer_arch_preset ("simplecnn", FER_HEAD_SOFTMAX, &arch) != FER_OK ||
      fer_backend_new ("ref", 1, &be) != FER_OK ||
      fer_model_new (&arch, be, 1, &m) != FER_OK || fer_model_init (m, 1) != FER_OK) {
    g_printerr ("bench: cannot build a simplecnn model: %s\n", fer_last_error ());
    exit (1);
  }
  fer_checkpoint_meta_init (&meta);
  if (fer_checkpoint_save (path, m, &meta, NULL) != FER_OK) {
    g_printerr ("bench: %s\n", fer_last_error ());
    exit (1);
  }
  fer_checkpoint_meta_clear (&meta);
  fer_model_free (m);
  fer_backend_free (be);
  return path;
}

int
main (int argc, char **argv)
{
  const gchar *model = NULL, *clip = NULL, *faces5 = NULL;
  guint max_frames = 765, repeats = 3;
  gchar *tmpdir = NULL, *own_model = NULL;
  gboolean all_ok = TRUE;

  gst_init (&argc, &argv);
  GST_ELEMENT_REGISTER (ferfacedetect, NULL);
  GST_ELEMENT_REGISTER (ferclassify, NULL);
  GST_ELEMENT_REGISTER (feroverlay, NULL);
  for (gint i = 1; i < argc; i++) {
    if (!strcmp (argv[i], "--model") && i + 1 < argc)
      model = argv[++i];
    else if (!strcmp (argv[i], "--frames") && i + 1 < argc)
      max_frames = (guint) atoi (argv[++i]);
    else if (!strcmp (argv[i], "--repeat") && i + 1 < argc) {
      gint r = atoi (argv[++i]);
      repeats = (guint) MAX (r, 1);
    }
    else if (!strcmp (argv[i], "--clip") && i + 1 < argc)
      clip = argv[++i];
    else if (!strcmp (argv[i], "--faces5") && i + 1 < argc)
      faces5 = argv[++i];
    else {
      g_printerr ("usage: %s [--model M.fer] [--frames N] [--repeat R] [--clip CLIP] "
          "[--faces5 IMAGE]\n",
          argv[0]);
      return 2;
    }
  }
  gchar *default_clip = g_build_filename (FER_SOURCE_DIR, "data", "samples", "cap13_edit2.mp4",
      NULL);
  gchar *default_faces5 = g_build_filename (FER_SOURCE_DIR, "data", "samples", "sample5.jpg",
      NULL);
  clip = clip ? clip : default_clip;
  faces5 = faces5 ? faces5 : default_faces5;

  if (!have_element ("ferfacedetect")) {
    g_printerr ("bench: ferfacedetect is not built\n");
    return 1;
  }
  if (!model) {
    model = gst_fer_classify_default_model ();
    if (!g_file_test (model, G_FILE_TEST_IS_REGULAR)) {
      /* speed depends on the architecture only: the shipped models are simplecnn */
      tmpdir = g_dir_make_tmp ("fer-bench-XXXXXX", NULL);
      own_model = simplecnn_model (tmpdir);
      printf ("note: %s not found; timing a freshly initialised simplecnn instead\n", model);
      model = own_model;
    }
  }
  gboolean have_facedetect = have_element ("facedetect");
  gchar *cnn = g_strdup_printf ("ferfacedetect method=cnn ! ferclassify model=\"%s\"", model);
  gchar *cascade = g_strdup_printf ("ferfacedetect method=cascade ! ferclassify model=\"%s\"",
      model);
  gchar *fd = g_strdup_printf ("facedetect ! ferclassify model=\"%s\"", model);
  gchar *cnn_model = gst_fer_face_detect_default_model ();
  if (!cnn_model)
    printf ("note: the CNN face detector model is not installed (data/models/fetch.sh): "
        "method=cnn not timed\n");
  if (!have_facedetect)
    printf ("note: gst-plugins-bad facedetect is missing (Debian: apt-get install "
        "gstreamer1.0-opencv opencv-data): not timed\n");

  const Input inputs[] = {
    {"sample clip (native size)", clip, FALSE, 0, 0},
    {"sample clip at 640x480", clip, FALSE, 640, 480},
    {"5-face photo at 640x480", faces5, TRUE, 640, 480},
  };
  printf ("model: %s\n", model);
  printf ("| %-28s | %-34s | %6s | %8s | %7s | %5s |\n", "input", "elements", "frames", "fps",
      "face", "faces");
  printf ("|------------------------------|------------------------------------|--------|"
      "----------|---------|-------|\n");
  for (gsize k = 0; k < G_N_ELEMENTS (inputs); k++) {
    const Input *in = &inputs[k];
    gchar *caps_i420 = NULL, *caps_rgb = NULL;
    GPtrArray *i420, *rgb;
    Result r_cnn = { 0 }, r_cascade = { 0 }, r_fd = { 0 };

    if (!g_file_test (in->path, G_FILE_TEST_IS_REGULAR)) {
      printf ("| %-28s | missing %s |\n", in->name, in->path);
      continue;
    }
    guint n = in->still ? MIN (max_frames, 200u) : max_frames;
    i420 = decode (in, "I420", n, &caps_i420);
    rgb = have_facedetect ? decode (in, "RGB", n, &caps_rgb) : NULL;
    /* interleaved repetitions, best of each: a busy shared machine slows every contender
     * alike instead of whichever ran during the busy spell */
    for (guint rep = 0; rep < repeats; rep++) {
      if (cnn_model)
        keep_best (&r_cnn, run (cnn, i420, caps_i420), rep);
      keep_best (&r_cascade, run (cascade, i420, caps_i420), rep);
      if (rgb)
        keep_best (&r_fd, run (fd, rgb, caps_rgb), rep);
    }
    g_ptr_array_unref (i420);
    if (rgb)
      g_ptr_array_unref (rgb);
    if (cnn_model)
      report (in->name, "method=cnn + ferclassify (I420)", &r_cnn);
    report (in->name, "method=cascade + ferclassify (I420)", &r_cascade);
    if (have_facedetect)
      report (in->name, "facedetect + ferclassify (RGB)", &r_fd);
    g_free (caps_i420);
    g_free (caps_rgb);
    if (!cnn_model)
      continue;
    const Result r_ours = r_cnn;
    gdouble fps_ours = r_ours.frames / MAX (r_ours.seconds, 1e-9);
    if (have_facedetect) {
      gdouble fps_fd = r_fd.frames / MAX (r_fd.seconds, 1e-9);
      gboolean speed = fps_ours >= 2.0 * fps_fd;
      gboolean found = r_ours.frames_with_face >= r_fd.frames_with_face;
      printf ("  %s: method=cnn at %.2fx facedetect's fps (target >= 2x: %s); face frames %u vs %u (target "
          ">=: %s)\n", in->name, fps_ours / MAX (fps_fd, 1e-9), speed ? "met" : "MISSED",
          r_ours.frames_with_face, r_fd.frames_with_face, found ? "met" : "MISSED");
      all_ok &= speed && found;
    }
    if (in->width == 640) {
      gboolean rt = fps_ours >= 30.0;
      printf ("  %s: method=cnn %.1f fps (target >= 30 fps on one core: %s)\n", in->name,
          fps_ours,
          rt ? "met" : "MISSED");
      all_ok &= rt;
    }
  }
  printf ("targets: %s\n", all_ok ? "all met" : "some MISSED");

  if (own_model) {
    g_unlink (own_model);
    g_rmdir (tmpdir);
  }
  g_free (own_model);
  g_free (tmpdir);
  g_free (cnn);
  g_free (cascade);
  g_free (fd);
  g_free (cnn_model);
  g_free (default_clip);
  g_free (default_faces5);
  return all_ok ? 0 : 1;
}
