/* The partitioner's public face for other modules (the install engine, the
 * upgrader): the layout contract and its pure planning (layout.h), probing a
 * disk (disk.h), and carrying a plan out (apply.h). */
#pragma once

#include "apply.h"
#include "disk.h"
#include "layout.h"
