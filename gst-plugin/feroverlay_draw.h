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

/* Colour of an expression class by name (unknown names: a palette colour by index). */
FerRgb fer_expression_color (const gchar * label, gint index);
/* Black or white, whichever reads better on bg. */
FerRgb fer_text_color_on (FerRgb bg);

G_END_DECLS

#endif
