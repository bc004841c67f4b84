/* pool.h - placeholder */
#ifndef TRAIND_POOL_H
#define TRAIND_POOL_H
#endif
