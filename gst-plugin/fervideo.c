#include "fervideo.h"

#include <string.h>

static guint8 *
scratch_reserve (FerLumaScratch * scratch, gsize size)
{
  if (scratch->size < size) {
    g_free (scratch->data);
    scratch->data = g_malloc (size);
    scratch->size = size;
  }
  return scratch->data;
}

void
fer_luma_scratch_clear (FerLumaScratch * scratch)
{
  g_free (scratch->data);
  scratch->data = NULL;
  scratch->size = 0;
}

/* Fixed-point 601 weights (sum 65536) with rounding, as PIL's L conversion. */
static inline guint8
rgb_to_luma (guint r, guint g, guint b)
{
  return (guint8) ((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
}

static void
convert_rgb_rows (const GstVideoFrame * frame, guint8 * dst, gint w, gint h)
{
  const GstVideoFormatInfo *finfo = frame->info.finfo;
  const guint8 *src = GST_VIDEO_FRAME_PLANE_DATA (frame, 0);
  gint sstride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
  gint pstride = GST_VIDEO_FORMAT_INFO_PSTRIDE (finfo, 0);
  gint ro = GST_VIDEO_FORMAT_INFO_POFFSET (finfo, GST_VIDEO_COMP_R);
  gint go = GST_VIDEO_FORMAT_INFO_POFFSET (finfo, GST_VIDEO_COMP_G);
  gint bo = GST_VIDEO_FORMAT_INFO_POFFSET (finfo, GST_VIDEO_COMP_B);

  for (gint y = 0; y < h; y++) {
    const guint8 *row = src + (gsize) y * sstride;
    guint8 *out = dst + (gsize) y * w;
    for (gint x = 0; x < w; x++) {
      const guint8 *p = row + x * pstride;
      out[x] = rgb_to_luma (p[ro], p[go], p[bo]);
    }
  }
}

static void
expand_limited_rows (const GstVideoFrame * frame, guint8 * dst, gint w, gint h)
{
  guint8 lut[256];
  const guint8 *src = GST_VIDEO_FRAME_COMP_DATA (frame, 0);
  gint sstride = GST_VIDEO_FRAME_COMP_STRIDE (frame, 0);

  /* 16..235 -> 0..255 */
  for (gint v = 0; v < 256; v++) {
    gint e = ((v - 16) * 255 + 219 / 2) / 219;
    lut[v] = (guint8) CLAMP (e, 0, 255);
  }
  for (gint y = 0; y < h; y++) {
    const guint8 *row = src + (gsize) y * sstride;
    guint8 *out = dst + (gsize) y * w;
    for (gint x = 0; x < w; x++)
      out[x] = lut[row[x]];
  }
}

const guint8 *
fer_video_frame_luma (const GstVideoFrame * frame, FerLumaScratch * scratch, gint * stride)
{
  const GstVideoInfo *info = &frame->info;
  gint w = GST_VIDEO_INFO_WIDTH (info), h = GST_VIDEO_INFO_HEIGHT (info);

  if (GST_VIDEO_INFO_IS_RGB (info)) {
    guint8 *dst = scratch_reserve (scratch, (gsize) w * h);
    convert_rgb_rows (frame, dst, w, h);
    *stride = w;
    return dst;
  }
  if (GST_VIDEO_INFO_IS_YUV (info) &&
      info->colorimetry.range == GST_VIDEO_COLOR_RANGE_16_235) {
    guint8 *dst = scratch_reserve (scratch, (gsize) w * h);
    expand_limited_rows (frame, dst, w, h);
    *stride = w;
    return dst;
  }
  /* GRAY8, full-range I420/NV12: component 0 is the luma plane */
  *stride = GST_VIDEO_FRAME_COMP_STRIDE (frame, 0);
  return GST_VIDEO_FRAME_COMP_DATA (frame, 0);
}

GstVideoRegionOfInterestMeta *
fer_buffer_iterate_faces (GstBuffer * buf, gpointer * state)
{
  static gsize face_quark_once;
  GQuark face_quark;
  GstMeta *meta;

  if (g_once_init_enter (&face_quark_once))
    g_once_init_leave (&face_quark_once, g_quark_from_static_string (FER_ROI_TYPE_FACE));
  face_quark = (GQuark) face_quark_once;
  while ((meta = gst_buffer_iterate_meta_filtered (buf, state,
              GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
    GstVideoRegionOfInterestMeta *roi = (GstVideoRegionOfInterestMeta *) meta;
    if (roi->roi_type == face_quark)
      return roi;
  }
  return NULL;
}
