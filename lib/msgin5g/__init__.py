"""MSGin5G client library (TS 24.538 / TS 23.554, project profile in PROTOCOL.md).

Importing the package is cheap on purpose: it imports nothing. Import the part you need:
`msgin5g.ids` (Message IDs), `msgin5g.wire` (MSGin5G-1 JSON codec), `msgin5g.confxml`
(configuration XML), `msgin5g.devconfig` (device config file), `msgin5g.segment`
(segmentation and reassembly).
"""
__version__ = "0.1.0"
