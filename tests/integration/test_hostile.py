"""Hostile traffic on the device port: what one client may hold is bounded, a
limit that bites is logged and counted, and an honest device beside each
attack keeps being answered. Attackers connect from other loopback addresses
(127.0.0.2 and up) than the honest device (127.0.0.1), as they would from
other hosts. The honest device's latency during each attack is printed."""

import re
import socket
import threading
import time

from rumtest import (RumTestCase, Device, free_port, http_request, main, pi_path, wait_for)

# Small limits, so that each attack bites within seconds.
LIMITS = {
    "http_max_connections": "300",
    "http_max_connections_per_address": "40",
    "http_header_timeout_s": "2",
    "http_idle_timeout_s": "3",
    "http_body_min_rate": "1KiB",
    "http_max_body_total": "8MiB",
    "max_body_bytes": "4MiB",
}


def connect_from(source, port, timeout=5):
    """A TCP connection to rumd from a given loopback source address, or None
    when rumd refused or closed it at once."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
    except OSError:
        s.close()
        return None
    return s


def still_open(s):
    """False once the server closed the connection."""
    try:
        s.setblocking(False)
        try:
            data = s.recv(1)
            return data != b""
        except BlockingIOError:
            return True
        except OSError:
            return False
    finally:
        s.setblocking(True)


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


class Honest:
    """A device pushing one small usage message after another, timing each."""

    def __init__(self, rumd):
        self.rumd = rumd
        self.dev = Device()
        self.times = []
        self.statuses = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            body = self.dev.usage([self.dev.report()])
            t0 = time.monotonic()
            try:
                status = self.rumd.post(pi_path(), body, timeout=30).status
            except OSError as e:
                status = "error: %s" % e
            self.times.append(time.monotonic() - t0)
            self.statuses.append(status)
            time.sleep(0.02)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(60)

    def figures(self):
        t = sorted(self.times)
        if not t:
            return "no request"
        p = lambda q: t[min(len(t) - 1, int(q * len(t)))] * 1000
        return "%d requests, p50 %.1f ms, p99 %.1f ms, max %.1f ms" % (len(t), p(0.5), p(0.99),
                                                                     t[-1] * 1000)


class Hostile(RumTestCase):
    def start(self, **extra):
        url, _ = self.fresh_database("hostile")
        flags = dict(LIMITS)
        self.metrics_port = free_port()
        flags["metrics_listen"] = "127.0.0.1:%d" % self.metrics_port
        flags.update(extra)
        return self.start_rumd(database_url=url, flags=flags)

    def metric(self, name, **labels):
        _, _, body = http_request("127.0.0.1", self.metrics_port, "GET", "/metrics")
        want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
        for line in body.decode().splitlines():
            if line.startswith(name + ("{" + want + "}" if want else "") + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def assertHonestServed(self, honest, what):
        print("\n%s: honest device beside it: %s" % (what, honest.figures()))
        self.assertGreaterEqual(len(honest.statuses), 10, what)
        bad = [s for s in honest.statuses if s != 200]
        self.assertEqual(bad, [], "%s: the honest device got %s" % (what, bad[:5]))
        # A generous bound: the figure that matters is printed above.
        self.assertLess(max(honest.times), 5.0, what)

    def test_trickled_headers_are_cut_and_one_address_cannot_fill_the_port(self):
        r = self.start()
        with Honest(r) as alone:
            time.sleep(2)
        print("\nno attack: honest device alone: %s" % alone.figures())
        socks = []
        with Honest(r) as honest:
            # 500 connections from one address, each trickling a request
            # head one byte at a time: only 40 are held, and not for long.
            for _ in range(500):
                s = connect_from("127.0.0.2", r.port)
                if s:
                    socks.append(s)
            head = b"POST /cslu/v1/pi HTTP/1.1\r\nHost: x\r\n"
            started = time.monotonic()
            while time.monotonic() - started < 5:
                for i, s in enumerate(socks):
                    try:
                        s.send(head[int(time.monotonic() - started):][:1])
                    except OSError:
                        pass
                time.sleep(0.5)
            held = sum(1 for s in socks if still_open(s))
        close_all(socks)
        self.assertHonestServed(honest, "500 trickling connections from one address")
        self.assertEqual(held, 0, "trickling connections still open after the deadline")
        self.assertGreater(self.metric("rumd_http_connections_refused_total",
                                       reason="per_address"), 0)
        self.assertGreater(self.metric("rumd_http_connections_cut_total",
                                       reason="header_timeout"), 0)
        log = r.log()
        self.assertRegex(log, r"refused \d+ connection\(s\) from an address already holding "
                              r"http_max_connections_per_address=40 \(e\.g\. 127\.0\.0\.2\)")
        self.assertRegex(log, r"closed \d+ connection\(s\) that sent no complete request within "
                              r"http_header_timeout_s=2")

    def test_idle_connections_from_many_addresses_are_closed(self):
        r = self.start()
        socks = []
        # 320 silent connections from 8 addresses fill the port (300).
        for a in range(8):
            for _ in range(40):
                s = connect_from("127.0.0.%d" % (10 + a), r.port)
                if s:
                    socks.append(s)
        t0 = time.monotonic()
        # Full: it says so, and is usable again once the silent ones are cut.
        wait_for(lambda: re.search(r"full \(http_max_connections=300\) \d+ time", r.log()), 10,
                 what="the full listener logged")
        self.assertGreaterEqual(self.metric("rumd_http_full_total"), 1)
        dev = Device()

        def answered():
            try:
                return r.post(pi_path(), dev.usage([dev.report()]), timeout=2).status == 200
            except OSError:
                return False

        wait_for(answered, 15, what="the port answering again")
        back = time.monotonic() - t0
        print("\nport full of silent connections: answering again after %.1f s" % back)
        wait_for(lambda: sum(1 for s in socks if still_open(s)) == 0, 10,
                 what="every silent connection closed")
        close_all(socks)
        self.assertLess(back, 10)
        with Honest(r) as honest:
            time.sleep(1)
        self.assertHonestServed(honest, "after the silent connections")

    def test_slow_bodies_hold_only_what_they_sent(self):
        r = self.start()
        socks = []
        with Honest(r) as honest:
            # 112 requests declaring 4 MiB bodies (448 MiB in all, against an
            # 8 MiB budget), each sending a byte now and then.
            for a in range(4):
                for _ in range(28):
                    s = connect_from("127.0.0.%d" % (20 + a), r.port)
                    if not s:
                        continue
                    s.send(b"POST /cslu/v1/pi HTTP/1.1\r\nHost: x\r\nContent-Type: "
                           b"application/json\r\nContent-Length: %d\r\n\r\n{" % (4 << 20))
                    socks.append(s)
            held_max = 0
            started = time.monotonic()
            while time.monotonic() - started < 5:
                for s in socks:
                    try:
                        s.send(b" ")
                    except OSError:
                        pass
                held_max = max(held_max, self.metric("rumd_http_body_bytes_held"))
                time.sleep(0.5)
            open_after = sum(1 for s in socks if still_open(s))
        close_all(socks)
        print("slow bodies: at most %d bytes of bodies held" % held_max)
        self.assertHonestServed(honest, "112 slow 4 MiB bodies")
        # Each holds its first buffer, not its declared length.
        self.assertLess(held_max, 112 * 64 * 1024)
        self.assertEqual(open_after, 0, "slow bodies still open past the rate floor")
        self.assertGreater(self.metric("rumd_http_connections_cut_total",
                                       reason="body_too_slow"), 0)
        self.assertRegex(r.log(), r"closed \d+ connection\(s\) sending a body slower than "
                                  r"http_body_min_rate=1024 bytes/s")
        wait_for(lambda: self.metric("rumd_http_body_bytes_held") == 0, 10,
                 what="every body byte given back")

    def test_a_spent_body_budget_is_logged(self):
        r = self.start(**{"http_max_body_total": "1MiB", "max_body_bytes": "1MiB"})
        # One body of 700 KB held open (all but its last byte), another of
        # 700 KB sent whole: it does not fit beside the first: 503, logged.
        first = connect_from("127.0.0.30", r.port)
        first.send(b"POST /cslu/v1/pi HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                   % (700 * 1024) + b" " * (700 * 1024 - 1))
        wait_for(lambda: self.metric("rumd_http_body_bytes_held") >= 700 * 1024, 10,
                 what="the first body held")
        reply = http_request("127.0.0.1", r.port, "POST", pi_path(), b" " * (700 * 1024))
        self.assertEqual((reply.status, reply.json.get("status")), (503, "OK_TRY_AGAIN"))
        self.assertRegex(r.log(), r"request bodies hold \d+ of http_max_body_total=1048576 "
                                  r"bytes; answering 503")
        self.assertGreaterEqual(self.metric("rumd_http_bodies_refused_total", reason="busy"), 1)
        first.close()
        wait_for(lambda: self.metric("rumd_http_body_bytes_held") == 0, 10,
                 what="the budget given back")


if __name__ == "__main__":
    main()
