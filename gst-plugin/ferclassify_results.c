#include "ferclassify_results.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <glib/gstdio.h>

#include "fer/fileio.h"

/* ---- JSON ---------------------------------------------------------------------------------- */

static void
append_json_string (GString * out, const gchar * s)
{
  g_string_append_c (out, '"');
  for (; *s; s++) {
    guchar c = (guchar) * s;
    switch (c) {
      case '"':
        g_string_append (out, "\\\"");
        break;
      case '\\':
        g_string_append (out, "\\\\");
        break;
      case '\n':
        g_string_append (out, "\\n");
        break;
      case '\t':
        g_string_append (out, "\\t");
        break;
      default:
        if (c < 0x20)
          g_string_append_printf (out, "\\u%04x", c);
        else
          g_string_append_c (out, (gchar) c);
    }
  }
  g_string_append_c (out, '"');
}

/* Probabilities rounded to 4 decimals keep lines short and exact to read back. */
static void
append_prob (GString * out, gfloat p)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];
  gdouble v = isfinite (p) ? round ((gdouble) p * 1e4) / 1e4 : 0.0;
  g_ascii_formatd (buf, sizeof buf, "%.4f", v);
  /* trim trailing zeros ("0.9100" -> "0.91", "1.0000" -> "1") */
  gchar *end = buf + strlen (buf) - 1;
  while (end > buf && *end == '0')
    *end-- = '\0';
  if (*end == '.')
    *end = '\0';
  g_string_append (out, buf);
}

void
fer_results_append_json (GString * out, guint64 frame, gint64 pts_ns,
    const FerFaceResult * faces, gint n_faces, const gchar * const *class_names,
    gint n_classes)
{
  g_string_append_printf (out, "{\"frame\":%" G_GUINT64_FORMAT ",\"pts_ns\":", frame);
  if (pts_ns >= 0)
    g_string_append_printf (out, "%" G_GINT64_FORMAT, pts_ns);
  else
    g_string_append (out, "null");
  g_string_append (out, ",\"faces\":[");
  for (gint i = 0; i < n_faces; i++) {
    const FerFaceResult *f = &faces[i];
    if (i)
      g_string_append_c (out, ',');
    g_string_append_printf (out, "{\"track_id\":%d,\"box\":[%d,%d,%d,%d],\"label\":",
        f->track_id, f->box.x, f->box.y, f->box.w, f->box.h);
    append_json_string (out, f->label);
    g_string_append (out, ",\"confidence\":");
    append_prob (out, f->confidence);
    g_string_append (out, ",\"probabilities\":{");
    for (gint c = 0; c < n_classes; c++) {
      if (c)
        g_string_append_c (out, ',');
      append_json_string (out, class_names[c]);
      g_string_append_c (out, ':');
      append_prob (out, f->probs[c]);
    }
    g_string_append (out, "}}");
  }
  g_string_append (out, "]}");
}

/* ---- writer thread ------------------------------------------------------------------------- */

struct FerResultsWriter {
  gchar *location;
  gboolean direct;         /* device or pipe (e.g. /dev/stdout): written in place, no rename */
  fer_atomic_file out;     /* regular file: LOCATION.XXXXXX.tmp, renamed at the end */
  FILE *fp;                /* out.f, or the device or pipe */
  const gchar *writing;    /* the name being written (for messages) */
  GAsyncQueue *queue;      /* GString*, or the finish sentinel */
  GThread *thread;
  GMutex lock;
  GError *error;           /* first write error, under lock */
  gboolean error_taken;
  gint failed;             /* atomic: error set */
};

/* Address used as the "finish" sentinel in the queue. */
static gchar finish_sentinel;

static void
writer_set_error (FerResultsWriter * w, gint err, const gchar * what)
{
  g_mutex_lock (&w->lock);
  if (!w->error)
    w->error = g_error_new (G_FILE_ERROR, g_file_error_from_errno (err), "%s: %s (%s)",
        w->writing, what, g_strerror (err));
  g_mutex_unlock (&w->lock);
  g_atomic_int_set (&w->failed, 1);
}

static gpointer
writer_thread (gpointer data)
{
  FerResultsWriter *w = data;

  for (;;) {
    gpointer item = g_async_queue_pop (w->queue);
    if (item == &finish_sentinel)
      break;
    GString *line = item;
    if (!g_atomic_int_get (&w->failed)) {
      g_string_append_c (line, '\n');
      errno = 0;
      if (fwrite (line->str, 1, line->len, w->fp) != line->len)
        writer_set_error (w, errno ? errno : EIO, "write failed");
      /* keep the file current while idle so a crash loses little */
      if (g_async_queue_length (w->queue) <= 0 && fflush (w->fp) != 0)
        writer_set_error (w, errno, "write failed");
    }
    g_string_free (line, TRUE);
  }

  /* fer_atomic_commit flushes and syncs a regular file itself */
  if (w->direct && !g_atomic_int_get (&w->failed) && fflush (w->fp) != 0)
    writer_set_error (w, errno, "write failed");
  return NULL;
}

/* NAME.XXXXXX.tmp as fer_atomic_open makes them (XXXXXX from [a-z0-9]). */
static gboolean
is_our_tmp (const gchar * entry, const gchar * base)
{
  gsize n = strlen (base), len = strlen (entry);
  if (len != n + 11 || strncmp (entry, base, n) != 0 || entry[n] != '.' ||
      strcmp (entry + n + 7, ".tmp") != 0)
    return FALSE;
  for (gsize i = n + 1; i < n + 7; i++)
    if (!g_ascii_islower (entry[i]) && !g_ascii_isdigit (entry[i]))
      return FALSE;
  return TRUE;
}

/* Removes LOCATION.XXXXXX.tmp files left by a run that was killed before it could rename its
 * results into place. Only temporary files of this very LOCATION are touched: other pipelines
 * may be writing other results into the same folder right now. */
static void
remove_stale_tmp (const gchar * location)
{
  gchar *dir = g_path_get_dirname (location), *base = g_path_get_basename (location);
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *entry;

  while (d && (entry = g_dir_read_name (d))) {
    gchar *path;
    GStatBuf st;
    if (!is_our_tmp (entry, base))
      continue;
    path = g_build_filename (dir, entry, NULL);
    if (g_lstat (path, &st) == 0 && (S_ISREG (st.st_mode) || S_ISLNK (st.st_mode)))
      g_unlink (path);
    g_free (path);
  }
  if (d)
    g_dir_close (d);
  g_free (dir);
  g_free (base);
}

/* A device or pipe is written in place. O_NONBLOCK: opening a FIFO nobody reads would otherwise
 * wait forever (it fails with ENXIO instead). */
static FILE *
open_direct (const gchar * location, GError ** error)
{
  gint fd = g_open (location, O_WRONLY | O_APPEND | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0);
  gint err = errno, flags;
  FILE *fp;

  if (fd < 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (err), "%s: cannot open (%s)",
        location, err == ENXIO ? "a FIFO that no process reads" : g_strerror (err));
    return NULL;
  }
  flags = fcntl (fd, F_GETFL);
  if (flags >= 0)
    fcntl (fd, F_SETFL, flags & ~O_NONBLOCK);
  fp = fdopen (fd, "ab");
  if (!fp) {
    err = errno;
    close (fd);
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (err), "%s: cannot open (%s)",
        location, g_strerror (err));
  }
  return fp;
}

FerResultsWriter *
fer_results_writer_open (const gchar * location, GError ** error)
{
  FerResultsWriter *w;
  GStatBuf st;
  gboolean exists = g_stat (location, &st) == 0;

  if (exists && S_ISDIR (st.st_mode)) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_ISDIR, "%s: is a folder, not a file",
        location);
    return NULL;
  }
  w = g_new0 (FerResultsWriter, 1);
  w->location = g_strdup (location);
  w->direct = exists && !S_ISREG (st.st_mode);
  if (w->direct) {
    w->fp = open_direct (location, error);
    w->writing = w->location;
  } else {
    remove_stale_tmp (location);
    if (fer_atomic_open (location, &w->out) == FER_OK) {
      w->fp = w->out.f;
      w->writing = w->out.tmp;
    } else {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s", fer_last_error ());
    }
  }
  if (!w->fp) {
    g_free (w->location);
    g_free (w);
    return NULL;
  }
  g_mutex_init (&w->lock);
  w->queue = g_async_queue_new ();
  w->thread = g_thread_new ("ferresults", writer_thread, w);
  return w;
}

void
fer_results_writer_push (FerResultsWriter * w, GString * line)
{
  g_async_queue_push (w->queue, line);
}

gboolean
fer_results_writer_take_error (FerResultsWriter * w, GError ** error)
{
  gboolean report = FALSE;

  if (!g_atomic_int_get (&w->failed))
    return FALSE;
  g_mutex_lock (&w->lock);
  if (!w->error_taken) {
    w->error_taken = TRUE;
    report = TRUE;
    if (error)
      *error = g_error_copy (w->error);
  }
  g_mutex_unlock (&w->lock);
  return report;
}

gboolean
fer_results_writer_finish (FerResultsWriter * w, GError ** error)
{
  gboolean ok;

  g_async_queue_push (w->queue, &finish_sentinel);
  g_thread_join (w->thread);

  if (w->direct) {
    if (fclose (w->fp) != 0)
      writer_set_error (w, errno, "close failed");
  } else if (g_atomic_int_get (&w->failed)) {
    fer_atomic_abort (&w->out);
  } else if (fer_atomic_commit (&w->out) != FER_OK) {
    /* "LOCATION: write failed: ..." or "LOCATION: cannot rename into place: ..." */
    g_mutex_lock (&w->lock);
    if (!w->error)
      w->error = g_error_new (G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s", fer_last_error ());
    g_mutex_unlock (&w->lock);
    g_atomic_int_set (&w->failed, 1);
  }
  ok = !g_atomic_int_get (&w->failed);
  if (!ok && error)
    *error = g_error_copy (w->error);

  g_async_queue_unref (w->queue);
  g_mutex_clear (&w->lock);
  g_clear_error (&w->error);
  g_free (w->location);
  g_free (w);
  return ok;
}
