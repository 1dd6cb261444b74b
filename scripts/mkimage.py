#!/usr/bin/env python3
"""Build the test image: an OCI image layout holding a static busybox.

Usage: mkimage.py BUSYBOX_BINARY OUT_DIR [--with-volume] [--filler=MIB:SEED]

--with-volume: the image also has /srv/seed/hello (owned by 1000) and
declares /srv/seed a VOLUME (the volumes integration test's image).
--filler=MIB:SEED: the image also has /srv/filler, MIB MiB of pseudo-random
bytes from SEED (incompressible), so that images of different seeds share no
layer and each takes about twice MIB on disk once pulled and unpacked (the
full-disk integration test's images).

Deterministic: the same busybox binary gives the same digests (sorted tar
entries, zero mtimes and owners, gzip header without a timestamp).
"""
import gzip
import hashlib
import io
import json
import os
import platform
import random
import subprocess
import sys
import tarfile

PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "app:x:1000:1000:app:/home/app:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
)
GROUP = "root:x:0:\napp:x:1000:\nnogroup:x:65534:\nnobody:x:65534:\n"

DIRS = {
    "bin": 0o755,
    "sbin": 0o755,
    "usr": 0o755,
    "usr/bin": 0o755,
    "usr/sbin": 0o755,
    "usr/local": 0o755,
    "usr/local/bin": 0o755,
    "etc": 0o755,
    "root": 0o700,
    "home": 0o755,
    "home/app": 0o755,
    "tmp": 0o1777,
    "var": 0o755,
    "dev": 0o755,
    "proc": 0o555,
    "sys": 0o555,
}


def entry(name, kind, mode, data=b"", link="", owner=0):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = 0
    info.uid = info.gid = owner
    info.uname = info.gname = ""
    if kind == tarfile.SYMTYPE:
        info.linkname = link
    if kind == tarfile.REGTYPE:
        info.size = len(data)
    return info, data


def build_layer(busybox, with_volume=False, filler=None):
    with open(busybox, "rb") as f:
        binary = f.read()
    applets = subprocess.run(
        [busybox, "--list-full"], check=True, capture_output=True, text=True
    ).stdout.split()

    entries = {}
    for d, mode in DIRS.items():
        entries[d] = entry(d, tarfile.DIRTYPE, mode, owner=1000 if d == "home/app" else 0)
    entries["bin/busybox"] = entry("bin/busybox", tarfile.REGTYPE, 0o755, binary)
    entries["etc/passwd"] = entry("etc/passwd", tarfile.REGTYPE, 0o644, PASSWD.encode())
    entries["etc/group"] = entry("etc/group", tarfile.REGTYPE, 0o644, GROUP.encode())
    entries["etc/hosts"] = entry(
        "etc/hosts", tarfile.REGTYPE, 0o644, b"127.0.0.1\tlocalhost\n"
    )
    if with_volume:
        entries["srv"] = entry("srv", tarfile.DIRTYPE, 0o755)
        entries["srv/seed"] = entry("srv/seed", tarfile.DIRTYPE, 0o755, owner=1000)
        entries["srv/seed/hello"] = entry(
            "srv/seed/hello", tarfile.REGTYPE, 0o640, b"from-the-image\n", owner=1000
        )
    if filler is not None:
        mib, seed = filler
        data = random.Random(seed).randbytes(mib << 20)
        entries.setdefault("srv", entry("srv", tarfile.DIRTYPE, 0o755))
        entries["srv/filler"] = entry("srv/filler", tarfile.REGTYPE, 0o644, data)
    for path in applets:
        path = path.lstrip("/")
        if path in entries:
            continue
        parent = os.path.dirname(path)
        if parent and parent not in entries:
            raise SystemExit(f"applet {path}: parent dir {parent} not in image")
        entries[path] = entry(path, tarfile.SYMTYPE, 0o777, link="/bin/busybox")

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(entries):
            info, data = entries[name]
            tar.addfile(info, io.BytesIO(data) if data else None)
    uncompressed = raw.getvalue()
    compressed = gzip.compress(uncompressed, compresslevel=9, mtime=0)
    return uncompressed, compressed


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_blob(out, data):
    digest = sha(data)
    path = os.path.join(out, "blobs", "sha256", digest.split(":", 1)[1])
    with open(path, "wb") as f:
        f.write(data)
    return {"digest": digest, "size": len(data)}


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    busybox, out = sys.argv[1], sys.argv[2]
    with_volume, filler = False, None
    for flag in sys.argv[3:]:
        if flag == "--with-volume":
            with_volume = True
        elif flag.startswith("--filler="):
            try:
                mib, seed = flag.split("=", 1)[1].split(":")
                filler = (int(mib), int(seed))
            except ValueError:
                raise SystemExit(__doc__)
        else:
            raise SystemExit(__doc__)
    os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)

    uncompressed, compressed = build_layer(busybox, with_volume, filler)
    layer = write_blob(out, compressed)
    layer["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"

    config = {
        "architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(
            platform.machine(), platform.machine()
        ),
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"], "Env": [PATH_ENV], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [sha(uncompressed)]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "scripts/mkimage.py"}],
    }
    if with_volume:
        config["config"]["Volumes"] = {"/srv/seed": {}}
    config_desc = write_blob(out, canonical(config))
    config_desc["mediaType"] = "application/vnd.oci.image.config.v1+json"

    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config_desc,
        "layers": [layer],
    }
    manifest_desc = write_blob(out, canonical(manifest))
    manifest_desc["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
    manifest_desc["annotations"] = {"org.opencontainers.image.ref.name": "latest"}

    index = {"schemaVersion": 2, "manifests": [manifest_desc]}
    with open(os.path.join(out, "index.json"), "wb") as f:
        f.write(canonical(index))
    with open(os.path.join(out, "oci-layout"), "wb") as f:
        f.write(canonical({"imageLayoutVersion": "1.0.0"}))


if __name__ == "__main__":
    main()
