#include "detect_test.h"

#include <stdlib.h>
#include <string.h>
#include <gst/app/gstappsink.h>

const DtBox dt_astronaut_faces[1] = { {173, 62, 104, 104} };
const DtBox dt_sample5_faces[5] = {
  {354, 894, 244, 244}, {635, 451, 169, 169}, {1088, 219, 182, 182},
  {786, 128, 188, 188}, {1355, 407, 252, 252},
};

gchar *
dt_sample (const gchar * name)
{
  gchar *path = fer_gst_test_find_sample (name,
      "/usr/lib/python3/dist-packages/skimage/data/astronaut.png", NULL);

  if (!path || !g_str_has_suffix (path, name)) {
    g_print ("SKIP: sample %s not found (data/samples/fetch.sh)\n", name);
    exit (FER_TEST_SKIP);
  }
  return path;
}

GstSample *
dt_decode (const gchar * path, GstVideoFormat format, gint width, gint height)
{
  return dt_decode_frame (path, format, width, height, 0);
}

GstSample *
dt_decode_frame (const gchar * path, GstVideoFormat format, gint width, gint height,
    gint index)
{
  gchar *size = width > 0 ? g_strdup_printf (",width=%d,height=%d", width, height) :
      g_strdup ("");
  gchar *desc = g_strdup_printf ("filesrc name=src ! decodebin ! videoconvert ! videoscale ! "
      "video/x-raw,format=%s%s,pixel-aspect-ratio=1/1 ! "
      "appsink name=sink sync=false max-buffers=2",
      gst_video_format_to_string (format), size);
  GError *err = NULL;
  GstElement *pipe = gst_parse_launch (desc, &err);
  GstElement *src, *sink;
  GstSample *sample;

  FER_CHECK (pipe && !err, "pipeline %s: %s", desc, err ? err->message : "?");
  src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  g_object_set (src, "location", path, NULL);
  FER_CHECK (gst_element_set_state (pipe, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE,
      "cannot play %s", path);
  sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 30 * GST_SECOND);
  for (gint i = 0; i < index && sample; i++) {
    gst_sample_unref (sample);
    sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 30 * GST_SECOND);
  }
  FER_CHECK (sample != NULL, "no frame %d decoded from %s", index, path);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipe);
  g_free (desc);
  g_free (size);
  return sample;
}

guint8 *
dt_gray (const gchar * path, gint * width, gint * height)
{
  GstSample *sample = dt_decode (path, GST_VIDEO_FORMAT_GRAY8, 0, 0);
  GstVideoInfo info;
  GstVideoFrame frame;
  guint8 *gray;

  FER_CHECK (gst_video_info_from_caps (&info, gst_sample_get_caps (sample)), "caps");
  FER_CHECK (gst_video_frame_map (&frame, &info, gst_sample_get_buffer (sample), GST_MAP_READ),
      "map");
  *width = GST_VIDEO_INFO_WIDTH (&info);
  *height = GST_VIDEO_INFO_HEIGHT (&info);
  gray = g_malloc ((gsize) * width * *height);
  for (gint y = 0; y < *height; y++)
    memcpy (gray + (gsize) y * *width, (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0) +
        (gsize) y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0), (gsize) * width);
  gst_video_frame_unmap (&frame);
  gst_sample_unref (sample);
  return gray;
}

gdouble
dt_iou (const DtBox * a, const DtBox * b)
{
  fer_cascade_box fa = { a->x, a->y, a->w, a->h, 0 }, fb = { b->x, b->y, b->w, b->h, 0 };
  return fer_cascade_box_iou (&fa, &fb);
}

gint
dt_matched (const DtBox * expected, gint n_expected, const DtBox * found, gint n_found,
    gdouble min_iou)
{
  gint n = 0;
  for (gint i = 0; i < n_expected; i++) {
    gboolean hit = FALSE;
    for (gint j = 0; j < n_found && !hit; j++)
      hit = dt_iou (&expected[i], &found[j]) >= min_iou;
    n += hit;
  }
  return n;
}

void
dt_check_no_duplicates (const DtBox * boxes, gint n, gdouble max_iou, const gchar * what)
{
  for (gint i = 0; i < n; i++)
    for (gint j = i + 1; j < n; j++)
      FER_CHECK (dt_iou (&boxes[i], &boxes[j]) <= max_iou,
          "%s: boxes %d and %d overlap (IoU %.2f): duplicates", what, i, j,
          dt_iou (&boxes[i], &boxes[j]));
}

gchar *
dt_boxes_string (const DtBox * boxes, gint n)
{
  GString *s = g_string_new (NULL);
  for (gint i = 0; i < n; i++)
    g_string_append_printf (s, "%s[%d %d %d %d]", i ? " " : "", boxes[i].x, boxes[i].y,
        boxes[i].w, boxes[i].h);
  return g_string_free (s, FALSE);
}
