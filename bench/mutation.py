"""`make mutation`: mutation scores of the security-critical modules, written to bench/results.json.

Each module is mutated by mutmut (3.x) and its mutants are run against the tests that cover it only:

    .venv/bin/python bench/mutation.py                      # every module
    .venv/bin/python bench/mutation.py socialcrm.ingest.service     # one module (the others keep their figures)

mutmut names a mutant after the file's path and matches it against the module name the tests import, so it
needs the package at the root, under ``src/`` or ``source/``; here it lives under ``functions/``. Each module
is therefore run in a scratch directory (outside the work tree) holding ``src`` → ``functions/`` and the
files the tests read, with a ``pyproject.toml`` that mutates that one module and selects its tests. mutmut
copies ``src`` to ``mutants/src``, puts that first on ``sys.path`` and removes ``functions/`` (the editable
install's path), so the tests import the mutated copy. Before anything is counted, a deliberately obvious
mutant (every function of the module raising) must be caught by the module's tests.

Score = killed / (total - equivalent). A timeout counts as killed. Mutants proven equivalent (no input can
tell them apart from the original) are listed in ``bench/mutation_equivalents.md`` with the changed line and
a reason; an entry whose line no longer matches its mutant is reported and not counted.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results.json"
EQUIVALENTS = HERE / "mutation_equivalents.md"
MUTMUT = Path(sys.executable).with_name("mutmut")
CHILDREN = min(2, os.cpu_count() or 1)

_INGEST_SLOW = (
    "tests/integration/test_ingest_faults.py::test_a_delivery_of_3000_comments_takes_one_send_per_ten"
)
_PLATFORMS = "tests/unit/platforms"

# module → the tests its mutants run (pytest arguments). The 3,000-comment delivery (a minute under moto)
# counts SendMessageBatch calls (the queue adapter's work); the other ingest tests cover the same paths.
MODULES: dict[str, list[str]] = {
    "socialcrm.platforms.base": [_PLATFORMS],
    "socialcrm.platforms.generic": [f"{_PLATFORMS}/test_generic.py", f"{_PLATFORMS}/test_generic_*.py"],
    "socialcrm.platforms.linkedin": [f"{_PLATFORMS}/test_linkedin.py", f"{_PLATFORMS}/test_linkedin_*.py"],
    "socialcrm.platforms.meta": [f"{_PLATFORMS}/test_meta.py", f"{_PLATFORMS}/test_meta_*.py"],
    "socialcrm.platforms.tiktok": [f"{_PLATFORMS}/test_tiktok.py", f"{_PLATFORMS}/test_tiktok_*.py"],
    "socialcrm.platforms.x": [f"{_PLATFORMS}/test_x.py", f"{_PLATFORMS}/test_x_*.py"],
    "socialcrm.platforms.youtube": [f"{_PLATFORMS}/test_youtube.py", f"{_PLATFORMS}/test_youtube_*.py"],
    "socialcrm.ingest.service": [
        "tests/integration/test_ingest_faults.py",
        "tests/integration/test_ingest_handler.py",
        "tests/unit/test_ingest.py",
        f"--deselect={_INGEST_SLOW}",
    ],
    "socialcrm.privacy.erasure": [
        "tests/integration/test_erasure.py",
        "tests/integration/test_erasure_runs.py",
        "tests/unit/privacy/test_erasure_run.py",
    ],
    "socialcrm.dedupe": [
        "tests/integration/test_downstream_dedupe.py",
        "tests/integration/test_enrich_batch.py",
        "tests/unit/test_claims.py",
    ],
    "socialcrm.enrichment.batch": [
        "tests/integration/test_downstream_dedupe.py",
        "tests/integration/test_enrich_batch.py",
        "tests/unit/test_batch_outcomes.py",
    ],
}


@dataclass(frozen=True)
class Guarantee:
    """A hand-written mutant of a guarantee that was once unpinned: the module's tests must kill it."""

    module: str
    what: str
    original: str  # must occur exactly once in the module
    mutant: str


_WALL_CLOCK = '__import__("time").time()'
GUARANTEES = [
    Guarantee(
        "socialcrm.privacy.erasure",
        "a subject is marked verified while items remain",
        "subject.remaining, subject.verified = remaining, not remaining",
        "subject.remaining, subject.verified = remaining, True",
    ),
    Guarantee(
        "socialcrm.privacy.erasure",
        "the announced completed_at is the time of the announcement, not of the completion",
        "completed_at=at or self.ports.now(),",
        "completed_at=self.ports.now(),",
    ),
    Guarantee(
        "socialcrm.ingest.service",
        "an interaction over 256 KiB is queued",
        "if len(interaction.model_dump_json().encode()) > SQS_BATCH_BYTES:",
        "if False:",
    ),
    Guarantee(
        "socialcrm.ingest.service",
        "signatures are checked against the wall clock instead of the delivery's received_at",
        "adapter.verify(delivery, secret, received_at.timestamp())",
        f"adapter.verify(delivery, secret, {_WALL_CLOCK})",
    ),
    Guarantee(
        "socialcrm.platforms.generic",
        "the signature library checks the timestamp against the wall clock",
        "webhook = _webhook(secret, now)",
        f"webhook = _webhook(secret, {_WALL_CLOCK})",
    ),
    Guarantee(
        "socialcrm.platforms.base",
        "signatures are compared on their first 16 characters only",
        "return hmac.compare_digest(expected.encode(), received.encode())",
        "return hmac.compare_digest(expected[:16].encode(), received[:16].encode())",
    ),
    Guarantee(
        "socialcrm.platforms.meta",
        "the X-Hub-Signature-256 digest is compared on its first 16 hex digits only",
        "if not digests_equal(_digest(delivery.body, secret.app_secret.get_secret_value()), received):",
        "if not digests_equal(_digest(delivery.body, secret.app_secret.get_secret_value())[:16], received[:16]):",
    ),
    Guarantee(
        "socialcrm.platforms.x",
        "the X signature is compared on its first 16 characters only",
        "if not digests_equal(body_signature(delivery.body, secret), received):",
        "if not digests_equal(body_signature(delivery.body, secret)[:16], received[:16]):",
    ),
    Guarantee(
        "socialcrm.platforms.linkedin",
        "the X-LI-Signature is compared on its first 16 hex digits only",
        "prefixed = digests_equal(_hex_hmac(key, SIGNED_PREFIX + delivery.body), received)",
        "prefixed = digests_equal(_hex_hmac(key, SIGNED_PREFIX + delivery.body)[:16], received[:16])",
    ),
    Guarantee(
        "socialcrm.platforms.tiktok",
        "the TikTok-Signature is compared on its first 16 hex digits only",
        "if not digests_equal(expected, received.lower()):",
        "if not digests_equal(expected[:16], received.lower()[:16]):",
    ),
    Guarantee(
        "socialcrm.platforms.youtube",
        "the X-Hub-Signature is compared on its first 16 hex digits only",
        "if not hmac.compare_digest(expected.encode(), received.lower().encode()):",
        "if not hmac.compare_digest(expected[:16].encode(), received.lower()[:16].encode()):",
    ),
    Guarantee(
        "socialcrm.platforms.x",
        "an empty string is accepted as the X secret",
        "if isinstance(secret, str) and secret:",
        "if isinstance(secret, str):",
    ),
    Guarantee(
        "socialcrm.platforms.linkedin",
        "an empty string is accepted as the LinkedIn secret",
        "if isinstance(secret, str) and secret:",
        "if isinstance(secret, str):",
    ),
    Guarantee(
        "socialcrm.platforms.generic",
        "an id of spaces is accepted",
        "if not value.strip():",
        "if not value:",
    ),
    Guarantee(
        "socialcrm.platforms.x",
        "an id of spaces is accepted",
        "return value if isinstance(value, str) and value.strip() else None",
        "return value if isinstance(value, str) and value else None",
    ),
    Guarantee(
        "socialcrm.platforms.tiktok",
        "an id of spaces is accepted",
        "return value if value.strip() else None",
        "return value if value else None",
    ),
    Guarantee(
        "socialcrm.platforms.meta",
        "an id of spaces is accepted",
        "return text if text and text.strip() else None",
        "return text if text else None",
    ),
    Guarantee(
        "socialcrm.platforms.linkedin",
        "a notification id of spaces is accepted",
        "if isinstance(value, str) and value.strip():",
        "if isinstance(value, str) and value:",
    ),
    Guarantee(
        "socialcrm.platforms.x",
        "X's OverflowError on a year-1 created_at is no longer caught",
        "except (UnparseableError, OverflowError):",
        "except UnparseableError:",
    ),
]

# Seconds added to a mutant's estimated test time before mutmut calls it a timeout (its default is 1). The
# integration suites spend most of their time in moto fixtures, which mutmut's estimate leaves out, so a
# surviving mutant there would otherwise be cut off and miscounted as a timeout.
_INTEGRATION = (
    "socialcrm.ingest.service",
    "socialcrm.privacy.erasure",
    "socialcrm.dedupe",
    "socialcrm.enrichment.batch",
)
TIMEOUT_CONSTANT = dict.fromkeys(_INTEGRATION, 30.0)
# The integration suites are not fork-safe: the inbound queue's sender pool, created by the first test that
# sends, has no threads in a process forked after it. Their mutants are forked from a fork server that has
# only collected the tests (mutmut's "forkserver"), not from the process that ran them.
PROCESS_ISOLATION = dict.fromkeys(_INTEGRATION, "forkserver")
# What the tests and the package read besides the code: copied beside it, as in the work tree.
ALSO_COPY = ["config", "schemas"]

# Log calls are not mutated (as PIT leaves logging calls alone by default): what a log line says is
# for the operator, and the tests pin behaviour.
DO_NOT_MUTATE = [r"^\s*logger\.(debug|info|warning|error|exception)\("]

_KILLED = {"killed", "timeout"}


@dataclass
class Outcome:
    module: str
    total: int
    killed: int
    equivalent: int
    survivors: dict[str, str]  # mutant → its status (survived, no tests...), a newline and its diff
    guarantees: int
    guarantees_survived: list[str]
    seconds: float

    @property
    def score(self) -> float:
        counted = self.total - self.equivalent
        return round(self.killed / counted, 3) if counted else 1.0


def main(argv: list[str]) -> int:
    chosen = argv or list(MODULES)
    unknown = [name for name in chosen if name not in MODULES]
    if unknown:
        print(f"unknown module(s): {', '.join(unknown)}; choose from {', '.join(MODULES)}")
        return 2
    equivalents = load_equivalents()
    started = time.perf_counter()
    outcomes = []
    for module in chosen:
        print(f"mutating {module} ...", flush=True)
        outcome = run_module(module, equivalents.get(module, {}))
        outcomes.append(outcome)
        print(
            f"  {outcome.killed}/{outcome.total - outcome.equivalent} killed "
            f"({outcome.equivalent} equivalent): {outcome.score}  ({outcome.seconds:.0f} s)",
            flush=True,
        )
        for mutant, report in sorted(outcome.survivors.items()):
            status, _, diff = report.partition("\n")
            print(f"    {status}: {mutant}\n" + "\n".join(f"      {line}" for line in diff.splitlines()[2:]))
        if outcome.guarantees:
            print(
                f"  guarantees: {outcome.guarantees - len(outcome.guarantees_survived)}/{outcome.guarantees} killed"
            )
        for what in outcome.guarantees_survived:
            print(f"    NOT KILLED: {what}")
    write_results(outcomes, time.perf_counter() - started, partial=bool(argv))
    return 1 if any(outcome.guarantees_survived for outcome in outcomes) else 0


def run_module(module: str, equivalents: dict[str, str]) -> Outcome:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="socialcrm-mutation-") as scratch:
        work = Path(scratch)
        stage(work, module)
        env = {**os.environ, "POWERTOOLS_LOG_LEVEL": "WARNING", "PYTHONDONTWRITEBYTECODE": "1"}
        run = subprocess.run(
            [str(MUTMUT), "run", "--max-children", str(CHILDREN)],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            print(run.stdout[-4000:], run.stderr[-4000:])
            raise SystemExit(f"mutmut failed on {module}")
        check_obvious_mutant_is_killed(work, module, env)
        statuses = read_statuses(work, module)
        diffs = {
            name: mutant_diff(work, module, name)
            for name, status in statuses.items()
            if status not in _KILLED
        }
        survivors, equivalent = {}, 0
        for name, diff in diffs.items():
            expected = equivalents.get(name)
            if expected is not None and expected in changed_lines(diff):
                equivalent += 1
                continue
            if expected is not None:
                print(f"    stale equivalent entry (its line no longer matches): {name}")
            survivors[name] = f"{statuses[name]}\n{diff}"
        killed = sum(status in _KILLED for status in statuses.values())
    guarantees, guarantees_survived = check_guarantees(module, env)
    return Outcome(
        module,
        len(statuses),
        killed,
        equivalent,
        survivors,
        guarantees,
        guarantees_survived,
        time.perf_counter() - started,
    )


def stage(work: Path, module: str) -> None:
    """The scratch project mutmut runs in: ``src`` → ``functions/``, the tests and the files they read."""
    (work / "src").symlink_to(ROOT / "functions", target_is_directory=True)
    (work / "tests").symlink_to(ROOT / "tests", target_is_directory=True)
    for name in ALSO_COPY:
        (work / name).symlink_to(ROOT / name, target_is_directory=True)
    path = "src/" + module.replace(".", "/") + ".py"
    _write_pyproject(
        work,
        [
            "[tool.mutmut]",
            'source_paths = ["src"]',
            f"only_mutate = [{_toml(path)}]",
            f"also_copy = {_toml(ALSO_COPY)}",
            f"pytest_add_cli_args_test_selection = {_toml(selection(module))}",
            f"do_not_mutate_patterns = {_toml(DO_NOT_MUTATE)}",
            f"timeout_constant = {TIMEOUT_CONSTANT.get(module, 1.0)}",
            f"process_isolation = {_toml(PROCESS_ISOLATION.get(module, 'fork'))}",
            "use_git_change_detection = false",
            "track_dependencies = false",
        ],
    )


def _write_pyproject(work: Path, mutmut_lines: list[str]) -> None:
    """The project's pytest settings, with the package found under ``src`` as mutmut lays it out."""
    lines = [
        "[tool.pytest.ini_options]",
        *(f"{key} = {_toml(value)}" for key, value in _pytest_options().items()),
        "",
        *mutmut_lines,
        "",
    ]
    (work / "pyproject.toml").write_text("\n".join(lines))


def selection(module: str) -> list[str]:
    """The module's pytest arguments, globs expanded, less test files that do not exist (yet)."""
    chosen: list[str] = []
    for arg in MODULES[module]:
        if arg.startswith("-"):
            chosen.append(arg)
        elif "*" in arg:
            chosen += sorted(str(path.relative_to(ROOT)) for path in ROOT.glob(arg))
        elif (ROOT / arg).exists():
            chosen.append(arg)
    return chosen


def _pytest_options() -> dict[str, object]:
    """The project's pytest settings, with the package found under ``src`` as mutmut lays it out."""
    import tomllib

    options = dict(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"])
    options["pythonpath"] = [
        "src" if entry == "functions" else entry for entry in options.get("pythonpath", [])
    ]
    options.pop("testpaths", None)
    return options


def _toml(value: object) -> str:
    """A string or a list of strings in TOML (JSON's string escapes are TOML's)."""
    return json.dumps(value, ensure_ascii=False)


# Appended to the mutated copy of a module: every function and method defined in it raises.
_OBVIOUS_MUTANT = """

def _obvious_mutant(*_args, **_kwargs):
    raise RuntimeError("the obvious mutant")


for _name, _value in list(globals().items()):
    if _name == "_obvious_mutant" or getattr(_value, "__module__", None) != __name__:
        continue
    if isinstance(_value, type):
        for _attribute, _member in list(vars(_value).items()):
            if callable(_member) and getattr(_member, "__module__", None) == __name__:
                try:
                    setattr(_value, _attribute, _obvious_mutant)
                except (AttributeError, TypeError):
                    pass
    elif callable(_value):
        globals()[_name] = _obvious_mutant
"""


def check_obvious_mutant_is_killed(work: Path, module: str, env: dict[str, str]) -> None:
    """Make every function of the module raise, in the copy mutmut tested: its tests must fail.

    Proves that the tests import the mutated copy under ``mutants/`` and not the work tree's package."""
    mutants = work / "mutants"
    path = mutants / "src" / (module.replace(".", "/") + ".py")
    original = path.read_text()
    path.write_text(original + _OBVIOUS_MUTANT)
    try:
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:randomly", *selection(module)],
            cwd=mutants,
            env={**env, "MUTANT_UNDER_TEST": ""},
            capture_output=True,
            text=True,
        )
    finally:
        path.write_text(original)
    if run.returncode == 0 or "the obvious mutant" not in run.stdout:
        print(run.stdout[-3000:], run.stderr[-3000:])
        raise SystemExit(
            f"{module}: the obvious mutant was not killed; the tests do not run the mutated copy"
        )


def check_guarantees(module: str, env: dict[str, str]) -> tuple[int, list[str]]:
    """Apply each hand-written guarantee mutant of ``module`` to a plain copy and run the module's tests.

    The copy is first tested as it is (it must pass). Returns how many guarantees there were and the
    descriptions of those whose mutant the tests did not kill."""
    guarantees = [guarantee for guarantee in GUARANTEES if guarantee.module == module]
    if not guarantees:
        return 0, []
    survived = []
    with tempfile.TemporaryDirectory(prefix="socialcrm-guarantee-") as scratch:
        work = Path(scratch)
        ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".hypothesis")
        shutil.copytree(ROOT / "functions", work / "src", ignore=ignore)
        for name in ["tests", *ALSO_COPY]:
            shutil.copytree(ROOT / name, work / name, ignore=ignore)
        _write_pyproject(work, [])
        path = work / "src" / (module.replace(".", "/") + ".py")
        source = path.read_text()

        def tests_fail(what: str) -> bool:
            run = subprocess.run(
                [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:randomly", *selection(module)],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
            )
            if run.returncode not in (0, 1):
                print(run.stdout[-3000:], run.stderr[-3000:])
                raise SystemExit(f"{module}: the tests could not run ({what})")
            return run.returncode == 1

        if tests_fail("unchanged"):
            raise SystemExit(f"{module}: the tests fail on the unchanged copy")
        for guarantee in guarantees:
            if source.count(guarantee.original) != 1:
                raise SystemExit(f"{module}: the line guarding '{guarantee.what}' changed; update GUARANTEES")
            path.write_text(source.replace(guarantee.original, guarantee.mutant))
            if not tests_fail(guarantee.what):
                survived.append(guarantee.what)
            path.write_text(source)
    return len(guarantees), survived


def read_statuses(work: Path, module: str) -> dict[str, str]:
    from mutmut.stats import status_by_exit_code

    meta = work / "mutants" / "src" / (module.replace(".", "/") + ".py.meta")
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    return {name: status_by_exit_code[code] for name, code in codes.items()}


def mutant_diff(work: Path, module: str, mutant: str) -> str:
    """The unified diff of one mutant against the original function (what ``mutmut show`` prints)."""
    from mutmut.configuration import reset_config
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    here = Path.cwd()
    os.chdir(work)
    try:
        reset_config()
        return get_diff_for_mutant(mutant, path="src/" + module.replace(".", "/") + ".py")
    finally:
        os.chdir(here)


def changed_lines(diff: str) -> str:
    """The mutant's lines of a diff, whitespace collapsed (what the equivalents file quotes); for a mutant
    that only removes lines, ``removed:`` and those lines."""
    added = [
        " ".join(line[1:].split()) for line in diff.splitlines() if line[:1] == "+" and line[:3] != "+++"
    ]
    if added:
        return "\n".join(added)
    removed = [
        " ".join(line[1:].split()) for line in diff.splitlines() if line[:1] == "-" and line[:3] != "---"
    ]
    return "removed: " + "\n".join(removed)


def load_equivalents() -> dict[str, dict[str, str]]:
    """``{module: {mutant: changed line}}`` from the table in ``bench/mutation_equivalents.md``."""
    found: dict[str, dict[str, str]] = {}
    if not EQUIVALENTS.exists():
        return found
    row = re.compile(r"^\|\s*`(?P<mutant>[\w.ǁ]+__mutmut_\d+)`\s*\|\s*`(?P<line>[^`]*)`\s*\|")
    for line in EQUIVALENTS.read_text().splitlines():
        match = row.match(line)
        if match:
            mutant = match["mutant"]
            module = mutant.rpartition(".")[0]
            found.setdefault(module, {})[mutant] = " ".join(match["line"].replace("\\|", "|").split())
    return found


_PER_MODULE = (
    "mutation_score",
    "mutation_killed",
    "mutation_total",
    "mutation_equivalent",
    "mutation_guarantees_killed",
)


def write_results(outcomes: list[Outcome], seconds: float, *, partial: bool) -> None:
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    figures = results.get("figures", {})
    for key in _PER_MODULE:
        figures.setdefault(key, {})
    for outcome in outcomes:
        figures["mutation_score"][outcome.module] = outcome.score
        figures["mutation_killed"][outcome.module] = outcome.killed
        figures["mutation_total"][outcome.module] = outcome.total
        figures["mutation_equivalent"][outcome.module] = outcome.equivalent
        if outcome.guarantees:
            killed = outcome.guarantees - len(outcome.guarantees_survived)
            figures["mutation_guarantees_killed"][outcome.module] = f"{killed}/{outcome.guarantees}"
    if not partial:
        figures["mutation_minutes"] = round(seconds / 60, 1)
    for key in _PER_MODULE:
        figures[key] = dict(sorted(figures[key].items()))
    results["figures"] = dict(sorted(figures.items()))
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)} ({seconds / 60:.1f} min)")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
