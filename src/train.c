/* train.c - placeholder, being written */
#include "traind/train.h"
