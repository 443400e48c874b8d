// Run a Python snippet on the 32-bit webassembly port with the tools/wasm shims on sys.path
// and the `host` module (AES, collect): node tools/wasm/mp32.mjs SHIMDIR CODE [MPJS]
// Prints the snippet's output; exit status 1 on an uncaught exception.
import { loadPort, copyIn } from "./port.mjs";

const [shimdir, code, mpjs] = process.argv.slice(2);
const out = [];
let status = 0;
try {
  const { mp } = await loadPort(mpjs, {}, out);
  copyIn(mp.FS, shimdir, "/shims");
  mp.runPython("import sys\nsys.path.append('/shims')\n" + code);
} catch (e) {
  out.push(String(e).slice(0, 2000));
  status = 1;
}
console.log(out.join("\n"));
process.exit(status);
