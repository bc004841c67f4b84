/*
 * jsonnum.c - finite numbers to JSON and back, non-finite as null (see
 * jsonnum.h).
 */
#include "traind/jsonnum.h"

#include <math.h>

json_t *td_json_num(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

double td_json_num_get(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_number(v) ? json_number_value(v) : NAN;
}
