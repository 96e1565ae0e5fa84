"""The layering of ../shared/STYLE.md, checked.

- A device loads only its role's modules (a plain sensor never imports the gateway or the
  relay): on the unix port, a fresh Device of each role runs Device.main() for a moment, then
  the test reads sys.modules. A `ue` loads nothing of msgin5g.constrained; a gateway, a relay
  and a cue load their own role and codec and none of the others'; the deep-sleep modules only
  a device with deepSleep. Ports 18460-18469.
- Arrows point one way: no import cycle among the modules of lib/, imports inside functions
  included (the REPL helpers import the device, the device never the REPL)."""
import ast
import json
import os

import pytest

import mp

SRV = "coap://127.0.0.1:18469"      # nobody listens: the devices only need to start
C = "msgin5g.constrained"
ALL = {C, C + ".roles", C + ".gateway", C + ".relay", C + ".appclient", C + ".a2", C + ".a3"}
ROLES = {
    "ue": ({"ueServiceId": "ue-i", "server": SRV, "listenPort": 18460}, set()),
    "gateway": ({"role": "gateway", "ueServiceId": "gw-i", "server": SRV, "listenPort": 18461,
                 "app": "none", "gatewayPort": 18462, "gatewayL3Port": 18463},
                {C, C + ".roles", C + ".gateway", C + ".a2", C + ".a3"}),
    "relay": ({"role": "relay", "ueServiceId": "relay-i", "server": SRV, "listenPort": 18464,
               "app": "none", "gatewayPort": 18465}, {C, C + ".roles", C + ".relay"}),
    "cue-a3": ({"role": "cue", "gateway": "coap://127.0.0.1:18462", "applicationId": 17,
                "listenPort": 18466}, {C, C + ".roles", C + ".appclient", C + ".a3"}),
    "cue-a2": ({"role": "cue", "gateway": "udp://127.0.0.1:18463", "applicationId": 18,
                "listenPort": 18467}, {C, C + ".roles", C + ".appclient", C + ".a2"}),
    "cue-sleep": ({"role": "cue", "gateway": "udp://127.0.0.1:18463", "applicationId": 19,
                   "listenPort": 18468, "deepSleep": True, "stateFile": "/dev/null"},
                  {C, C + ".roles", C + ".appclient", C + ".a2"}),
}

SCRIPT = """
import asyncio, json, sys
from msgin5g import devconfig
from msgin5g.device import Device
dev = Device(devconfig.validate(json.loads(%r)))
async def run():
    try:
        await asyncio.wait_for_ms(dev.main(), 300)
    except asyncio.TimeoutError:
        pass
asyncio.run(run())
print("MODULES", json.dumps(sorted(k for k in sys.modules if k.startswith("msgin5g"))))
"""


@pytest.mark.parametrize("role", sorted(ROLES))
def test_device_loads_only_its_role(role):
    cfg, want = ROLES[role]
    r = mp.run(["-c", SCRIPT % json.dumps(cfg)], heap="256k", timeout=30)
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("MODULES ")]
    assert r.returncode == 0 and line, r.stdout + r.stderr
    mods = set(json.loads(line[-1][8:]))
    assert "msgin5g.device" in mods, sorted(mods)
    assert ("msgin5g.client" in mods) != role.startswith("cue"), sorted(mods)  # cue: no Client
    assert mods & ALL == want, sorted(mods)
    assert not {"msgin5g.repl", "msgin5g.aiorepl"} & mods, sorted(mods)   # REPL: firmware's
    sleeps = {"msgin5g.dutycycle", "msgin5g.sleepstate"}     # deep sleep: only with deepSleep
    assert (sleeps <= mods if cfg.get("deepSleep") else not sleeps & mods), sorted(mods)


def _lib_imports():
    """{module: set of lib/ modules it imports anywhere in its file}."""
    lib = os.path.join(mp.ROOT, "lib")
    files = {}
    for dirpath, _, names in os.walk(lib):
        for n in names:
            if n.endswith(".py"):
                path = os.path.join(dirpath, n)
                mod = os.path.relpath(path, lib)[:-3].replace(os.sep, ".")
                files[mod[:-9] if mod.endswith(".__init__") else mod] = path
    graph = {}
    for mod, path in files.items():
        with open(path) as f:
            tree = ast.parse(f.read())
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
                names.update(node.module + "." + a.name for a in node.names)
        graph[mod] = {n for n in names if n in files and n != mod}
    return graph


def test_no_import_cycle_in_lib():
    graph = _lib_imports()
    assert {"msgin5g.device", "msgin5g.repl", "msgin5g.constrained.roles"} <= set(graph)
    done = set()

    def visit(mod, path):
        assert mod not in path, "import cycle: " + " -> ".join(path[path.index(mod):] + [mod])
        if mod in done:
            return
        for dep in sorted(graph[mod]):
            visit(dep, path + [mod])
        done.add(mod)

    for mod in sorted(graph):
        visit(mod, [])
