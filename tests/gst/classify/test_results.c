/* ferclassify_results.c: JSON Lines formatting (parsed back with cJSON) and the writer thread
 * (temp file renamed into place at finish, errors reported, many lines in order). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib/gstdio.h>

#include "ferclassify_results.h"

#include "../../common/fer_check.h"

static const gchar *const names[7] =
    { "angry", "disgust", "fear", "happy", "neutral", "sad", "surprise" };

static void
test_format (void)
{
  FerFaceResult faces[2] = { 0 };
  GString *s = g_string_new (NULL);
  cJSON *root, *arr, *f0, *probs;

  faces[0].track_id = 3;
  faces[0].box = (FerBox) { 10, 20, 30, 40 };
  faces[0].label = "happy";
  faces[0].confidence = 0.91f;
  for (gint c = 0; c < 7; c++)
    faces[0].probs[c] = c == 3 ? 0.91f : 0.015f;
  faces[1].track_id = 4;
  faces[1].box = (FerBox) { 1, 2, 3, 4 };
  faces[1].label = "we\"ird\\label";   /* escaped correctly */
  fer_results_append_json (s, 12, 480000000, faces, 2, names, 7);
  CHECK (strchr (s->str, '\n') == NULL, "line contains a newline");

  root = cJSON_Parse (s->str);
  CHECK (root != NULL, "not JSON: %s", s->str);
  CHECK (cJSON_GetObjectItem (root, "frame")->valuedouble == 12, "frame");
  CHECK (cJSON_GetObjectItem (root, "pts_ns")->valuedouble == 480000000.0, "pts_ns");
  arr = cJSON_GetObjectItem (root, "faces");
  CHECK (cJSON_GetArraySize (arr) == 2, "2 faces");
  f0 = cJSON_GetArrayItem (arr, 0);
  CHECK (cJSON_GetObjectItem (f0, "track_id")->valueint == 3, "track_id");
  CHECK (cJSON_GetArraySize (cJSON_GetObjectItem (f0, "box")) == 4, "box size");
  CHECK (cJSON_GetArrayItem (cJSON_GetObjectItem (f0, "box"), 3)->valueint == 40, "box h");
  CHECK (strcmp (cJSON_GetObjectItem (f0, "label")->valuestring, "happy") == 0, "label");
  CHECK (fabs (cJSON_GetObjectItem (f0, "confidence")->valuedouble - 0.91) < 1e-9,
      "confidence");
  probs = cJSON_GetObjectItem (f0, "probabilities");
  CHECK (cJSON_GetArraySize (probs) == 7, "7 probabilities");
  CHECK (strcmp (cJSON_GetArrayItem (probs, 0)->string, "angry") == 0, "class order");
  CHECK (fabs (cJSON_GetObjectItem (probs, "fear")->valuedouble - 0.015) < 1e-9, "p(fear)");
  CHECK (strcmp (cJSON_GetObjectItem (cJSON_GetArrayItem (arr, 1), "label")->valuestring,
          "we\"ird\\label") == 0, "escaped label");
  cJSON_Delete (root);

  /* no PTS and no faces */
  g_string_truncate (s, 0);
  fer_results_append_json (s, 0, -1, NULL, 0, names, 7);
  root = cJSON_Parse (s->str);
  CHECK (root && cJSON_IsNull (cJSON_GetObjectItem (root, "pts_ns")), "null pts: %s", s->str);
  CHECK (cJSON_GetArraySize (cJSON_GetObjectItem (root, "faces")) == 0, "empty faces");
  cJSON_Delete (root);
  g_string_free (s, TRUE);
}

static void
test_writer (const gchar * dir)
{
  gchar *path = g_build_filename (dir, "out.jsonl", NULL);
  gchar *tmp = g_strconcat (path, ".tmp", NULL);
  gchar *text = NULL;
  GError *err = NULL;
  FerResultsWriter *w = fer_results_writer_open (path, &err);
  const gint n = 5000;

  CHECK (w != NULL, "open: %s", err ? err->message : "?");
  CHECK (g_file_test (tmp, G_FILE_TEST_EXISTS), "temp file not created");
  CHECK (!g_file_test (path, G_FILE_TEST_EXISTS), "final file exists before finish");
  for (gint i = 0; i < n; i++) {
    GString *line = g_string_new (NULL);
    fer_results_append_json (line, (guint64) i, i * 40, NULL, 0, names, 7);
    fer_results_writer_push (w, line);
  }
  CHECK (!fer_results_writer_take_error (w, NULL), "unexpected write error");
  CHECK (fer_results_writer_finish (w, &err), "finish: %s", err ? err->message : "?");
  CHECK (!g_file_test (tmp, G_FILE_TEST_EXISTS), "temp file left behind");
  CHECK (g_file_get_contents (path, &text, NULL, NULL), "read back");
  gchar **lines = g_strsplit (text, "\n", -1);
  CHECK (g_strv_length (lines) == (guint) n + 1 && lines[n][0] == '\0',
      "%u lines (expected %d + final newline)", g_strv_length (lines), n);
  for (gint i = 0; i < n; i++) {
    cJSON *root = cJSON_Parse (lines[i]);
    CHECK (root != NULL, "line %d is not JSON", i);
    CHECK (cJSON_GetObjectItem (root, "frame")->valueint == i, "line %d out of order", i);
    cJSON_Delete (root);
  }
  g_strfreev (lines);
  g_free (text);
  g_unlink (path);

  /* a location that cannot be created fails at open with the file named */
  gchar *bad = g_build_filename (dir, "no-such-dir", "x.jsonl", NULL);
  w = fer_results_writer_open (bad, &err);
  CHECK (w == NULL && err && strstr (err->message, "no-such-dir"), "bad location accepted");
  g_clear_error (&err);
  g_free (bad);

  /* a device is written in place (never replaced by a rename) */
  w = fer_results_writer_open ("/dev/null", &err);
  CHECK (w != NULL, "/dev/null: %s", err ? err->message : "?");
  fer_results_writer_push (w, g_string_new ("{}"));
  CHECK (fer_results_writer_finish (w, &err), "finish /dev/null");
  CHECK (g_file_test ("/dev/null", G_FILE_TEST_EXISTS) &&
      !g_file_test ("/dev/null.tmp", G_FILE_TEST_EXISTS), "/dev/null replaced");

  g_free (path);
  g_free (tmp);
}

/* Writing to a full device: the error surfaces (take_error, then finish fails). */
static void
test_write_error (void)
{
  GError *err = NULL;
  FerResultsWriter *w;

  if (!g_file_test ("/dev/full", G_FILE_TEST_EXISTS))
    return;
  w = fer_results_writer_open ("/dev/full", &err);
  CHECK (w != NULL, "/dev/full: %s", err ? err->message : "?");
  for (gint i = 0; i < 100; i++)
    fer_results_writer_push (w, g_string_new ("{\"frame\":0}"));
  CHECK (!fer_results_writer_finish (w, &err) && err, "write error not reported");
  CHECK (strstr (err->message, "/dev/full") != NULL, "error does not name the file: %s",
      err->message);
  g_clear_error (&err);
}

int
main (void)
{
  gchar *dir = g_dir_make_tmp ("fer-results-XXXXXX", NULL);
  CHECK (dir != NULL, "temp dir");
  test_format ();
  test_writer (dir);
  test_write_error ();
  g_rmdir (dir);
  g_free (dir);
  printf ("results: ok\n");
  return 0;
}
