"""A real IMAP server for the mailbox tests: Debian's dovecot, started by the test on a
free loopback port with a throwaway configuration under the test's folder (a
passwd-file user, maildir storage, TLS with a certificate made for the test).

Run as root (CI), dovecot's own processes use its packaged users and the mail user is
`nobody`; run as anyone else, every process is that user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.fault_relay import make_certificate
from tests.smtp_server import free_port

USER, PASSWORD = "govcal", "test-password"
DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


def _users() -> tuple[str, str, int, int]:
    """(dovecot's internal user, its login user, mail uid, mail gid)."""
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        return "dovecot", "dovenull", nobody.pw_uid, nobody.pw_gid
    me = pwd.getpwuid(os.geteuid())
    return me.pw_name, me.pw_name, me.pw_uid, me.pw_gid


class Dovecot:
    """`with Dovecot(folder) as server:` server.port, server.ca_file, then IMAP over TLS.

    As root, dovecot's unprivileged processes cannot pass pytest's 0700 folders, so the
    server's files go in a folder of their own under the system's temporary folder
    (readable by them, in memory where there is /dev/shm: removing 50,000 messages from
    the disk took 100 s; removed afterwards); `folder` then only holds a link to it."""

    def __init__(self, folder: Path):
        self.link = folder
        self.folder = folder
        if os.geteuid() == 0:
            memory = "/dev/shm" if os.path.isdir("/dev/shm") else None  # quick to remove
            self.folder = Path(tempfile.mkdtemp(prefix="govcal-dovecot-", dir=memory))
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Dovecot:
        if not os.path.exists(DOVECOT):
            raise RuntimeError(
                "dovecot is not installed: `apt-get install dovecot-imapd` (scripts/test "
                "installs it when run as root)"
            )
        f = self.folder
        f.mkdir(parents=True, exist_ok=True)
        os.chmod(f, 0o755)
        if self.link != f:
            self.link.parent.mkdir(parents=True, exist_ok=True)
            self.link.symlink_to(f)
        self.ca_file, key = make_certificate(f)
        os.chmod(key, 0o644)  # read by dovecot's config parser (root) and nothing else here
        internal, login, uid, gid = _users()
        home = f / "home"
        (f / "run").mkdir()
        home.mkdir()
        os.chown(home, uid, gid)
        (f / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{home}\n")
        self.config = f / "dovecot.conf"
        self.config.write_text(
            f"""
protocols = imap
listen = 127.0.0.1
base_dir = {f}/run
state_dir = {f}/run
log_path = {f}/dovecot.log
ssl = required
ssl_cert = <{self.ca_file}
ssl_key = <{key}
disable_plaintext_auth = yes
auth_mechanisms = plain
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = 0
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {f}/users
}}
userdb {{
  driver = passwd-file
  args = {f}/users
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {self.port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
"""
        )
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.process.stderr.read().decode()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("dovecot did not listen within 20 s")

    def __exit__(self, *exc_info) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.link != self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def maildir(self) -> Path:
        """The user's inbox as files (a test may write thousands of messages at once)."""
        return self.folder / "home" / "Maildir"

    def environment(self) -> dict[str, str]:
        """The settings that point govcal at this server."""
        return {
            "GOVCAL_IMAP_HOST": "127.0.0.1",
            "GOVCAL_IMAP_PORT": str(self.port),
            "GOVCAL_IMAP_USERNAME": USER,
            "GOVCAL_IMAP_PASSWORD": PASSWORD,
            "GOVCAL_IMAP_CA_FILE": str(self.ca_file),
        }
