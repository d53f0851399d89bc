"""rumd's pull transport (collector/ssh.c, collector/netconf_client.c) against
real sshd processes, through tests/tools/netconf_probe.

Against rum-agent's NETCONF subsystem: key and password authentication
(also keyboard-interactive), a wrong password or key (EAUTH), a changed host key (ECONFLICT), an unknown one
without trust on first use (EFORBIDDEN), first use printing the key, base 1.0
and 1.1 framing, rum-save-usage-unreported then SCP of the usage file back,
SCP of an ACK file to bootflash: then import-file, SCP errors and caps.
Against netconf_peers.py, devices that misbehave: each failure maps to its
error code within bounded time, and the tolerated quirks (no message-id,
junk before the hello, prefixed roots, base:1.1 only) work.

Password cases need root (sshdtest creates a local user); without it they
are skipped with a message.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sshdtest  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("RUM_BUILD_DIR", "")
AGENT = os.path.join(BUILD, "agent", "rum-agent")
PROBE = os.environ.get("RUM_NETCONF_PROBE") or os.path.join(BUILD, "tests", "netconf_probe")
PEERS = os.path.join(HERE, "netconf_peers.py")
PYTHON = "/usr/bin/python3"
TAG = "regid.2017-03.com.cisco.advantagek9,1.0_bd1da96e-ec1d-412b-a50e-53846b347d53"
BOUND_S = 15  # a generous ceiling on any failure that should take ~2 s

ACK_FILE = """<?xml version="1.0" encoding="UTF-8"?>
<smartLicense><smartLicensePolicy><policyCode><name>Lab Policy</name><version>3</version>
<ackRequired>yes</ackRequired><subscription><firstTimeReport>30</firstTimeReport>
<onGoingReporting>14</onGoingReporting><reportOnMACD>30</reportOnMACD></subscription>
</policyCode><signature>sig</signature></smartLicensePolicy>
<smartLicenseRumAck><data><![CDATA[[]]]></data><signature>sig</signature></smartLicenseRumAck>
<smartLicenseTrustCode><code>t</code></smartLicenseTrustCode></smartLicense>
"""


def fingerprint(pub_path):
    """ssh-keygen's SHA256 fingerprint of a public key file."""
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", pub_path],
                         capture_output=True, text=True, check=True).stdout
    return out.split()[1]


class Result:
    def __init__(self, proc, elapsed):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.elapsed = elapsed
        self.lines = proc.stdout.splitlines()

    def line(self, prefix):
        for ln in self.lines:
            if ln.startswith(prefix):
                return ln
        return None

    def error(self):
        """(code name, message) of the error line, or None."""
        ln = self.line("error ")
        return tuple(ln.split(" ", 2)[1:]) if ln else None


class TransportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for path, what in ((AGENT, "rum-agent"), (PROBE, "netconf_probe")):
            if not os.path.exists(path):
                raise unittest.SkipTest(f"{what} not built at {path} (set RUM_BUILD_DIR)")
        cls.tmp = tempfile.mkdtemp(prefix="rum-transport-")
        cls.state = os.path.join(cls.tmp, "dev")
        subprocess.run([AGENT, "init", "--state", cls.state, "--pid", "C9300-24P",
                        "--serial", "FOC1234X0AB", "--hostname", "sw1",
                        "--entitlement", f"{TAG}=2", "--rum-format", "A"],
                       check=True, capture_output=True)
        cls.bootflash = os.path.join(cls.state, "bootflash")
        os.makedirs(cls.bootflash, exist_ok=True)
        cmd = f"{AGENT} netconf --state {cls.state}"
        cls.sshd11 = sshdtest.Sshd({"netconf": cmd}, password_auth=True,
                                   bootflash_dir=cls.bootflash).__enter__()
        cls.sshd10 = sshdtest.Sshd({"netconf": "RUM_AGENT_NETCONF_BASE=1.0 " + cmd},
                                   password_auth=True, bootflash_dir=cls.bootflash).__enter__()
        # As root every session logs in as the password user, so that the
        # state directory has one owner whichever way a test authenticates.
        sshdtest.chown_for_login(cls.state)
        cls.login = cls.sshd11.password_user or cls.sshd11.user
        cls.peers = {}

    @classmethod
    def tearDownClass(cls):
        for sshd in [cls.sshd11, cls.sshd10] + list(cls.peers.values()):
            sshd.__exit__(None, None, None)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def peer(self, mode):
        """An sshd whose netconf subsystem is netconf_peers.py MODE (one per mode)."""
        if mode not in self.peers:
            cmd = f"{PYTHON} {PEERS} {mode}"
            self.peers[mode] = sshdtest.Sshd({"netconf": cmd}).__enter__()
        return self.peers[mode]

    def probe(self, sshd, *args, user=None, key=None, password=None, known="host", timeout=60):
        """Runs netconf_probe against sshd. known: "host" (the right key),
        None (no known key) or a "TYPE BASE64" text."""
        cmd = [PROBE, "--host", "127.0.0.1", "--port", str(sshd.port)]
        if sshd in self.peers.values():
            cmd += ["--user", user or sshd.user]
        else:
            cmd += ["--user", user or self.login]
        if password is not None:
            pw = os.path.join(self.tmp, "password")
            with open(pw, "w") as f:
                f.write(password + "\n")
            cmd += ["--password-file", pw]
        else:
            cmd += ["--key-file", key or sshd.user_key]
        if known == "host":
            cmd += ["--known-key", sshd.host_key_line()]
        elif known:
            cmd += ["--known-key", known]
        start = time.monotonic()
        proc = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=timeout)
        res = Result(proc, time.monotonic() - start)
        self.assertEqual(proc.stderr, "", proc.stderr)
        return res

    def assert_ok(self, res):
        self.assertEqual(res.rc, 0, res.out)
        self.assertIsNone(res.error(), res.out)

    def assert_error(self, res, code, pattern="."):
        self.assertEqual(res.rc, 1, res.out)
        err = res.error()
        self.assertIsNotNone(err, res.out)
        self.assertEqual(err[0], code, res.out)
        self.assertRegex(err[1], pattern)
        return err[1]

    # ---- authentication and host keys ----

    def test_key_auth(self):
        res = self.probe(self.sshd11)
        self.assert_ok(res)
        self.assertEqual(res.line("state "), "state pid=C9300-24P sn=FOC1234X0AB usage=1 "
                         "closed-reports=0")
        self.assertEqual(res.line("hello ").split()[1], "base=11")
        self.assertIn("licensing=1", res.line("hello "))

    def test_password_auth(self):
        self.sshd11.require_password()
        res = self.probe(self.sshd11, password=self.sshd11.password)
        self.assert_ok(res)
        self.assertIn("sn=FOC1234X0AB", res.line("state "))

    def test_wrong_password(self):
        self.sshd11.require_password()
        res = self.probe(self.sshd11, password=self.sshd11.password + "x")
        self.assert_error(res, "EAUTH", "password authentication refused")
        self.assertNotIn(self.sshd11.password, res.out)

    def test_keyboard_interactive(self):
        """A device that takes the password by keyboard-interactive only
        (IOS-XE with AAA may): the password answers its prompt."""
        self.sshd11.require_password()
        kbd = ["UsePAM yes", "PasswordAuthentication no", "KbdInteractiveAuthentication yes"]
        with sshdtest.Sshd({"netconf": f"{PYTHON} {PEERS} ok"}, password_auth=True,
                           extra_config=kbd) as s:
            res = self.probe(s, user=s.password_user, password=s.password)
            self.assert_ok(res)
            res = self.probe(s, user=s.password_user, password=s.password + "x")
            self.assert_error(res, "EAUTH", "password authentication refused")

    def test_unknown_key_refused(self):
        other = os.path.join(self.tmp, "other_user_key")
        if not os.path.exists(other):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other],
                           check=True)
        self.assert_error(self.probe(self.sshd11, key=other), "EAUTH",
                          "key authentication refused")

    def test_changed_host_key(self):
        other = os.path.join(self.tmp, "other_host_key")
        if not os.path.exists(other):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other],
                           check=True)
        with open(other + ".pub") as f:
            known = " ".join(f.read().split()[:2])
        res = self.probe(self.sshd11, known=known)
        msg = self.assert_error(res, "ECONFLICT")
        self.assertEqual(msg, f"host key changed: expected {fingerprint(other + '.pub')}, "
                              f"device presented {fingerprint(self.sshd11.host_key + '.pub')}")
        self.assertIsNone(res.line("hello "))

    def test_device_with_two_host_keys(self):
        """The known key's type is asked for first, so a device with several
        host keys presents the one we know, whichever it is."""
        ecdsa = os.path.join(self.tmp, "ecdsa_host_key")
        if not os.path.exists(ecdsa):
            subprocess.run(["ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-f", ecdsa],
                           check=True)
        with open(ecdsa + ".pub") as f:
            ecdsa_line = " ".join(f.read().split()[:2])
        with sshdtest.Sshd({"netconf": f"{PYTHON} {PEERS} ok"},
                           extra_config=[f"HostKey {ecdsa}"]) as s:
            for known in (ecdsa_line, s.host_key_line()):
                res = self.probe(s, user=s.user, known=known)
                self.assert_ok(res)
                self.assertEqual(res.line("host-key "), "host-key " + known)
            other = "ecdsa-sha2-nistp384 " + ecdsa_line.split()[1]
            self.assert_error(self.probe(s, user=s.user, known=other), "ECONFLICT",
                              "where a ecdsa-sha2-nistp384 key was known")

    def test_unknown_host_key_without_tofu(self):
        res = self.probe(self.sshd11, known=None)
        msg = self.assert_error(res, "EFORBIDDEN")
        self.assertIn(fingerprint(self.sshd11.host_key + ".pub"), msg)
        self.assertIsNone(res.line("hello "))

    def test_tofu_prints_the_key(self):
        res = self.probe(self.sshd11, "--tofu", known=None)
        self.assert_ok(res)
        self.assertEqual(res.line("host-key "), "host-key " + self.sshd11.host_key_line())
        self.assertEqual(res.line("fingerprint "),
                         "fingerprint " + fingerprint(self.sshd11.host_key + ".pub"))

    def test_bad_known_key(self):
        self.assert_error(self.probe(self.sshd11, known="ssh-ed25519 not*base64"), "EINVAL",
                          "known host key")

    def test_rsa_key_needs_ssh_rsa(self):
        """libssh2 1.10 signs with ssh-rsa (SHA-1) only: an RSA user key works
        where the device accepts that (IOS-XE does), not on a default
        OpenSSH >= 8.8, which gives EAUTH."""
        key = os.path.join(self.tmp, "rsa_key")
        subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "",
                        "-f", key], check=True)
        for extra, ok in (([], False), (["PubkeyAcceptedAlgorithms +ssh-rsa"], True)):
            with sshdtest.Sshd({"netconf": f"{PYTHON} {PEERS} ok"}, extra_config=extra) as s:
                with open(os.path.join(s.dir, "authorized_keys"), "a") as f, \
                        open(key + ".pub") as pub:
                    f.write(pub.read())
                res = self.probe(s, key=key, user=s.user)
                if ok:
                    self.assert_ok(res)
                else:
                    self.assert_error(res, "EAUTH")

    # ---- framing ----

    def test_base10_and_base11(self):
        res = self.probe(self.sshd10)
        self.assert_ok(res)
        self.assertIn("base=10", res.line("hello "))
        self.assertIn("sn=FOC1234X0AB", res.line("state "))
        res = self.probe(self.sshd11, "--base10-only")
        self.assert_ok(res)
        self.assertIn("base=10", res.line("hello "))

    # ---- files ----

    def test_save_usage_and_scp_get(self):
        name = f"rumd-{os.getpid()}-{time.monotonic_ns()}.txt"
        out = os.path.join(self.tmp, "usage.txt")
        for sshd in (self.sshd11, self.sshd10):
            res = self.probe(sshd, "--save-usage", f"bootflash:{name}", "--out", out)
            self.assert_ok(res)
            self.assertIn(f"rum-save-usage-unreported bootflash:{name} return-code=success",
                          res.out)
            with open(out, "rb") as f:
                got = f.read()
            with open(os.path.join(self.bootflash, name), "rb") as f:
                self.assertEqual(got, f.read())
            self.assertIn(f"scp-get bootflash:{name} bytes={len(got)}", res.out)
            self.assertIn(b"<smartLicense>", got)
            self.assertIn(b"<RUMReport><![CDATA[", got)

    def test_password_session_scp(self):
        self.sshd11.require_password()
        name = f"rumd-pw-{os.getpid()}.txt"
        res = self.probe(self.sshd11, "--save-usage", f"bootflash:{name}",
                         password=self.sshd11.password)
        self.assert_ok(res)
        self.assertTrue(os.path.exists(os.path.join(self.bootflash, name)))

    def test_scp_put_and_import(self):
        ack = os.path.join(self.tmp, "ack.xml")
        with open(ack, "w") as f:
            f.write(ACK_FILE)
        name = f"rumd-ack-{os.getpid()}.txt"
        res = self.probe(self.sshd11, "--put", ack, "--put-path", f"bootflash:{name}")
        self.assert_ok(res)
        self.assertIn(f"scp-put bootflash:{name} bytes={len(ACK_FILE)}", res.out)
        self.assertIn(f"import-file bootflash:{name} return-code=success", res.out)
        with open(os.path.join(self.bootflash, name)) as f:
            self.assertEqual(f.read(), ACK_FILE)
        status = subprocess.run([AGENT, "show", "--state", self.state, "status"],
                                capture_output=True, text=True, check=True).stdout
        self.assertIn("Policy name: Lab Policy", status)

    def test_scp_errors(self):
        res = self.probe(self.sshd11, "--get", "bootflash:no-such-file.txt")
        self.assert_error(res, "EIO", "scp get bootflash:no-such-file.txt: refused")
        big = os.path.join(self.bootflash, "big.bin")
        with open(big, "wb") as f:
            f.write(b"x" * 300000)
        sshdtest.chown_for_login(self.bootflash)
        res = self.probe(self.sshd11, "--get", "bootflash:big.bin", "--max-reply", "200000")
        self.assert_error(res, "ETOOBIG", "300000 bytes exceeds 200000")
        res = self.probe(self.sshd11, "--get", "bootflash:big.bin")
        self.assert_ok(res)
        self.assertIn("bytes=300000", res.out)
        # the device refuses the path
        res = self.probe(self.sshd11, "--put", big, "--put-path", "/nonexistent-dir/x.txt")
        self.assert_error(res, "EIO", "scp put")

    # ---- devices that misbehave ----

    def assert_bounded(self, res):
        self.assertLess(res.elapsed, BOUND_S, res.out)

    def test_peer_stall(self):
        res = self.probe(self.peer("stall"), "--rpc-timeout", "2000", known="host")
        self.assert_error(res, "ETIMEDOUT", "^netconf rpc: no complete answer in time")
        self.assertGreaterEqual(res.elapsed, 1.9)
        self.assert_bounded(res)
        # the idle timeout ends a silent read before a long rpc timeout does
        res = self.probe(self.peer("stall"), "--rpc-timeout", "60000", "--io-timeout", "1500")
        self.assert_error(res, "ETIMEDOUT", "silent for 1500 ms")
        self.assert_bounded(res)
        # and so does the session deadline
        res = self.probe(self.peer("stall"), "--rpc-timeout", "60000", "--deadline", "2500")
        self.assert_error(res, "ETIMEDOUT")
        self.assert_bounded(res)

    def test_peer_silent(self):
        res = self.probe(self.peer("silent"), "--rpc-timeout", "2000")
        self.assert_error(res, "ETIMEDOUT", "^netconf hello")
        self.assertIsNone(res.line("hello "))
        self.assert_bounded(res)

    def test_peer_drop(self):
        res = self.probe(self.peer("drop"))
        self.assert_error(res, "EIO", "closed the session after .* bytes.*<rpc-reply")
        self.assert_bounded(res)

    def test_peer_badchunk(self):
        res = self.probe(self.peer("badchunk"))
        self.assert_error(res, "EINVAL", r"bad chunk header.*device sent: \"\\x0a#12x")

    def test_peer_wrongmsgid(self):
        res = self.probe(self.peer("wrongmsgid"))
        self.assert_error(res, "EINVAL", 'reply to message-id "101", expected "1"')

    def test_peer_rpcerror(self):
        res = self.probe(self.peer("rpcerror"))
        self.assertEqual(res.rc, 1, res.out)
        self.assertRegex(res.line("rpc-error ") or "", r"^rpc-error get: .*operation-failed")

    def test_peer_huge(self):
        res = self.probe(self.peer("huge"), "--max-reply", "1048576")
        self.assert_error(res, "ETOOBIG", "exceeds 1048576 bytes")
        self.assert_bounded(res)

    def test_peer_quirks_work(self):
        for mode, base in (("ok", 11), ("nomsgid", 11), ("junk", 11), ("base11only", 11),
                           ("base10", 10)):
            with self.subTest(mode=mode):
                res = self.probe(self.peer(mode))
                self.assert_ok(res)
                self.assertIn(f"base={base}", res.line("hello "))
                self.assertEqual(res.line("state "),
                                 f"state pid=PEER sn={mode} usage=0 closed-reports=0")

    def test_peer_no_common_base(self):
        res = self.probe(self.peer("base11only"), "--base10-only")
        self.assert_error(res, "EINVAL", "no common base")

    # ---- transport ----

    def test_tcp_failures(self):
        with socket.socket() as listener:  # accepts (in the kernel), never speaks
            listener.bind(("127.0.0.1", 0))
            listener.listen(4)
            port = listener.getsockname()[1]
            start = time.monotonic()
            proc = subprocess.run([PROBE, "--host", "127.0.0.1", "--port", str(port), "--user",
                                   "x", "--key-file", self.sshd11.user_key, "--tofu",
                                   "--connect-timeout", "1500"],
                                  capture_output=True, text=True, timeout=60)
            res = Result(proc, time.monotonic() - start)
        self.assert_error(res, "ETIMEDOUT", "ssh handshake")
        self.assert_bounded(res)
        closed = sshdtest.free_port()
        proc = subprocess.run([PROBE, "--host", "127.0.0.1", "--port", str(closed), "--user", "x",
                               "--key-file", self.sshd11.user_key, "--tofu"],
                              capture_output=True, text=True, timeout=60)
        self.assert_error(Result(proc, 0), "EUNAVAIL", "Connection refused")

    def test_no_secret_in_output(self):
        self.sshd11.require_password()
        res = self.probe(self.sshd11, password=self.sshd11.password, user="nobody-here")
        self.assertEqual(res.rc, 1, res.out)
        self.assertNotIn(self.sshd11.password, res.out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
