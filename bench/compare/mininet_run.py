#!/usr/bin/python3
"""Mininet 2.3's side of bench/compare_tools.sh: SingleSwitchTopo(k=N) on a
Linux bridge, no controller; build, pingAll and stop timed apart.

Prints one line: "build_ms ping_ms stop_ms loss_percent".
Run it only through compare_tools.sh, inside a sandbox network namespace:
Mininet puts its switch and the switch-side veth ends in the namespace it
runs in.
"""
import resource
import sys
import time

import mininet.net
from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.nodelib import LinuxBridge
from mininet.topo import SingleSwitchTopo


def limits_without_sysctls():
    # Mininet.init() calls util.fixLimits(), which also raises machine-wide
    # sysctls (fs.file-max, kernel.pty.max, net.core.*) that no network
    # namespace confines. Keep its per-process part only.
    for which, want in ((resource.RLIMIT_NPROC, 8192), (resource.RLIMIT_NOFILE, 16384)):
        soft, hard = resource.getrlimit(which)
        if soft < want:
            resource.setrlimit(which, (want, max(hard, want)))


def main():
    n = int(sys.argv[1])
    mininet.net.fixLimits = limits_without_sysctls
    setLogLevel('error')
    t0 = time.monotonic()
    net = Mininet(topo=SingleSwitchTopo(k=n), switch=LinuxBridge, controller=None)
    net.start()
    t1 = time.monotonic()
    loss = net.pingAll()
    t2 = time.monotonic()
    net.stop()
    t3 = time.monotonic()
    print('%.1f %.1f %.1f %g' % ((t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3, loss))


if __name__ == '__main__':
    main()
