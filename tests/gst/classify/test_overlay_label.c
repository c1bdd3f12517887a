/* feroverlay's labels are legible (issue 22): on small (24 px), border-touching and
 * edge-of-frame faces (each side, each corner, partly outside) at 640x480 and 160x120, the
 * label "neutral 44%" (and one with a track id) lies whole inside the frame, outside the face
 * box, and every glyph pixel of it is drawn (checked pixel by pixel against the font, in RGBx
 * exactly and in I420 on luma within 1 level); the probability bars stay inside the frame and
 * off the label (and off the face, with names, at 640x480); the box and label read on white and on black backgrounds for
 * every class colour (thresholds below); font-scale auto follows the frame height.
 *
 * With FER_OVERLAY_PNG_DIR set, the rendered frames are also written there as raw RGBx
 * (NAME.rgbx, with their size in the name) to look at. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fer_gst_test.h"
#include "fer/font.h"
#include "feroverlay_draw.h"

/* Contrast thresholds, in 8-bit luma levels: the dark edges on white, the class colour on
 * black (the darkest class colour, angry red, is about 94), and text against its strip
 * (fer_text_color_on switches at 140, so the worst case is about 115). */
#define DARK_EDGE_MAX_LUMA 40
#define COLOUR_ON_BLACK_MIN_LUMA 90
#define TEXT_CONTRAST_MIN 100

static const gchar *const class_names[7] =
    { "angry", "disgust", "fear", "happy", "neutral", "sad", "surprise" };
static const gdouble probs[7] = { 0.02, 0.01, 0.05, 0.30, 0.44, 0.08, 0.10 };

typedef struct Canvas {
  GstBuffer *buf;
  GstVideoFrame frame;
  FerCanvas cv;
} Canvas;

static void
canvas_open (Canvas * c, GstVideoFormat format, gint w, gint h, guint8 fill)
{
  GstVideoInfo info;

  gst_video_info_set_format (&info, format, w, h);
  c->buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  FER_CHECK (gst_video_frame_map (&c->frame, &info, c->buf, GST_MAP_READWRITE), "map");
  for (guint comp = 0; comp < GST_VIDEO_FRAME_N_COMPONENTS (&c->frame); comp++) {
    guint8 *data = GST_VIDEO_FRAME_COMP_DATA (&c->frame, comp);
    gint stride = GST_VIDEO_FRAME_COMP_STRIDE (&c->frame, comp);
    gint pstride = GST_VIDEO_FRAME_COMP_PSTRIDE (&c->frame, comp);
    gboolean chroma = GST_VIDEO_FORMAT_INFO_IS_YUV (info.finfo) && comp > 0;
    for (gint y = 0; y < GST_VIDEO_FRAME_COMP_HEIGHT (&c->frame, comp); y++)
      for (gint x = 0; x < GST_VIDEO_FRAME_COMP_WIDTH (&c->frame, comp); x++)
        data[(gsize) y * stride + (gsize) x * pstride] = chroma ? 128 : fill;
  }
  fer_canvas_init (&c->cv, &c->frame);
}

static void
canvas_close (Canvas * c)
{
  gst_video_frame_unmap (&c->frame);
  gst_buffer_unref (c->buf);
}

/* Luma of pixel x, y (RGB: ITU-R 601 weights; YUV: the Y sample as stored). */
static gint
luma_at (Canvas * c, gint x, gint y)
{
  const guint8 *p;

  if (GST_VIDEO_INFO_IS_RGB (&c->frame.info)) {
    gint ps = GST_VIDEO_FRAME_COMP_PSTRIDE (&c->frame, 0);
    p = (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&c->frame, 0) +
        (gsize) y * GST_VIDEO_FRAME_PLANE_STRIDE (&c->frame, 0) + (gsize) x * ps;
    /* RGBx: r, g, b in that order */
    return (299 * p[0] + 587 * p[1] + 114 * p[2] + 500) / 1000;
  }
  p = (const guint8 *) GST_VIDEO_FRAME_COMP_DATA (&c->frame, 0) +
      (gsize) y * GST_VIDEO_FRAME_COMP_STRIDE (&c->frame, 0) +
      (gsize) x * GST_VIDEO_FRAME_COMP_PSTRIDE (&c->frame, 0);
  return p[0];
}

static gint
rgb_luma (FerRgb c)
{
  return (299 * c.r + 587 * c.g + 114 * c.b + 500) / 1000;
}

static void
dump (Canvas * c, const gchar * name)
{
  const gchar *dir = g_getenv ("FER_OVERLAY_PNG_DIR");
  gint w = GST_VIDEO_FRAME_WIDTH (&c->frame), h = GST_VIDEO_FRAME_HEIGHT (&c->frame);

  if (!dir || !GST_VIDEO_INFO_IS_RGB (&c->frame.info))
    return;
  gchar *path = g_strdup_printf ("%s/%s_%dx%d.rgbx", dir, name, w, h);
  FILE *f = fopen (path, "wb");
  FER_CHECK (f != NULL, "%s: cannot write", path);
  for (gint y = 0; y < h; y++)
    fwrite ((const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&c->frame, 0) +
        (gsize) y * GST_VIDEO_FRAME_PLANE_STRIDE (&c->frame, 0), 1, (gsize) w * 4, f);
  FER_CHECK (fclose (f) == 0, "%s: write failed", path);
  g_free (path);
}

static gboolean
intersects (FerRect a, FerRect b)
{
  return a.w > 0 && a.h > 0 && b.w > 0 && b.h > 0 && a.x < b.x + b.w && b.x < a.x + a.w &&
      a.y < b.y + b.h && b.y < a.y + a.h;
}

static gboolean
inside_frame (FerRect r, gint fw, gint fh)
{
  return r.x >= 0 && r.y >= 0 && r.w > 0 && r.h > 0 && r.x + r.w <= fw && r.y + r.h <= fh;
}

/* Every set pixel of the font for text at the layout's place has the text colour: luma within
 * tol of it (and, in RGB, exactly it). Returns the number of glyph pixels checked. */
static gint
check_glyphs (Canvas * c, const FerLabelLayout * l, const gchar * text, FerRgb ink, gint tol,
    const gchar * what)
{
  gint n = 0, expect = rgb_luma (ink);
  if (!GST_VIDEO_INFO_IS_RGB (&c->frame.info) && !c->cv.full_range)
    expect = 16 + (expect * 219 + 127) / 255;        /* limited-range Y */
  gint s = l->scale, pen = l->text_x;

  for (const guchar * p = (const guchar *) text; *p; p++, pen += FER_FONT_W * s) {
    const guint8 *rows = fer_font_glyph (*p);
    for (gint r = 0; r < FER_FONT_H; r++)
      for (gint col = 0; col < FER_FONT_W; col++) {
        if (!(rows[r] & (0x80u >> col)))
          continue;
        for (gint dy = 0; dy < s; dy++)
          for (gint dx = 0; dx < s; dx++) {
            gint x = pen + col * s + dx, y = l->text_y + r * s + dy;
            FER_CHECK (x >= 0 && y >= 0 && x < GST_VIDEO_FRAME_WIDTH (&c->frame) &&
                y < GST_VIDEO_FRAME_HEIGHT (&c->frame),
                "%s: glyph '%c' pixel %d,%d outside the frame", what, *p, x, y);
            gint v = luma_at (c, x, y);
            FER_CHECK (ABS (v - expect) <= tol, "%s: glyph '%c' pixel %d,%d has luma %d, text "
                "colour %d", what, *p, x, y, v, expect);
            n++;
          }
      }
  }
  return n;
}

static gint
font_pixels (const gchar * text, gint s)
{
  gint n = 0;
  for (const guchar * p = (const guchar *) text; *p; p++)
    for (gint r = 0; r < FER_FONT_H; r++)
      n += __builtin_popcount (fer_font_glyph (*p)[r]);
  return n * s * s;
}

/* Faces at the places that used to cut labels, for a frame_w x frame_h frame. */
static gint
edge_faces (gint fw, gint fh, FerRect * out)
{
  gint n = 0, m = fh / 6;       /* a mid-sized face: 80 px at 480 rows, 20 at 120 */
  const gint sizes[2] = { 24, m };

  for (gint k = 0; k < 2; k++) {
    gint s = sizes[k];
    out[n++] = (FerRect) { (fw - s) / 2, (fh - s) / 2, s, s };     /* centre */
    out[n++] = (FerRect) { 0, (fh - s) / 2, s, s };       /* left edge */
    out[n++] = (FerRect) { fw - s, (fh - s) / 2, s, s };  /* right edge */
    out[n++] = (FerRect) { (fw - s) / 2, 0, s, s };       /* top edge */
    out[n++] = (FerRect) { (fw - s) / 2, fh - s, s, s };  /* bottom edge */
    out[n++] = (FerRect) { 0, 0, s, s };  /* corners */
    out[n++] = (FerRect) { fw - s, 0, s, s };
    out[n++] = (FerRect) { 0, fh - s, s, s };
    out[n++] = (FerRect) { fw - s, fh - s, s, s };
    out[n++] = (FerRect) { -s / 3, -s / 3, s, s };        /* partly outside */
    out[n++] = (FerRect) { fw - 2 * s / 3, fh - 2 * s / 3, s, s };
    out[n++] = (FerRect) { fw - s - 1, 3, s, s };         /* 1 px off the right edge */
  }
  out[n++] = (FerRect) { fw / 4, 0, fw / 2, fh };          /* as high as the frame */
  out[n++] = (FerRect) { fw / 3, fh / 10, 70, 70 };        /* the 66-82 px faces of the issue */
  return n;
}

static void
test_labels_whole_inside (GstVideoFormat format, gint fw, gint fh)
{
  const gchar *texts[2] = { "neutral 44%", "#12 surprise 100%" };
  const gchar *fmt = gst_video_format_to_string (format);
  FerRect faces[32];
  gint n_faces = edge_faces (fw, fh, faces);
  FerRgb neutral = fer_expression_color ("neutral", 4), ink = fer_text_color_on (neutral);

  for (gint t = 0; t < 2; t++)
    for (gint show = 0; show < 2; show++)
      for (gint i = 0; i < n_faces; i++) {
        FerRect face = faces[i];
        FerFaceLayout l;
        Canvas c;
        gchar what[160];
        g_snprintf (what, sizeof what, "%s %dx%d face %d,%d %dx%d \"%s\"%s", fmt, fw, fh,
            face.x, face.y, face.w, face.h, texts[t], show ? " + bars" : "");

        fer_face_layout (face, texts[t], 0, show ? 7 : 0, fw, fh, &l);
        FER_CHECK (l.label.complete, "%s: label not complete", what);
        FER_CHECK (inside_frame (l.label.strip, fw, fh), "%s: strip %d,%d %dx%d leaves the "
            "frame", what, l.label.strip.x, l.label.strip.y, l.label.strip.w, l.label.strip.h);
        FER_CHECK (l.label.text_w == fer_font_text_width (texts[t], l.label.scale),
            "%s: text width", what);
        FER_CHECK (l.label.text_x >= l.label.strip.x && l.label.text_x + l.label.text_w <=
            l.label.strip.x + l.label.strip.w, "%s: text wider than its strip", what);
        FER_CHECK (l.label.text_y >= l.label.strip.y && l.label.text_y +
            fer_font_text_height (l.label.scale) <= l.label.strip.y + l.label.strip.h,
            "%s: text higher than its strip", what);
        if (face.h + l.label.strip.h + 2 * l.edge <= fh)
          FER_CHECK (!l.label.overlaps && !intersects (l.label.strip, face),
              "%s: the label covers the face though there is room above or below", what);
        if (face.y - l.edge - l.label.strip.h >= 0)
          FER_CHECK (!l.label.below && l.label.strip.y + l.label.strip.h <= face.y,
              "%s: room above, label not above", what);
        if (show) {
          FER_CHECK (l.bars.w > 0 && inside_frame (l.bars, fw, fh),
              "%s: bars %d,%d %dx%d leave the frame", what, l.bars.x, l.bars.y, l.bars.w,
              l.bars.h);
          FER_CHECK (!intersects (l.bars, l.label.strip), "%s: bars over the label", what);
          if (fw >= 640 && face.h < fh)
            FER_CHECK (!intersects (l.bars, face) && l.bar_names,
                "%s: bars over the face or without names at 640x480", what);
        }

        canvas_open (&c, format, fw, fh, 128);
        fer_canvas_draw_face (&c.cv, &l, face, texts[t], neutral, probs, class_names);
        gint n = check_glyphs (&c, &l.label, texts[t], ink,
            GST_VIDEO_FORMAT_INFO_IS_RGB (c.frame.info.finfo) ? 0 : 1, what);
        FER_CHECK (n == font_pixels (texts[t], l.label.scale), "%s: %d glyph pixels of %d",
            what, n, font_pixels (texts[t], l.label.scale));
        if (t == 0 && show && i == 13 && format == GST_VIDEO_FORMAT_RGBx)
          dump (&c, "edge-wide");
        canvas_close (&c);
      }
  g_print ("labels whole inside %s %dx%d: %d faces x 2 texts x bars on/off ok\n", fmt, fw, fh,
      n_faces);
}

/* Every face of edge_faces on one frame, to look at (FER_OVERLAY_PNG_DIR). */
static void
render_all (gint fw, gint fh, guint8 fill)
{
  FerRect faces[32];
  gint n = edge_faces (fw, fh, faces);
  Canvas c;
  gchar name[32];

  canvas_open (&c, GST_VIDEO_FORMAT_RGBx, fw, fh, fill);
  for (gint i = 0; i < n - 2; i++) {
    FerFaceLayout l;
    const gchar *label = class_names[i % 7];
    gchar *text = fer_overlay_label_text (label, 0.44, i % 3 ? -1 : i);
    fer_face_layout (faces[i], text, 0, i == 0 ? 7 : 0, fw, fh, &l);
    fer_canvas_draw_face (&c.cv, &l, faces[i], text, fer_expression_color (label, i % 7),
        probs, class_names);
    g_free (text);
  }
  g_snprintf (name, sizeof name, "edges-%s", fill > 128 ? "white" : "black");
  dump (&c, name);
  canvas_close (&c);
}

/* On a white and a black frame, for every class colour: the box's outer edge and the strip's
 * border are dark on white; the box line and the strip are bright enough on black; the text
 * contrasts with its strip. */
static void
test_contrast (void)
{
  const gchar *labels[8] =
      { "angry", "disgust", "fear", "happy", "neutral", "sad", "surprise", "uncertain" };
  const FerRect face = { 200, 150, 100, 100 };

  for (gint bg = 0; bg < 2; bg++)
    for (gint k = 0; k < 8; k++) {
      FerRgb color = fer_expression_color (labels[k], k);
      gchar *text = fer_overlay_label_text (labels[k], 0.44, -1);
      FerFaceLayout l;
      Canvas c;
      gint mid = face.y + face.h / 2;

      fer_face_layout (face, text, 0, 0, 640, 480, &l);
      canvas_open (&c, GST_VIDEO_FORMAT_RGBx, 640, 480, bg ? 255 : 0);
      fer_canvas_draw_face (&c.cv, &l, face, text, color, NULL, NULL);
      if (bg) {
        /* white: a dark ring around the box (outside and inside its line), a dark border
         * around the strip */
        gint outer = luma_at (&c, l.box.x, mid), innr = luma_at (&c, face.x + l.line, mid);
        gint border = luma_at (&c, l.label.strip.x, l.label.strip.y + l.label.strip.h / 2);
        FER_CHECK (outer <= DARK_EDGE_MAX_LUMA && innr <= DARK_EDGE_MAX_LUMA &&
            border <= DARK_EDGE_MAX_LUMA, "%s on white: edges have luma %d, %d, strip border "
            "%d (max %d)", labels[k], outer, innr, border, DARK_EDGE_MAX_LUMA);
        for (gint y = l.box.y; y < l.box.y + l.box.h; y++)
          FER_CHECK (luma_at (&c, l.box.x, y) <= DARK_EDGE_MAX_LUMA,
              "%s on white: the box's dark edge is broken at row %d", labels[k], y);
      } else {
        gint line = luma_at (&c, face.x, mid);
        gint strip = luma_at (&c, l.label.strip.x + l.label.scale, l.label.strip.y +
            l.label.scale);
        FER_CHECK (line >= COLOUR_ON_BLACK_MIN_LUMA && strip >= COLOUR_ON_BLACK_MIN_LUMA,
            "%s on black: box line luma %d, strip %d (min %d)", labels[k], line, strip,
            COLOUR_ON_BLACK_MIN_LUMA);
      }
      /* text against its strip: a glyph pixel of the 'a' of the label vs the strip's pad */
      gint strip_l = luma_at (&c, l.label.text_x - 1, l.label.text_y);
      gint ink = rgb_luma (fer_text_color_on (color));
      FER_CHECK (ABS (strip_l - ink) >= TEXT_CONTRAST_MIN, "%s: text luma %d on strip luma %d",
          labels[k], ink, strip_l);
      check_glyphs (&c, &l.label, text, fer_text_color_on (color), 0, labels[k]);
      if (k == 4)
        dump (&c, bg ? "neutral-on-white" : "neutral-on-black");
      canvas_close (&c);
      g_free (text);
    }
  g_print ("contrast on white and black: 8 class colours ok\n");
}

static void
test_font_scale (void)
{
  FerFaceLayout l;
  const FerRect face = { 10, 40, 30, 30 };

  FER_CHECK (fer_overlay_auto_font_scale (120) == 1 && fer_overlay_auto_font_scale (480) == 1 &&
      fer_overlay_auto_font_scale (720) == 2 && fer_overlay_auto_font_scale (1080) == 3 &&
      fer_overlay_auto_font_scale (2160) == 5, "auto font scale");
  fer_face_layout (face, "neutral 44%", 0, 0, 1920, 1080, &l);
  FER_CHECK (l.label.scale == 3, "1080p auto scale %d", l.label.scale);
  /* asked for 4 on a 160-wide frame: "neutral 44%" is 88 px per scale step, so 1 fits */
  fer_face_layout (face, "neutral 44%", 4, 0, 160, 120, &l);
  FER_CHECK (l.label.scale == 1 && l.label.complete, "scale 4 at 160x120 -> %d",
      l.label.scale);
  fer_face_layout (face, "neutral 44%", 2, 0, 320, 240, &l);
  FER_CHECK (l.label.scale == 2 && l.label.complete, "scale 2 at 320x240");
  /* narrower than the text at scale 1: cut, and said so */
  fer_face_layout (face, "neutral 44%", 0, 0, 64, 48, &l);
  FER_CHECK (!l.label.complete && l.label.strip.w == 64, "64x48 label");
  gchar *t = fer_overlay_label_text ("neutral", 0.444, 7);
  FER_CHECK (strcmp (t, "#7 neutral 44%") == 0, "label text \"%s\"", t);
  g_free (t);
  t = fer_overlay_label_text (NULL, 2.0, -1);
  FER_CHECK (strcmp (t, "? 100%") == 0, "label text \"%s\"", t);
  g_free (t);
  g_print ("font scale ok\n");
}

int
main (int argc, char **argv)
{
  fer_gst_test_init (&argc, &argv);
  test_font_scale ();
  test_labels_whole_inside (GST_VIDEO_FORMAT_RGBx, 640, 480);
  test_labels_whole_inside (GST_VIDEO_FORMAT_RGBx, 160, 120);
  test_labels_whole_inside (GST_VIDEO_FORMAT_I420, 640, 480);
  test_labels_whole_inside (GST_VIDEO_FORMAT_I420, 160, 120);
  test_contrast ();
  render_all (640, 480, 250);
  render_all (640, 480, 10);
  render_all (160, 120, 250);
  gst_deinit ();
  g_print ("feroverlay labels: ok\n");
  return 0;
}
