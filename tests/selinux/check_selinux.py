#!/usr/bin/env python3
"""Judges the serial log of the SELinux boot (guest/selinux.sh).

    check_selinux.py SERIAL_LOG

The guest's own results (NVH-RESULT) must all be ok, and the kernel's AVC
lines, per phase ("avc PHASE" data blocks, complete up to the phase's
sentinel denial), must be exactly what the phase is about:

  setup, full-qemu, fast, hook   no denial (for QEMU: none but refpolicy's own
                           svirt_t gaps, listed, see refpolicy_qemu_gap)
  base-qemu    denied { map } svirt_t:c1,c2 -> svirt_image_t:c1,c2 chr_file,
               and nothing else
  full-mcs     svirt_t:c3,c4 denied on svirt_image_t:c1,c2 chr_file, only that
  hook-denied  each forbidden access denied to nvdimm_hook_t, and only
               nvdimm_hook_t denied
and no audit line may have been lost.
"""
import re
import sys

log_path = sys.argv[1]
lines = open(log_path, errors="replace").read().splitlines()
failed = 0


def check(what, ok, detail=""):
    global failed
    print(("ok: " if ok else "FAIL: ") + what + (("\n    " + detail) if detail and not ok else ""))
    failed += 0 if ok else 1


# Data blocks and results.
blocks = {}
results = []
current = None
for line in lines:
    if line.startswith("NVH-DATA-BEGIN "):
        current = line[len("NVH-DATA-BEGIN "):].strip()
        blocks[current] = []
    elif line.startswith("NVH-DATA-END "):
        current = None
    elif current is not None:
        blocks[current].append(line)
    elif line.startswith("NVH-RESULT "):
        results.append(line[len("NVH-RESULT "):])

for r in results:
    print("guest: " + r)
fails = [r for r in results if r.startswith("fail")]
check("guest results: %d ok, %d failed" % (len(results) - len(fails), len(fails)),
      not fails and results, "\n    ".join(fails))
done = [line for line in lines if line.startswith("NVH-DONE ")]
check("the scenario ran to its end", done and "failed=0" in done[-1], str(done))

AVC = re.compile(r"avc:\s+denied\s+\{ ([^}]*) \} for (.*)")


def field(rest, key):
    m = re.search(r"\b%s=(\"[^\"]*\"|\S+)" % key, rest)
    return m.group(1).strip('"') if m else ""


def avcs(phase):
    out = []
    for line in blocks.get("avc " + phase, []):
        m = AVC.search(line)
        if not m:
            continue
        rest = m.group(2)
        d = {
            "perms": set(m.group(1).split()),
            "scontext": field(rest, "scontext"),
            "tcontext": field(rest, "tcontext"),
            "tclass": field(rest, "tclass"),
            "comm": field(rest, "comm"),
            "name": field(rest, "name") or field(rest, "path"),
            "permissive": field(rest, "permissive"),
            "line": line.strip(),
        }
        if d["tcontext"].split(":")[2:3] == ["nvh_test_sentinel_t"]:
            continue  # the phase's end marker
        out.append(d)
    return out


def ctype(context):
    parts = context.split(":")
    return parts[2] if len(parts) > 2 else ""


def level(context):
    return ":".join(context.split(":")[3:])


phases = ["base-qemu", "setup", "full-qemu", "full-mcs", "fast", "hook", "hook-denied"]
for phase in phases:
    check("phase %s: its audit lines are complete (sentinel seen)" % phase,
          "avc " + phase in blocks and any('name="%s"' % phase in l for l in blocks["avc " + phase]))

everything = "\n".join(lines)
for bad in ("callbacks suppressed", "audit_lost", "backlog limit exceeded", "hold queue overflow"):
    check("no audit line lost ('%s' absent)" % bad, bad not in everything)
all_avcs = [a for p in phases for a in avcs(p)]
check("every denial was enforced (permissive=0)", all(a["permissive"] == "0" for a in all_avcs),
      "\n    ".join(a["line"] for a in all_avcs if a["permissive"] != "0"))


def show(items):
    return "\n    ".join(a["line"] for a in items) or "(none)"




def refpolicy_qemu_gap(a, phase):
    """What Debian's refpolicy denies QEMU in svirt_t and QEMU starts
    without: io_uring (falls back to threads), and, before nvdimm_hook is
    loaded (its dev_read_sysfs(svirt_t)), sysfs: host memory and CPU
    topology, libpmem's walk of /sys/bus/nd, the devdax size in
    /sys/dev/char/M:m. Reported, not failed."""
    if ctype(a["scontext"]) != "svirt_t":
        return False
    if ctype(a["tcontext"]) == "sysfs_t" and phase == "base-qemu":
        return a["tclass"] in ("file", "lnk_file") and a["perms"] <= {"read", "getattr"}
    return a["tclass"] == "anon_inode" and a["perms"] == {"create"}


gaps = {}
for p in ("base-qemu", "full-qemu", "full-mcs"):
    for a in avcs(p):
        if refpolicy_qemu_gap(a, p):
            key = "%s: { %s } %s %s" % (p, " ".join(sorted(a["perms"])), ctype(a["tcontext"]), a["tclass"])
            gaps[key] = gaps.get(key, 0) + 1
print("# refpolicy svirt_t denials QEMU starts without (not about mapping the NVDIMM):")
for key, n in sorted(gaps.items()):
    print("#   %dx %s" % (n, key))


def avcs_ours(phase):
    return [a for a in avcs(phase) if not refpolicy_qemu_gap(a, phase)]


for phase in ("setup", "full-qemu", "fast", "hook"):
    found = avcs_ours(phase)
    check("phase %s: no AVC denial" % phase, not found, show(found))

found = avcs_ours("base-qemu")
map_denials = [a for a in found if a["perms"] == {"map"} and ctype(a["scontext"]) == "svirt_t"
               and level(a["scontext"]) == "s0:c1,c2" and ctype(a["tcontext"]) == "svirt_image_t"
               and level(a["tcontext"]) == "s0:c1,c2" and a["tclass"] == "chr_file"
               and a["name"].endswith("dax0.0")]
check("phase base-qemu: avc denied { map } svirt_t:s0:c1,c2 -> svirt_image_t:s0:c1,c2 chr_file dax0.0",
      bool(map_denials), show(found))
check("phase base-qemu: no other denial", len(map_denials) == len(found), show(found))
for a in map_denials[:1]:
    print("    " + a["line"])

found = avcs_ours("full-mcs")
mcs = [a for a in found if ctype(a["scontext"]) == "svirt_t" and level(a["scontext"]) == "s0:c3,c4"
       and a["tcontext"].endswith("svirt_image_t:s0:c1,c2") and a["tclass"] == "chr_file"]
check("phase full-mcs: svirt_t:s0:c3,c4 denied on svirt_image_t:s0:c1,c2", bool(mcs), show(found))
check("phase full-mcs: no other denial", len(mcs) == len(found), show(found))

found = avcs("hook-denied")
check("phase hook-denied: only nvdimm_hook_t was denied",
      found and all(ctype(a["scontext"]) == "nvdimm_hook_t" for a in found), show(found))
wanted = [
    # comm is the basename of the last exec: the full hook the entry ran
    # (libvirt's link is 50-nvdimm-hook, the entry nvdimm-hook-entry)
    ("the real hook, exec'd by the entry, may not write a state dir in /var/lib/libvirt",
     lambda a: a["comm"] == "nvdimm-hook" and ctype(a["tcontext"]) == "virt_var_lib_t"),
    ("reading /etc/shadow", lambda a: ctype(a["tcontext"]) == "shadow_t" and a["tclass"] == "file"
     and "read" in a["perms"]),
    ("creating a file in /etc", lambda a: ctype(a["tcontext"]) == "etc_t" and a["tclass"] == "dir"
     and a["perms"] & {"write", "add_name"}),
    ("writing its config", lambda a: ctype(a["tcontext"]) == "nvdimm_hook_conf_t"
     and a["perms"] & {"write", "append", "open"}),
    ("opening the devdax", lambda a: a["tclass"] == "chr_file" and a["name"] == "dax0.0"
     and a["perms"] & {"read", "open"}),
]
for what, match in wanted:
    hits = [a for a in found if match(a)]
    check("nvdimm_hook_t denied %s" % what, bool(hits), show(found))
    for a in hits[:1]:
        print("    " + a["line"])
for phase in phases:
    if phase != "hook-denied":
        hook = [a for a in avcs(phase) if ctype(a["scontext"]) == "nvdimm_hook_t"]
        check("phase %s: no denial for nvdimm_hook_t" % phase, not hook, show(hook))

print("%s: %d checks failed" % (log_path, failed) if failed else "all checks passed")
sys.exit(1 if failed else 0)
