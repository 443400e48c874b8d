// MicroPython's 32-bit webassembly port under Node, with what tools/wasm needs from the host:
// AES-ECB from Node's crypto (shims/hostaes.py) and a real garbage collection on demand
// (shims/vgc.py). Used by replay.mjs (one recorded wake) and mp32.mjs (a snippet, for tests).
import fs from "fs";
import path from "path";
import crypto from "crypto";
import { fileURLToPath } from "url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const defaultMpjs = path.join(here, "..", "..", ".node", "node_modules", "@micropython",
  "micropython-webassembly-pyscript", "micropython.mjs");

export function ecb(keyhex, blockhex) {
  const k = Buffer.from(keyhex, "hex");
  const c = crypto.createCipheriv(`aes-${k.length * 8}-ecb`, k, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(Buffer.from(blockhex, "hex")), c.final()]).toString("hex");
}

// Load the port; `host` (an object of JS functions) becomes the Python module `host`, with
// `ecb` and `collect` added. Returns { mp, stats }.
export async function loadPort(mpjs, host, out) {
  const { loadMicroPython } = await import(mpjs || defaultMpjs);
  const mp = await loadMicroPython({ stdout: (l) => out.push(l), stderr: (l) => out.push(l) });
  const M = mp._module;
  // The pyscript variant's gc.collect() only sets a flag; the collection runs when the count of
  // nested calls from JS (external_call_depth, a static) drops back to 0. Find that word: it
  // reads 1 inside a call from Python to JS, 2 one level deeper, 0 at the top level.
  let s1 = null, cand = null;
  const LIM = Math.min(M.HEAPU8.length, 8 << 20);
  mp.registerJsModule("probe", {
    one(cb) { s1 = new Int32Array(M.HEAPU8.buffer.slice(0, LIM)); cb(); },
    two() {
      const s2 = new Int32Array(M.HEAPU8.buffer.slice(0, LIM));
      cand = [];
      for (let i = 0; i < s1.length; i++) if (s1[i] === 1 && s2[i] === 2) cand.push(i);
    },
  });
  mp.runPython("import probe\nprobe.one(lambda: probe.two())\ndel probe");
  const top = new Int32Array(M.HEAPU8.buffer);
  cand = (cand || []).filter((i) => top[i] === 0);
  if (cand.length !== 1)
    throw new Error(`cannot force a collection on this build (${cand.length} candidates for the call depth)`);
  const depthAddr = cand[0];
  const stats = { collections: 0 };
  host.ecb = ecb;
  // A real collection now: the depth is made 0 for one call into a no-op Python function,
  // whose return collects (roots: the VM's root pointers and the Python stack).
  host.collect = (cb) => {
    const h = new Int32Array(M.HEAPU8.buffer);
    const d = h[depthAddr];
    h[depthAddr] = 0;
    try { cb(); } finally { h[depthAddr] = d; }
    stats.collections++;
  };
  mp.registerJsModule("host", host);
  return { mp, stats };
}

export function copyIn(FS, src, dst) {
  FS.mkdir(dst);
  for (const n of fs.readdirSync(src)) {
    const p = path.join(src, n);
    if (fs.statSync(p).isDirectory()) copyIn(FS, p, dst + "/" + n);
    else FS.writeFile(dst + "/" + n, fs.readFileSync(p));
  }
}
