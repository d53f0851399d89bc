"""rum-agent's NETCONF subsystem behind a real OpenSSH sshd, driven by ncclient.

Covers the hello (base 1.0 and 1.1, both framings), <get> of licensing/state,
every supported RPC (rum-save-usage-all/-unreported/-days, import-file with
bootflash: and http: paths), rpc-error for unsupported operations,
<close-session>, and a missing message-id on a raw session. Replies are
validated with yanglint against $RUM_SHARED_DIR/yang when it is available.
"""
import http.server
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)  # ncclient 0.6 threading names
warnings.filterwarnings("ignore", category=ResourceWarning)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sshdtest  # noqa: E402

from ncclient import manager  # noqa: E402
from ncclient.operations import RPCError  # noqa: E402
from ncclient.xml_ import to_ele  # noqa: E402

BUILD = os.environ.get("RUM_BUILD_DIR", "")
AGENT = os.path.join(BUILD, "agent", "rum-agent")
LIC_NS = "http://cisco.com/ns/yang/cisco-smart-license"
NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
TAG = "regid.2017-03.com.cisco.advantagek9,1.0_bd1da96e-ec1d-412b-a50e-53846b347d53"
SHARED = os.environ.get("RUM_SHARED_DIR", "")
YANG_DIR = os.path.join(SHARED, "yang") if SHARED else ""
HAVE_YANG = bool(YANG_DIR) and os.path.isdir(YANG_DIR) and shutil.which("yanglint")

POLICY_ACK = """<?xml version="1.0" encoding="UTF-8"?>
<smartLicense><smartLicensePolicy><policyCode><name>Lab Policy</name><version>3</version>
<ackRequired>yes</ackRequired><subscription><firstTimeReport>30</firstTimeReport>
<onGoingReporting>14</onGoingReporting><reportOnMACD>30</reportOnMACD></subscription>
</policyCode><signature>sig</signature></smartLicensePolicy>
<smartLicenseRumAck><data><![CDATA[[]]]></data><signature>sig</signature></smartLicenseRumAck>
<smartLicenseTrustCode><code>t</code></smartLicenseTrustCode></smartLicense>
"""


def agent(*args, check=True):
    return subprocess.run([AGENT, *args], capture_output=True, text=True, check=check)


def yang_check(testcase, kind, xml, rpc=None):
    """Validates xml with yanglint; kind 'get' (content of <data>) or 'nc-reply'."""
    if not HAVE_YANG:
        print("SKIP yanglint validation: RUM_SHARED_DIR/yang or yanglint not available", flush=True)
        return
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "data.xml")
        with open(data, "w") as f:
            f.write(xml)
        cmd = ["yanglint", "-Q", "-p", YANG_DIR, "-t", kind]
        if rpc is not None:
            req = os.path.join(d, "rpc.xml")
            with open(req, "w") as f:
                f.write(rpc)
            cmd += ["-R", req]
        cmd += [os.path.join(YANG_DIR, "cisco-smart-license.yang"), data]
        r = subprocess.run(cmd, capture_output=True, text=True)
        testcase.assertEqual(r.returncode, 0, f"yanglint {kind}: {r.stderr}\n{xml[:2000]}")


def data_content(reply_xml):
    m = re.search(r"<data[^>]*>(.*)</data>", reply_xml, re.S)
    return m.group(1) if m else ""


class FileServer(http.server.BaseHTTPRequestHandler):
    """Serves ACK files by GET and accepts usage files by PUT."""
    files = {}

    def do_GET(self):
        body = self.files.get(self.path)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):
        n = int(self.headers.get("Content-Length", "0"))
        self.files[self.path] = self.rfile.read(n)
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


class NetconfTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(AGENT):
            raise unittest.SkipTest(f"rum-agent not built at {AGENT}")
        cls.tmp = tempfile.mkdtemp(prefix="rum-agent-nc-")
        cls.state = os.path.join(cls.tmp, "dev")
        agent("init", "--state", cls.state, "--pid", "C9300-24P", "--serial", "FOC1234X0AB",
              "--hostname", "sw1", "--entitlement", f"{TAG}=2", "--rum-format", "A")
        cmd = f"{AGENT} netconf --state {cls.state}"
        cls.sshd11 = sshdtest.Sshd({"netconf": cmd}).__enter__()
        cls.sshd10 = sshdtest.Sshd({"netconf": "RUM_AGENT_NETCONF_BASE=1.0 " + cmd}).__enter__()
        cls.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FileServer)
        threading.Thread(target=cls.http.serve_forever, daemon=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.sshd11.__exit__(None, None, None)
        cls.sshd10.__exit__(None, None, None)
        cls.http.shutdown()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def connect(self, sshd):
        return manager.connect(host="127.0.0.1", port=sshd.port, username=sshd.user,
                               key_filename=sshd.user_key, hostkey_verify=False,
                               allow_agent=False, look_for_keys=False, timeout=30)

    def rpc(self, m, body):
        request = f'<rpc message-id="101" xmlns="{NC_NS}">{body}</rpc>'
        reply = m.dispatch(to_ele(body))
        return reply, request

    def get_state(self, m):
        flt = f'<licensing xmlns="{LIC_NS}"><state/></licensing>'
        reply = m.get(filter=("subtree", flt))
        content = data_content(reply.xml)
        yang_check(self, "get", content)
        return content

    def test_hello_both_bases(self):
        for sshd, want11 in ((self.sshd11, True), (self.sshd10, False)):
            with self.connect(sshd) as m:
                caps = list(m.server_capabilities)
                self.assertIn("urn:ietf:params:netconf:base:1.0", caps)
                self.assertEqual("urn:ietf:params:netconf:base:1.1" in caps, want11)
                self.assertTrue(any(c.startswith(LIC_NS) for c in caps))
                self.assertIn("<udi><pid>C9300-24P</pid><sn>FOC1234X0AB</sn></udi>", self.get_state(m))

    def test_get_state(self):
        with self.connect(self.sshd11) as m:
            s = self.get_state(m)
            self.assertIn(f"<entitlement-tag>{TAG}</entitlement-tag>", s)
            self.assertIn("<count>2</count>", s)
            self.assertIn("<policy-name>Cisco default</policy-name>", s)
            # a filter for another module selects nothing
            reply = m.get(filter=("subtree", '<interfaces xmlns="urn:x"/>'))
            self.assertNotIn("licensing", reply.xml)
            # unfiltered get returns the licensing state
            self.assertIn("<licensing", m.get().xml)

    def test_yanglint_rejects_bad_data(self):
        """The validation can fail: a tampered reply is refused."""
        if not HAVE_YANG:
            print("SKIP yanglint negative check: RUM_SHARED_DIR/yang not available", flush=True)
            return
        with self.connect(self.sshd11) as m:
            s = self.get_state(m).replace("<count>2</count>", "<count>two</count>")
        with self.assertRaises(AssertionError):
            yang_check(self, "get", s)

    def test_save_usage_rpcs(self):
        for sshd in (self.sshd11, self.sshd10):
            with self.connect(sshd) as m:
                for op, extra in (("rum-save-usage-all", ""), ("rum-save-usage-unreported", ""),
                                  ("rum-save-usage-days", "<days>30</days>")):
                    name = f"{op}-{sshd.port}.txt"
                    body = (f'<{op} xmlns="{LIC_NS}"><file-path>bootflash:{name}</file-path>'
                            f"{extra}</{op}>")
                    reply, request = self.rpc(m, body)
                    self.assertIn(">success</return-code>", reply.xml)
                    yang_check(self, "nc-reply", reply.xml, request)
                    with open(os.path.join(self.state, "bootflash", name)) as f:
                        text = f.read()
                    self.assertIn("<smartLicense>", text)
                    self.assertIn("<RUMReport><![CDATA[", text)
                # a path outside bootflash: is refused with a return code
                reply, request = self.rpc(m, f'<rum-save-usage-all xmlns="{LIC_NS}">'
                                             "<file-path>bootflash:../escape.txt</file-path>"
                                             "</rum-save-usage-all>")
                self.assertNotIn(">success<", reply.xml)
                yang_check(self, "nc-reply", reply.xml, request)
                self.assertFalse(os.path.exists(os.path.join(self.state, "escape.txt")))

    def test_import_file(self):
        bad = os.path.join(self.state, "bootflash", "bad.xml")
        with open(bad, "w") as f:
            f.write("<notSmartLicense/>")
        with self.connect(self.sshd11) as m:
            before = self.get_state(m)
            reply, request = self.rpc(m, f'<import-file xmlns="{LIC_NS}">'
                                         "<file-path>bootflash:bad.xml</file-path></import-file>")
            self.assertNotIn(">success<", reply.xml)
            yang_check(self, "nc-reply", reply.xml, request)
            self.assertEqual(re.sub(r"<next-report-deadline>.*?<", "", before),
                             re.sub(r"<next-report-deadline>.*?<", "", self.get_state(m)))
        with open(os.path.join(self.state, "bootflash", "ack.xml"), "w") as f:
            f.write(POLICY_ACK)
        with self.connect(self.sshd10) as m:
            reply, request = self.rpc(m, f'<import-file xmlns="{LIC_NS}">'
                                         "<file-path>bootflash:ack.xml</file-path></import-file>")
            self.assertIn(">success</return-code>", reply.xml)
            yang_check(self, "nc-reply", reply.xml, request)
            s = self.get_state(m)
            self.assertIn("<policy-name>Lab Policy</policy-name>", s)
            self.assertIn("<is-installed>true</is-installed>", s)
            self.assertIn("<last-received-time>", s)
        status = agent("show", "--state", self.state, "status").stdout
        self.assertIn("Policy name: Lab Policy", status)
        self.assertIn("Reporting push interval: 14  days", status)

    def test_http_paths(self):
        base = f"http://127.0.0.1:{self.http.server_address[1]}"
        FileServer.files["/ack/dev.xml"] = POLICY_ACK.encode()
        with self.connect(self.sshd11) as m:
            reply, _ = self.rpc(m, f'<rum-save-usage-unreported xmlns="{LIC_NS}">'
                                   f"<file-path>{base}/up/usage.txt</file-path>"
                                   "</rum-save-usage-unreported>")
            self.assertIn(">success</return-code>", reply.xml)
            self.assertIn(b"<RUMReport>", FileServer.files["/up/usage.txt"])
            reply, _ = self.rpc(m, f'<import-file xmlns="{LIC_NS}">'
                                   f"<file-path>{base}/ack/dev.xml</file-path></import-file>")
            self.assertIn(">success</return-code>", reply.xml)
            reply, _ = self.rpc(m, f'<import-file xmlns="{LIC_NS}">'
                                   f"<file-path>{base}/ack/missing.xml</file-path></import-file>")
            self.assertNotIn(">success<", reply.xml)

    def test_unsupported_and_close(self):
        for sshd in (self.sshd11, self.sshd10):
            m = self.connect(sshd)
            with self.assertRaises(RPCError) as cm:
                m.get_config(source="running")
            self.assertEqual(cm.exception.tag, "operation-not-supported")
            with self.assertRaises(RPCError) as cm:
                m.dispatch(to_ele(f'<de-register xmlns="{LIC_NS}"/>'))
            self.assertEqual(cm.exception.tag, "operation-not-supported")
            with self.assertRaises(RPCError):
                m.dispatch(to_ele(f'<import-file xmlns="{LIC_NS}"/>'))  # no file-path
            m.close_session()
            self.assertFalse(m.connected)


class RawSessionTest(unittest.TestCase):
    """Byte-level checks on a session over pipes (framing details ncclient hides)."""

    def run_session(self, stream, base="1.1"):
        tmp = tempfile.mkdtemp(prefix="rum-agent-raw-")
        state = os.path.join(tmp, "dev")
        agent("init", "--state", state, "--pid", "C8000V", "--serial", "9ABCDEFGHIJ",
              "--hostname", "r1", "--entitlement", f"{TAG}=1")
        env = dict(os.environ, RUM_AGENT_NETCONF_BASE=base)
        p = subprocess.run([AGENT, "netconf", "--state", state], input=stream,
                           capture_output=True, env=env, timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
        return p.stdout.decode()

    def test_missing_message_id_and_chunked(self):
        hello = (f'<hello xmlns="{NC_NS}"><capabilities><capability>\n  urn:ietf:params:netconf:base:1.1  \n'
                 "</capability></capabilities></hello>]]>]]>")
        rpc1 = f'<rpc xmlns="{NC_NS}"><get/></rpc>'.encode()
        rpc2 = f'<rpc message-id="7" xmlns="{NC_NS}"><close-session/></rpc>'.encode()
        stream = hello.encode() + b"\n#%d\n%s\n##\n" % (len(rpc1), rpc1)
        stream += b"".join(b"\n#1\n" + rpc2[i:i + 1] for i in range(len(rpc2))) + b"\n##\n"
        out = self.run_session(stream)
        self.assertIn("<error-tag>missing-attribute</error-tag>", out)
        self.assertIn("<bad-attribute>message-id</bad-attribute>", out)
        self.assertRegex(out, r'\n#\d+\n<rpc-reply[^>]*message-id="7"><ok/></rpc-reply>\n##\n$')

    def test_base10_only_client(self):
        hello = f'<hello xmlns="{NC_NS}"><capabilities><capability>urn:ietf:params:netconf:base:1.0</capability></capabilities></hello>]]>]]>'
        rpc = f'<rpc message-id="1" xmlns="{NC_NS}"><close-session/></rpc>]]>]]>'
        out = self.run_session((hello + rpc).encode())
        self.assertTrue(out.endswith('<ok/></rpc-reply>]]>]]>'), out[-200:])


if __name__ == "__main__":
    unittest.main(verbosity=2)
