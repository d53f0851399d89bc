"""A throwaway OpenSSH sshd for integration tests.

Runs /usr/sbin/sshd as a non-daemon child (-D -e -f <own config>) on a free
loopback port, with generated host and user keys, StrictModes no, and the
current user as the only login, so tests can reach an SSH subsystem (the
rum-agent NETCONF server) exactly as a collector would.
"""
import getpass
import os
import socket
import subprocess
import tempfile
import time

SSHD = "/usr/sbin/sshd"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sshd:
    """Context manager: Sshd({"netconf": "/path/rum-agent netconf --state D"})."""

    def __init__(self, subsystems):
        self.subsystems = subsystems
        self.proc = None
        self.dir = tempfile.mkdtemp(prefix="rum-sshd-")
        self.port = free_port()
        self.user = getpass.getuser()
        self.user_key = os.path.join(self.dir, "user_key")
        self.host_key = os.path.join(self.dir, "host_key")

    def __enter__(self):
        for key in (self.host_key, self.user_key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
        auth = os.path.join(self.dir, "authorized_keys")
        with open(self.user_key + ".pub") as src, open(auth, "w") as dst:
            dst.write(src.read())
        os.chmod(auth, 0o600)
        lines = [
            f"Port {self.port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {self.host_key}",
            f"PidFile {os.path.join(self.dir, 'sshd.pid')}",
            f"AuthorizedKeysFile {auth}",
            "StrictModes no",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            "UsePAM no",
            f"AllowUsers {self.user}",
            "LogLevel ERROR",
        ]
        for name, command in self.subsystems.items():
            lines.append(f"Subsystem {name} {command}")
        config = os.path.join(self.dir, "sshd_config")
        with open(config, "w") as f:
            f.write("\n".join(lines) + "\n")
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation dir
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", config],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("sshd exited: " + self.proc.stderr.read().decode(errors="replace"))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("sshd did not start listening")

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()
