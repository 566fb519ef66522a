"""What a check is, what it returns, and how a list of them runs without ever raising."""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from mmdoctor import shell
from mmdoctor.environment import Environment, MachineFacts
from mmdoctor.knowledge import Failure, load_knowledge
from mmdoctor.planning.matrix import Matrix
from mmdoctor.target import Target


class Status(str, Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"
    CRASH = "crash"  # the check itself raised: a bug in mmdoctor, reported, never fatal

    @property
    def is_problem(self) -> bool:
        return self in (Status.FAIL, Status.CRASH)


@dataclass(frozen=True)
class Advice:
    text: str
    commands: tuple[str, ...] = ()


@dataclass(frozen=True)
class Finding:
    """What a check function returns; the runner adds the check's id and title.

    A finding that names a known failure carries only the commands for this environment: what
    the failure is and how it is fixed are read from known_failures.yaml, the one place each
    failure is explained (diagnose, install and the docs page read the same entry)."""

    status: Status
    summary: str
    details: tuple[str, ...] = ()
    advice: Advice | None = None
    known_failure: str | None = None  # an id from the known-failures knowledge base

    def __post_init__(self) -> None:
        if self.known_failure and self.advice is not None and self.advice.text:
            raise ValueError(
                f"{self.known_failure}: the fix text of a known failure comes from "
                "known_failures.yaml; pass only the commands"
            )


@dataclass(frozen=True)
class CheckResult:
    id: str
    title: str
    status: Status
    summary: str
    details: tuple[str, ...] = ()
    advice: Advice | None = None
    known_failure: str | None = None
    cause: str | None = None  # the known failure's root cause, from the knowledge base
    traceback: str | None = None


@dataclass(frozen=True)
class Context:
    """Everything a check may look at: the probed facts, the matrix and the user's intent."""

    env: Environment
    matrix: Matrix
    cpu_only: bool = False
    # what several checks ask of one run (the plan for this environment), worked out once
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def machine(self) -> MachineFacts:
        return self.env.machine

    @property
    def target(self) -> Target:
        return self.env.target

    @property
    def pip(self) -> str:
        """`<target python> -m pip`, for copy-pasteable advice."""
        return f"{shell.quote(self.env.target.executable)} -m pip"

    @property
    def python(self) -> str:
        return shell.quote(self.env.target.executable)


@dataclass(frozen=True)
class MachineContext:
    """What a machine check looks at when there is no Python environment (a bare `check`)."""

    machine: MachineFacts
    matrix: Matrix
    cpu_only: bool = False
    target: None = None
    python: str = "python"  # the knowledge base's commands stay as written


class MachineView(Protocol):
    """What a machine check may read: the machine, the matrix, the intent, and the target
    only where there is one (a Context); a bare `check` gives a MachineContext."""

    @property
    def machine(self) -> MachineFacts: ...
    @property
    def matrix(self) -> Matrix: ...
    @property
    def cpu_only(self) -> bool: ...
    @property
    def target(self) -> Target | None: ...
    @property
    def python(self) -> str: ...


CheckFunc = Callable[[Context], Finding]
MachineCheckFunc = Callable[[MachineView], Finding]


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    func: CheckFunc = field(repr=False)
    # set for a machine check (the same function): it reads the machine, the target only
    # where there is one, so a bare `check` runs it too
    on_machine: MachineCheckFunc | None = field(default=None, repr=False)


REGISTRY: list[Check] = []


def check(check_id: str, title: str) -> Callable[[CheckFunc], CheckFunc]:
    """Register a check function under a stable id (ids are part of the JSON interface)."""

    def register(func: CheckFunc) -> CheckFunc:
        _register(Check(check_id, title, func))
        return func

    return register


def machine_check(check_id: str, title: str) -> Callable[[MachineCheckFunc], MachineCheckFunc]:
    """Register a check of the machine: it runs with a target and without one."""

    def register(func: MachineCheckFunc) -> MachineCheckFunc:
        _register(Check(check_id, title, func, on_machine=func))
        return func

    return register


def _register(item: Check) -> None:
    if any(existing.id == item.id for existing in REGISTRY):
        raise ValueError(f"duplicate check id {item.id}")
    REGISTRY.append(item)


def run_checks(ctx: Context | MachineContext, checks: Iterable[Check]) -> list[CheckResult]:
    """Every check with a target; without one (a MachineContext), the machine checks only."""
    if isinstance(ctx, MachineContext):
        checks = [c for c in checks if c.on_machine is not None]
    return [run_one(ctx, item) for item in checks]


def run_one(ctx: Context | MachineContext, item: Check) -> CheckResult:
    try:
        if isinstance(ctx, Context):
            finding = item.func(ctx)
        else:
            assert item.on_machine is not None, f"{item.id} needs a Python environment"
            finding = item.on_machine(ctx)
        failure = _known(finding.known_failure)
    except Exception as exc:  # a broken check must not stop the others
        return CheckResult(
            id=item.id,
            title=item.title,
            status=Status.CRASH,
            summary=f"the check itself failed: {type(exc).__name__}: {exc}",
            details=("This is a bug in mmdoctor; please report it with `--debug` output.",),
            traceback=traceback.format_exc(),
        )
    advice = finding.advice
    if failure is not None:
        commands = advice.commands if advice else ()
        advice = Advice(failure.fix_text, commands or knowledge_commands(failure, ctx.python))
    return CheckResult(
        id=item.id,
        title=item.title,
        status=finding.status,
        summary=finding.summary,
        details=finding.details,
        advice=advice,
        known_failure=finding.known_failure,
        cause=failure.root_cause if failure else None,
    )


def _known(failure_id: str | None) -> Failure | None:
    if failure_id is None:
        return None
    failure = load_knowledge().get(failure_id)  # parsed once, on the first check that names one
    if failure is None:
        raise ValueError(f"known failure {failure_id!r} is not in known_failures.yaml")
    return failure


PLACEHOLDER = re.compile(r"<[a-z_]+>")  # <mmcv_version>, <cuda_tag>: see known_failures.yaml


def knowledge_commands(failure: Failure, python: str) -> tuple[str, ...]:
    """The knowledge base's commands for `python`, when they need no value filled in (a
    `<placeholder>`): a check that knows the values passes its own commands instead."""
    commands = failure.fix_commands
    if any(PLACEHOLDER.search(command) for command in commands):
        return ()
    return tuple(re.sub(r"^python(?= )", python, command) for command in commands)


def ok(summary: str, *details: str) -> Finding:
    return Finding(Status.OK, summary, tuple(details))


def skip(summary: str, *details: str) -> Finding:
    return Finding(Status.SKIP, summary, tuple(details))


def warn(
    summary: str,
    *details: str,
    advice: Advice | None = None,
    known_failure: str | None = None,
    commands: Sequence[str] = (),
) -> Finding:
    return Finding(Status.WARN, summary, tuple(details), _advice(advice, commands), known_failure)


def fail(
    summary: str,
    *details: str,
    advice: Advice | None = None,
    known_failure: str | None = None,
    commands: Sequence[str] = (),
) -> Finding:
    return Finding(Status.FAIL, summary, tuple(details), _advice(advice, commands), known_failure)


def _advice(advice: Advice | None, commands: Sequence[str]) -> Advice | None:
    # `commands` go with a known failure, whose fix text the runner reads from the knowledge base
    return Advice("", tuple(commands)) if commands else advice


def advice(text: str, *commands: str) -> Advice:
    return Advice(text, tuple(commands))


def select(checks: Sequence[Check], only: Sequence[str]) -> list[Check]:
    """The checks whose id equals or starts with one of `only` ("torch" selects torch.*)."""
    if not only:
        return list(checks)
    return [c for c in checks if any(id_matches(c.id, o) for o in only)]


def id_matches(check_id: str, wanted: str) -> bool:
    """`wanted` is the check's id or an id prefix ("torch" matches torch.driver)."""
    return check_id == wanted or check_id.startswith(wanted + ".")
