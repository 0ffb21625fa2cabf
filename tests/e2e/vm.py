"""Boots the e2e test's Debian 12 VM under qemu and talks to it over SSH.

The image comes from tests/e2e/vm/build-image (cached; built on first use). Each VM
boots from a fresh copy-on-write overlay on that image, so every run starts from the
same clean host and the cached image is never written. qemu runs with user-mode
networking: the guest reaches the host's network (the Debian mirror) and the host
reaches the guest's ports 22, 80 and 443 through forwards on 127.0.0.1 ports picked
here. The serial console goes to <workdir>/console.log, the accelerator, boot time and
ports to <workdir>/boot.txt.

Acceleration: TCG unless KVM is proven to work. /dev/kvm may exist where nested KVM
cannot boot a kernel (it hangs), so "auto" first boots the kernel without a root file
system under KVM and waits for the expected panic; only then is the real boot tried with
KVM, and if SSH does not come up the VM is restarted under TCG. LGTM_E2E_ACCEL=tcg|kvm
forces one.

qemu is always killed: stop() (also on `with` exit) powers the guest off, then
terminates and kills qemu; the child also gets SIGKILL if this process dies
(PR_SET_PDEATHSIG), so no run leaves a VM behind.

Command line, for a person debugging the VM:
  python3 tests/e2e/vm.py smoke   build, boot, apt-get update, system state, power off
  python3 tests/e2e/vm.py run     boot and print the ssh command; Ctrl-C stops it
"""
import ctypes
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
BUILD_IMAGE = HERE / "vm" / "build-image"
GUEST_PORTS = (22, 80, 443)


class VMError(Exception):
    pass


def build_image(cache=None):
    """Builds (or finds in the cache) the image; returns its directory."""
    argv = [str(BUILD_IMAGE)]
    if cache:
        argv += ["--cache", str(cache)]
    out = subprocess.run(argv, check=False, stdout=subprocess.PIPE, text=True)
    if out.returncode != 0:
        raise VMError(f"build-image failed (exit {out.returncode})")
    return Path(out.stdout.strip().splitlines()[-1])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    # Runs in the child between fork and exec: qemu gets SIGKILL when we die.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _kernel_argv(image, accel, memory):
    return ["qemu-system-x86_64", "-accel", accel, "-m", str(memory),
            "-kernel", str(image / "vmlinuz")]


def probe_kvm(image, workdir, timeout=15):
    """True when /dev/kvm exists and a kernel boots under it far enough to panic
    for want of a root file system (a working KVM gets there in a second or two)."""
    if os.environ.get("LGTM_E2E_ACCEL") in ("tcg", "kvm"):
        return os.environ["LGTM_E2E_ACCEL"] == "kvm"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    log = Path(workdir) / "kvm-probe.log"
    argv = _kernel_argv(image, "kvm", 256) + [
        "-append", "console=ttyS0 panic=-1", "-no-reboot", "-nographic",
        "-serial", f"file:{log}", "-monitor", "none"]
    try:
        subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=timeout,
                       preexec_fn=_die_with_parent, check=False)
    except subprocess.TimeoutExpired:
        return False
    return "Kernel panic" in log.read_text(errors="replace")


class VM:
    """One qemu guest. Use as a context manager, or call start() and stop()."""

    def __init__(self, image, workdir=None, accel="auto", memory=2048, smp=2):
        self.image = Path(image)
        self._tmp = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="lgtm-e2e-vm.")
            workdir = self._tmp.name
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.accel = os.environ.get("LGTM_E2E_ACCEL", accel)
        self.memory, self.smp = memory, smp
        self.user = (self.image / "user").read_text().strip()
        self.key = self.image / "id_ed25519"
        self.console_log = self.workdir / "console.log"
        self.overlay = self.workdir / "overlay.qcow2"
        self.ports = {}
        self.proc = None
        self.timings = {}

    # --- life cycle ---------------------------------------------------------------

    def start(self, timeout=300):
        """Boots the VM and waits until SSH answers. Raises VMError on failure,
        with qemu already stopped."""
        accel = self.accel
        if accel == "auto":
            accel = "kvm" if probe_kvm(self.image, self.workdir) else "tcg"
        try:
            try:
                self._boot(accel, timeout if accel == "tcg" else min(timeout, 120))
            except VMError:
                if accel != "kvm" or self.accel != "auto":
                    raise
                # KVM passed the probe but the full boot did not: TCG always works.
                self.stop()
                self._boot("tcg", timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _boot(self, accel, timeout):
        self.accel_used = accel
        if self.overlay.exists():
            self.overlay.unlink()
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2",
                        "-b", str(self.image / "disk.qcow2"), str(self.overlay)],
                       check=True)
        self.ports = {p: free_port() for p in GUEST_PORTS}
        fwd = ",".join(f"hostfwd=tcp:127.0.0.1:{h}-:{g}" for g, h in self.ports.items())
        cmdline = (self.image / "cmdline").read_text().strip()
        argv = _kernel_argv(self.image, accel, self.memory) + [
            "-smp", str(self.smp),
            "-initrd", str(self.image / "initrd.img"),
            "-append", cmdline,
            "-drive", f"file={self.overlay},if=virtio,format=qcow2,cache=unsafe",
            "-nic", f"user,model=virtio-net-pci,{fwd}",
            "-device", "virtio-rng-pci",
            "-nographic", "-serial", f"file:{self.console_log}", "-monitor", "none",
            "-pidfile", str(self.workdir / "qemu.pid"),
        ]
        self.qemu_log = self.workdir / "qemu.log"
        t0 = time.monotonic()
        with open(self.qemu_log, "w") as qlog:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=qlog,
                                         stderr=subprocess.STDOUT,
                                         preexec_fn=_die_with_parent)
        self.wait_ssh(timeout)
        self.timings["boot_to_ssh"] = time.monotonic() - t0
        with open(self.workdir / "boot.txt", "a") as f:
            f.write(f"accel={accel} boot_to_ssh={self.timings['boot_to_ssh']:.1f}s "
                    f"ports={self.ports}\n")

    def wait_ssh(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise VMError(f"qemu exited with {self.proc.returncode}\n"
                              + self._tail(self.qemu_log) + self._tail(self.console_log))
            try:
                r = subprocess.run(self.ssh_argv("true", connect_timeout=5),
                                   stdin=subprocess.DEVNULL, capture_output=True,
                                   timeout=30, check=False)
                if r.returncode == 0:
                    return
            except subprocess.TimeoutExpired:
                pass  # sshd accepted but the guest is too busy to finish: try again
            time.sleep(1)
        raise VMError(f"no SSH on 127.0.0.1:{self.ports[22]} after {timeout} s "
                      f"({self.accel_used})\n" + self._tail(self.console_log))

    def stop(self, timeout=60):
        """Powers the guest off and makes sure qemu is gone. Safe to call twice."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                r = subprocess.run(self.ssh_argv("sudo systemctl poweroff", connect_timeout=5),
                                   stdin=subprocess.DEVNULL, capture_output=True,
                                   timeout=30, check=False)
                asked = r.returncode == 0
            except subprocess.TimeoutExpired:
                asked = False
            try:
                # A guest that was not reached gets a moment, not the full minute.
                self.proc.wait(timeout=timeout if asked else 5)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        subprocess.run(["ssh", "-O", "exit"] + self.ssh_options() + ["127.0.0.1"],
                       capture_output=True, check=False)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    # --- SSH ----------------------------------------------------------------------

    def ssh_options(self, connect_timeout=10):
        """ssh options for this VM (host key checks off: every boot is a new host)."""
        return ["-i", str(self.key), "-p", str(self.ports.get(22, 22)),
                "-l", self.user,
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
                "-o", "LogLevel=ERROR", "-o", f"ConnectTimeout={connect_timeout}",
                "-o", "ServerAliveInterval=15",
                "-o", "ControlMaster=auto", "-o", "ControlPersist=120",
                "-o", f"ControlPath={self.workdir}/ssh-%C",
                "-o", "HostKeyAlias=lgtm-e2e-vm"]

    def ssh_argv(self, command, connect_timeout=10):
        return ["ssh"] + self.ssh_options(connect_timeout) + ["127.0.0.1", command]

    def ssh(self, command, check=True, timeout=600, input=None):
        """Runs a shell command in the guest as the deploy user; returns the
        CompletedProcess (text). check=True raises VMError on a non-zero exit."""
        r = subprocess.run(self.ssh_argv(command), input=input, capture_output=True,
                           text=True, timeout=timeout, check=False)
        if check and r.returncode != 0:
            raise VMError(f"in the VM: {command!r} exited {r.returncode}\n"
                          f"stdout: {r.stdout[-2000:]}\nstderr: {r.stderr[-2000:]}")
        return r

    def ssh_command_line(self):
        """A command a person can paste to log in."""
        return shlex.join(self.ssh_argv("")[:-1])

    @staticmethod
    def _tail(path, n=40):
        try:
            lines = Path(path).read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return f"--- last lines of {path}:\n" + "\n".join(lines[-n:]) + "\n"


def smoke():
    """Build, boot, check apt and systemd in the guest, power off; prints timings."""
    t0 = time.monotonic()
    image = build_image()
    t_image = time.monotonic() - t0
    with VM(image) as vm:
        print(f"image {image} ({t_image:.0f} s), accel {vm.accel_used}, "
              f"boot to SSH {vm.timings['boot_to_ssh']:.0f} s", flush=True)
        t = time.monotonic()
        state = vm.ssh("systemctl is-system-running --wait", check=False).stdout.strip()
        print(f"systemctl is-system-running: {state} ({time.monotonic() - t:.0f} s)")
        t = time.monotonic()
        vm.ssh("sudo apt-get update -q")
        print(f"apt-get update: ok ({time.monotonic() - t:.0f} s)")
        t = time.monotonic()
        vm.stop()
        print(f"power off: {time.monotonic() - t:.0f} s")
    return 0 if state == "running" else 1


def run():
    with VM(build_image()) as vm:
        print(f"accel {vm.accel_used}; ports {vm.ports}; console {vm.console_log}")
        print(vm.ssh_command_line())
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    commands = {"smoke": smoke, "run": run}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        print("usage: vm.py smoke|run", file=sys.stderr)
        sys.exit(2)
    sys.exit(commands[sys.argv[1]]())
