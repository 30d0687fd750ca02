"""The `observatoire` command's contract (interfaces.md): exit 0 when the campaign was
consolidated even with bad submissions, non-zero with one clear French line on stderr
when it could not be."""
import os
import sqlite3
import subprocess
import sys

import pytest

from observatoire.cli import main
from observatoire.sample import generate_sample

pytestmark = pytest.mark.slow  # end to end: `pytest -m "not slow"` leaves it out


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return generate_sample(tmp_path_factory.mktemp("cli") / "sample")


def _args(sample, year, db, out, finess=None):
    paths = sample.campaigns[year]
    args = ["run", "--year", str(year), "--submissions", str(paths.submissions_dir), "--calendar", str(paths.calendar),
            "--warehouse", f"sqlite:///{db}", "--output-dir", str(out / "{annee}"), "--region", "84"]
    for extract in finess or sample.extracts:
        args += ["--finess", str(extract)]
    return args


@pytest.fixture
def no_prefect_server(monkeypatch, tmp_path):
    """No Prefect API anywhere: not in the environment, not in a profile."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("PREFECT_PROFILES_PATH", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    monkeypatch.chdir(tmp_path)


def test_run_exits_0_with_bad_files_and_writes_workbooks(sample, no_prefect_server, tmp_path, capsys):
    assert main(_args(sample, 2024, tmp_path / "w.db", tmp_path)) == 0
    captured = capsys.readouterr()
    printed = captured.out
    assert captured.err == ""  # not a terminal: no progress line
    assert "Campagne 2024" in printed and "illisibles" in printed
    with sqlite3.connect(tmp_path / "w.db") as connection:
        regions = {r for (r,) in connection.execute("SELECT DISTINCT region_code FROM centre_year_status")}
    assert regions == {"84"}
    written = sorted(p.name for p in (tmp_path / "2024").iterdir())
    assert written == ["campagne-2024-r84-retours.xlsx", "relance_2024_region_84.xlsx"]


@pytest.mark.parametrize("case", ["finess", "warehouse", "region"])
def test_run_fails_with_one_french_line(sample, tmp_path, case):
    """As a user runs it: a separate process, with the command's own logging settings."""
    args = _args(sample, 2024, tmp_path / "w.db", tmp_path)
    if case == "finess":
        args = _args(sample, 2024, tmp_path / "w.db", tmp_path, finess=[tmp_path / "absent.csv"])
    elif case == "warehouse":
        args[args.index("--warehouse") + 1] = "postgresql+psycopg://postgres@127.0.0.1:1/absent"
    else:
        args[args.index("--region") + 1] = "8"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_LOGGING")}
    done = subprocess.run([sys.executable, "-m", "observatoire.cli", *args], capture_output=True, text=True,
                          env=env, timeout=180, cwd=tmp_path)
    assert done.returncode == 2
    err = done.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("observatoire : "), done.stderr[-2000:]
    expected = {"finess": "Extrait FINESS introuvable", "warehouse": "Entrepôt injoignable",
                "region": "code région COG attendu"}[case]
    assert expected in err[0]


def test_prefect_api_is_found_where_prefect_looks_for_it(tmp_path):
    from observatoire.cli import prefect_api_url

    home = tmp_path / "home"
    home.mkdir()
    assert prefect_api_url({"PREFECT_HOME": str(home)}, cwd=tmp_path) is None  # no profiles file
    (home / "profiles.toml").write_text(
        'active = "local"\n[profiles.ephemeral]\nPREFECT_SERVER_ALLOW_EPHEMERAL_MODE = "true"\n'
        '[profiles.local]\nPREFECT_API_URL = "http://127.0.0.1:4242/api"\n', encoding="utf-8")
    assert prefect_api_url({"PREFECT_HOME": str(home)}, cwd=tmp_path) == "http://127.0.0.1:4242/api"
    # PREFECT_PROFILE chooses another profile of the file; the default one has no API
    assert prefect_api_url({"PREFECT_HOME": str(home), "PREFECT_PROFILE": "ephemeral"}, cwd=tmp_path) is None
    # the environment wins over the profile, even empty
    assert prefect_api_url({"PREFECT_HOME": str(home), "PREFECT_API_URL": ""}, cwd=tmp_path) is None
    assert prefect_api_url({"PREFECT_HOME": str(home), "PREFECT_API_URL": "http://h:1/api"}, cwd=tmp_path) \
        == "http://h:1/api"
    (tmp_path / "prefect.toml").write_text('[api]\nurl = "http://toml:2/api"\n', encoding="utf-8")
    assert prefect_api_url({"PREFECT_HOME": str(home)}, cwd=tmp_path) == "http://toml:2/api"
    moved = tmp_path / "ailleurs.toml"
    (home / "profiles.toml").rename(moved)
    assert prefect_api_url({"PREFECT_PROFILES_PATH": str(moved)}, cwd=home) == "http://127.0.0.1:4242/api"


def test_run_help_says_where_the_run_happens():
    done = subprocess.run([sys.executable, "-m", "observatoire.cli", "run", "--help"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0
    text = " ".join(done.stdout.split()).replace("- ", "-")  # argparse wraps after a hyphen
    assert "dans ce processus, sans démarrer de serveur Prefect" in text
    assert "exécution du flow « consolidation-campagne » sur ce serveur" in text


def test_run_with_a_prefect_api_is_a_flow_run_on_that_server(sample, prefect_harness, tmp_path, monkeypatch,
                                                             capsys):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
    from prefect.settings import PREFECT_API_URL

    from tests.support.small_campaign import run_artifacts

    monkeypatch.setenv("PREFECT_API_URL", PREFECT_API_URL.value())  # as a user who configured a server
    assert main(_args(sample, 2023, tmp_path / "w.db", tmp_path)) == 0
    assert "Campagne 2023" in capsys.readouterr().out
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=["campagne-2023-r84"])))
    assert len(runs) == 1 and runs[0].state.is_completed()
    assert {"campagne-2023-r84-synthese", "campagne-2023-r84-lecture"} <= set(run_artifacts(runs[0].id))


def test_a_run_on_a_server_sends_its_logs_there_and_keeps_the_terminal_quiet(sample, prefect_harness, tmp_path):
    """The command as a user runs it (no PREFECT_LOGGING_LEVEL of theirs): the flow run's
    and its task runs' log lines are on the server, none on stderr."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName, LogFilter, LogFilterFlowRunId
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), PREFECT_API_URL=PREFECT_API_URL.value())
    out = tmp_path / "classeurs"
    args = _args(sample, 2024, tmp_path / "w.db", out)
    done = subprocess.run([sys.executable, "-m", "observatoire.cli", *args], capture_output=True, text=True, env=env,
                          timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr == ""
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=["campagne-2024-r84"])))
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[r.id for r in runs])))
    messages = [log.message for log in logs]
    assert any(m.startswith("Campagne 2024, régions 84") for m in messages), messages  # the flow's own
    assert any(m.startswith("Lot de ") for m in messages), messages  # the reading task's, file by file
    workbooks = sorted(str(p) for p in (out / "2024").glob("*.xlsx"))
    assert workbooks and all(f"Classeur écrit : {p}" in messages for p in workbooks)


@pytest.mark.parametrize("workbooks", [False, True])
def test_a_run_without_server_pays_only_for_what_it_uses(sample, tmp_path, workbooks):
    """No Prefect, Dask or openpyxl in the process of a run that needs none of them: the
    modules loaded, looked at after a whole run of the command in a fresh interpreter."""
    args = _args(sample, 2024, tmp_path / "w.db", tmp_path)
    if not workbooks:
        args[args.index("--output-dir") + 1] = ""
    code = ("import sys, json; from observatoire.cli import main; code = main(sys.argv[1:]); "
            "print(json.dumps([code, sorted({m.split('.')[0] for m in sys.modules})]))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                          timeout=300, cwd=tmp_path)
    code, modules = __import__("json").loads(done.stdout.strip().splitlines()[-1])
    assert code == 0, done.stderr[-2000:]
    heavy = {"prefect", "prefect_dask", "dask", "distributed", "openpyxl"} & set(modules)
    assert heavy == ({"openpyxl"} if workbooks else set())
    assert not (tmp_path / "prefect-home").exists()  # no Prefect server, no Prefect database


def test_progress_on_a_terminal_and_the_same_summary_when_piped(sample, tmp_path):
    """stderr a terminal (a pseudo-terminal here): the stage and the count of files read
    show there; piped: nothing on stderr. stdout's summary is the same both ways."""
    import pty
    import select

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    command = [sys.executable, "-m", "observatoire.cli"]
    piped = subprocess.run(command + _args(sample, 2024, tmp_path / "piped.db", tmp_path / "piped"),
                           capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert piped.returncode == 0 and piped.stderr == ""

    controller, terminal = pty.openpty()
    with subprocess.Popen(command + _args(sample, 2024, tmp_path / "tty.db", tmp_path / "tty"), stdout=subprocess.PIPE,
                          stderr=terminal, env=env, cwd=tmp_path) as process:
        os.close(terminal)
        shown = b""
        while True:
            ready, _, _ = select.select([controller], [], [], 300)
            assert ready, "no output on the terminal"
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the run closed its end of the terminal
                break
            if not chunk:
                break
            shown += chunk
        out = process.stdout.read().decode()
        assert process.wait(timeout=60) == 0
    os.close(controller)
    files = sum(1 for path in sample.campaigns[2024].submissions_dir.rglob("*")
                if path.is_file() and path.name != "reception.csv")
    text = shown.decode()
    assert f"Lecture des fichiers : {files} / {files}" in text
    assert "Validation…" in text and "Chargement de l'entrepôt…" in text
    assert "Rapprochement FINESS…" in text  # the label as written, not « Rapprochement finess »
    # between the last stage of the main line and the load, the wait for the FINESS snapshots
    assert text.index("Changements à signaler…") < text.index(
        "Référentiel FINESS : enregistrement dans l'entrepôt…") < text.index("Chargement de l'entrepôt…")
    assert text.endswith("\r\x1b[K")  # the progress line is cleared before the summary
    assert out == piped.stdout


@pytest.mark.parametrize("argv, expected_code, expected_out", [
    (["--version"], 0, "observatoire "),
    (["run"], 2, ""),  # argparse's refusal: missing arguments
    (["sql", "SELECT 1", "--warehouse", "absent.db"], 2, ""),
])
def test_the_command_exits_with_its_code_after_running_the_exit_functions(tmp_path, argv, expected_code,
                                                                           expected_out):
    """The console script skips the interpreter's teardown, not what must happen at exit:
    its code, its whole output, and the functions registered with atexit."""
    marker = tmp_path / "atexit-ran"
    code = (f"import atexit, sys; atexit.register(lambda: open({str(marker)!r}, 'w').write('ran')); "
            f"sys.argv = ['observatoire', *{argv!r}]; from observatoire.cli import command; command(); "
            "print('not reached')")
    # stdout buffered, as for a user (PYTHONUNBUFFERED would write it at once, flushed or not)
    env = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env=env)
    assert done.returncode == expected_code, done.stderr
    assert done.stdout.startswith(expected_out) and "not reached" not in done.stdout
    assert marker.read_text() == "ran"
    if expected_code:
        assert done.stderr.strip()  # one French line says why


def test_a_thread_left_running_gets_the_ordinary_exit(tmp_path):
    """A thread that is not a daemon is waited for, as by an ordinary exit."""
    marker = tmp_path / "thread-done"
    done = _version_after(tmp_path, "import threading, time; threading.Thread(target=lambda: (time.sleep(1), "
                                    f"open({str(marker)!r}, 'w').write('done'))).start()")
    assert done.returncode == 0, done.stderr
    assert marker.read_text() == "done"


def test_the_exit_functions_registered_with_threading_run_too(tmp_path):
    """The ordinary exit calls the functions registered with `threading._register_atexit`
    before atexit's: Prefect's log and event workers (daemon threads) send what they still
    hold from one, and `concurrent.futures` joins its executors' threads from one. The
    console script must call them too, or a flow run's last logs and task run states
    (events, in Prefect 3) never reach the server."""
    marker = tmp_path / "drained"
    done = _version_after(tmp_path, "import threading; "
                                    f"threading._register_atexit(lambda: open({str(marker)!r}, 'w').write('drained'))")
    assert done.returncode == 0, done.stderr
    assert marker.exists() and marker.read_text() == "drained"


def _version_after(tmp_path, setup: str) -> subprocess.CompletedProcess:
    """`observatoire --version` through the console script, in a process that ran `setup` first."""
    code = f"{setup}; import sys; sys.argv = ['observatoire', '--version']; from observatoire.cli import command; command()"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
