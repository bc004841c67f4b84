/* model.h - placeholder */
#ifndef TRAIND_MODEL_H
#define TRAIND_MODEL_H
#endif
