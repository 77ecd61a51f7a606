#!/usr/bin/env python3
"""The layers, checked from the includes (README, Layout):
- the public headers (framework/include/nslab) form no cycle;
- description never depends on building: nothing in the model layer
  (framework/src/model and the description headers) includes a runtime
  header, public or internal;
- no public header includes an internal one (they are not installed)."""
import os, re, sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
pub = os.path.join(root, "framework/include/nslab")
model = os.path.join(root, "framework/src/model")
runtime = os.path.join(root, "framework/src/runtime")

# The public headers of the runtime layer; every other public header describes.
RUNTIME_PUBLIC = {"capture.h", "connection.h", "environment.h", "fd.h", "lab.h", "netns.h", "node.h", "process.h", "scenario_run.h"}
INTERNAL_RUNTIME = {f for f in os.listdir(runtime) if f.endswith(".h")}
INTERNAL_MODEL = {f for f in os.listdir(model) if f.endswith(".h")}

def includes(path):
    out = []
    for line in open(path, encoding="utf-8"):
        m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
        if m:
            out.append(m.group(1))
    return out

problems = []
graph = {}
for f in sorted(os.listdir(pub)):
    if not f.endswith(".h"):
        continue
    deps = includes(os.path.join(pub, f))
    graph[f] = [d[len("nslab/"):] for d in deps if d.startswith("nslab/")]
    for d in deps:
        if not d.startswith("nslab/"):
            problems.append(f"public header nslab/{f} includes \"{d}\", which is not installed")
    if f not in RUNTIME_PUBLIC:
        for d in graph[f]:
            if d in RUNTIME_PUBLIC:
                problems.append(f"description header nslab/{f} includes the runtime's nslab/{d}")

# Cycles among the public headers.
state = {}
def visit(node, stack):
    state[node] = "open"
    for d in graph.get(node, []):
        if state.get(d) == "open":
            problems.append("include cycle: " + " -> ".join(stack[stack.index(d):] + [d]) if d in stack else d)
        elif d not in state:
            visit(d, stack + [d])
    state[node] = "done"
for h in graph:
    if h not in state:
        visit(h, [h])

for f in sorted(os.listdir(model)):
    if not (f.endswith(".cpp") or f.endswith(".h")):
        continue
    for d in includes(os.path.join(model, f)):
        name = d[len("nslab/"):] if d.startswith("nslab/") else d
        if d.startswith("nslab/") and name in RUNTIME_PUBLIC:
            problems.append(f"model file {f} includes the runtime's {d}")
        if not d.startswith("nslab/") and name in INTERNAL_RUNTIME and name not in INTERNAL_MODEL:
            problems.append(f"model file {f} includes the runtime's internal {d}")

if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"{len(graph)} public headers, no cycle; the model layer includes nothing of the runtime")
