/* Cascade loading: every Debian cascade in the new format loads; malformed files fail with a
 * FER_ERR_* status and a one-line message naming the file and the problem. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cascade_internal.h"

#include "../../common/fer_check.h"

/* A tiny valid Haar cascade: one stage, one stump on "right half minus left half". */
static const char *minimal =
    "<?xml version=\"1.0\"?>\n<opencv_storage>\n"
    "<cascade type_id=\"opencv-cascade-classifier\">\n"
    "  <stageType>BOOST</stageType>\n  <featureType>HAAR</featureType>\n"
    "  <height>6</height>\n  <width>6</width>\n"
    "  <featureParams><maxCatCount>0</maxCatCount></featureParams>\n"
    "  <stageNum>1</stageNum>\n  <stages>\n    <_>\n"
    "      <maxWeakCount>1</maxWeakCount>\n      <stageThreshold>0.5</stageThreshold>\n"
    "      <weakClassifiers>\n        <_>\n"
    "          <internalNodes>0 -1 0 0.1</internalNodes>\n"
    "          <leafValues>0. 1.</leafValues></_></weakClassifiers></_></stages>\n"
    "  <features>\n    <_>\n      <rects>\n        <_>0 0 3 6 -1.</_>\n"
    "        <_>3 0 3 6 1.</_></rects></_></features></cascade>\n</opencv_storage>\n";

static gchar *tmpdir;

static gchar *
write_file (const char *name, const char *data, gssize len)
{
  gchar *path = g_build_filename (tmpdir, name, NULL);
  GError *err = NULL;
  CHECK (g_file_set_contents (path, data, len, &err), "write %s: %s", path,
      err ? err->message : "?");
  return path;
}

/* minimal with the first occurrence of from replaced by to */
static gchar *
variant (const char *from, const char *to)
{
  const char *at = strstr (minimal, from);
  CHECK (at != NULL, "fixture has no \"%s\"", from);
  return g_strdup_printf ("%.*s%s%s", (int) (at - minimal), minimal, to, at + strlen (from));
}

static void
expect_error (const char *name, const char *data, gssize len, fer_status want,
    const char *needle)
{
  gchar *path = write_file (name, data, len);
  fer_cascade *c = (fer_cascade *) 0x1;
  fer_status st = fer_cascade_load (path, &c);
  const char *msg = fer_last_error ();

  CHECK (st == want, "%s: status %d, want %d (%s)", name, st, want, msg);
  CHECK (c == NULL, "%s: *out must be NULL on failure", name);
  CHECK (g_str_has_prefix (msg, path), "%s: message does not start with the path: %s", name,
      msg);
  CHECK (strstr (msg, needle) != NULL, "%s: message lacks \"%s\": %s", name, needle, msg);
  CHECK (strchr (msg, '\n') == NULL, "%s: message is not one line: %s", name, msg);
  g_print ("ok  %-22s %s\n", name, msg + strlen (path));
  g_free (path);
}

static void
expect_variant_error (const char *name, const char *from, const char *to, const char *needle)
{
  gchar *data = variant (from, to);
  expect_error (name, data, -1, FER_ERR_FORMAT, needle);
  g_free (data);
}

static void
test_errors (void)
{
  gchar *missing = g_build_filename (tmpdir, "missing.xml", NULL);
  fer_cascade *c = NULL;
  CHECK (fer_cascade_load (missing, &c) == FER_ERR_IO, "missing file must be FER_ERR_IO");
  CHECK (strstr (fer_last_error (), missing) && strstr (fer_last_error (), "cannot open"),
      "missing file message: %s", fer_last_error ());
  g_free (missing);
  CHECK (fer_cascade_load ("", &c) == FER_ERR_ARG, "empty name");

  expect_error ("empty.xml", "", 0, FER_ERR_FORMAT, "empty");
  expect_error ("binary.xml", "\x01\x02\xff\xfe garbage", -1, FER_ERR_FORMAT, "");
  expect_error ("html.xml", "<html><body>hi</body></html>", -1, FER_ERR_FORMAT,
      "expected <opencv_storage>");
  gchar *half = g_strndup (minimal, strlen (minimal) / 2);
  expect_error ("truncated.xml", half, -1, FER_ERR_FORMAT, "");
  g_free (half);
  expect_error ("no_cascade.xml", "<opencv_storage></opencv_storage>", -1, FER_ERR_FORMAT,
      "no cascade");

  expect_variant_error ("old_format.xml", "opencv-cascade-classifier",
      "opencv-haar-classifier", "old-style");
  expect_variant_error ("hog.xml", "<featureType>HAAR", "<featureType>HOG",
      "unsupported featureType");
  expect_variant_error ("stage_type.xml", "<stageType>BOOST", "<stageType>TREE",
      "unsupported stageType");
  expect_variant_error ("bad_width.xml", "<width>6", "<width>six", "integer");
  expect_variant_error ("zero_width.xml", "<width>6", "<width>0", "window size");
  expect_variant_error ("bad_number.xml", "0 -1 0 0.1", "0 -1 0 abc", "bad number \"abc\"");
  expect_variant_error ("feature_idx.xml", "0 -1 0 0.1", "0 -1 5 0.1", "feature 5");
  expect_variant_error ("huge_idx.xml", "0 -1 0 0.1", "0 -1 1e30 0.1", "bad number \"1e30\"");
  expect_variant_error ("frac_idx.xml", "0 -1 0 0.1", "0 -1 0.5 0.1", "must be integers");
  expect_variant_error ("frac_rect.xml", "3 0 3 6 1.", "3 0 2.5 6 1.", "must be integers");
  expect_variant_error ("big_rect.xml", "3 0 3 6 1.", "2147483647 0 1 6 1.", "must be integers");
  expect_variant_error ("bad_child.xml", "0 -1 0 0.1", "0 3 0 0.1", "invalid child 3");
  expect_variant_error ("node_count.xml", "0 -1 0 0.1", "0 -1 0 0.1 7", "multiple of 4");
  expect_variant_error ("leaves.xml", "<leafValues>0. 1.", "<leafValues>0.", "leafValues");
  expect_variant_error ("rect_out.xml", "3 0 3 6 1.", "3 0 4 6 1.", "outside");
  expect_variant_error ("rect_short.xml", "3 0 3 6 1.", "3 0 3 6", "needs 5 numbers");
  expect_variant_error ("no_threshold.xml", "<stageThreshold>0.5</stageThreshold>", "",
      "no <stageThreshold>");
  expect_variant_error ("lbp_no_cat.xml", "<featureType>HAAR", "<featureType>LBP",
      "maxCatCount");
  gchar *renamed = variant ("<features>", "<unused>");
  gchar *closed = g_strdup (renamed);
  char *end = strstr (closed, "</features>");
  CHECK (end != NULL, "fixture");
  memcpy (end, "</unused>  ", 11); /* same length: </features> */
  expect_error ("no_features.xml", closed, -1, FER_ERR_FORMAT, "no <features>");
  g_free (renamed);
  g_free (closed);

  /* The Debian file in the old format is refused with the same clear message. */
  const char *old = "/usr/share/opencv4/haarcascades/haarcascade_licence_plate_rus_16stages.xml";
  if (g_file_test (old, G_FILE_TEST_EXISTS)) {
    CHECK (fer_cascade_load (old, &c) == FER_ERR_FORMAT, "old-format Debian file must fail");
    CHECK (strstr (fer_last_error (), "old-style"), "message: %s", fer_last_error ());
  }
}

/* minimal with the text at `at` repeated n times */
static gchar *
repeated (const char *at, const char *unit, int n)
{
  const char *pos = strstr (minimal, at);
  CHECK (pos != NULL, "fixture has no \"%s\"", at);
  GString *s = g_string_new_len (minimal, pos - minimal);
  for (int i = 0; i < n; i++)
    g_string_append (s, unit);
  g_string_append (s, pos);
  return g_string_free (s, FALSE);
}

/* Files that are not cascades at all are refused at once: never read forever, never block. */
static void
test_not_regular_files (void)
{
  gchar *fifo = g_build_filename (tmpdir, "fifo.xml", NULL);
  gchar *big = g_build_filename (tmpdir, "big.xml", NULL);
  fer_cascade *c = NULL;

  alarm (60);                   /* a FIFO that blocks fails the test instead of hanging it */
  CHECK (mkfifo (fifo, 0600) == 0, "mkfifo %s", fifo);
  CHECK (fer_cascade_load (fifo, &c) == FER_ERR_IO && c == NULL, "FIFO must be refused");
  CHECK (g_str_has_prefix (fer_last_error (), fifo) &&
      strstr (fer_last_error (), "not a regular file (a FIFO)"), "FIFO: %s", fer_last_error ());
  g_print ("ok  %s\n", fer_last_error ());
  CHECK (fer_cascade_load ("/dev/zero", &c) == FER_ERR_IO && c == NULL, "/dev/zero refused");
  CHECK (strstr (fer_last_error (), "/dev/zero: not a regular file (a character device)"),
      "/dev/zero: %s", fer_last_error ());
  g_print ("ok  %s\n", fer_last_error ());
  CHECK (fer_cascade_load (tmpdir, &c) == FER_ERR_IO && c == NULL, "folder refused");
  CHECK (g_str_has_prefix (fer_last_error (), tmpdir) &&
      strstr (fer_last_error (), "a folder"), "folder: %s", fer_last_error ());
  g_print ("ok  folder: %s\n", fer_last_error () + strlen (tmpdir));

  /* A sparse file one byte over the cap (no disk space used). */
  FILE *f = fopen (big, "wb");
  CHECK (f && ftruncate (fileno (f), FER_CASCADE_MAX_BYTES + 1) == 0, "sparse %s", big);
  fclose (f);
  CHECK (fer_cascade_load (big, &c) == FER_ERR_FORMAT && c == NULL, "oversized file refused");
  CHECK (g_str_has_prefix (fer_last_error (), big) &&
      strstr (fer_last_error (), "too large for a cascade (at most 16 MiB)"), "big: %s",
      fer_last_error ());
  g_print ("ok  big.xml %s\n", fer_last_error () + strlen (big));
  alarm (0);
  g_unlink (fifo);
  g_unlink (big);
  g_free (fifo);
  g_free (big);
}

/* Declared counts past the caps are refused while parsing (before anything is built). */
static void
test_count_caps (void)
{
  gchar *data;

  data = repeated ("    <_>\n      <maxWeakCount>", "<_></_>", FER_CASCADE_MAX_STAGES);
  expect_error ("many_stages.xml", data, -1, FER_ERR_FORMAT, "more than 1000 stages");
  g_free (data);
  data = repeated ("        <_>\n          <internalNodes>", "<_></_>", FER_CASCADE_MAX_TREES);
  expect_error ("many_trees.xml", data, -1, FER_ERR_FORMAT, "more than 100000 weak classifiers");
  g_free (data);
  data = repeated ("    <_>\n      <rects>", "<_></_>", FER_CASCADE_MAX_FEATURES);
  expect_error ("many_features.xml", data, -1, FER_ERR_FORMAT, "more than 100000 features");
  g_free (data);
  data = repeated ("        <_>3 0 3 6 1.</_>", "<_>0 0 1 1 1.</_>", 2);
  expect_error ("many_rects.xml", data, -1, FER_ERR_FORMAT, "more than 3 rectangles");
  g_free (data);
  data = repeated ("0 -1 0 0.1", "1 2 0 0.1 ", FER_CASCADE_MAX_TREE_NODES);
  expect_error ("deep_tree.xml", data, -1, FER_ERR_FORMAT, "has 65 nodes (at most 64)");
  g_free (data);
  data = repeated ("0 -1 0 0.1", "0 ", 64 * 11);
  expect_error ("long_nodes.xml", data, -1, FER_ERR_FORMAT,
      "<internalNodes> has more than 704 numbers");
  g_free (data);
  data = repeated ("0. 1.</leafValues>", "0 ", FER_CASCADE_MAX_TREE_NODES);
  expect_error ("many_leaves.xml", data, -1, FER_ERR_FORMAT, "more than 65 <leafValues>");
  g_free (data);

  /* Within every per-tree cap, but 7000 trees of 64 nodes exceed the total. */
  GString *big = g_string_new_len (minimal, strstr (minimal, "        <_>\n") - minimal);
  GString *tree = g_string_new ("<_><internalNodes>");
  for (int k = 0; k < FER_CASCADE_MAX_TREE_NODES; k++)
    g_string_append (tree, k + 1 < FER_CASCADE_MAX_TREE_NODES ? "0 -1 0 0 " : "0 -1 0 0");
  g_string_append (tree, "</internalNodes><leafValues>");
  for (int k = 0; k <= FER_CASCADE_MAX_TREE_NODES; k++)
    g_string_append (tree, "0 ");
  g_string_append (tree, "</leafValues></_>");
  for (int t = 0; t < FER_CASCADE_MAX_TOTAL_NODES / FER_CASCADE_MAX_TREE_NODES + 1; t++)
    g_string_append_len (big, tree->str, (gssize) tree->len);
  g_string_append (big, strstr (minimal, "        <_>\n"));
  expect_error ("many_nodes.xml", big->str, (gssize) big->len, FER_ERR_FORMAT,
      "tree nodes in all (at most 400000)");
  g_string_free (tree, TRUE);
  g_string_free (big, TRUE);
}

static void
test_minimal (void)
{
  gchar *path = write_file ("minimal.xml", minimal, -1);
  fer_cascade *c = NULL;
  int w, h;
  CHECK (fer_cascade_load (path, &c) == FER_OK, "minimal: %s", fer_last_error ());
  fer_cascade_window (c, &w, &h);
  CHECK (w == 6 && h == 6, "window %dx%d", w, h);
  CHECK (fer_cascade_feature_type (c) == FER_CASCADE_HAAR, "type");
  CHECK (fer_cascade_n_stages (c) == 1 && c->all_stumps && c->haar_stumps, "stumps");
  CHECK (c->stages[0].threshold < 0.5f && c->stages[0].threshold > 0.49998f,
      "threshold with OpenCV's 1e-5 guard: %.7f", c->stages[0].threshold);
  CHECK (c->haar[0].n_rects == 2 && c->haar[0].r[1].weight == 1.0f, "rects");
  fer_cascade_free (c);
  g_free (path);
}

/* Every new-format cascade shipped by opencv-data loads; a few are checked in detail. */
static int
test_debian (void)
{
  const char *dirs[] = { "/usr/share/opencv4/haarcascades", "/usr/share/opencv4/lbpcascades" };
  int loaded = 0;

  for (gsize d = 0; d < G_N_ELEMENTS (dirs); d++) {
    GDir *dir = g_dir_open (dirs[d], 0, NULL);
    const char *name;
    if (!dir)
      continue;
    while ((name = g_dir_read_name (dir))) {
      gchar *path = g_build_filename (dirs[d], name, NULL);
      gchar *text = NULL;
      fer_cascade *c = NULL;
      g_file_get_contents (path, &text, NULL, NULL);
      gboolean old = text && strstr (text, "opencv-haar-classifier");
      fer_status st = fer_cascade_load (path, &c);
      if (old) {
        CHECK (st == FER_ERR_FORMAT, "%s: old format must be refused", name);
      } else {
        CHECK (st == FER_OK, "%s: %s", name, fer_last_error ());
        loaded++;
      }
      if (c && strcmp (name, "haarcascade_frontalface_alt.xml") == 0) {
        int w, h;
        fer_cascade_window (c, &w, &h);
        CHECK (w == 20 && h == 20 && fer_cascade_n_stages (c) == 22 && c->all_stumps,
            "%s: %dx%d, %d stages", name, w, h, fer_cascade_n_stages (c));
      }
      if (c && strcmp (name, "lbpcascade_frontalface.xml") == 0) {
        int w, h;
        fer_cascade_window (c, &w, &h);
        CHECK (w == 24 && h == 24 && fer_cascade_n_stages (c) == 20 && c->lbp_stumps &&
            fer_cascade_feature_type (c) == FER_CASCADE_LBP, "%s", name);
      }
      if (c && strcmp (name, "haarcascade_eye_tree_eyeglasses.xml") == 0)
        CHECK (fer_cascade_has_tilted (c) && !c->all_stumps, "%s: tilted trees", name);
      if (c && strcmp (name, "haarcascade_frontalface_alt2.xml") == 0)
        CHECK (!c->all_stumps && c->n_nodes == 2 * c->n_trees, "%s: two-node trees", name);
      fer_cascade_free (c);
      g_free (text);
      g_free (path);
    }
    g_dir_close (dir);
  }
  g_print ("loaded %d Debian cascades\n", loaded);
  return loaded;
}

/* Corrupted copies of real cascades (digits changed, characters dropped): each either loads
 * or fails with FER_ERR_FORMAT, and a loaded one detects without reading out of bounds
 * (ASan checks that). Deterministic (fixed seed). */
static void
test_mutations (void)
{
  const char *files[] = {
    "/usr/share/opencv4/lbpcascades/lbpcascade_frontalface.xml",
    "/usr/share/opencv4/haarcascades/haarcascade_eye_tree_eyeglasses.xml",
  };
  GRand *rnd = g_rand_new_with_seed (2024);
  guint8 img[64 * 48];
  int loaded = 0, refused = 0;

  for (int i = 0; i < 64 * 48; i++)
    img[i] = (guint8) g_rand_int_range (rnd, 0, 256);
  for (gsize f = 0; f < G_N_ELEMENTS (files); f++) {
    gchar *text = NULL;
    gsize len = 0;
    if (!g_file_get_contents (files[f], &text, &len, NULL))
      continue;
    /* Mutate the cascade body, not the licence comment. */
    const char *body = strstr (text, "<stages>");
    gsize from = body ? (gsize) (body - text) : 0;
    for (int m = 0; m < 150; m++) {
      gchar *copy = g_memdup2 (text, len);
      gsize n = len;
      for (int k = 0; k < 3; k++) {
        gsize at = from + (gsize) g_rand_int_range (rnd, 0, (gint32) (n - from));
        if (g_rand_boolean (rnd) && g_ascii_isdigit (copy[at]))
          copy[at] = "0123456789-9"[g_rand_int_range (rnd, 0, 12)];
        else if (g_rand_int_range (rnd, 0, 4) == 0) {
          memmove (copy + at, copy + at + 1, n - at - 1);
          n--;
        }
      }
      gchar *path = write_file ("mutated.xml", copy, (gssize) n);
      fer_cascade *c = NULL;
      fer_status st = fer_cascade_load (path, &c);
      CHECK (st == FER_OK || st == FER_ERR_FORMAT, "mutation %d of %s: status %d (%s)", m,
          files[f], st, fer_last_error ());
      if (st == FER_OK) {
        fer_cascade_params p;
        fer_cascade_boxes out = { 0 };
        fer_cascade_params_default (&p);
        p.min_size = 0;
        CHECK (fer_cascade_detect (c, img, 64, 48, 64, &p, &out) == FER_OK, "detect");
        p.exhaustive = 1;
        CHECK (fer_cascade_detect (c, img, 64, 48, 64, &p, &out) == FER_OK, "detect");
        fer_cascade_boxes_clear (&out);
        fer_cascade_free (c);
        loaded++;
      } else {
        refused++;
      }
      g_free (path);
      g_free (copy);
    }
    g_free (text);
  }
  g_rand_free (rnd);
  g_print ("ok  mutated cascades: %d loaded and ran, %d refused cleanly\n", loaded, refused);
}

int
main (void)
{
  GError *err = NULL;
  tmpdir = g_dir_make_tmp ("fer-cascade-XXXXXX", &err);
  CHECK (tmpdir, "tmpdir: %s", err ? err->message : "?");
  test_errors ();
  test_not_regular_files ();
  test_count_caps ();
  test_minimal ();
  if (test_debian () == 0)
    g_print ("note: opencv-data is not installed; only the fixtures were checked\n");
  else
    test_mutations ();

  GDir *d = g_dir_open (tmpdir, 0, NULL);
  const char *name;
  while ((name = g_dir_read_name (d))) {
    gchar *p = g_build_filename (tmpdir, name, NULL);
    g_unlink (p);
    g_free (p);
  }
  g_dir_close (d);
  g_rmdir (tmpdir);
  g_free (tmpdir);
  return 0;
}
