"""Nothing leaves the machine, nothing is written where the user did not ask.

A real `maxsight run` at the window's tier (Stage A, sounds, captions, reading, personal objects)
over a real walking video carrying real speech, with speech and earcons rendered to a WAV, runs
under strace inside a network namespace with no network at all. Every process it starts is
traced. The test fails on any attempt to open an internet socket, to ask a name resolver, or to
write a file outside: the paths given on the command line, the profile folder and the model
cache (plus /dev/shm, where multiprocessing keeps its semaphores, and the session's runtime folder
$XDG_RUNTIME_DIR, where libespeak-ng's sound library makes the local PulseAudio socket folder
even when speech is only rendered to samples: local IPC, cleared at logout, never a network)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import IN_CI


WRITE_FLAGS = re.compile(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC")
CALL = re.compile(r"^(\d+)\s+(\w+)\((.*)")


def _violations(trace: str, allowed: list[Path]) -> tuple[list[str], list[str]]:
    network, files = [], []
    allowed_s = [str(p.resolve()) for p in allowed] + ["/dev/shm", "/dev/null", "/dev/pts", "/dev/tty", "/proc/self"]
    for line in trace.splitlines():
        m = CALL.match(line)
        if not m:
            continue
        call, rest = m.group(2), m.group(3)
        if call == "socket" and ("AF_INET" in rest or "AF_INET6" in rest):
            network.append(line)
        elif call in ("connect", "sendto", "sendmsg") and ("AF_INET" in rest or "nscd" in rest or "resolve" in rest):
            network.append(line)
        elif call in ("openat", "open", "creat", "mkdir", "mkdirat", "rename", "renameat", "renameat2", "unlink", "unlinkat"):
            if "= -1" in rest:
                continue                     # a failed attempt (EEXIST, ENOENT) wrote nothing
            if call in ("openat", "open") and not WRITE_FLAGS.search(rest):
                continue
            paths = re.findall(r'"([^"]*)"', rest)
            if call in ("rename", "renameat", "renameat2"):
                paths = paths[-1:]           # the destination is what gets written
            for p in paths[:1] if call not in ("rename", "renameat", "renameat2") else paths:
                if not p.startswith("/"):
                    continue                 # relative to the working folder, which is allowed
                if not any(p == a or p.startswith(a.rstrip("/") + "/") for a in allowed_s):
                    files.append(line)
    return network, files


@pytest.mark.slow
def test_a_full_run_opens_no_socket_and_writes_only_where_asked(tmp_path, eval_data, installed_models):
    strace, unshare = shutil.which("strace"), shutil.which("unshare")
    if not strace or not unshare:
        msg = "strace and unshare are needed (scripts/setup.sh --dev installs strace)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    from engine.models.registry import cache_dir
    from maxsight_app.capture.audio_file import load_audio
    from maxsight_app.measure.media import video_with_sound
    speech = load_audio(eval_data / "asr_speech_refs" / "other" / "jfk.flac")
    video = tmp_path / "walk_with_speech.mp4"
    video_with_sound(eval_data / "videos_walking_driving" / "opencv_vtest.avi", speech, video)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    home, data = tmp_path / "home", tmp_path / "data"
    home.mkdir()
    env = dict(os.environ, HOME=str(home), MAXSIGHT_DATA=str(data), MAXSIGHT_CACHE=str(cache_dir()),
               PYTHONDONTWRITEBYTECODE="1", XDG_RUNTIME_DIR=str(tmp_path / "run"))
    env.pop("ORT_DISABLE_TELEMETRY", None)             # the app must turn it off itself
    trace = tmp_path / "trace.txt"
    netns = [unshare, "-n"] if os.geteuid() == 0 else [unshare, "-rn"]
    cmd = netns + [strace, "-f", "-qq", "-o", str(trace), "-e",
                   "trace=socket,connect,sendto,sendmsg,openat,open,creat,mkdir,mkdirat,rename,renameat,renameat2",
                   sys.executable, "-m", "maxsight_app", "run", "--source", str(video), "--headless", "--tier", "T4",
                   "--realtime", "--speak", "--audio-out", str(out_dir / "heard.wav"), "--out", str(out_dir / "results.jsonl"), "--quiet"]
    # --realtime: at the video's own pace, as a camera would come; run flat out, the 14 s file is over
    # in about 5 s, before the Stage B worker has loaded its models, and no caption would be made.
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=out_dir, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    text = trace.read_text()
    pids = {ln.split()[0] for ln in text.splitlines() if ln[:1].isdigit()}
    assert len(pids) >= 2, "the Stage B worker process was not traced"
    network, files = _violations(text, [out_dir, data, cache_dir(), tmp_path / "run"])
    assert network == [], "network attempts:\n" + "\n".join(network[:20])
    assert files == [], "files written outside the allowed folders:\n" + "\n".join(files[:20])
    assert not (home / ".cache" / "Microsoft").exists()          # no ONNX Runtime telemetry queue
    lines = (out_dir / "results.jsonl").read_text().splitlines()
    assert len(lines) >= 100 and any('"captions": [{' in ln for ln in lines), "the run did not exercise captions"


def test_the_checker_catches_a_socket_and_a_stray_write(tmp_path):
    trace = "\n".join([
        '100 socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC|SOCK_NONBLOCK, IPPROTO_IP) = 5',
        '100 connect(5, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT',
        '100 openat(AT_FDCWD, "/home/u/.cache/Microsoft/x.db", O_RDWR|O_CREAT|O_CLOEXEC, 0644) = 7',
        f'100 openat(AT_FDCWD, "{tmp_path}/ok.json", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 8',
        '100 openat(AT_FDCWD, "/usr/lib/libc.so", O_RDONLY|O_CLOEXEC) = 3',
        '100 mkdir("/root/.config/pulse", 0700) = -1 EEXIST (File exists)',
    ])
    network, files = _violations(trace, [tmp_path])
    assert len(network) == 2 and len(files) == 1 and "Microsoft" in files[0]
