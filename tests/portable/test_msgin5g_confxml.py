# heapsize: 128k
# board-heapsize: 18k   (unix32, library frozen; measured minimum 14k)
"""msgin5g.confxml: configuration XML by local name (PC-13, PC-36)."""
from msgin5g import confxml
from tinytest import raises

SERVER = "coaps://msgin5g.example.net:5684"
UEID = "ue-0001@msgin5g.example.net"
EXAMPLE = """<?xml version="1.0" encoding="UTF-8"?>
<seal-UE-configuration xmlns:m5="urn:3gpp:ns:seal:MSGin5GUEConfig:1.0">
  <on-network>
    <m5:MSGin5G-Server-address>coaps://msgin5g.example.net:5684</m5:MSGin5G-Server-address>
    <m5:MSGin5G-UE-Service-id>ue-0001@msgin5g.example.net</m5:MSGin5G-UE-Service-id>
    <m5:Segment-size>512</m5:Segment-size>
  </on-network>
</seal-UE-configuration>
"""


def _doc(server=SERVER, ueid=UEID, seg=None, prefix="", extra=""):
    p = prefix
    s = "<seal-UE-configuration><on-network>" + extra
    if server is not None:
        s += "<%sMSGin5G-Server-address>%s</%sMSGin5G-Server-address>" % (p, server, p)
    if ueid is not None:
        s += "<%sMSGin5G-UE-Service-id>%s</%sMSGin5G-UE-Service-id>" % (p, ueid, p)
    if seg is not None:
        s += "<%sSegment-size>%s</%sSegment-size>" % (p, seg, p)
    return s + "</on-network></seal-UE-configuration>"


def _msg(data):
    return str(raises(ValueError, confxml.parse, data))


def test_protocol_example_str_and_bytes():  # PROTOCOL §9.3
    want = {"server": SERVER, "ueServiceId": UEID, "segmentSize": 512}
    assert confxml.parse(EXAMPLE) == want
    assert confxml.parse(EXAMPLE.encode()) == want
    assert confxml.parse(b"\xef\xbb\xbf" + EXAMPLE.encode()) == want  # UTF-8 BOM
    assert confxml.parse(memoryview(EXAMPLE.encode())) == want


def test_any_prefix_or_default_namespace():
    for p in ("", "m5:", "x:", "ns-1:"):
        assert confxml.parse(_doc(prefix=p))["server"] == SERVER
    d = EXAMPLE.replace("m5:", "").replace('xmlns:m5=', 'xmlns=')
    assert confxml.parse(d)["ueServiceId"] == UEID
    d = EXAMPLE.replace("<seal-UE-configuration", "<s:seal-UE-configuration xmlns:s='urn:x'")
    d = d.replace("</seal-UE-configuration", "</s:seal-UE-configuration")
    d = d.replace("on-network>", "s:on-network>")
    assert confxml.parse(d)["server"] == SERVER


def test_whitespace_comments_cdata_attributes_entities():
    doc = """<?xml version='1.0'?>
<!-- <MSGin5G-Server-address>coap://fake</MSGin5G-Server-address> -->
<!DOCTYPE seal-UE-configuration [ <!ENTITY x "y"> ]>
<seal-UE-configuration a="1>2" b='x/'>
 <on-network note="a > b">
  <MSGin5G-Server-address type="uri" >
     coap://h.example:5683
  </MSGin5G-Server-address>
  <!-- comment between -->
  <MSGin5G-UE-Service-id><![CDATA[ue<&>1]]>&amp;&lt;&gt;&quot;&apos;&#65;&#x42;&#x4a;&unknown;x</MSGin5G-UE-Service-id>
  <Segment-size> 100 </Segment-size>
 </on-network >
</seal-UE-configuration>
<!-- trailing -->
"""
    r = confxml.parse(doc)
    assert r == {"server": "coap://h.example:5683",
                 "ueServiceId": "ue<&>1&<>\"'ABJ&unknown;x", "segmentSize": 100}


def test_first_occurrence_under_on_network_wins():
    extra = ("<MSGin5G-Server-address>coap://first</MSGin5G-Server-address>"
             "<MSGin5G-UE-Service-id>first-id</MSGin5G-UE-Service-id>")
    r = confxml.parse(_doc(extra=extra))
    assert r["server"] == "coap://first" and r["ueServiceId"] == "first-id"


def test_elements_outside_on_network_ignored():
    doc = ("<seal-UE-configuration><off-network>"
           "<MSGin5G-Server-address>coap://off</MSGin5G-Server-address>"
           "<MSGin5G-UE-Service-id>off-id</MSGin5G-UE-Service-id></off-network>"
           "<on-network><x><MSGin5G-Server-address>coap://on</MSGin5G-Server-address></x>"
           "<MSGin5G-UE-Service-id>on-id</MSGin5G-UE-Service-id></on-network>"
           "</seal-UE-configuration>")
    assert confxml.parse(doc) == {"server": "coap://on", "ueServiceId": "on-id",
                                  "segmentSize": None}
    only_off = doc[:doc.index("<on-network>")] + "</seal-UE-configuration>"
    assert "MSGin5G-Server-address" in _msg(only_off)


def test_missing_mandatory_elements():
    m = _msg(_doc(server=None))
    assert m.startswith("config XML: ") and "<MSGin5G-Server-address>" in m
    assert "<MSGin5G-UE-Service-id>" in _msg(_doc(ueid=None))
    assert "<MSGin5G-Server-address>" in _msg(_doc(server="  "))  # blank = missing
    assert "MSGin5G-Server-address" in _msg("")
    assert "MSGin5G-Server-address" in _msg("just text")


def test_segment_size_clamped_and_checked():  # PC-13
    for given, want in (("512", 512), ("64", 64), ("2048", 2048), ("5000", 2048),
                        ("10", 64), ("0", 64), (" 300\n", 300), ("000128", 128)):
        assert confxml.parse(_doc(seg=given))["segmentSize"] == want, given
    assert confxml.parse(_doc())["segmentSize"] is None
    assert confxml.parse(_doc(extra="<Segment-size/>"))["segmentSize"] is None
    for bad in ("abc", "-1", "1.5", "", "12 34", "\u0663", "9999999999"):
        assert "Segment-size" in _msg(_doc(seg=bad)), bad


def test_collection_first_complete_document():
    body = ("<ue-configurations>" + _doc(ueid=None) +
            _doc(server="coap://second", ueid="second-id", seg="256") +
            _doc(server="coap://third", ueid="third-id") + "</ue-configurations>")
    assert confxml.parse(body) == {"server": "coap://second", "ueServiceId": "second-id",
                                   "segmentSize": 256}
    # several documents one after the other, each with its declaration
    two = '<?xml version="1.0"?>' + _doc(server=None) + '<?xml version="1.0"?>' + _doc()
    assert confxml.parse(two)["server"] == SERVER
    # none complete: the error names what the first document lacks
    assert "<MSGin5G-UE-Service-id>" in _msg("<c>" + _doc(ueid=None) + _doc(ueid=None) + "</c>")


def test_malformed_documents():
    for bad, what in (("<a><!-- x", "comment"), ("<a>", "unclosed"), ("<a></b>", "unexpected"),
                      ("<a", "unterminated tag"), ("<a><![CDATA[x</a>", "CDATA"),
                      ("<?xml ", "processing instruction"), ("<>x</>", "empty tag"),
                      (_doc(ueid="&#xZZ;"), "character reference"),
                      (_doc(ueid="&#;"), "character reference"),
                      (_doc(ueid="&#x110000;"), "character reference"),
                      (_doc(ueid="&#99999999;"), "character reference")):
        m = _msg(bad)
        assert m.startswith("config XML: "), (bad, m)
        assert what in m, (bad, m)


def test_bad_input_types():
    assert "UTF-8" in _msg(b"<a>\xff</a>")
    assert "UTF-8" in _msg(None)
    assert "UTF-8" in _msg(42)
