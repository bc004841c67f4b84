/* check_nn.c - placeholder, being written */
#include "check_suites.h"

Suite *suite_nn(void)
{
	return suite_create("nn");
}
