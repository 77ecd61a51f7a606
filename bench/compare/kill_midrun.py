#!/usr/bin/python3
"""kill_midrun.py DELAY_MS CMD [ARG...]: part of bench/compare_tools.sh.

Becomes a child subreaper (so whatever CMD leaves behind is re-parented here
and can be counted), starts CMD, sends it SIGKILL after DELAY_MS, reaps it,
waits 1 s, then prints "PROCESSES NAMESPACES NAMES": how many of CMD's
descendants are still alive, how many network namespaces other than this
one they hold, and their command names with counts. It then kills those
survivors, by PID (they are this run's own), and reaps them.
"""
import ctypes
import os
import signal
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def descendants(pid):
    found = []
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = os.listdir('/proc/%d/task' % p)
        except OSError:
            continue
        for t in tasks:
            try:
                with open('/proc/%d/task/%s/children' % (p, t)) as f:
                    kids = [int(k) for k in f.read().split()]
            except OSError:
                continue
            found += kids
            todo += kids
    return found


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main():
    delay = int(sys.argv[1]) / 1000.0
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit('kill_midrun: prctl(PR_SET_CHILD_SUBREAPER): %s' % os.strerror(ctypes.get_errno()))
    child = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    child.wait()
    time.sleep(1.0)
    reap()  # orphans that already exited are zombies here, not survivors
    left = descendants(os.getpid())
    names = {}
    for p in left:
        try:
            with open('/proc/%d/comm' % p) as f:
                c = f.read().strip()
            names[c] = names.get(c, 0) + 1
        except OSError:
            pass
    namespaces = set()
    for p in left:
        try:
            namespaces.add(os.readlink('/proc/%d/ns/net' % p))
        except OSError:
            pass
    mine = os.readlink('/proc/self/ns/net')
    namespaces.discard(mine)
    what = ','.join('%s:%d' % kv for kv in sorted(names.items())) or '-'
    print('%d %d %s' % (len(left), len(namespaces), what))
    sys.stdout.flush()
    for p in left:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass
    while True:
        try:
            os.wait()
        except ChildProcessError:
            break


if __name__ == '__main__':
    main()
