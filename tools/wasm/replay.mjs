// Replay one recorded wake on MicroPython's 32-bit webassembly port (tools/wasm/measure.py).
//
//   node tools/wasm/replay.mjs RECDIR ROMFS SHIMDIR [MPJS]
//
// RECDIR holds what tools/wasm/measure.py recorded under the unix port: rec.txt (header line
// 'H {json}' with the clock origin, the urandom seed and the environment, then the datagram
// events, see shims/vsock.py), state/ (RTC memory and flash before the wake), config.json,
// secrets.json, clock. The firmware runs from the same ROMFS image (build/firmware.romfs) with
// the same boot as tools/runner.py: the image is read into one heap block, mounted at /rom,
// then HEAP0 = gc.mem_alloc() and `import main`. The device's socket is the JS host: each
// receive gets the next recorded downlink datagram (or the recorded timeout), each send is
// compared with the next recorded uplink datagram byte for byte; the first difference ends the
// run with an error naming that datagram. AES comes from Node's crypto (shims/hostaes.py).
// Prints one JSON line: {"ok", "error", "wake": <the WAKE line>, "shim_aes_bytes", "log"}.
import fs from "fs";
import path from "path";
import { loadPort, copyIn } from "./port.mjs";

const [recdir, romfs, shimdir, mpjs] = process.argv.slice(2);

const lines = fs.readFileSync(path.join(recdir, "rec.txt"), "utf8").split("\n").filter((l) => l);
const header = JSON.parse(lines[0].slice(2));
const events = lines.slice(1).map((l) => l.split(" "));
let ev = 0, up = 0, down = 0;
let mismatch = null;

function fail(msg) {
  mismatch = msg;
  throw new Error("REPLAY MISMATCH: " + msg);
}
const pre = (h) => (h || "").slice(0, 48);
const host = {
  tx(hex) {
    const e = events[ev];
    if (!e || (e[0] !== "U" && e[0] !== "S"))
      fail(`uplink datagram #${up}: the device sent ${pre(hex)} (${hex.length / 2} B) where the recording ` +
        (e ? `waited for a datagram (event #${ev} ${e[0]})` : "had ended"));
    const want = e[0] === "U" ? e[1] : e[2];
    if (want !== hex)
      fail(`uplink datagram #${up} differs: recorded ${pre(want)} (${want.length / 2} B), replayed ${pre(hex)} (${hex.length / 2} B)`);
    ev++; up++;
    return e[0] === "S" ? e[1] : "";
  },
  rx(ms) {
    const e = events[ev];
    if (!e || (e[0] !== "D" && e[0] !== "E"))
      fail(`the device waited for a datagram (${ms} ms) where the recording ` +
        (e ? `sent uplink datagram #${up} ${pre(e[1])}` : "had ended"));
    ev++;
    if (e[0] === "D") { down++; return `D ${e[1]} ${e[2]}`; }
    return `E ${e[1]} ${e[2]}`;
  },
};

const out = [];
let mp, stats;
try {
  ({ mp, stats } = await loadPort(mpjs, host, out));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e).slice(0, 500) }));
  process.exit(2);
}
const FS = mp.FS;
FS.mkdir("/w");
FS.writeFile("/w/fw.romfs", fs.readFileSync(romfs));
copyIn(FS, shimdir, "/shims");
copyIn(FS, path.join(recdir, "state"), "/s");
const env = {};
for (const [k, v] of Object.entries(header.env)) {
  if (v === null) continue;
  const f = { LWM2M_STATE: null, LWM2M_CONFIG: "config.json", LWM2M_SECRETS: "secrets.json", LWM2M_CLOCK: "clock" }[k];
  if (k === "LWM2M_STATE") env[k] = "/s";
  else if (f) { FS.writeFile("/w/" + f, fs.readFileSync(path.join(recdir, f))); env[k] = "/w/" + f; }
  else env[k] = v;
}
const romsize = fs.statSync(romfs).size;
const boot = `
import sys, vfs, gc
img = bytearray(${romsize})
f = open('/w/fw.romfs', 'rb')
f.readinto(img)
f.close()
vfs.mount(vfs.VfsRom(img), '/rom')
sys.path[0:0] = ['/rom']
sys.path.append('/shims')
import vtime, vos, vsock, vgc, hostaes
vtime.T0 = ${header.T0}
vos.SEED = bytes.fromhex('${header.seed}')
vos.ENV = ${JSON.stringify(env)}
sys.modules['time'] = vtime
sys.modules['os'] = vos
sys.modules['socket'] = vsock
sys.modules['cryptolib'] = hostaes
sys.modules['gc'] = vgc
gc = vgc
gc.collect()
a0 = gc.mem_alloc()
o = hostaes.aes(bytes(16), 1)
gc.collect()
print('SHIM_AES', gc.mem_alloc() - a0)
del o
print('MAXSIZE', sys.maxsize)
gc.collect()
import wake
wake.HEAP0 = gc.mem_alloc()
try:
    import main
except SystemExit:
    pass
`;
let error = null;
try {
  mp.runPython(boot);
} catch (e) {
  error = mismatch ? "REPLAY MISMATCH: " + mismatch : String(e).slice(0, 2000);
}
if (!error) {
  const rest = events.slice(ev).filter((e) => e[0] === "U" || e[0] === "S");
  if (rest.length)
    error = `REPLAY MISMATCH: uplink datagram #${up}: the recording sent ${rest.length} more datagram(s) (next ${pre(rest[0][1])}) than the replayed device`;
}
let wake = null, shim = null, maxsize = null;
for (const l of out) {
  if (l.startsWith("WAKE ")) wake = JSON.parse(l.slice(5));
  else if (l.startsWith("SHIM_AES ")) shim = +l.slice(9);
  else if (l.startsWith("MAXSIZE ")) maxsize = +l.slice(8);
}
if (!error && !wake) error = "no WAKE line";
console.log(JSON.stringify({ ok: !error, error, wake, shim_aes_bytes: shim, maxsize, up, down,
  events: events.length, consumed: ev, collections: stats.collections, log: out.filter((l) => !l.startsWith("WAKE ")).slice(-30) }));
process.exit(error ? 1 : 0);
