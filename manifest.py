# Freeze the LwM2M client into a custom MicroPython build (frozen bytecode and its names live in
# flash: no ROMFS partition needed, and the ~700 names the client interns stay out of the heap).
#
#   git clone https://github.com/micropython/micropython && cd micropython/ports/esp32
#   make BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/lwm2m-sleepy/manifest.py
#
# Then flash that build (make flash FIRMWARE=build-ESP32_GENERIC/firmware.bin) and copy only the
# config and the secrets (mpremote cp boards/esp32.json :config.json + cp secrets/esp32.json
# :secrets.json): boot runs the frozen main.py (firmware/main.py) itself, as frozen scripts are
# looked up before the filesystem.
#
# Heap a frozen build saves over the ROMFS deploy (computed, not measured: no ESP32 toolchain
# here; `python tools/size.py --names` recomputes it): importing every device module interns 707
# names, 5611 B of text, 18123 B of name pools on the 64-bit unix port (measured); on the 32-bit
# ESP32 about 9.9 KB (text + 707 x 6 B), part of it only when the name pool doubles. Bytecode
# costs no heap either way (ROMFS runs it in place); against .mpy files on the filesystem a frozen
# build also saves the bytecode itself (the .mpy sizes, make size).
#
# What is frozen is what a device runs: every module under firmware/ except the unix-port board.
include("$(PORT_DIR)/boards/manifest.py")

_FW = "firmware"
for _m in ("main.py", "config.py", "cfgcheck.py", "errors.py", "log.py", "state.py", "cbor.py"):
    module(_m, base_path=_FW, opt=3)
package("board", files=("__init__.py", "esp32.py", "modem_uart.py"), base_path=_FW, opt=3)
for _p in ("coap", "crypto", "dtls", "lwm2m", "net", "oscore", "sec", "wake"):
    package(_p, base_path=_FW, opt=3)
