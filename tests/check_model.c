/* check_model.c - placeholder, being written */
#include "check_suites.h"

Suite *suite_model(void)
{
	return suite_create("model");
}
