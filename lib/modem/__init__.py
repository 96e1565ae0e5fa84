"""An LTE-M / NB-IoT modem driven over AT commands (facts: ../shared/spec/MODEM.md).

Small modules, each with one job; import the one you need (this file imports nothing):

    at        AtChannel: framing, echo, final results, URCs, the `> ` prompt, raw data; Cmd,
              LinkError, check/ok (what procedures do with a finished command)
    fields    the fields of an information line ("+NAME: a,"b",,c")
    codes     pure functions: +CSQ/+CESQ to dBm, +CEREG fields, PSM/eDRX timer codings
    bringup   the procedures that bring the link up or back (TS 27.007 bring-up, wake, resume,
              PDP context, coverage gap): generators the link runs
    sim7080   SIMCom SIM7080G dialect: RAT, +CNACT, CA sockets (+CAOPEN/+CASEND/+CARECV)
    bg95      Quectel BG95/BG96/BG77 dialect: RAT, +QIACT, QI sockets (+QIOPEN/+QISEND/+QIRD)
    link      Link: runs the procedures, datagram queue, registration, PSM wake, recovery
    endpoint  ModemEndpoint: a CoAP Endpoint over a Link (poll() and asyncio run())
    port      PtyUart: a pseudo-terminal or tty as a UART (unix port and CPython)

bringup and codes are imported on demand and forgotten once the link is up (modem.link
forget_rare): a running link does not hold them in RAM.
"""
