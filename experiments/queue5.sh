#!/bin/bash
# Under a load of ~30 on 2 cores: level 3 on both full samples, level 12 / 9 on 20 items per category (60 series).
cd /work/wt-lstmacc && export PYTHONPATH=$PWD:$PWD/experiments
A="timeout 1200 python experiments/run_exp.py --sample A"
B="timeout 1200 python experiments/run_exp.py --sample B"
$B --level 3 --name winscale --window-scale 1
$B --level 3 --name default
$A --level 12 --n-per-cat 20 --name winscale --window-scale 1
$A --level 12 --n-per-cat 20 --name default
$B --level 12 --n-per-cat 20 --name winscale --window-scale 1
$B --level 12 --n-per-cat 20 --name default
$A --level 3 --name winscale_seed1 --window-scale 1 --seed 1
$B --level 3 --name direct28 --horizon-out 28
$A --level 9 --n-per-cat 20 --name winscale --window-scale 1
$A --level 9 --n-per-cat 20 --name default
