"""A persistent outbound queue on flash: messages accepted by send() survive a reset.

    j = Journal("/journal.bin")            # opening replays the file (and repairs it)
    for key, data in j.pending(): ...      # records still open, in insertion order
    j.add(msg_id, record)                  # before sending (raises JournalFull when full)
    j.done(msg_id)                         # after a final outcome (tombstone)

The file is an append-only log, so a power cut costs at most the record being written. Each
record is

    magic A5 4A | kind 'A' add / 'D' done | key length (1) | data length (2, big-endian)
    | key (UTF-8) | data | CRC32 (4, big-endian) over kind..data

On open the log is replayed: a torn last record (power cut mid-write) is ignored and cut off;
a corrupt record elsewhere is skipped by scanning forward to the next magic that starts a
record whose CRC checks. Any damage found is repaired by a compaction. Compaction copies the
live records to `<path>.tmp` and renames it over the file; it runs by itself when the file
holds at least twice its live bytes (and at least `compact_min` bytes), so a busy device
rewrites the file rarely and appends otherwise (flash wear). A rename cut short on a
filesystem that removes the target first (FAT) is finished on the next open.

Delivery is at-least-once: a tombstone lost in a power cut makes the message go again after
the reboot with the same key (msgId), and receivers drop the duplicate (PC-26).
Portable: plain open/seek/read/write, os.rename, os.remove, os.stat; no os.path.
"""
import os
from binascii import crc32

from micropython import const

_MAGIC = b"\xa5\x4a"
_ADD = const(0x41)     # 'A'
_DONE = const(0x44)    # 'D'
_HDR = const(6)        # magic, kind, key length, data length
_TAIL = const(4)       # CRC32
_CHUNK = const(256)    # read size while replaying or copying: bounded RAM


class JournalFull(Exception):
    """add() would exceed max_records or max_bytes."""


def record(kind, key, data=b""):
    """Encode one record (bytes). key: bytes 1-255 octets; data: 0-65535 octets."""
    k = len(key)
    d = len(data)
    if not 0 < k < 256 or d > 0xFFFF:
        raise ValueError("journal: key 1-255 octets, data <= 65535 octets")
    n = _HDR + k + d
    b = bytearray(n + _TAIL)
    b[0:2] = _MAGIC
    b[2] = kind
    b[3] = k
    b[4] = d >> 8
    b[5] = d & 0xFF
    b[_HDR:_HDR + k] = key
    b[_HDR + k:n] = data
    c = crc32(memoryview(b)[2:n]) & 0xFFFFFFFF
    b[n] = c >> 24
    b[n + 1] = c >> 16 & 0xFF
    b[n + 2] = c >> 8 & 0xFF
    b[n + 3] = c & 0xFF
    return bytes(b)


def _fsize(path):
    try:
        return os.stat(path)[6]
    except OSError:
        return -1


class Journal:
    def __init__(self, path, max_records=32, max_bytes=16384, compact_min=1024):
        self.path = path
        self.tmp = path + ".tmp"
        self.max_records = max_records
        self.max_bytes = max_bytes      # bound on the live records' encoded size
        self.compact_min = compact_min
        self._keys = []                 # live keys, insertion order
        self._at = {}                   # key -> (offset, record length)
        self.size = 0                   # file size in bytes
        self.live = 0                   # encoded size of the live records
        self.repaired = 0               # opens that found damage (torn tail, corruption)
        self.compactions = 0
        self._open()

    # ------------------------------------------------------------ API
    def __len__(self):
        return len(self._keys)

    def __contains__(self, key):
        return key in self._at

    def add(self, key, data):
        """Append a record for key (a later add of the same key replaces it). Raises
        JournalFull when over max_records or max_bytes, ValueError for a key over 255 octets."""
        kb = key.encode()
        rec = record(_ADD, kb, data)
        old = self._at.get(key)
        n = len(self._keys) - (1 if old else 0)
        live = self.live - (old[1] if old else 0) + len(rec)
        if n >= self.max_records or live > self.max_bytes:
            raise JournalFull("journal full (%d records, %d bytes)" % (n, self.live))
        off = self._append(rec)
        if old:
            self._keys.remove(key)
        self._keys.append(key)
        self._at[key] = (off, len(rec))
        self.live = live

    def done(self, key):
        """Close key's record (append a tombstone). Returns False if key was not open."""
        old = self._at.get(key)
        if old is None:
            return False
        self._append(record(_DONE, key.encode()))
        del self._at[key]
        self._keys.remove(key)
        self.live -= old[1]
        if self.size >= 2 * self.live and self.size >= self.compact_min:
            self.compact()
        return True

    def pending(self):
        """[(key, data)] of the open records, oldest first."""
        out = []
        if not self._keys:
            return out
        f = open(self.path, "rb")
        try:
            for key in self._keys:
                off, n = self._at[key]
                f.seek(off)
                r = f.read(n)
                k = r[3]
                out.append((key, bytes(r[_HDR + k:n - _TAIL])))
        finally:
            f.close()
        return out

    def compact(self):
        """Rewrite the live records to a new file and rename it over the old one."""
        at = {}
        off = 0
        src = None
        if self._keys:
            src = open(self.path, "rb")
        dst = open(self.tmp, "wb")
        try:
            for key in self._keys:
                o, n = self._at[key]
                src.seek(o)
                left = n
                while left:
                    c = src.read(min(left, _CHUNK))
                    if not c:
                        raise OSError("journal: short read")
                    dst.write(c)
                    left -= len(c)
                at[key] = (off, n)
                off += n
        finally:
            dst.close()
            if src:
                src.close()
        os.rename(self.tmp, self.path)
        self._at = at
        self.size = off
        self.compactions += 1

    # ------------------------------------------------------------ file
    def _append(self, rec):
        """Write one record at the end in a single write; return its offset."""
        off = self.size
        f = open(self.path, "ab")
        try:
            f.write(rec)
            f.flush()
        except OSError:
            f.close()
            self.size = max(_fsize(self.path), off)  # a partial record is skipped on replay
            raise
        f.close()
        self.size = off + len(rec)
        return off

    def _open(self):
        if _fsize(self.tmp) >= 0:
            if _fsize(self.path) >= 0:
                os.remove(self.tmp)             # compaction cut short: the old file is intact
            else:
                os.rename(self.tmp, self.path)  # cut between remove and rename (FAT)
        try:
            f = open(self.path, "rb")
        except OSError:
            return                              # no file yet: empty journal
        try:
            damaged = self._replay(f)
        finally:
            f.close()
        for k in self._keys:
            self.live += self._at[k][1]
        if damaged:
            self.repaired += 1
        if damaged or (self.size >= 2 * self.live and self.size >= self.compact_min):
            self.compact()

    def _replay(self, f):
        pos = 0
        damaged = False
        while True:
            f.seek(pos)
            h = f.read(_HDR)
            if not h:
                break
            r = _parse(f, h) if h[:2] == _MAGIC else None
            if r is None:
                damaged = True                  # torn or corrupt: resync on the next magic
                pos = _find(f, pos + 1)
                if pos < 0:
                    break
                continue
            n, kind, key = r
            if key in self._at:
                del self._at[key]
                self._keys.remove(key)
            if kind == _ADD:
                self._keys.append(key)
                self._at[key] = (pos, n)
            pos += n
        f.seek(0, 2)
        self.size = f.tell()
        return damaged


def _parse(f, h):
    """(record length, kind, key) of the record whose header h was just read, else None."""
    if len(h) < _HDR:
        return None
    kind = h[2]
    k = h[3]
    d = h[4] << 8 | h[5]
    if k == 0 or not (kind == _ADD or (kind == _DONE and d == 0)):
        return None
    kb = f.read(k)
    if len(kb) < k:
        return None
    c = crc32(kb, crc32(h[2:]))
    left = d
    while left:
        b = f.read(min(left, _CHUNK))
        if not b:
            return None
        c = crc32(b, c)
        left -= len(b)
    t = f.read(_TAIL)
    if len(t) < _TAIL or int.from_bytes(t, "big") != c & 0xFFFFFFFF:
        return None
    try:
        key = kb.decode()
    except UnicodeError:
        return None
    return _HDR + k + d + _TAIL, kind, key


def _find(f, pos):
    """Offset of the next magic at or after pos, or -1."""
    while True:
        f.seek(pos)
        b = f.read(_CHUNK)
        if len(b) < 2:
            return -1
        i = b.find(_MAGIC)
        if i >= 0:
            return pos + i
        pos += len(b) - 1
