#!/usr/bin/env python3
"""Judges what the emulated real host saw (tests/realhost/realhost-steps.sh).

  judge_guest.py list NDCTL_LIST_JSON NVDIMMCTL_LIST_JSON
      nvdimmctl list --json (libndctl) names every namespace ndctl lists, with
      its mode, size and uuids.
  judge_guest.py data PLAN_JSON LOG PHASE [FIRST_LOG]
      a guest of tests/hardware/guest/scenarios/hostdata.sh with the devdax
      namespace first and the fsdax, sector and raw ones: one region per
      planned device, each of the planned guest size; it wrote (setup) or
      read back (verify) its data in the first; with FIRST_LOG, that data as
      at that start.
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


def judge_data(plan_path, log_path, phase, first_path=None):
    devs = json.load(open(plan_path))["devices"]
    label = os.path.basename(log_path)
    log = BootLog(log_path)
    for good, what in log.results:
        expect(good, "%s guest: %s" % (label, what))
    expect(log.done is not None and log.done.get("failed") == "0", "%s: guest reports %s" % (label, log.done))
    if log.boot and log.done:
        print("# %s: /init at %s s, scenario done at %s s (guest uptime)" % (
            label, log.boot.get("uptime"), log.done.get("uptime")))
    for d in devs:
        print("# plan %s: D=%d S=%d L=%d A=%d G=%d mode %s" % (
            d["path"], d["device_size"], d["target_size"], d["label_size"], d["align_size"],
            d["guest_size"], d["mode"]))
    modes = sorted(d["mode"] for d in devs)
    expect(modes == ["devdax", "fsdax", "raw", "sector"],
           "%s: the guest's NVDIMMs are the devdax, fsdax, sector and raw namespaces" % label,
           "modes %s" % modes)
    expect(not any(d["pmem"] for d in devs if d["mode"] != "devdax"), "no <pmem/> on block-device modes")
    seen = sorted(int(v.split("size=")[1]) for v in log.fact_values("region"))
    planned = sorted(d["guest_size"] for d in devs)
    expect(seen == planned, "%s: the guest's region sizes %s are the planned guest sizes" % (label, seen),
           "planned %s" % planned)
    f = check_guest.facts(log)
    data = devs[0]
    expect(data["mode"] == "devdax", "%s: the first NVDIMM (nmem0) is the devdax namespace" % label,
           "mode %s" % data["mode"])
    expect(f.get("region-size") == str(data["guest_size"]),
           "%s: nmem0's region is %s bytes, the planned guest size G of %s" % (
               label, f.get("region-size"), data["path"]), "planned %d" % data["guest_size"])
    expect(f.get("phase") == phase, "%s: scenario phase %s" % (label, phase), "got %s" % f.get("phase"))
    raw = check_guest.ns_fields(f.get("ns graw", ""))
    expect(f.get("offset graw") == "0", "%s: graw starts at guest NVDIMM offset 0" % label,
           "offset %s" % f.get("offset graw"))
    expect(raw.get("uuid") and f.get("marker graw") == "NVH-GUEST-MARK graw %s" % raw.get("uuid"),
           "%s: marker at offset 0 of graw reads back" % label, "read %r" % f.get("marker graw"))
    expect(len(f.get("pattern graw", "")) == 64, "%s: pattern at graw offset 1 MiB read" % label)
    if first_path:
        f1 = check_guest.facts(BootLog(first_path))
        for key in ("ns graw", "marker graw", "pattern graw", "region-size"):
            expect(f1.get(key) == f.get(key), "%s: %s as at the first start (%s)" % (label, key, f.get(key)),
                   "first start %r" % f1.get(key))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    kind, args = sys.argv[1], sys.argv[2:]
    if kind == "list" and len(args) == 2:
        judge_list(*args)
    elif kind == "data" and len(args) in (3, 4):
        judge_data(*args)
    else:
        sys.exit(__doc__)
    print("%d passed, %d failed" % (check_guest.checks, len(check_guest.failures)))
    sys.exit(1 if check_guest.failures else 0)


if __name__ == "__main__":
    main()
