/* csv.c - placeholder, being written */
#include "traind/csv.h"
