"""Through each backend on loopback: first backup and full restore of one node, lifeboat and restic.

Part of bench/run_bench.py (`--backends-only` runs just this, `--no-backends`
leaves it out); not a program of its own.

    python3 bench/run_bench.py --backends-only [--backends local,rest,serve,s3,sftp
            --backends-scale 0.22 --backends-runs 3 --lifeboat build/lifeboat]

One node (bench/gen_node.py, --accounts and --seed as the rest of the
benchmark, --backends-scale for its byte volume: ~1 GB by default), kept in
WORKDIR/.../backends and reused while its parameters do not change.  For each
run, each backend and each tool (lifeboat, restic), with a server started
fresh on 127.0.0.1 and stopped (by PID) afterwards, a fresh repository and
fresh caches:

  backup   the first backup of the whole node directory as one snapshot
           (the command of run_bench.py's "first backup")
  restore  a full restore of it into an empty directory, then verified
           against the node (run_bench.py's meta_map/compare_meta)

The page cache is dropped before both (as root).  Recorded: wall time, MB/s
of node bytes, the client's peak RSS and CPU time, the server's CPU time
(its processes and their reaped children), and the bytes stored on the
server.  Backends (a row each):

  local  a directory
  rest   `rclone serve restic` (scripts/start-rclone-rest)
  serve  `lifeboat serve` (lifeboat: an append-only node credential; restic: an admin one)
  s3     Ceph RADOS Gateway (scripts/start-rgw)
  sftp   OpenSSH sshd, internal-sftp (scripts/start-sshd)

A backend whose server script is missing, or whose URL this lifeboat build
does not support (`lifeboat init` says "not supported by this build"), is
reported as skipped, with the reason.  Medians, each backend against the
local one (same tool), lifeboat against restic on the same server: report
between <!-- bench-backends:begin --> and <!-- bench-backends:end -->, raw
results in bench/out/backends-results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time

import run_bench as rb

BEGIN, END = "<!-- bench-backends:begin -->", "<!-- bench-backends:end -->"
SCRIPTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts")
TOOLS = ("lifeboat", "restic")
DEFAULT_SCALE = 0.22          # with 200 accounts: 1.14 GB, ~120k files, 28.6k directories
UNSUPPORTED = "not supported by this build"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def alive(pid):
    """Exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class CpuGroup:
    """A cgroup of its own for a server's processes (cgroup v2, else v1 cpuacct): the CPU time of everything
    they start counts, reparented or not (sshd's per-connection processes end up under PID 1).  Where there
    is none (not root, no cgroup filesystem), `path` is None and callers fall back to cpu_seconds()."""

    def __init__(self, name):
        self.path = self.usage = None
        try:
            with open("/proc/mounts") as f:
                mounts = [line.split() for line in f]
        except OSError:
            return
        cands = [(m[1], "cpu.stat") for m in mounts if m[2] == "cgroup2"]
        cands += [(m[1], "cpuacct.usage") for m in mounts if m[2] == "cgroup" and "cpuacct" in m[3].split(",")]
        for base, usage in cands:
            path = os.path.join(base, name)
            try:
                os.mkdir(path)
            except OSError:
                continue
            self.path, self.usage = path, usage
            return

    def add(self, pids):
        for pid in pids:
            try:
                with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
                    f.write(f"{pid}\n")
            except OSError:
                pass    # gone already

    def seconds(self):
        with open(os.path.join(self.path, self.usage)) as f:
            text = f.read()
        if self.usage == "cpu.stat":
            return int(dict(line.split() for line in text.splitlines())["usage_usec"]) / 1e6
        return int(text) / 1e9

    def remove(self):
        """Once its processes are gone (a stopped server's stragglers exit within moments)."""
        for _ in range(50):
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)
        rb.log(f"  cgroup {self.path} still busy; left in place")


def cpu_seconds(pids):
    """CPU time of the processes and of the children they have reaped."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                s = f.read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in s[11:15]) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            pass
    return total


def settle(pids, limit=3.0):
    """Wait until the server processes have reaped their children (so that cutime counts them)."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        busy = False
        for pid in pids:
            try:
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children") as f:
                        busy = busy or bool(f.read().strip())
            except OSError:
                pass
        if not busy:
            return
        time.sleep(0.05)


def kill_pids(pids, grace=10.0):
    """SIGTERM, then SIGKILL what is left after `grace` seconds: only these PIDs."""
    pids = [p for p in pids if p and alive(p)]
    for p in pids:
        try:
            os.kill(p, signal.SIGTERM)
        except ProcessLookupError:
            pass
    end = time.monotonic() + grace
    while any(alive(p) for p in pids) and time.monotonic() < end:
        time.sleep(0.1)
    for p in pids:
        if alive(p):
            rb.log(f"  server pid {p} ignored SIGTERM; SIGKILL")
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass


def first_line(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        return ((p.stdout.strip() or p.stderr.strip()).splitlines() or [""])[0]
    except (OSError, subprocess.SubprocessError):
        return ""


# ----------------------------------------------------------------------------
# Backends: where a tool's repository lives, and the server in front of it

class Backend:
    """A directory on this machine: no server."""
    key, label, script = "local", "local directory", None
    server_label = "–"

    def __init__(self, sec, state):
        self.sec, self.state = sec, state
        self.port = free_port()
        self.pids = []

    def available(self):
        if self.script and not os.path.isfile(os.path.join(SCRIPTS, self.script)):
            return False, f"scripts/{self.script} not found in this checkout"
        return True, ""

    def version(self):
        return ""

    def start(self):
        os.makedirs(self.state, exist_ok=True)

    def stop(self):
        kill_pids(self.pids)

    def track(self):
        """After start: the server's processes into a cgroup of their own, for their CPU time."""
        self.group = CpuGroup(f"lifeboat-bench-{self.key}-{os.getpid()}-{self.port}") if self.pids else None
        if self.group and self.group.path:
            self.group.add(self.pids)

    def untrack(self):
        if getattr(self, "group", None) and self.group.path:
            self.group.remove()

    def cpu(self):
        if getattr(self, "group", None) and self.group.path:
            return self.group.seconds()
        settle(self.pids)
        return cpu_seconds(self.pids)

    def repo(self, tool):
        return os.path.join(self.state, f"repo-{tool}")

    def tool_env(self, tool):
        return {}

    def tool_opts(self, tool):
        return []

    def prepare(self, tool):
        pass

    def stored_bytes(self, tool):
        return rb.du_bytes(self.repo(tool))


class ScriptBackend(Backend):
    """A server started and stopped by scripts/<script> start|stop, with STATE and PORT in its environment."""

    def script_env(self):
        return {"STATE": self.state, "PORT": str(self.port)}

    def pid_files(self):
        return []

    def run_script(self, action, timeout=300):
        env = dict(os.environ, **self.script_env())
        with open(os.path.join(self.state, f"{action}.log"), "a+") as out:
            p = subprocess.run(["bash", os.path.join(SCRIPTS, self.script), action], env=env, stdout=out,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=timeout)
            out.seek(0)
            tail = out.read()[-1500:].strip().splitlines()[-4:]
        return p.returncode, tail

    def start(self):
        os.makedirs(self.state, exist_ok=True)
        try:
            rc, tail = self.run_script("start")
        finally:    # whatever it got as far as starting is stopped with the rest
            self.pids = [p for p in (read_pid(f) for f in self.pid_files()) if p]
        if rc != 0:
            raise RuntimeError(f"scripts/{self.script} start failed (rc {rc}): {' | '.join(tail)}")

    def stop(self):
        try:
            self.run_script("stop", timeout=120)
        except (OSError, subprocess.SubprocessError) as e:
            rb.log(f"  scripts/{self.script} stop: {e}")
        kill_pids(self.pids)    # whatever the script left running, by the PIDs read at start


class Rest(ScriptBackend):
    key, label, script = "rest", "REST (`rclone serve restic`)", "start-rclone-rest"
    server_label = "rclone"
    USER, PASS = "bench", "bench-rest-pass-not-secret"

    def script_env(self):
        return dict(super().script_env(), REST_USER=self.USER, REST_PASS=self.PASS)

    def version(self):
        return first_line(["rclone", "version"])

    def pid_files(self):
        return [os.path.join(self.state, "rclone.pid")]

    def repo(self, tool):
        return f"rest:http://{self.USER}:{self.PASS}@127.0.0.1:{self.port}/{tool}/"

    def stored_bytes(self, tool):
        return rb.du_bytes(os.path.join(self.state, "repo", tool))


class Serve(Backend):
    """lifeboat serve: lifeboat with an append-only node credential (its use), restic with an admin one (it deletes its locks)."""
    key, label = "serve", "REST (`lifeboat serve`)"
    server_label = "lifeboat serve"
    PASS = "bench-serve-pass-not-secret"

    def available(self):
        ok = subprocess.run([self.sec.args.lifeboat, "serve", "--help"], capture_output=True).returncode == 0
        return ok, "" if ok else "this lifeboat build has no `serve` command"

    def version(self):
        return "lifeboat serve (the lifeboat above)"

    def start(self):
        os.makedirs(self.state, exist_ok=True)
        lb, creds = self.sec.args.lifeboat, os.path.join(self.state, "credentials")
        pw = os.path.join(self.state, "serve.pw")
        with open(pw, "w") as f:
            f.write(self.PASS + "\n")
        for tool in TOOLS:
            subprocess.run([lb, "serve", "add-credential", "--credentials", creds, "--name", tool, "--path", f"nodes/{tool}",
                            "--new-password-file", pw, "-q"] + (["--admin"] if tool == "restic" else []),
                           check=True, capture_output=True, timeout=120)
        err_path = os.path.join(self.state, "serve.err")
        with open(err_path, "wb") as err:
            p = subprocess.Popen([lb, "serve", "--root", os.path.join(self.state, "root"), "--credentials", creds,
                                  "--listen", f"127.0.0.1:{self.port}"], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        self.pids = [p.pid]
        self.proc = p
        for _ in range(100):
            with open(err_path, errors="replace") as f:
                text = f.read()
            if "serving" in text:
                return
            if p.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"lifeboat serve did not start: {text.strip()[-500:]}")

    def stop(self):
        super().stop()
        if getattr(self, "proc", None):
            self.proc.wait()    # reap it: ours

    def repo(self, tool):
        return f"rest:http://{tool}:{self.PASS}@127.0.0.1:{self.port}/nodes/{tool}/"

    def stored_bytes(self, tool):
        return rb.du_bytes(os.path.join(self.state, "root", "nodes", tool))


class S3(ScriptBackend):
    key, label, script = "s3", "S3 (Ceph RADOS Gateway)", "start-rgw"
    server_label = "Ceph mon + osd + radosgw"

    def __init__(self, sec, state):
        super().__init__(sec, state)
        self.mon_port = free_port()
        self.keys = {}

    def script_env(self):
        return dict(super().script_env(), MON_PORT=str(self.mon_port))

    def version(self):
        return first_line(["radosgw", "--version"])

    def pid_files(self):
        run = os.path.join(self.state, "run")
        return [os.path.join(run, f) for f in sorted(os.listdir(run)) if f.endswith(".pid")] if os.path.isdir(run) else []

    def start(self):
        super().start()
        with open(os.path.join(self.state, "s3.env")) as f:
            self.keys = dict(line.strip().split("=", 1) for line in f if "=" in line)

    def bucket(self, tool):
        return f"bench-{tool}"

    def repo(self, tool):
        return f"s3:http://127.0.0.1:{self.port}/{self.bucket(tool)}/repo"

    def tool_env(self, tool):
        return {"AWS_ACCESS_KEY_ID": self.keys.get("S3_ACCESS_KEY", ""), "AWS_SECRET_ACCESS_KEY": self.keys.get("S3_SECRET_KEY", ""),
                "AWS_DEFAULT_REGION": "us-east-1"}

    def prepare(self, tool):
        # the bucket exists before init, for both tools alike (restic would create it, lifeboat may expect it)
        code = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--aws-sigv4", "aws:amz:us-east-1:s3",
                               "--user", f"{self.keys.get('S3_ACCESS_KEY')}:{self.keys.get('S3_SECRET_KEY')}",
                               "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-X", "PUT",
                               f"http://127.0.0.1:{self.port}/{self.bucket(tool)}"], capture_output=True, text=True).stdout
        if code != "200":
            raise RuntimeError(f"creating bucket {self.bucket(tool)}: HTTP {code}")

    def stored_bytes(self, tool):
        p = subprocess.run(["radosgw-admin", "-c", os.path.join(self.state, "ceph.conf"), "bucket", "stats",
                            f"--bucket={self.bucket(tool)}"], capture_output=True, text=True, timeout=120)
        try:
            return json.loads(p.stdout)["usage"]["rgw.main"]["size"]
        except (ValueError, KeyError, TypeError):
            return None


class Sftp(ScriptBackend):
    key, label, script = "sftp", "SFTP (OpenSSH sshd)", "start-sshd"
    server_label = "sshd"
    USER = "sftptest"

    def version(self):
        return first_line(["ssh", "-V"])

    def pid_files(self):
        return [os.path.join(self.state, "sshd.pid.launcher")]

    def path(self, tool):
        return os.path.join(self.state, "home", self.USER, tool)

    def key_file(self):
        return os.path.join(self.state, "client_ed25519")

    def known_hosts(self):
        return os.path.join(self.state, "known_hosts")

    def repo(self, tool):
        if tool == "restic":    # the host part is ignored: sftp.command below says where
            return f"sftp:{self.USER}@127.0.0.1:{self.path(tool)}"
        return f"sftp:{self.USER}@127.0.0.1:{self.port}{self.path(tool)}"

    def tool_env(self, tool):
        return {"LIFEBOAT_SFTP_IDENTITY": self.key_file(), "LIFEBOAT_SFTP_KNOWN_HOSTS": self.known_hosts()}

    def tool_opts(self, tool):
        if tool != "restic":
            return []
        ssh = (f"ssh -i {self.key_file()} -o IdentitiesOnly=yes -o UserKnownHostsFile={self.known_hosts()} "
               f"-o StrictHostKeyChecking=yes -o BatchMode=yes -p {self.port} {self.USER}@127.0.0.1 -s sftp")
        return ["-o", f"sftp.command={ssh}"]

    def stored_bytes(self, tool):
        return rb.du_bytes(self.path(tool))


BACKENDS = {b.key: b for b in (Backend, Rest, Serve, S3, Sftp)}


def with_opts(cmd, opts):
    """restic -r REPO OPTS...: extended options right after the repository."""
    return cmd[:3] + opts + cmd[3:] if opts else cmd


# ----------------------------------------------------------------------------
# The section

class BackendsBench:
    def __init__(self, args, scratch, data_dir):
        self.args = args
        self.scratch = scratch
        # a node of its own (its scale differs from the other sections'), in its own directory
        bargs = argparse.Namespace(**vars(args))
        bargs.scale = args.backends_scale
        self.bench = rb.Bench(bargs, data_dir)
        self.bench.scratch = scratch
        self.runs_dir = os.path.join(data_dir, "runs")
        self.tools = {}
        self.skip = {}

    def probe(self, key):
        """Why this backend's row is skipped (no server script; lifeboat cannot use it), or None.  Against a port where nothing listens: a build
        without the backend says so at once; one with it tries to connect and is stopped after 3 s."""
        b = BACKENDS[key](self, "/nonexistent/lifeboat-bench-probe")
        ok, why = b.available()
        if not ok:
            return why
        if key in ("local", "serve") or "lifeboat" not in self.tools:
            return None
        env = dict(os.environ, LIFEBOAT_PASSWORD=rb.PASSWORD, **b.tool_env("lifeboat"))
        try:
            p = subprocess.run([self.args.lifeboat, "init", "--repo", b.repo("lifeboat")], capture_output=True, text=True,
                               env=env, timeout=3, stdin=subprocess.DEVNULL)
            err = p.stderr
        except subprocess.TimeoutExpired as e:
            err = (e.stderr or b"").decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        if UNSUPPORTED in err:
            return "lifeboat: " + err.strip().splitlines()[-1].removeprefix("lifeboat: ")
        return None

    def run(self):
        a = self.args
        for t in TOOLS:
            if t not in a.tool_list:
                self.skip[("tool", t)] = "left out (--tools)"
                continue
            tool = rb.TOOLS[t](a, self.bench.node)
            ok, why = tool.available()
            if ok:
                self.tools[t] = tool
            else:
                self.skip[("tool", t)] = why
                rb.log(f"backends: {t}: not run: {why}")
        keys = a.backends_list
        for k in keys:
            why = self.probe(k)
            if why:
                self.skip[k] = why
                rb.log(f"backends: {k}: skipped: {why}")
        self.bench.prepare()
        if os.path.exists(self.runs_dir):
            shutil.rmtree(self.runs_dir)
        results = []
        live = [k for k in keys if k not in self.skip]
        tools = list(self.tools.values())
        for i in range(a.backends_runs):
            # take turns: no backend, no tool always first
            bo = live[i % len(live):] + live[:i % len(live)] if live else []
            for k in bo:
                to = tools[i % len(tools):] + tools[:i % len(tools)] if tools else []
                for tool in to:
                    results.append(self.run_one(k, tool, i))
        if not a.keep:
            shutil.rmtree(self.runs_dir, ignore_errors=True)
        return results

    def run_one(self, key, tool, i):
        a, bench = self.args, self.bench
        rd = os.path.join(self.runs_dir, f"{key}-{tool.name}-{i + 1}")
        if os.path.exists(rd):
            shutil.rmtree(rd)
        os.makedirs(os.path.join(rd, "logs"))
        for d in (self.runs_dir, rd):       # the sftp user walks down to its home under rd/server
            os.chmod(d, 0o755)
        lb = lambda step: os.path.join(rd, "logs", step)
        res = {"backend": key, "tool": tool.name, "run": i + 1, "ok": False, "error": None, "steps": {}}
        srv = BACKENDS[key](self, os.path.join(rd, "server"))
        try:
            rb.log(f"backends run {i + 1}: {key} / {tool.name}: starting the server")
            t0 = time.perf_counter()
            srv.start()
            srv.track()
            res["server_start_s"] = round(time.perf_counter() - t0, 2)
            env = tool.env(rd)
            env.update(srv.tool_env(tool.name))
            repo, opts = srv.repo(tool.name), srv.tool_opts(tool.name)
            srv.prepare(tool.name)
            for n, cmd in enumerate(tool.init(repo)):
                r = rb.run_cmd(with_opts(cmd, opts), env, rd, lb(f"init{n}"), a.timeout)
                if r["rc"] != 0:
                    raise RuntimeError(f"init failed (rc {r['rc']}): {' | '.join(r['stderr_tail'])}")
            node_bytes = bench.pristine_stats["bytes"]
            for step in ("backup", "restore"):
                target = os.path.join(rd, "restore")
                if step == "backup":
                    cmd = tool.backup(repo, "first")
                else:
                    os.makedirs(target)
                    cmd = tool.restore_all(repo, target)
                cpu0 = srv.cpu()
                r = bench.timed(tool, with_opts(cmd, opts), env, target if step == "restore" else rd, lb(step))
                r["server_cpu_s"] = round(srv.cpu() - cpu0, 2) if srv.pids else None
                r["data_bytes"] = node_bytes
                r.pop("stdout", None)
                res["steps"][step] = r
                if step == "backup":
                    r["stored_bytes"] = srv.stored_bytes(tool.name)
                    if r["ok"] and (r["stored_bytes"] or 0) < node_bytes // 100:
                        r["ok"] = False
                        r["stderr_tail"].append(f"exited {r['rc']} but the server holds only {r['stored_bytes']} bytes")
                rb.log(f"  {step}: {r['seconds']:.1f} s rc {r['rc']} rss {r['maxrss_kb'] // 1024} MiB"
                       + (f", stored {rb.human_bytes(r.get('stored_bytes'))}" if step == "backup" else ""))
                if not r["ok"]:
                    raise RuntimeError(f"{step} failed (rc {r['rc']}{', timed out' if r['timed_out'] else ''}): "
                                       f"{' | '.join(r['stderr_tail'])}")
            root = rb.find_root(target, set(bench.gen_summary["per_account"]), tool.full_candidates())
            res["verify"] = v = bench.verify(root, bench.pristine_meta)
            rb.log(f"  verify: {rb.Bench.verify_line(v)}")
            res["ok"] = v["ok"]
            if not v["ok"]:
                res["error"] = "the restore did not verify"
        except Exception as e:     # report it, carry on with the other backends
            res["error"] = str(e)
            rb.log(f"backends run {i + 1}: {key} / {tool.name}: FAILED: {e}")
        finally:
            srv.stop()
            srv.untrack()
            if not a.keep:
                shutil.rmtree(rd, ignore_errors=True)
                self.scratch.trim()
        return res


def summarize(results):
    summ = {}
    for r in results:
        if not r["ok"]:
            continue
        s = summ.setdefault(r["backend"], {}).setdefault(r["tool"], {"runs": []})
        s["runs"].append(r)
    for per in summ.values():
        for s in per.values():
            good = s.pop("runs")
            s["runs"] = len(good)
            for step in ("backup", "restore"):
                g = [x["steps"][step] for x in good]
                sec = rb.median([x["seconds"] for x in g])
                s[step] = {"seconds": sec, "mb_per_s": g[0]["data_bytes"] / 1e6 / sec if sec else None,
                           "maxrss_kb": rb.median([x["maxrss_kb"] for x in g]),
                           "cpu_s": rb.median([x["user_s"] + x["sys_s"] for x in g]),
                           "server_cpu_s": rb.median([x.get("server_cpu_s") for x in g]),
                           "cache": g[0]["cache"]}
            s["stored_bytes"] = rb.median([x["steps"]["backup"].get("stored_bytes") for x in good])
            s["server_start_s"] = rb.median([x.get("server_start_s") for x in good])
    return summ


# ----------------------------------------------------------------------------
# Report

def cell(summ, results, skip, key, tool, step):
    if key in skip:
        return "skipped"
    if ("tool", tool) in skip:
        return "not run"
    s = summ.get(key, {}).get(tool)
    if s is None:
        return "failed" if any(r["backend"] == key and r["tool"] == tool for r in results) else "–"
    x = s[step]
    return f"{rb.fmt_s(x['seconds'])} ({x['mb_per_s']:.0f} MB/s)"


def secs(summ, key, tool, step):
    return summ.get(key, {}).get(tool, {}).get(step, {}).get("seconds")


def report(sec, results, summ, machine, versions, cmdline, started):
    a, bench = sec.args, sec.bench
    ds, keys, skip = bench.pristine_stats, a.backends_list, sec.skip
    runs = a.backends_runs
    cache = "cold: page cache dropped before every timed step" if bench.drop_ok else \
        "warm: the page cache could not be dropped (not root?), so reads may come from memory"
    L = [BEGIN, "", f"## Through each backend on loopback ({started[:10]})", ""]
    L.append(f"Node: {a.accounts} accounts, {ds['files']:,} files, {ds['dirs']:,} directories, {ds['bytes'] / 1e9:.2f} GB "
             f"({rb.human_bytes(ds['bytes'])}); `bench/gen_node.py --accounts {a.accounts} --scale {a.backends_scale:g} "
             f"--seed {a.seed}` (a smaller node than above, same generator).")
    L.append("")
    L.append(f"Machine: {machine.get('cpu', '?')}, {machine['nproc']} cores, {machine.get('ram_gib', '?')} GiB RAM, "
             f"kernel {machine['kernel']}; data, repositories and servers' storage on {machine.get('scratch', '?')}; "
             f"load average at start {machine['loadavg_at_start']}. Cache: {cache}.")
    L.append("Versions: " + "; ".join(f"{k}: {v}" for k, v in versions.items() if v) + ".")
    L.append(f"Runs: {runs} (medians below); each tool on each backend gets a server started fresh on 127.0.0.1 "
             "(stopped after), a fresh repository and fresh caches. Settings: lifeboat defaults; restic repository v2, "
             "compression auto. Both encrypted.")
    L.append("")
    L.append("Reproduce (`make bench` runs this section after the other two):")
    L.append("")
    L.append(f"    {cmdline}")
    L.append("")
    for t in TOOLS:
        if ("tool", t) in skip:
            L.append(f"**{t} was not run**: {skip[('tool', t)]}.")
            L.append("")
    L.append("### Time (median wall time, MB/s of node bytes)")
    L.append("")
    L.append("| backend | lifeboat first backup | lifeboat full restore | restic first backup | restic full restore | "
             "lifeboat/restic backup | lifeboat/restic restore |")
    L.append("|---|---|---|---|---|---|---|")
    for k in keys:
        label = BACKENDS[k].label
        if k in skip:
            L.append(f"| {label} | skipped: {skip[k]} | | | | | |")
            continue
        L.append(f"| {label} | " + " | ".join(cell(summ, results, skip, k, t, st) for t in TOOLS for st in ("backup", "restore"))
                 + " | " + " | ".join(rb.ratio(secs(summ, k, "lifeboat", st), secs(summ, k, "restic", st))
                                      for st in ("backup", "restore")) + " |")
    L.append("")
    L.append("lifeboat/restic: lifeboat's time over restic's on the same server: below 1, lifeboat is faster.")
    L.append("")
    L.append("### Against the local backend (time through the backend / time on a local directory, same tool)")
    L.append("")
    L.append("| backend | lifeboat backup | lifeboat restore | restic backup | restic restore |")
    L.append("|---|---|---|---|---|")
    for k in keys:
        if k == "local":
            continue
        if k in skip:
            L.append(f"| {BACKENDS[k].label} | skipped | | | |")
            continue
        L.append(f"| {BACKENDS[k].label} | " + " | ".join(rb.ratio(secs(summ, k, t, st), secs(summ, "local", t, st))
                                                           for t in TOOLS for st in ("backup", "restore")) + " |")
    L.append("")
    L.append("### Stored bytes, memory and CPU (medians)")
    L.append("")
    L.append("| backend | tool | stored on the server | backup: peak RSS, CPU | restore: peak RSS, CPU | "
             "server CPU backup / restore | server start |")
    L.append("|---|---|---|---|---|---|---|")
    for k in keys:
        if k in skip:
            continue
        for t in TOOLS:
            s = summ.get(k, {}).get(t)
            if s is None:
                continue
            rc = lambda st: f"{s[st]['maxrss_kb'] / 1024:.0f} MiB, {s[st]['cpu_s']:.1f} s"
            sc = "–" if s["backup"]["server_cpu_s"] is None else \
                f"{s['backup']['server_cpu_s']:.1f} s / {s['restore']['server_cpu_s']:.1f} s"
            L.append(f"| {BACKENDS[k].label} | {t} | {rb.mib_bytes(s['stored_bytes'])} | {rc('backup')} | {rc('restore')} | "
                     f"{sc} | {'–' if k == 'local' else rb.fmt_s(s['server_start_s'])} |")
    L.append("")
    L.append("Stored: `du -sb` of the repository on the server's disk (S3: the bucket's object bytes, `radosgw-admin bucket "
             "stats`). Peak RSS and CPU: the client command's. Server CPU: the server's processes and all they started "
             "(sshd: one process per connection), during the command, from a cgroup of their own. Server start: not in the times above.")
    L.append("")
    L.append("How: the backup is `lifeboat backup NODE --account node` and `restic backup --host benchnode NODE` (the "
             "'first backup' of the first section: the whole node as one snapshot); the restore `lifeboat restore latest "
             "--target DIR` and `restic restore latest --target DIR` into an empty directory, then compared with the node "
             "(names, types, sizes, link targets, total bytes; modes and mtimes counted). Servers: `rclone serve restic` "
             "(scripts/start-rclone-rest, basic auth); `lifeboat serve` over plain HTTP (lifeboat with an append-only node "
             "credential, restic with an admin one: it deletes its lock files); Ceph RADOS Gateway, one mon and one "
             "bluestore OSD on a file (scripts/start-rgw; the bucket is created before `init`); OpenSSH sshd with "
             "internal-sftp (scripts/start-sshd; restic through `-o sftp.command=\"ssh ...\"`). Everything on 127.0.0.1.")
    L.append("")
    L.append("### Verification")
    L.append("")
    for k in keys:
        if k in skip:
            L.append(f"- **{BACKENDS[k].label}**: skipped: {skip[k]}")
            continue
        for t in TOOLS:
            rr = [r for r in results if r["backend"] == k and r["tool"] == t]
            if not rr:
                continue
            parts = []
            for r in rr:
                v = r.get("verify")
                if v is None or "error" in v:
                    parts.append(f"run {r['run']}: FAILED ({(r.get('error') or (v or {}).get('error') or '?')[:300]})")
                    continue
                meta = "metadata exact" if v["metadata_exact"] else \
                    f"modes differ {v['mode_mismatch']}, mtimes differ {v['mtime_mismatch']}"
                parts.append(f"run {r['run']}: {'ok' if r['ok'] else 'MISMATCH'} ({v['restored']['files']:,} files, "
                             f"{rb.human_bytes(v['restored']['bytes'])}; {meta})")
            L.append(f"- **{BACKENDS[k].label}, {t}**: " + " / ".join(parts))
    L.append("")
    L.append(END)
    return "\n".join(L)


# ----------------------------------------------------------------------------
# Hooks for run_bench.py

def add_arguments(ap):
    g = ap.add_argument_group("backends section (first backup and full restore through each backend on loopback)")
    x = g.add_mutually_exclusive_group()
    x.add_argument("--no-backends", action="store_true", help="skip the backends section")
    x.add_argument("--backends-only", action="store_true", help="run only the backends section (the others are left as they are)")
    g.add_argument("--backends", default=",".join(BACKENDS), help=f"comma-separated subset of {','.join(BACKENDS)} (default: all)")
    g.add_argument("--backends-scale", type=float, default=None,
                   help=f"byte volume of the section's node (gen_node.py --scale; default {DEFAULT_SCALE:g}: ~1 GB with 200 "
                        "accounts; with --quick the --scale of the rest)")
    g.add_argument("--backends-runs", type=int, default=None, help="runs (default 3, with --quick 1)")
    g.add_argument("--backends-results", default=os.path.join(rb.HERE, "out", "backends-results.json"),
                   help="raw results of the backends section")


def finish_arguments(ap, args):
    if args.backends_only and args.node_only:
        ap.error("--backends-only and --node-only: choose one")
    args.backends_list = [b.strip() for b in args.backends.split(",") if b.strip()]
    for b in args.backends_list:
        if b not in BACKENDS:
            ap.error(f"unknown backend {b!r} (choose from {', '.join(BACKENDS)})")
    args.backends_scale = args.backends_scale or (args.scale if args.quick else DEFAULT_SCALE)
    args.backends_runs = args.backends_runs or (1 if args.quick else 3)


def command_line(args):
    lb = os.path.relpath(args.lifeboat, rb.ROOT) if args.lifeboat.startswith(rb.ROOT + os.sep) else args.lifeboat
    tools = [t for t in TOOLS if t in args.tool_list]
    words = ["--lifeboat", lb, "--backends-only"] + (["--tools", ",".join(tools)] if len(tools) < len(TOOLS) else [])
    words += ["--backends", ",".join(args.backends_list), "--accounts", str(args.accounts), "--backends-scale",
              f"{args.backends_scale:g}", "--seed", str(args.seed), "--backends-runs", str(args.backends_runs),
              "--workdir", args.workdir]
    return "python3 bench/run_bench.py " + " ".join(shlex.quote(x) for x in words)


def run_section(args, scratch, machine, started):
    """The whole section: runs, report (between BEGIN and END of args.out), raw results.  Returns the failures."""
    t0 = time.time()
    sec = BackendsBench(args, scratch, os.path.join(scratch.data, "backends"))
    results = sec.run()
    summ = summarize(results)
    if sec.bench.drop_ok is None:
        sec.bench.drop_ok = False
    versions = {t: tool.version() for t, tool in sec.tools.items()}
    for k in args.backends_list:
        if k not in sec.skip:
            v = BACKENDS[k](sec, "/nonexistent").version()
            if v and not v.startswith("lifeboat"):
                versions[BACKENDS[k].server_label] = v
    cmdline = command_line(args)
    section = report(sec, results, summ, machine, versions, cmdline, started)
    raw = {"started": started, "seconds": round(time.time() - t0, 1), "command": cmdline, "machine": machine,
            "versions": versions, "skipped": {(k if isinstance(k, str) else f"tool {k[1]}"): v for k, v in sec.skip.items()},
            "settings": {"accounts": args.accounts, "scale": args.backends_scale, "seed": args.seed,
                         "runs": args.backends_runs, "backends": args.backends_list,
                         "cache": "cold" if sec.bench.drop_ok else "warm"},
            "dataset": {"node": sec.bench.pristine_stats}, "runs": results, "summary": summ}
    rb.publish_section("backends", args.out, section, BEGIN, END, args.backends_results, raw, t0)
    return [f"backends: {r['backend']}/{r['tool']} run {r['run']}" for r in results if not r["ok"]]
