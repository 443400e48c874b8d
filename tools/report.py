"""Scenario reports: a text table, a JSON file and a PNG chart from per-wake results.

What it does: takes the runner's list of per-wake dicts (and optionally the Meter of
tools/meter.py for NAT events and the datagram log) and
- `print_table`: one line per wake, then a per-day summary (bytes up/down, datagrams, round
  trips, samples taken/sent, paths taken with counts) and the scenario total;
- `write_json`: the same data plus the meter log, in one JSON file (directories created);
- `draw_chart`: a PNG (matplotlib, Agg canvas, no display needed): bytes per wake as stacked
  up/down bars coloured by path, failed wakes marked, NAT mapping expiries and forced rebinds
  drawn as vertical lines, and a lower panel with cumulative bytes over virtual time;
- `bench_table`: measured per-wake costs beside the reference figures (floor, blog, target).

What it does not do: measure anything (the meter does) or run scenarios (the runner does).

A wake dict has these keys (missing numeric keys count as 0, missing text as ''):
    t            virtual unix time of the wake start
    wake         wake index (1, 2, ...)
    path         path label as the device logged it, e.g. 'nosec+update'
    result       'ok' or an outcome ('no-answer', 'session-unknown', ...)
    bytes_up, bytes_down, dgrams_up, dgrams_down, round_trips
                 as Meter.segment_totals() returns them (so the runner can wake.update() them)
    awake_ms     awake time of the wake (real milliseconds)
    heap_peak    optional: peak heap use in bytes
    taken, sent  optional: samples taken / samples the server acknowledged in this wake (the
                 WAKE line); 'smp t/s' in the tables
Days are counted from the first wake's virtual time: day 1 is [t0, t0 + 24 h).

Other shapes are accepted too (`normalize_wakes`): counters missing at the top level are taken
from a 'meter' sub-dict (Meter.segment_totals output); without 't', the start time of the
meter segment labelled w['label'] or 'wake <w["wake"]>' is used, else 'vt' (virtual seconds
since the scenario start: then NAT events cannot be placed on the chart's time axes unless a
meter with segment times is given); 'datagrams' (a total) is shown when there is no up/down
split.
"""
import datetime
import json
import os
import sys
import time
from collections import Counter

SECONDS_PER_DAY = 86400
RESULT_OK = "ok"
NAT_DEATH_EVENTS = ("expired", "rebound")
MAX_BARS = 400               # above this, consecutive wakes are binned into one bar
MAX_EDGED_BARS = 150         # above this, bars are drawn without black edges
MAX_EVENT_LINES = 60         # above this, NAT events are a rug of ticks instead of lines
TIME_UNITS = ((2 * 3600, 60, "minutes"), (4 * SECONDS_PER_DAY, 3600, "hours"),
              (float("inf"), SECONDS_PER_DAY, "days"))
RUG_Y_TOP, RUG_Y_BOTTOM = 0.97, 0.03   # rug position in axes fraction
CHART_SIZE_IN = (13, 8)
CHART_DPI = 110
UP_ALPHA, DOWN_ALPHA = 1.0, 0.45
EVENT_STYLE = {"expired": {"color": "red", "linestyle": "--", "label": "NAT mapping expired"},
               "rebound": {"color": "purple", "linestyle": ":", "label": "NAT forced rebind"}}
NUM_KEYS = ("bytes_up", "bytes_down", "dgrams_up", "dgrams_down", "round_trips")


def normalize_wakes(wakes, meter=None):
    """Copies of the wake dicts with the standard keys filled in (see the module docstring).
    When wake times have to come from 'vt' (relative) and a meter with segment times is given,
    the relative times are shifted onto the meter's virtual unix time."""
    md = _meter_dict(meter) or {}
    seg_t = {seg["label"]: seg.get("t") for seg in md.get("segments", [])}
    out, shift = [], None
    for w in wakes:
        n = dict(w)
        sub = w.get("meter") if isinstance(w.get("meter"), dict) else {}
        for k in NUM_KEYS:
            if n.get(k) is None and sub.get(k) is not None:
                n[k] = sub[k]
        if n.get("t") is None:
            label = w.get("label") or "wake %s" % w.get("wake")
            if seg_t.get(label) is not None:
                n["t"] = seg_t[label]
            elif w.get("vt") is not None:
                n["t"] = w["vt"]
                n["_relative"] = True
        if n.get("dgrams_up") is None and n.get("dgrams_down") is None \
                and w.get("datagrams") is not None:
            n["_dgrams_total"] = w["datagrams"]
        out.append(n)
    rel = [n for n in out if n.get("_relative")]
    if rel and len(rel) == len(out) and seg_t:
        first = min(t for t in seg_t.values() if t is not None) if any(seg_t.values()) else None
        if first is not None:
            shift = first - rel[0]["t"]
            for n in out:
                n["t"] += shift
    for n in out:
        n.pop("_relative", None)
    return out


def _dgrams(w):
    """Datagram count text: 'up/down', or the total when only that is known."""
    if w.get("_dgrams_total") is not None:
        return str(w["_dgrams_total"])
    return "%d/%d" % (_n(w, "dgrams_up"), _n(w, "dgrams_down"))


def _n(w, key):
    v = w.get(key)
    return 0 if v is None else v


def _fmt_rel(t, t0):
    """Virtual time relative to the scenario start: 'd1 00:05:00'."""
    s = int(round(t - t0))
    day, s = divmod(s, SECONDS_PER_DAY)
    return "d%d %02d:%02d:%02d" % (day + 1, s // 3600, s % 3600 // 60, s % 60)


def _utc(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _t0(wakes):
    ts = [w["t"] for w in wakes if w.get("t") is not None]
    return min(ts) if ts else 0.0


def _path_counts(wakes):
    return Counter(w.get("path") or "?" for w in wakes)


def _fmt_counts(counter):
    return ", ".join("%s x%d" % (k, v) for k, v in counter.most_common())


def _sum(wakes):
    s = {k: sum(_n(w, k) for w in wakes) for k in NUM_KEYS}
    s["wakes"] = len(wakes)
    s["ok"] = sum(1 for w in wakes if w.get("result", RESULT_OK) == RESULT_OK)
    s["failed"] = s["wakes"] - s["ok"]
    s["bytes_total"] = s["bytes_up"] + s["bytes_down"]
    s["datagrams"] = sum(w["_dgrams_total"] if w.get("_dgrams_total") is not None
                         else _n(w, "dgrams_up") + _n(w, "dgrams_down") for w in wakes)
    s["paths"] = dict(_path_counts(wakes).most_common())
    s["results"] = dict(Counter(w.get("result", RESULT_OK) for w in wakes).most_common())
    # the work done (the device's own counts; the runner's summary adds what the server received)
    s["samples_taken"] = sum(_n(w, "taken") for w in wakes)
    s["samples_sent"] = sum(_n(w, "sent") for w in wakes)
    s["partial"] = sum(1 for w in wakes if w.get("result") == "partial")
    return s


def day_summary(wakes):
    """One dict per simulated day that has wakes: day, t_start, wakes, ok, failed, bytes_up,
    bytes_down, bytes_total, dgrams_up, dgrams_down, round_trips, paths {path: count},
    results {result: count}."""
    wakes = normalize_wakes(wakes)
    t0 = _t0(wakes)
    days = {}
    for w in wakes:
        d = int((w.get("t", t0) - t0) // SECONDS_PER_DAY) + 1
        days.setdefault(d, []).append(w)
    out = []
    for d in sorted(days):
        s = _sum(days[d])
        s["day"] = d
        s["t_start"] = t0 + (d - 1) * SECONDS_PER_DAY
        out.append(s)
    return out


def summary(wakes):
    """Totals over the whole scenario (same keys as a day, without day/t_start)."""
    return _sum(normalize_wakes(wakes))


# --- table -------------------------------------------------------------------------------------
WAKE_COLS = (("wake", 5), ("virtual time", 12), ("path", 26), ("result", 16), ("up", 7),
             ("down", 7), ("total", 7), ("dg up/dn", 9), ("rtt", 4), ("awake ms", 9),
             ("heap", 7), ("smp t/s", 8))
DAY_COLS = (("day", 5), ("wakes", 6), ("failed", 7), ("bytes up", 10), ("bytes down", 11),
            ("total", 10), ("dg up/dn", 11), ("rtt", 6), ("smp t/s", 8))


def _row(cols, values):
    parts = []
    for (name, width), v in zip(cols, values):
        v = "-" if v is None else str(v)
        parts.append(v.ljust(width) if name in ("path", "result", "virtual time")
                     else v.rjust(width))
    return " ".join(parts).rstrip()


def print_table(wakes, title, out=sys.stdout):
    """Print one line per wake, then the per-day summary and the total."""
    wakes = normalize_wakes(wakes)
    t0 = _t0(wakes)
    out.write("%s\n" % title)
    if wakes:
        out.write("start %s UTC (virtual), %d wakes\n" % (_utc(t0), len(wakes)))
    header = _row(WAKE_COLS, [c for c, _ in WAKE_COLS])
    out.write(header + "\n" + "-" * len(header) + "\n")
    for w in wakes:
        out.write(_row(WAKE_COLS, [
            w.get("wake"), _fmt_rel(w.get("t", t0), t0), w.get("path") or "?",
            w.get("result", RESULT_OK), _n(w, "bytes_up"), _n(w, "bytes_down"),
            _n(w, "bytes_up") + _n(w, "bytes_down"),
            _dgrams(w), _n(w, "round_trips"),
            None if w.get("awake_ms") is None else int(round(w["awake_ms"])),
            w.get("heap_peak"), "%d/%d" % (_n(w, "taken"), _n(w, "sent"))]) + "\n")
    out.write("\nper-day summary (day 1 starts at the first wake)\n")
    out.write(_row(DAY_COLS, [c for c, _ in DAY_COLS]) + "  paths\n")
    out.write("-" * 80 + "\n")
    rows = day_summary(wakes) + ([dict(summary(wakes), day="all")] if wakes else [])
    for s in rows:
        out.write(_row(DAY_COLS, [
            s["day"], s["wakes"], s["failed"], s["bytes_up"], s["bytes_down"], s["bytes_total"],
            "%d/%d" % (s["dgrams_up"], s["dgrams_down"]) if s["dgrams_up"] or s["dgrams_down"]
            else str(s["datagrams"]), s["round_trips"], "%d/%d" % (s["samples_taken"], s["samples_sent"])])
            + "  " + _fmt_counts(Counter(s["paths"])) + "\n")


# --- JSON ---------------------------------------------------------------------------------------
def _meter_dict(meter):
    if meter is None:
        return None
    return meter.to_json() if hasattr(meter, "to_json") else meter


def write_json(path, scenario, wakes, meter=None, extra=None):
    """Write the scenario report as JSON to `path` (parent directories are created).
    Keys: scenario, generated_utc, wakes, days, totals, and meter / extra when given."""
    wakes = normalize_wakes(wakes, meter)
    for w in wakes:
        w.pop("_dgrams_total", None)
    doc = {"scenario": scenario,
           "generated_utc": _utc(time.time()),
           "wakes": wakes,
           "days": day_summary(wakes),
           "totals": summary(wakes)}
    if meter is not None:
        doc["meter"] = _meter_dict(meter)
    if extra is not None:
        doc["extra"] = extra
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(doc, f, indent=1, default=str)
    os.replace(path + ".tmp", path)
    return path


# --- chart -------------------------------------------------------------------------------------
def _nat_deaths(meter):
    m = _meter_dict(meter)
    if not m:
        return []
    return [e for e in m.get("events", []) if e.get("event") in NAT_DEATH_EVENTS]


def _bars(wakes):
    """Bars to draw: one per wake, or bins of consecutive wakes above MAX_BARS.
    Each bar: t (first wake's time), up and down (totals), up_by_path and down_by_path
    ({path: bytes}), failed (count of failed wakes), label."""
    k = max(1, -(-len(wakes) // MAX_BARS))
    bars = []
    for i in range(0, len(wakes), k):
        group = wakes[i:i + k]
        up_p, down_p = Counter(), Counter()
        for w in group:
            up_p[w.get("path") or "?"] += _n(w, "bytes_up")
            down_p[w.get("path") or "?"] += _n(w, "bytes_down")
        bars.append({"t": group[0].get("t", 0.0),
                     "up": sum(up_p.values()), "down": sum(down_p.values()),
                     "up_by_path": up_p, "down_by_path": down_p,
                     "failed": sum(1 for w in group if w.get("result", RESULT_OK) != RESULT_OK),
                     "label": str(group[0].get("wake", i + 1)) if k == 1 else
                     "%s-%s" % (group[0].get("wake", i + 1), group[-1].get("wake", i + k))})
    return bars, k


def _time_unit(span_s):
    """(seconds per unit, name) for a time axis spanning span_s seconds."""
    for limit, unit_s, name in TIME_UNITS:
        if span_s <= limit:
            return unit_s, name
    return TIME_UNITS[-1][1:]


def draw_chart(path, scenario, wakes, meter=None):
    """Draw the scenario chart as a PNG at `path` (parent directories are created)."""
    import matplotlib
    import numpy as np
    from matplotlib.figure import Figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.patches import Patch
    from matplotlib.lines import Line2D

    wakes = normalize_wakes(wakes, meter)
    bars, per_bar = _bars(wakes)
    t0 = _t0(wakes)
    paths = list(_path_counts(wakes))          # in order of first appearance
    palette = [c["color"] for c in matplotlib.rcParams["axes.prop_cycle"]]
    colour = {p: palette[i % len(palette)] for i, p in enumerate(paths)}

    fig = Figure(figsize=CHART_SIZE_IN, dpi=CHART_DPI)
    FigureCanvasAgg(fig)
    ax, ax2 = fig.subplots(2, 1, gridspec_kw={"height_ratios": [3, 2]})

    # bytes per wake: every path's up bytes (solid), then every path's down bytes (hatched)
    x = np.arange(len(bars))
    width = 0.8
    edge = 0.3 if len(bars) <= MAX_EDGED_BARS else 0.0
    bottom = np.zeros(len(bars))
    for key, alpha, hatch in (("up_by_path", UP_ALPHA, None), ("down_by_path", DOWN_ALPHA, "//")):
        for p in paths:
            h = np.array([b[key].get(p, 0) for b in bars], dtype=float)
            if not h.any():
                continue
            ax.bar(x, h, width, bottom=bottom, color=colour[p], alpha=alpha, hatch=hatch,
                   edgecolor="black", linewidth=edge)
            bottom += h
    top = float(bottom.max()) if len(bars) else 1.0
    failed = [i for i, b in enumerate(bars) if b["failed"]]
    if failed:
        ax.plot(failed, [bottom[i] + top * 0.04 for i in failed], "x", color="red",
                markersize=8, markeredgewidth=2)

    unit_s, unit = _time_unit((wakes[-1].get("t", t0) - t0) if wakes else 0)
    # NAT mapping deaths: lines when few, a rug of ticks along the top/bottom edge when many
    deaths = _nat_deaths(meter)
    times = np.array([b["t"] for b in bars], dtype=float)
    for kind, style in EVENT_STYLE.items():
        evs = [e for e in deaths if e["event"] == kind]
        if not evs or not len(bars):
            continue
        # bars have no time width: an event after bar i's wake started and not after bar
        # i+1's start (the sleep in between) is drawn in the gap between the two bars
        xs = np.searchsorted(times, [e["t"] for e in evs], side="left") - 0.5
        hours = [(e["t"] - t0) / unit_s for e in evs]
        if len(evs) <= MAX_EVENT_LINES:
            for xe, he in zip(xs, hours):
                ax.axvline(xe, color=style["color"], linestyle=style["linestyle"], linewidth=1.2)
                ax2.axvline(he, color=style["color"], linestyle=style["linestyle"],
                            linewidth=1.0)
        else:
            ax.plot(xs, [RUG_Y_TOP] * len(xs), "|", color=style["color"], markersize=7,
                    transform=ax.get_xaxis_transform())
            ax2.plot(hours, [RUG_Y_BOTTOM] * len(hours), "|", color=style["color"],
                     markersize=7, transform=ax2.get_xaxis_transform())

    ax.set_title("%s: UDP payload bytes per wake (%d wakes%s)" % (
        scenario, len(wakes), "" if per_bar == 1 else ", %d wakes per bar" % per_bar),
        fontsize=13)
    ax.set_ylabel("bytes (up solid, down hatched)")
    ax.set_xlabel("wake" if per_bar == 1 else "wakes (binned)")
    if len(bars):
        step = max(1, len(bars) // 25)
        ticks = list(range(0, len(bars), step))
        ax.set_xticks(ticks)
        ax.set_xticklabels([bars[i]["label"] for i in ticks], rotation=45 if per_bar > 1 else 0,
                           fontsize=8)
        ax.set_xlim(-0.6, len(bars) - 0.4)
        ax.set_ylim(0, top * 1.15 if top > 0 else 1)
    ax.grid(axis="y", alpha=0.3)
    handles = [Patch(facecolor=colour[p], edgecolor="black", label=p) for p in paths]
    handles.append(Patch(facecolor="white", edgecolor="black", label="up"))
    handles.append(Patch(facecolor="white", edgecolor="black", hatch="//", label="down"))
    kinds = sorted({e["event"] for e in deaths})
    for k in kinds:
        st = EVENT_STYLE[k]
        n = sum(1 for e in deaths if e["event"] == k)
        rug = n > MAX_EVENT_LINES
        handles.append(Line2D([0], [0], color=st["color"],
                              linestyle="none" if rug else st["linestyle"],
                              marker="|" if rug else None, markersize=8,
                              label="%s (%d)" % (st["label"], n)))
    if failed:
        handles.append(Line2D([0], [0], marker="x", color="red", linestyle="none",
                              label="failed wake"))
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))

    # cumulative bytes over virtual time
    hours = [(w.get("t", t0) - t0) / unit_s for w in wakes]
    cum_up = np.cumsum([_n(w, "bytes_up") for w in wakes])
    cum_down = np.cumsum([_n(w, "bytes_down") for w in wakes])
    ax2.step(hours, cum_up, where="post", label="up", color="dimgray")
    ax2.step(hours, cum_down, where="post", label="down", color="dimgray", linestyle="--")
    ax2.step(hours, cum_up + cum_down, where="post", label="total", color="black")
    ax2.set_xlabel("virtual time since the first wake (%s)" % unit)
    ax2.set_ylabel("cumulative bytes")
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fig.savefig(path, format="png")
    return path


# --- bench table ---------------------------------------------------------------------------------
BENCH_COLS = (("method", 34), ("up", 6), ("down", 6), ("total", 6), ("dgrams", 7), ("rtts", 5),
              ("floor", 6), ("blog", 6), ("target", 7), ("/floor", 7))


def bench_table(rows, out=sys.stdout):
    """Print measured per-wake costs beside reference figures and return the text.
    rows: dicts with method, measured_up, measured_down, measured_total, dgrams, rtts, floor,
    blog, target (None or missing prints '-'); '/floor' is measured_total / floor."""
    lines = [" ".join(c.ljust(w) if c == "method" else c.rjust(w) for c, w in BENCH_COLS)]
    lines.append("-" * len(lines[0]))
    for r in rows:
        total, floor = r.get("measured_total"), r.get("floor")
        ratio = "%.2f" % (total / floor) if total is not None and floor else None
        vals = [r.get("method"), r.get("measured_up"), r.get("measured_down"), total,
                r.get("dgrams"), r.get("rtts"), floor, r.get("blog"), r.get("target"), ratio]
        parts = []
        for (c, w), v in zip(BENCH_COLS, vals):
            v = "-" if v is None else str(v)
            parts.append(v.ljust(w) if c == "method" else v.rjust(w))
        lines.append(" ".join(parts).rstrip())
    text = "\n".join(lines) + "\n"
    out.write(text)
    return text
