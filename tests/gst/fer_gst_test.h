/* Shared helpers of the GStreamer tests (tests/gst/detect, tests/gst/classify).
 *
 * The elements are linked into each test and registered statically (fer_gst_test_init), so a
 * test never depends on a registry scan of the build dir; system plugins (videotestsrc,
 * facedetect, ...) still come from the normal registry, kept private to the build dir by the
 * meson test environment. */
#ifndef FER_GST_TEST_H
#define FER_GST_TEST_H

#include <gst/gst.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

#define FER_TEST_SKIP 77

/* gst_init + registers ferfacedetect (when built), ferclassify and feroverlay. */
void fer_gst_test_init (int *argc, char ***argv);
/* TRUE when a system element (e.g. "facedetect") can be made. */
gboolean fer_gst_test_have_element (const gchar * factory);

/* A fresh temp dir; fer_gst_test_rmdir removes it and its files. */
gchar *fer_gst_test_tmpdir (void);
void fer_gst_test_rmdir (const gchar * dir);

/* Writes a freshly initialised "tiny" checkpoint to dir/name and returns its path.
 * With fixed_logits (7 values), the head's weights are zeroed and its bias set to them, so the
 * model outputs softmax(fixed_logits) for every face (exact expectations in tests). */
gchar *fer_gst_test_tiny_model (const gchar * dir, const gchar * name,
    const gfloat * fixed_logits);

/* A video frame of format/size filled with a smooth pattern (luma varies with x, y). */
GstBuffer *fer_gst_test_frame (GstVideoFormat format, gint width, gint height, guint seed);
gchar *fer_gst_test_caps_string (GstVideoFormat format, gint width, gint height);
/* Adds a "face" ROI meta. */
GstVideoRegionOfInterestMeta *fer_gst_test_add_face (GstBuffer * buf, gint x, gint y, gint w,
    gint h);

/* Plays pipeline to EOS (or error, or timeout_s seconds) and sets it back to NULL.
 * Returns NULL on EOS, else a newly allocated error text. */
gchar *fer_gst_test_run_pipeline (GstElement * pipeline, guint timeout_s);

/* First existing file among $FER_SAMPLES_DIR/NAME, data/samples/NAME in the source tree and
 * the fallbacks
 * (NULL-terminated absolute paths); NULL when none exists. */
gchar *fer_gst_test_find_sample (const gchar * name, ...) G_GNUC_NULL_TERMINATED;

/* Counts buf as alive until it is finalized (weak ref): a test pushes tracked frames and
 * checks fer_gst_test_alive_buffers() == 0 after dropping its own references. */
GstBuffer *fer_gst_test_track (GstBuffer * buf);
gint fer_gst_test_alive_buffers (void);

/* The "probabilities" of the roi's "fer/expression" param into probs (n values); FALSE when
 * the param, the field or n values are missing. */
gboolean fer_gst_test_expression_probs (GstVideoRegionOfInterestMeta * roi, gdouble * probs,
    guint n);
/* max_i |a[i] - b[i]| */
gdouble fer_gst_test_max_abs_diff (const gdouble * a, const gdouble * b, guint n);

/* Source dir of the project (FER_SOURCE_DIR) joined with a relative path. */
gchar *fer_gst_test_source_path (const gchar * relative);

/* Failing check with a message: prints "FAIL file:line: message" and exits 1. */
#define FER_CHECK(cond, ...) \
  do { \
    if (!(cond)) { \
      g_printerr ("FAIL %s:%d: ", __FILE__, __LINE__); \
      g_printerr (__VA_ARGS__); \
      g_printerr ("\n"); \
      exit (1); \
    } \
  } while (0)

G_END_DECLS

#endif
