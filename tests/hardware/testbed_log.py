"""Parses the serial log of one test-bed boot (tests/hardware/guest/init).

Lines (a trailing CR from the serial console is dropped):
  NVH-BOOT kernel=… scenario=… uptime=…
  NVH-RESULT ok|fail <what>
  NVH-FACT <key> <value…>
  NVH-DATA-BEGIN <title> … NVH-DATA-END <…> rc=<n>
  NVH-DONE passed=<n> failed=<m> uptime=<s>
Anything else (kernel messages) is kept only as context.
"""

import json
import re


class BootLog:
    def __init__(self, path):
        self.path = path
        self.results = []  # (ok: bool, what)
        self.facts = []  # (key, value)
        self.blocks = []  # (title, text, rc)
        self.done = None  # dict or None
        self.boot = None
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        lines = [line.rstrip("\r") for line in text.split("\n")]
        block_title = None
        block_lines = []
        for line in lines:
            if block_title is not None:
                m = re.match(r"^NVH-DATA-END .* rc=(-?\d+)\s*$", line)
                if m:
                    self.blocks.append((block_title, "\n".join(block_lines), int(m.group(1))))
                    block_title = None
                    block_lines = []
                else:
                    block_lines.append(line)
                continue
            if line.startswith("NVH-DATA-BEGIN "):
                block_title = line[len("NVH-DATA-BEGIN "):].strip()
            elif line.startswith("NVH-RESULT "):
                _, status, what = (line.split(" ", 2) + [""])[:3]
                self.results.append((status == "ok", what))
            elif line.startswith("NVH-FACT "):
                parts = line.split(" ", 2) + [""]
                self.facts.append((parts[1], parts[2]))
            elif line.startswith("NVH-BOOT "):
                self.boot = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
            elif line.startswith("NVH-DONE "):
                self.done = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
        if block_title is not None:
            self.blocks.append((block_title, "\n".join(block_lines), None))

    def block(self, title):
        found = [b for b in self.blocks if b[0] == title]
        if len(found) != 1:
            raise LookupError("%s: expected one data block '%s', found %d" % (self.path, title, len(found)))
        return found[0]

    def json_block(self, title):
        title, text, rc = self.block(title)
        if rc != 0:
            raise ValueError("%s: '%s' exited with status %s:\n%s" % (self.path, title, rc, text))
        try:
            return json.loads(text)
        except ValueError as e:
            raise ValueError("%s: block '%s' is not JSON (%s):\n%s" % (self.path, title, e, text))

    def blocks_starting(self, prefix):
        return [b for b in self.blocks if b[0].startswith(prefix)]

    def fact_values(self, key):
        return [v for k, v in self.facts if k == key]
