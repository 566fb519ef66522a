"""A real Slurm cluster on this one machine, for the fleet tests.

One `munged` with its own key and socket, one `slurmctld`, and one `slurmd -N nodeK` per node,
each node with its own port in a `slurm.conf` written here (NodeAddr 127.0.0.1). Nothing global
is touched: the daemons read `SLURM_CONF`, and every client command run with `cluster.env`
talks to this cluster only. `stop()` ends every daemon this module started, by its pid.

Needs Debian's `slurm-wlm` and `munge` (.ci/run installs them) and root (slurmd runs tasks as
the submitting user and must be able to switch to it).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Run

DAEMONS = ("munged", "slurmctld", "slurmd")


def tool(name: str) -> str | None:
    """A Slurm or munge program; the daemons live in /usr/sbin, which a PATH may lack."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def missing_tools() -> list[str]:
    """What this machine lacks to run a cluster (empty when it can)."""
    need = [*DAEMONS, "srun", "sinfo", "scontrol", "mungekey"]
    missing = [name for name in need if tool(name) is None]
    if os.geteuid() != 0:
        missing.append("root")
    return missing


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class SlurmCluster:
    root: Path
    nodes: tuple[str, ...]
    cpus: int = 2
    pids: dict[str, int] = field(default_factory=dict)  # daemon name ("slurmd:node1") -> pid
    env: dict[str, str] = field(default_factory=dict)

    @property
    def conf(self) -> Path:
        return self.root / "slurm.conf"

    def start(self, node_env: dict[str, str] | None = None) -> None:
        """Start munged, slurmctld and every slurmd; wait until every node is idle.

        `node_env` is added to each slurmd's environment, which its tasks inherit (the stand-in
        NVML's per-node folder, say)."""
        self.root.mkdir(parents=True, exist_ok=True)
        for sub in ("state", "log", "munge"):
            (self.root / sub).mkdir(exist_ok=True)
        self._start_munge()
        ports = _free_ports(len(self.nodes) + 1)
        self._write_conf(ports)
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
        for key in [k for k in self.env if k.startswith(("SLURM_", "SRUN_", "SBATCH_"))]:
            if key != "SLURM_CONF":
                del self.env[key]
        self._spawn(
            "slurmctld", [str(tool("slurmctld")), "-D", "-i", "-f", str(self.conf)], self.env
        )
        daemon_env = {**self.env, **(node_env or {})}
        for node in self.nodes:
            argv = [str(tool("slurmd")), "-D", "-N", node, "-f", str(self.conf)]
            self._spawn(f"slurmd:{node}", argv, daemon_env)
        self.wait_idle(self.nodes)

    def _start_munge(self) -> None:
        key = self.root / "munge" / "munge.key"
        if not key.exists():
            subprocess.run([str(tool("mungekey")), "--create", "--keyfile", str(key)], check=True)
            key.chmod(0o400)
        munge = self.root / "munge"
        argv = [str(tool("munged")), "--foreground", "--force", f"--key-file={key}"]
        argv += [f"--socket={munge / 'munge.socket'}", f"--pid-file={munge / 'munged.pid'}"]
        argv += [f"--seed-file={munge / 'munge.seed'}", f"--log-file={munge / 'munged.log'}"]
        self._spawn("munged", argv, dict(os.environ))
        deadline = time.monotonic() + 10
        while not (munge / "munge.socket").exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"munged did not start: {self._log('munge/munged.log')}")
            time.sleep(0.05)

    def _write_conf(self, ports: list[int]) -> None:
        host = socket.gethostname()
        state, log = self.root / "state", self.root / "log"
        lines = [
            "ClusterName=mmdoctor-test",
            f"SlurmctldHost={host}(127.0.0.1)",
            f"SlurmctldPort={ports[0]}",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={self.root / 'munge' / 'munge.socket'}",
            "SlurmUser=root",
            "SlurmdUser=root",
            f"StateSaveLocation={state}",
            f"SlurmdSpoolDir={state}/spool-%n",
            f"SlurmctldPidFile={state}/slurmctld.pid",
            f"SlurmdPidFile={state}/slurmd-%n.pid",
            f"SlurmctldLogFile={log}/slurmctld.log",
            f"SlurmdLogFile={log}/slurmd-%n.log",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/linear",
            "SchedulerType=sched/builtin",
            "MpiDefault=none",
            "ReturnToService=1",  # a node an admin took down stays down until resumed
            "SlurmdTimeout=5",
            "MessageTimeout=5",
            "KillWait=2",
            "InactiveLimit=0",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "SwitchType=switch/none",
        ]
        for node, port in zip(self.nodes, ports[1:], strict=True):
            lines.append(
                f"NodeName={node} NodeHostname={host} NodeAddr=127.0.0.1 Port={port} "
                f"CPUs={self.cpus} State=UNKNOWN"
            )
        lines.append(
            f"PartitionName=gpu Nodes={','.join(self.nodes)} Default=YES MaxTime=INFINITE State=UP"
        )
        self.conf.write_text("\n".join(line for line in lines if line) + "\n", encoding="utf-8")

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        out = open(self.root / "log" / f"{name.replace(':', '-')}.out", "ab")  # noqa: SIM115
        process = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        out.close()
        self.pids[name] = process.pid

    def _log(self, relative: str) -> str:
        path = self.root / relative
        return path.read_text(errors="replace")[-2000:] if path.exists() else "(no log)"

    def sinfo_states(self) -> dict[str, str]:
        done = subprocess.run(
            ["sinfo", "-N", "-h", "-o", "%N %T"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        states: dict[str, str] = {}
        for line in done.stdout.splitlines():
            name, _, state = line.partition(" ")
            states[name] = state.strip()
        return states

    def wait_idle(self, nodes: tuple[str, ...], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            states = self.sinfo_states()
            if all(states.get(node, "").startswith("idle") for node in nodes):
                return
            time.sleep(0.2)
        raise RuntimeError(
            f"nodes not idle after {timeout} s: {states}\n{self._log('log/slurmctld.log')}"
        )

    def kill_slurmd(self, node: str) -> None:
        """Kill a node's slurmd (and so, for the controller, the node): SIGKILL, no goodbye."""
        pid = self.pids.pop(f"slurmd:{node}")
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)

    def stop(self) -> None:
        """SIGTERM every daemon started here, by pid, then SIGKILL what is left after 10 s."""
        for name in sorted(self.pids, key=lambda n: n == "munged"):  # munged last
            try:
                os.kill(self.pids[name], signal.SIGTERM)
            except ProcessLookupError:
                continue
        deadline = time.monotonic() + 10
        for _name, pid in list(self.pids.items()):
            while time.monotonic() < deadline:
                done, _status = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                time.sleep(0.05)
            else:
                try:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                except (ProcessLookupError, ChildProcessError):
                    pass
        self.pids.clear()
        for pid in self.stray_processes():  # a task's slurmstepd can outlive its slurmd
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def stray_processes(self) -> list[int]:
        """Processes started for this cluster (their environment names its slurm.conf)."""
        mark = f"SLURM_CONF={self.conf}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue
            if mark in environ.split(b"\0"):
                found.append(int(entry.name))
        return found


# --- what the fleet tests share ----------------------------------------------------------------

NODES = ("node1", "node2", "node3")
H100 = "NVIDIA H100 80GB HBM3|9.0|81559|GPU-{node}-{i}"
NEW_DRIVER, OLD_DRIVER = ("580.95.05", 13000), ("535.104.05", 12020)


def set_node(
    folder: Path,
    node: str,
    driver: tuple[str, int] = NEW_DRIVER,
    gpu: str = H100,
    count: int = 2,
    **extra: object,
) -> None:
    """The stand-in NVML's file for `node`: its driver (version, CUDA) and `count` GPUs."""
    from fakes.nvml import write_node_file

    gpus = [gpu.format(node=node, i=i) for i in range(count)]
    write_node_file(folder, node, driver=driver[0], cuda=driver[1], gpus=gpus, **extra)


def fleet_env(cluster: SlurmCluster, fake_nvml_lib: Path, node_dir: Path) -> dict[str, str]:
    """The environment of an mmdoctor that talks to `cluster`, its nodes reading `node_dir`."""
    from fakes.nvml import fake_nvml_env

    env = fake_nvml_env(fake_nvml_lib, node_dir=node_dir)
    env["SLURM_CONF"] = cluster.env["SLURM_CONF"]
    return env


def fleet(
    cluster: SlurmCluster, fake_nvml_lib: Path, node_dir: Path, *args: str, timeout: float = 240
) -> Run:
    from conftest import run_mmdoctor

    return run_mmdoctor(
        "fleet", *args, env=fleet_env(cluster, fake_nvml_lib, node_dir), timeout=timeout
    )
