/* TEMPORARY placeholder (lead); the link watcher owner replaces it. */
#include "config.h"
#include "linkwatch.h"
