"""A small RFC 7252 CoAP stack for MicroPython and CPython.

Three layers, as in aiocoap: `codec` (bytes <-> Message), `message` (CON/ACK reliability,
deduplication, NSTART), `endpoint` (tokens, requests, resources). `udp` binds an endpoint to a
socket with a poll loop and an asyncio runner. Import the module you need; this file imports
nothing so that `import coap` stays cheap.
"""
