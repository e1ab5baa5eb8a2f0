"""Print results.jsonl as a table."""
import json, sys
from pathlib import Path
for l in open(Path(__file__).with_name("results.jsonl")):
    r = json.loads(l)
    if len(sys.argv) > 1 and not any(s in r["tag"] for s in sys.argv[1:]):
        continue
    k = r["l12_by_kind"]
    print(f'{r["tag"]:34} {r["wrmsse"]:.4f} l3={r["l3"]:.3f} l12={r["l12"]:.3f} ratio={r["ratio"]:.3f} wk1={r["ratio_wk1"]:.3f} '
          f'cpu={r.get("cpu_s", "-")} wall_fit={r.get("cpu_fit_s", "-")} ep={r.get("epochs_mean", "-")} '
          f'kind(s/i/f)={k.get("slow", 0):.3f}/{k.get("intermittent", 0):.3f}/{k.get("fast", 0):.3f} '
          f'ratio_kind={"/".join(str(v) for v in r["ratio_by_kind"].values())}')
