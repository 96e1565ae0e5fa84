"""Constrained UEs (TS 24.538 clause 4, 6.3.2-6.3.3; docs/constrained.md): the roles that serve
them and the Annex A codecs. Only a device whose config `role` is gateway, relay or cue loads
this package (Device.main() -> `roles.start(dev)`); a plain `ue` never does.

  roles      start-up of the gateway, relay and cue roles on a Device
  gateway    Gateway UE: MSGin5G-5 (Annex A) for CUEs without an MSGin5G Client
  relay      Relay UE: MSGin5G-6, CoAP forwarding for CUEs with an MSGin5G Client
  appclient  the Annex A Application Client of a CUE (role cue)
  a2, a3     the Annex A codecs: A.2 binary L3 (PC-37), A.3 CoAP+JSON (PC-38)
This file imports nothing: `import msgin5g.constrained.a2` loads the codec alone.
"""
