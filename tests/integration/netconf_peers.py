"""NETCONF peers that misbehave on purpose, to test rumd's collector.

Runs as an sshd subsystem, speaking NETCONF on stdin/stdout:

    Subsystem netconf /usr/bin/python3 .../netconf_peers.py MODE

Every mode answers <get> with a minimal licensing state (UDI pid "PEER", sn
MODE) and any other rpc with <ok/> (import-file and rum-save-usage-* with a
return-code), unless the mode says otherwise:

  ok          a well-behaved device (base:1.0 and 1.1)
  silent      never says anything, not even its hello
  stall       sends its hello, then never answers
  drop        answers the hellos, then half of the first reply, and exits
  badchunk    negotiates base:1.1, then answers with a malformed chunk header
  nomsgid     replies without message-id (IOS-XE 17.15 does): must work
  wrongmsgid  replies with another request's message-id
  rpcerror    answers every rpc with an rpc-error that has no error-message
  junk        junk before its hello, "nc:"-prefixed roots: must work
  base10      offers only base:1.0
  base11only  offers only base:1.1 (like IOS-XR)
  huge        answers <get> with a reply of HUGE_BYTES (over a small cap)

Python standard library only. Exits when the client closes its side.
"""
import os
import re
import sys
import time

NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
LIC_NS = "http://cisco.com/ns/yang/cisco-smart-license"
BASE10 = "urn:ietf:params:netconf:base:1.0"
BASE11 = "urn:ietf:params:netconf:base:1.1"
EOM = b"]]>]]>"
HUGE_BYTES = 4 * 1024 * 1024
MODES = ("ok", "silent", "stall", "drop", "badchunk", "nomsgid", "wrongmsgid", "rpcerror", "junk",
         "base10", "base11only", "huge")


class Peer:
    def __init__(self, mode):
        self.mode = mode
        self.buf = b""
        self.chunked = False

    # ---- bytes ----

    def write(self, data):
        view = memoryview(data)
        while view:
            n = os.write(1, view)
            view = view[n:]

    def fill(self):
        data = os.read(0, 65536)
        if not data:
            sys.exit(0)  # the client went away
        self.buf += data

    def read_eom(self):
        while EOM not in self.buf:
            self.fill()
        msg, self.buf = self.buf.split(EOM, 1)
        return msg

    def read_chunked(self):
        msg = b""
        while True:
            while True:
                m = re.match(rb"\n#(\d+|#)\n", self.buf)
                if m:
                    break
                if len(self.buf) > 32:
                    sys.exit(1)  # the client broke the framing
                self.fill()
            self.buf = self.buf[m.end():]
            if m.group(1) == b"#":
                return msg
            n = int(m.group(1))
            while len(self.buf) < n:
                self.fill()
            msg, self.buf = msg + self.buf[:n], self.buf[n:]

    def read_msg(self):
        return self.read_chunked() if self.chunked else self.read_eom()

    def send(self, text):
        data = text.encode()
        if self.chunked:
            self.write(b"\n#%d\n%s\n##\n" % (len(data), data))
        else:
            self.write(data + EOM)

    # ---- messages ----

    def hello(self):
        caps = {"base10": [BASE10], "base11only": [BASE11]}.get(self.mode, [BASE10, BASE11])
        caps.append(f"{LIC_NS}?module=cisco-smart-license&amp;revision=2021-03-01")
        body = "".join(f"<capability>\n  {c}\n</capability>" for c in caps)
        if self.mode == "junk":
            self.write(b"\r\n% banner: welcome\r\n\x00\x07")
            return (f'<?xml version="1.0"?><nc:hello xmlns:nc="{NC_NS}"><nc:capabilities>'
                    + body.replace("capability>", "nc:capability>")
                    + f"</nc:capabilities><nc:session-id>{os.getpid()}</nc:session-id></nc:hello>")
        return (f'<hello xmlns="{NC_NS}"><capabilities>{body}</capabilities>'
                f"<session-id>{os.getpid()}</session-id></hello>")

    def reply(self, msg_id, body):
        attr = "" if msg_id is None else f' message-id="{msg_id}"'
        if self.mode == "junk":
            return f'<nc:rpc-reply xmlns:nc="{NC_NS}"{attr}>{body.replace("<ok/>", "<nc:ok/>")}</nc:rpc-reply>'
        return f'<rpc-reply xmlns="{NC_NS}"{attr}>{body}</rpc-reply>'

    def answer(self, rpc):
        m = re.search(rb'message-id="([^"]*)"', rpc)
        msg_id = m.group(1).decode() if m else "0"
        if self.mode == "nomsgid":
            msg_id = None
        elif self.mode == "wrongmsgid":
            msg_id = str(int(msg_id) + 100) if msg_id.isdigit() else "x" + msg_id
        if self.mode == "rpcerror":
            return self.reply(msg_id, "<rpc-error><error-type>application</error-type>"
                                      "<error-tag>operation-failed</error-tag>"
                                      "<error-severity>error</error-severity></rpc-error>")
        if b"<get" in rpc:
            data = (f'<data><licensing xmlns="{LIC_NS}"><state><version>peer</version>'
                    f"<state-info><udi><pid>PEER</pid><sn>{self.mode}</sn></udi></state-info>"
                    "</state></licensing></data>")
            return self.reply(msg_id, data)
        if re.search(rb"<(import-file|rum-save-usage)", rpc):
            return self.reply(msg_id, f'<return-code xmlns="{LIC_NS}">success</return-code>')
        return self.reply(msg_id, "<ok/>")

    # ---- the session ----

    def run(self):
        if self.mode == "silent":
            while True:
                self.fill()
        self.send(self.hello())
        client = self.read_eom().decode(errors="replace")
        ours = {"base10": [BASE10]}.get(self.mode, [BASE10, BASE11])
        if self.mode == "base11only":
            ours = [BASE11]
        self.chunked = BASE11 in client and BASE11 in ours
        if self.mode == "stall":
            while True:
                self.fill()  # reads and ignores until the client goes away
        while True:
            rpc = self.read_msg()
            if self.mode == "huge" and b"<get" in rpc:
                self.send_huge()
                continue
            text = self.answer(rpc)
            if self.mode == "badchunk":
                self.write(b"\n#12x\n" + text.encode()[:12] + b"\n##\n")
                continue
            if self.mode == "drop":
                data = text.encode()
                half = data[:len(data) // 2]
                self.write((b"\n#%d\n" % len(data) + half) if self.chunked else half)
                time.sleep(0.2)
                sys.exit(0)
            self.send(text)
            if b"<close-session" in rpc:
                return

    def send_huge(self):
        """One <get> reply of HUGE_BYTES, streamed: the client is expected
        to give up past its cap (then this write fails and the peer exits)."""
        filler = "<version>" + "x" * 65000 + "</version>"
        head = f'<rpc-reply xmlns="{NC_NS}" message-id="1"><data><licensing xmlns="{LIC_NS}"><state>'
        parts = [head] + [filler] * (HUGE_BYTES // len(filler) + 1)
        parts.append("</state></licensing></data></rpc-reply>")
        try:
            if self.chunked:
                for p in parts:
                    self.write(b"\n#%d\n%s" % (len(p), p.encode()))
                self.write(b"\n##\n")
            else:
                for p in parts:
                    self.write(p.encode())
                self.write(EOM)
        except (BrokenPipeError, OSError):
            sys.exit(0)


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "ok"
    if mode not in MODES:
        sys.stderr.write(f"netconf_peers: unknown mode {mode}; one of {', '.join(MODES)}\n")
        return 2
    try:
        Peer(mode).run()
    except BrokenPipeError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
