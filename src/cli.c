/* cli.c - placeholder, being written */
#include "traind/cli.h"
