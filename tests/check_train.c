/* check_train.c - placeholder, being written */
#include "check_suites.h"

Suite *suite_train(void)
{
	return suite_create("train");
}
