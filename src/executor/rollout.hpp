// Rolling a pushed image out to one workload (executor::roll_out, declared in executor.hpp).
#pragma once

#include "cascade/executor.hpp"
