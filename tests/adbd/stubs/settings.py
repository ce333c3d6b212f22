"""Stub ``settings get|put|delete|list NAMESPACE [KEY [VALUE]]`` over data/system/settings.json."""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
store = ROOT / "data" / "system" / "settings.json"
data = json.loads(store.read_text())
args = sys.argv[1:]
if len(args) < 2 or args[1] not in ("system", "secure", "global"):
    print("usage: settings [--user N] get|put|delete|list NAMESPACE [KEY [VALUE]]", file=sys.stderr)
    sys.exit(1)
verb, ns = args[0], args[1]
space = data.setdefault(ns, {})
if verb == "get" and len(args) == 3:
    print(space.get(args[2], "null"))
elif verb == "put" and len(args) >= 4:
    space[args[2]] = args[3]
elif verb == "delete" and len(args) == 3:
    print(f"Deleted {1 if space.pop(args[2], None) is not None else 0} rows")
elif verb == "list":
    for k in sorted(space):
        print(f"{k}={space[k]}")
else:
    print(f"bad settings command: {' '.join(args)}", file=sys.stderr)
    sys.exit(1)
tmp = store.with_suffix(".tmp")
tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
tmp.replace(store)
