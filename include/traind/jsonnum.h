/*
 * jsonnum.h - the one number writer of every JSON view and record: a
 * finite double becomes a JSON real, NaN and the infinities become null
 * (JSON has no spelling for them; json_pack's "f" would fail and drop the
 * whole object). And back: null or a missing key reads as NaN.
 */
#ifndef TRAIND_JSONNUM_H
#define TRAIND_JSONNUM_H

#include <jansson.h>

json_t *td_json_num(double v);
/* obj[key] as a double; NaN when it is missing, null or not a number. */
double td_json_num_get(const json_t *obj, const char *key);

#endif
