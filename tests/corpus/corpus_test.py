#!/usr/bin/env python3
"""Issue 10: every domain of tests/corpus, in the shapes libvirt's own tests
use, through `nvdimmctl rewrite` and the real hook binary.

  corpus_test.py BUILD_DIR SOURCE_DIR

domains/*.xml (no host namespace):
  - `nvdimmctl rewrite` prints the same document in meaning (C14N equal) and
    reports no change;
  - the hook allows prepare, start, release;
  - with an annotation naming the corpus namespace added: on an architecture
    nvdimm-hook sizes, rewrite plans it and the hook's prepare then CLAIMS the
    namespace (claim file present) and release drops the claim; on any other
    architecture both rewrite and prepare refuse, naming the architecture.
with-namespace/*.xml (a host namespace, annotated or as a device): prepare
  refuses with the text in the file's `<!-- expect: … -->` comment and takes
  no claim.
Prints one "ok:" line per check; the first failure exits 1.
"""
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

SIZED_ARCHES = {"x86_64", "i686", "aarch64", "ppc64", "ppc64le"}
ANNOTATION = ('<nvdimm:nvdimms xmlns:nvdimm="urn:nvdimm-hook:1">'
              '<nvdimm:nvdimm uuid="3f1c7a52-8a0e-4d61-9b43-5a7e2c91d0aa"/></nvdimm:nvdimms>')
checks = 0


def fail(message):
    print("FAIL: " + message, flush=True)
    sys.exit(1)


def ok(message):
    global checks
    checks += 1
    print("ok: " + message)


def canonical(text):
    return ET.canonicalize(xml_data=text)


def run(argv, stdin="", env=None):
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env, timeout=60)


def main():
    if len(sys.argv) != 3:
        fail("usage: corpus_test.py BUILD_DIR SOURCE_DIR")
    build, source = sys.argv[1], sys.argv[2]
    nvdimmctl = os.path.join(build, "nvdimmctl")
    hook = os.path.join(build, "nvdimm-hook")
    for binary in (nvdimmctl, hook):
        if not os.access(binary, os.X_OK):
            fail(binary + " is missing: build the nvdimmctl and nvdimm-hook targets")
    corpus = os.path.join(source, "tests", "corpus")
    inventory = os.path.join(corpus, "inventory.json")
    work = tempfile.mkdtemp(prefix="nvh-corpus.")
    dev = os.path.join(work, "dev")
    claims = os.path.join(work, "run", "claims")
    os.makedirs(dev)
    os.makedirs(os.path.join(work, "libvirt-run"))
    with open(os.path.join(dev, "dax0.0"), "wb") as f:
        f.truncate(2145386496)
    config = os.path.join(work, "hook.conf")
    with open(config, "w") as f:
        f.write(f"inventory = {inventory}\ndevice-dir = {dev}\nrun-dir = {work}/run\n"
                f"state-dir = {work}/state\nlibvirt-run-dir = {work}/libvirt-run\nprobe = off\n")
    env = dict(os.environ, NVDIMM_HOOK_CONFIG=config)
    inv = ["--inventory", inventory, "--device-dir", dev]

    def claim_files():
        return sorted(os.listdir(claims)) if os.path.isdir(claims) else []

    def hook_call(name, op, text):
        return run([hook, name, op, "begin", "-"], text, env)

    domains = sorted(os.listdir(os.path.join(corpus, "domains")))
    if len(domains) < 30:
        fail(f"only {len(domains)} corpus domains")
    for file in domains:
        path = os.path.join(corpus, "domains", file)
        text = open(path).read()
        root = ET.fromstring(text)
        name = root.findtext("name")
        arch = root.find("os/type").get("arch", "x86_64")

        out = run([nvdimmctl, "rewrite", path] + inv)
        if out.returncode != 0:
            fail(f"{file}: rewrite exit {out.returncode}: {out.stderr.strip()}")
        if "changed:" in out.stderr:
            fail(f"{file}: rewrite with nothing to plan changed: {out.stderr.strip()}")
        if canonical(out.stdout) != canonical(text):
            fail(f"{file}: rewrite output differs from the input in meaning:\n{out.stdout}")
        ok(f"{file}: rewrite is a no-op")

        for op in ("prepare", "start", "release"):
            result = hook_call(name, op, text)
            if result.returncode != 0:
                fail(f"{file}: hook {op} refused a domain without host namespace: {result.stderr}")
        if claim_files():
            fail(f"{file}: claims taken for a domain without host namespace: {claim_files()}")
        ok(f"{file}: hook allows prepare/start/release, no claim")

        annotated = add_annotation(text)
        annotated_path = os.path.join(work, "annotated-" + file)
        with open(annotated_path, "w") as f:
            f.write(annotated)
        rewritten = run([nvdimmctl, "rewrite", annotated_path] + inv)
        if arch in SIZED_ARCHES:
            if rewritten.returncode != 0:
                fail(f"{file}: rewrite of the annotated domain failed: {rewritten.stderr.strip()}")
            prepared = hook_call(name, "prepare", rewritten.stdout)
            if prepared.returncode != 0 or len(claim_files()) != 1:
                fail(f"{file} ({arch}): prepare of the rewritten domain: exit "
                     f"{prepared.returncode}, claims {claim_files()}: {prepared.stderr}")
            released = hook_call(name, "release", rewritten.stdout)
            if released.returncode != 0 or claim_files():
                fail(f"{file}: release left claims {claim_files()}")
            ok(f"{file} ({arch}) annotated: planned, claimed at prepare, released")
        else:
            expect = f"architecture '{arch}'"
            if rewritten.returncode != 1 or expect not in rewritten.stderr:
                fail(f"{file}: rewrite of the annotated {arch} domain: exit "
                     f"{rewritten.returncode}, stderr {rewritten.stderr!r}")
            prepared = hook_call(name, "prepare", annotated)
            if prepared.returncode != 1 or expect not in prepared.stderr or claim_files():
                fail(f"{file}: prepare of the annotated {arch} domain: exit "
                     f"{prepared.returncode}, claims {claim_files()}, stderr {prepared.stderr!r}")
            ok(f"{file} ({arch}) annotated: rewrite and prepare refuse naming the architecture")

    for file in sorted(os.listdir(os.path.join(corpus, "with-namespace"))):
        text = open(os.path.join(corpus, "with-namespace", file)).read().replace("@DEV@", dev)
        expect = re.search(r"<!-- expect: (.*?) -->", text)
        if not expect:
            fail(f"{file}: no <!-- expect: ... --> comment")
        name = ET.fromstring(text).findtext("name")
        prepared = hook_call(name, "prepare", text)
        if prepared.returncode != 1 or expect.group(1) not in prepared.stderr or claim_files():
            fail(f"{file}: prepare: exit {prepared.returncode}, claims {claim_files()}, stderr "
                 f"{prepared.stderr!r}, expected refusal with {expect.group(1)!r}")
        ok(f"{file}: prepare refuses ({expect.group(1)}), no claim")
    print(f"corpus: {checks} checks passed")


def add_annotation(text):
    if "<metadata>" in text:
        return text.replace("<metadata>", "<metadata>" + ANNOTATION, 1)
    return re.sub(r"(</uuid>)", r"\1<metadata>" + ANNOTATION + "</metadata>", text, count=1)


if __name__ == "__main__":
    main()
