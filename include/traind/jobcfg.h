/* jobcfg.h - placeholder */
#ifndef TRAIND_JOBCFG_H
#define TRAIND_JOBCFG_H
#endif
