#!/bin/bash
cd /work/wt-lstmacc && export PYTHONPATH=$PWD:$PWD/experiments
while pgrep -f "queue7.sh" >/dev/null; do sleep 5; done
timeout 840 python experiments/run_exp.py --sample B --level 12 --n-per-cat 20 --name winscale --window-scale 1
