#!/bin/bash
# After B level 3 default: direct forecast on B, then level 12 on 60-series subsamples of A and B.
cd /work/wt-lstmacc && export PYTHONPATH=$PWD:$PWD/experiments
while pgrep -f "run_exp.py" >/dev/null; do sleep 5; done
A="timeout 1200 python experiments/run_exp.py --sample A"
B="timeout 1200 python experiments/run_exp.py --sample B"
$B --level 3 --name direct28 --horizon-out 28
$A --level 12 --n-per-cat 20 --name default
$A --level 12 --n-per-cat 20 --name direct28 --horizon-out 28
$A --level 12 --n-per-cat 20 --name winscale --window-scale 1
$B --level 12 --n-per-cat 20 --name default
$B --level 12 --n-per-cat 20 --name direct28 --horizon-out 28
$B --level 12 --n-per-cat 20 --name winscale --window-scale 1
$B --level 3 --name direct28_seed1 --horizon-out 28 --seed 1
