// Runs the board firmware's test suite under real MicroPython (the WebAssembly port from
// npm) inside Node, so CI proves the firmware logic runs on MicroPython, not only CPython.
// The repository's firmware files are copied into MicroPython's in-memory filesystem under
// /lib with the same layout; main.py stays out (it starts the endless board loop), and
// pins.py runs against tests/fake_machine.py.
// Usage: node firmware/tests/run_micropython.mjs [test_module ...]; exit 1 on any failure.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const here = dirname(fileURLToPath(import.meta.url));
const firmware = join(here, "..");
const HARDWARE_ONLY = new Set(["main.py"]);

function pyFiles(dir) {
  return readdirSync(dir).filter((f) => f.endsWith(".py") && !HARDWARE_ONLY.has(f));
}

const mp = await loadMicroPython({
  heapsize: 8 * 1024 * 1024,
  stdout: (line) => console.log(line),
  stderr: (line) => console.error(line),
});

const copies = [
  ["", ["__init__.py", "board_link.py", "manual_id.py", "protocol.py", "verdict.py"]],
  ["board", pyFiles(join(firmware, "board"))],
  // the shop unit's logic; board.py needs `machine`, sim_board.py the Node harness
  ["shop", pyFiles(join(firmware, "shop")).filter((f) => !["board.py", "sim_board.py"].includes(f))],
  ["tests", pyFiles(join(firmware, "tests"))],
];
for (const [sub, files] of copies) {
  const target = join("/lib/firmware", sub);
  mp.FS.mkdirTree(target);
  for (const f of files) {
    mp.FS.writeFile(join(target, f), readFileSync(join(firmware, sub, f)));
  }
}

const requested = process.argv.slice(2);
const modules = (requested.length ? requested : pyFiles(join(firmware, "tests"))
  .filter((f) => f.startsWith("test_"))
  .map((f) => f.slice(0, -3)))
  .map((m) => `firmware.tests.${m}`);

try {
  mp.runPython(`
import sys
from firmware.tests import minitest
print("interpreter:", sys.implementation.name, sys.version)
_failed = minitest.main(${JSON.stringify(modules)})
`);
} catch (err) {
  console.error(String(err));
  process.exit(2);
}
const failed = mp.globals.get("_failed");
process.exit(failed === 0 ? 0 : 1);
