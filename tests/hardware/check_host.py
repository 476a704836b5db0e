#!/usr/bin/env python3
"""Judges the two boots of the emulated NVDIMM host (issue 4 part 2).

  check_host.py CREATE_LOG VERIFY_LOG

CREATE_LOG is the serial log of scenarios/host-create.sh, VERIFY_LOG that of
scenarios/host-verify.sh on the same backing file. Prints one "ok: …" line per
check and a summary of the measured facts; exits 1 with "FAIL: …" lines when
anything does not hold.
"""

import math
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from testbed_log import BootLog  # noqa: E402

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

# What host-common.inc creates: name -> (mode, created size, ndctl align),
# from the guest's "NVH-FACT namespaces name:mode:size:align:selector ...".
# fsdax gets ndctl's default align (2 MiB on x86_64).
EXPECTED = {}


def size_bytes(text):
    m = re.match(r"^(\d+)([KMG]?)$", text)
    if not m:
        raise ValueError("not a size: %r" % text)
    return int(m.group(1)) * {"": 1, "K": KiB, "M": MiB, "G": GiB}[m.group(2)]


def load_expected(create):
    values = create.fact_values("namespaces")
    if len(values) != 1:
        raise LookupError("host-create.sh reported %d 'namespaces' facts" % len(values))
    for entry in values[0].split():
        name, mode, size, align, _selector = entry.split(":")
        if align == "-":
            align = "2M" if mode == "fsdax" else "0"
        EXPECTED[name] = (mode, size_bytes(size), size_bytes(align))

# ndctl list -N -v keys nvdimmctl list --json mirrors under the same name.
MIRRORED = ["dev", "mode", "map", "size", "uuid", "raw_uuid", "align", "blockdev", "name",
            "numa_node", "state"]
# ndctl keys nvdimmctl does not carry (not needed for planning).
NOT_MIRRORED = {"sector_size", "target_node", "daxregion"}

LIBVIRT_STEP = 2 * MiB  # libvirt x86_64 rounds nvdimm sizes up to 2 MiB
HOTPLUG_BLOCK = 128 * MiB  # x86_64 memory block
MIN_LABEL = 128 * KiB
PAGE = 4 * KiB

failures = []
checks = 0


def ok(what):
    global checks
    checks += 1
    print("ok: " + what)


def fail(what):
    failures.append(what)
    print("FAIL: " + what)


def expect(cond, what, detail=""):
    if cond:
        ok(what)
    else:
        fail(what + (": " + detail if detail else ""))
    return cond


def fmt(n):
    if n is None:
        return "-"
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n and n % size == 0:
            return "%d %s" % (n // size, unit)
    return "%d B" % n


def align_down(v, a):
    return v - v % a


def align_up(v, a):
    return align_down(v + a - 1, a)


def as_list(j):
    return j if isinstance(j, list) else [j]


# ---------------------------------------------------------------------------
def check_guest_results(log, label):
    for good, what in log.results:
        (ok if good else fail)("%s guest: %s" % (label, what))
    if log.done is None:
        fail("%s: no NVH-DONE line" % label)
    else:
        expect(log.done.get("failed") == "0",
               "%s: guest reports passed=%s failed=%s" % (label, log.done.get("passed"),
                                                          log.done.get("failed")))


def ndctl_chardev(ns):
    devices = ns.get("daxregion", {}).get("devices", [])
    return devices[0]["chardev"] if devices else None


def check_lists(log, label):
    """nvdimmctl list --json (libndctl) against ndctl list -N -v -c, and sysfs."""
    ndctl = as_list(log.json_block("ndctl-list"))
    ours = log.json_block("nvdimmctl-list")
    expect([n["dev"] for n in ours] == [n["dev"] for n in ndctl],
           "%s: nvdimmctl lists the namespaces ndctl lists, in ndctl's order: %s"
           % (label, " ".join(n["dev"] for n in ndctl)),
           "nvdimmctl %s" % [n["dev"] for n in ours])
    by_dev = {n["dev"]: n for n in ours}
    for n in ndctl:
        mine = by_dev.get(n["dev"])
        if mine is None:
            continue
        extra = set(n) - set(MIRRORED) - NOT_MIRRORED
        expect(not extra, "%s %s: every ndctl key is known (%s)" % (label, n["dev"], ", ".join(sorted(n))),
               "unknown ndctl keys %s" % sorted(extra))
        for key in MIRRORED:
            if key in n or key in mine:
                expect(n.get(key) == mine.get(key),
                       "%s %s %s: nvdimmctl %r == ndctl %r" % (label, n["dev"], key, mine.get(key), n.get(key)))
        chardev = ndctl_chardev(n)
        expect(chardev == mine.get("chardev"),
               "%s %s chardev: nvdimmctl %r == ndctl daxregion device %r"
               % (label, n["dev"], mine.get("chardev"), chardev))
        if "daxregion" in n:
            dev0 = n["daxregion"]["devices"][0]
            expect(dev0["size"] == mine["size"] and n["daxregion"]["align"] == mine["align"],
                   "%s %s: dax device size %d / region align %d match nvdimmctl"
                   % (label, n["dev"], dev0["size"], n["daxregion"]["align"]))
        want_path = "/dev/" + (chardev if n["mode"] == "devdax" else n.get("blockdev", "?"))
        expect(mine.get("path") == want_path, "%s %s path %s" % (label, n["dev"], want_path),
               "nvdimmctl path %r" % mine.get("path"))

    devices = {}
    for line in log.block("devices")[1].splitlines():
        kv = dict(w.split("=", 1) for w in line.split() if "=" in w)
        if "dev" in kv:
            devices[kv["dev"]] = kv
    for mine in ours:
        dev = devices.get(mine.get("path"))
        if not expect(dev is not None, "%s %s: %s exists in sysfs" % (label, mine["dev"], mine.get("path"))):
            continue
        want_type = "char" if mine["mode"] == "devdax" else "block"
        expect(dev["type"] == want_type,
               "%s %s: %s is a %s device node" % (label, mine["dev"], mine["path"], want_type),
               "type %s" % dev["type"])
        expect(int(dev["size"]) == mine["size"],
               "%s %s: sysfs size of %s %d == nvdimmctl size" % (label, mine["dev"], mine["path"], int(dev["size"])),
               "nvdimmctl %d" % mine["size"])
        if mine["mode"] == "devdax":
            expect(int(dev["align"]) == mine["align"],
                   "%s %s: sysfs align of %s %d == nvdimmctl align" % (label, mine["dev"], mine["path"], int(dev["align"])))
    return ours


def check_expected(ours, label):
    by_name = {n.get("name"): n for n in ours}
    expect(sorted(by_name) == sorted(EXPECTED),
           "%s: the namespaces are %s" % (label, ", ".join(sorted(EXPECTED))), "got %s" % sorted(by_name))
    for name, (mode, created, align) in EXPECTED.items():
        n = by_name.get(name)
        if n is None:
            continue
        expect(n["mode"] == mode and n.get("align", 0) == align and 0 < n["size"] <= created,
               "%s %s: %s, align %s, usable %d of %s created" % (label, name, n["mode"], fmt(n.get("align")), n["size"], fmt(created)),
               "expected %s align %s" % (mode, fmt(align)))
        if mode == "raw":
            expect("uuid" in n and "raw_uuid" not in n, "%s %s: raw has the label uuid only" % (label, name))
        else:
            expect(n.get("uuid") and n.get("raw_uuid") and n["uuid"] != n["raw_uuid"],
                   "%s %s: %s has an info-block uuid distinct from its label uuid (raw_uuid)" % (label, name, mode))
    return by_name


IDENTITY = ["mode", "map", "size", "uuid", "raw_uuid", "align", "name", "numa_node", "guest_size",
            "target_size"]
NODE_NAMES = ["dev", "chardev", "blockdev", "path"]


def check_reboot(before, after):
    """The namespaces' identity survives the reboot; their names may not."""
    renamed = []
    for name in EXPECTED:
        a, b = before.get(name), after.get(name)
        if a is None or b is None:
            fail("reboot: %s missing before or after" % name)
            continue
        diff = {k: (a.get(k), b.get(k)) for k in IDENTITY if a.get(k) != b.get(k)}
        expect(not diff, "reboot: %s keeps its identity (%s)" % (name, ", ".join("%s=%s" % (k, a.get(k)) for k in ("uuid", "size", "align"))),
               "changed: %s" % diff)
        moved = ["%s %s -> %s" % (k, a.get(k), b.get(k)) for k in NODE_NAMES if a.get(k) != b.get(k)]
        if moved:
            renamed.append("%s: %s" % (name, ", ".join(moved)))
    return renamed


def resolve_selector(selector, listing):
    m = re.match(r'(\w+)="([^"]*)"', selector)
    if not m:
        return None
    kind, value = m.groups()
    key = {"uuid": "uuid", "namespace": "dev", "path": "path"}[kind]
    found = [n for n in listing.values() if n.get(key) == value]
    return found[0]["name"] if len(found) == 1 else None


def check_selectors_after_reboot(create, before, after):
    """Boot 1's annotation selectors, resolved against the rebooted host."""
    findings = []
    for value in create.fact_values("selector"):
        name, selector = value.split(" ", 1)
        then, now = resolve_selector(selector, before), resolve_selector(selector, after)
        expect(then == name, "boot 1 selector %s names %s" % (selector, name), "it names %s" % then)
        if selector.startswith("uuid="):
            expect(now == name, "reboot: uuid selector %s still names %s" % (selector, name), "it names %s" % now)
        elif now != name:
            findings.append("selector %s named %s before the reboot and %s after it" % (selector, name, now or "no namespace"))
    return findings


def check_plans(log, label, by_name):
    plans = {}
    for name, ns in by_name.items():
        try:
            plan = log.json_block("plan " + name)
        except (LookupError, ValueError) as e:
            fail("%s plan %s: %s" % (label, name, e))
            continue
        devs = plan.get("devices", [])
        if not expect(len(devs) == 1 and plan.get("arch") == "x86_64",
                      "%s plan %s: one x86_64 device" % (label, name), str(plan)):
            continue
        d = devs[0]
        plans[name] = d
        same = {k: (d.get(k), v) for k, v in (("namespace", ns["dev"]), ("uuid", ns.get("uuid", "")),
                                             ("mode", ns["mode"]), ("path", ns["path"]),
                                             ("device_size", ns["size"]), ("device_align", ns.get("align", 0)),
                                             ("annotated", True)) if d.get(k) != v}
        expect(not same, "%s plan %s: resolves the annotation to %s (%s)" % (label, name, ns["dev"], ns["path"]),
               "differs from the inventory: %s" % same)
        S, L, A, G, D = d["target_size"], d["label_size"], d["align_size"], d["guest_size"], d["device_size"]
        Adev = d["device_align"]
        devdax = d["mode"] == "devdax"
        rules = [
            ("S <= D", S <= D),
            ("S % 2 MiB == 0 (libvirt keeps it)", S % LIBVIRT_STEP == 0),
            ("L >= 128 KiB, page multiple", L >= MIN_LABEL and L % PAGE == 0),
            ("A power of two >= 2 MiB", A >= 2 * MiB and A & (A - 1) == 0),
            ("G == alignDown(S - L, A)", G == align_down(S - L, A) and G > 0),
            ("G % 128 MiB == 0 (hot plug)", G % HOTPLUG_BLOCK == 0),
            ("pmem exactly for devdax", d["pmem"] == devdax),
        ]
        if devdax:
            rules += [("S % Adev == 0", S % Adev == 0), ("A % Adev == 0", A % Adev == 0)]
        # Largest G: the next guest step would need a target beyond the device.
        target_step = math.lcm(LIBVIRT_STEP, Adev) if devdax else LIBVIRT_STEP
        guest_step = math.lcm(HOTPLUG_BLOCK, A)
        rules.append(("G is the largest (G + %s does not fit)" % fmt(guest_step),
                      align_up(G + guest_step + L, target_step) > D))
        broken = [r for r, good in rules if not good]
        expect(not broken, "%s plan %s: D=%d S=%d L=%d A=%d G=%d fits (%s)" % (label, name, D, S, L, A, G, "; ".join(r for r, _ in rules)),
               "broken: %s" % broken)
    return plans


QEMU_MAP_EINVAL = "unable to map backing store for guest RAM: Invalid argument"


def parse_qemu_block(title, text, rc):
    m = re.match(r"qemu (\S+) (\S+) path=(\S+) size=(\d+) align=(\d+) label=(\S+) extra=(\S*)", title)
    head = re.search(r"^rc=(\d+) ms=(\d+)", text, re.M)
    size = None
    for line in text.splitlines():
        if line.startswith("stdout: ") and '"type": "nvdimm"' in line:
            sm = re.search(r'"size": (\d+)', line)
            size = int(sm.group(1)) if sm else None
    stderr = [line[len("stderr: "):] for line in text.splitlines() if line.startswith("stderr: ")]
    return {
        "name": m.group(1), "case": m.group(2), "path": m.group(3), "size": int(m.group(4)),
        "align": int(m.group(5)), "label": m.group(6), "extra": m.group(7),
        "rc": int(head.group(1)) if head else None, "ms": int(head.group(2)) if head else None,
        "guest_size": size, "stderr": stderr,
    }




def check_nested(log, label, plans):
    runs = [parse_qemu_block(*b) for b in log.blocks_starting("qemu ")]
    expect(runs, "%s: nested QEMU ran" % label)
    planned = {r["name"] for r in runs if r["case"].startswith("planned")}
    for r in runs:
        d = plans.get(r["name"])
        if d is None:
            fail("%s nested %s: no plan" % (label, r["name"]))
            continue
        D, Adev, L = d["device_size"], d["device_align"], size_bytes(r["label"])
        what = "%s nested QEMU %s %s: %s size=%d align=%s%s" % (label, r["name"], r["case"], r["path"], r["size"], fmt(r["align"]), r["extra"])
        err = " / ".join(r["stderr"]) or "(no stderr)"
        # DESIGN.md §3's model of QEMU + device DAX.
        if r["size"] > D:
            want = "backing store size 0x%x does not match 'size' option 0x%x" % (D, r["size"])
            expect(r["rc"] != 0 and any(want in e for e in r["stderr"]),
                   what + " is refused: '%s'" % want, "rc %s, stderr: %s" % (r["rc"], err))
        elif d["mode"] == "devdax" and (r["size"] % Adev or r["align"] % Adev):
            expect(r["rc"] != 0 and any(QEMU_MAP_EINVAL in e for e in r["stderr"]),
                   what + " is refused by device DAX (S %% Adev = %d, A %% Adev = %d): '%s'"
                   % (r["size"] % Adev, r["align"] % Adev, QEMU_MAP_EINVAL),
                   "rc %s, stderr: %s" % (r["rc"], err))
        else:
            want = align_down(r["size"] - L, r["align"])
            expect(r["rc"] == 0 and r["guest_size"] == want,
                   what + " starts; query-memory-devices size %s == alignDown(S - L, A) = %d (%d ms)"
                   % (r["guest_size"], want, r["ms"] or -1),
                   "rc %s, stderr: %s" % (r["rc"], err))
            if r["case"].startswith("planned"):
                expect(r["guest_size"] == d["guest_size"],
                       "%s nested %s: guest-visible size %s is the planned G %d" % (label, r["name"], r["guest_size"], d["guest_size"]))
    return runs, planned


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: check_host.py CREATE_LOG VERIFY_LOG")
    create, verify = BootLog(sys.argv[1]), BootLog(sys.argv[2])
    load_expected(create)
    devdax_aligns = {a for m, _, a in EXPECTED.values() if m == "devdax"}
    expect({m for m, _, _ in EXPECTED.values()} == {"raw", "sector", "fsdax", "devdax"}
           and {2 * MiB, 1 * GiB} <= devdax_aligns,
           "the emulated host has namespaces of all four modes, devdax with 2 MiB and 1 GiB align: %s" % ", ".join(
               "%s %s %s" % (n, m, fmt(s)) for n, (m, s, _) in EXPECTED.items()))
    for log, label in ((create, "boot 1"), (verify, "boot 2")):
        if log.boot and log.done:
            print("# %s: kernel %s, /init at %s s, scenario done at %s s (guest uptime)" % (
                label, log.boot.get("kernel"), log.boot.get("uptime"), log.done.get("uptime")))
    summary = {}
    for log, label in ((create, "boot 1"), (verify, "boot 2 (reboot)")):
        try:
            check_guest_results(log, label)
            ours = check_lists(log, label)
            by_name = check_expected(ours, label)
            plans = check_plans(log, label, by_name)
            runs, planned = check_nested(log, label, plans)
            if log is create:
                expect(planned == set(EXPECTED), "%s: every namespace's plan was started in nested QEMU" % label,
                       "planned runs: %s" % sorted(planned))
            else:
                devdax = {n for n, (m, _, _) in EXPECTED.items() if m == "devdax"}
                expect(devdax <= planned, "%s: the devdax plans were started in nested QEMU" % label,
                       "planned runs: %s" % sorted(planned))
            summary[label] = (by_name, plans, runs)
        except (LookupError, ValueError, KeyError, TypeError) as e:
            fail("%s: %s: %s" % (label, type(e).__name__, e))
    renamed, findings = [], []
    if len(summary) == 2:
        before, after = summary["boot 1"][0], summary["boot 2 (reboot)"][0]
        renamed = check_reboot(before, after)
        findings = check_selectors_after_reboot(create, before, after)
        p1, p2 = summary["boot 1"][1], summary["boot 2 (reboot)"][1]
        for name in EXPECTED:
            a = {k: v for k, v in p1.get(name, {}).items() if k not in ("namespace", "path")}
            b = {k: v for k, v in p2.get(name, {}).items() if k not in ("namespace", "path")}
            expect(a and a == b, "reboot: the plan of %s is unchanged (S=%s G=%s)" % (name, a.get("target_size"), a.get("guest_size")),
                   "boot 1 %s, boot 2 %s" % (a, b))

    # The measured facts.
    print("\n== measured (kernel %s, %s)" % (create.boot.get("kernel") if create.boot else "?",
                                            ", ".join(v for k, v in create.facts if k == "testbed")))
    if "boot 1" in summary:
        by_name, plans, runs = summary["boot 1"]
        print("%-5s %-7s %9s %-4s %12s %6s %-6s %-26s %12s %8s %6s %12s %12s" % (
            "name", "mode", "created", "map", "usable D", "align", "uuid", "selector", "target S", "label L",
            "A", "guest G", "QMP size"))
        for name, (mode, created, _) in EXPECTED.items():
            n, d = by_name.get(name, {}), plans.get(name, {})
            qmp = [r["guest_size"] for r in runs if r["name"] == name and r["case"].startswith("planned")]
            sel = [v.split(" ", 1)[1] for k, v in create.facts if k == "selector" and v.startswith(name + " ")]
            print("%-5s %-7s %9s %-4s %12s %6s %-6s %-26s %12s %8s %6s %12s %12s" % (
                name, mode, fmt(created), n.get("map", "-"), n.get("size"), fmt(n.get("align")),
                "info+label" if n.get("raw_uuid") else "label",
                (sel[0].split("=")[0] if sel else "-"), d.get("target_size"), fmt(d.get("label_size")),
                fmt(d.get("align_size")), d.get("guest_size"), qmp[0] if qmp else "-"))
        print("nested QEMU runs (-S, TCG inside the emulated host):")
        for r in runs:
            outcome = ("guest size %s" % r["guest_size"]) if r["rc"] == 0 else ("refused: " + " / ".join(r["stderr"]))
            print("  %-5s %-12s size=%-11d align=%-5s%-13s %6s ms  %s" % (
                r["name"], r["case"], r["size"], fmt(r["align"]), r["extra"], r["ms"], outcome))
        for k, v in create.facts:
            if k == "create-ms":
                print("  ndctl create-namespace %s: %s ms" % tuple(v.split(" ", 1)))
        unaligned = [line for line in create.block("dmesg")[1].splitlines() if "unaligned vma" in line]
        for line in unaligned:
            print("  kernel: " + line.strip())
    for line in renamed:
        print("renamed by the reboot: " + line)
    for line in findings:
        print("finding: " + line)
    print("\n%d passed, %d failed" % (checks, len(failures)))
    if failures:
        print("\nFAILURES:")
        for f in failures:
            print("FAIL: " + f)
        sys.exit(1)


if __name__ == "__main__":
    main()
