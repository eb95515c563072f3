// Runs the shop unit's firmware under real MicroPython (the WebAssembly port from npm) in
// Node, for simulators/shop_unit.py. The firmware's files go into MicroPython's in-memory
// filesystem under /lib with the repository's layout, with micropython-lib's umqtt.simple
// as scripts/setup fetched it (firmware/shop/lib/). A `harness` module carries every UART,
// pin, wait and socket call as one JSON line on a pipe and blocks reading the answer line from
// another (fds SHOP_OUT_FD and SHOP_IN_FD), so the firmware runs exactly as it would on its own loop.
// Usage: node firmware/tests/shop_node.mjs main|bare N|compile [heap bytes]
import {
  existsSync, mkdirSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync, writeSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const here = dirname(fileURLToPath(import.meta.url));
const firmware = join(here, "..");
const HARDWARE_ONLY = new Set(["main.py", "board.py"]);
const [mode = "main", count = "100", heap = String(256 * 1024)] = process.argv.slice(2);

const IN_FD = Number(process.env.SHOP_IN_FD ?? 3);
const OUT_FD = Number(process.env.SHOP_OUT_FD ?? 4);
const inbuf = Buffer.alloc(1 << 16);
let pending = "";

function readLine() {
  for (;;) {
    const nl = pending.indexOf("\n");
    if (nl >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      return line;
    }
    let n;
    try {
      n = readSync(IN_FD, inbuf, 0, inbuf.length, null);
    } catch (err) {
      if (err.code === "EAGAIN") continue;
      throw err;
    }
    if (n === 0) throw new Error("harness closed the channel");
    pending += inbuf.toString("utf8", 0, n);
  }
}

function call(request) {
  writeSync(OUT_FD, request + "\n");
  return readLine();
}

const mp = await loadMicroPython({
  heapsize: Number(heap),
  stdout: (line) => console.log(line),
  stderr: (line) => console.error(line),
});
mp.registerJsModule("harness", { call });

function copy(sub, files, target = join("/lib/firmware", sub)) {
  mp.FS.mkdirTree(target);
  for (const f of files) mp.FS.writeFile(join(target, f), readFileSync(join(firmware, sub, f)));
}
const py = (dir) => readdirSync(join(firmware, dir)).filter((f) => f.endsWith(".py"));
copy("", ["__init__.py", "manual_id.py", "protocol.py", "verdict.py"]);
copy("board", ["__init__.py", "ticks.py"]);
copy("shop", py("shop").filter((f) => !HARDWARE_ONLY.has(f)));
copy("shop/lib/umqtt", py("shop/lib/umqtt"), "/lib/umqtt");
mp.FS.writeFile("/lib/usocket.py", "from firmware.shop.sim_board import socket, getaddrinfo\n");

// The unit's flash: SHOP_FLASH (a host folder) is loaded into /flash at start and written
// back when the unit stops, so a test can restart the unit on the flash it left, or on a
// flash it damaged on purpose (a power cut in the middle of a write).
const flash = process.env.SHOP_FLASH;
function load(host, dir) {
  mp.FS.mkdirTree(dir);
  for (const name of readdirSync(host)) {
    const path = join(host, name);
    if (statSync(path).isDirectory()) load(path, join(dir, name));
    else mp.FS.writeFile(join(dir, name), readFileSync(path));
  }
}
function save(dir, host) {
  mkdirSync(host, { recursive: true });
  for (const name of mp.FS.readdir(dir)) {
    if (name === "." || name === "..") continue;
    const path = join(dir, name);
    if (mp.FS.isDir(mp.FS.stat(path).mode)) save(path, join(host, name));
    else writeFileSync(join(host, name), mp.FS.readFile(path));
  }
}
if (flash && existsSync(flash)) load(flash, "/flash");

try {
  if (mode === "compile") {
    // the hardware-only modules cannot run here; MicroPython's compiler still checks them
    const sources = [...HARDWARE_ONLY].map((f) => [f, readFileSync(join(firmware, "shop", f), "utf8")]);
    mp.globals.set("_sources", JSON.stringify(sources));
    mp.runPython(`
import json
for _name, _text in json.loads(_sources):
    compile(_text, _name, "exec")
    print("compiled", _name)
`);
  } else if (mode === "bare") {
    mp.runPython(`
import json
from firmware.shop import app, sim_board
_cfg = app.load_config(sim_board.call("config")["cfg"])
print("bare:" + json.dumps(sim_board.bare_round_trips(_cfg, ${Number(count)})))
`);
  } else {
    mp.runPython(`
import sys
print("interpreter:", sys.implementation.name, sys.version)
`);
    // one call per loop turn, so the collector runs between turns (see sim_board.setup)
    const board = mp.pyimport("firmware.shop.sim_board");
    board.setup();
    while (board.turn()) {}
    if (flash) {
      rmSync(flash, { recursive: true, force: true });
      save("/flash", flash);
    }
    board.finish();
  }
} catch (err) {
  console.error(String(err));
  process.exit(2);
}
process.exit(0);
