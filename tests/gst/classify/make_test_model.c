/* fer_gst_make_test_model OUT.fer: writes a freshly initialised "tiny" checkpoint (for script
 * tests that need a model file without depending on pretrained/). */
#include <stdio.h>

#include "fer_gst_test.h"

int
main (int argc, char **argv)
{
  gchar *dir, *base, *path;

  if (argc != 2) {
    fprintf (stderr, "usage: %s OUT.fer\n", argv[0]);
    return 2;
  }
  dir = g_path_get_dirname (argv[1]);
  base = g_path_get_basename (argv[1]);
  path = fer_gst_test_tiny_model (dir, base, NULL);
  printf ("%s\n", path);
  g_free (dir);
  g_free (base);
  g_free (path);
  return 0;
}
