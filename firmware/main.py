# main.py: the device's entry point. Board: /config.json (+ /secrets.json); unix port:
# `micropython firmware/main.py CONFIG`. The work is in the startup module (frozen or .mpy):
# a file like this one is compiled into RAM at every boot, so it stays this short.
import sys

from startup import main

if __name__ == "__main__":
    sys.exit(main(sys.argv))
