#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""tcpcount.py LISTEN_ADDR LISTEN_PORT TARGET_ADDR TARGET_PORT OUTFILE

A byte-counting TCP relay for benchmarks: forwards every connection to the
target and, on SIGTERM, writes "connections bytes_client_to_server
bytes_server_to_client" to OUTFILE.  Standard library only."""
import selectors, signal, socket, sys, threading

la, lp, ta, tp, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
stats = {"conns": 0, "up": 0, "down": 0}
lock = threading.Lock()

def pump(c, s):
    sel = selectors.DefaultSelector()
    sel.register(c, selectors.EVENT_READ, (c, s, "up"))
    sel.register(s, selectors.EVENT_READ, (s, c, "down"))
    try:
        while True:
            for key, _ in sel.select(timeout=600):
                src, dst, d = key.data
                data = src.recv(65536)
                if not data:
                    return
                dst.sendall(data)
                with lock:
                    stats[d] += len(data)
    except OSError:
        pass
    finally:
        c.close(); s.close()

def dump(*_):
    with open(out, "w") as f:
        f.write("%d %d %d\n" % (stats["conns"], stats["up"], stats["down"]))
    sys.exit(0)

signal.signal(signal.SIGTERM, dump)
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((la, lp)); ls.listen(64)
with open(out + ".ready", "w") as f:
    f.write("ready\n")
while True:
    c, _ = ls.accept()
    s = socket.create_connection((ta, tp))
    with lock:
        stats["conns"] += 1
    threading.Thread(target=pump, args=(c, s), daemon=True).start()
