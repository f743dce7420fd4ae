#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""slowline.py -- a userspace "pppd + slow line" between two tun devices.

    slowline.py --near NAME --far NAME --rate BPS [--up-rate BPS]
                --delay MS [--queue BYTES] --ready FILE [--stats FILE]
                [--trace FILE] [--hung-up]

Creates two tun devices (IFF_TUN|IFF_NO_PI) in the network namespace it runs
in; the caller moves --far into the other namespace (`ip link set NAME netns
NS`: the open fd keeps working) and configures addresses.  Every IP packet
the kernel sends into one device comes out of the other after the line has
carried it:

  * serialisation at the line rate (--rate bits/s downlink far->near,
    --up-rate uplink near->far, default = --rate), one packet at a time;
  * a one-way propagation delay (--delay ms; the base RTT is twice that);
  * a drop-tail queue of --queue bytes (default 65536) per direction, as a
    modem's buffer: a packet that does not fit is dropped, so TCP backs off
    as it would on the real line.

The kernel here has no netem; this is the stand-in.  Standard library only.

Statistics (written as JSON to --stats on SIGUSR1, every second while
traffic flows, and at exit):
  up_bytes / down_bytes, up_pkts / down_pkts, up_drops / down_drops,
  syns (TCP SYNs near->far), turns (TCP payload direction changes from up to
  down on any connection: one per request/response round trip the client
  waited for), tcp_up_payload / tcp_down_payload (TCP payload bytes).
Wall-clock event times (CLOCK_REALTIME seconds, as `date +%s.%N`; 0 = not
yet), for measuring a dial-up from outside:
  dials / hangups (counts), t_dial / t_hangup (the last dial / hang-up),
  t_syn_in (the first TCP SYN from --near after the last dial entered the
  line), t_syn_out (... came out at --far: "at the relay"), t_up_last /
  t_down_last (the last packet carrying TCP payload came out, each way).
Closing (SIGTERM) deletes both devices, like a hang-up.

Dial-up cycles without restarting (the far side stays, as the ISP's end of
a modem line does; its address and routes survive):
  SIGHUP   hang up: the --near device disappears; whatever the line still
           carried is lost, and packets the far side sends meanwhile are
           dropped (counted in down_drops);
  SIGUSR2  dial: the --near device is created again (down, no address; the
           caller configures it as pppd would);
each writes the stats.  --hung-up starts with the line hung up (no --near
device until the first SIGUSR2).
"""
import argparse
import fcntl
import heapq
import json
import os
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
MAX_PKT = 65536


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    os.set_blocking(fd, False)
    return fd


class Direction:
    """One direction of the line: a serialiser with a bounded queue."""

    def __init__(self, rate_bps, delay_s, queue_bytes):
        self.rate = float(rate_bps)
        self.delay = delay_s
        self.queue = queue_bytes
        self.free_at = 0.0          # when the serialiser is free again
        self.bytes = self.pkts = self.drops = 0

    def admit(self, now, length):
        """Departure+arrival time for a packet of `length` bytes, or None
        when the modem's buffer is full (drop-tail)."""
        start = max(now, self.free_at)
        backlog = (start - now) * self.rate / 8.0
        if backlog + length > self.queue:
            self.drops += 1
            return None
        self.free_at = start + length * 8.0 / self.rate
        self.bytes += length
        self.pkts += 1
        return self.free_at + self.delay


def tcp_info(pkt):
    """(is_syn, payload_len, flow key) for an IPv4/IPv6 TCP packet, else None."""
    if len(pkt) < 20:
        return None
    ver = pkt[0] >> 4
    if ver == 4:
        ihl = (pkt[0] & 15) * 4
        if pkt[9] != 6 or len(pkt) < ihl + 20:
            return None
        total = struct.unpack("!H", pkt[2:4])[0]
        src, dst, off = pkt[12:16], pkt[16:20], ihl
    elif ver == 6:
        if len(pkt) < 60 or pkt[6] != 6:    # no extension headers expected
            return None
        total = 40 + struct.unpack("!H", pkt[4:6])[0]
        src, dst, off = pkt[8:24], pkt[24:40], 40
    else:
        return None
    sport, dport = struct.unpack("!HH", pkt[off:off + 4])
    doff = (pkt[off + 12] >> 4) * 4
    flags = pkt[off + 13]
    payload = max(0, total - off - doff)
    syn = bool(flags & 0x02) and not (flags & 0x10)
    key = tuple(sorted([(src, sport), (dst, dport)]))
    return syn, payload, key, sport, dport, flags


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--near", required=True)
    ap.add_argument("--far", required=True)
    ap.add_argument("--rate", type=int, required=True)
    ap.add_argument("--up-rate", type=int)
    ap.add_argument("--delay", type=float, required=True, help="one-way delay, ms")
    ap.add_argument("--queue", type=int, default=65536)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--stats")
    ap.add_argument("--trace", help="log SYN/FIN/RST packets: in-time out-time dir ports flags")
    ap.add_argument("--hung-up", action="store_true", help="start hung up (no --near device)")
    a = ap.parse_args()

    near = None if a.hung_up else open_tun(a.near)
    far = open_tun(a.far)
    up = Direction(a.up_rate or a.rate, a.delay / 1000.0, a.queue)
    down = Direction(a.rate, a.delay / 1000.0, a.queue)
    st = {"syns": 0, "turns": 0, "tcp_up_payload": 0, "tcp_down_payload": 0,
          "dials": 0, "hangups": 0, "t_dial": 0.0, "t_hangup": 0.0, "t_syn_in": 0.0,
          "t_syn_out": 0.0, "t_up_last": 0.0, "t_down_last": 0.0}
    last_dir = {}                   # flow -> "up"/"down" of the last payload
    heap = []                       # (arrival time, seq, out fd, packet)
    seq = 0
    stop = []
    dump_now = []
    line_req = []                   # "hangup" / "dial", from the signal handlers

    def dump():
        if not a.stats:
            return
        d = dict(st, up_bytes=up.bytes, down_bytes=down.bytes, up_pkts=up.pkts,
                 down_pkts=down.pkts, up_drops=up.drops, down_drops=down.drops)
        tmp = a.stats + ".tmp"
        with open(tmp, "w") as f:
            json.dump(d, f)
        os.replace(tmp, a.stats)

    signal.signal(signal.SIGTERM, lambda *x: stop.append(1))
    signal.signal(signal.SIGINT, lambda *x: stop.append(1))
    signal.signal(signal.SIGUSR1, lambda *x: dump_now.append(1))
    signal.signal(signal.SIGHUP, lambda *x: line_req.append("hangup"))
    signal.signal(signal.SIGUSR2, lambda *x: line_req.append("dial"))
    with open(a.ready + ".tmp", "w") as f:
        f.write("%d\n" % os.getpid())
    os.replace(a.ready + ".tmp", a.ready)
    dump()
    last_dump = t_start = time.monotonic()
    trace = open(a.trace, "w", buffering=1) if a.trace else None
    dirty = False

    while not stop:
        while line_req:
            req = line_req.pop(0)
            if req == "hangup" and near is not None:
                os.close(near)      # the kernel deletes the device
                near = None
                heap = []           # what was on the line is lost
                up.free_at = down.free_at = 0.0
                last_dir.clear()
                st["hangups"] += 1
                st["t_hangup"] = time.time()
            elif req == "dial" and near is None:
                near = open_tun(a.near)
                st["dials"] += 1
                st["t_dial"] = time.time()
                st["t_syn_in"] = st["t_syn_out"] = 0.0
            dump_now.append(1)
        now = time.monotonic()
        timeout = 1.0
        if heap:
            timeout = max(0.0, min(timeout, heap[0][0] - now))
        try:
            r, _, _ = select.select([fd for fd in (near, far) if fd is not None], [], [], timeout)
        except InterruptedError:
            r = []
        now = time.monotonic()
        for fd in r:
            if fd == far and near is None:
                # hung up: the ISP's end has nowhere to send to
                for _ in range(64):
                    try:
                        pkt = os.read(far, MAX_PKT)
                    except (BlockingIOError, OSError):
                        break
                    down.drops += 1
                continue
            for _ in range(64):
                try:
                    pkt = os.read(fd, MAX_PKT)
                except BlockingIOError:
                    break
                except OSError:
                    stop.append(1)
                    break
                if not pkt:
                    break
                d, out, name = (up, far, "up") if fd == near else (down, near, "down")
                t = d.admit(now, len(pkt))
                if t is None:
                    continue
                info = tcp_info(pkt)
                if info:
                    syn, payload, key, sport, dport, flags = info
                    if trace and flags & 0x07:
                        trace.write("%.3f %.3f %s %d>%d %s%s%s%s\n" % (
                            now - t_start, t - t_start, name, sport, dport,
                            "S" if flags & 2 else "", "A" if flags & 0x10 else "",
                            "F" if flags & 1 else "", "R" if flags & 4 else ""))
                    if syn and name == "up":
                        st["syns"] += 1
                        if not st["t_syn_in"]:
                            st["t_syn_in"] = time.time()
                    if payload:
                        st["tcp_%s_payload" % name] += payload
                        if name == "down" and last_dir.get(key) == "up":
                            st["turns"] += 1
                        last_dir[key] = name
                    mark = ("syn" if syn and name == "up" else "") + (name if payload else "")
                else:
                    mark = ""
                seq += 1
                heapq.heappush(heap, (t, seq, out, pkt, mark))
                dirty = True
        while heap and heap[0][0] <= now:
            _, _, out, pkt, mark = heapq.heappop(heap)
            try:
                os.write(out, pkt)
            except OSError:
                continue            # device down: the packet is lost, as on a line
            if mark:
                w = time.time()
                if mark.startswith("syn"):
                    if not st["t_syn_out"]:
                        st["t_syn_out"] = w
                    mark = mark[3:]
                if mark:
                    st["t_%s_last" % mark] = w
        if dump_now or (dirty and now - last_dump >= 1.0):
            dump_now.clear()
            dump()
            last_dump = now
            dirty = False
    dump()
    return 0


if __name__ == "__main__":
    sys.exit(main())
