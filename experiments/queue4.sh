#!/bin/bash
# Window scaling (the library's Windower(scaling="window")) against the default, both samples, levels 3 / 12 / 9.
cd /work/wt-lstmacc && export PYTHONPATH=$PWD:$PWD/experiments
while pgrep -f "run_exp.py" >/dev/null; do sleep 5; done
A="timeout 1200 python experiments/run_exp.py --sample A"
B="timeout 1200 python experiments/run_exp.py --sample B"
$A --level 12 --name winscale --window-scale 1
$A --level 3 --name winscale_seed1 --window-scale 1 --seed 1
$B --level 3 --name default
$B --level 3 --name winscale --window-scale 1
$B --level 12 --name default
$B --level 12 --name winscale --window-scale 1
$A --level 9 --name default
$A --level 9 --name winscale --window-scale 1
$B --level 9 --name default
$B --level 9 --name winscale --window-scale 1
