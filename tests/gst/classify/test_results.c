/* ferclassify_results.c: JSON Lines formatting (parsed back with cJSON) and the writer thread
 * (temp file renamed into place at finish, errors reported, many lines in order; planted
 * symlinks never followed, folders and reader-less FIFOs refused at once). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Entries of dir named PREFIX*.tmp. */
static guint
count_tmp (const gchar * dir, const gchar * prefix)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *name;
  guint n = 0;

  while (d && (name = g_dir_read_name (d)))
    n += g_str_has_prefix (name, prefix) && g_str_has_suffix (name, ".tmp");
  if (d)
    g_dir_close (d);
  return n;
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
  CHECK (count_tmp (dir, "out.jsonl.") == 1, "temp file not created");
  CHECK (!g_file_test (path, G_FILE_TEST_EXISTS), "final file exists before finish");
  for (gint i = 0; i < n; i++) {
    GString *line = g_string_new (NULL);
    fer_results_append_json (line, (guint64) i, i * 40, NULL, 0, names, 7);
    fer_results_writer_push (w, line);
  }
  CHECK (!fer_results_writer_take_error (w, NULL), "unexpected write error");
  CHECK (fer_results_writer_finish (w, &err), "finish: %s", err ? err->message : "?");
  CHECK (count_tmp (dir, "out.jsonl.") == 0, "temp file left behind");
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

/* Symlinks planted where the temporary file goes are never followed: neither one at the old
 * fixed name LOCATION.tmp nor a stale LOCATION.XXXXXX.tmp (removed, as left-overs of a killed
 * run are); other locations' temporary files in the folder are left alone. An existing LOCATION
 * that is a symlink is replaced by the results, its target untouched. */
static void
test_symlinks_never_followed (const gchar * dir)
{
  gchar *path = g_build_filename (dir, "sym.jsonl", NULL);
  gchar *victim = g_build_filename (dir, "victim.txt", NULL);
  gchar *fixed_tmp = g_strconcat (path, ".tmp", NULL);
  gchar *stale = g_strconcat (path, ".abc123.tmp", NULL);
  gchar *other = g_build_filename (dir, "other.jsonl.abc123.tmp", NULL);
  gchar *text = NULL;
  GError *err = NULL;
  FerResultsWriter *w;

  CHECK (g_file_set_contents (victim, "precious\n", -1, NULL), "write victim");
  CHECK (symlink (victim, fixed_tmp) == 0 && symlink (victim, stale) == 0 &&
      symlink (victim, other) == 0, "plant symlinks");
  w = fer_results_writer_open (path, &err);
  CHECK (w != NULL, "open: %s", err ? err->message : "?");
  CHECK (!g_file_test (stale, G_FILE_TEST_EXISTS) && !g_file_test (stale,
          G_FILE_TEST_IS_SYMLINK), "stale temporary symlink of this location not removed");
  CHECK (g_file_test (other, G_FILE_TEST_IS_SYMLINK), "another location's temp file removed");
  fer_results_writer_push (w, g_string_new ("{\"frame\":0}"));
  CHECK (fer_results_writer_finish (w, &err), "finish: %s", err ? err->message : "?");
  CHECK (g_file_get_contents (victim, &text, NULL, NULL) && strcmp (text, "precious\n") == 0,
      "the symlink's target was overwritten: %s", text);
  g_free (text);
  CHECK (g_file_get_contents (path, &text, NULL, NULL) && strcmp (text, "{\"frame\":0}\n") == 0,
      "results: %s", text);
  g_free (text);

  /* LOCATION itself a symlink to the victim: replaced, target kept */
  g_unlink (path);
  CHECK (symlink (victim, path) == 0, "symlink location");
  w = fer_results_writer_open (path, &err);
  CHECK (w != NULL, "open: %s", err ? err->message : "?");
  fer_results_writer_push (w, g_string_new ("{}"));
  CHECK (fer_results_writer_finish (w, &err), "finish: %s", err ? err->message : "?");
  CHECK (!g_file_test (path, G_FILE_TEST_IS_SYMLINK), "location still a symlink");
  CHECK (g_file_get_contents (victim, &text, NULL, NULL) && strcmp (text, "precious\n") == 0,
      "the location's target was overwritten: %s", text);
  g_free (text);
  printf ("ok  planted symlinks are never followed\n");
  g_unlink (path);
  g_unlink (victim);
  g_unlink (fixed_tmp);
  g_unlink (other);
  g_free (path);
  g_free (victim);
  g_free (fixed_tmp);
  g_free (stale);
  g_free (other);
}

/* A folder or a FIFO nobody reads is refused at open, at once (no hang). */
static void
test_unusable_locations (const gchar * dir)
{
  gchar *fifo = g_build_filename (dir, "results.fifo", NULL);
  GError *err = NULL;
  FerResultsWriter *w;

  w = fer_results_writer_open (dir, &err);
  CHECK (w == NULL && err && g_str_has_prefix (err->message, dir) &&
      strstr (err->message, "is a folder"), "folder: %s", err ? err->message : "accepted");
  printf ("ok  %s\n", err->message);
  g_clear_error (&err);

  alarm (60);                   /* a blocking open fails the test instead of hanging it */
  CHECK (mkfifo (fifo, 0600) == 0, "mkfifo");
  w = fer_results_writer_open (fifo, &err);
  CHECK (w == NULL && err && g_str_has_prefix (err->message, fifo) &&
      strstr (err->message, "a FIFO that no process reads"), "FIFO: %s",
      err ? err->message : "accepted");
  alarm (0);
  printf ("ok  %s\n", err->message);
  g_clear_error (&err);
  g_unlink (fifo);
  g_free (fifo);
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
  test_symlinks_never_followed (dir);
  test_unusable_locations (dir);
  test_write_error ();
  g_rmdir (dir);
  g_free (dir);
  printf ("results: ok\n");
  return 0;
}
