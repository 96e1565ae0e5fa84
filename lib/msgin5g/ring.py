"""What a device remembers about recent traffic, in memory allocated once.

Kept as str, bytes or tuple objects, such memories are allocated per message and outlive
hundreds of other objects: on a small heap they end up spread all over it and cut it into
pieces too short for a large message (a 5 KB reassembly failed in a heap a quarter free).
Both classes here allocate at creation only.

Ring: the last n short records (bytes), e.g. messages shown by the REPL's inbox().
Seen: message IDs seen recently (PC-26 duplicate suppression), as two 30-bit parts of their
SHA-256: small ints, no object per ID. Two different IDs are taken for one with a
probability of 2**-60 per pair (32 remembered: about 3e-17 per received message).
"""
import hashlib
import time


class Ring:
    def __init__(self, n, size):
        self.buf = bytearray(n * size)
        self.n = n
        self.size = size
        self.next = 0       # slot the next put() writes
        self.count = 0      # records held (at most n)

    def put(self, rec):
        """Keep rec (bytes; cut to size - 1 octets), dropping the oldest when full."""
        s = self.size
        i = self.next
        o = i * s
        k = min(len(rec), s - 1)
        b = self.buf
        b[o] = k
        b[o + 1:o + 1 + k] = memoryview(rec)[:k]
        self.next = (i + 1) % self.n
        self.count = min(self.count + 1, self.n)

    def last(self, n):
        """The last n records, oldest first (allocates: for the REPL)."""
        c = self.count
        out = []
        for j in range(max(c - n, 0), c):
            o = (self.next - c + j) % self.n * self.size
            out.append(bytes(self.buf[o + 1:o + 1 + self.buf[o]]))
        return out


class Seen:
    def __init__(self, n, ttl_ms):
        self.a = [-1] * n
        self.b = [-1] * n
        self.t = [0] * n
        self.ttl = ttl_ms
        self.next = 0

    def check(self, msg_id, now):
        """True when msg_id was seen within ttl_ms; otherwise remember it and return False."""
        d = hashlib.sha256(msg_id.encode() if isinstance(msg_id, str) else msg_id).digest()
        a = int.from_bytes(d[:4], "big") >> 2    # 30 bits: a small int on 32-bit boards too
        b = int.from_bytes(d[4:8], "big") >> 2
        sa = self.a
        if a in sa:     # one scan in C; the loop below runs for a likely duplicate only
            for i in range(len(sa)):
                if sa[i] == a and self.b[i] == b and time.ticks_diff(now, self.t[i]) < self.ttl:
                    return True
        i = self.next
        sa[i] = a
        self.b[i] = b
        self.t[i] = now
        self.next = (i + 1) % len(sa)
        return False

    def export(self, now):
        """[(a, b, age_ms)] of the IDs still within ttl_ms, oldest first: what a device keeps
        across deep sleep (msgin5g.sleepstate)."""
        out = []
        n = len(self.a)
        for j in range(n):
            i = (self.next + j) % n
            age = time.ticks_diff(now, self.t[i])
            if self.a[i] >= 0 and age < self.ttl:
                out.append((self.a[i], self.b[i], age))
        return out

    def restore(self, a, b, age_ms, now):
        """Remember an ID kept by export() (age_ms old at now)."""
        i = self.next
        self.a[i] = a
        self.b[i] = b
        self.t[i] = time.ticks_add(now, -age_ms)
        self.next = (i + 1) % len(self.a)
