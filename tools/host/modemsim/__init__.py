"""modemsim: an LTE-M / NB-IoT modem on a pseudo-terminal, for the cellular link's tests.

Two AT dialects with exact framing, SIMCom SIM7080G (`Sim7080`) and Quectel BG95/BG96/BG77
(`Bg95`), plus the TS 27.007 bring-up both share (`at.Modem`). Their sockets are bridged to
real UDP on loopback by `ModemSim` (bridge.py); `python -m modemsim` / `tools/modemsim` runs one
by hand. Facts: ../shared/spec/MODEM.md. Usage: tools/host/modemsim/README.md.
"""
from .at import COUNTERS, KNOBS, AtError, LoopNet, Modem
from .bg95 import Bg95
from .sim7080 import Sim7080

MODELS = {"sim7080": Sim7080, "bg95": Bg95, "bg96": Bg95, "bg77": Bg95}


def make_modem(model="sim7080", **kw):
    """A modem of `model` ('sim7080', 'bg95'; 'bg96'/'bg77' are the BG95 dialect) without I/O:
    feed() it bytes, read() what it wrote, poll() its timers (kw: net, clock, knobs)."""
    try:
        cls = MODELS[model.lower()]
    except KeyError:
        raise ValueError("unknown model %r (models: %s)" % (model, ", ".join(MODELS)))
    return cls(**kw)


def __getattr__(name):      # ModemSim imports selectors/termios: only when asked for
    if name == "ModemSim":
        from .bridge import ModemSim
        return ModemSim
    raise AttributeError(name)


__all__ = ["AtError", "Bg95", "COUNTERS", "KNOBS", "LoopNet", "MODELS", "Modem", "ModemSim",
           "Sim7080", "make_modem"]
