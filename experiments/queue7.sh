#!/bin/bash
# Last runs before the deadline (level 12, 60 series).
cd /work/wt-lstmacc && export PYTHONPATH=$PWD:$PWD/experiments
while pgrep -f "run_exp.py" >/dev/null; do sleep 5; done
timeout 900 python experiments/run_exp.py --sample A --level 12 --n-per-cat 20 --name winscale --window-scale 1
timeout 900 python experiments/run_exp.py --sample B --level 12 --n-per-cat 20 --name default
