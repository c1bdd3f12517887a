#include "feroverlay_draw.h"

#include <string.h>

#include "fer/font.h"

void
fer_canvas_init (FerCanvas * c, GstVideoFrame * frame)
{
  const GstVideoColorimetry *cm = &frame->info.colorimetry;

  memset (c, 0, sizeof *c);
  c->frame = frame;
  c->clip_x1 = GST_VIDEO_FRAME_WIDTH (frame);
  c->clip_y1 = GST_VIDEO_FRAME_HEIGHT (frame);
  if (!gst_video_color_matrix_get_Kr_Kb (cm->matrix, &c->kr, &c->kb)) {
    c->kr = 0.299;              /* BT.601 when the caps do not say */
    c->kb = 0.114;
  }
  c->full_range = cm->range == GST_VIDEO_COLOR_RANGE_0_255;
}

void
fer_canvas_set_clip (FerCanvas * c, gint x, gint y, gint w, gint h)
{
  c->clip_x0 = CLAMP (x, 0, GST_VIDEO_FRAME_WIDTH (c->frame));
  c->clip_y0 = CLAMP (y, 0, GST_VIDEO_FRAME_HEIGHT (c->frame));
  c->clip_x1 = CLAMP (x + w, c->clip_x0, GST_VIDEO_FRAME_WIDTH (c->frame));
  c->clip_y1 = CLAMP (y + h, c->clip_y0, GST_VIDEO_FRAME_HEIGHT (c->frame));
}

static guint8
clamp_u8 (gdouble v)
{
  return (guint8) CLAMP ((gint) (v + 0.5), 0, 255);
}

/* The colour as the value of each colour component (0..2) of the frame's format. */
static void
component_values (const FerCanvas * c, FerRgb rgb, guint8 out[3])
{
  const GstVideoInfo *info = &c->frame->info;

  if (GST_VIDEO_INFO_IS_RGB (info)) {
    out[0] = rgb.r;
    out[1] = rgb.g;
    out[2] = rgb.b;
    return;
  }
  gdouble y = c->kr * rgb.r + (1.0 - c->kr - c->kb) * rgb.g + c->kb * rgb.b;
  gdouble pb = (rgb.b - y) / (2.0 * (1.0 - c->kb));
  gdouble pr = (rgb.r - y) / (2.0 * (1.0 - c->kr));
  if (GST_VIDEO_INFO_IS_GRAY (info) || c->full_range) {
    out[0] = clamp_u8 (y);
    out[1] = clamp_u8 (128.0 + pb);
    out[2] = clamp_u8 (128.0 + pr);
  } else {
    out[0] = clamp_u8 (16.0 + y * 219.0 / 255.0);
    out[1] = clamp_u8 (128.0 + pb * 224.0 / 255.0);
    out[2] = clamp_u8 (128.0 + pr * 224.0 / 255.0);
  }
}

static inline guint8
blend (guint8 src, guint8 dst, guint alpha)
{
  return (guint8) ((src * alpha + dst * (255u - alpha) + 127u) / 255u);
}

/* Subsampled chroma: with partial_blocks, every chroma sample whose pixel block touches the
 * rectangle is written (solid colour for thin lines at odd positions); without, only those
 * whose block lies inside it (text keeps the background's chroma around its strokes). Either
 * way only blocks wholly inside the clip rectangle are written. */
static void
fill_rect (FerCanvas * c, gint x, gint y, gint w, gint h, FerRgb color, guint alpha,
    gboolean partial_blocks)
{
  const GstVideoFormatInfo *finfo = c->frame->info.finfo;
  gint x0 = MAX (x, c->clip_x0), y0 = MAX (y, c->clip_y0);
  gint x1 = MIN (x + w, c->clip_x1), y1 = MIN (y + h, c->clip_y1);
  gint n_comp = MIN ((gint) GST_VIDEO_FORMAT_INFO_N_COMPONENTS (finfo), 3);
  guint8 value[3];

  if (x1 <= x0 || y1 <= y0)
    return;
  alpha = MIN (alpha, 255u);
  component_values (c, color, value);

  for (gint comp = 0; comp < n_comp; comp++) {
    guint8 *data = GST_VIDEO_FRAME_COMP_DATA (c->frame, comp);
    gint stride = GST_VIDEO_FRAME_COMP_STRIDE (c->frame, comp);
    gint pstride = GST_VIDEO_FRAME_COMP_PSTRIDE (c->frame, comp);
    gint ws = GST_VIDEO_FORMAT_INFO_W_SUB (finfo, comp);
    gint hs = GST_VIDEO_FORMAT_INFO_H_SUB (finfo, comp);
    /* blocks wholly inside the clip */
    gint cx0 = (c->clip_x0 + (1 << ws) - 1) >> ws, cx1 = c->clip_x1 >> ws;
    gint cy0 = (c->clip_y0 + (1 << hs) - 1) >> hs, cy1 = c->clip_y1 >> hs;
    gint sx0, sx1, sy0, sy1;
    if (partial_blocks) {       /* blocks touching [x0,x1) x [y0,y1) */
      sx0 = x0 >> ws;
      sx1 = ((x1 - 1) >> ws) + 1;
      sy0 = y0 >> hs;
      sy1 = ((y1 - 1) >> hs) + 1;
    } else {                    /* blocks inside it */
      sx0 = (x0 + (1 << ws) - 1) >> ws;
      sx1 = x1 >> ws;
      sy0 = (y0 + (1 << hs) - 1) >> hs;
      sy1 = y1 >> hs;
    }
    sx0 = MAX (sx0, cx0);
    sx1 = MIN (sx1, cx1);
    sy0 = MAX (sy0, cy0);
    sy1 = MIN (sy1, cy1);

    for (gint sy = sy0; sy < sy1; sy++) {
      guint8 *p = data + (gsize) sy * stride + (gsize) sx0 * pstride;
      for (gint sx = sx0; sx < sx1; sx++, p += pstride)
        *p = alpha == 255u ? value[comp] : blend (value[comp], *p, alpha);
    }
  }
}

void
fer_canvas_fill_rect (FerCanvas * c, gint x, gint y, gint w, gint h, FerRgb color, guint alpha)
{
  fill_rect (c, x, y, w, h, color, alpha, TRUE);
}

void
fer_canvas_outline_rect (FerCanvas * c, gint x, gint y, gint w, gint h, gint t, FerRgb color)
{
  t = MAX (1, MIN (t, MIN (w, h) / 2));
  fer_canvas_fill_rect (c, x, y, w, t, color, 255);
  fer_canvas_fill_rect (c, x, y + h - t, w, t, color, 255);
  fer_canvas_fill_rect (c, x, y + t, t, h - 2 * t, color, 255);
  fer_canvas_fill_rect (c, x + w - t, y + t, t, h - 2 * t, color, 255);
}

typedef struct TextCtx {
  FerCanvas *canvas;
  FerRgb color;
} TextCtx;

static void
plot_text_pixel (void *ctx, int x, int y)
{
  TextCtx *t = ctx;
  fill_rect (t->canvas, x, y, 1, 1, t->color, 255, FALSE);
}

void
fer_canvas_draw_text (FerCanvas * c, const gchar * text, gint x, gint y, gint scale,
    FerRgb color)
{
  TextCtx ctx = { c, color };
  fer_font_draw (text, x, y, scale, plot_text_pixel, &ctx);
}

FerRgb
fer_expression_color (const gchar * label, gint index)
{
  static const struct {
    const gchar *name;
    FerRgb rgb;
  } named[] = {
    {"angry", {220, 40, 40}},
    {"disgust", {110, 170, 40}},
    {"fear", {150, 70, 210}},
    {"happy", {255, 205, 0}},
    {"sad", {40, 110, 235}},
    {"surprise", {255, 135, 0}},
    {"neutral", {205, 205, 205}},
    {"uncertain", {128, 128, 128}},
  };
  static const FerRgb palette[] = {
    {0, 190, 190}, {230, 60, 160}, {140, 90, 40}, {90, 200, 120}, {250, 120, 120},
    {120, 120, 250}, {190, 190, 60}, {60, 60, 160},
  };

  for (gsize i = 0; label && i < G_N_ELEMENTS (named); i++)
    if (g_ascii_strcasecmp (label, named[i].name) == 0)
      return named[i].rgb;
  return palette[(guint) MAX (index, 0) % G_N_ELEMENTS (palette)];
}

FerRgb
fer_text_color_on (FerRgb bg)
{
  guint luma = (299u * bg.r + 587u * bg.g + 114u * bg.b) / 1000u;
  FerRgb black = { 0, 0, 0 }, white = { 255, 255, 255 };
  return luma > 140 ? black : white;
}
