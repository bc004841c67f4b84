/* train.h - placeholder */
#ifndef TRAIND_TRAIN_H
#define TRAIND_TRAIN_H
#endif
