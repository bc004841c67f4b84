/* model.c - placeholder, being written */
#include "traind/model.h"
