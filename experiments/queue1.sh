#!/bin/bash
# Level-3 screen on sample A (one model over all 300 series; ~35 s wall each)
cd /work/wt-lstmacc && export PYTHONPATH=$PWD:$PWD/experiments
R="timeout 600 python experiments/run_exp.py --sample A --level 3"
$R --name seed1 --seed 1
$R --name recent90 --scale-days 90
$R --name recent28 --scale-days 28
$R --name poisson --loss poisson
$R --name poisson_recent90 --loss poisson --scale-days 90
$R --name direct28 --horizon-out 28
$R --name recent90_seed1 --scale-days 90 --seed 1
$R --name poisson_recent90_seed1 --loss poisson --scale-days 90 --seed 1
