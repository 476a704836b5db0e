# shellcheck shell=bash
# A private, real libvirtd for integration tests (DESIGN.md §6).
#
# Debian 12's libvirtd (9.0) runs in session mode as an unprivileged user
# (uid/gid 65534 by default) inside a private mount namespace in which a
# temporary directory is bind-mounted over /etc/libvirt, so that hooks the
# tests install under /etc/libvirt/hooks/qemu.d/ never touch the real /etc.
# The hook directory is compiled into libvirt and is the same for session and
# system daemons (FACTS.md "libvirt hooks").
#
# Usage, at the very top of a test script that runs as root:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/session_libvirtd.sh"
#   session_reexec_in_namespace "${BASH_SOURCE[0]}" "$@"   # never returns outside
#   WORK=$(session_mktemp_workdir)
#   trap 'stop_session_libvirtd; rm -rf -- "$WORK"' EXIT
#   trap 'exit 130' INT TERM HUP
#   start_session_libvirtd "$WORK"
#   virsh_session define "$WORK/domain.xml"
#   restart_session_libvirtd      # optional: daemon only, domains keep running
#
# Hooks: libvirtd reads the hook directory when it starts (or on SIGHUP). Put
# them in "$WORK/etc-libvirt/hooks/qemu.d/" (seen as /etc/libvirt/hooks/qemu.d/)
# BEFORE start_session_libvirtd, which keeps what is there. In session mode
# hooks run as SESSION_UID with only LC_ALL, PATH, HOME, USER, LOGNAME set.
#
# The re-exec puts the whole script (and so the daemon, virtlogd, QEMU and
# every virsh) into one new mount AND pid namespace: virsh sees the same
# /etc/libvirt as the daemon, and when the script ends for any reason the
# kernel kills whatever it started (pid-namespace teardown), even if a cleanup
# step fails. `unshare --kill-child=SIGTERM` forwards the death of the outer
# process as SIGTERM, which runs the script's traps.
#
# Everything fails loudly: a missing tool, a daemon that dies or does not
# answer within SESSION_LIBVIRTD_START_TIMEOUT seconds is an error that prints
# the daemon's log, never a skip.
#
# Files a domain uses (backing files of namespaces, the XML given to
# `virsh define`) must be readable/writable by SESSION_UID: QEMU and virsh run
# as that user.

SESSION_UID=${SESSION_UID:-65534}
SESSION_GID=${SESSION_GID:-65534}
SESSION_LIBVIRTD_START_TIMEOUT=${SESSION_LIBVIRTD_START_TIMEOUT:-60}
SESSION_VIRSH_TIMEOUT=${SESSION_VIRSH_TIMEOUT:-120}

# Set by start_session_libvirtd.
SESSION_WORKDIR=
SESSION_LIBVIRTD_PID=
SESSION_ETC=           # the directory mounted on /etc/libvirt
SESSION_HOOKS_DIR=     # $SESSION_ETC/hooks (== /etc/libvirt/hooks in here)
SESSION_LOG=           # libvirtd's stdout+stderr
SESSION_ETC_MOUNTED=0

# The last failure of this shell, repeated by session_dump_logs after the logs.
SESSION_FAILURE=

session_die() {
  SESSION_FAILURE=$*
  echo "FAIL: $*" >&2
  exit 1
}

session_note() {
  echo "# $*" >&2
}

session_require_tools() {
  local tool missing=()
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  ((${#missing[@]} == 0)) ||
    session_die "required tools not found in PATH: ${missing[*]} (install libvirt-daemon-driver-qemu, libvirt-clients, qemu-system-x86, util-linux)"
}

# session_reexec_in_namespace SCRIPT ARGS...
# Outside the namespace: execs `unshare` running `bash SCRIPT ARGS...` in a new
# mount + pid namespace (never returns). Inside: returns.
session_reexec_in_namespace() {
  local script=$1
  shift
  if [[ ${NVH_SESSION_NS:-} == 1 && $$ == 1 ]]; then
    return 0
  fi
  ((EUID == 0)) ||
    session_die "$script must run as root (unshare -m, mount --bind over /etc/libvirt, setpriv to uid $SESSION_UID); it runs as uid $EUID"
  session_require_tools unshare mount umount setpriv timeout libvirtd virsh
  [[ -d /etc/libvirt ]] ||
    session_die "/etc/libvirt does not exist: is libvirt-clients/libvirt-daemon installed?"
  # shellcheck disable=SC2093 # exec on purpose; the line after is for a failed exec
  NVH_SESSION_NS=1 exec unshare --mount --propagation private --pid \
    --kill-child=SIGTERM --mount-proc -- bash "$script" "$@"
  session_die "exec unshare failed"
}

# session_mktemp_workdir: a fresh directory that SESSION_UID can traverse.
# Under TMPDIR (default /tmp) so that every parent is traversable too.
session_mktemp_workdir() {
  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/nvh-libvirt.XXXXXXXX") ||
    session_die "mktemp -d failed"
  chmod 0755 "$dir" || session_die "chmod $dir failed"
  echo "$dir"
}

# The environment of every process run as SESSION_UID: nothing inherited but
# what is named here, all state under SESSION_WORKDIR.
session_env() {
  SESSION_ENV=(env -i
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    "LC_ALL=C"
    "HOME=$SESSION_WORKDIR/home"
    "USER=nobody" "LOGNAME=nobody"
    "XDG_CONFIG_HOME=$SESSION_WORKDIR/config"
    "XDG_RUNTIME_DIR=$SESSION_WORKDIR/runtime"
    "XDG_CACHE_HOME=$SESSION_WORKDIR/cache"
    "XDG_DATA_HOME=$SESSION_WORKDIR/data")
}

# session_as_user CMD...: runs CMD as SESSION_UID with the session environment.
session_as_user() {
  local SESSION_ENV
  session_env
  setpriv --reuid="$SESSION_UID" --regid="$SESSION_GID" --clear-groups \
    "${SESSION_ENV[@]}" "$@"
}

# virsh_session ARGS...: virsh -c qemu:///session as SESSION_UID, bounded by
# SESSION_VIRSH_TIMEOUT seconds. LIBVIRT_AUTOSTART=0: never let virsh spawn a
# daemon of its own when ours is not there.
virsh_session_once() {
  [[ -n $SESSION_WORKDIR ]] || session_die "virsh_session before start_session_libvirtd"
  local SESSION_ENV
  session_env
  timeout --kill-after=10 "$SESSION_VIRSH_TIMEOUT" \
    setpriv --reuid="$SESSION_UID" --regid="$SESSION_GID" --clear-groups \
    "${SESSION_ENV[@]}" LIBVIRT_AUTOSTART=0 virsh --quiet -c qemu:///session "$@"
}

# qemu_crashed_at_start FILE: virsh's stderr says QEMU went away while
# libvirt started it, and QEMU said nothing but warnings: no refusal (of
# the hook or of QEMU), but QEMU 7.2's intermittent crash in its call_rcu
# thread at start-up (seen here once in a CI run, kernel log "call_rcu[…]:
# segfault … in libc.so.6"; upstream: gitlab.com/qemu-project/qemu/-/issues/2220).
qemu_crashed_at_start() {
  grep -q 'qemu unexpectedly closed the monitor' "$1" || return 1
  grep -q 'Hook script execution failed' "$1" && return 1
  ! grep -oE 'qemu-system-[a-z0-9_]+: [^ ]*' "$1" | grep -vq ': warning:$'
}

# virsh_session ARGS...: virsh_session_once; a `start` that hits that crash
# is tried once more, saying so on stderr. Every other outcome is final.
virsh_session() {
  [[ ${1:-} == start ]] || {
    virsh_session_once "$@"
    return
  }
  local err rc=0
  err=$(mktemp)
  virsh_session_once "$@" 2>"$err" || rc=$?
  if ((rc != 0)) && qemu_crashed_at_start "$err"; then
    echo "# virsh start $2: QEMU died at start with no error of its own; trying once more:" \
      "$(tr '\n' ' ' <"$err" | cut -c1-300)" >&2
    rc=0
    virsh_session_once "$@" 2>"$err" || rc=$?
  fi
  cat "$err" >&2
  rm -f -- "$err"
  return "$rc"
}

session_dump_logs() {
  local f
  [[ -n $SESSION_WORKDIR && -d $SESSION_WORKDIR ]] || return 0
  for f in "$SESSION_LOG" "$SESSION_WORKDIR"/cache/libvirt/qemu/log/*.log; do
    [[ -f $f ]] || continue
    echo "----- $f (last 40 lines) -----" >&2
    tail -n 40 "$f" >&2
  done
  if [[ -n $SESSION_FAILURE ]]; then
    echo "----- end of logs -----" >&2
    echo "FAIL: $SESSION_FAILURE" >&2
  fi
}

# start_session_libvirtd WORKDIR
start_session_libvirtd() {
  local work=$1 d
  [[ ${NVH_SESSION_NS:-} == 1 && $$ == 1 ]] ||
    session_die "start_session_libvirtd outside the private namespace: call session_reexec_in_namespace first"
  [[ -d $work ]] || session_die "start_session_libvirtd: $work is not a directory"
  [[ -z $SESSION_LIBVIRTD_PID ]] || session_die "start_session_libvirtd: already running (pid $SESSION_LIBVIRTD_PID)"
  session_require_tools libvirtd virsh setpriv timeout qemu-system-x86_64

  SESSION_WORKDIR=$(cd "$work" && pwd) || session_die "cd $work failed"
  setpriv --reuid="$SESSION_UID" --regid="$SESSION_GID" --clear-groups \
    test -x "$SESSION_WORKDIR" ||
    session_die "uid $SESSION_UID cannot traverse $SESSION_WORKDIR (or a parent): use a directory under /tmp (TMPDIR=${TMPDIR:-unset})"
  SESSION_ETC=$SESSION_WORKDIR/etc-libvirt
  SESSION_HOOKS_DIR=$SESSION_ETC/hooks
  SESSION_LOG=$SESSION_WORKDIR/libvirtd.log

  # Private /etc/libvirt: the host's config files, but never the host's
  # hooks; an empty hooks/qemu.d/ for the tests. Owned by root like the real
  # one; the daemon only reads it.
  mkdir -p "$SESSION_HOOKS_DIR/qemu.d" || session_die "mkdir $SESSION_HOOKS_DIR/qemu.d failed"
  find /etc/libvirt -mindepth 1 -maxdepth 1 ! -name hooks \
    -exec cp -a -t "$SESSION_ETC" {} + ||
    session_die "copying /etc/libvirt to $SESSION_ETC failed"
  chmod -R u=rwX,go=rX "$SESSION_ETC"

  for d in home config runtime cache data; do
    mkdir -p "$SESSION_WORKDIR/$d" || session_die "mkdir $SESSION_WORKDIR/$d failed"
    chown "$SESSION_UID:$SESSION_GID" "$SESSION_WORKDIR/$d" || session_die "chown $SESSION_WORKDIR/$d failed"
    chmod 0700 "$SESSION_WORKDIR/$d"
  done
  : >"$SESSION_LOG"

  mount --bind "$SESSION_ETC" /etc/libvirt || session_die "mount --bind $SESSION_ETC /etc/libvirt failed"
  SESSION_ETC_MOUNTED=1
  [[ -d /etc/libvirt/hooks/qemu.d ]] ||
    session_die "/etc/libvirt/hooks/qemu.d missing after the bind mount"

  session_launch_libvirtd
}

# session_launch_libvirtd: starts libvirtd (set up by start_session_libvirtd)
# and waits until it answers.
session_launch_libvirtd() {
  # Not daemonized (-d), and a simple command rather than a shell function,
  # so that $! is libvirtd itself (bash forks once, setpriv and env exec):
  # SIGTERM then reaches the daemon, not a subshell waiting for it.
  local SESSION_ENV
  session_env
  setpriv --reuid="$SESSION_UID" --regid="$SESSION_GID" --clear-groups \
    "${SESSION_ENV[@]}" libvirtd >>"$SESSION_LOG" 2>&1 &
  SESSION_LIBVIRTD_PID=$!

  local deadline=$((SECONDS + SESSION_LIBVIRTD_START_TIMEOUT)) started=$SECONDS
  while :; do
    if ! kill -0 "$SESSION_LIBVIRTD_PID" 2>/dev/null; then
      wait "$SESSION_LIBVIRTD_PID" 2>/dev/null
      local rc=$?
      SESSION_LIBVIRTD_PID=
      session_dump_logs
      session_die "session libvirtd exited (status $rc) before answering"
    fi
    if SESSION_VIRSH_TIMEOUT=10 virsh_session list --all >/dev/null 2>&1; then
      break
    fi
    if ((SECONDS >= deadline)); then
      session_dump_logs
      session_die "session libvirtd (pid $SESSION_LIBVIRTD_PID) did not answer 'virsh -c qemu:///session list' within ${SESSION_LIBVIRTD_START_TIMEOUT}s"
    fi
    sleep 0.2 # poll interval, not synchronisation
  done
  session_note "session libvirtd pid $SESSION_LIBVIRTD_PID answers after $((SECONDS - started))s (uid $SESSION_UID, $SESSION_WORKDIR)"
}

# restart_session_libvirtd: stops only the daemon (SIGTERM; running domains,
# their QEMU and virtlogd stay), then starts it again in the same namespace
# with the same /etc/libvirt, hooks and XDG directories, and waits until it
# answers. The new daemon reconnects to the running domains (the `reconnect`
# hook op).
restart_session_libvirtd() {
  [[ -n $SESSION_WORKDIR && -n $SESSION_LIBVIRTD_PID ]] ||
    session_die "restart_session_libvirtd: no session libvirtd is running"
  local old=$SESSION_LIBVIRTD_PID
  session_kill_pid "$old" libvirtd
  ! kill -0 "$old" 2>/dev/null || session_die "restart_session_libvirtd: libvirtd (pid $old) did not exit"
  SESSION_LIBVIRTD_PID=
  session_note "session libvirtd pid $old stopped"
  session_launch_libvirtd
}

# session_kill_pid PID NAME: SIGTERM, bounded wait, then SIGKILL.
session_kill_pid() {
  local pid=$1 name=$2 i
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < 100; i++)); do # 10 s
    kill -0 "$pid" 2>/dev/null || break
    # Reap it if it is our child (libvirtd) so kill -0 stops seeing a zombie.
    # Its exit status (143 after SIGTERM) must not end a `set -e` caller.
    wait "$pid" 2>/dev/null || true
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    session_note "$name (pid $pid) ignored SIGTERM for 10s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
  fi
  return 0
}

# stop_session_libvirtd: destroys every running domain, stops libvirtd, its
# virtlogd and any QEMU left behind (by the pids their pid files name),
# unmounts /etc/libvirt. Idempotent; safe on every exit path.
stop_session_libvirtd() {
  local dom pidfile
  [[ -n $SESSION_WORKDIR ]] || return 0
  if [[ -n $SESSION_LIBVIRTD_PID ]] && kill -0 "$SESSION_LIBVIRTD_PID" 2>/dev/null; then
    while read -r dom; do
      [[ -n $dom ]] || continue
      SESSION_VIRSH_TIMEOUT=30 virsh_session destroy "$dom" >/dev/null 2>&1 ||
        session_note "cleanup: virsh destroy $dom failed"
    done < <(SESSION_VIRSH_TIMEOUT=10 virsh_session list --name 2>/dev/null)
  fi
  session_kill_pid "$SESSION_LIBVIRTD_PID" libvirtd
  SESSION_LIBVIRTD_PID=
  for pidfile in "$SESSION_WORKDIR"/runtime/libvirt/qemu/run/*.pid \
    "$SESSION_WORKDIR"/runtime/libvirt/virtlogd.pid \
    "$SESSION_WORKDIR"/runtime/libvirt/virtlockd.pid; do
    [[ -f $pidfile ]] || continue
    session_kill_pid "$(head -c 32 "$pidfile")" "${pidfile##*/}"
  done
  if ((SESSION_ETC_MOUNTED)); then
    umount /etc/libvirt || session_note "cleanup: umount /etc/libvirt failed"
    SESSION_ETC_MOUNTED=0
  fi
  return 0
}
