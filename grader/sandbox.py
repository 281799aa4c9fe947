"""Run a completion's code with its tests in a separate, limited Python process. A convenience, NOT a security
boundary: it stops accidents (an infinite loop, a fork bomb, a huge allocation, a stray file write) from hanging
or crashing a scoring run; it does not contain hostile code. Run untrusted code inside a container (README).

Root ignores RLIMIT_NPROC and file permissions, so the script also starts with an audit hook (``sys.addaudithook``,
which the code cannot remove) that ends the run at once (exit status 97, ``blocked``) on a write, delete, rename or
chmod outside the work directory, on starting or signalling a process, and on opening a network connection.

The child is ``python -I`` (isolated mode: no user site-packages, no PYTHON* variables, no script directory on the
path) in a fresh empty temporary directory, with an emptied environment, a new session (its own process group, so a
timeout kills every process it started), and ``resource`` limits set before exec: CPU seconds, address space, file
size, process count, open files. Pass = exit status 0 within the wall-clock timeout.
"""
from __future__ import annotations

import os
import re
import resource
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)


def extract_code(completion: str) -> str:
    """Python code in a completion: fenced blocks first (python-tagged ones when there are any), else the text."""
    blocks = [(lang.lower(), body) for lang, body in FENCE.findall(completion)]
    if blocks:
        py = [b for lang, b in blocks if lang in ("python", "py", "python3")]
        chosen = py or [b for lang, b in blocks if lang in ("",)] or [b for _, b in blocks]
        return "\n\n".join(b.strip("\n") for b in chosen) + "\n"
    return completion


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 10.0  # wall clock
    cpu_s: int = 10
    memory_mb: int = 512  # address space
    file_size_mb: int = 16
    nproc: int = 64  # more processes/threads of this user than already run; a fork bomb hits it at once
    open_files: int = 64


@dataclass(frozen=True)
class RunResult:
    passed: bool
    status: str  # passed | failed | timeout | error
    returncode: int | None
    detail: str  # the end of stderr, or why it did not run
    elapsed_s: float


BLOCKED_EXIT = 97
_SPAWN_LOCK = threading.Lock()
PRELUDE = r'''
import os as _os, sys as _sys
def _refusal_sandbox_guard(_root=_os.path.realpath(_os.getcwd()), _os=_os, _sys=_sys):
    _write = _os.O_WRONLY | _os.O_RDWR | _os.O_CREAT | _os.O_APPEND | _os.O_TRUNC
    _paths = {"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.truncate", "os.utime",
              "os.symlink", "os.link", "shutil.rmtree", "shutil.move", "shutil.copyfile"}
    _procs = {"os.fork", "os.forkpty", "os.system", "os.posix_spawn", "os.spawn", "os.exec", "subprocess.Popen",
              "os.kill", "os.killpg", "pty.spawn", "socket.connect", "socket.bind"}
    def _inside(p):
        if isinstance(p, int):
            return True
        try:
            p = _os.path.realpath(_os.fsdecode(p))
        except Exception:
            return False
        return p == _root or p.startswith(_root + _os.sep) or p == "/dev/null"
    def _deny(what):
        _sys.stderr.write("sandbox: blocked " + what + "\n")
        _sys.stderr.flush()
        _os._exit(97)  # BLOCKED_EXIT
    def _hook(event, args):
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None, None))[:3]
            writing = (mode is not None and any(c in str(mode) for c in "wax+")) or (
                isinstance(flags, int) and flags & _write)
            if writing and not _inside(path):
                _deny("write outside the work directory: %r" % (path,))
        elif event in _paths:
            for p in args[:2]:
                if isinstance(p, (str, bytes, _os.PathLike)) and not _inside(p):
                    _deny("%s outside the work directory: %r" % (event, p))
        elif event in _procs:
            _deny(event)
    _sys.addaudithook(_hook)
_refusal_sandbox_guard()
del _refusal_sandbox_guard, _os, _sys
'''


def _user_processes() -> int:
    """Processes (and threads count too, for the kernel) the current user runs now, from /proc; 0 if unknown."""
    uid, n = os.getuid(), 0
    try:
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    n += entry.stat().st_uid == uid
                except OSError:
                    pass
    except OSError:
        return 0
    return n


def _limit(limits: Limits):
    nproc = limits.nproc + (_user_processes() if os.getuid() != 0 else 0)

    def preexec() -> None:  # runs in the child between fork and exec
        mb = 1024 * 1024
        for res, value in ((resource.RLIMIT_CPU, limits.cpu_s), (resource.RLIMIT_AS, limits.memory_mb * mb),
                           (resource.RLIMIT_FSIZE, limits.file_size_mb * mb), (resource.RLIMIT_NOFILE, limits.open_files),
                           (resource.RLIMIT_CORE, 0)):
            resource.setrlimit(res, (value, value))
        # RLIMIT_NPROC counts every process of the user, so it is the quota on top of what already runs; it does
        # not bind root (the audit hook covers that).
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    return preexec


def run_python(code: str, tests: str = "", limits: Limits = Limits()) -> RunResult:
    """Run ``code`` followed by ``tests`` as one script in a fresh empty directory.

    Pass = exit status 0 AND the end of the tests reached (a random token written last), so code that calls
    ``sys.exit(0)`` before the tests run does not pass. stderr goes to a file (capped by the file-size limit), so a
    flood of output cannot exhaust this process's memory.
    """
    t0 = time.monotonic()
    token = "tests-completed-" + secrets.token_hex(8)
    with tempfile.TemporaryDirectory(prefix="refusal-run-") as outer:
        work = os.path.join(outer, "work")
        os.mkdir(work)
        script = os.path.join(work, "main.py")
        with open(script, "w", encoding="utf-8") as f:
            f.write(PRELUDE + "\n# ---- code ----\n" + code + "\n\n# ---- tests ----\n" + tests
                    + f"\n\nimport sys as _sys_end\n_sys_end.stderr.write('\\n{token}\\n')\n")
        env = {"PATH": "/usr/bin:/bin", "HOME": work, "TMPDIR": work, "LANG": "C.UTF-8"}
        with open(os.path.join(outer, "stderr"), "w+b") as err_file:
            try:
                with _SPAWN_LOCK:  # preexec_fn runs between fork and exec: one fork at a time from this process
                    proc = subprocess.Popen([sys.executable, "-I", "-B", script], cwd=work, env=env,
                                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err_file,
                                            start_new_session=True, preexec_fn=_limit(limits))
            except OSError as e:
                return RunResult(False, "error", None, f"could not start: {e}", time.monotonic() - t0)
            try:
                proc.wait(timeout=limits.timeout_s)
                timed_out = False
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _kill_group(proc)  # on timeout, and any child it left behind
                proc.wait()
            err_file.seek(0, os.SEEK_END)
            err_file.seek(max(0, err_file.tell() - 4096))
            err = err_file.read().decode("utf-8", "replace")
    elapsed = time.monotonic() - t0
    if timed_out:
        return RunResult(False, "timeout", None, f"killed after {limits.timeout_s:g}s wall clock", elapsed)
    rc = proc.returncode
    completed = token in err
    lines = [ln for ln in err.strip().splitlines() if token not in ln][-3:]
    if rc == 0 and completed:
        return RunResult(True, "passed", 0, "", elapsed)
    if rc == BLOCKED_EXIT:
        status = "blocked"
    else:
        status = "failed"
    detail = " | ".join(lines) if lines else _signal_name(rc)
    if rc == 0 and not completed:
        detail = "exited with status 0 before the tests ran to the end"
    return RunResult(False, status, rc, detail[:500], elapsed)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _signal_name(rc: int | None) -> str:
    if rc is not None and rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit status {rc}"
