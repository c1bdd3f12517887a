/* Drawing on a mapped raw video frame of any FER_VIDEO_FORMATS format: filled rectangles
 * (optionally blended), outlines and text in the built-in bitmap font (fer/font.h), all clipped
 * to a rectangle. Nothing outside the clip rectangle is modified, including subsampled chroma:
 * a chroma sample is only written when its whole pixel block lies inside the clip. Text
 * strokes set luma only where chroma is subsampled (the background's colour stays around
 * them). */
#ifndef FER_OVERLAY_DRAW_H
#define FER_OVERLAY_DRAW_H

#include <gst/video/video.h>

G_BEGIN_DECLS

typedef struct FerRgb {
  guint8 r, g, b;
} FerRgb;

typedef struct FerCanvas {
  GstVideoFrame *frame;
  gint clip_x0, clip_y0, clip_x1, clip_y1;   /* x1, y1 exclusive */
  gdouble kr, kb;                            /* luma weights of the frame's YUV matrix */
  gboolean full_range;
} FerCanvas;

void fer_canvas_init (FerCanvas * c, GstVideoFrame * frame);
/* Clip to the rectangle intersected with the frame. */
void fer_canvas_set_clip (FerCanvas * c, gint x, gint y, gint w, gint h);
/* alpha: 255 = opaque. */
void fer_canvas_fill_rect (FerCanvas * c, gint x, gint y, gint w, gint h, FerRgb color,
    guint alpha);
/* Outline of thickness t drawn inside the rectangle. */
void fer_canvas_outline_rect (FerCanvas * c, gint x, gint y, gint w, gint h, gint t,
    FerRgb color);
void fer_canvas_draw_text (FerCanvas * c, const gchar * text, gint x, gint y, gint scale,
    FerRgb color);

/* ---- Layout of one face's drawing (pure arithmetic, shared with the tests) ---------------- */

typedef struct FerRect {
  gint x, y, w, h;
} FerRect;

/* Font scale for font-scale=0 (auto): 1 up to 599 rows, 2 from 600 (720p), 3 from 1000
 * (1080p), ... one step per 400 rows, so the text keeps about 2-3 % of the frame height. */
gint fer_overlay_auto_font_scale (gint frame_height);

/* "label 44%", or "#7 label 44%" when track_id >= 0. Free with g_free. */
gchar *fer_overlay_label_text (const gchar * label, gdouble confidence, gint track_id);

typedef struct FerLabelLayout {
  FerRect strip;        /* the label's backing strip, dark border included */
  gint text_x, text_y;  /* top-left of the text's first glyph cell */
  gint text_w;          /* width of the whole text at `scale` */
  gint scale;           /* font scale used: the one asked for, or less where the frame is
                         * narrower than the strip */
  gboolean below;       /* under the box: no room above it */
  gboolean overlaps;    /* over the box: room neither above nor below it */
  gboolean complete;    /* strip and every glyph cell inside the frame (FALSE only for frames
                         * narrower or lower than the text at scale 1) */
} FerLabelLayout;

typedef struct FerFaceLayout {
  gint line;            /* thickness of the box's line in the class colour */
  gint edge;            /* thickness of the dark edges on both sides of that line */
  FerRect box;          /* everything the box draws: the face box grown by `edge` */
  FerLabelLayout label;
  FerRect bars;         /* probability bars (w = 0: none): beside the box where there is room,
                         * else below or above it and its label, else compact (thin rows
                         * without names) there, else over the box but off the label */
  gint bar_rows;        /* classes shown in the bars */
  gint bar_row_h;       /* pixels per row */
  gboolean bar_names;   /* rows with 3-letter class names (FALSE: compact rows) */
} FerFaceLayout;

/* Places the drawing of a face box in a frame_w x frame_h frame. The label goes above the box
 * (outside it, so it never covers the eyebrows), or below it when there is no room above,
 * shifted sideways to stay inside the frame; only when neither fits does it go over the box,
 * at the frame's top. font_scale <= 0 means auto. n_bars <= 0: no probability bars. */
void fer_face_layout (FerRect face, const gchar * text, gint font_scale, gint n_bars,
    gint frame_w, gint frame_h, FerFaceLayout * out);

/* Draws one face as laid out by fer_face_layout with the same text: box, label and, when the
 * layout has bars, probs[bar_rows] with class_names[bar_rows] (may be NULL). */
void fer_canvas_draw_face (FerCanvas * c, const FerFaceLayout * layout, FerRect face,
    const gchar * text, FerRgb color, const gdouble * probs, const gchar * const *class_names);

/* ---- Colours ------------------------------------------------------------------------------ */

/* The dark colour of the outlines and edges that make any class colour read on a light
 * background (the light colour itself reads on a dark one). */
#define FER_OVERLAY_DARK ((FerRgb) { 16, 16, 16 })

/* Colour of an expression class by name (unknown names: a palette colour by index). */
FerRgb fer_expression_color (const gchar * label, gint index);
/* Black or white, whichever reads better on bg. */
FerRgb fer_text_color_on (FerRgb bg);

G_END_DECLS

#endif
