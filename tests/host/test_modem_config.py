"""A device whose only link is a modem (tools/modemsim on a pty, bridged to loopback UDP) with
only a configuration server and its MSGin5G UE ID fetches its server address, UE Service ID and
segment size over the modem (PC-13) and registers with them: the configuration document names
a second reference server, so the device must leave the configuration server for it.
Ports 19050-19059.
"""
import tempfile

import pytest

import mp
from m5server.thread import ServerThread
from modemsim import ModemSim
from test_modem_device import AS, ModemDevice, echoed, registered

UE_ID = "dev-mc-1"
SID = "svc-mc-7"        # the UE Service ID only the configuration document gives


@pytest.mark.parametrize("model,preconfigured,port", [("sim7080", False, 19050),
                                                      ("bg95", False, 19053),
                                                      ("sim7080", True, 19056)])
def test_modem_device_configures_then_registers(model, preconfigured, port):
    """preconfigured: the config also names the configuration server as its server; the
    document's server must win (the client resolves its server after configuration)."""
    cs = "coap://127.0.0.1:%d" % port
    srv = "coap://127.0.0.1:%d" % (port + 1)
    devices = {"devices": {UE_ID: {"ueServiceId": SID, "server": srv, "segmentSize": 256}}}
    with ServerThread(port=port, devices=devices) as conf, ServerThread(port=port + 1) as st, \
            ModemSim(model, reg_delay=0.3) as sim, tempfile.TemporaryDirectory() as d:
        # None: the key is left out (devconfig takes null as absent)
        dev = ModemDevice(d, "ue-mc", sim, cs if preconfigured else None, model,
                          ueServiceId=None, configServer=cs, ueId=UE_ID)
        try:
            assert mp.wait_for(lambda: registered(st, SID), 30), "not registered with " + srv
            assert not registered(conf, SID) and not registered(conf, UE_ID)
            r = st.as_send(AS, SID, b"configured over the air", report=True)
            assert r["status"] == "DELIVERED", r
            assert mp.wait_for(lambda: echoed(st, b"configured over the air"), 10)
        finally:
            status = dev.stop()
        assert "configured: %s at %s" % (SID, srv) in dev.text, dev.text[-3000:]
        assert status and status["state"] == "DEREGISTERED", dev.text[-3000:]
        assert status["ueServiceId"] == SID and status["segmentSize"] == 256, status
        assert not registered(st, SID)
        assert sim.counters()["resets"] == 0
