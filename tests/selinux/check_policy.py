#!/usr/bin/env python3
"""The binary policies tests/selinux loads, read with setools.

    check_policy.py BASE.33 FULL.33 nvh_test.cil

What would make the enforcing test meaningless fails here: the rule the module
adds (svirt_t may map svirt_image_t character devices) already present
without the module, missing with it, or the test scaffolding granting map or
anything to the QEMU or hook domains.
"""
import re
import sys

import setools

base_path, full_path, cil_path = sys.argv[1:4]
base = setools.SELinuxPolicy(base_path)
full = setools.SELinuxPolicy(full_path)
failed = 0


def check(what, ok):
    global failed
    print(("ok: " if ok else "FAIL: ") + what)
    failed += 0 if ok else 1


def allows(policy, source, target, tclass, perm):
    query = setools.TERuleQuery(policy, ruletype=["allow"], source=source, target=target,
                                tclass=[tclass], perms={perm})
    return [str(r) for r in query.results()]


def has_type(policy, name):
    try:
        policy.lookup_type(name)
        return True
    except Exception:
        return False


check("base (refpolicy + nvh_test.cil) is MCS/MLS", base.mls)
check("base has svirt_t, svirt_image_t, virtd_t, qemu_exec_t",
      all(has_type(base, t) for t in ("svirt_t", "svirt_image_t", "virtd_t", "qemu_exec_t")))
check("base has no nvdimm_hook_t", not has_type(base, "nvdimm_hook_t"))
rules = allows(base, "svirt_t", "svirt_image_t", "chr_file", "map")
check("base: svirt_t may not map svirt_image_t chr_file %s" % rules, not rules)
rules = allows(full, "svirt_t", "svirt_image_t", "chr_file", "map")
check("full: svirt_t may map svirt_image_t chr_file %s" % rules, bool(rules))
check("full: nvdimm_hook_t exists", has_type(full, "nvdimm_hook_t"))
check("full: nvdimm_hook_t is enforcing (not permissive)",
      has_type(full, "nvdimm_hook_t") and not full.lookup_type("nvdimm_hook_t").ispermissive)
rules = allows(full, "virtd_t", "nvdimm_hook_t", "process", "transition")
check("full: virtd_t may enter nvdimm_hook_t", bool(rules))
rules = allows(full, "nvdimm_hook_t", "nvdimm_hook_exec_t", "file", "execute_no_trans")
check("full: the entry may exec the full hook in nvdimm_hook_t %s" % rules, bool(rules))
trans = [str(r) for r in setools.TERuleQuery(full, ruletype=["type_transition"], source="nvdimm_hook_t",
                                             target="tmpfs_t", tclass=["file"]).results()]
check("full: memfds of nvdimm_hook_t are nvdimm_hook_tmpfs_t %s" % trans,
      len(trans) == 1 and trans[0].endswith(" nvdimm_hook_tmpfs_t;"))
# With nothing on tmpfs_t files, a hook that reads its memfd stdin without a
# denial proves the memfd carries nvdimm_hook_tmpfs_t.
rules = [r for p in ("read", "write", "open") for r in allows(full, "nvdimm_hook_t", "tmpfs_t", "file", p)]
check("full: nvdimm_hook_t may not read or write tmpfs_t files %s" % rules, not rules)

# The scaffolding: statements, comments stripped.
cil = re.sub(r";[^\n]*", "", open(cil_path).read())
check("nvh_test.cil grants no map", not re.search(r"\bmap\b", cil))
allow_rules = re.findall(r"\(allow\s+(\S+)\s+(\S+)\s+\((\S+)\s+\(([^)]*)\)", cil)
sources = {r[0] for r in allow_rules}
check("nvh_test.cil grants only to the init and the daemon stand-ins: %s" % sorted(sources),
      sources <= {"kernel_t", "virtd_t", "file_type"})
check("nvh_test.cil grants file types nothing but associate with the rootfs",
      all(r[1:] == ("root_t", "filesystem", "associate") for r in allow_rules if r[0] == "file_type"))
check("nvh_test.cil mentions neither svirt nor nvdimm_hook types",
      not re.search(r"svirt|nvdimm_hook", cil))
sys.exit(1 if failed else 0)
