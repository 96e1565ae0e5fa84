// Runs a MicroPython script on the WebAssembly port (a 32-bit MicroPython, like ESP32 and
// RP2040 boards) with a tree of .mpy files importable, for heap figures a board would see.
//
//   node tools/host/wasm32.mjs PKGDIR MPYDIR SCRIPT.py
//
// PKGDIR holds node_modules/@micropython/micropython-webassembly-pyscript (tools/bench.py
// installs the pinned version there). MPYDIR's .mpy files are copied into the port's in-memory
// file system at /lib, the only import path besides the port's frozen modules.
import fs from "fs";
import path from "path";
import { pathToFileURL } from "url";

const [pkgdir, mpydir, script] = process.argv.slice(2);
const mod = path.join(pkgdir, "node_modules/@micropython/micropython-webassembly-pyscript/micropython.mjs");
const { loadMicroPython } = await import(pathToFileURL(mod).href);
const mp = await loadMicroPython({ stdout: (line) => process.stdout.write(line + "\n") });

function copy(src, dst) {
  for (const e of fs.readdirSync(src, { withFileTypes: true })) {
    const s = path.join(src, e.name);
    const d = dst + "/" + e.name;
    if (e.isDirectory()) {
      mp.FS.mkdir(d);
      copy(s, d);
    } else if (e.name.endsWith(".mpy")) {
      mp.FS.writeFile(d, fs.readFileSync(s));
    }
  }
}
mp.FS.mkdir("/lib");
copy(mpydir, "/lib");
mp.runPython("import sys\nsys.path[:] = ['/lib', '.frozen']");
mp.runPython(fs.readFileSync(script, "utf8"));
