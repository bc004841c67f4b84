/* digits.c - placeholder, being written */
#include "traind/digits.h"
