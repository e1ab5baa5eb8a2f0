#!/bin/bash
# Ordered by priority: direct / window scaling at levels 3, 12, 9 on sample A, then sample B.
cd /work/wt-lstmacc && export PYTHONPATH=$PWD:$PWD/experiments
while pgrep -f "run_exp.py" >/dev/null; do sleep 5; done
A="timeout 1200 python experiments/run_exp.py --sample A"
B="timeout 1200 python experiments/run_exp.py --sample B"
$A --level 3 --name direct28_winscale --horizon-out 28 --window-scale 1
$A --level 3 --name direct28_seed1 --horizon-out 28 --seed 1
$A --level 12 --name default
$A --level 12 --name direct28 --horizon-out 28
$A --level 12 --name direct28_winscale --horizon-out 28 --window-scale 1
$A --level 9 --name default
$A --level 9 --name direct28 --horizon-out 28
$A --level 9 --name direct28_winscale --horizon-out 28 --window-scale 1
