"""Stands in for cuobjdump: renders a fake cubin (JSON) in cuobjdump's -res-usage / -sass format."""

import json
import sys
from pathlib import Path

flag, path = sys.argv[1], Path(sys.argv[2])
k = json.loads(path.read_text())
name = k.get("kernel", k["name"])
if flag == "-res-usage":
    print("\nResource usage:\n Common:\n  GLOBAL:0")
    print(f" Function {name}:")
    print(f"  REG:{k.get('regs', 100)} STACK:{k.get('stack', 0)} SHARED:{k.get('shared', 1024)} LOCAL:0 "
          "CONSTANT[0]:900 TEXTURE:0 SURFACE:0 SAMPLER:0")
elif flag == "-sass":
    print(f"\n\tcode for {k['arch']}\n\t.target\t{k['arch']}\n")
    print(f"\t\tFunction : {name}")
    print("        /*0000*/                   LDC R1, c[0x0][0x37c] ;")
    for i in range(k.get("spill_st", 0) // 4):
        print(f"        /*{16 * (i + 1):04x}*/                   STL [R1+0x{4 * i:x}], R2 ;")
    for i in range(k.get("spill_ld", 0) // 4):
        print(f"        /*{16 * (i + 100):04x}*/              @!P0 LDL R3, [R1+0x{4 * i:x}] ;")
    print("        /*ffff*/                   EXIT ;")
else:
    sys.exit(f"unknown flag {flag}")
