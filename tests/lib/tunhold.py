#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""tunhold.py NAME [READY_FILE] -- create a tun device NAME (IFF_TUN|IFF_NO_PI,
not persistent) and hold it open until SIGTERM/SIGINT or until stdin closes
(when stdin is a pipe).  Closing the fd deletes the device, as a ppp hang-up
does (the kernel sends RTM_DELADDR and then RTM_DELLINK).

Creates it in the network namespace the process runs in (use `ip netns exec`).
Writes READY_FILE (if given) once the device exists.  Packets the kernel sends
into the tun are read and dropped, so a held device never blocks.
Python standard library only; needs CAP_NET_ADMIN (root) for /dev/net/tun.
"""
import fcntl
import os
import select
import signal
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def main():
    if len(sys.argv) < 2:
        sys.stderr.write(__doc__)
        return 64
    name = sys.argv[1].encode()
    if len(name) >= 16:
        sys.stderr.write("tunhold: interface name too long\n")
        return 64
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name, IFF_TUN | IFF_NO_PI))
    os.set_blocking(fd, False)
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    signal.signal(signal.SIGINT, lambda *a: stop.append(1))
    if len(sys.argv) > 2:
        tmp = sys.argv[2] + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(tmp, sys.argv[2])
    watch_stdin = not os.isatty(0) and os.path.exists("/proc/self/fd/0") and \
        os.stat("/proc/self/fd/0").st_mode & 0o170000 == 0o010000   # FIFO
    fds = [fd] + ([0] if watch_stdin else [])
    while not stop:
        try:
            r, _, _ = select.select(fds, [], [], 1.0)
        except InterruptedError:
            continue
        if fd in r:
            try:
                while os.read(fd, 65536):
                    pass
            except BlockingIOError:
                pass
        if 0 in r and not os.read(0, 4096):
            break
    os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
