"""CoAP names for applications, tools and the REPL: codes, option numbers, Content-Formats.

Library modules do not import this (they fold the few constants they use with private
`const()` names, which cost no RAM); import it where readable names matter more than RAM.
"""
from micropython import const

# Types (RFC 7252 3)
CON = const(0)
NON = const(1)
ACK = const(2)
RST = const(3)

# Method and response codes as the code byte (class << 5 | detail)
EMPTY = const(0)
GET = const(1)
POST = const(2)
PUT = const(3)
DELETE = const(4)
CREATED = const(0x41)
DELETED = const(0x42)
VALID = const(0x43)
CHANGED = const(0x44)
CONTENT = const(0x45)
CONTINUE = const(0x5F)
BAD_REQUEST = const(0x80)
UNAUTHORIZED = const(0x81)
BAD_OPTION = const(0x82)
FORBIDDEN = const(0x83)
NOT_FOUND = const(0x84)
METHOD_NOT_ALLOWED = const(0x85)
NOT_ACCEPTABLE = const(0x86)
REQUEST_ENTITY_INCOMPLETE = const(0x88)
PRECONDITION_FAILED = const(0x8C)
REQUEST_ENTITY_TOO_LARGE = const(0x8D)
UNSUPPORTED_CONTENT_FORMAT = const(0x8F)
INTERNAL_SERVER_ERROR = const(0xA0)
NOT_IMPLEMENTED = const(0xA1)
BAD_GATEWAY = const(0xA2)
SERVICE_UNAVAILABLE = const(0xA3)
GATEWAY_TIMEOUT = const(0xA4)

# Option numbers (RFC 7252 5.10, RFC 7959, RFC 7641, RFC 7967)
IF_MATCH = const(1)
URI_HOST = const(3)
ETAG = const(4)
IF_NONE_MATCH = const(5)
OBSERVE = const(6)
URI_PORT = const(7)
LOCATION_PATH = const(8)
URI_PATH = const(11)
CONTENT_FORMAT = const(12)
MAX_AGE = const(14)
URI_QUERY = const(15)
ACCEPT = const(17)
LOCATION_QUERY = const(20)
BLOCK2 = const(23)
BLOCK1 = const(27)
SIZE2 = const(28)
PROXY_URI = const(35)
PROXY_SCHEME = const(39)
SIZE1 = const(60)
NO_RESPONSE = const(258)

# Content-Formats used here
CF_TEXT = const(0)
CF_LINK = const(40)
CF_XML = const(41)
CF_OCTETS = const(42)
CF_JSON = const(50)
CF_CBOR = const(60)


def code_str(code):
    """0x45 -> '2.05'."""
    return "%d.%02d" % (code >> 5, code & 31)
