#!/usr/bin/env python3
"""Judges what the emulated real host saw (tests/realhost/realhost-steps.sh).

  judge_guest.py list NDCTL_LIST_JSON NVDIMMCTL_LIST_JSON
      nvdimmctl list --json (libndctl) names every namespace ndctl lists, with
      its mode, size and uuids.
  judge_guest.py devdax PLAN_JSON LOG PHASE [FIRST_LOG]
      a guest of tests/hardware/guest/scenarios/guest.sh: its NVDIMM has the
      planned guest size, it wrote (setup) or read back (verify) its data;
      with FIRST_LOG, everything as at that start.
  judge_guest.py regions PLAN_JSON LOG
      scenarios/regions.sh: one region per planned device, each of the
      planned guest size.
Prints one "ok: …" or "FAIL: …" line per check; exits 1 on any failure.
"""

import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hardware"))
import check_guest  # noqa: E402
from check_guest import expect  # noqa: E402
from testbed_log import BootLog  # noqa: E402


def as_list(doc):
    return doc if isinstance(doc, list) else [doc]


def judge_list(ndctl_path, ours_path):
    ndctl = as_list(json.load(open(ndctl_path)))
    ours = json.load(open(ours_path))
    expect([n["dev"] for n in ours] == [n["dev"] for n in ndctl],
           "nvdimmctl list names the namespaces ndctl lists: %s" % " ".join(n["dev"] for n in ndctl),
           "nvdimmctl: %s" % [n.get("dev") for n in ours])
    by_dev = {n.get("dev"): n for n in ours}
    for n in ndctl:
        mine = by_dev.get(n["dev"], {})
        for key in ("mode", "size", "uuid", "raw_uuid", "align", "name"):
            if key in n:
                expect(mine.get(key) == n[key], "nvdimmctl list %s %s = %s" % (n["dev"], key, n[key]),
                       "nvdimmctl says %r" % mine.get(key))
    modes = sorted({n["mode"] for n in ndctl})
    expect(modes == ["devdax", "fsdax", "raw", "sector"], "all four modes present: %s" % modes)
    aligns = sorted(n.get("align") for n in ndctl if n["mode"] == "devdax")
    expect(aligns == [2 * 1024 * 1024, 1024 * 1024 * 1024], "devdax aligns 2 MiB and 1 GiB: %s" % aligns)


def judge_devdax(plan_path, log_path, phase, first_path=None):
    devs = json.load(open(plan_path))["devices"]
    if not expect(len(devs) == 1, "one planned device", "%d" % len(devs)):
        return
    plan = devs[0]
    print("# plan: D=%d S=%d L=%d A=%d G=%d mode %s" % (
        plan["device_size"], plan["target_size"], plan["label_size"], plan["align_size"],
        plan["guest_size"], plan["mode"]))
    label = os.path.basename(log_path)
    f = check_guest.check_start(BootLog(log_path), label, plan, phase)
    if first_path:
        f1 = check_guest.facts(BootLog(first_path))
        for key in ("ns graw", "ns gfs0", "marker graw", "marker gfs0", "pattern graw", "region-size"):
            expect(f1.get(key) == f.get(key), "%s: %s as at the first start (%s)" % (label, key, f.get(key)),
                   "first start %r" % f1.get(key))


def judge_regions(plan_path, log_path):
    plan = json.load(open(plan_path))["devices"]
    log = BootLog(log_path)
    for good, what in log.results:
        expect(good, "guest: " + what)
    expect(log.done is not None and log.done.get("failed") == "0", "guest reports %s" % log.done)
    seen = sorted(int(v.split("size=")[1]) for v in log.fact_values("region"))
    planned = sorted(d["guest_size"] for d in plan)
    expect(seen == planned, "the guest's region sizes %s are the planned guest sizes" % seen,
           "planned %s" % planned)
    modes = sorted(d["mode"] for d in plan)
    expect(modes == ["fsdax", "raw", "sector"], "the guest's NVDIMMs are the raw, sector and fsdax namespaces",
           "modes %s" % modes)
    expect(not any(d["pmem"] for d in plan), "no <pmem/> on block-device modes")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    kind, args = sys.argv[1], sys.argv[2:]
    if kind == "list" and len(args) == 2:
        judge_list(*args)
    elif kind == "devdax" and len(args) in (3, 4):
        judge_devdax(*args)
    elif kind == "regions" and len(args) == 2:
        judge_regions(*args)
    else:
        sys.exit(__doc__)
    print("%d passed, %d failed" % (check_guest.checks, len(check_guest.failures)))
    sys.exit(1 if check_guest.failures else 0)


if __name__ == "__main__":
    main()
