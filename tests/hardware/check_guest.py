#!/usr/bin/env python3
"""Judges the libvirt guest of issue 4 part 3 (tests/hardware/guest_test.sh).

  check_guest.py PLAN.json BACKING START1_LOG [LATER_START_LOG...]

PLAN.json is `nvdimmctl plan --json` of the domain, BACKING the regular file
behind its NVDIMM, START1_LOG the serial console of the first start
(scenarios/guest.sh, phase setup), each LATER_START_LOG that of a later start
of the same domain (phase verify), compared with the first. Prints one "ok: …" line per check; exits 1 when
anything does not hold.
"""

import hashlib
import sys
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from testbed_log import BootLog  # noqa: E402

MiB = 1024 * 1024
INDEX_SIG = b"NAMESPACE_INDEX\0"

failures = []
checks = 0


def ok(what):
    global checks
    checks += 1
    print("ok: " + what)


def expect(cond, what, detail=""):
    if cond:
        ok(what)
    else:
        failures.append(what + (": " + detail if detail else ""))
        print("FAIL: " + failures[-1])
    return cond


def facts(log):
    """key -> value; keys with a namespace ("ns graw", "offset gfs0") joined."""
    out = {}
    for key, value in log.facts:
        if key in ("ns", "offset", "marker", "pattern"):
            name, _, rest = value.partition(" ")
            out["%s %s" % (key, name)] = rest
        else:
            out[key] = value
    return out


def ns_fields(text):
    return dict(kv.split("=", 1) for kv in text.split() if "=" in kv)


def check_start(log, label, plan, phase):
    for good, what in log.results:
        expect(good, "%s guest: %s" % (label, what))
    expect(log.done is not None and log.done.get("failed") == "0",
           "%s: guest reports %s" % (label, log.done))
    if log.boot and log.done:
        print("# %s: /init at %s s, scenario done at %s s (guest uptime)" % (
            label, log.boot.get("uptime"), log.done.get("uptime")))
    f = facts(log)
    expect(f.get("phase") == phase, "%s: scenario phase %s" % (label, phase), "got %s" % f.get("phase"))
    expect(f.get("region-size") == str(plan["guest_size"]),
           "%s: the guest's region0 is %s bytes, the planned guest size G" % (label, f.get("region-size")),
           "planned %d" % plan["guest_size"])
    raw = ns_fields(f.get("ns graw", ""))
    fs = ns_fields(f.get("ns gfs0", ""))
    expect(raw.get("mode") == "raw" and fs.get("mode") == "fsdax" and plan["mode"] == "devdax",
           "%s: the guest has raw + fsdax namespaces on the host's %s namespace" % (label, plan["mode"]),
           "graw %s, gfs0 %s" % (raw, fs))
    expect(f.get("offset graw") == "0", "%s: graw starts at guest NVDIMM offset 0" % label,
           "offset %s" % f.get("offset graw"))
    expect(f.get("marker graw") == "NVH-GUEST-MARK graw %s" % raw.get("uuid"),
           "%s: marker at offset 0 of graw reads back" % label, "read %r" % f.get("marker graw"))
    expect(f.get("marker gfs0") == "NVH-GUEST-MARK gfs0 %s" % fs.get("uuid"),
           "%s: marker at offset 0 of gfs0 reads back" % label, "read %r" % f.get("marker gfs0"))
    return f


def check_backing(path, plan, f, label):
    S, L, G, D = plan["target_size"], plan["label_size"], plan["guest_size"], plan["device_size"]
    with open(path, "rb") as fh:
        data = fh.read()
    expect(len(data) == D, "%s: backing file keeps its size %d" % (label, D), "size %d" % len(data))
    raw = ns_fields(f.get("ns graw", ""))
    fs = ns_fields(f.get("ns gfs0", ""))
    marker = ("NVH-GUEST-MARK graw %s\n" % raw.get("uuid")).encode()
    expect(data[:len(marker)] == marker,
           "%s: guest NVDIMM offset 0 is backing offset 0 (graw's marker is at byte 0)" % label,
           "backing starts with %r" % data[:64])
    digest = hashlib.sha256(data[MiB:2 * MiB]).hexdigest()
    expect(digest == f.get("pattern graw"),
           "%s: the guest's 1 MiB pattern at graw offset 1 MiB is backing bytes [1 MiB, 2 MiB) (sha256 %s)" % (label, digest[:16]),
           "guest sha256 %s" % f.get("pattern graw"))
    fs_marker = ("NVH-GUEST-MARK gfs0 %s\n" % fs.get("uuid")).encode()
    at = data.find(fs_marker)
    start = int(f.get("offset gfs0", "-1"))
    expect(start <= at < G, "%s: gfs0's marker is in the guest area at backing offset %d (namespace at %d, data offset %d)"
           % (label, at, start, at - start), "found at %d" % at)
    area = data[S - L:S]
    expect(area[:len(INDEX_SIG)] == INDEX_SIG,
           "%s: the label area starts at backing offset S-L = %d (namespace index signature)" % (label, S - L),
           "bytes there: %r" % area[:32])
    expect(area.count(INDEX_SIG) == 2, "%s: two namespace index blocks in [S-L, S)" % label,
           "found %d" % area.count(INDEX_SIG))
    for name, fields, key in (("graw", raw, "uuid"), ("gfs0", fs, "raw_uuid")):
        want = uuid.UUID(fields.get(key, "00000000-0000-0000-0000-000000000000")).bytes
        expect(want in area and name.encode() in area,
               "%s: %s's label (uuid %s, name %s) is in the label area" % (label, name, fields.get(key), name))
    expect(INDEX_SIG not in data[:S - L] and INDEX_SIG not in data[S:],
           "%s: no namespace index outside [S-L, S)" % label)
    tail = data[S:]
    expect(tail.count(0) == len(tail),
           "%s: backing bytes [S, D) = [%d, %d) untouched (zero): QEMU maps S bytes, not the whole file" % (label, S, D))
    gap = data[G:S - L]
    expect(gap.count(0) == len(gap),
           "%s: backing bytes [G, S-L) = [%d, %d) between guest area and label untouched" % (label, G, S - L))


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    import json
    doc = json.load(open(sys.argv[1]))
    devs = doc.get("devices", [])
    if len(devs) != 1:
        sys.exit("plan: expected one device: %s" % doc)
    plan = devs[0]
    print("# plan: D=%d S=%d L=%d A=%d G=%d mode %s pmem %s" % (
        plan["device_size"], plan["target_size"], plan["label_size"], plan["align_size"],
        plan["guest_size"], plan["mode"], plan["pmem"]))
    backing = sys.argv[2]
    later = sys.argv[4:]
    f1 = check_start(BootLog(sys.argv[3]), "start 1", plan, "setup")
    check_backing(backing, plan, f1, "backing file after start %d" % (1 + len(later)))
    for i, path in enumerate(later, start=2):
        label = "start %d" % i
        fn = check_start(BootLog(path), label, plan, "verify")
        for key in ("ns graw", "ns gfs0", "offset graw", "offset gfs0", "marker graw", "marker gfs0",
                    "pattern graw", "region-size"):
            expect(f1.get(key) == fn.get(key), "%s: %s as at start 1 (%s)" % (label, key, fn.get(key)),
                   "start 1 %r, %s %r" % (f1.get(key), label, fn.get(key)))
    print("%d passed, %d failed" % (checks, len(failures)))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
