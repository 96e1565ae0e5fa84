"""Segmentation and reassembly of MSGin5G messages (TS 23.554 8.5; PC-30, PC-31, PC-32).

Plain state machines: the current time `now` (a time.ticks_ms() value) is passed in and
compared with time.ticks_diff, so they work across tick wrap and run without a clock.

Sender:   size = eff_segment_size(...); segs = Segments(ori, dest, seg_id, payload, size)
          hold = SegmentHold(); hold.hold(segs, now); on SEGREC: hold.resend(...);
          on SEGCONFIR: hold.confirm(seg_id); periodically hold.expire(now).
Receiver: r = Reassembler(); r.add(decoded_segment, now) per segment (each written into
          the message's one buffer as it arrives); r.poll(now) returns the SEGREC /
          SEGCONFIR / IMDN messages the client must send.
"""
import time

from micropython import const

from msgin5g import ids, wire

T_REASM = const(60000)  # ms, reassembly timer (PC-32)
T_GAP = const(5000)  # ms, wait after the last segment when gaps remain (PC-32)
ROUNDS = const(2)  # SEGREC rounds before giving up (PC-32)
MAX_SEGS = const(128)  # PC-31
_DONE_KEEP = const(4)  # finished sets remembered, so late copies are seen as duplicates


def eff_segment_size(cfg_size, server_allowed=None, first_hop_packet=None):
    """PC-30: min(config or 2048, server limit or 2048, first-hop packet - 400, 512).

    Never below 64 octets (the PC-13 minimum segment size).
    """
    s = min(cfg_size or 2048, server_allowed or 2048, 512)
    if first_hop_packet:
        s = min(s, first_hop_packet - 400)
    return max(s, 64)


def split(payload, size):
    """Bytes-like payload -> list of memoryview chunks of at most `size` octets (no copy).

    An empty payload gives one empty chunk. ValueError if more than 128 chunks (PC-31).
    """
    if size < 1:
        raise ValueError("segment size < 1")
    mv = memoryview(payload)
    n = len(mv)
    if n > size * MAX_SEGS:
        raise ValueError("more than 128 segments")
    return [mv[i:i + size] for i in range(0, n, size)] or [mv[0:0]]


class Segments:
    """The segments of one message (PC-31) as a sequence: segs[i] is the MSG dict of segment
    i + 1, built when asked for. A segmented message queued or held for SEGREC costs its
    payload and the msgIds given out, not a dict per segment (10 of them for 5 KB: 2.6 KB on
    a 32-bit board). A segment keeps the msgId it got first: built again, it is the same.

    seg_id = the msgId the unsegmented message would have had; each segment gets a fresh
    msgId from new_id(). totalSegCount and delivStReqInd go in segment 1 only,
    lastSegFlag in the last only; appId, addresses, priority and store-and-forward in all.
    ValueError for more than 128 segments or a size below 1.
    """

    def __init__(self, ori, dest, seg_id, payload, size, app_id=None, report=False,
                 priority=None, store_fwd=False, expire=None, new_id=ids.new_msg_id):
        if size < 1:
            raise ValueError("segment size < 1")
        self.data = memoryview(payload)
        n = len(self.data)
        if n > size * MAX_SEGS:
            raise ValueError("more than 128 segments")
        self.size = size
        self.n = (n + size - 1) // size or 1  # an empty payload is one empty segment
        self.ids = [None] * self.n
        self.seg_id = seg_id
        self.head = (ori, dest, app_id, report, priority, store_fwd, expire)
        self.new_id = new_id

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError("segment")
        mid = self.ids[i]
        if mid is None:
            mid = self.ids[i] = self.new_id()
        ori, dest, app_id, report, priority, store_fwd, expire = self.head
        k = i + 1
        return wire.msg(ori, dest, mid, self.data[i * self.size:k * self.size], app_id,
                        report and k == 1, priority, store_fwd, expire, self.seg_id, k,
                        self.n if k == 1 else None, k == self.n)


def segments(ori, dest, seg_id, payload, size, app_id=None, report=False, priority=None,
             store_fwd=False, expire=None, new_id=ids.new_msg_id):
    """The MSG dicts of a segmented message (PC-31), all built now: a list of Segments(...)."""
    segs = Segments(ori, dest, seg_id, payload, size, app_id, report, priority, store_fwd,
                    expire, new_id)
    return [segs[i] for i in range(len(segs))]


class SegmentHold:
    """Sender side (PC-32): keep the segments of a set until SEGCONFIR or t_hold ms.

    At most max_sets sets are held; holding one more drops the oldest.
    """

    def __init__(self, t_hold=3 * T_REASM, max_sets=2):
        self.t_hold = t_hold
        self.max_sets = max_sets
        self._sets = {}  # segId -> [time held (or last resent), [segment dicts]]

    def __len__(self):
        return len(self._sets)

    def hold(self, segs, now):
        """Hold the segments of a message (Segments, or the list segments() gives); return
        the segId dropped, if any."""
        seg_id = segs[0]["segParams"]["segId"]
        dropped = None
        if seg_id not in self._sets and len(self._sets) >= self.max_sets:
            for k in self._sets:
                if dropped is None or time.ticks_diff(self._sets[k][0],
                                                      self._sets[dropped][0]) < 0:
                    dropped = k
            del self._sets[dropped]
        self._sets[seg_id] = [now, segs]
        return dropped

    def resend(self, seg_id, missing=(), from_seg=None, now=None):
        """Segments to send again for a SEGREC: the numbers in `missing` and, if from_seg is
        given, from_seg and all after. Same dicts (same msgIds) as the first time. [] when the
        set is not held. `now` restarts the hold time."""
        e = self._sets.get(seg_id)
        if e is None:
            return []
        if now is not None:
            e[0] = now
        segs = e[1]  # in order: segs[i] is segment i + 1
        return [segs[i] for i in range(len(segs)) if i + 1 in missing
                or from_seg is not None and i + 1 >= from_seg]

    def confirm(self, seg_id):
        """SEGCONFIR received: forget the set. True if it was held."""
        return self._sets.pop(seg_id, None) is not None

    def expire(self, now):
        """Drop sets held for t_hold ms or more; return their segIds."""
        gone = [k for k in self._sets if time.ticks_diff(now, self._sets[k][0]) >= self.t_hold]
        for k in gone:
            del self._sets[k]
        return gone


def _buffer(n):
    # The reassembly buffer (its own function: tests make it fail as a full heap would).
    return bytearray(n)


class _Set:
    # One partial message. Segment k goes to (k - 1) * size in buf as it arrives: the message
    # is never held twice (parts, then their join), and the one buffer is taken at the start,
    # before a few hundred other objects cut the heap into pieces shorter than the message.
    def __init__(self, seg, now):
        self.ori = seg["oriAddr"]
        self.dest = seg.get("destAddr")
        self.got = []  # segment numbers received
        self.early = {}  # segNumb -> payload until segment 1 and the count are known
        self.buf = None
        self.size = 0  # octets in every segment but the last: segment 1's length
        self.end = 0  # message length once the last segment is in
        self.nbytes = 0
        self.maxlen = 0
        self.total = None
        self.first = None  # segment 1 without its payload (appId, delivStReqInd, ...)
        self.got_last = False
        self.rounds = 0
        self.t = now
        self.wait = T_REASM

    def fits(self, n, data):
        # PC-31 segments are cut at one size: all but the last are as long as segment 1.
        k = len(data)
        return k == self.size if n < self.total else k <= self.size

    def put(self, n, data):
        o = (n - 1) * self.size
        self.buf[o:o + len(data)] = data
        if n == self.total:
            self.end = o + len(data)

    def lay_out(self):
        # Segment 1 and the count are in: take the buffer and move the early segments into it.
        self.size = len(self.early[1])
        for n in self.early:
            if not self.fits(n, self.early[n]):
                return False
        self.buf = _buffer(self.total * self.size)  # MemoryError: the caller undoes the segment
        for n in self.early:
            self.put(n, self.early[n])
        self.early = None
        return True


class Reassembler:
    """Receiver side (PC-32). Partial messages are keyed by (oriAddr.addr, segId).

    add() answers each segment with one of:
      ('partial',)                      stored, more to come (answer 2.04)
      ('duplicate',)                    already had it; ignored (answer 2.04)
      ('complete', payload, first, conf) deliver payload (a bytearray); first = segment 1
                                        without payload (appId, delivStReqInd...); send
                                        conf = SEGCONFIR SUCCESS
      ('reject', code)                  answer with this CoAP code: 4.13 (too large, set
                                        dropped), 5.03 (too many sets; Max-Age 30), 4.00 (bad;
                                        also a segment whose length differs from segment 1's,
                                        or a last one longer)
    The message is written into one buffer of totalSegCount x segment 1's length, taken when
    both are known (with segment 1, in order); when the heap cannot give it, add() raises
    MemoryError and forgets the segment, as if it was lost (the sender's retry or SEGREC
    brings it again).
    poll(now) returns the messages to send: a SEGREC per set whose timer ran out, and after
    ROUNDS rounds a SEGCONFIR FAILURE, followed by an IMDN REPT_DELY_FAILED /
    SEGMENTS_MISSING when segment 1 asked for a delivery report.
    `me` = own address for oriAddr of those messages (default: destAddr of the segments).
    """

    def __init__(self, max_sets=2, max_bytes=8192, t_reasm=T_REASM, me=None,
                 new_id=ids.new_msg_id):
        self.max_sets = max_sets
        self.max_bytes = max_bytes
        self.t_reasm = t_reasm
        self.me = me
        self.new_id = new_id
        self._sets = {}
        self._done = []  # [(key, time finished)], newest last

    def __len__(self):
        return len(self._sets)

    def _finish(self, key, now):
        del self._sets[key]
        self._done.append((key, now))
        if len(self._done) > _DONE_KEEP:
            self._done.pop(0)

    def add(self, seg, now):
        p = seg.get("segParams")
        ori = seg.get("oriAddr")
        if not isinstance(p, dict) or not isinstance(ori, dict):
            return ("reject", wire.BAD_REQUEST)
        n = p.get("segNumb")
        seg_id = p.get("segId")
        if not isinstance(n, int) or not 1 <= n <= MAX_SEGS or not isinstance(seg_id, str):
            return ("reject", wire.BAD_REQUEST)
        key = (ori.get("addr"), seg_id)
        for k, t in self._done:
            if k == key and time.ticks_diff(now, t) < 3 * self.t_reasm:
                return ("duplicate",)
        s = self._sets.get(key)
        if s is not None and n in s.got:
            return ("duplicate",)
        if s is None and len(self._sets) >= self.max_sets:
            return ("reject", wire.SERVICE_UNAVAILABLE)
        data = seg.get("payload") or b""
        total = s.total if s else None
        tsc = p.get("totalSegCount")
        last = p.get("lastSegFlag") is True
        for t in (tsc, n if last else None):
            if t is not None:
                if not isinstance(t, int) or total is not None and t != total:
                    return ("reject", wire.BAD_REQUEST)  # inconsistent segment count
                total = t
        if total is not None and (n > total or s and max(s.got, default=0) > total):
            return ("reject", wire.BAD_REQUEST)
        if s and s.buf is not None and not s.fits(n, data):
            return ("reject", wire.BAD_REQUEST)
        maxlen = max(s.maxlen if s else 0, len(data))
        nbytes = (s.nbytes if s else 0) + len(data)
        if nbytes > self.max_bytes or total is not None and total * maxlen > self.max_bytes:
            if s:
                self._finish(key, now)
            return ("reject", wire.REQUEST_TOO_LARGE)
        if s is None:
            s = self._sets[key] = _Set(seg, now)
        if s.buf is None:
            known = s.total
            s.total = total
            s.early[n] = data if isinstance(data, bytes) else bytes(data)
            try:
                if total is not None and 1 in s.early and not s.lay_out():
                    self._finish(key, now)  # lengths that fit no layout: drop the set
                    return ("reject", wire.BAD_REQUEST)
            except MemoryError:
                # No contiguous heap for the message now: forget this segment, as if it was
                # lost, so that the sender's retry or our SEGREC (T_GAP later) brings it again
                # and the buffer is tried then.
                del s.early[n]
                s.total = known
                if not s.got:
                    del self._sets[key]
                s.wait = T_GAP
                raise
        else:
            s.put(n, data)
        s.got.append(n)
        s.nbytes = nbytes
        s.maxlen = maxlen
        s.got_last = s.got_last or last
        if n == 1:
            s.first = {k: v for k, v in seg.items() if k != "payload"}
        s.t = now  # T_REASM restarts on each new segment
        s.wait = T_GAP if s.got_last else self.t_reasm
        if total is None or len(s.got) < total:
            return ("partial",)
        payload = s.buf
        if s.end < len(payload):
            payload[s.end:] = b""  # the last segment is shorter: cut in place, no copy
        self._finish(key, now)
        conf = wire.segconfir(self.me or s.dest, s.ori, self.new_id(), seg_id, wire.SUCCESS)
        return ("complete", payload, s.first, conf)

    def missing(self, key):
        """(missingSegs, fromSeg) of a partial set; fromSeg None when the count is known."""
        s = self._sets[key]
        hi = s.total or max(s.got)
        miss = [i for i in range(1, hi + 1) if i not in s.got]
        return miss, None if s.total or hi >= MAX_SEGS else hi + 1

    def poll(self, now):
        """Messages due at `now` (see the class doc); call it every second or so."""
        out = []
        for key in list(self._sets):
            s = self._sets[key]
            if time.ticks_diff(now, s.t) < s.wait:
                continue
            me = self.me or s.dest
            if s.rounds < ROUNDS:
                s.rounds += 1
                s.t = now  # a fresh T_REASM after each SEGREC
                s.wait = self.t_reasm
                miss, frm = self.missing(key)
                out.append(wire.segrec(me, s.ori, self.new_id(), key[1], miss, frm))
            else:
                self._finish(key, now)
                out.append(wire.segconfir(me, s.ori, self.new_id(), key[1], wire.FAILURE))
                if s.first and s.first.get("delivStReqInd") is True:
                    # PC-31: reports for a segmented message carry segId as msgId
                    out.append(wire.imdn(me, s.ori, key[1], wire.DELIV_FAILED,
                                         wire.SEGMENTS_MISSING))
        return out
