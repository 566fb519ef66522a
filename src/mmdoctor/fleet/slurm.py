"""Run one mmdoctor task per node through the cluster's own scheduler: `srun`.

Which nodes: `sinfo` first (a node that is down is reported as down, not waited for), the node
list expanded by `scontrol show hostnames`. Then one `srun --label --verbose` step: its labelled
stdout holds each task's JSON, and its verbose stderr says which task ran on which node and
how each ended ("launching StepId=... on host node2, 1 tasks: 1", "node2: task 1: Exited with
exit code 2", "Node failure on node2"). A step still running at the deadline is killed and its
job cancelled by name, so no node is left busy.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from mmdoctor import shell
from mmdoctor.errors import MmdoctorError, UsageError

QUERY_TIMEOUT = 30.0  # sinfo, scontrol, scancel
# Node states that take work; anything else (down, drained, fail, future, powered down) does not.
UP_STATES = ("idle", "mixed", "allocated", "completing", "planned", "reserved")
_HOSTLIST = re.compile(r"^[A-Za-z0-9._-]*(\[[0-9,-]+\][A-Za-z0-9._-]*)*$")
_LABEL = re.compile(r"^\s*(\d+): ?(.*)$")
_LAUNCH = re.compile(r"launching StepId=\S+ on host (\S+), \d+ tasks?: \[?([\d,-]+)\]?")
_ENDED = re.compile(r"(?:srun: error: |_task_finish: )(\S+): tasks? ([\d,-]+): (.+)$")
_NODE_FAILURE = re.compile(r"srun: error: Node failure on (\S+)")
_JOB = re.compile(r"srun: (?:jobid|job) (\d+)")


@dataclass(frozen=True)
class SrunRequest:
    nodes: int | None = None  # --nodes N: any N nodes
    nodelist: str | None = None  # --nodelist: these nodes (a Slurm host list)
    partition: str | None = None
    srun_args: tuple[str, ...] = ()  # passed to srun as given (--account, --qos, --gres, ...)
    timeout: float = 120.0  # seconds the whole step may run
    tasks_per_node: int = 1


@dataclass
class TaskOutput:
    """What one task left: its stdout, its stderr lines, how Slurm said it ended."""

    task: int
    node: str
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    ended: str = ""  # "Completed", "Exited with exit code 2", "Killed", ...
    seconds: float | None = None


@dataclass(frozen=True)
class StepOutcome:
    tasks: tuple[TaskOutput, ...]
    down: Mapping[str, str]  # node -> its state, for nodes not launched on
    failed_nodes: frozenset[str]  # nodes Slurm reported a node failure for
    timed_out: bool
    timeout: float


def find_srun() -> str:
    srun = shutil.which("srun")
    if srun is None:
        raise UsageError("no `srun` on PATH: fleet commands run through Slurm (docs/fleet.md)")
    return srun


# What Slurm's client says when it cannot work at all, and what to do about it.
_CLIENT_TROUBLE = (
    (
        re.compile(r"configuration file|configuration source|s_p_parse_file|No SlurmctldHost"),
        "Slurm's client cannot read its configuration ({conf}): {said}; fix that file, or point "
        "SLURM_CONF at the cluster's slurm.conf, until `sinfo` answers in this shell",
    ),
    (
        re.compile(r"Unable to contact slurm controller|Connection refused|Zero Bytes"),
        "Slurm's controller does not answer ({said}): `scontrol ping` says whether slurmctld "
        "runs, and the SlurmctldHost of {conf} where it is looked for",
    ),
    (
        re.compile(r"[Mm]unge|[Aa]uthentication|Invalid user"),
        "Slurm could not authenticate this user ({said}): munged must run here, with the "
        "cluster's key",
    ),
)


def _query(argv: Sequence[str], env: Mapping[str, str]) -> shell.CommandResult:
    try:
        done = shell.run(argv, timeout=QUERY_TIMEOUT, env=env)
    except shell.CommandNotFound as exc:
        raise UsageError(f"`{argv[0]}` is not on PATH: it comes with Slurm's client") from exc
    if not done.ok:
        raise MmdoctorError(_client_failure(argv, done, env))
    return done


def _client_failure(argv: Sequence[str], done: shell.CommandResult, env: Mapping[str, str]) -> str:
    """Why a Slurm client command failed, with what to do where that is known: its first error
    line (the cause; its last, `fatal: ...`, says only that it stopped) and the fix."""
    lines = [line.strip() for line in done.stderr_tail.splitlines() if line.strip()]
    errors = [line for line in lines if ": error: " in line and "retrying" not in line]
    said = (errors or lines or [done.stdout.strip() or f"exit status {done.returncode}"])[0]
    said = said.split(": error: ", 1)[-1]
    conf = env.get("SLURM_CONF") or "/etc/slurm/slurm.conf"
    for pattern, advice in _CLIENT_TROUBLE:
        if any(pattern.search(line) for line in lines):
            return advice.format(conf=conf, said=said)
    return f"`{shell.join(argv)}` failed: {done.last_error_line or done.stdout}"


def node_states(partition: str | None, env: Mapping[str, str]) -> dict[str, str]:
    """Every node sinfo knows (in the partition), with its state."""
    argv = ["sinfo", "--Node", "--noheader", "--format=%N|%T"]
    if partition:
        argv.append(f"--partition={partition}")
    states: dict[str, str] = {}
    for line in _query(argv, env).stdout.splitlines():
        name, _, state = line.strip().partition("|")
        if name:
            states.setdefault(name, state.strip())
    if partition and not states:
        raise UsageError(f"--partition {partition}: Slurm knows no such partition, or it is empty")
    return states


def is_up(state: str) -> bool:
    return state.lower().rstrip("*~#!%$@^-+").startswith(UP_STATES)


def expand_nodelist(text: str, env: Mapping[str, str]) -> tuple[str, ...]:
    parts = [p for p in re.split(r",(?![^\[]*\])", text.strip())]
    if not text.strip() or not all(p and _HOSTLIST.match(p) for p in parts):
        raise UsageError(f"--nodelist {text!r}: not a Slurm host list (node1,node[2-4])")
    names = tuple(_query(["scontrol", "show", "hostnames", text], env).stdout.split())
    if not names:
        raise UsageError(f"--nodelist {text!r}: names no node")
    return names


def choose_nodes(
    request: SrunRequest, env: Mapping[str, str]
) -> tuple[tuple[str, ...] | None, dict[str, str]]:
    """(the nodes to launch on, or None for "any --nodes N"; the known nodes that are down)."""
    states = node_states(request.partition, env)
    if request.nodelist:
        wanted = expand_nodelist(request.nodelist, env)
        unknown = [n for n in wanted if n not in states]
        if unknown:
            where = f" in partition {request.partition}" if request.partition else ""
            raise UsageError(f"--nodelist: Slurm knows no node {', '.join(unknown)}{where}")
    elif request.nodes:
        if request.nodes > len(states):
            raise UsageError(
                f"--nodes {request.nodes}: the cluster has {len(states)} node(s)"
                + (f" in partition {request.partition}" if request.partition else "")
            )
        return None, {}
    else:
        wanted = tuple(states)
    down = {n: states[n] for n in wanted if not is_up(states[n])}
    return tuple(n for n in wanted if n not in down), down


def _task_ids(text: str) -> list[int]:
    ids: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        ids += list(range(int(low), int(high or low) + 1))
    return ids


def srun_argv(
    srun: str, request: SrunRequest, nodes: tuple[str, ...] | None, job: str
) -> list[str]:
    count = len(nodes) if nodes is not None else request.nodes or 1
    argv = [srun, f"--job-name={job}", f"--nodes={count}"]
    argv += [f"--ntasks-per-node={request.tasks_per_node}", "--label", "--verbose"]
    # one node's failure must not end the others' tasks; fail fast when nodes are not free
    argv += ["--kill-on-bad-exit=0", "--no-kill", f"--immediate={math.ceil(request.timeout)}"]
    if nodes is not None:
        argv.append(f"--nodelist={','.join(nodes)}")
    if request.partition:
        argv.append(f"--partition={request.partition}")
    return argv + list(request.srun_args)


def run_step(
    request: SrunRequest,
    remote: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
) -> StepOutcome:
    """Run `remote` once per node (tasks_per_node per node) and collect each task's output."""
    environ = dict(os.environ if env is None else env)
    srun = find_srun()
    nodes, down = choose_nodes(request, environ)
    if nodes == ():  # every node asked for is down: nothing to launch
        return StepOutcome((), down, frozenset(), False, request.timeout)
    job = f"mmdoctor-fleet-{uuid.uuid4().hex[:12]}"
    lines: list[tuple[float, str]] = []

    def seen(line: str) -> None:
        lines.append((time.monotonic(), line))
        if on_line is not None:
            on_line(line)

    argv = srun_argv(srun, request, nodes, job) + list(remote)
    done = shell.run(argv, timeout=request.timeout, env=environ, on_line=seen)
    if done.timed_out:  # srun was killed: end the job too, or its nodes stay allocated
        shell.run(["scancel", f"--name={job}"], timeout=QUERY_TIMEOUT, env=environ)
    tasks = _tasks(done.stdout, lines)
    if not tasks and not done.timed_out:
        why = done.last_error_line or f"exit code {done.returncode}"
        raise MmdoctorError(f"srun started no task: {why.removeprefix('srun: error: ')}")
    failed = frozenset(m.group(1) for _, line in lines if (m := _NODE_FAILURE.search(line)))
    return StepOutcome(tuple(tasks.values()), down, failed, done.timed_out, request.timeout)


def _tasks(stdout: str, lines: list[tuple[float, str]]) -> dict[int, TaskOutput]:
    tasks: dict[int, TaskOutput] = {}
    launched: dict[int, float] = {}
    for when, line in lines:
        if match := _LAUNCH.search(line):
            for task in _task_ids(match.group(2)):
                tasks[task] = TaskOutput(task, match.group(1))
                launched[task] = when
        elif match := _ENDED.search(line):
            for task in _task_ids(match.group(2)):
                if task in tasks and not tasks[task].ended:
                    tasks[task].ended = match.group(3).strip()
                    tasks[task].seconds = round(when - launched[task], 3)
    out_lines: Counter[str] = Counter()
    for line in stdout.splitlines():
        if match := _LABEL.match(line):
            task = int(match.group(1))  # a task no launch line named (an older srun): by rank
            tasks.setdefault(task, TaskOutput(task, f"task {task}")).stdout.append(match.group(2))
            out_lines[line] += 1
    for _, line in lines:  # what is labelled but not stdout: the task's stderr
        if out_lines[line]:
            out_lines[line] -= 1
        elif (match := _LABEL.match(line)) and int(match.group(1)) in tasks:
            tasks[int(match.group(1))].stderr.append(match.group(2))
    return tasks


def reason_missing(task: TaskOutput, outcome: StepOutcome) -> str:
    """Why a task that left no report left none, in the words a cluster admin uses."""
    said = " ".join(task.stderr)
    if task.node in outcome.failed_nodes:
        return "node failed during the run (Slurm: node failure)"
    if "execve()" in said and ("No such file" in said or "Permission denied" in said):
        return "no mmdoctor there (the node cannot run the command)"
    if task.ended.startswith("Exited with exit code"):
        return f"crashed ({task.ended.lower()})"
    if task.ended and task.ended != "Completed":
        return f"crashed ({task.ended})"
    if not task.ended and outcome.timed_out:
        return f"timed out after {outcome.timeout:g} s"
    return "gave no report"
