/* TensorBoard event files written by hand: TFRecord framing (length, masked CRC32C of the
 * length, payload, masked CRC32C of the payload) around protobuf-encoded tensorflow.Event
 * messages: Event{wall_time=1 double, step=2 int64, file_version=3 string, summary=5 Summary},
 * Summary{value=1 repeated Value}, Value{tag=1 string, simple_value=2 float}. */
#ifndef FER_TB_EVENTS_H
#define FER_TB_EVENTS_H
#include <stddef.h>
#include <stdint.h>
#include "fer/status.h"

typedef struct fer_tb_writer fer_tb_writer;

/* Creates DIR/events.out.tfevents.<unix time>.<host>.<pid>.0 (the name SummaryWriter uses)
 * and writes the file_version event "brain.Event:2". */
fer_status fer_tb_open(const char *dir, fer_tb_writer **out);
/* Appends one Event with a single scalar; flushed so a running TensorBoard sees it. */
fer_status fer_tb_scalar(fer_tb_writer *w, const char *tag, float value, int64_t step,
                         double wall_time);
const char *fer_tb_path(const fer_tb_writer *w);
void fer_tb_close(fer_tb_writer *w);

/* Encoders, exposed for tests: return the encoded length (buf may be NULL to measure). */
size_t fer_tb_encode_scalar_event(uint8_t *buf, double wall_time, int64_t step, const char *tag,
                                  float value);
size_t fer_tb_encode_version_event(uint8_t *buf, double wall_time, const char *version);
#endif
