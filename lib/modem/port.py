"""PtyUart: a tty or pseudo-terminal device as a UART (any/readinto/write), for the unix port
and CPython (a board passes its machine.UART instead).

The pty must be in raw mode (set by the side that creates it: the unix port has no termios,
TOOLCHAIN.md). On the unix port read(n) blocks until n octets came, so after poll() says
readable this reads one octet at a time into a preallocated buffer; CPython uses os.read on
a non-blocking descriptor. Nothing is allocated per octet.
"""
import select

try:
    import os
    _read = os.read
except (ImportError, AttributeError):
    _read = None


class PtyUart:
    def __init__(self, path):
        self.stream = f = open(path, "r+b", buffering=0)
        self._fd = None
        if _read is not None and hasattr(f, "fileno"):
            try:
                os.set_blocking(f.fileno(), False)
                self._fd = f.fileno()
            except (AttributeError, OSError):
                self._fd = None
        self._p = select.poll()
        self._p.register(f, select.POLLIN)
        self._one = bytearray(1)

    def fileno(self):
        return self.stream.fileno()

    def any(self):
        return 1 if self._p.poll(0) else 0

    def readinto(self, buf):
        if self._fd is not None:
            try:
                b = _read(self._fd, len(buf))
            except OSError:
                return 0
            n = len(b)
            buf[:n] = b
            return n
        n = 0
        one = self._one
        while n < len(buf) and self._p.poll(0):
            if not self.stream.readinto(one):
                break
            buf[n] = one[0]
            n += 1
        return n

    def write(self, b):
        return self.stream.write(b)

    def close(self):
        self.stream.close()
