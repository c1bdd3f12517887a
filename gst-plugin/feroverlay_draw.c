#include "feroverlay_draw.h"

#include <math.h>
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

/* ---- Layout ------------------------------------------------------------------------------- */

gint
fer_overlay_auto_font_scale (gint frame_height)
{
  return MAX (1, (frame_height + 200) / 400);
}

gchar *
fer_overlay_label_text (const gchar * label, gdouble confidence, gint track_id)
{
  gint pct = (gint) lround (CLAMP (isfinite (confidence) ? confidence : 0.0, 0.0, 1.0) * 100.0);

  if (!label)
    label = "?";
  return track_id >= 0 ? g_strdup_printf ("#%d %s %d%%", track_id, label, pct) :
      g_strdup_printf ("%s %d%%", label, pct);
}

static gboolean
rects_intersect (FerRect a, FerRect b)
{
  return a.w > 0 && a.h > 0 && b.w > 0 && b.h > 0 && a.x < b.x + b.w && b.x < a.x + a.w &&
      a.y < b.y + b.h && b.y < a.y + a.h;
}

static gint
vertical_overlap (gint y, gint h, FerRect r)
{
  return MAX (0, MIN (y + h, r.y + r.h) - MAX (y, r.y));
}

/* Shifts a span of length len to start inside [0, limit) with its end inside where it can. */
static gint
shift_inside (gint start, gint len, gint limit)
{
  if (start + len > limit)
    start = limit - len;
  return MAX (start, 0);
}

/* The strip is the text in its cells, `pad` pixels of the strip colour around it and a dark
 * border of `border` pixels, all scaling with the font. */
static void
label_layout (const gchar * text, gint scale, FerRect box, gint frame_w, gint frame_h,
    FerLabelLayout * l)
{
  gint s = MAX (scale, 1), border, pad, w, h, y;

  for (;; s--) {
    border = s;
    pad = s;
    w = fer_font_text_width (text, s) + 2 * (border + pad);
    h = fer_font_text_height (s) + 2 * (border + pad);
    if (w <= frame_w || s == 1)
      break;
  }
  memset (l, 0, sizeof *l);
  l->scale = s;
  l->text_w = fer_font_text_width (text, s);

  if (box.y - h >= 0 && box.y <= frame_h) {
    y = box.y - h;
  } else if (box.y + box.h >= 0 && box.y + box.h + h <= frame_h) {
    y = box.y + box.h;
    l->below = TRUE;
  } else {
    /* no room outside the box: the frame's top or bottom edge, whichever covers less of it */
    gint bottom = MAX (frame_h - h, 0);
    y = vertical_overlap (bottom, h, box) < vertical_overlap (0, h, box) ? bottom : 0;
    l->overlaps = vertical_overlap (y, h, box) > 0;
  }
  l->strip.x = shift_inside (box.x, w, frame_w);
  l->strip.y = y;
  l->strip.w = MIN (w, frame_w);
  l->strip.h = MIN (h, frame_h);
  l->text_x = l->strip.x + border + pad;
  l->text_y = l->strip.y + border + pad;
  l->complete = l->strip.w == w && l->strip.h == h;
}

/* Bars: a dark panel, one row per class: full rows are a 3-letter name and a bar of
 * 40 * scale pixels at 100 %; compact rows (where full ones find no room) are bars of 3 * scale
 * pixels, 4 * scale apart, without names. */
#define BAR_NAME_CHARS 3
#define BAR_LENGTH 40

static void
bars_size (gint n, gint s, gboolean compact, gint * w, gint * h, gint * row_h)
{
  *row_h = compact ? 4 * s : FER_FONT_H * s;
  *w = 2 * s + (compact ? 0 : BAR_NAME_CHARS * FER_FONT_W * s + s) + BAR_LENGTH * s;
  *h = 2 * s + n * *row_h;
}

/* First place, in the order right of the box, left of it, below the box and its label, above
 * them, that lies inside the frame and covers neither the label nor (with avoid_box) the box. */
static gboolean
place_bars (gint w, gint h, gint gap, FerRect box, FerRect label, gboolean avoid_box,
    gint frame_w, gint frame_h, FerRect * out)
{
  FerRect around = box;         /* the box and its label, for the places above and below */

  if (label.w > 0) {
    gint x0 = MIN (box.x, label.x), y0 = MIN (box.y, label.y);
    gint x1 = MAX (box.x + box.w, label.x + label.w);
    gint y1 = MAX (box.y + box.h, label.y + label.h);
    around = (FerRect) { x0, y0, x1 - x0, y1 - y0 };
  }
  const FerRect candidates[] = {
    {box.x + box.w + gap, shift_inside (box.y, h, frame_h), w, h},
    {box.x - gap - w, shift_inside (box.y, h, frame_h), w, h},
    {shift_inside (box.x, w, frame_w), around.y + around.h + gap, w, h},
    {shift_inside (box.x, w, frame_w), around.y - gap - h, w, h},
    /* over the box: only tried when nothing else is free; the right and left frame edges, at
     * the box's top, then at the frame's bottom */
    {frame_w - w, shift_inside (box.y, h, frame_h), w, h},
    {0, shift_inside (box.y, h, frame_h), w, h},
    {frame_w - w, frame_h - h, w, h},
    {0, frame_h - h, w, h},
  };
  for (gsize i = 0; i < G_N_ELEMENTS (candidates); i++) {
    FerRect c = candidates[i];
    if (c.x >= 0 && c.y >= 0 && c.x + c.w <= frame_w && c.y + c.h <= frame_h &&
        !rects_intersect (c, label) && !(avoid_box && rects_intersect (c, box))) {
      *out = c;
      return TRUE;
    }
  }
  return FALSE;
}

static void
bars_layout (gint n, gint s, FerRect box, const FerLabelLayout * label, gint frame_w,
    gint frame_h, FerFaceLayout * out)
{
  gint w, h, row_h;

  /* off the face at full size, else compact; then over the face; never over the label where
   * the frame has room for both */
  for (gint pass = 0; pass < 4; pass++) {
    gboolean compact = pass & 1, avoid_box = pass < 2;
    bars_size (n, s, compact, &w, &h, &row_h);
    if (place_bars (w, h, s, box, label->strip, avoid_box, frame_w, frame_h, &out->bars)) {
      out->bar_row_h = row_h;
      out->bar_names = !compact;
      return;
    }
  }
  /* a frame too small for both: compact bars at its top-left corner, clipped to the frame */
  bars_size (n, s, TRUE, &w, &h, &row_h);
  out->bars = (FerRect) { 0, 0, MIN (w, frame_w), MIN (h, frame_h) };
  out->bar_row_h = row_h;
  out->bar_names = FALSE;
}

void
fer_face_layout (FerRect face, const gchar * text, gint font_scale, gint n_bars,
    gint frame_w, gint frame_h, FerFaceLayout * out)
{
  gint scale = font_scale > 0 ? font_scale : fer_overlay_auto_font_scale (frame_h);

  memset (out, 0, sizeof *out);
  out->line = CLAMP (MIN (face.w, face.h) / 50, 2, 6);
  out->edge = MAX (1, out->line / 2);
  out->box = (FerRect) { face.x - out->edge, face.y - out->edge, face.w + 2 * out->edge,
    face.h + 2 * out->edge };
  label_layout (text, scale, out->box, frame_w, frame_h, &out->label);
  if (n_bars > 0) {
    out->bar_rows = n_bars;
    bars_layout (n_bars, out->label.scale, out->box, &out->label, frame_w, frame_h, out);
  }
}

void
fer_canvas_draw_face (FerCanvas * c, const FerFaceLayout * l, FerRect face, const gchar * text,
    FerRgb color, const gdouble * probs, const gchar * const *class_names)
{
  const FerRgb dark = FER_OVERLAY_DARK, white = { 255, 255, 255 }, track = { 70, 70, 70 };
  const FerLabelLayout *lab = &l->label;
  gint border = lab->scale;      /* the strip's dark border (label_layout) */

  fer_canvas_set_clip (c, 0, 0, GST_VIDEO_FRAME_WIDTH (c->frame),
      GST_VIDEO_FRAME_HEIGHT (c->frame));
  /* the box: the class colour between two dark edges, so it reads on light and dark walls */
  fer_canvas_outline_rect (c, l->box.x, l->box.y, l->box.w, l->box.h, l->edge, dark);
  fer_canvas_outline_rect (c, face.x, face.y, face.w, face.h, l->line, color);
  if (face.w > 2 * l->line && face.h > 2 * l->line)
    fer_canvas_outline_rect (c, face.x + l->line, face.y + l->line, face.w - 2 * l->line,
        face.h - 2 * l->line, l->edge, dark);

  /* the bars (before the label, which stays on top where a tiny frame makes them meet): dark
   * panel, 3-letter names in white where there is room, a grey track under each bar */
  if (l->bar_rows > 0 && probs && l->bars.w > 0) {
    gint s = l->label.scale, row_h = l->bar_row_h;
    gint bar_x = l->bars.x + s + (l->bar_names ? BAR_NAME_CHARS * FER_FONT_W * s + s : 0);
    gint bar_y = l->bar_names ? 3 * s : 0, bar_h = l->bar_names ? 8 * s : 3 * s;
    fer_canvas_set_clip (c, l->bars.x, l->bars.y, l->bars.w, l->bars.h);
    fer_canvas_fill_rect (c, l->bars.x, l->bars.y, l->bars.w, l->bars.h, dark, 210);
    for (gint k = 0; k < l->bar_rows; k++) {
      gint y = l->bars.y + s + k * row_h;
      gint len = (gint) lround (CLAMP (isfinite (probs[k]) ? probs[k] : 0.0, 0.0, 1.0) *
          BAR_LENGTH * s);
      const gchar *name = class_names && class_names[k] ? class_names[k] : "";
      if (l->bar_names) {
        gchar abbrev[BAR_NAME_CHARS + 1] = { 0 };
        g_strlcpy (abbrev, name, sizeof abbrev);
        fer_canvas_draw_text (c, abbrev, l->bars.x + s, y, s, white);
      }
      /* full rows: the bar spans the glyphs' x-height rows (3..10 of 13) */
      fer_canvas_fill_rect (c, bar_x, y + bar_y, BAR_LENGTH * s, bar_h, track, 255);
      fer_canvas_fill_rect (c, bar_x, y + bar_y, len, bar_h,
          fer_expression_color (name, k), 255);
    }
    fer_canvas_set_clip (c, 0, 0, GST_VIDEO_FRAME_WIDTH (c->frame),
        GST_VIDEO_FRAME_HEIGHT (c->frame));
  }

  /* the label: text in black or white on the class colour, in a dark border */
  if (lab->strip.w > 0 && lab->strip.h > 0) {
    fer_canvas_fill_rect (c, lab->strip.x, lab->strip.y, lab->strip.w, lab->strip.h, dark, 255);
    fer_canvas_fill_rect (c, lab->strip.x + border, lab->strip.y + border,
        lab->strip.w - 2 * border, lab->strip.h - 2 * border, color, 255);
    fer_canvas_set_clip (c, lab->strip.x, lab->strip.y, lab->strip.w, lab->strip.h);
    fer_canvas_draw_text (c, text, lab->text_x, lab->text_y, lab->scale,
        fer_text_color_on (color));
  }

  fer_canvas_set_clip (c, 0, 0, GST_VIDEO_FRAME_WIDTH (c->frame),
      GST_VIDEO_FRAME_HEIGHT (c->frame));
}

/* ---- Colours ------------------------------------------------------------------------------ */

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
