"""The shared virtual clock of a scenario: harness server, NAT simulator and device agree on it.

Virtual time = real time + offset. Awake time passes in real time; a requested deep sleep is
skipped by advancing the offset. The offset is published in a file that the unix board reads
at boot (LWM2M_CLOCK), so every process of a scenario sees the same virtual now().
"""
import time


class SimClock:
    def __init__(self, path=None, start=None):
        self.path = path
        self.offset = 0.0 if start is None else start - time.time()
        self._publish()

    def now(self):
        return time.time() + self.offset

    def advance(self, seconds):
        self.offset += seconds
        self._publish()

    def _publish(self):
        if self.path:
            with open(self.path + ".tmp", "w") as f:
                f.write("%.6f\n" % self.offset)
            import os
            os.replace(self.path + ".tmp", self.path)


class RealClock:
    def now(self):
        return time.time()

    def advance(self, seconds):
        time.sleep(seconds)
