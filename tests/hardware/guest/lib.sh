# Helpers for test-bed scenarios (busybox sh). Sourced by /init and by every
# scenario. See /init for the line formats the host parses.

NVH_RESULTS=/run/nvh/results

nvh_ok() {
  echo "NVH-RESULT ok $*"
  echo ok >>"$NVH_RESULTS"
}

nvh_fail() {
  echo "NVH-RESULT fail $*"
  echo fail >>"$NVH_RESULTS"
}

nvh_fact() {
  echo "NVH-FACT $*"
}

# Milliseconds since boot.
nvh_ms() {
  awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime
}

# nvh_check WHAT CMD...: runs CMD; ok, or fail with its output.
nvh_check() {
  what=$1
  shift
  if out=$("$@" 2>&1); then
    nvh_ok "$what"
    return 0
  fi
  rc=$?
  nvh_fail "$what (status $rc): $(echo "$out" | tail -n 5 | tr '\n' ' ')"
  return 1
}

# nvh_expect_eq WHAT ACTUAL EXPECTED
nvh_expect_eq() {
  if [ "$2" = "$3" ]; then
    nvh_ok "$1: $2"
    return 0
  fi
  nvh_fail "$1: got '$2', expected '$3'"
  return 1
}

# nvh_data NAME CMD...: CMD's stdout (stderr too) as a data block.
nvh_data() {
  name=$1
  shift
  echo "NVH-DATA-BEGIN $name"
  "$@" 2>&1
  rc=$?
  echo
  echo "NVH-DATA-END $name rc=$rc"
  return $rc
}

# nvh_data_file NAME FILE
nvh_data_file() {
  echo "NVH-DATA-BEGIN $1"
  cat "$2"
  echo
  echo "NVH-DATA-END $1 rc=0"
}

# nvh_wait WHAT SECONDS CMD...: polls CMD every 0.1 s until it succeeds
# (bounded); ok or fail.
nvh_wait() {
  what=$1
  limit=$(($2 * 10))
  shift 2
  i=0
  start=$(nvh_ms)
  while ! "$@" >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -ge "$limit" ]; then
      nvh_fail "$what: not true after $((limit / 10)) s"
      return 1
    fi
    usleep 100000 # poll interval, not synchronisation
  done
  nvh_ok "$what (after $(($(nvh_ms) - start)) ms)"
}

# nvh_json_field KEY < pretty-printed JSON: the first value of "KEY" (number,
# string or bool), quotes removed. For nvdimmctl's one-key-per-line output.
nvh_json_field() {
  sed -n "s/^ *\"$1\": *\"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\} *$/\1/p" | head -n 1
}

# ns_field NAME KEY: KEY of the namespace named NAME in `ndctl list -N -v`
# (json-c pretty print, one key per line). The first occurrence of KEY in the
# namespace's object wins, nested objects included (e.g. "chardev" of its dax
# device).
ns_field() {
  # busybox awk: no regex bracket expressions with braces; compare characters.
  ndctl list -N -v | awk -v want="$1" -v key="$2" '
    {
      t = $0
      sub(/^ */, "", t)
      sub(/ *$/, "", t)
      first = substr(t, 1, 1)
      last = substr(t, length(t), 1)
      if (first == "}" || first == "]") {
        depth--
        if (depth == 1) {
          if (match_ && !done) { print got; done = 1 }
          match_ = 0; got = ""; have = 0
        }
      }
      if (first == "\"" && index(t, "\":") > 0) {
        k = substr(t, 2, index(t, "\":") - 2)
        v = substr(t, index(t, "\":") + 2)
        sub(/^ */, "", v); sub(/,$/, "", v); gsub(/"/, "", v)
        if (k == key && !have) { got = v; have = 1 }
        if (k == "name" && v == want) match_ = 1
      }
      if (last == "{" || last == "[") depth++
    }
    END { if (match_ && !done) print got }'
}
