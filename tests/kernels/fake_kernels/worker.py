"""Fake compile of one variant: behaviour comes from pkg/behaviour.json in the exported tree."""

import json
import os
import sys
import time
from pathlib import Path

spec = json.loads(Path(sys.argv[1]).read_text())
result_path = Path(sys.argv[2])
tree = Path(os.environ["PYTHONPATH"])
behaviour = json.loads((tree / "pkg" / "behaviour.json").read_text()).get(spec["id"], {})
if os.environ.get("FAKE_RECORD"):
    with open(os.environ["FAKE_RECORD"], "a") as record:
        record.write(json.dumps({"id": spec["id"], "env": sorted(os.environ),
                                 "shim": (tree / "shim" / "__init__.py").exists()}) + "\n")

outcome = behaviour.get("outcome", "ok")
if outcome == "crash":
    print("Segmentation fault (core dumped)", file=sys.stderr)
    os._exit(139)
if outcome == "hang":
    time.sleep(60)
if outcome == "fail":
    result = {"status": "failed", "compile_seconds": 0.1, "error": behaviour.get("error", "DSLError: boom"),
              "detail": "Traceback ...\nDSLError: boom"}
elif outcome == "absent":
    result = {"status": "absent", "compile_seconds": 0.0, "error": "feature absent: no such kernel"}
else:
    if outcome != "no-cubin":
        kernel = {"name": f"kernel_{spec['id'].replace('-', '_')}_object_at_x_0",
                  "arch": behaviour.get("arch", os.environ["FAKE_ARCH"]), **behaviour}
        Path(os.environ["FAKE_DUMP"], f"{spec['id']}.{kernel['arch']}.cubin").write_text(json.dumps(kernel))
    result = {"status": "ok", "compile_seconds": 0.25, "error": None, "detail": None}
result_path.write_text(json.dumps(result))
