"""MSGin5G UE configuration XML (TS 24.538 7.2; PC-13, PC-36).

A small scanner (MicroPython has no XML library). Elements are matched by LOCAL name, so any
namespace prefix works (the spec's own targetNamespace has a typo, A-13). Only elements with
an `on-network` ancestor count, and the first occurrence of each wins. A body holding several
documents (a collection, or several `seal-UE-configuration` elements) yields the first one
that has both the server address and the UE Service ID.

    parse(text_or_bytes) -> {"server": str, "ueServiceId": str, "segmentSize": int or None}

Raises ValueError (only) with a message saying what is wrong.
"""

_WANT = {"MSGin5G-Server-address": "server", "MSGin5G-UE-Service-id": "ueServiceId",
         "Segment-size": "segmentSize"}
_DOC = "seal-UE-configuration"
_ENT = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
SEG_MIN = 64  # PC-13 range of Segment-size (octets of payload per segment)
SEG_MAX = 2048


def _err(what):
    return ValueError("config XML: " + what)


def _unescape(s):
    # Character and the five predefined entity references; an unknown one stays as written.
    if "&" not in s:
        return s
    out = []
    i = 0
    while True:
        j = s.find("&", i)
        if j < 0:
            out.append(s[i:])
            return "".join(out)
        out.append(s[i:j])
        k = s.find(";", j + 1, j + 12)
        name = s[j + 1:k] if k > 0 else ""
        if name in _ENT:
            out.append(_ENT[name])
        elif name[:1] == "#":
            hexa = name[1:2] in ("x", "X")
            digits = name[2:] if hexa else name[1:]
            ok = 0 < len(digits) <= 7
            for c in digits:
                if not ("0" <= c <= "9" or hexa and ("a" <= c <= "f" or "A" <= c <= "F")):
                    ok = False
            c = int(digits, 16 if hexa else 10) if ok else -1
            if not 0 <= c <= 0x10FFFF:
                raise _err("bad character reference &" + name + ";")
            out.append(chr(c))
        else:
            out.append("&")
            k = j
        i = k + 1


def _tag_end(t, i):
    # Index of the '>' closing the tag that starts at t[i] == '<', skipping quoted values.
    q = None
    n = len(t)
    while i < n:
        c = t[i]
        if q:
            if c == q:
                q = None
        elif c == '"' or c == "'":
            q = c
        elif c == ">":
            return i
        i += 1
    raise _err("unterminated tag")


def _skip(t, i, end, what):
    j = t.find(end, i)
    if j < 0:
        raise _err("unterminated " + what)
    return j + len(end)


def _scan(t):
    # Yield (name, text) for each wanted element under on-network, and (_DOC, None) when a
    # document ends (the end of a seal-UE-configuration or of a top-level element).
    stack = []  # local names of the open elements
    onnet = 0  # how many open on-network elements
    cap = None  # (field, depth, parts) while capturing a wanted element's text
    i = 0
    n = len(t)
    while i < n:
        j = t.find("<", i)
        if j < 0:
            j = n
        if cap is not None and j > i:
            cap[2].append(_unescape(t[i:j]))
        if j >= n:
            break
        if t.startswith("<!--", j):
            i = _skip(t, j + 4, "-->", "comment")
        elif t.startswith("<![CDATA[", j):
            i = _skip(t, j + 9, "]]>", "CDATA")
            if cap is not None:
                cap[2].append(t[j + 9:i - 3])
        elif t.startswith("<?", j):
            i = _skip(t, j + 2, "?>", "processing instruction")
        elif t.startswith("<!", j):  # DOCTYPE (with an internal subset) and the like
            k = t.find("[", j, _tag_end(t, j))
            i = _skip(t, k, "]", "DOCTYPE") if k >= 0 else j
            i = _tag_end(t, i) + 1
        else:
            k = _tag_end(t, j)
            i = k + 1
            end = t[j + 1:j + 2] == "/"
            body = t[j + 2:k] if end else t[j + 1:k]
            empty = body.endswith("/")
            name = body.rstrip("/").split(None, 1)
            if not name:
                raise _err("empty tag name")
            name = name[0]
            local = name[name.find(":") + 1:]
            if end:
                if local not in stack:
                    raise _err("unexpected </" + name + ">")
                while stack:
                    top = stack.pop()
                    if cap is not None and len(stack) == cap[1]:
                        yield cap[0], "".join(cap[2])
                        cap = None
                    if top == "on-network":
                        onnet -= 1
                    if top == _DOC or not stack:
                        yield _DOC, None
                    if top == local:
                        break
            elif empty:
                if not stack:
                    yield _DOC, None
            else:
                if cap is None and onnet and local in _WANT:
                    cap = (_WANT[local], len(stack), [])
                stack.append(local)
                if local == "on-network":
                    onnet += 1
    if stack:
        raise _err("unclosed <" + stack[-1] + ">")


def _seg_size(s):
    for c in s:
        if not "0" <= c <= "9":
            raise _err("Segment-size is not an unsigned integer")
    if not s or len(s) > 9:
        raise _err("Segment-size is not an unsigned integer")
    return min(max(int(s), SEG_MIN), SEG_MAX)  # PC-13: 64..2048, larger values clamped


def parse(data):
    """Configuration XML (str or bytes) -> {"server", "ueServiceId", "segmentSize"}."""
    if not isinstance(data, str):
        try:
            data = str(data, "utf-8")
        except Exception:
            raise _err("not UTF-8 text")
    if data[:1] == "\ufeff":
        data = data[1:]
    first = None
    doc = {}
    for field, text in _scan(data):
        if field == _DOC:
            if doc.get("server") and doc.get("ueServiceId"):
                break
            if first is None and doc:
                first = doc
            doc = {}
        elif field not in doc:
            doc[field] = text.strip()
    else:
        if not (doc.get("server") and doc.get("ueServiceId")):
            doc = first or doc
    for field, elem in (("server", "MSGin5G-Server-address"),
                        ("ueServiceId", "MSGin5G-UE-Service-id")):
        if not doc.get(field):
            raise _err("missing <" + elem + "> under <on-network>")
    seg = doc.get("segmentSize")
    return {"server": doc["server"], "ueServiceId": doc["ueServiceId"],
            "segmentSize": _seg_size(seg) if seg is not None else None}
