#include "fer_gst_test.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib/gstdio.h>

#include "fer/checkpoint.h"
#include "fer/model.h"
#include "fer_config.h"
#include "ferclassify.h"
#include "feroverlay.h"
#include "detect/gstferfacedetect.h"

void
fer_gst_test_init (int *argc, char ***argv)
{
  gst_init (argc, argv);
  GST_ELEMENT_REGISTER (ferfacedetect, NULL);
  GST_ELEMENT_REGISTER (ferclassify, NULL);
  GST_ELEMENT_REGISTER (feroverlay, NULL);
}

gboolean
fer_gst_test_have_element (const gchar * factory)
{
  GstElementFactory *f = gst_element_factory_find (factory);
  if (!f)
    return FALSE;
  gst_object_unref (f);
  return TRUE;
}

gchar *
fer_gst_test_tmpdir (void)
{
  GError *err = NULL;
  gchar *dir = g_dir_make_tmp ("fer-gst-XXXXXX", &err);
  FER_CHECK (dir != NULL, "cannot make a temp dir: %s", err ? err->message : "?");
  return dir;
}

void
fer_gst_test_rmdir (const gchar * dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *name;

  if (!d)
    return;
  while ((name = g_dir_read_name (d))) {
    gchar *p = g_build_filename (dir, name, NULL);
    if (g_file_test (p, G_FILE_TEST_IS_DIR))
      fer_gst_test_rmdir (p);
    else
      g_unlink (p);
    g_free (p);
  }
  g_dir_close (d);
  g_rmdir (dir);
}

static void
check_ok (fer_status st, const gchar * what)
{
  FER_CHECK (st == FER_OK, "%s: %s (%s)", what, fer_status_name (st), fer_last_error ());
}

gchar *
fer_gst_test_tiny_model (const gchar * dir, const gchar * name, const gfloat * fixed_logits)
{
  fer_arch arch;
  fer_backend *be = NULL;
  fer_model *m = NULL;
  fer_checkpoint_meta meta;
  gchar *path = g_build_filename (dir, name, NULL);

  check_ok (fer_arch_preset ("tiny", FER_HEAD_SOFTMAX, &arch), "tiny arch");
  check_ok (fer_backend_new ("ref", 1, &be), "ref backend");
  check_ok (fer_model_new (&arch, be, 1, &m), "tiny model");
  check_ok (fer_model_init (m, 1234), "model init");
  if (fixed_logits) {
    for (gint i = 0; i < fer_model_n_tensors (m); i++) {
      fer_tensor_info info;
      check_ok (fer_model_tensor_info (m, i, &info), "tensor info");
      if (strcmp (info.name, "head.weight") == 0) {
        gfloat *zeros = g_new0 (gfloat, info.numel);
        check_ok (fer_model_set_tensor (m, info.name, zeros, info.numel), "zero head.weight");
        g_free (zeros);
      } else if (strcmp (info.name, "head.bias") == 0) {
        FER_CHECK (info.numel == 7, "head.bias has %zu values", info.numel);
        check_ok (fer_model_set_tensor (m, info.name, fixed_logits, 7), "set head.bias");
      }
    }
  }
  fer_checkpoint_meta_init (&meta);
  check_ok (fer_checkpoint_save (path, m, &meta, NULL), "save checkpoint");
  fer_checkpoint_meta_clear (&meta);
  fer_model_free (m);
  fer_backend_free (be);
  return path;
}

gchar *
fer_gst_test_caps_string (GstVideoFormat format, gint width, gint height)
{
  return g_strdup_printf ("video/x-raw,format=%s,width=%d,height=%d,framerate=25/1",
      gst_video_format_to_string (format), width, height);
}

GstBuffer *
fer_gst_test_frame (GstVideoFormat format, gint width, gint height, guint seed)
{
  GstVideoInfo info;
  GstVideoFrame frame;
  GstBuffer *buf;

  gst_video_info_set_format (&info, format, width, height);
  buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  gst_buffer_memset (buf, 0, 0, GST_VIDEO_INFO_SIZE (&info));
  FER_CHECK (gst_video_frame_map (&frame, &info, buf, GST_MAP_WRITE), "map new frame");
  for (guint comp = 0; comp < GST_VIDEO_FRAME_N_COMPONENTS (&frame); comp++) {
    guint8 *data = GST_VIDEO_FRAME_COMP_DATA (&frame, comp);
    gint stride = GST_VIDEO_FRAME_COMP_STRIDE (&frame, comp);
    gint pstride = GST_VIDEO_FRAME_COMP_PSTRIDE (&frame, comp);
    gint cw = GST_VIDEO_FRAME_COMP_WIDTH (&frame, comp);
    gint ch = GST_VIDEO_FRAME_COMP_HEIGHT (&frame, comp);
    for (gint y = 0; y < ch; y++)
      for (gint x = 0; x < cw; x++)
        data[(gsize) y * stride + (gsize) x * pstride] =
            (guint8) (60 + ((x * (comp + 1) + y * 2 + (gint) seed * 7) % 120));
  }
  gst_video_frame_unmap (&frame);
  return buf;
}

GstVideoRegionOfInterestMeta *
fer_gst_test_add_face (GstBuffer * buf, gint x, gint y, gint w, gint h)
{
  return gst_buffer_add_video_region_of_interest_meta (buf, "face", x, y, w, h);
}

gchar *
fer_gst_test_source_path (const gchar * relative)
{
  return g_build_filename (FER_SOURCE_DIR, relative, NULL);
}

gboolean
fer_gst_test_expression_probs (GstVideoRegionOfInterestMeta * roi, gdouble * probs, guint n)
{
  GstStructure *s = roi ? gst_video_region_of_interest_meta_get_param (roi,
      FER_EXPRESSION_PARAM) : NULL;
  const GValue *p = s ? gst_structure_get_value (s, "probabilities") : NULL;

  if (!p || gst_value_array_get_size (p) != n)
    return FALSE;
  for (guint i = 0; i < n; i++)
    probs[i] = g_value_get_double (gst_value_array_get_value (p, i));
  return TRUE;
}

gdouble
fer_gst_test_max_abs_diff (const gdouble * a, const gdouble * b, guint n)
{
  gdouble m = 0.0;
  for (guint i = 0; i < n; i++)
    m = MAX (m, ABS (a[i] - b[i]));
  return m;
}

gchar *
fer_gst_test_run_pipeline (GstElement * pipeline, guint timeout_s)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg;
  gchar *error = NULL;

  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    error = g_strdup ("pipeline failed to start");
  msg = gst_bus_timed_pop_filtered (bus, timeout_s * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  if (!msg) {
    if (!error)
      error = g_strdup_printf ("no EOS within %u s", timeout_s);
  } else {
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      GError *err = NULL;
      gchar *dbg = NULL;
      gst_message_parse_error (msg, &err, &dbg);
      g_free (error);
      error = g_strdup_printf ("%s (%s)", err->message, dbg ? dbg : "");
      g_clear_error (&err);
      g_free (dbg);
    }
    gst_message_unref (msg);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  return error;
}

gchar *
fer_gst_test_find_sample (const gchar * name, ...)
{
  const gchar *env_dir = g_getenv ("FER_SAMPLES_DIR");
  gchar *p;
  const gchar *alt;
  va_list ap;

  if (env_dir) {
    p = g_build_filename (env_dir, name, NULL);
    if (g_file_test (p, G_FILE_TEST_IS_REGULAR))
      return p;
    g_free (p);
  }
  p = g_build_filename (FER_SOURCE_DIR, "data", "samples", name, NULL);
  if (g_file_test (p, G_FILE_TEST_IS_REGULAR))
    return p;
  g_free (p);
  va_start (ap, name);
  while ((alt = va_arg (ap, const gchar *))) {
    if (g_file_test (alt, G_FILE_TEST_IS_REGULAR)) {
      va_end (ap);
      return g_strdup (alt);
    }
  }
  va_end (ap);
  return NULL;
}

static gint alive_buffers;

static void
buffer_finalized (G_GNUC_UNUSED gpointer data, G_GNUC_UNUSED GstMiniObject * obj)
{
  g_atomic_int_add (&alive_buffers, -1);
}

GstBuffer *
fer_gst_test_track (GstBuffer * buf)
{
  g_atomic_int_inc (&alive_buffers);
  gst_mini_object_weak_ref (GST_MINI_OBJECT_CAST (buf), buffer_finalized, NULL);
  return buf;
}

gint
fer_gst_test_alive_buffers (void)
{
  return g_atomic_int_get (&alive_buffers);
}
