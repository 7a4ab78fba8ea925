#!/bin/bash
# resweep.sh FROZEN_SRC RUN_FOLDER NAME STRENGTHS...: section 82's resweep.sh, its copies and logs under this section's
# runs folder
RUNS=/work/runs/s83 exec bash "$(dirname "$0")/../seed-2-under-the-line/resweep.sh" "$@"
