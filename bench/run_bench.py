#!/usr/bin/env python3
"""Side-by-side benchmark: lifeboat, restic and borg on one generated hosting node.

    python3 bench/run_bench.py --lifeboat build/lifeboat [--accounts 200 --scale 1 --runs 3
            --workdir /var/tmp/lifeboat-bench --out docs/BENCHMARKS.md --tools lifeboat,restic,borg]
    python3 bench/run_bench.py --quick --tools restic,borg      # smoke test of the harness
    python3 bench/run_bench.py --node-only --node-runs 3        # only the node section (below)
    python3 bench/run_bench.py --backends-only                  # only the backends section (bench/backends_bench.py)
    python3 bench/run_bench.py --tiers-only                     # only the tiers section (bench/tiers_bench.py)

The node is generated once (bench/gen_node.py, kept as a pristine copy in the
work directory and reused while its parameters do not change).  Then, for each
run and each tool, with a fresh repository and fresh caches, on the same data:

  first      first backup of the whole node directory, as one snapshot
  unchanged  backup again, nothing changed
  changed    backup after "a day of changes" (gen_node.py --mutate, in place)
  restore    restore the whole node into an empty directory
  account    restore one account (the 75th-percentile account by size)

The node is put back to its pristine state (only what the day of changes
touched is copied back) before each tool's run.  As root, all of it lives on
an ext4 filesystem in a sparse image on a loop device (WORKDIR/fs.img, mounted
at WORKDIR/fs while the benchmark runs; --no-loop to use WORKDIR directly), so
that deleting a restored node between runs takes seconds even where the host
filesystem discards on every unlink.  The page cache is dropped
before each timed step when the kernel allows it.  For each step: wall time,
MB/s (node or account bytes / time), peak RSS of the tool (wait4 ru_maxrss),
CPU time, repository size (du -sb).  Restores are verified: names, types,
sizes, symlink targets, total bytes; modes and mtimes are compared and
reported; lifeboat's one-account restore must also pass diff -r.

Medians over the runs and lifeboat/restic, lifeboat/borg ratios go to the
Markdown report (--out, between <!-- bench:begin --> and <!-- bench:end -->)
and everything raw to bench/out/results.json.

The node section (after the above; --no-node-steps skips it, --node-only runs
only it) backs the same pristine node up as one snapshot per account, once
per tool, into a fresh repository: `lifeboat node backup` (one command) and
`restic backup --host NODE --tag account=A NODE_DIR/A` per account.  Then, for
each of --node-runs runs (the four ways take turns going first), every
account is restored into an empty directory, page cache dropped before:

  node_size      lifeboat node restore (smallest first, the default)
  node_name      lifeboat node restore --order name
  each_lifeboat  lifeboat restore latest --account A --target DIR/A --verify, per account
  each_restic    restic restore latest --host NODE --tag account=A --target DIR --verify, per account
  node_noindex   lifeboat node restore on a copy of the repository with every index segment deleted

and, once per run, `lifeboat repair index` on such a copy (seconds per 1,000 packs).

The per-account loops run one command after another, smallest account first;
their times are the sums of the commands' wall times.  For each: wall time,
node MB/s, when 50/90/100% of the accounts were ready (node restore: its
--json timeline, counted from the command's start), bytes fetched and
written (lifeboat), peak RSS, CPU.  Each restored node is compared with the
source like the full restore above, and with diff -r per account in the
first run (--node-diff).  Report between <!-- bench-node:begin --> and
<!-- bench-node:end -->, raw results in bench/out/node-results.json.

The backends section (after the node section; --no-backends skips it,
--backends-only runs only it) is bench/backends_bench.py: first backup and full restore of a ~1 GB
node through each backend on loopback (local, rclone REST, lifeboat serve,
S3 on Ceph RGW, SFTP on sshd), lifeboat and restic on the same servers.

The tiers section (after that; --no-tiers skips it, --tiers-only runs only
it) is bench/tiers_bench.py: on a node of its own (--tiers-accounts,
--tiers-scale: ~0.66 GB), a month of daily snapshots (--tiers-days, built
once and kept), then per run (--tiers-runs) `forget --keep-daily 7
--keep-weekly 4` and prune with lifeboat and restic on fresh copies of it
(time, CPU, peak RSS, size before/after, a second prune; checked and one
kept snapshot restored), and `lifeboat node restore` from one repository
and from two at once (the month and its tier copy, each behind its own
`rclone serve restic`), on loopback and through WAN-like links
(--tiers-bwlimit, --tiers-delay-ms).  ~50 minutes at the defaults on 2
busy cores, most of it the WAN-like restores.
"""

from __future__ import annotations

import argparse
import datetime
import fcntl
import hashlib
import json
import math
import os
import platform
import shlex
import shutil
import signal
import stat
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GEN = os.path.join(HERE, "gen_node.py")
STEPS = [("first", "first backup"), ("unchanged", "unchanged re-backup"), ("changed", "backup after a day of changes"),
         ("restore", "full restore"), ("account", "one-account restore")]
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
NODE_BEGIN, NODE_END = "<!-- bench-node:begin -->", "<!-- bench-node:end -->"
PASSWORD = "lifeboat-bench-password-not-secret"


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def human_bytes(n):
    if n is None:
        return "–"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def mib_bytes(n):
    return "–" if n is None else f"{n / 1048576:,.1f} MiB"


def du_bytes(path):
    try:
        out = subprocess.run(["du", "-sb", path], capture_output=True, text=True, check=True).stdout
        return int(out.split()[0])
    except (subprocess.CalledProcessError, ValueError, IndexError):
        return None


# ----------------------------------------------------------------------------
# Trees: stats, metadata maps, reset to pristine

def meta_map(root):
    """rel path -> (type, mode, mtime_ns, size, link target); the root itself excluded."""
    out = {}
    stack = [""]
    while stack:
        rel = stack.pop()
        with os.scandir(os.path.join(root, rel) if rel else root) as it:
            for e in it:
                r = f"{rel}/{e.name}" if rel else e.name
                st = e.stat(follow_symlinks=False)
                m = st.st_mode
                if stat.S_ISDIR(m):
                    out[r] = ("d", m & 0o7777, st.st_mtime_ns, 0, "")
                    stack.append(r)
                elif stat.S_ISLNK(m):
                    out[r] = ("l", 0, st.st_mtime_ns, 0, os.readlink(e.path))
                elif stat.S_ISREG(m):
                    out[r] = ("f", m & 0o7777, st.st_mtime_ns, st.st_size, "")
                else:
                    out[r] = ("o", m & 0o7777, st.st_mtime_ns, 0, "")
    return out


def stats_of(meta, prefix=None):
    s = {"files": 0, "dirs": 0, "symlinks": 0, "other": 0, "bytes": 0}
    for rel, (t, _, _, size, _) in meta.items():
        if prefix is not None and not (rel == prefix or rel.startswith(prefix + "/")):
            continue
        if prefix is not None and rel == prefix:
            continue
        s[{"f": "files", "d": "dirs", "l": "symlinks", "o": "other"}[t]] += 1
        s["bytes"] += size
    return s


def sub_meta(meta, prefix):
    n = len(prefix) + 1
    return {rel[n:]: v for rel, v in meta.items() if rel.startswith(prefix + "/")}


def compare_meta(expected, got):
    """Structure must match (names, types, sizes, link targets); modes and mtimes are counted."""
    missing = [r for r in expected if r not in got]
    extra = [r for r in got if r not in expected]
    structure, mode, mtime = [], {"f": 0, "d": 0}, {"f": 0, "d": 0, "l": 0}
    for r, e in expected.items():
        g = got.get(r)
        if g is None:
            continue
        if e[0] != g[0] or e[3] != g[3] or e[4] != g[4]:
            structure.append(r)
            continue
        if e[0] in mode and e[1] != g[1]:
            mode[e[0]] += 1
        if e[0] in mtime and e[2] != g[2]:
            mtime[e[0]] += 1
    ok = not (missing or extra or structure)
    return {"ok": ok, "missing": len(missing), "extra": len(extra), "differ": len(structure),
            "examples": [repr(x) for x in (missing[:3] + extra[:3] + structure[:3])],
            "mode_mismatch": mode, "mtime_mismatch": mtime,
            "metadata_exact": ok and not any(mode.values()) and not any(mtime.values())}


def sync_tree(src, dst):
    """Make dst identical to src, copying only what differs (by type, size, mtime, mode, link target)."""
    changed = [0]

    def remove(p):
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.unlink(p)
        changed[0] += 1

    def walk(s, d):
        se = {e.name: e for e in os.scandir(s)}
        de = {e.name: e for e in os.scandir(d)}
        for name in sorted(set(de) - set(se)):
            remove(de[name].path)
        for name in sorted(se):
            a = se[name]
            ast = a.stat(follow_symlinks=False)
            b = de.get(name)
            bst = b.stat(follow_symlinks=False) if b is not None else None
            dp = os.path.join(d, name)
            if stat.S_ISDIR(ast.st_mode):
                if bst is not None and not stat.S_ISDIR(bst.st_mode):
                    remove(dp)
                    bst = None
                if bst is None:
                    subprocess.run(["cp", "-a", a.path, dp], check=True)
                    changed[0] += 1
                    continue
                walk(a.path, dp)
                bst = os.lstat(dp)
                if stat.S_IMODE(bst.st_mode) != stat.S_IMODE(ast.st_mode):
                    os.chmod(dp, stat.S_IMODE(ast.st_mode))
                if bst.st_mtime_ns != ast.st_mtime_ns:
                    os.utime(dp, ns=(ast.st_atime_ns, ast.st_mtime_ns))
            elif stat.S_ISLNK(ast.st_mode):
                target = os.readlink(a.path)
                if bst is None or not stat.S_ISLNK(bst.st_mode) or os.readlink(dp) != target or bst.st_mtime_ns != ast.st_mtime_ns:
                    if bst is not None:
                        remove(dp)
                    os.symlink(target, dp)
                    os.utime(dp, ns=(ast.st_atime_ns, ast.st_mtime_ns), follow_symlinks=False)
                    changed[0] += 1
            else:
                if (bst is None or not stat.S_ISREG(bst.st_mode) or bst.st_size != ast.st_size
                        or bst.st_mtime_ns != ast.st_mtime_ns or bst.st_mode != ast.st_mode):
                    if bst is not None:
                        remove(dp)
                    shutil.copy2(a.path, dp)
                    changed[0] += 1
        # directory times last: our own changes above touched them
        st = os.lstat(s)
        os.utime(d, ns=(st.st_atime_ns, st.st_mtime_ns))

    walk(src, dst)
    return changed[0]


def find_root(base, expected_names, candidates):
    """The directory under base that holds the restored tree (tools differ in how they nest it)."""
    best, score = None, -1
    for c in candidates:
        p = os.path.normpath(os.path.join(base, c.lstrip("/")))
        if os.path.isdir(p) and not os.path.islink(p):
            try:
                names = set(os.listdir(p))
            except OSError:
                continue
            sc = len(names & expected_names)
            if sc > score:
                best, score = p, sc
    return best if score > 0 else None


# ----------------------------------------------------------------------------
# Running a tool

def drop_caches():
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


# The tool is started by a small shim that forks it and reports wait4's rusage.
# Started straight from this (large) process, the child's ru_maxrss would
# start at our own peak RSS: Linux carries the pre-exec memory's high-water
# mark into the exec'd process.  The shim is tiny, so the tool's figure is its own.
SHIM = """import os, sys, time, json
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    except OSError as e:
        sys.stderr.write(f"{sys.argv[2]}: {e}\\n")
    os._exit(127)
_, st, ru = os.wait4(pid, 0)
sec = time.perf_counter() - t0
with open(sys.argv[1], "w") as f:
    json.dump({"rc": os.waitstatus_to_exitcode(st), "seconds": sec, "maxrss_kb": ru.ru_maxrss,
               "user_s": ru.ru_utime, "sys_s": ru.ru_stime}, f)
sys.exit(0)
"""


def run_cmd(cmd, env, cwd, logbase, timeout):
    """Run cmd; wall time, exit code, peak RSS and CPU time of the tool (wait4, in the shim)."""
    rufile = logbase + ".rusage"
    if os.path.exists(rufile):
        os.unlink(rufile)
    with open(logbase + ".out", "wb") as out, open(logbase + ".err", "wb") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen([sys.executable, "-S", "-c", SHIM, rufile, *cmd], env=env, cwd=cwd, stdout=out, stderr=err,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        killed = []

        def kill():
            killed.append(True)
            try:
                os.killpg(p.pid, 9)
            except ProcessLookupError:
                pass
        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        except BaseException:       # interrupted: take the tool down with us
            kill()
            os.waitpid(p.pid, 0)
            raise
        finally:
            timer.cancel()
        seconds = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
    try:
        with open(rufile) as f:
            shim = json.load(f)
    except (OSError, ValueError):   # the shim was killed (timeout) or failed
        shim = {"rc": p.returncode if p.returncode else -9, "seconds": seconds, "maxrss_kb": ru.ru_maxrss,
                "user_s": ru.ru_utime, "sys_s": ru.ru_stime}
    with open(logbase + ".err", "rb") as f:
        f.seek(max(0, os.path.getsize(logbase + ".err") - 2000))
        tail = f.read().decode(errors="replace").strip().splitlines()[-5:]
    with open(logbase + ".out", "rb") as f:
        stdout = f.read(1 << 20).decode(errors="replace")
    return {"cmd": " ".join(shlex.quote(c) for c in cmd), "rc": shim["rc"], "seconds": round(shim["seconds"], 3),
            "maxrss_kb": shim["maxrss_kb"], "user_s": round(shim["user_s"], 2), "sys_s": round(shim["sys_s"], 2),
            "timed_out": bool(killed), "stderr_tail": tail, "stdout": stdout}


class Tool:
    name = "?"
    ok_codes = (0,)

    def __init__(self, args, node):
        self.args, self.node = args, node

    def env(self, rd):
        e = dict(os.environ)
        e["XDG_CACHE_HOME"] = os.path.join(rd, "cache")
        e["HOME"] = os.path.join(rd, "home")
        os.makedirs(e["HOME"], exist_ok=True)
        return e

    def full_candidates(self):
        return ["", self.node, os.path.basename(self.node)]

    def account_candidates(self, acct):
        return ["", acct, os.path.join(self.node, acct), os.path.join(os.path.basename(self.node), acct)]


class Lifeboat(Tool):
    name = "lifeboat"

    def available(self):
        b = self.args.lifeboat
        if not (os.path.isfile(b) and os.access(b, os.X_OK)):
            return False, f"{b} not found (build it first: make build)"
        return True, ""

    def version(self):
        try:
            v = subprocess.run([self.args.lifeboat, "--version"], capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            v = ""
        try:
            rev = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            rev = ""
        return " ".join(x for x in (v.splitlines()[0] if v else "lifeboat", f"(git {rev})" if rev else "") if x)

    def env(self, rd):
        e = super().env(rd)
        pw = os.path.join(rd, "password")
        with open(pw, "w") as f:
            f.write(PASSWORD + "\n")
        os.chmod(pw, 0o600)
        e["LIFEBOAT_PASSWORD_FILE"] = pw
        return e

    def init(self, repo):
        return [[self.args.lifeboat, "init", "--repo", repo]]

    def backup(self, repo, tag):
        return [self.args.lifeboat, "backup", self.node, "--account", "node", "--repo", repo, "--json"]

    def restore_all(self, repo, target):
        return [self.args.lifeboat, "restore", "latest", "--target", target, "--repo", repo]

    def restore_account(self, repo, target, acct):
        # the snapshot's root is the node directory; accept an absolute-path layout too
        return [[self.args.lifeboat, "restore", f"latest:{sub}", "--target", target, "--repo", repo]
                for sub in (acct, "/" + acct, f"{self.node}/{acct}")]

    def extra_stats(self, repo, env):
        try:
            p = subprocess.run([self.args.lifeboat, "stats", "--repo", repo, "--json"], capture_output=True, text=True, env=env, timeout=600)
            return json.loads(p.stdout) if p.returncode == 0 else None
        except (OSError, subprocess.SubprocessError, ValueError):
            return None

    # node section: one snapshot per account, whole-node and per-account restores
    def node_backup(self, repo, node_name, accounts):
        return [[self.args.lifeboat, "node", "backup", self.node, "--node", node_name, "--repo", repo, "--json"]]

    def node_restore(self, repo, target, node_name, order):
        return [self.args.lifeboat, "node", "restore", "--node", node_name, "--target", target, "--order", order,
                "--repo", repo, "--json"]

    def restore_one(self, repo, target, node_name, acct):
        # verified, as node restore verifies each account before it counts as ready
        return [self.args.lifeboat, "restore", "latest", "--account", acct, "--target", os.path.join(target, acct),
                "--repo", repo, "--verify", "--json"]

    @staticmethod
    def restore_one_ok(r):
        try:
            return json.loads(r["stdout"]).get("verified") is True
        except ValueError:
            return False

    @staticmethod
    def restore_one_written(r):
        try:
            return json.loads(r["stdout"]).get("bytes")
        except ValueError:
            return None


class Restic(Tool):
    name = "restic"

    def available(self):
        return (shutil.which("restic") is not None, "restic not installed (apt-get install restic)")

    def version(self):
        return subprocess.run(["restic", "version"], capture_output=True, text=True).stdout.strip()

    def env(self, rd):
        e = super().env(rd)
        e["RESTIC_PASSWORD"] = PASSWORD
        e["RESTIC_CACHE_DIR"] = os.path.join(rd, "cache", "restic")
        return e

    def init(self, repo):
        return [["restic", "-r", repo, "init", "--repository-version", "2", "-q"]]

    def backup(self, repo, tag):
        return ["restic", "-r", repo, "backup", "-q", "--host", "benchnode", self.node]

    def restore_all(self, repo, target):
        return ["restic", "-r", repo, "restore", "latest", "--target", target, "-q"]

    def restore_account(self, repo, target, acct):
        return [["restic", "-r", repo, "restore", "latest", "--target", target, "--include", f"{self.node}/{acct}", "-q"]]

    def extra_stats(self, repo, env):
        return None

    # node section: one snapshot per account (host = node name, tag account=A, path NODE/A).  restic 0.14
    # cannot restore a subfolder of a snapshot (no "latest:PATH"), so each account comes back under its
    # absolute path: TARGET/<node dir>/A, i.e. the node reassembles at TARGET/<node dir>.
    def node_backup(self, repo, node_name, accounts):
        return [["restic", "-r", repo, "backup", "-q", "--host", node_name, "--tag", f"account={a}", os.path.join(self.node, a)]
                for a in accounts]

    def restore_one(self, repo, target, node_name, acct):
        # --verify: restic reads the restored files back and checks them against the snapshot
        return ["restic", "-r", repo, "restore", "latest", "--host", node_name, "--tag", f"account={acct}",
                "--target", target, "--verify", "-q"]

    @staticmethod
    def restore_one_ok(r):
        return True

    @staticmethod
    def restore_one_written(r):
        return None     # restic restore -q reports nothing


class Borg(Tool):
    name = "borg"
    ok_codes = (0, 1)   # 1 = finished with warnings

    def available(self):
        return (shutil.which("borg") is not None, "borg not installed (apt-get install borgbackup)")

    def version(self):
        return subprocess.run(["borg", "--version"], capture_output=True, text=True).stdout.strip()

    def env(self, rd):
        e = super().env(rd)
        e["BORG_PASSPHRASE"] = PASSWORD
        e["BORG_BASE_DIR"] = os.path.join(rd, "borgbase")
        e["BORG_RELOCATED_REPO_ACCESS_IS_OK"] = "yes"
        e["BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK"] = "no"
        return e

    def init(self, repo):
        return [["borg", "init", "-e", "repokey-blake2", repo]]

    def backup(self, repo, tag):
        return ["borg", "create", "--compression", self.args.borg_compression, f"{repo}::{tag}", self.node]

    def restore_all(self, repo, target):
        return ["borg", "extract", f"{repo}::changed"]

    def restore_account(self, repo, target, acct):
        return [["borg", "extract", f"{repo}::changed", f"{self.node.lstrip('/')}/{acct}"]]

    def extra_stats(self, repo, env):
        return None


TOOLS = {"lifeboat": Lifeboat, "restic": Restic, "borg": Borg}


# ----------------------------------------------------------------------------
# Scratch space

class Scratch:
    """Where the node, repositories and restores live.

    By default (as root, with loop devices) an ext4 filesystem in a sparse
    image, WORKDIR/fs.img, on a loop device with direct I/O, mounted at
    WORKDIR/fs.  Every tool runs on it alike.  The reason: on a host
    filesystem mounted with `discard` every unlink waits for a discard, and
    deleting a restored node (~290k entries) takes minutes; inside the image
    it takes seconds, and fstrim hands the space back to the host in a few
    large, cheap hole punches.  Falls back to a plain directory.
    """

    def __init__(self, work, use_loop, size_gib):
        self.work, self.use_loop, self.size = work, use_loop, size_gib
        self.dev = None
        self.data = work
        self.kind = "directory"

    def setup(self):
        os.makedirs(self.work, exist_ok=True)
        if not self.use_loop:
            return
        need = [shutil.which(x) for x in ("losetup", "mkfs.ext4", "mount", "umount")]
        if os.geteuid() != 0 or not all(need):
            log("scratch: not root or no losetup/mkfs.ext4: using a plain directory (deleting restores may be slow)")
            return
        mnt, img = os.path.join(self.work, "fs"), os.path.join(self.work, "fs.img")
        os.makedirs(mnt, exist_ok=True)
        if os.path.ismount(mnt):
            log(f"scratch: reusing the filesystem already mounted at {mnt}")
            self.data, self.kind = mnt, "ext4 on a loop device (sparse image, direct I/O)"
            src = subprocess.run(["findmnt", "-n", "-o", "SOURCE", mnt], capture_output=True, text=True).stdout.strip()
            self.dev = src or None
            return
        try:
            if not os.path.exists(img):
                with open(img, "wb") as f:
                    f.truncate(self.size << 30)
                # inode tables written now (cheaply, as zeroed ranges), so no lazy-init thread writes during the runs
                subprocess.run(["mkfs.ext4", "-q", "-F", "-i", "32768", "-L", "lifeboat-bench",
                                "-E", "nodiscard,lazy_itable_init=0,lazy_journal_init=0", img], check=True)
            dev = subprocess.run(["losetup", "--direct-io=on", "-f", "--show", img], capture_output=True, text=True, check=True).stdout.strip()
            try:
                subprocess.run(["mount", "-t", "ext4", dev, mnt], check=True, capture_output=True)
            except subprocess.CalledProcessError:
                subprocess.run(["losetup", "-d", dev])
                raise
            self.dev, self.data, self.kind = dev, mnt, "ext4 on a loop device (sparse image, direct I/O)"
            log(f"scratch: {img} on {dev} mounted at {mnt}")
        except (OSError, subprocess.CalledProcessError) as e:
            log(f"scratch: loop filesystem unavailable ({e}); using a plain directory")

    def trim(self):
        if self.dev:
            subprocess.run(["fstrim", self.data], capture_output=True)

    def teardown(self):
        if self.dev:
            self.trim()
            r = subprocess.run(["umount", self.data], capture_output=True, text=True)
            if r.returncode == 0:
                subprocess.run(["losetup", "-d", self.dev], capture_output=True)
            else:
                log(f"scratch: could not unmount {self.data}: {r.stderr.strip()}")
            self.dev = None


# ----------------------------------------------------------------------------
# The benchmark

class Bench:
    def __init__(self, args, data_dir):
        self.args = args
        self.work = data_dir
        self.node = os.path.join(self.work, "node")
        self.drop_ok = None

    def gen(self, *gargs):
        p = subprocess.run([sys.executable, GEN, *gargs, "--json"], capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"gen_node.py {' '.join(gargs)} failed: {p.stderr.strip()[-2000:]}")
        log(p.stderr.strip())
        return json.loads(p.stdout)

    def prepare(self):
        a = self.args
        os.makedirs(self.work, exist_ok=True)
        with open(GEN, "rb") as f:
            gen_hash = hashlib.sha256(f.read()).hexdigest()[:16]
        key = f"a{a.accounts}-s{a.scale:g}-k{a.seed}"
        pristine = os.path.join(self.work, f"pristine-{key}")
        stamp_path = pristine + ".json"
        stamp = {"accounts": a.accounts, "scale": a.scale, "seed": a.seed, "gen_sha256": gen_hash}
        ok = False
        if os.path.isdir(pristine) and os.path.exists(stamp_path):
            with open(stamp_path) as f:
                old = json.load(f)
            ok = old.get("stamp") == stamp
            if ok:
                self.gen_summary = old["summary"]
        for e in os.listdir(self.work):      # keep one dataset: disk space
            p = os.path.join(self.work, e)
            if e.startswith("pristine-") and p not in (pristine, stamp_path):
                shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)
        if not ok:
            for p in (pristine, self.node):
                if os.path.exists(p):
                    shutil.rmtree(p)
            log(f"generating the node: {a.accounts} accounts, scale {a.scale:g}, seed {a.seed}")
            self.gen_summary = self.gen("--out", pristine, "--accounts", str(a.accounts), "--scale", str(a.scale), "--seed", str(a.seed))
            with open(stamp_path, "w") as f:
                json.dump({"stamp": stamp, "summary": self.gen_summary}, f)
        else:
            log(f"reusing the generated node {pristine}")
        self.pristine = pristine
        self.pristine_meta = meta_map(pristine)
        self.pristine_stats = stats_of(self.pristine_meta)
        node_stamp = os.path.join(self.work, "node.json")
        same = os.path.isdir(self.node) and os.path.exists(node_stamp) and json.load(open(node_stamp)) == stamp
        if not same:
            if os.path.exists(self.node):
                shutil.rmtree(self.node)
            log("copying the pristine node into place (cp -a)")
            subprocess.run(["cp", "-a", pristine, self.node], check=True)
            with open(node_stamp, "w") as f:
                json.dump(stamp, f)
        # the account for the one-account restore: 75th percentile by bytes
        per = self.gen_summary["per_account"]
        names = sorted(per, key=lambda n: (per[n]["bytes"], n))
        self.account = a.account or names[min(len(names) - 1, int(len(names) * 0.75))]
        if self.account not in per:
            raise SystemExit(f"run_bench: no account {self.account!r} in the node")
        log(f"node: {self.pristine_stats['files']:,} files, {self.pristine_stats['dirs']:,} dirs, "
            f"{self.pristine_stats['bytes'] / 1e9:.2f} GB; one-account restore: {self.account} "
            f"({human_bytes(per[self.account]['bytes'])})")

    def reset_node(self):
        t = time.time()
        n = sync_tree(self.pristine, self.node)
        cmp = compare_meta(self.pristine_meta, meta_map(self.node))
        if not cmp["metadata_exact"]:
            log(f"reset by sync did not give an exact copy ({cmp}); copying the whole node")
            shutil.rmtree(self.node)
            subprocess.run(["cp", "-a", self.pristine, self.node], check=True)
        log(f"node reset to pristine ({n} entries copied back) in {time.time() - t:.1f} s")

    def timed(self, tool, cmd, env, cwd, logbase):
        cache = "cold" if (not self.args.no_drop_caches and drop_caches()) else "warm"
        if self.drop_ok is None:
            self.drop_ok = cache == "cold"
        r = run_cmd(cmd, env, cwd, logbase, self.args.timeout)
        r["cache"] = cache
        r["ok"] = r["rc"] in tool.ok_codes and not r["timed_out"]
        return r

    def run_tool(self, tool, run):
        a = self.args
        rd = os.path.join(self.work, "runs", f"{tool.name}-{run + 1}")
        if os.path.exists(rd):
            shutil.rmtree(rd)
        os.makedirs(os.path.join(rd, "logs"))
        repo = os.path.join(rd, "repo")
        env = tool.env(rd)
        res = {"tool": tool.name, "run": run + 1, "ok": False, "error": None, "steps": {}, "verify": {}}
        lb = lambda step: os.path.join(rd, "logs", step)
        try:
            self.reset_node()
            for i, cmd in enumerate(tool.init(repo)):
                r = run_cmd(cmd, env, rd, lb(f"init{i}"), a.timeout)
                res["init"] = {k: r[k] for k in ("cmd", "rc", "seconds")}
                if r["rc"] != 0:
                    raise RuntimeError(f"init failed (rc {r['rc']}): {' | '.join(r['stderr_tail'])}")
            if not os.path.isdir(repo) or not os.listdir(repo):
                raise RuntimeError(f"init exited 0 but created no repository at {repo}")
            prev = 0
            for step in ("first", "unchanged", "changed"):
                if step == "changed":
                    m = self.gen("--mutate", self.node, "--seed", str(a.mutate_seed))
                    res["mutate"] = {k: v for k, v in m.items() if k != "per_account"}
                    self.mutated_meta = meta_map(self.node)
                    self.mutated_stats = stats_of(self.mutated_meta)
                log(f"{tool.name} run {run + 1}: {step} backup")
                r = self.timed(tool, tool.backup(repo, step), env, rd, lb(step))
                r["repo_bytes"] = du_bytes(repo)
                if r["ok"] and step == "first" and (r["repo_bytes"] or 0) < self.pristine_stats["bytes"] // 100:
                    r["ok"] = False
                    r["stderr_tail"].append(f"exited {r['rc']} but the repository holds only {r['repo_bytes']} bytes")
                r["stored_bytes"] = r["repo_bytes"] - prev if r["repo_bytes"] is not None else None
                prev = r["repo_bytes"] or 0
                r["data_bytes"] = (self.mutated_stats if step == "changed" else self.pristine_stats)["bytes"]
                try:
                    r["json"] = json.loads(r["stdout"]) if r["stdout"].strip().startswith(("{", "[")) else None
                except ValueError:
                    r["json"] = None
                res["steps"][step] = r
                log(f"  {r['seconds']:.1f} s rc {r['rc']} repo {human_bytes(r['repo_bytes'])} rss {r['maxrss_kb'] // 1024} MiB")
                if not r["ok"]:
                    raise RuntimeError(f"{step} backup failed (rc {r['rc']}{', timed out' if r['timed_out'] else ''}): "
                                       f"{' | '.join(r['stderr_tail'])}")
            res["repo_stats"] = tool.extra_stats(repo, env)

            # full restore
            target = os.path.join(rd, "restore")
            os.makedirs(target)
            log(f"{tool.name} run {run + 1}: full restore")
            r = self.timed(tool, tool.restore_all(repo, target), env, target, lb("restore"))
            r["data_bytes"] = self.mutated_stats["bytes"]
            res["steps"]["restore"] = r
            log(f"  {r['seconds']:.1f} s rc {r['rc']} rss {r['maxrss_kb'] // 1024} MiB")
            if r["ok"]:
                accts = set(self.gen_summary["per_account"])
                root = find_root(target, accts, tool.full_candidates())
                res["verify"]["restore"] = self.verify(root, self.mutated_meta)
                log(f"  verify: {self.verify_line(res['verify']['restore'])}")
            else:
                res["verify"]["restore"] = {"ok": False, "error": f"rc {r['rc']}: {' | '.join(r['stderr_tail'])}"}
            shutil.rmtree(target)

            # one account
            exp = sub_meta(self.mutated_meta, self.account)
            top = {rel for rel in exp if "/" not in rel}
            for k, cmd in enumerate(tool.restore_account(repo, os.path.join(rd, "restore-account"), self.account)):
                target = os.path.join(rd, "restore-account")
                if os.path.exists(target):
                    shutil.rmtree(target)
                os.makedirs(target)
                log(f"{tool.name} run {run + 1}: one-account restore ({self.account})")
                r = self.timed(tool, cmd, env, target, lb(f"account{k}"))
                r["data_bytes"] = stats_of(exp)["bytes"]
                if r["ok"]:
                    break
            res["steps"]["account"] = r
            log(f"  {r['seconds']:.1f} s rc {r['rc']} rss {r['maxrss_kb'] // 1024} MiB")
            if r["ok"]:
                root = find_root(target, top, tool.account_candidates(self.account))
                v = self.verify(root, exp)
                if tool.name == "lifeboat" and root:
                    d = subprocess.run(["diff", "-r", "--no-dereference", os.path.join(self.node, self.account), root],
                                       capture_output=True, text=True)
                    v["diff_r"] = d.returncode == 0
                    v["diff_output"] = d.stdout[-1500:] + d.stderr[-500:]
                    v["ok"] = v["ok"] and v["diff_r"]
                res["verify"]["account"] = v
                log(f"  verify: {self.verify_line(v)}")
            else:
                res["verify"]["account"] = {"ok": False, "error": f"rc {r['rc']}: {' | '.join(r['stderr_tail'])}"}
            shutil.rmtree(target)
            res["ok"] = all(s["ok"] for s in res["steps"].values()) and all(v.get("ok") for v in res["verify"].values())
            if not res["ok"] and not res["error"]:
                res["error"] = "restore failed or did not verify"
        except Exception as e:   # report the tool's failure, carry on with the others
            res["error"] = str(e)
            log(f"{tool.name} run {run + 1}: FAILED: {e}")
        finally:
            for s in res["steps"].values():
                s.pop("stdout", None)
            if not a.keep:
                shutil.rmtree(rd, ignore_errors=True)
                self.scratch.trim()
        return res

    def verify(self, root, expected):
        if root is None:
            return {"ok": False, "error": "restored tree not found in the target directory"}
        got = meta_map(root)
        v = compare_meta(expected, got)
        v["root"] = root
        v["expected"] = stats_of(expected)
        v["restored"] = stats_of(got)
        v["counts_match"] = all(v["expected"][k] == v["restored"][k] for k in ("files", "dirs", "symlinks", "bytes"))
        v["ok"] = v["ok"] and v["counts_match"]
        return v

    @staticmethod
    def verify_line(v):
        if "error" in v:
            return "FAILED: " + v["error"]
        s = (f"{'ok' if v['ok'] else 'MISMATCH'}: {v['restored']['files']:,}/{v['expected']['files']:,} files, "
             f"{v['restored']['bytes']:,}/{v['expected']['bytes']:,} bytes; modes differ {sum(v['mode_mismatch'].values())}, "
             f"mtimes differ {sum(v['mtime_mismatch'].values())}")
        if "diff_r" in v:
            s += f"; diff -r {'clean' if v['diff_r'] else 'DIFFERS'}"
        if v["examples"]:
            s += f"; e.g. {v['examples'][:3]}"
        return s


# ----------------------------------------------------------------------------
# The node section: one snapshot per account, the whole node back at once vs account by account

NODE_VARIANTS = [("node_size", "lifeboat", "lifeboat node restore, smallest first"),
                 ("node_name", "lifeboat", "lifeboat node restore, name order"),
                 ("each_lifeboat", "lifeboat", "lifeboat restore, one account at a time"),
                 ("each_restic", "restic", "restic restore, one account at a time"),
                 ("node_noindex", "lifeboat", "lifeboat node restore, smallest first, index deleted")]
STATE_DIR = ".lifeboat-restore"     # node restore's journal and timeline, inside the target


def time_to(done_sorted, n, fraction):
    """When `fraction` of n accounts were done (ceil, at least one), as lifeboat's node restore counts it."""
    if n == 0:
        return 0.0
    need = max(1, math.ceil(fraction * n - 1e-9))
    return done_sorted[need - 1] if len(done_sorted) >= need else None


class NodeBench:
    """One snapshot per account of the same node, then, per run, every account restored:
    by `lifeboat node restore` (smallest first, and in name order) and by one restore command
    per account, one after another, with lifeboat and with restic (smallest first)."""

    def __init__(self, bench, args, tools):
        self.bench, self.args = bench, args
        self.tools = {t.name: t for t in tools if t.name in ("lifeboat", "restic")}
        self.accounts = sorted(bench.gen_summary["per_account"])
        self.acct_bytes = {a: stats_of(bench.pristine_meta, a)["bytes"] for a in self.accounts}
        self.smallest_first = sorted(self.accounts, key=lambda a: (self.acct_bytes[a], a))
        self.root = os.path.join(bench.work, "runs", "node")
        self.repos = {}

    def run(self):
        a = self.args
        res = {"node_name": a.node_name, "accounts": len(self.accounts), "order_each": "smallest first",
               "order": self.smallest_first, "account_bytes": self.acct_bytes, "backup": {}, "runs": []}
        if os.path.exists(self.root):
            shutil.rmtree(self.root)
        try:
            self.bench.reset_node()
            for name, tool in self.tools.items():
                res["backup"][name] = self.backup(tool)
            variants = [v for v in NODE_VARIANTS if v[1] in self.repos]
            for i in range(a.node_runs):
                k = i % len(variants) if variants else 0
                for v in variants[k:] + variants[:k]:     # rotate, so no variant always runs first
                    res["runs"].append(self.restore(v, i))
                if "lifeboat" in self.repos:
                    res.setdefault("repair", []).append(self.repair_index(i))
        finally:
            if not a.keep:
                shutil.rmtree(self.root, ignore_errors=True)
                self.bench.scratch.trim()
        return res

    def backup(self, tool):
        a, rd = self.args, os.path.join(self.root, tool.name)
        os.makedirs(os.path.join(rd, "logs"))
        repo = os.path.join(rd, "repo")
        env = tool.env(rd)
        out = {"ok": False, "error": None}
        try:
            for i, cmd in enumerate(tool.init(repo)):
                r = run_cmd(cmd, env, rd, os.path.join(rd, "logs", f"init{i}"), a.timeout)
                if r["rc"] != 0:
                    raise RuntimeError(f"init failed (rc {r['rc']}): {' | '.join(r['stderr_tail'])}")
            cmds = tool.node_backup(repo, a.node_name, self.accounts)
            log(f"node section: {tool.name}: one snapshot per account ({len(cmds)} command{'s' if len(cmds) > 1 else ''})")
            out["cache"] = "cold" if (not a.no_drop_caches and drop_caches()) else "warm"
            total = cpu = 0.0
            rss = 0
            for i, cmd in enumerate(cmds):
                r = run_cmd(cmd, env, rd, os.path.join(rd, "logs", f"backup{i}"), a.timeout)
                total += r["seconds"]
                cpu += r["user_s"] + r["sys_s"]
                rss = max(rss, r["maxrss_kb"])
                if r["rc"] not in tool.ok_codes or r["timed_out"]:
                    raise RuntimeError(f"{r['cmd']} failed (rc {r['rc']}{', timed out' if r['timed_out'] else ''}): "
                                       f"{' | '.join(r['stderr_tail'])}")
                if tool.name == "lifeboat":
                    j = json.loads(r["stdout"])
                    out["summary"] = j.get("summary")
                    bad = [x["account"] for x in j.get("accounts", []) if x.get("result") != "ok"]
                    if bad or len(j.get("accounts", [])) != len(self.accounts):
                        raise RuntimeError(f"node backup: {len(j.get('accounts', []))} accounts, not ok: {bad[:5]}")
            out.update(seconds=round(total, 3), commands=len(cmds), maxrss_kb=rss, cpu_s=round(cpu, 2),
                       repo_bytes=du_bytes(repo), data_bytes=self.bench.pristine_stats["bytes"], ok=True)
            self.repos[tool.name] = (rd, repo, env)
            log(f"  {total:.1f} s, repo {human_bytes(out['repo_bytes'])}, rss {rss // 1024} MiB")
        except Exception as e:
            out["error"] = str(e)
            log(f"node section: {tool.name}: backup FAILED: {e}")
        return out

    def restore(self, variant, i):
        key, tname, label = variant
        a, tool = self.args, self.tools[tname]
        rd, repo, env = self.repos[tname]
        target = os.path.join(rd, f"restore-{key}-{i + 1}")
        os.makedirs(target)
        logs = os.path.join(rd, "logs", f"{key}-{i + 1}")
        os.makedirs(logs)
        out = {"variant": key, "tool": tname, "run": i + 1, "ok": False, "error": None}
        log(f"node section run {i + 1}: {label}")
        try:
            if key == "node_noindex":
                self.whole_node(tool, self.without_index(rd, repo, "noindex"), env, target, logs, "size", out)
                root = target
            elif key.startswith("node_"):
                self.whole_node(tool, repo, env, target, logs, key[5:], out)
                root = target
            else:
                self.each_account(tool, rd, repo, env, target, logs, i, out)
                root = target if tname == "lifeboat" else find_root(target, set(self.accounts), tool.full_candidates())
            v = self.verify(root, diff=a.node_diff == "all" or (a.node_diff == "first" and i == 0))
            out["verify"] = v
            log(f"  verify: {Bench.verify_line(v)}")
            out["ok"] = out["ok"] and v.get("ok", False)
            if not out["ok"] and not out["error"]:
                out["error"] = "restore failed or did not verify"
        except Exception as e:
            out["error"] = str(e)
            log(f"  FAILED: {e}")
        finally:
            shutil.rmtree(target, ignore_errors=True)
            self.bench.scratch.trim()
        return out

    def without_index(self, rd, repo, name):
        """A copy of the repository (hard links: instant, no extra space) with every index segment deleted."""
        copy = os.path.join(rd, f"repo-{name}")
        if os.path.exists(copy):
            shutil.rmtree(copy)
        subprocess.run(["cp", "-al", repo, copy], check=True)
        for f in os.listdir(os.path.join(copy, "index")):
            os.unlink(os.path.join(copy, "index", f))
        return copy

    def repair_index(self, i):
        """`lifeboat repair index` on a copy of the node's repository whose index is deleted: every pack's trailer read."""
        rd, repo, env = self.repos["lifeboat"]
        copy = self.without_index(rd, repo, f"repair-{i + 1}")
        log(f"node section run {i + 1}: lifeboat repair index, index deleted")
        out = {"run": i + 1, "ok": False}
        try:
            r = self.bench.timed(self.tools["lifeboat"], [self.args.lifeboat, "repair", "index", "--repo", copy, "--json"],
                                 env, rd, os.path.join(rd, "logs", f"repair-{i + 1}"))
            out.update({k: r[k] for k in ("rc", "seconds", "maxrss_kb", "cache")})
            out["cpu_s"] = round(r["user_s"] + r["sys_s"], 2)
            if not r["ok"]:
                raise RuntimeError(f"rc {r['rc']}: {' | '.join(r['stderr_tail'])}")
            j = json.loads(r["stdout"])
            out.update(packs=j["packs"], packs_read=j["packs_read"], blobs=j["blobs"],
                       per_1000_packs_s=round(r["seconds"] * 1000 / max(1, j["packs_read"]), 3),
                       ok=j["packs_read"] == j["packs"] and not j["unreadable_packs"])
            log(f"  {r['seconds']:.2f} s for {j['packs_read']} packs ({out['per_1000_packs_s']:.2f} s per 1,000), rss {r['maxrss_kb'] // 1024} MiB")
        except Exception as e:
            out["error"] = str(e)
            log(f"  FAILED: {e}")
        finally:
            shutil.rmtree(copy, ignore_errors=True)
        return out

    def whole_node(self, tool, repo, env, target, logs, order, out):
        r = self.bench.timed(tool, tool.node_restore(repo, target, self.args.node_name, order), env, target,
                             os.path.join(logs, "restore"))
        out.update({k: r[k] for k in ("cmd", "rc", "seconds", "maxrss_kb", "cache", "timed_out", "stderr_tail")})
        out["cpu_s"] = round(r["user_s"] + r["sys_s"], 2)
        out["commands"] = 1
        log(f"  {r['seconds']:.1f} s rc {r['rc']} rss {r['maxrss_kb'] // 1024} MiB")
        if not r["ok"]:
            raise RuntimeError(f"rc {r['rc']}{', timed out' if r['timed_out'] else ''}: {' | '.join(r['stderr_tail'])}")
        j = json.loads(r["stdout"])
        sm = j["summary"]
        # lifeboat's clock starts once the repository is open and its index loaded; the time before it
        # (and the few ms after the timeline is written) is wall time minus its duration: added to
        # every ready time, so they count from the start of the command, as for the per-account loops.
        startup = max(0.0, r["seconds"] - sm["duration_seconds"])
        ready = sorted(x["ready_s"] + startup for x in j["accounts"] if x["state"] == "ready" and x["ready_s"] is not None)
        # restored: an account's last file written, before its links, metadata and verification
        restored = sorted(x["restored_s"] + startup for x in j["accounts"] if x["state"] == "ready" and x["restored_s"] is not None)
        first = min((x["started_s"] for x in j["accounts"] if x["started_s"] is not None), default=None)
        n = len(j["accounts"])
        out.update(startup_s=round(startup, 3), duration_s=sm["duration_seconds"],
                   ready_reported={f: sm[f"ready_{f}_s"] for f in (50, 90, 100)},
                   ready={f: time_to(ready, n, f / 100) for f in (50, 90, 100)},
                   restored={f: time_to(restored, n, f / 100) for f in (50, 90, 100)},
                   content_start_s=None if first is None else round(first + startup, 3),
                   bytes_fetched=sm["bytes_fetched"], bytes_written=sm["bytes_written"],
                   accounts_ready=sm["ready"], accounts_failed=sm["failed"],
                   order=[x["account"] for x in j["accounts"]],
                   per_account=[{"account": x["account"], "bytes": x["bytes"], "started_s": x["started_s"],
                                 "restored_s": x["restored_s"], "ready_s": x["ready_s"]} for x in j["accounts"]])
        out["ok"] = sm["ready"] == len(self.accounts) == n and sm["failed"] == 0
        if not out["ok"]:
            out["error"] = f"{sm['ready']} of {n} accounts ready, {sm['failed']} failed (node has {len(self.accounts)})"
        log(f"  ready 50% {fmt_s(out['ready'][50])}, 90% {fmt_s(out['ready'][90])}, 100% {fmt_s(out['ready'][100])} "
            f"(startup {startup:.2f} s); fetched {human_bytes(sm['bytes_fetched'])}, written {human_bytes(sm['bytes_written'])}")

    def each_account(self, tool, rd, repo, env, target, logs, i, out):
        a = self.args
        env = dict(env)
        # a fresh cache per run: the restoring host starts without one, the loop then shares it
        env["XDG_CACHE_HOME"] = os.path.join(rd, f"cache-{i + 1}")
        if tool.name == "restic":
            env["RESTIC_CACHE_DIR"] = os.path.join(rd, f"cache-{i + 1}", "restic")
        cache = "cold" if (not a.no_drop_caches and drop_caches()) else "warm"
        t = cpu = 0.0
        rss = 0
        per, failed = [], []
        t0 = time.perf_counter()
        for k, acct in enumerate(self.smallest_first):
            r = run_cmd(tool.restore_one(repo, target, a.node_name, acct), env, target, os.path.join(logs, f"{k:04d}"), a.timeout)
            t += r["seconds"]
            cpu += r["user_s"] + r["sys_s"]
            rss = max(rss, r["maxrss_kb"])
            ok = r["rc"] == 0 and not r["timed_out"] and tool.restore_one_ok(r)
            per.append({"account": acct, "bytes": self.acct_bytes[acct], "seconds": r["seconds"], "done_s": round(t, 3),
                        "rc": r["rc"], "ok": ok, "written": tool.restore_one_written(r)})
            if not ok:
                failed.append(acct)
                log(f"  {acct}: FAILED rc {r['rc']}: {' | '.join(r['stderr_tail'])}")
        loop_wall = time.perf_counter() - t0
        n = len(self.smallest_first)
        done = sorted(p["done_s"] for p in per if p["ok"])
        out.update(cmd=tool.restore_one(repo, target, a.node_name, "ACCOUNT"), rc=0 if not failed else 1,
                   seconds=round(t, 3), loop_wall_s=round(loop_wall, 3), maxrss_kb=rss, cpu_s=round(cpu, 2), cache=cache,
                   commands=n, ready={f: time_to(done, n, f / 100) for f in (50, 90, 100)},
                   bytes_written=None if None in [p["written"] for p in per] else sum(p["written"] for p in per),
                   accounts_ready=n - len(failed), accounts_failed=len(failed), per_account=per)
        out["cmd"] = " ".join(shlex.quote(c) for c in out["cmd"])
        out["ok"] = not failed
        if failed:
            out["error"] = f"{len(failed)} of {n} accounts failed: {failed[:5]}"
        log(f"  {t:.1f} s in {n} commands (loop {loop_wall:.1f} s) rss {rss // 1024} MiB; ready 50% {fmt_s(out['ready'][50])}, "
            f"90% {fmt_s(out['ready'][90])}, 100% {fmt_s(out['ready'][100])}")

    def verify(self, root, diff):
        if root is None:
            return {"ok": False, "error": "restored node not found in the target directory"}
        got = meta_map(root)
        got = {r: x for r, x in got.items() if r != STATE_DIR and not r.startswith(STATE_DIR + "/")}
        v = compare_meta(self.bench.pristine_meta, got)
        v["root"] = root
        v["expected"] = self.bench.pristine_stats
        v["restored"] = stats_of(got)
        v["counts_match"] = all(v["expected"][k] == v["restored"][k] for k in ("files", "dirs", "symlinks", "bytes"))
        v["ok"] = v["ok"] and v["counts_match"]
        if diff:
            # contents too: every account against the node it was backed up from
            bad = []
            for acct in self.accounts:
                d = subprocess.run(["diff", "-r", "--no-dereference", "-q", os.path.join(self.bench.node, acct),
                                    os.path.join(root, acct)], capture_output=True, text=True)
                if d.returncode != 0:
                    bad.append(acct)
                    v.setdefault("diff_output", (d.stdout[-1000:] + d.stderr[-300:]))
            v["diff_r"] = not bad
            if bad:
                v["diff_accounts"] = bad[:20]
            v["ok"] = v["ok"] and v["diff_r"]
        return v


def summarize_node(nres):
    summ = {}
    rep = [r for r in nres.get("repair", []) if r.get("ok")]
    if rep:
        summ["repair"] = {"runs": len(rep), "seconds": median([r["seconds"] for r in rep]), "packs": rep[0]["packs"],
                          "blobs": rep[0]["blobs"], "per_1000_packs_s": median([r["per_1000_packs_s"] for r in rep]),
                          "maxrss_kb": median([r["maxrss_kb"] for r in rep]), "cpu_s": median([r["cpu_s"] for r in rep])}
    for key, tname, label in NODE_VARIANTS:
        good = [r for r in nres["runs"] if r["variant"] == key and r["ok"]]
        if not good:
            continue
        summ[key] = {"runs": len(good), "tool": tname, "label": label,
                     "seconds": median([g["seconds"] for g in good]),
                     "ready": {f: median([g["ready"][f] for g in good]) for f in (50, 90, 100)},
                     "maxrss_kb": median([g["maxrss_kb"] for g in good]),
                     "cpu_s": median([g["cpu_s"] for g in good]),
                     "bytes_fetched": median([g.get("bytes_fetched") for g in good]),
                     "bytes_written": median([g.get("bytes_written") for g in good]),
                     "startup_s": median([g.get("startup_s") for g in good]),
                     "restored": {f: median([g.get("restored", {}).get(f) for g in good]) for f in (50, 90, 100)},
                     "content_start_s": median([g.get("content_start_s") for g in good]),
                     "loop_overhead_s": median([g["loop_wall_s"] - g["seconds"] for g in good if "loop_wall_s" in g]),
                     # one command for one of the smallest tenth of the accounts: the fixed cost a loop pays per account
                     "small_command_s": median([median([p["seconds"] for p in g["per_account"][:max(1, len(g["per_account"]) // 10)]])
                                                for g in good if "loop_wall_s" in g]),
                     "cache": good[0]["cache"]}
    return summ


# ----------------------------------------------------------------------------
# Machine, summary, report

def machine_info(work):
    info = {"nproc": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version()}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    info["ram_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        info["filesystem"] = subprocess.run(["stat", "-f", "-c", "%T", work], capture_output=True, text=True).stdout.strip()
        info["os"] = subprocess.run(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"], capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    info["loadavg_at_start"] = [round(x, 2) for x in os.getloadavg()]
    return info


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarize(results, tools):
    summ = {}
    for t in tools:
        runs = [r for r in results if r["tool"] == t]
        st = {}
        for step, _ in STEPS:
            good = [r["steps"][step] for r in runs if step in r["steps"] and r["steps"][step]["ok"]
                    and (step not in r["verify"] or r["verify"][step].get("ok"))]
            if not good:
                continue
            sec = median([g["seconds"] for g in good])
            data = median([g.get("data_bytes") for g in good])
            st[step] = {"runs": len(good), "seconds": sec, "mb_per_s": data / 1e6 / sec if data and sec else None,
                        "maxrss_kb": median([g["maxrss_kb"] for g in good]),
                        "cpu_s": median([g["user_s"] + g["sys_s"] for g in good]),
                        "repo_bytes": median([g.get("repo_bytes") for g in good]),
                        "stored_bytes": median([g.get("stored_bytes") for g in good]),
                        "cache": good[0]["cache"]}
        summ[t] = st
    return summ


def fmt_s(x):
    return "–" if x is None else (f"{x:.1f} s" if x >= 1 else f"{x:.2f} s")


def ratio(a, b):
    return "–" if not a or not b else f"{a / b:.2f}×"


def report(bench, args, machine, versions, avail, results, summ, cmdline, started):
    tools = [t for t in args.tool_list]
    ds = bench.pristine_stats
    g = bench.gen_summary
    mut = next((r["mutate"] for r in results if "mutate" in r), None)
    cache = "cold: page cache dropped before every timed step" if bench.drop_ok else \
        "warm: the page cache could not be dropped (not root?), so reads may come from memory"
    L = [BEGIN, "", f"## Results ({started[:10]})", ""]
    L.append(f"Node: {args.accounts} accounts, {ds['files']:,} files, {ds['dirs']:,} directories, {ds['symlinks']:,} symlinks, "
             f"{ds['bytes'] / 1e9:.2f} GB ({human_bytes(ds['bytes'])}); generated by `bench/gen_node.py --accounts {args.accounts} "
             f"--scale {args.scale:g} --seed {args.seed}` in {g.get('seconds', '?')} s. CMS core: {g.get('core_files')} files, "
             f"byte-identical in {g.get('core_versions', {}).get('6.4.3', '?')} accounts.")
    if mut:
        L.append(f"Day of changes (`--mutate --seed {args.mutate_seed}`): +{mut['added']:,} files, -{mut['deleted']:,}, "
                 f"{mut['modified']:,} modified, {mut['renamed']:,} renamed; new content {human_bytes(mut['new_content_bytes'])} "
                 f"(log appends {human_bytes(mut['bytes_appended'])}, new files {human_bytes(mut['bytes_added'])}, "
                 f"SQL edits {human_bytes(mut['bytes_edited'])}, CMS update {human_bytes(mut['core_update_bytes'])}).")
    acc = g["per_account"][bench.account]
    L.append(f"One-account restore: `{bench.account}` ({acc['files']:,} files, {human_bytes(acc['bytes'])}, the 75th percentile by size).")
    L.append("")
    L.append(f"Machine: {machine.get('cpu', '?')}, {machine['nproc']} cores, {machine.get('ram_gib', '?')} GiB RAM, "
             f"kernel {machine['kernel']}, {machine.get('os', '')}; data on {machine.get('scratch', '?')}; "
             f"load average at start {machine['loadavg_at_start']}. Cache: {cache}.")
    L.append("Versions: " + "; ".join(f"{t}: {versions.get(t) or 'n/a'}" for t in tools) + ".")
    L.append(f"Runs: {args.runs} per tool (medians below), fresh repository and caches per run. Settings: lifeboat defaults; "
             f"restic repository v2, compression auto; borg `repokey-blake2`, `--compression {args.borg_compression}`. "
             f"All encrypted, all repositories on the same local disk.")
    L.append("")
    L.append("Reproduce:")
    L.append("")
    L.append(f"    {cmdline}")
    L.append("")
    for t in tools:
        if not avail[t][0]:
            L.append(f"**{t} was not run**: {avail[t][1]}.")
            L.append("")
    # times
    ratio_cols = [f"lifeboat/{t}" for t in tools if t != "lifeboat" and "lifeboat" in tools]
    head = "| step | " + " | ".join(tools + ratio_cols) + " |"
    L.append("### Time (median wall time, MB/s of node or account bytes)")
    L.append("")
    L.append(head)
    L.append("|" + "---|" * (head.count("|") - 1))
    for step, label in STEPS:
        cells = []
        for t in tools:
            s = summ.get(t, {}).get(step)
            cells.append("failed" if s is None and avail[t][0] else "–" if s is None else
                         f"{fmt_s(s['seconds'])} ({s['mb_per_s']:.0f} MB/s)" if s["mb_per_s"] else fmt_s(s["seconds"]))
        rs = []
        if "lifeboat" in tools:
            lbs = summ.get("lifeboat", {}).get(step)
            for t in tools:
                if t != "lifeboat":
                    o = summ.get(t, {}).get(step)
                    rs.append(ratio(lbs and lbs["seconds"], o and o["seconds"]))
        L.append(f"| {label} | " + " | ".join(cells) + " |" + ("".join(f" {x} |" for x in rs)))
    L.append("")
    if ratio_cols:
        L.append("Ratios are lifeboat's time over the other tool's: below 1 means lifeboat is faster.")
        L.append("")
    # space
    L.append("### Repository size (du -sb) and stored bytes")
    L.append("")
    L.append("| | " + " | ".join(tools) + " |")
    L.append("|" + "---|" * (len(tools) + 1))
    rows = [("after first backup", "first", "repo_bytes"), ("added by the unchanged backup", "unchanged", "stored_bytes"),
            ("added by the day-of-changes backup", "changed", "stored_bytes"), ("after all three backups", "changed", "repo_bytes")]
    for label, step, key in rows:
        # Repository sizes in MiB, so "no larger than restic" is visible.
        fmt = mib_bytes if key == "repo_bytes" else human_bytes
        L.append(f"| {label} | " + " | ".join(fmt(summ.get(t, {}).get(step, {}).get(key)) for t in tools) + " |")
    if mut:
        L.append(f"| *new content in the day of changes* | " + " | ".join(human_bytes(mut["new_content_bytes"]) for _ in tools) + " |")
    L.append(f"| *node size* | " + " | ".join(human_bytes(ds["bytes"]) for _ in tools) + " |")
    L.append("")
    # memory and cpu
    L.append("### Peak RSS and CPU time (median)")
    L.append("")
    L.append("| step | " + " | ".join(tools) + " |")
    L.append("|" + "---|" * (len(tools) + 1))
    for step, label in STEPS:
        cells = []
        for t in tools:
            s = summ.get(t, {}).get(step)
            cells.append("–" if s is None else f"{s['maxrss_kb'] / 1024:.0f} MiB, {s['cpu_s']:.1f} s CPU")
        L.append(f"| {label} | " + " | ".join(cells) + " |")
    L.append("")
    # verification
    L.append("### Verification of the restores")
    L.append("")
    for t in tools:
        rr = [r for r in results if r["tool"] == t]
        if not rr:
            continue
        parts = []
        for r in rr:
            vs = []
            for step in ("restore", "account"):
                v = r["verify"].get(step)
                if v is None:
                    vs.append(f"{step}: not run")
                elif "error" in v:
                    vs.append(f"{step}: FAILED ({v['error'][:200]})")
                else:
                    meta = "metadata exact" if v["metadata_exact"] else \
                        f"modes differ {v['mode_mismatch']}, mtimes differ {v['mtime_mismatch']}"
                    vs.append(f"{step}: {'ok' if v['ok'] else 'MISMATCH'} ({v['restored']['files']:,} files, "
                              f"{human_bytes(v['restored']['bytes'])}; {meta}"
                              + (f"; diff -r {'clean' if v['diff_r'] else 'DIFFERS'}" if "diff_r" in v else "") + ")")
            status = "" if r["ok"] else f" — **failed**: {r['error']}"
            parts.append(f"run {r['run']}: " + "; ".join(vs) + status)
        L.append(f"- **{t}**: " + " / ".join(parts))
    L.append("")
    L.append(END)
    return "\n".join(L)


def node_report(nres, nsumm, bench, args, machine, versions, classic, cmdline, started):
    """The node section of the report (between NODE_BEGIN and NODE_END)."""
    ds = bench.pristine_stats
    n = nres["accounts"]
    name = nres["node_name"]
    bk = nres["backup"]
    L = [NODE_BEGIN, "", f"## Whole node vs one account at a time ({started[:10]})", ""]
    L.append(f"Same node as above: {n} accounts, {ds['files']:,} files, {ds['bytes'] / 1e9:.2f} GB "
             f"(`gen_node.py --accounts {args.accounts} --scale {args.scale:g} --seed {args.seed}`), backed up as one snapshot "
             f"per account under node name `{name}`. Machine: {machine['nproc']} cores, {machine.get('scratch', '?')}, load average "
             f"at start {machine['loadavg_at_start']}. Versions: " + "; ".join(f"{t}: {v}" for t, v in versions.items() if t in bk) + ".")
    L.append("")
    L.append("Reproduce (the whole benchmark; `--node-only` runs just this section):")
    L.append("")
    L.append(f"    {cmdline}")
    L.append("")
    # backup
    tl = [t for t in ("lifeboat", "restic") if t in bk]
    if tl:
        L.append("### One snapshot per account: the backup (one run)")
        L.append("")
        L.append("| | " + " | ".join(tl) + " |")
        L.append("|" + "---|" * (len(tl) + 1))
        cells = []
        for t in tl:
            b = bk[t]
            if not b.get("ok"):
                cells.append(f"failed: {b.get('error', '?')[:150]}")
            else:
                what = "`node backup`, 1 command" if t == "lifeboat" else f"`restic backup` × {b['commands']}"
                cells.append(f"{fmt_s(b['seconds'])} ({b['data_bytes'] / 1e6 / b['seconds']:.0f} MB/s; {what})")
        L.append("| one snapshot per account | " + " | ".join(cells) + " |")
        first = {t: (classic or {}).get(t, {}).get("first") for t in tl}
        L.append("| one snapshot of the whole node (first backup above, median) | "
                 + " | ".join(fmt_s(first[t]["seconds"]) if first[t] else "not run" for t in tl) + " |")
        L.append("| per account / whole node | " + " | ".join(
            ratio(bk[t].get("seconds") if bk[t].get("ok") else None, first[t] and first[t]["seconds"]) for t in tl) + " |")
        L.append("| repository size | " + " | ".join(mib_bytes(bk[t].get("repo_bytes")) for t in tl) + " |")
        L.append("| peak RSS, CPU time | " + " | ".join(
            f"{bk[t]['maxrss_kb'] / 1024:.0f} MiB, {bk[t]['cpu_s']:.1f} s" if bk[t].get("ok") else "–" for t in tl) + " |")
        L.append("")
    # restores
    runs = args.node_runs
    L.append(f"### Every account back (median of {runs} run{'s' if runs != 1 else ''})")
    L.append("")
    L.append("| way | commands | wall time | MB/s | 50% ready | 90% ready | 100% ready | fetched | written | peak RSS | CPU |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for key, tname, label in NODE_VARIANTS:
        s = nsumm.get(key)
        if s is None:
            ran = [r for r in nres["runs"] if r["variant"] == key]
            L.append(f"| {label} | " + ("failed" if ran or (tname in bk and not bk[tname].get("ok")) else "not run") + " |" + " |" * 10)
            continue
        rr = "" if s["runs"] == runs else f" ({s['runs']} of {runs} runs ok)"
        L.append(f"| {label}{rr} | {n if key.startswith('each') else 1} | {fmt_s(s['seconds'])} | {ds['bytes'] / 1e6 / s['seconds']:.0f} | "
                 + " | ".join(fmt_s(s["ready"][f]) for f in (50, 90, 100))
                 + f" | {human_bytes(s['bytes_fetched'])} | {human_bytes(s['bytes_written'])} | "
                 f"{s['maxrss_kb'] / 1024:.0f} MiB | {s['cpu_s']:.1f} s |")
    cl = (classic or {}).get("lifeboat", {}).get("restore")
    if cl:
        L.append(f"| *for comparison: lifeboat restore of the whole node as one snapshot ('full restore' above; not verified, not per account)* "
                 f"| 1 | {fmt_s(cl['seconds'])} | {cl['mb_per_s']:.0f} | – | – | – | – | – | {cl['maxrss_kb'] / 1024:.0f} MiB | {cl['cpu_s']:.1f} s |")
    cr = (classic or {}).get("restic", {}).get("restore")
    if cr:
        L.append(f"| *for comparison: restic restore of the whole node as one snapshot ('full restore' above; not verified, not per account)* "
                 f"| 1 | {fmt_s(cr['seconds'])} | {cr['mb_per_s']:.0f} | – | – | – | – | – | {cr['maxrss_kb'] / 1024:.0f} MiB | {cr['cpu_s']:.1f} s |")
    L.append("")
    L.append("MB/s: node bytes over wall time. Ready: when that share of the accounts was restored and verified, counted from "
             "the start of the first command. Fetched: what lifeboat node restore read from the repository's packs "
             "(stored bytes: compressed and encrypted; whole coalesced ranges, so gaps between wanted blobs count); written: content bytes written, as lifeboat reports them "
             "(a hard-linked file counts once); restic reports neither. Peak RSS: the largest of the commands; CPU: their sum.")
    L.append("")
    # ratios
    pairs = [("node_size", "node_name", "smallest first / name order (node restore)"),
             ("node_size", "each_lifeboat", "node restore (smallest first) / lifeboat one account at a time"),
             ("node_size", "each_restic", "node restore (smallest first) / restic one account at a time"),
             ("each_lifeboat", "each_restic", "lifeboat / restic, one account at a time"),
             ("node_noindex", "node_size", "node restore with the index deleted / intact")]
    rows = [(x, y, lab) for x, y, lab in pairs if x in nsumm and y in nsumm]
    if rows:
        L.append("### Ratios of the medians (time of the first over the second: below 1, the first is sooner)")
        L.append("")
        L.append("| | wall time | 50% ready | 90% ready | 100% ready |")
        L.append("|---|---|---|---|---|")
        for x, y, lab in rows:
            X, Y = nsumm[x], nsumm[y]
            L.append(f"| {lab} | {ratio(X['seconds'], Y['seconds'])} | "
                     + " | ".join(ratio(X["ready"][f], Y["ready"][f]) for f in (50, 90, 100)) + " |")
        L.append("")
    inside = [(k, lab) for k, _, lab in NODE_VARIANTS if k.startswith("node_") and k in nsumm]
    if inside:
        L.append("### Inside lifeboat node restore (medians; seconds from the start of the command)")
        L.append("")
        L.append("| order | repository open | content starts | 50% restored | 90% restored | 100% restored | 50% ready | 90% ready | 100% ready |")
        L.append("|---|---|---|---|---|---|---|---|---|")
        for k, lab in inside:
            x = nsumm[k]
            L.append(f"| {dict(node_size='smallest first', node_name='name', node_noindex='smallest first, index deleted')[k]} | "
                     f"{fmt_s(x['startup_s'])} | {fmt_s(x['content_start_s'])} | "
                     + " | ".join(fmt_s(x["restored"][f]) for f in (50, 90, 100)) + " | "
                     + " | ".join(fmt_s(x["ready"][f]) for f in (50, 90, 100)) + " |")
        L.append("")
        L.append("Repository open: before lifeboat's own clock starts (key, index). Content starts: the first account's first "
                 "content written (every account is planned before: trees read, directories created). Restored: an account's "
                 "last file written; ready: then its hard links, directory metadata and verification done.")
        L.append("")
    # how it was run
    su = nsumm.get("node_size", {}).get("startup_s")
    lo = [nsumm[k]["loop_overhead_s"] for k in ("each_lifeboat", "each_restic") if k in nsumm]
    L.append("How: the restic repository holds one snapshot per account (`restic backup --host " + name + " --tag account=A NODE/A`, "
             "accounts in name order); restic 0.14 cannot restore a subfolder of a snapshot (`latest:PATH` came later), so "
             "each account is restored with `restic restore latest --host " + name + " --tag account=A --target DIR --verify` and comes "
             "back at `DIR/<node path>/A`. lifeboat's per-account loop runs `lifeboat restore latest --account A --target DIR/A "
             "--verify` for each account. Both loops run the accounts **smallest first** (by bytes on disk, ties by name: the order "
             "of `node restore`'s default), one command after another; an account is done when its command exits, and the loop's "
             "times are the sums of the commands' wall times"
             + (f" (the harness's own time between commands, median {max(lo):.1f} s, is left out)" if lo else "") + ". "
             + ("One command for one of the smallest tenth of the accounts takes " + " and ".join(
                 f"{fmt_s(nsumm[k]['small_command_s'])} with {nsumm[k]['tool']}" for k in ("each_lifeboat", "each_restic") if k in nsumm)
                + " (median): mostly the fixed cost of a command (start, key derivation, index, snapshot list), which a loop "
                  "pays once per account. " if any(k in nsumm for k in ("each_lifeboat", "each_restic")) else "")
             + "All four ways verify every account against its snapshot (node restore does by default, the loops pass `--verify`). "
             "lifeboat node restore's ready times are its own (`--json`, `accounts[].ready_s`) plus the time before its clock starts "
             "(opening the repository and loading the index, taken as wall time minus its `duration_seconds`"
             + (f", median {su:.2f} s" if su is not None else "") + "). "
             "Each restore goes into an empty directory, with the page cache dropped before it (before the first command of a loop); "
             "each restic loop starts with an empty cache, which its commands then share. The four ways take turns going first.")
    L.append("")
    rp = nsumm.get("repair")
    if rp or "node_noindex" in nsumm:
        L.append("### With the index deleted (law 3: the index is a cache)")
        L.append("")
        if "node_noindex" in nsumm and "node_size" in nsumm:
            x, y = nsumm["node_noindex"], nsumm["node_size"]
            L.append(f"`lifeboat node restore` on a copy of the repository whose `index/` is empty: {fmt_s(x['seconds'])} "
                     f"vs {fmt_s(y['seconds'])} intact ({ratio(x['seconds'], y['seconds'])}); content starts at "
                     f"{fmt_s(x['content_start_s'])} vs {fmt_s(y['content_start_s'])}; every account verified. "
                     "It reads the trailers of the packs no segment lists (all of them here) in parallel, once, warns, and carries on: "
                     "no repair step, no operator action.")
            L.append("")
        if rp:
            L.append(f"`lifeboat repair index` on a copy with the index deleted (median of {rp['runs']}, page cache dropped): "
                     f"{fmt_s(rp['seconds'])} for {rp['packs']:,} packs ({rp['blobs']:,} blobs), **{rp['per_1000_packs_s']:.2f} s "
                     f"per 1,000 packs** on the local backend; peak RSS {rp['maxrss_kb'] / 1024:.0f} MiB, CPU {rp['cpu_s']:.1f} s. "
                     "It reads one small ranged request per pack (its footer and trailer), so on a remote backend the time is "
                     "about packs × round trip / 8 (eight requests in flight).")
            L.append("")
    L.append("### Verification")
    L.append("")
    for key, tname, label in NODE_VARIANTS:
        rr = [r for r in nres["runs"] if r["variant"] == key]
        if not rr:
            continue
        parts = []
        for r in rr:
            v = r.get("verify")
            if v is None:
                parts.append(f"run {r['run']}: FAILED ({(r.get('error') or '?')[:200]})")
            elif "error" in v:
                parts.append(f"run {r['run']}: FAILED ({v['error'][:200]})")
            else:
                meta = "metadata exact" if v["metadata_exact"] else \
                    f"modes differ {v['mode_mismatch']}, mtimes differ {v['mtime_mismatch']}"
                parts.append(f"run {r['run']}: {'ok' if v['ok'] and r['ok'] else 'FAILED'} ({r['accounts_ready']}/{n} accounts, "
                             f"{v['restored']['files']:,} files, {human_bytes(v['restored']['bytes'])}; {meta}"
                             + (f"; diff -r {'clean' if v['diff_r'] else 'DIFFERS'}" if "diff_r" in v else "") + ")"
                             + ("" if r["ok"] else f" — {r.get('error')}"))
        L.append(f"- **{label}**: " + " / ".join(parts))
    L.append("")
    L.append(NODE_END)
    return "\n".join(L)


HEADER = """# Benchmarks

lifeboat against the two tools a hosting provider would otherwise use, restic
and borg (the Debian 12 packages), on the same data, on the same machine.

**The data** is a generated hosting node (`bench/gen_node.py`, deterministic
from its seed): N accounts with heavy-tailed sizes (most small, a few huge), a
CMS core of ~1,100 small PHP/JS/CSS files byte-identical in ~80% of the
accounts (plus shared plugins and themes), incompressible uploads, compressible
logs and SQL dumps, Maildir mail, a few 100+ MiB files, empty directories,
symlinks and hard links. `gen_node.py --mutate` applies a day of changes: log
appends, SQL re-dumps with a few rows changed, new mail, new uploads, some
deletions, a CMS update in a handful of sites.

**The steps**, per tool and run, each with a fresh repository and caches: the
first backup of the whole node directory as one snapshot; an unchanged
re-backup; a backup after the day of changes; a full restore into an empty
directory; a one-account restore. Encryption is on for all three (lifeboat's
own, restic's, borg `repokey-blake2`); restic uses repository format v2 with
its default compression, borg its default lz4 unless the report says otherwise.
The page cache is dropped before each timed step when the harness runs as root.
As root the data lives on ext4 in a sparse image on a loop device (direct
I/O): the same for all tools, and deleting a restored node between runs is
then cheap even on hosts that discard on every unlink.
Restores are verified (names, types, sizes, link targets and total bytes must
match; mode and mtime differences are counted and reported).

**The node section** (second below): the same node backed up as one snapshot
per account (`lifeboat node backup`; restic: one `restic backup` per account),
then every account restored: by `lifeboat node restore` smallest first and in
name order, and by one restore command per account, one after another, with
lifeboat and with restic; wall time, throughput, when 50/90/100% of the
accounts were ready, ratios.

`bench/run_bench.py` regenerates the sections below; raw numbers are in
`bench/out/results.json` and `bench/out/node-results.json`.

"""


def publish_section(name, out, section, begin, end, results_path, results, t0):
    """A section's end: its report between BEGIN and END of `out`, its raw results as JSON, a log line, the report on stdout."""
    write_report(out, section, begin, end)
    os.makedirs(os.path.dirname(os.path.abspath(results_path)), exist_ok=True)
    with open(results_path, "w") as f:
        json.dump(results, f, indent=1)
    log(f"{name} section: report {out}; raw results {results_path}; {time.time() - t0:.0f} s")
    print(section)


def write_report(path, section, begin=BEGIN, end=END):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
        if begin in text and end in text:
            a, b = text.index(begin), text.index(end) + len(end)
            text = text[:a] + section + text[b:]
        else:
            text = text.rstrip("\n") + "\n\n" + section + "\n"
    else:
        text = HEADER + section + "\n"
    with open(path, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--lifeboat", default=os.path.join(ROOT, "build", "lifeboat"), help="the lifeboat binary")
    ap.add_argument("--tools", default="lifeboat,restic,borg", help="comma-separated subset of lifeboat,restic,borg")
    ap.add_argument("--accounts", type=int, default=None, help="accounts on the node (default 200)")
    ap.add_argument("--scale", type=float, default=None, help="byte volume factor (default 1: ~3 GB)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--mutate-seed", type=int, default=7)
    ap.add_argument("--runs", type=int, default=None, help="runs per tool (default 3)")
    ap.add_argument("--quick", action="store_true", help="smoke test: 20 accounts, scale 0.05, 1 run")
    ap.add_argument("--workdir", default="/var/tmp/lifeboat-bench")
    ap.add_argument("--out", default=None, help="Markdown report (default docs/BENCHMARKS.md; with --quick bench/out/BENCHMARKS-quick.md)")
    ap.add_argument("--results", default=os.path.join(HERE, "out", "results.json"))
    ap.add_argument("--account", default=None, help="account for the one-account restore (default: 75th percentile by size)")
    ap.add_argument("--borg-compression", default="lz4", help="borg --compression (default lz4, borg's default)")
    ap.add_argument("--timeout", type=int, default=3 * 3600, help="seconds before a step is killed")
    ap.add_argument("--no-drop-caches", action="store_true", help="do not drop the page cache before timed steps")
    ap.add_argument("--keep", action="store_true", help="keep repositories and logs of each run (under WORKDIR/fs/runs)")
    ap.add_argument("--no-loop", action="store_true", help="work in WORKDIR itself, not in an ext4 image on a loop device")
    ap.add_argument("--loop-size", type=int, default=64, help="GiB, apparent size of the sparse image (default 64)")
    g = ap.add_argument_group("node section (one snapshot per account; whole-node vs per-account restores)")
    x = g.add_mutually_exclusive_group()
    x.add_argument("--no-node-steps", action="store_true", help="skip the node section")
    x.add_argument("--node-only", action="store_true", help="run only the node section (the other section of the report is left as it is)")
    g.add_argument("--node-runs", type=int, default=None,
                   help="restore runs in the node section (default 2, with --quick 1: a run takes ~8 min at scale 1, "
                        "most of it restic's 200 restores)")
    g.add_argument("--node-name", default="web209", help="node name of the per-account snapshots (default web209)")
    g.add_argument("--node-diff", choices=("first", "all", "none"), default="first",
                   help="diff -r every restored account against the node: in the first run of each way (default), all runs, never")
    g.add_argument("--node-results", default=os.path.join(HERE, "out", "node-results.json"), help="raw results of the node section")
    import backends_bench   # here, not at the top: it imports this module
    import tiers_bench      # likewise
    backends_bench.add_arguments(ap)
    tiers_bench.add_arguments(ap)
    args = ap.parse_args()
    args.accounts = args.accounts or (20 if args.quick else 200)
    args.scale = args.scale or (0.05 if args.quick else 1.0)
    args.runs = args.runs or (1 if args.quick else 3)
    args.node_runs = args.node_runs or (1 if args.quick else 2)
    args.out = args.out or (os.path.join(HERE, "out", "BENCHMARKS-quick.md") if args.quick else os.path.join(ROOT, "docs", "BENCHMARKS.md"))
    args.lifeboat = os.path.abspath(args.lifeboat)
    backends_bench.finish_arguments(ap, args)
    tiers_bench.finish_arguments(ap, args)
    args.tool_list = [t.strip() for t in args.tools.split(",") if t.strip()]
    for t in args.tool_list:
        if t not in TOOLS:
            ap.error(f"unknown tool {t!r} (choose from {', '.join(TOOLS)})")
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    cmdline = "python3 bench/run_bench.py " + " ".join(
        shlex.quote(x) for x in [f"--lifeboat", os.path.relpath(args.lifeboat, ROOT) if args.lifeboat.startswith(ROOT) else args.lifeboat,
                                 "--tools", ",".join(args.tool_list), "--accounts", str(args.accounts), "--scale", f"{args.scale:g}",
                                 "--seed", str(args.seed), "--runs", str(args.runs), "--workdir", args.workdir]
        + (["--borg-compression", args.borg_compression] if args.borg_compression != "lz4" else [])
        + (["--no-node-steps"] if args.no_node_steps else ["--node-only"] if args.node_only else [])
        + (["--node-runs", str(args.node_runs)] if not args.no_node_steps else [])
        + (["--node-diff", args.node_diff] if args.node_diff != "first" and not args.no_node_steps else [])
        + (["--node-name", args.node_name] if args.node_name != "web209" and not args.no_node_steps else []))

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # so that the scratch filesystem is unmounted
    # One benchmark per work directory: two would mutate and reset the same node under each other.
    os.makedirs(args.workdir, exist_ok=True)
    lock = open(os.path.join(args.workdir, "lock"), "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "?"
        sys.exit(f"run_bench: another benchmark ({holder}) is using {args.workdir}; wait for it or pass another --workdir")
    lock.seek(0)
    lock.truncate()
    lock.write(f"pid {os.getpid()}, started {started}\n")
    lock.flush()
    scratch = Scratch(os.path.abspath(args.workdir), not args.no_loop, args.loop_size)
    scratch.setup()
    try:
        return run(args, scratch, started, cmdline)
    finally:
        scratch.teardown()


def run(args, scratch, started, cmdline):
    bench = Bench(args, scratch.data)
    bench.scratch = scratch
    machine = machine_info(scratch.data)
    machine["scratch"] = scratch.kind
    tools, avail, versions = [], {}, {}
    for t in args.tool_list:
        tool = TOOLS[t](args, bench.node)
        avail[t] = tool.available()
        if avail[t][0]:
            versions[t] = tool.version()
            tools.append(tool)
        else:
            log(f"{t}: not run: {avail[t][1]}")
    log(f"machine: {machine}")
    log(f"versions: {versions}")
    if not (args.backends_only or args.tiers_only):
        bench.prepare()
    t_start = time.time()
    failed = []
    classic = None
    if not args.node_only and not args.backends_only and not args.tiers_only:
        results = []
        for i in range(args.runs):
            order = tools[i % len(tools):] + tools[:i % len(tools)] if tools else []
            for tool in order:
                results.append(bench.run_tool(tool, i))
        bench.reset_node()
        summ = classic = summarize(results, args.tool_list)
        if bench.drop_ok is None:
            bench.drop_ok = False
        section = report(bench, args, machine, versions, avail, results, summ, cmdline, started)
        write_report(args.out, section)
        os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
        with open(args.results, "w") as f:
            json.dump({"started": started, "seconds": round(time.time() - t_start, 1), "command": cmdline, "machine": machine,
                       "versions": versions, "available": {t: {"ok": a[0], "reason": a[1]} for t, a in avail.items()},
                       "settings": {"accounts": args.accounts, "scale": args.scale, "seed": args.seed, "mutate_seed": args.mutate_seed,
                                    "runs": args.runs, "borg_compression": args.borg_compression,
                                    "cache": "cold" if bench.drop_ok else "warm", "workdir": os.path.abspath(args.workdir)},
                       "dataset": {"node": bench.pristine_stats, "generator": {k: v for k, v in bench.gen_summary.items() if k != "per_account"},
                                   "per_account": bench.gen_summary["per_account"], "account": bench.account,
                                   "mutate": next((r["mutate"] for r in results if "mutate" in r), None)},
                       "runs": results, "summary": summ}, f, indent=1)
        log(f"report: {args.out}; raw results: {args.results}; {time.time() - t_start:.0f} s")
        print(section)
        failed += [f"{r['tool']} run {r['run']}" for r in results if not r["ok"]]
    else:
        classic = earlier_classic(args)
    if not args.no_node_steps and not args.backends_only and not args.tiers_only:
        t_node = time.time()
        nb = NodeBench(bench, args, tools)
        nres = nb.run()
        nsumm = summarize_node(nres)
        section = node_report(nres, nsumm, bench, args, machine, versions, classic, cmdline, started)
        write_report(args.out, section, NODE_BEGIN, NODE_END)
        os.makedirs(os.path.dirname(os.path.abspath(args.node_results)), exist_ok=True)
        with open(args.node_results, "w") as f:
            json.dump({"started": started, "seconds": round(time.time() - t_node, 1), "command": cmdline, "machine": machine,
                       "versions": versions, "settings": {"accounts": args.accounts, "scale": args.scale, "seed": args.seed,
                                                          "node_runs": args.node_runs, "node_name": args.node_name,
                                                          "node_diff": args.node_diff, "workdir": os.path.abspath(args.workdir)},
                       "dataset": {"node": bench.pristine_stats}, **nres, "summary": nsumm}, f, indent=1)
        log(f"node section: report {args.out}; raw results {args.node_results}; {time.time() - t_node:.0f} s")
        print(section)
        failed += [f"node section: {t} backup" for t, b in nres["backup"].items() if not b.get("ok")]
        failed += [f"node section: {r['variant']} run {r['run']}" for r in nres["runs"] if not r["ok"]]
    if not args.no_backends and not args.node_only and not args.tiers_only:
        import backends_bench
        failed += backends_bench.run_section(args, scratch, machine, started)
    if not args.no_tiers and not args.node_only and not args.backends_only:
        import tiers_bench
        failed += tiers_bench.run_section(args, scratch, machine, started)
    log(f"total {time.time() - t_start:.0f} s")
    if failed:
        log("failures: " + ", ".join(failed))
    return 1 if failed or not tools else 0


def earlier_classic(args):
    """With --node-only: the other section's medians from its raw results, if they are of the same node."""
    try:
        with open(args.results) as f:
            old = json.load(f)
        st = old["settings"]
        if (st["accounts"], st["scale"], st["seed"]) == (args.accounts, args.scale, args.seed):
            log(f"node section: single-snapshot figures from {args.results} ({old['started']})")
            return old["summary"]
    except (OSError, ValueError, KeyError):
        pass
    return None


if __name__ == "__main__":
    sys.exit(main())
