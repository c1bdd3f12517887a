/* The gstfer plugin: ferfacedetect (gst-plugin/detect), ferclassify, feroverlay. */
#include <gst/gst.h>

#include "detect/gstferfacedetect.h"
#include "ferclassify.h"
#include "feroverlay.h"
#include "fer_config.h"

#define PACKAGE "fer" /* GST_PLUGIN_DEFINE names the package through this macro */

static gboolean
plugin_init (GstPlugin * plugin)
{
  gboolean ok = TRUE;

  ok &= GST_ELEMENT_REGISTER (ferfacedetect, plugin);
  ok &= GST_ELEMENT_REGISTER (ferclassify, plugin);
  ok &= GST_ELEMENT_REGISTER (feroverlay, plugin);
  return ok;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, fer,
    "Facial expression recognition: face detection, expression classification, overlay",
    plugin_init, FER_VERSION, "MIT/X11", "fer", "fer project")
