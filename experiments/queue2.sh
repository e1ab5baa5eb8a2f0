#!/bin/bash
# Per-window scaling vs default, levels 3 / 9 / 12 on sample A
cd /work/wt-lstmacc && export PYTHONPATH=$PWD:$PWD/experiments
while pgrep -f "name direct28" >/dev/null; do sleep 5; done
R="timeout 900 python experiments/run_exp.py --sample A"
$R --level 3 --name winscale --window-scale 1
$R --level 3 --name winscale_seed1 --window-scale 1 --seed 1
$R --level 3 --name winscale_poisson --window-scale 1 --loss poisson
$R --level 9 --name default
$R --level 9 --name winscale --window-scale 1
$R --level 12 --name default
$R --level 12 --name winscale --window-scale 1
