/* The three elements against hostile input (issue 18): bad model, cascade and results files
 * fail the state change with a clear message naming the file (never a crash or a hang); frames
 * from 1x1 to 3840x2160 with caps changes in between; out-of-range and extreme property values;
 * memory stays flat over 30 000 frames. Every fixture is generated here, in a temp folder. */
#include <cjson/cJSON.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <gst/check/gstharness.h>

#include "fer_gst_test.h"
#include "../common/ckpt_craft.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifdef UNDER_ASAN
/* from the ASan runtime (sanitizer/allocator_interface.h, not shipped with every compiler) */
size_t __sanitizer_get_current_allocated_bytes (void);
#endif

#define HAAR_FRONTAL "/usr/share/opencv4/haarcascades/haarcascade_frontalface_alt.xml"

static gchar *tmpdir, *model;

/* ---- fixtures ------------------------------------------------------------------------------- */

static gchar *
tmp_path (const gchar * name)
{
  return g_build_filename (tmpdir, name, NULL);
}

static gchar *
write_fixture (const gchar * name, const void *data, gsize len)
{
  gchar *path = tmp_path (name);
  FER_CHECK (g_file_set_contents (path, data, (gssize) len, NULL), "write %s", path);
  return path;
}

static gchar *
make_fifo (const gchar * name)
{
  gchar *path = tmp_path (name);
  FER_CHECK (mkfifo (path, 0600) == 0, "mkfifo %s", path);
  return path;
}

/* The tiny model with its architecture's layers replaced by layers_json, framed with fresh
 * lengths and a valid CRC (tests/common/ckpt_craft.h), so the loader's checks past the framing
 * are what gets exercised (the attacks of issue 18 #1, #2). */
static gchar *
model_with_layers (const gchar * name, const gchar * layers_json)
{
  gchar *path = tmp_path (name);
  craft_ckpt c;
  cJSON *layers = cJSON_Parse (layers_json);

  FER_CHECK (layers && craft_read (model, &c) == 0, "read %s", model);
  cJSON_ReplaceItemInObject (cJSON_GetObjectItem (c.hdr, "arch"), "layers", layers);
  FER_CHECK (craft_write (path, &c, 0) == 0, "write %s", path);
  craft_free (&c);
  return path;
}

/* ---- state changes -------------------------------------------------------------------------- */

/* Taking e to `state` must fail with an error message holding every needle. alarm() turns a
 * hang (a FIFO opened for blocking I/O) into a failed test. */
static void
expect_failure (GstElement * e, GstState state, const gchar * what, const gchar * needle1,
    const gchar * needle2)
{
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  GError *err = NULL;
  gchar *dbg = NULL;

  gst_element_set_bus (e, bus);
  alarm (120);
  FER_CHECK (gst_element_set_state (e, state) == GST_STATE_CHANGE_FAILURE,
      "%s: state change succeeded", what);
  alarm (0);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  FER_CHECK (msg != NULL, "%s: no error message", what);
  gst_message_parse_error (msg, &err, &dbg);
  FER_CHECK (strstr (err->message, needle1) && (!needle2 || strstr (err->message, needle2)),
      "%s: error \"%s\" lacks \"%s\" or \"%s\"", what, err->message, needle1,
      needle2 ? needle2 : "");
  FER_CHECK (strchr (err->message, '\n') == NULL, "%s: error is not one line: %s", what,
      err->message);
  g_print ("ok  %-22s %s\n", what, err->message);
  g_clear_error (&err);
  g_free (dbg);
  gst_message_unref (msg);
  FER_CHECK (gst_element_set_state (e, GST_STATE_NULL) == GST_STATE_CHANGE_SUCCESS,
      "%s: back to NULL", what);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
}

static void
expect_bad_model (const gchar * what, const gchar * path, const gchar * needle)
{
  GstElement *e = gst_element_factory_make ("ferclassify", NULL);

  g_object_set (e, "model", path, "backend", 1 /* cpu */ , NULL);
  expect_failure (e, GST_STATE_PAUSED, what, path, needle);
  gst_object_unref (e);
}

static void
test_bad_models (void)
{
  gchar *data = NULL, *path;
  gsize len = 0;

  FER_CHECK (g_file_get_contents (model, &data, &len, NULL), "read model");
  data[0] = 'X';
  path = write_fixture ("magic.fer", data, len);
  expect_bad_model ("model: wrong magic", path, "Cannot load expression model");
  g_free (path);
  data[0] = 'F';
  path = write_fixture ("truncated.fer", data, 100);
  expect_bad_model ("model: truncated", path, "Cannot load expression model");
  g_free (path);
  path = write_fixture ("empty.fer", "", 0);
  expect_bad_model ("model: empty", path, "Cannot load expression model");
  g_free (path);
  g_free (data);

  path = make_fifo ("fifo.fer");
  expect_bad_model ("model: FIFO", path, "not a regular file (a FIFO)");
  g_unlink (path);
  g_free (path);
  expect_bad_model ("model: folder", tmpdir, "not a regular file (a folder)");
  expect_bad_model ("model: /dev/zero", "/dev/zero", "not a regular file (a character device)");

  /* Issue 18 #1: the parameter count of a huge conv kernel wraps size_t. */
  path = model_with_layers ("huge_kernel.fer", "[{\"type\":\"conv2d\",\"out\":16,"
      "\"k\":536870912,\"stride\":1000000000,\"pad\":268435456},{\"type\":\"flatten\"},"
      "{\"type\":\"linear\",\"out\":32,\"bias\":true}]");
  expect_bad_model ("model: huge kernel", path, "Cannot load expression model");
  g_free (path);
  /* Issue 18 #2: activation sizes that wrap (a 2^29 pad, then a 1e9 pool). */
  path = model_with_layers ("huge_pad.fer", "[{\"type\":\"conv2d\",\"out\":16,\"k\":49,"
      "\"stride\":1,\"pad\":536870912},{\"type\":\"maxpool2d\",\"k\":1000000000,"
      "\"stride\":1000000000},{\"type\":\"flatten\"},{\"type\":\"linear\",\"out\":32,"
      "\"bias\":true}]");
  expect_bad_model ("model: huge padding", path, "Cannot load expression model");
  g_free (path);
}

static void
expect_bad_cascade (const gchar * what, const gchar * path, const gchar * needle)
{
  GstElement *e = gst_element_factory_make ("ferfacedetect", NULL);
  gchar *prefix = g_strdup_printf ("Cannot load face cascade %s: ", path);

  gst_util_set_object_arg (G_OBJECT (e), "method", "cascade");
  g_object_set (e, "cascade", path, NULL);
  expect_failure (e, GST_STATE_READY, what, prefix, needle);
  g_free (prefix);
  gst_object_unref (e);
}

static void
test_bad_cascades (void)
{
  gchar *path = make_fifo ("fifo.xml");
  FILE *f;
  GString *many;

  expect_bad_cascade ("cascade: FIFO", path, "not a regular file (a FIFO)");
  g_unlink (path);
  g_free (path);
  expect_bad_cascade ("cascade: /dev/zero", "/dev/zero", "not a regular file (a character");
  expect_bad_cascade ("cascade: folder", tmpdir, "not a regular file (a folder)");

  path = tmp_path ("huge.xml");       /* sparse: no disk space used */
  f = fopen (path, "wb");
  FER_CHECK (f && ftruncate (fileno (f), (off_t) 1 << 30) == 0, "sparse %s", path);
  fclose (f);
  expect_bad_cascade ("cascade: 1 GiB", path, "too large for a cascade (at most 16 MiB)");
  g_unlink (path);
  g_free (path);

  many = g_string_new ("<opencv_storage><cascade type_id=\"opencv-cascade-classifier\">"
      "<stageType>BOOST</stageType><featureType>HAAR</featureType><height>6</height>"
      "<width>6</width><stages>");
  for (gint i = 0; i < 5000; i++)
    g_string_append (many, "<_></_>");
  g_string_append (many, "</stages></cascade></opencv_storage>");
  path = write_fixture ("stages.xml", many->str, many->len);
  expect_bad_cascade ("cascade: 5000 stages", path, "more than 1000 stages");
  g_free (path);
  g_string_free (many, TRUE);
}

static void
expect_bad_results (const gchar * what, const gchar * location, const gchar * needle)
{
  GstElement *e = gst_element_factory_make ("ferclassify", NULL);

  g_object_set (e, "model", model, "backend", 1, "results-location", location, NULL);
  expect_failure (e, GST_STATE_PAUSED, what, location, needle);
  gst_object_unref (e);
}

/* results-location: a folder, a FIFO nobody reads, a missing folder fail at once; symlinks
 * planted at the temporary name are not followed; nothing is written elsewhere. */
static void
test_results_location (void)
{
  gchar *fifo = make_fifo ("results.fifo");
  gchar *missing = g_build_filename (tmpdir, "no-such-dir", "out.jsonl", NULL);
  gchar *location = tmp_path ("planted.jsonl");
  gchar *victim = tmp_path ("victim.txt");
  gchar *planted = g_strconcat (location, ".tmp", NULL);
  gchar *text = NULL, *caps = fer_gst_test_caps_string (GST_VIDEO_FORMAT_GRAY8, 64, 48);
  GstHarness *h;
  GstElement *e;
  GstBuffer *in;

  expect_bad_results ("results: folder", tmpdir, "is a folder");
  expect_bad_results ("results: FIFO", fifo, "a FIFO that no process reads");
  expect_bad_results ("results: no folder", missing, "No such file or directory");
  g_unlink (fifo);

  FER_CHECK (g_file_set_contents (victim, "precious\n", -1, NULL), "victim");
  FER_CHECK (symlink (victim, planted) == 0, "plant %s", planted);
  e = gst_element_factory_make ("ferclassify", NULL);
  g_object_set (e, "model", model, "backend", 1, "results-location", location, NULL);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_harness_set_src_caps_str (h, caps);
  in = fer_gst_test_frame (GST_VIDEO_FORMAT_GRAY8, 64, 48, 0);
  fer_gst_test_add_face (in, 8, 0, 48, 48);
  gst_buffer_unref (gst_harness_push_and_pull (h, in));
  FER_CHECK (gst_harness_push_event (h, gst_event_new_eos ()), "EOS");
  gst_harness_teardown (h);
  FER_CHECK (g_file_get_contents (victim, &text, NULL, NULL) &&
      strcmp (text, "precious\n") == 0, "results written through a planted symlink");
  g_free (text);
  FER_CHECK (g_file_get_contents (location, &text, NULL, NULL) &&
      g_str_has_prefix (text, "{\"frame\":0,"), "results: %s", text ? text : "(none)");
  g_free (text);
  g_print ("ok  results: a symlink planted at %s.tmp is not followed\n", location);

  g_unlink (location);
  g_unlink (planted);
  g_unlink (victim);
  g_free (fifo);
  g_free (missing);
  g_free (location);
  g_free (victim);
  g_free (planted);
  g_free (caps);
}

/* ---- frames --------------------------------------------------------------------------------- */

static GstHarness *
chain (const gchar * extra_detect)
{
  gchar *desc = g_strdup_printf ("ferfacedetect method=cascade %s ! "
      "ferclassify model=\"%s\" backend=cpu ! "
      "feroverlay show-probabilities=true show-track-id=true", extra_detect, model);
  GstHarness *h = gst_harness_new_parse (desc);
  g_free (desc);
  return h;
}

/* Noise: plenty of raw window hits at every scale, few or no clusters (the path where the
 * grouping used to qsort(NULL, 0)). */
static GstBuffer *
noise_frame (GstVideoFormat format, gint w, gint h, guint seed)
{
  GstBuffer *buf = fer_gst_test_frame (format, w, h, seed);
  GstMapInfo map;
  guint32 x = seed * 2654435761u + 1;

  FER_CHECK (gst_buffer_map (buf, &map, GST_MAP_WRITE), "map");
  for (gsize i = 0; i < map.size; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    map.data[i] = (guint8) x;
  }
  gst_buffer_unmap (buf, &map);
  return buf;
}

/* 1x1 up to 3840x2160, odd sizes, every caps change mid-stream through the whole chain, with
 * faces at, across and beyond the frame edges (upstream metas), and the same frame size in a
 * second format. Each output keeps its size and its metas. */
static void
test_frame_sizes (void)
{
  static const gint sizes[][2] = {
    {1, 1}, {2, 2}, {1, 7}, {7, 1}, {3, 5}, {23, 19}, {24, 24}, {47, 48}, {48, 48},
    {64, 48}, {641, 479}, {1920, 1080}, {3840, 2160}, {2, 3}, {3840, 2160}, {320, 240},
  };
  static const GstVideoFormat formats[] = {
    GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_GRAY8, GST_VIDEO_FORMAT_NV12,
    GST_VIDEO_FORMAT_BGRx, GST_VIDEO_FORMAT_RGB,
  };
  GstHarness *h = chain ("");
  GstElement *det = gst_harness_find_element (h, "ferfacedetect");

  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++) {
    gint w = sizes[i][0], ht = sizes[i][1];
    GstVideoFormat fmt = formats[i % G_N_ELEMENTS (formats)];
    gchar *caps = fer_gst_test_caps_string (fmt, w, ht);
    gint64 t0 = g_get_monotonic_time ();
    /* windows from the cascade's own 20x20 on small frames; the default 48 on large ones
     * (every scale of a 4K frame would take long under ASan) */
    g_object_set (det, "min-size", w * ht > 1000000 ? 48 : 0, NULL);
    gst_harness_set_src_caps_str (h, caps);
    for (guint k = 0; k < 2; k++) {
      GstBuffer *in = k ? noise_frame (fmt, w, ht, (guint) i) :
          fer_gst_test_frame (fmt, w, ht, (guint) i);
      GstBuffer *out;
      gsize size = gst_buffer_get_size (in);
      guint n = 0;
      gpointer state = NULL;
      fer_gst_test_add_face (in, 0, 0, w, ht);  /* the whole frame */
      fer_gst_test_add_face (in, w / 2, ht / 2, w, ht);  /* reaches past the corner */
      fer_gst_test_add_face (in, w - 1, ht - 1, 1, 1);   /* the last pixel */
      out = gst_harness_push_and_pull (h, fer_gst_test_track (in));
      FER_CHECK (out && gst_buffer_get_size (out) == size, "%dx%d %s: frame lost or resized",
          w, ht, gst_video_format_to_string (fmt));
      while (gst_buffer_iterate_meta_filtered (out, &state,
              GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))
        n++;
      FER_CHECK (n >= 3, "%dx%d: %u ROI metas, the 3 upstream faces were dropped", w, ht, n);
      gst_buffer_unref (out);
    }
    g_print ("ok  %dx%d %s (%.2f s)\n", w, ht, gst_video_format_to_string (fmt),
        (g_get_monotonic_time () - t0) / 1e6);
    g_free (caps);
  }
  gst_object_unref (det);
  gst_harness_teardown (h);
  FER_CHECK (fer_gst_test_alive_buffers () == 0, "%d frame(s) leaked",
      fer_gst_test_alive_buffers ());
}

/* ---- properties ----------------------------------------------------------------------------- */

static guint rejected_values;

static void
count_warning (const gchar * domain, GLogLevelFlags level, const gchar * message,
    gpointer data)
{
  (void) domain;
  (void) level;
  (void) data;
  rejected_values++;
  g_print ("    (rejected: %s)\n", message);
}

/* Out-of-range values are refused by the property specs (a GLib warning, old value kept);
 * extreme in-range values and empty strings keep the elements working or fail cleanly. */
static void
test_bad_properties (void)
{
  GstHarness *h = chain ("");
  GstElement *det = gst_harness_find_element (h, "ferfacedetect");
  GstElement *cls = gst_harness_find_element (h, "ferclassify");
  gchar *caps = fer_gst_test_caps_string (GST_VIDEO_FORMAT_I420, 320, 240);
  guint handler = g_log_set_handler ("GLib-GObject", G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL,
      count_warning, NULL);
  gdouble scale, margin;
  gint neighbors, every;
  GstElement *e;

  g_object_set (det, "scale-factor", 0.5, "min-neighbors", -3, NULL);
  g_object_set (det, "scale-factor", 1e300, NULL);
  g_object_set (cls, "margin", -1.0, "classify-every", 0, NULL);
  g_object_set (cls, "smoothing-alpha", 0.0, "min-confidence", 2.0, NULL);
  g_object_get (det, "scale-factor", &scale, "min-neighbors", &neighbors, NULL);
  g_object_get (cls, "margin", &margin, "classify-every", &every, NULL);
  FER_CHECK (rejected_values >= 5 && scale == 1.2 && neighbors == 3 && margin == 0.1 &&
      every == 3, "out-of-range values were not refused (%u warnings)", rejected_values);
  g_log_remove_handler ("GLib-GObject", handler);

  /* Extremes that are allowed, while playing: the chain keeps running. */
  gst_harness_set_src_caps_str (h, caps);
  for (gint f = 0; f < 8; f++) {
    GstBuffer *in = noise_frame (GST_VIDEO_FORMAT_I420, 320, 240, (guint) f);
    switch (f) {
      case 1:
        g_object_set (det, "min-size", G_MAXINT, "max-size", 1, NULL);
        break;
      case 2:
        g_object_set (det, "min-size", 0, "max-size", 0, "scale-factor", 1.01,
            "min-neighbors", 0, "exhaustive", TRUE, NULL);
        break;
      case 3:
        g_object_set (det, "scale-factor", 4.0, "min-neighbors", 1000, "detect-every",
            G_MAXUINT, "exhaustive", FALSE, NULL);
        break;
      case 4:
        g_object_set (cls, "margin", 1.0, "classify-every", 1000, "smoothing-alpha", 0.01,
            "min-confidence", 1.0, NULL);
        break;
      case 5:
        g_object_set (cls, "margin", 0.0, "classify-every", 1, NULL);
        break;
      default:
        break;
    }
    fer_gst_test_add_face (in, 10, 10, 200, 200);
    gst_buffer_unref (gst_harness_push_and_pull (h, in));
  }
  gst_object_unref (det);
  gst_object_unref (cls);
  gst_harness_teardown (h);
  g_print ("ok  extreme property values while playing\n");

  /* Empty strings: a clear failure, not a crash. */
  e = gst_element_factory_make ("ferclassify", NULL);
  g_object_set (e, "model", "", NULL);
  expect_failure (e, GST_STATE_PAUSED, "model=\"\"", "No expression model set", NULL);
  gst_object_unref (e);
  e = gst_element_factory_make ("ferfacedetect", NULL);
  g_object_set (e, "cascade", "", NULL);
  gst_util_set_object_arg (G_OBJECT (e), "method", "cascade");
  expect_failure (e, GST_STATE_READY, "cascade=\"\"", "the cascade property is empty", NULL);
  gst_object_unref (e);
  g_free (caps);
}

/* A FIFO set as cascade while playing stops the stream with an error; it does not block the
 * streaming thread. */
static void
test_fifo_cascade_while_playing (void)
{
  GstHarness *h = chain ("");
  GstElement *det = gst_harness_find_element (h, "ferfacedetect");
  gchar *caps = fer_gst_test_caps_string (GST_VIDEO_FORMAT_GRAY8, 160, 120);
  gchar *fifo = make_fifo ("playing.xml");
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  GError *err = NULL;

  gst_element_set_bus (det, bus);
  gst_harness_set_src_caps_str (h, caps);
  gst_buffer_unref (gst_harness_push_and_pull (h, fer_gst_test_frame (GST_VIDEO_FORMAT_GRAY8,
              160, 120, 0)));
  g_object_set (det, "cascade", fifo, NULL);
  alarm (120);
  FER_CHECK (gst_harness_push (h, fer_gst_test_frame (GST_VIDEO_FORMAT_GRAY8, 160, 120, 1)) ==
      GST_FLOW_ERROR, "a FIFO cascade set while playing must stop the stream");
  alarm (0);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  FER_CHECK (msg, "no error message");
  gst_message_parse_error (msg, &err, NULL);
  FER_CHECK (strstr (err->message, fifo) && strstr (err->message, "a FIFO"), "error: %s",
      err->message);
  g_print ("ok  cascade FIFO while playing: %s\n", err->message);
  g_clear_error (&err);
  gst_message_unref (msg);
  gst_element_set_bus (det, NULL);
  gst_object_unref (bus);
  gst_object_unref (det);
  gst_harness_teardown (h);
  g_unlink (fifo);
  g_free (fifo);
  g_free (caps);
}

/* ---- memory --------------------------------------------------------------------------------- */

/* Resident set (/proc/self/statm), in bytes. */
static gint64
resident_bytes (void)
{
  gchar *text = NULL;
  gint64 pages = -1;
  if (g_file_get_contents ("/proc/self/statm", &text, NULL, NULL))
    sscanf (text, "%*s %" G_GINT64_FORMAT, &pages);
  g_free (text);
  return pages * sysconf (_SC_PAGESIZE);
}

/* Heap bytes in use. The resident set alone can hide a leak that reuses pages freed earlier;
 * under ASan freed blocks sit in its quarantine and the resident set grows anyway, so there
 * the allocator's own count is the measure. */
static gint64
heap_bytes (void)
{
#ifdef UNDER_ASAN
  return (gint64) __sanitizer_get_current_allocated_bytes ();
#else
  struct mallinfo2 mi = mallinfo2 ();
  return (gint64) (mi.uordblks + mi.hblkhd);
#endif
}

/* 30 000 small frames through the whole chain, faces coming and going (new tracks, classify
 * every N, overlay drawing, JSON Lines): the heap in use and the resident set after the warm-up
 * and at the end differ by less than 1 MiB (a leak of 40 bytes a frame would show 1.1 MB).
 * Under ASan 10 000 frames and the heap count only (see below). Runs first, before large
 * frames leave freed pages behind. */
static void
test_memory_flat (void)
{
#ifdef UNDER_ASAN
  /* ASan runs this about 15x slower; its heap count is exact, so fewer frames and a tighter
   * bound catch the same leaks (40 bytes a frame: 360 KB). */
  const gint n_frames = 10000, warm_up = 1000;
  const gint64 tolerance = 256 * 1024;
#else
  const gint n_frames = 30000, warm_up = 2000;
  const gint64 tolerance = 1024 * 1024;
#endif
  gchar *results = tmp_path ("rss.jsonl");
  gchar *desc = g_strdup_printf ("ferfacedetect method=cascade ! "
      "ferclassify model=\"%s\" backend=cpu results-location=\"%s\" ! "
      "feroverlay show-probabilities=true", model, results);
  GstHarness *h = gst_harness_new_parse (desc);
  gchar *caps = fer_gst_test_caps_string (GST_VIDEO_FORMAT_I420, 64, 48);
  GstBuffer *frames[4];
  gint64 heap_before = 0, rss_before = 0, heap_after, rss_after;
  gint64 t0 = g_get_monotonic_time ();

  gst_harness_set_src_caps_str (h, caps);
  for (gint k = 0; k < 4; k++)
    frames[k] = k % 2 ? noise_frame (GST_VIDEO_FORMAT_I420, 64, 48, (guint) k) :
        fer_gst_test_frame (GST_VIDEO_FORMAT_I420, 64, 48, (guint) k);
  for (gint f = 0; f < n_frames; f++) {
    GstBuffer *in = gst_buffer_copy (frames[f % 4]);
    GST_BUFFER_PTS (in) = (GstClockTime) f * 40 * GST_MSECOND;
    /* a moving face, a second one every 10th frame; every 50th frame none (tracks end, new
     * ids start) */
    for (gint k = 0; k < 1 + (f % 10 == 0) && f % 50 != 0; k++)
      fer_gst_test_add_face (in, (f / 7 + 13 * k) % 40, (k * 9) % 24, 24, 24);
    gst_buffer_unref (gst_harness_push_and_pull (h, in));
    if (f == warm_up) {
      heap_before = heap_bytes ();
      rss_before = resident_bytes ();
    }
  }
  heap_after = heap_bytes ();
  rss_after = resident_bytes ();
  FER_CHECK (gst_harness_push_event (h, gst_event_new_eos ()), "EOS");
  gst_harness_teardown (h);
  for (gint k = 0; k < 4; k++)
    gst_buffer_unref (frames[k]);
  g_print ("ok  %d frames in %.1f s: heap %.2f -> %.2f MiB, resident %.2f -> %.2f MiB "
      "(after %d frames -> at the end)\n", n_frames, (g_get_monotonic_time () - t0) / 1e6,
      heap_before / 1048576.0, heap_after / 1048576.0, rss_before / 1048576.0,
      rss_after / 1048576.0, warm_up);
  FER_CHECK (heap_before > 0 && heap_after - heap_before < tolerance,
      "heap in use grew by %" G_GINT64_FORMAT " bytes over %d frames", heap_after - heap_before,
      n_frames - warm_up);
#ifndef UNDER_ASAN
  FER_CHECK (rss_before > 0 && rss_after - rss_before < tolerance,
      "resident set grew by %" G_GINT64_FORMAT " bytes over %d frames", rss_after - rss_before,
      n_frames - warm_up);
#endif
  g_unlink (results);
  g_free (results);
  g_free (desc);
  g_free (caps);
}

int
main (int argc, char **argv)
{
  fer_gst_test_init (&argc, &argv);
  tmpdir = fer_gst_test_tmpdir ();
  model = fer_gst_test_tiny_model (tmpdir, "tiny.fer", NULL);

  test_bad_models ();
  test_results_location ();
  if (!g_file_test (HAAR_FRONTAL, G_FILE_TEST_EXISTS)) {
    g_print ("SKIP: opencv-data is not installed (ferfacedetect needs a cascade)\n");
    fer_gst_test_rmdir (tmpdir);
    return FER_TEST_SKIP;
  }
  test_memory_flat ();          /* before large frames leave freed pages behind */
  test_bad_cascades ();
  test_fifo_cascade_while_playing ();
  test_bad_properties ();
  test_frame_sizes ();

  fer_gst_test_rmdir (tmpdir);
  g_free (tmpdir);
  g_free (model);
  gst_deinit ();
  g_print ("robust: ok\n");
  return 0;
}
