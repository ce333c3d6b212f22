"""Stub ``getprop``: ``getprop`` lists ``[key]: [value]``; ``getprop KEY [DEFAULT]`` prints one."""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
props = json.loads((ROOT / "data" / "props.json").read_text())
args = sys.argv[1:]
if not args:
    for k in sorted(props):
        print(f"[{k}]: [{props[k]}]")
else:
    print(props.get(args[0], args[1] if len(args) > 1 else ""))
