"""A minimal asyncio REPL: reads lines from stdin without blocking the event loop and
evaluates them with the msgin5g.repl helpers in scope (MicroPython has aiorepl in
micropython-lib, which the registries here do not carry; this is the few lines we need)."""
import select
import sys


async def task():
    import asyncio
    from msgin5g import repl
    ns = {}
    for k in dir(repl):
        if not k.startswith("_"):
            ns[k] = getattr(repl, k)
    p = select.poll()
    p.register(sys.stdin, select.POLLIN)
    sys.stdout.write(">>> ")
    while True:
        if not p.poll(0):
            await asyncio.sleep_ms(50)
            continue
        line = sys.stdin.readline()
        if not line:
            return          # stdin closed
        line = line.strip()
        if line:
            try:
                try:
                    r = eval(line, ns)
                    if r is not None:
                        print(repr(r))
                except SyntaxError:
                    exec(line, ns)
            except Exception as e:
                print("%s: %s" % (type(e).__name__, e))
        sys.stdout.write(">>> ")
