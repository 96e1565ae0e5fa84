"""A modem that enters PSM in the middle of the device's bring-up, or between two data
commands, is woken promptly (issue 11; MODEM.md 3.2): T3324 runs on the network's clock, so a
host slower than the granted Active-Time finds the UART deaf halfway through. modemsim's
psm_before knob puts the modem in PSM just before it hears a given command (deterministic:
what a loaded CI host did by chance); the link notices the silence within 2 s, asks AT, presses
PWRKEY (modemsim's control port) and sends the command again. Ports 19000-19049.
"""
import tempfile

import pytest

import mp
from m5server.thread import ServerThread
from modemsim import ModemSim
from test_modem_device import AS, ModemDevice, echoed, registered

PSM = {"tauSec": 3600, "activeSec": 60}     # long: the only PSM entry is the knob's


@pytest.mark.parametrize("model,before", [("sim7080", "AT+CNACT=0,1"), ("bg95", "AT+QIACT=1"),
                                          ("sim7080", "AT+CSQ")])
def test_psm_mid_bringup_woken_and_registered(model, before):
    port = 19000 + 2 * [("sim7080", "AT+CNACT=0,1"), ("bg95", "AT+QIACT=1"),
                        ("sim7080", "AT+CSQ")].index((model, before))
    with ServerThread(port=port) as st, \
            ModemSim(model, reg_delay=0.2, psm_before=before) as sim, \
            tempfile.TemporaryDirectory() as d:
        dev = ModemDevice(d, "ue-w", sim, "coap://127.0.0.1:%d" % port, model,
                          link={"psm": PSM})
        try:
            # before the fix: +CNACT's 120 s (+QIACT's 150 s) waited out, then back-off
            assert mp.wait_for(lambda: registered(st, "ue-w"), 20), sim.counters()
            r = st.as_send(AS, "ue-w", b"after the wake", report=False)
            assert r["status"] == "DELIVERED", r
            assert mp.wait_for(lambda: echoed(st, b"after the wake"), 10)
            assert mp.wait_for(lambda: accepted(dev), 15), dev.log.name   # as below
        finally:
            status = dev.stop()
        c = sim.counters()
        assert c["psm_entries"] == 1 and c["psm_wakes"] == 1 and c["resets"] == 0, c
        assert status is not None, dev.text[-3000:]
        assert "PWRKEY" in dev.text and status["failed"] == 0, dev.text[-2000:]


@pytest.mark.parametrize("model,before", [("sim7080", "AT+CASEND"), ("bg95", "AT+QISEND")])
def test_psm_before_a_send_woken_and_delivered(model, before):
    port = 19010 + 2 * ["sim7080", "bg95"].index(model)
    with ServerThread(port=port) as st, ModemSim(model, reg_delay=0.2) as sim, \
            tempfile.TemporaryDirectory() as d:
        dev = ModemDevice(d, "ue-v", sim, "coap://127.0.0.1:%d" % port, model,
                          link={"psm": PSM})
        try:
            assert mp.wait_for(lambda: registered(st, "ue-v"), 20), sim.counters()
            sim.set(psm_before=before)
            r = st.as_send(AS, "ue-v", b"through a wake", report=False)
            assert r["status"] == "DELIVERED", r
            assert mp.wait_for(lambda: echoed(st, b"through a wake"), 15)
            # The echo reached the AS; its 2.04 is still on its way back through the modem.
            # Stopping now would de-register first and fail the echo (4.03) for no fault.
            assert mp.wait_for(lambda: accepted(dev), 15), dev.log.name
        finally:
            status = dev.stop()
        c = sim.counters()
        assert c["psm_entries"] == 1 and c["psm_wakes"] == 1 and c["resets"] == 0, c
        assert status and status["failed"] == 0, dev.text[-3000:]


def accepted(dev):
    """The device logged an MSG outcome ACCEPTED (its echo's 2.04 arrived)."""
    with open(dev.log.name) as f:
        return "-> ACCEPTED" in f.read()
