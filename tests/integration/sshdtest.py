"""A throwaway OpenSSH sshd for integration tests.

Runs /usr/sbin/sshd as a non-daemon child (-D -e -f <own config>) on a free
loopback port, with generated host and user keys, StrictModes no, and the
current user as a login, so tests can reach an SSH subsystem (the rum-agent
NETCONF server) exactly as a collector would. Several instances may run at
once, in one process or many: each has its own directory, keys and port.

Optional, as a collector meets on a real device:
- password authentication (password_auth=True): only when running as root,
  for a local user "rumtest" created once (idempotently, under a lock) with a
  random password kept in a root-only file. Its name and password are
  sshd.password_user and sshd.password; it also logs in with the user key.
  Not root: both are None, and tests call sshd.require_password() to skip
  with a clear message.
- SCP into the device file system (bootflash_dir=D): IOS-XE's SCP server
  takes "bootflash:NAME"; here sessions get a PATH (sshd_config SetEnv, which
  overrides sshd's default PATH, and no ~/.bashrc runs to change it) whose first directory holds an "scp" wrapper
  that rewrites bootflash:NAME to D/NAME and execs /usr/bin/scp. D is the
  rum-agent state directory's bootflash/ subdirectory. The password user
  must be able to read and write D: chown_for_login() does that.
"""
import fcntl
import getpass
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

SSHD = "/usr/sbin/sshd"
SCP = "/usr/bin/scp"
PASSWORD_USER = "rumtest"
PASSWORD_FILE = "/var/lib/rumd-tests/rumtest.password"  # root-only (0600)
LOCK_FILE = "/tmp/rumd-tests-user.lock"

SCP_WRAPPER = """#!/bin/sh
# Test rig: an IOS-XE-like SCP server. Rewrites bootflash:NAME (and
# bootflash:/NAME) to a file under the rum-agent state directory, then runs
# the real scp with the same arguments.
dir='{dir}'
for a; do
    shift
    case "$a" in
    bootflash:/*) set -- "$@" "$dir/${{a#bootflash:/}}" ;;
    bootflash:*) set -- "$@" "$dir/${{a#bootflash:}}" ;;
    *) set -- "$@" "$a" ;;
    esac
done
exec {scp} "$@"
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def ensure_password_user():
    """Creates (once) the local user rumtest with a random password and
    returns the password; None when not root. Safe to call from several
    processes at once: creation runs under an exclusive file lock, and an
    existing user keeps its password (kept in PASSWORD_FILE), so sessions
    already using it are not broken by a later test."""
    if os.geteuid() != 0:
        return None
    with open(LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _user_exists(PASSWORD_USER) and os.path.exists(PASSWORD_FILE):
            with open(PASSWORD_FILE) as f:
                return f.read().strip()
        if not _user_exists(PASSWORD_USER):
            subprocess.run(["useradd", "-m", "-s", "/bin/sh", "-c", "rumd integration tests",
                            PASSWORD_USER], check=True, capture_output=True)
        password = secrets.token_urlsafe(18)
        subprocess.run(["chpasswd"], input=f"{PASSWORD_USER}:{password}\n", text=True,
                       check=True, capture_output=True)
        os.makedirs(os.path.dirname(PASSWORD_FILE), mode=0o700, exist_ok=True)
        fd = os.open(PASSWORD_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(password + "\n")
        return password


def chown_for_login(path, user=PASSWORD_USER):
    """Gives path (recursively) to user, so that sessions of that login can
    read and write it (a rum-agent state directory), and makes the
    directories above it traversable. No-op when not root."""
    if os.geteuid() != 0 or not _user_exists(user):
        return
    pw = pwd.getpwnam(user)
    for top, dirs, files in os.walk(path):
        os.chown(top, pw.pw_uid, pw.pw_gid)
        for name in files:
            os.chown(os.path.join(top, name), pw.pw_uid, pw.pw_gid)
    make_traversable(path)


def make_traversable(path):
    """Adds the search (x) bit for others to every directory above path, so
    that another login can reach path (a checkout cloned into a 0700
    directory, a state directory under a private temp dir). Names stay
    unreadable: only traversal is granted."""
    parent = os.path.dirname(os.path.abspath(path))
    while parent not in ("/", ""):
        mode = os.stat(parent).st_mode
        if not mode & 0o001:
            os.chmod(parent, (mode & 0o7777) | 0o711)
        parent = os.path.dirname(parent)


class Sshd:
    """Context manager: Sshd({"netconf": "/path/rum-agent netconf --state D"}),
    optionally with password_auth=True, bootflash_dir="D/bootflash" and
    extra_config (sshd_config lines that take precedence over the defaults)."""

    def __init__(self, subsystems, password_auth=False, bootflash_dir=None, extra_config=()):
        self.subsystems = subsystems
        self.bootflash_dir = bootflash_dir
        self.extra_config = list(extra_config)
        self.proc = None
        self.dir = tempfile.mkdtemp(prefix="rum-sshd-")
        self.port = free_port()
        self.user = getpass.getuser()
        self.user_key = os.path.join(self.dir, "user_key")
        self.host_key = os.path.join(self.dir, "host_key")
        self.password = ensure_password_user() if password_auth else None
        self.password_user = PASSWORD_USER if self.password else None

    def require_password(self):
        """Skips the calling test when password login is not available."""
        if not self.password:
            raise unittest.SkipTest("password authentication needs root (to create the local "
                                    f"user {PASSWORD_USER}); run the tests as root to cover it")

    def host_key_line(self):
        """The host key as "TYPE BASE64" (a known_hosts line without the host)."""
        with open(self.host_key + ".pub") as f:
            return " ".join(f.read().split()[:2])

    def _write_scp_wrapper(self):
        bindir = os.path.join(self.dir, "bin")
        os.makedirs(bindir, exist_ok=True)
        wrapper = os.path.join(bindir, "scp")
        with open(wrapper, "w") as f:
            f.write(SCP_WRAPPER.format(dir=os.path.abspath(self.bootflash_dir), scp=SCP))
        os.chmod(wrapper, 0o755)
        return bindir

    def _config(self):
        auth = os.path.join(self.dir, "authorized_keys")
        users = [self.user] + ([self.password_user] if self.password_user else [])
        # sshd takes the first value of each keyword: extra lines go first,
        # so that they override the defaults below.
        lines = self.extra_config + [
            f"Port {self.port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {self.host_key}",
            f"PidFile {os.path.join(self.dir, 'sshd.pid')}",
            f"AuthorizedKeysFile {auth}",
            "StrictModes no",
            "PubkeyAuthentication yes",
            f"PasswordAuthentication {'yes' if self.password_user else 'no'}",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            "UsePAM no",
            f"AllowUsers {' '.join(users)}",
            "LogLevel ERROR",
        ]
        # sshd runs every subsystem and scp through the login's shell, and
        # bash then reads ~/.bashrc when it is a top-level shell (SHLVL
        # unset). A developer's .bashrc can be slow or block (pyenv init
        # waits up to 60 s for its rehash lock when shells start at once):
        # SHLVL=1 makes bash skip it, so a session starts in milliseconds.
        # One SetEnv line: sshd keeps only the first.
        env = ["SHLVL=1"]
        if self.bootflash_dir:
            env.append(f"PATH={self._write_scp_wrapper()}:/usr/local/bin:/usr/bin:/bin")
        lines.append("SetEnv " + " ".join(env))
        for name, command in self.subsystems.items():
            lines.append(f"Subsystem {name} {command}")
        return lines

    def _prepare(self):
        for key in (self.host_key, self.user_key):
            if not os.path.exists(key):
                subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key],
                               check=True)
        auth = os.path.join(self.dir, "authorized_keys")
        with open(self.user_key + ".pub") as src, open(auth, "w") as dst:
            dst.write(src.read())
        # sshd reads authorized_keys as the user logging in, and that user
        # runs the scp wrapper: both must be reachable by the password user.
        os.chmod(auth, 0o644 if self.password_user else 0o600)
        if self.password_user or self.bootflash_dir:
            os.chmod(self.dir, 0o755)
        config = os.path.join(self.dir, "sshd_config")
        with open(config, "w") as f:
            f.write("\n".join(self._config()) + "\n")
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation dir
        return config

    def _start(self, config):
        """Starts sshd; returns False when its port was taken meanwhile."""
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", config],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace")
                self.proc.stderr.close()
                if "Address already in use" in err:
                    return False
                raise RuntimeError("sshd exited: " + err)
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return True
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("sshd did not start listening")

    def __enter__(self):
        if os.geteuid() == 0:
            # As root, tests may log in as another user, who runs the
            # subsystem programs: they must be reachable from wherever the
            # checkout is.
            for command in self.subsystems.values():
                for word in command.split():
                    if word.startswith("/") and os.path.exists(word):
                        make_traversable(word)
        for _ in range(5):  # another instance may grab the free port first
            if self._start(self._prepare()):
                return self
            self.port = free_port()
        raise RuntimeError("sshd: no free port after 5 tries")

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
        if not os.environ.get("RUMTEST_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)
