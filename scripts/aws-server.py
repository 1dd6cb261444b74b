#!/usr/bin/env python3
"""The real `aws` CLI, pre-imported, for the integration tests.

Each `aws` process spends about 0.55 s of CPU importing awscli and botocore
(some 530 modules) before it does anything: measured with process accounting
over part of the suite, the CLI was 78% of the machine's CPU, and the suite is
CPU-bound on two cores. This server imports the CLI once and forks a child
per call, which runs the CLI's own entry point (`awscli.clidriver.main`) with
the call's arguments and environment: the same code, argument parsing,
signing, requests and output as `aws ARGS`, without the imports.

  aws-server.py SOCKET      serve on the Unix socket SOCKET (scripts/testenv)

Protocol, one call per connection: the client sends one JSON line
{"args": [...], "env": {...}, "cwd": "..."} (the whole environment the CLI
should see, and the caller's working directory),
then the server answers one JSON line {"code": N, "stdout": N, "stderr": N}
followed by that many bytes of stdout and then of stderr. stdin is
/dev/null, as the tests give the CLI.
"""

import json
import os
import signal
import socket
import sys


AWSCLI_DATA = ""


def warm_up():
    global AWSCLI_DATA
    # What every call needs: the driver (it loads the plugins, which import
    # all of awscli's customizations) and the modules a request goes through.
    import awscli.clidriver  # noqa: F401
    import awscli.formatter  # noqa: F401
    import botocore.endpoint  # noqa: F401
    import botocore.httpsession  # noqa: F401
    import botocore.parsers  # noqa: F401
    import botocore.serialize  # noqa: F401
    import botocore.auth  # noqa: F401
    import jmespath  # noqa: F401

    awscli.clidriver.create_clidriver()
    AWSCLI_DATA = os.path.join(os.path.dirname(os.path.abspath(awscli.__file__)), "data")


def run_call(conn):
    line = b""
    while not line.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            return
        line += chunk
    request = json.loads(line)
    out = os.memfd_create("aws-stdout")
    err = os.memfd_create("aws-stderr")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out, 1)
    os.dup2(err, 2)
    env = dict(request["env"])
    # awscli sets AWS_DATA_PATH when it is imported (its own data directory
    # after the caller's entries), which here happened once, in the server.
    env["AWS_DATA_PATH"] = os.pathsep.join(
        [p for p in env.get("AWS_DATA_PATH", "").split(os.pathsep) if p] + [AWSCLI_DATA]
    )
    os.environ.clear()
    os.environ.update(env)
    # Relative paths in arguments (file://...) are the caller's.
    if request.get("cwd"):
        os.chdir(request["cwd"])
    sys.argv = ["aws"] + request["args"]
    import random

    random.seed()
    import awscli.clidriver

    try:
        code = awscli.clidriver.main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException as e:  # the CLI's own crash, reported as aws would
        sys.stderr.write(f"aws-server: {type(e).__name__}: {e}\n")
        code = 255
    sys.stdout.flush()
    sys.stderr.flush()
    outputs = []
    for fd in (out, err):
        os.lseek(fd, 0, os.SEEK_SET)
        data = b""
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            data += chunk
        outputs.append(data)
    header = {"code": code if code is not None else 0,
              "stdout": len(outputs[0]), "stderr": len(outputs[1])}
    conn.sendall(json.dumps(header).encode() + b"\n" + outputs[0] + outputs[1])


def serve(path):
    warm_up()
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    os.chmod(path, 0o600)
    server.listen(64)
    # Children are never waited for: the kernel reaps them.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    print(f"aws-server: serving on {path}", flush=True)
    while True:
        conn, _ = server.accept()
        if os.fork() == 0:
            server.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            try:
                run_call(conn)
            finally:
                os._exit(0)
        conn.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    serve(sys.argv[1])
