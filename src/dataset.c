/* dataset.c - placeholder, being written */
#include "traind/dataset.h"
