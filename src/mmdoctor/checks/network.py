"""The hosts plans download from, as the probe found them (probe/network.py): the package
index pip uses must answer, the others are warnings with the way around them."""

from __future__ import annotations

from mmdoctor.checks.model import (
    Finding,
    MachineView,
    advice,
    fail,
    machine_check,
    ok,
    skip,
    warn,
)
from mmdoctor.environment import Reachability
from mmdoctor.planning.hosts import PACKAGE_INDEX
from mmdoctor.redact import redact_credentials

# What a failed answer points at in the knowledge base.
_KNOWN = {
    "tls": "network-tls-certificate",
    "http": "index-http-error",
    "proxy": "network-unreachable",
}


def _usable(answer: Reachability) -> bool:
    # An index root may be a 404 on a mirror that serves only per-project pages: pip copes.
    return answer.answer == "ok" or answer.status == 404


def _line(answer: Reachability) -> str:
    return f"{answer.role}: {redact_credentials(answer.url)}: {answer.detail}"


@machine_check("network.reachable", "the package index and download hosts answer")
def hosts_answer(ctx: MachineView) -> Finding:
    answers = ctx.machine.network
    if answers is None:
        return skip("not asked (`mmdoctor check` asks the hosts unless --offline)")
    down = [a for a in answers if not _usable(a)]
    up = [a for a in answers if _usable(a)]
    answered = f"{len(up)} of {len(answers)} answered"
    index_down = [a for a in down if a.role == PACKAGE_INDEX]
    if index_down:
        first = index_down[0]
        return fail(
            f"pip's package index does not answer ({_line(first)}): nothing can be installed",
            *(_line(a) for a in down if a is not first),
            known_failure=_KNOWN.get(first.answer, "network-unreachable"),
        )
    if down:
        return warn(
            f"{len(down)} of {len(answers)} download hosts do not answer: "
            + ", ".join(a.role for a in down),
            *(_line(a) for a in down),
            *(f"answers: {_line(a)}" for a in up),
            advice=advice(
                "Plans can go around an unreachable host: `mmdoctor install --torch-source pypi`"
                " takes torch from the package index, --mmcv-base-url (MMCV_BASE_URL) names a "
                "mirror of the mmcv wheels, and `smoke-test --checkpoint PATH|URL` a copy of the "
                "weights; behind a proxy, set HTTPS_PROXY (or pip's proxy) and its CA bundle "
                "(PIP_CERT)."
            ),
        )
    slowest = max(answers, key=lambda a: a.seconds, default=None)
    took = f" (slowest {slowest.seconds:.1f} s: {slowest.role})" if slowest else ""
    return ok(f"{answered}{took}", *(_line(a) for a in answers))
