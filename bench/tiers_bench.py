"""Tiers (issue 6): prune on a month of daily snapshots, and node restore from two repositories at once vs one.

Part of bench/run_bench.py (`--tiers-only` runs just this, `--no-tiers`
leaves it out); not a program of its own.

    python3 bench/run_bench.py --tiers-only [--tiers-accounts 150 --tiers-scale 0.15 --tiers-days 30
            --tiers-runs 3 --tiers-bwlimit 20M --tiers-delay-ms 20 --lifeboat build/lifeboat]

**The month** (built once, kept in WORKDIR/.../tiers/history and reused
while its parameters do not change; `--tiers-rebuild` builds it again): a
node of its own (bench/gen_node.py, --tiers-accounts and --tiers-scale),
then for each day d of --tiers-days, a day of changes (gen_node.py --mutate,
seed --mutate-seed*1000+d) and three backups dated 2026-10-dd 02:00 UTC:

  lifeboat-node   `lifeboat node backup NODE --node web1 --time ...`: one snapshot per account (how lifeboat backs a node up)
  lifeboat-whole  `lifeboat backup NODE --account node --time ...`: one snapshot of the whole node
  restic          `restic backup --host web1 --time ... NODE`: one snapshot of the whole node

restic gets one snapshot of the whole node a day, not one per account: each
restic command costs ~0.5-1 s of its own (it loads every index file, and one
run per account adds one index file each), so 30 x 150 commands would take
most of an hour.  lifeboat-whole is the same shape as restic's history, for
a like-for-like ratio; lifeboat-node is lifeboat's own shape (150 times the
snapshots, the same data).  Then a tier copy of lifeboat-node for the second
part: `lifeboat init --copy-params-from` and `lifeboat copy --latest 1`.

**Prune**: per run and repository, on a fresh copy (`cp -a --reflink=auto`)
of the month, page cache dropped before each command, fresh caches:

  forget  `lifeboat forget --keep-daily 7 --keep-weekly 4` / `restic forget --keep-daily 7 --keep-weekly 4`
  prune   `lifeboat prune` (defaults) / `restic prune` (defaults: --max-unused 5%)
  prune2  the same prune again, with nothing left to delete

Wall time, CPU, peak RSS (wait4), repository size before and after.  Then,
not timed: the snapshots kept must be the ones the policy names (computed
here), `lifeboat check --read-data` / `restic check` must exit 0 (first run,
or every run with --tiers-check all), and one account of the oldest kept
snapshot is restored and compared with the node as it was that day (names,
types, sizes, link targets, and a digest of every file's content).

**Node restore from one and two repositories**: the month's lifeboat-node
repository (the first) and its tier copy (the second), each served by its
own `rclone serve restic` (scripts/start-rclone-rest) on 127.0.0.1, then per
run `lifeboat node restore --node web1` of the newest snapshots from
--repo FIRST, --repo SECOND, and both at once in either order, in two settings: loopback
(the servers as they are) and WAN-like (each server limited to
--tiers-bwlimit by rclone's own --bwlimit, and a scripts/fault-proxy in
front of it delaying every request by --tiers-delay-ms, no faults).  Page
cache dropped before each restore; each restored node compared with the
node (meta_map/compare_meta, and diff -r in the first run).  Throughput
(node bytes / wall time), bytes fetched in total and from each repository
(the JSON's "repositories").

Report between <!-- bench-tiers:begin --> and <!-- bench-tiers:end --> of
the report, raw results in bench/out/tiers-results.json.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

import run_bench as rb
from backends_bench import free_port, kill_pids, read_pid, SCRIPTS

BEGIN, END = "<!-- bench-tiers:begin -->", "<!-- bench-tiers:end -->"
DEFAULT_ACCOUNTS = 150
DEFAULT_SCALE = 0.15          # with 150 accounts: ~0.66 GB, ~75k files, ~20k directories
NODE = "web1"
KEEP = ["--keep-daily", "7", "--keep-weekly", "4"]
MONTH = (2026, 10)            # the days of the history: 2026-10-01, -02, ... (past, so nothing is "dated in the future")
REPOS = [("lifeboat-node", "lifeboat", "lifeboat, one snapshot per account a day (`node backup`)"),
         ("lifeboat-whole", "lifeboat", "lifeboat, one snapshot of the node a day"),
         ("restic", "restic", "restic, one snapshot of the node a day")]
REST_USER, REST_PASS = "bench", "bench-rest-pass-not-secret"
VARIANTS = [("first", "one repository (the month)"), ("second", "one repository (the tier copy)"),
            ("both", "both at once"), ("both-copy-first", "both, the copy listed first")]


def day_time(d):
    return datetime.datetime(MONTH[0], MONTH[1], d, 2, 0, 0, tzinfo=datetime.timezone.utc)


def expected_kept(days):
    """The days --keep-daily 7 --keep-weekly 4 keeps of one snapshot a day (as both tools define them: the newest
    snapshot of each of the 7 newest days, of each of the 4 newest ISO weeks)."""
    newest_first = sorted(days, reverse=True)
    keep = set(newest_first[:7])
    weeks = []
    for d in newest_first:
        w = day_time(d).isocalendar()[:2]
        if w not in weeks:
            weeks.append(w)
            if len(weeks) <= 4:
                keep.add(d)
    return sorted(keep)


def tree_digest(root):
    """sha256 over every entry's relative path, type, size, link target and content: what "the same tree" means here."""
    h = hashlib.sha256()
    meta = rb.meta_map(root)
    for rel in sorted(meta):
        t, _, _, size, link = meta[rel]
        h.update(f"{rel}\0{t}\0{size}\0{link}\0".encode("utf-8", "surrogateescape"))
        if t == "f":
            with open(os.path.join(root, rel), "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
    return h.hexdigest()


def fmt_mib(kb):
    return "–" if kb is None else f"{kb / 1024:.0f} MiB"


# ----------------------------------------------------------------------------
# The month of snapshots

class History:
    def __init__(self, sec):
        self.sec, self.args = sec, sec.args
        self.dir = os.path.join(sec.data, "history")
        self.node = os.path.join(self.dir, "node")
        self.repo = {k: os.path.join(self.dir, k) for k, _, _ in REPOS}
        self.copy = os.path.join(self.dir, "lifeboat-copy")
        self.stamp_path = os.path.join(self.dir, "stamp.json")

    def stamp(self):
        a = self.args
        with open(rb.GEN, "rb") as f:
            gen_hash = hashlib.sha256(f.read()).hexdigest()[:16]
        return {"accounts": a.tiers_accounts, "scale": a.tiers_scale, "seed": a.seed, "mutate_seed": a.mutate_seed,
                "days": a.tiers_days, "gen_sha256": gen_hash, "tools": sorted(self.sec.tools), "layout": 1}

    def load(self):
        """The month built earlier with the same parameters, or None."""
        if self.args.tiers_rebuild:
            return None
        try:
            with open(self.stamp_path) as f:
                old = json.load(f)
        except (OSError, ValueError):
            return None
        if old.get("stamp") != self.stamp():
            return None
        return old

    def build(self):
        a, sec = self.args, self.sec
        old = self.load()
        if old:
            rb.log(f"tiers: reusing the month built {old['built']} ({self.dir})")
            return old
        if os.path.exists(self.dir):
            shutil.rmtree(self.dir)
        os.makedirs(os.path.join(self.dir, "logs"))
        t0 = time.time()
        subprocess.run(["cp", "-a", sec.bench.pristine, self.node], check=True)
        env = {t: tool.env(self.dir) for t, tool in sec.tools.items()}
        if "restic" in env:
            env["restic"]["TZ"] = "UTC"     # --time is local time
        logs = lambda name: os.path.join(self.dir, "logs", name)
        for key, tname, _ in REPOS:
            if tname not in sec.tools:
                continue
            for i, cmd in enumerate(sec.tools[tname].init(self.repo[key])):
                self.must(cmd, env[tname], logs(f"init-{key}{i}"))
        days, totals = {}, {k: {"seconds": 0.0, "cpu_s": 0.0, "maxrss_kb": 0} for k, _, _ in REPOS}
        for d in range(1, a.tiers_days + 1):
            m = sec.bench.gen("--mutate", self.node, "--seed", str(a.mutate_seed * 1000 + d))
            when = day_time(d)
            cmds = {"lifeboat-node": [a.lifeboat, "node", "backup", self.node, "--node", NODE, "--time",
                                      when.strftime("%Y-%m-%dT%H:%M:%SZ"), "--repo", self.repo["lifeboat-node"], "--json"],
                    "lifeboat-whole": [a.lifeboat, "backup", self.node, "--account", "node", "--time",
                                       when.strftime("%Y-%m-%dT%H:%M:%SZ"), "--repo", self.repo["lifeboat-whole"], "--json"],
                    "restic": ["restic", "-r", self.repo["restic"], "backup", "-q", "--host", NODE, "--time",
                               when.strftime("%Y-%m-%d %H:%M:%S"), self.node]}
            line = []
            for key, tname, _ in REPOS:
                if tname not in sec.tools:
                    continue
                r = self.must(cmds[key], env[tname], logs(f"day{d:02d}-{key}"))
                tot = totals[key]
                tot["seconds"] += r["seconds"]
                tot["cpu_s"] += r["user_s"] + r["sys_s"]
                tot["maxrss_kb"] = max(tot["maxrss_kb"], r["maxrss_kb"])
                if key == "lifeboat-node":
                    s = json.loads(r["stdout"])["summary"]
                    if s["ok"] != s["accounts"] or s["accounts"] != a.tiers_accounts:
                        raise RuntimeError(f"day {d}: node backup: {s['ok']} of {s['accounts']} accounts ok")
                line.append(f"{key} {r['seconds']:.1f} s")
            # the account restored after prune, as it is this day: what its restore must give back
            acct = os.path.join(self.node, sec.account)
            meta = rb.meta_map(acct)
            days[str(d)] = {"time": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "account_stats": rb.stats_of(meta),
                       "account_digest": tree_digest(acct),
                       "mutate": {k: v for k, v in m.items() if k in ("added", "removed", "modified", "new_bytes")}}
            rb.log(f"tiers: day {d}/{a.tiers_days}: " + ", ".join(line))
        node_meta = rb.meta_map(self.node)
        out = {"stamp": self.stamp(), "built": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
               "account": sec.account, "days": days, "backup_totals": totals,
               "node_final": rb.stats_of(node_meta), "repo_bytes": {k: rb.du_bytes(p) for k, p in self.repo.items()
                                                                    if os.path.isdir(p)}}
        # the tier copy: what the second repository of the restore part holds
        if "lifeboat" in sec.tools:
            lenv = dict(env["lifeboat"], LIFEBOAT_FROM_PASSWORD_FILE=env["lifeboat"]["LIFEBOAT_PASSWORD_FILE"],
                        LIFEBOAT_TO_PASSWORD_FILE=env["lifeboat"]["LIFEBOAT_PASSWORD_FILE"])
            self.must([a.lifeboat, "init", "--repo", self.copy, "--copy-params-from", self.repo["lifeboat-node"]], lenv,
                      logs("init-copy"))
            r = self.must([a.lifeboat, "copy", "--repo", self.repo["lifeboat-node"], "--to", self.copy, "--node", NODE,
                           "--latest", "1", "--json"], lenv, logs("copy"))
            j = json.loads(r["stdout"])
            out["copy"] = {"seconds": r["seconds"], "snapshots_copied": j["snapshots_copied"], "bytes_sent": j["bytes_sent"],
                           "bytes_stored": j["bytes_stored"], "repo_bytes": rb.du_bytes(self.copy)}
            rb.log(f"tiers: tier copy: {j['snapshots_copied']} snapshots, {rb.human_bytes(j['bytes_stored'])} stored "
                   f"in {r['seconds']:.1f} s")
        out["seconds"] = round(time.time() - t0, 1)
        with open(self.stamp_path, "w") as f:
            json.dump(out, f, indent=1)
        rb.log(f"tiers: the month built in {out['seconds']:.0f} s: " +
               ", ".join(f"{k} {rb.human_bytes(v)}" for k, v in out["repo_bytes"].items()))
        return out

    def must(self, cmd, env, logbase):
        r = rb.run_cmd(cmd, env, self.dir, logbase, self.args.timeout)
        if r["rc"] != 0 or r["timed_out"]:
            raise RuntimeError(f"{r['cmd']} failed (rc {r['rc']}): {' | '.join(r['stderr_tail'])}")
        return r


# ----------------------------------------------------------------------------
# The section

class TiersBench:
    def __init__(self, args, scratch, data_dir):
        self.args, self.scratch, self.data = args, scratch, data_dir
        bargs = argparse.Namespace(**vars(args))
        bargs.accounts, bargs.scale, bargs.account = args.tiers_accounts, args.tiers_scale, None
        self.bench = rb.Bench(bargs, data_dir)
        self.bench.scratch = scratch
        self.runs_dir = os.path.join(data_dir, "runs")
        self.tools, self.skip = {}, {}
        for t in ("lifeboat", "restic"):
            if t not in args.tool_list:
                self.skip[t] = "left out (--tools)"
                continue
            tool = rb.TOOLS[t](args, None)
            ok, why = tool.available()
            if ok:
                self.tools[t] = tool
            else:
                self.skip[t] = why

    def run(self):
        a = self.args
        res = {"prune": [], "restore": [], "servers": {}}
        if "lifeboat" not in self.tools:
            rb.log(f"tiers: lifeboat not run ({self.skip.get('lifeboat')}): section skipped")
            return res
        self.bench.prepare()
        self.account = self.bench.account   # the 75th-percentile account by size: restored after each prune
        self.history = History(self)
        res["history"] = self.hist = self.history.build()
        if os.path.exists(self.runs_dir):
            shutil.rmtree(self.runs_dir)
        os.makedirs(self.runs_dir)
        repos = [r for r in REPOS if r[1] in self.tools]
        try:
            for i in range(a.tiers_runs):
                k = i % len(repos)
                for rep in repos[k:] + repos[:k]:       # rotate: no repository always first
                    res["prune"].append(self.prune(rep, i))
            res["restore"] = self.restores(res["servers"])
        finally:
            if not a.keep:
                shutil.rmtree(self.runs_dir, ignore_errors=True)
                self.scratch.trim()
        return res

    def timed(self, tool, cmd, env, cwd, logbase):
        r = self.bench.timed(tool, cmd, env, cwd, logbase)
        r["cpu_s"] = round(r["user_s"] + r["sys_s"], 2)
        return r

    # -- prune ------------------------------------------------------------

    def prune(self, rep, i):
        key, tname, label = rep
        a, tool, hist = self.args, self.tools[tname], self.history
        rd = os.path.join(self.runs_dir, f"prune-{key}-{i + 1}")
        os.makedirs(os.path.join(rd, "logs"))
        repo = os.path.join(rd, "repo")
        env = tool.env(rd)      # fresh caches (restic's): a prune host that starts without one
        if tname == "restic":
            env["TZ"] = "UTC"
        lb = lambda step: os.path.join(rd, "logs", step)
        out = {"repo": key, "tool": tname, "run": i + 1, "ok": False, "error": None, "steps": {}}
        rb.log(f"tiers run {i + 1}: prune: {label}")
        try:
            subprocess.run(["cp", "-a", "--reflink=auto", hist.repo[key], repo], check=True)
            out["bytes_before"] = rb.du_bytes(repo)
            if tname == "lifeboat":
                cmds = {"forget": [a.lifeboat, "forget", *KEEP, "--repo", repo, "--json"],
                        "prune": [a.lifeboat, "prune", "--repo", repo, "--json"]}
            else:
                cmds = {"forget": ["restic", "-r", repo, "forget", *KEEP, "--json"],
                        "prune": ["restic", "-r", repo, "prune"]}
            for step in ("forget", "prune", "prune2"):
                r = self.timed(tool, cmds["prune" if step == "prune2" else step], env, rd, lb(step))
                r["bytes_after"] = rb.du_bytes(repo)
                out["steps"][step] = r
                rb.log(f"  {step}: {r['seconds']:.1f} s rc {r['rc']} cpu {r['cpu_s']:.1f} s rss {r['maxrss_kb'] // 1024} MiB, "
                       f"repo {rb.human_bytes(r['bytes_after'])}")
                if not r["ok"]:
                    raise RuntimeError(f"{step} failed (rc {r['rc']}): {' | '.join(r['stderr_tail'])}")
                with open(lb(step) + ".out", errors="replace") as f:    # all of it: run_cmd keeps only the first MiB
                    r["report"] = self.parse(tname, step, f.read())
                r.pop("stdout", None)
            out["bytes_after"] = out["steps"]["prune"]["bytes_after"]
            out["verify"] = self.verify_pruned(key, tool, repo, env, rd, lb, check=a.tiers_check == "all" or i == 0)
            out["ok"] = out["verify"]["ok"]
            if not out["ok"]:
                out["error"] = out["verify"].get("error") or "verification failed"
            rb.log(f"  verify: {self.verify_line(out['verify'])}")
        except Exception as e:      # report it, carry on with the others
            out["error"] = str(e)
            rb.log(f"  FAILED: {e}")
        finally:
            for s in out["steps"].values():
                s.pop("stdout", None)
            if not a.keep:
                shutil.rmtree(rd, ignore_errors=True)
        return out

    @staticmethod
    def parse(tname, step, stdout):
        """The few numbers of each tool's own report worth keeping."""
        if tname == "lifeboat":
            try:
                j = json.loads(stdout)
            except ValueError:
                return None
            if step == "forget":
                return j.get("totals")
            return {k: j.get(k) for k in ("snapshots", "packs", "bytes", "bytes_unused", "bytes_unused_after", "deleted",
                                        "planned", "waiting")}
        if step == "forget":
            try:
                groups = json.loads(stdout)
                return {"groups": len(groups), "keep": sum(len(g.get("keep") or []) for g in groups),
                        "remove": sum(len(g.get("remove") or []) for g in groups)}
            except (ValueError, TypeError):
                return None
        # restic prune's text report: keep its summary lines
        keep = [ln.strip() for ln in stdout.splitlines()
                if re.match(r"\s*(to repack|this removes|to delete|total prune|remaining|unused size after|"
                            r"used:|unused:|total:|repacking packs|deleting unreferenced|rebuilding index)", ln)]
        return {"lines": keep[:20]}

    def verify_pruned(self, key, tool, repo, env, rd, lb, check):
        """The kept snapshots are the policy's, check passes, one account of the oldest kept snapshot is as it was that day."""
        a, hist = self.args, self.history
        v = {"ok": False}
        want = expected_kept(range(1, a.tiers_days + 1))
        if tool.name == "lifeboat":
            p = subprocess.run([a.lifeboat, "snapshots", "--repo", repo, "--json"], capture_output=True, text=True, env=env)
            snaps = json.loads(p.stdout)
            if key == "lifeboat-node":
                snaps = [s for s in snaps if s["account"] == self.account]
        else:
            p = subprocess.run(["restic", "-r", repo, "snapshots", "--json"], capture_output=True, text=True, env=env)
            snaps = json.loads(p.stdout)
        kept = sorted(int(s["time"][8:10]) for s in snaps)
        v["kept_days"] = kept
        v["expected_days"] = want
        if kept != want:
            v["error"] = f"kept days {kept}, the policy keeps {want}"
            return v
        if check:
            cmd = ([a.lifeboat, "check", "--read-data", "--repo", repo, "--json"] if tool.name == "lifeboat"
                   else ["restic", "-r", repo, "check"])
            r = rb.run_cmd(cmd, env, rd, lb("check"), a.timeout)
            v["check"] = {"cmd": r["cmd"], "rc": r["rc"], "seconds": r["seconds"]}
            if r["rc"] != 0:
                v["error"] = f"{r['cmd']} exited {r['rc']}: {' | '.join(r['stderr_tail'])}"
                return v
        day = want[0]
        snap = next(s for s in sorted(snaps, key=lambda s: s["time"]) if int(s["time"][8:10]) == day)
        target = os.path.join(rd, "restore")
        os.makedirs(target)
        acct = self.account
        if key == "lifeboat-node":
            cmd = [a.lifeboat, "restore", snap["id"], "--target", target, "--repo", repo]
        elif key == "lifeboat-whole":
            cmd = [a.lifeboat, "restore", f"{snap['id']}:{acct}", "--target", target, "--repo", repo]
        else:
            cmd = ["restic", "-r", repo, "restore", snap["id"], "--target", target, "--include",
                   os.path.join(hist.node, acct), "-q"]
        r = rb.run_cmd(cmd, env, rd, lb("restore"), a.timeout)
        if r["rc"] != 0:
            v["error"] = f"{r['cmd']} exited {r['rc']}: {' | '.join(r['stderr_tail'])}"
            return v
        root = target if key != "restic" else os.path.join(target, hist.node.lstrip("/"), acct)
        want_state = self.hist["days"][str(day)]
        got = rb.stats_of(rb.meta_map(root)) if os.path.isdir(root) else None
        v["restored"] = {"day": day, "snapshot": snap["id"][:8], "account": acct, "stats": got}
        v["counts_match"] = got == want_state["account_stats"]
        v["digest_match"] = os.path.isdir(root) and tree_digest(root) == want_state["account_digest"]
        v["ok"] = v["counts_match"] and v["digest_match"]
        if not v["ok"]:
            v["error"] = (f"day {day}, account {acct}: restored {got}, expected {want_state['account_stats']}"
                          f"{'' if v['digest_match'] else ' (content digest differs)'}")
        shutil.rmtree(target, ignore_errors=True)
        return v

    @staticmethod
    def verify_line(v):
        if v.get("error"):
            return "FAILED: " + v["error"]
        r = v["restored"]
        return (f"ok: kept days {v['kept_days']}; " + (f"check rc {v['check']['rc']} ({v['check']['seconds']:.0f} s); "
                                                       if "check" in v else "")
                + f"day {r['day']} ({r['snapshot']}) account {r['account']}: {r['stats']['files']:,} files, "
                  f"{r['stats']['bytes']:,} bytes, content digest matches")

    # -- node restore from one and two repositories ------------------------

    def restores(self, servers):
        a, hist = self.args, self.history
        out = []
        lb_tool = self.tools["lifeboat"]
        settings = [("loopback", None, None)]
        if a.tiers_bwlimit or a.tiers_delay_ms:
            settings.append(("wan", a.tiers_bwlimit, a.tiers_delay_ms))
        node_meta = rb.meta_map(hist.node)
        node_stats = rb.stats_of(node_meta)
        for sname, bw, delay in settings:
            srv = []
            try:
                for name, repo in (("first", hist.repo["lifeboat-node"]), ("second", hist.copy)):
                    srv.append(self.start_server(sname, name, repo, bw, delay))
                servers[sname] = [{k: s[k] for k in ("name", "url_redacted", "bwlimit", "delay_ms")} for s in srv]
                rd = os.path.join(self.runs_dir, f"restore-{sname}")
                os.makedirs(os.path.join(rd, "logs"), exist_ok=True)
                env = lb_tool.env(rd)
                for i in range(a.tiers_runs):
                    k = i % len(VARIANTS)
                    for vkey, vlabel in VARIANTS[k:] + VARIANTS[:k]:
                        out.append(self.restore_one(sname, vkey, vlabel, srv, env, rd, i, node_meta, node_stats))
            except Exception as e:
                out.append({"setting": sname, "variant": None, "run": None, "ok": False, "error": str(e)})
                rb.log(f"tiers: restores ({sname}) FAILED: {e}")
            finally:
                for s in srv:
                    self.stop_server(s)
        return out

    def start_server(self, sname, name, repo, bw, delay):
        """rclone serve restic on a hard-linked copy of the repository (restores only read), optionally behind a delaying proxy."""
        state = os.path.join(self.runs_dir, f"rest-{sname}-{name}")
        os.makedirs(os.path.join(state, "repo"))
        subprocess.run(["cp", "-al", repo, os.path.join(state, "repo", name)], check=True)
        port = free_port()
        env = dict(os.environ, STATE=state, PORT=str(port), REST_USER=REST_USER, REST_PASS=REST_PASS)
        if bw:
            env["RCLONE_BWLIMIT"] = bw      # rclone's global --bwlimit, from the environment: the link's bandwidth
        s = {"name": name, "state": state, "pids": [], "bwlimit": bw, "delay_ms": delay}
        with open(os.path.join(state, "start.log"), "w") as log:
            p = subprocess.run(["bash", os.path.join(SCRIPTS, "start-rclone-rest"), "start"], env=env, stdout=log,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=120)
        pid = read_pid(os.path.join(state, "rclone.pid"))
        if pid:
            s["pids"].append(pid)
        if p.returncode != 0:
            self.stop_server(s)
            raise RuntimeError(f"scripts/start-rclone-rest start failed for {name} (rc {p.returncode})")
        front = port
        if delay:
            front = free_port()
            q = subprocess.run([sys.executable, os.path.join(SCRIPTS, "fault-proxy"), "start", "--port", str(front),
                                "--target", str(port), "--rate", "0", "--delay-rate", "1", "--delay-ms", str(delay),
                                "--state", os.path.join(state, "proxy")], capture_output=True, text=True, timeout=60)
            ppid = read_pid(os.path.join(state, "proxy", "fault-proxy.pid"))
            if ppid:
                s["pids"].append(ppid)
            if q.returncode != 0:
                self.stop_server(s)
                raise RuntimeError(f"fault-proxy did not start: {q.stderr.strip()[-300:]}")
        s["url"] = f"rest:http://{REST_USER}:{REST_PASS}@127.0.0.1:{front}/{name}/"
        s["url_redacted"] = f"rest:http://{REST_USER}@127.0.0.1:{front}/{name}/"
        return s

    def stop_server(self, s):
        if os.path.isdir(os.path.join(s["state"], "proxy")):
            subprocess.run([sys.executable, os.path.join(SCRIPTS, "fault-proxy"), "stop", "--state",
                            os.path.join(s["state"], "proxy")], capture_output=True, timeout=60)
        subprocess.run(["bash", os.path.join(SCRIPTS, "start-rclone-rest"), "stop"], env=dict(os.environ, STATE=s["state"]),
                       capture_output=True, timeout=60)
        kill_pids(s["pids"])    # whatever is left, by the PIDs read at start

    def restore_one(self, sname, vkey, vlabel, srv, env, rd, i, node_meta, node_stats):
        a = self.args
        target = os.path.join(rd, f"target-{vkey}-{i + 1}")
        os.makedirs(target)
        urls = {"first": [srv[0]["url"]], "second": [srv[1]["url"]], "both": [srv[0]["url"], srv[1]["url"]],
                "both-copy-first": [srv[1]["url"], srv[0]["url"]]}[vkey]
        cmd = [a.lifeboat, "node", "restore", "--node", NODE, "--target", target, "--json"]
        for u in urls:
            cmd += ["--repo", u]
        out = {"setting": sname, "variant": vkey, "run": i + 1, "ok": False, "error": None, "data_bytes": node_stats["bytes"]}
        rb.log(f"tiers run {i + 1}: node restore ({sname}): {vlabel}")
        try:
            r = self.timed(self.tools["lifeboat"], cmd, env, rd, os.path.join(rd, "logs", f"{vkey}-{i + 1}"))
            out.update({k: r[k] for k in ("rc", "seconds", "maxrss_kb", "cpu_s", "cache", "timed_out", "stderr_tail")})
            out["cmd"] = r["cmd"].replace(REST_PASS, "***")
            if not r["ok"]:
                raise RuntimeError(f"rc {r['rc']}{', timed out' if r['timed_out'] else ''}: {' | '.join(r['stderr_tail'])}")
            j = json.loads(r["stdout"])
            sm = j["summary"]
            out.update(mb_per_s=node_stats["bytes"] / 1e6 / r["seconds"], bytes_fetched=sm["bytes_fetched"],
                       bytes_written=sm["bytes_written"], duration_s=sm["duration_seconds"],
                       ready={f: sm.get(f"ready_{f}_s") for f in (50, 90, 100)}, accounts_ready=sm["ready"],
                       repositories=[{k: x.get(k) for k in ("location", "primary", "bytes", "reads", "failures",
                                                            "fallbacks", "mb_per_s", "error")}
                                     for x in j.get("repositories") or []])
            got = rb.meta_map(target)
            got = {p: x for p, x in got.items() if p != rb.STATE_DIR and not p.startswith(rb.STATE_DIR + "/")}
            v = rb.compare_meta(node_meta, got)
            v["expected"], v["restored"] = node_stats, rb.stats_of(got)
            v["counts_match"] = all(v["restored"][k] == node_stats[k] for k in ("files", "dirs", "symlinks", "bytes"))
            v["ok"] = v["ok"] and v["counts_match"] and sm["ready"] == self.args.tiers_accounts and sm["failed"] == 0
            if i == 0:
                d = subprocess.run(["diff", "-r", "--no-dereference", "-q", "-x", rb.STATE_DIR, self.history.node, target],
                                   capture_output=True, text=True)
                v["diff_r"] = d.returncode == 0
                v["ok"] = v["ok"] and v["diff_r"]
                if not v["diff_r"]:
                    v["diff_output"] = (d.stdout[-1000:] + d.stderr[-300:])
            out["verify"] = v
            out["ok"] = v["ok"]
            if not out["ok"]:
                out["error"] = f"the restored node does not match ({v['missing']} missing, {v['extra']} extra, {v['differ']} differ)"
            per = ", ".join(f"{x['location'].split('/')[-2]} {rb.human_bytes(x['bytes'])}" for x in out["repositories"])
            rb.log(f"  {r['seconds']:.1f} s ({out['mb_per_s']:.0f} MB/s) rss {r['maxrss_kb'] // 1024} MiB, fetched "
                   f"{rb.human_bytes(sm['bytes_fetched'])}" + (f" ({per})" if per else "") + f"; verify: {rb.Bench.verify_line(v)}")
        except Exception as e:
            out["error"] = str(e)
            rb.log(f"  FAILED: {e}")
        finally:
            shutil.rmtree(target, ignore_errors=True)
        return out


# ----------------------------------------------------------------------------
# Summary and report

def summarize(res):
    summ = {"prune": {}, "restore": {}}
    for key, tname, label in REPOS:
        good = [r for r in res["prune"] if r["repo"] == key and r["ok"]]
        if not good:
            continue
        s = {"runs": len(good), "label": label, "bytes_before": rb.median([g["bytes_before"] for g in good]),
             "bytes_after": rb.median([g["bytes_after"] for g in good])}
        for step in ("forget", "prune", "prune2"):
            g = [x["steps"][step] for x in good]
            s[step] = {"seconds": rb.median([x["seconds"] for x in g]), "cpu_s": rb.median([x["cpu_s"] for x in g]),
                       "maxrss_kb": rb.median([x["maxrss_kb"] for x in g]), "cache": g[0]["cache"]}
        s["total_seconds"] = rb.median([x["steps"]["forget"]["seconds"] + x["steps"]["prune"]["seconds"] for x in good])
        s["total_cpu_s"] = rb.median([x["steps"]["forget"]["cpu_s"] + x["steps"]["prune"]["cpu_s"] for x in good])
        s["report"] = {st: good[0]["steps"][st].get("report") for st in ("forget", "prune")}
        summ["prune"][key] = s
    for r in res["restore"]:
        if not r.get("ok"):
            continue
        s = summ["restore"].setdefault(r["setting"], {}).setdefault(r["variant"], {"good": []})
        s["good"].append(r)
    for per in summ["restore"].values():
        for s in per.values():
            g = s.pop("good")
            s["runs"] = len(g)
            s["seconds"] = rb.median([x["seconds"] for x in g])
            s["mb_per_s"] = g[0]["data_bytes"] / 1e6 / s["seconds"]
            s["cpu_s"] = rb.median([x["cpu_s"] for x in g])
            s["maxrss_kb"] = rb.median([x["maxrss_kb"] for x in g])
            s["bytes_fetched"] = rb.median([x["bytes_fetched"] for x in g])
            s["ready_50_s"] = rb.median([x["ready"][50] for x in g])
            s["cache"] = g[0]["cache"]
            locs = [x["location"] for x in g[0]["repositories"]]
            s["per_repo_bytes"] = [rb.median([x["repositories"][k]["bytes"] for x in g if len(x["repositories"]) > k])
                                   for k in range(len(locs))]
            s["per_repo_mb_per_s"] = [rb.median([x["repositories"][k]["mb_per_s"] for x in g if len(x["repositories"]) > k])
                                      for k in range(len(locs))]
    return summ


def report(sec, res, summ, machine, versions, cmdline, started):
    a, hist = sec.args, res.get("history") or {}
    ds = sec.bench.pristine_stats
    pr, rs = summ["prune"], summ["restore"]
    L = [BEGIN, "", f"## Tiers: prune on a month of daily snapshots, node restore from two repositories ({started[:10]})", ""]
    # the honest reading first, from the numbers themselves
    L += reading(a, pr, rs, hist)
    final = hist.get("node_final") or ds
    L.append(f"Node: {a.tiers_accounts} accounts, {ds['files']:,} files, {ds['dirs']:,} directories, {ds['bytes'] / 1e9:.2f} GB at "
             f"day 0 (`bench/gen_node.py --accounts {a.tiers_accounts} --scale {a.tiers_scale:g} --seed {a.seed}`); "
             f"{final['files']:,} files, {final['bytes'] / 1e9:.2f} GB after {a.tiers_days} days of changes "
             f"(`gen_node.py --mutate NODE --seed {a.mutate_seed}*1000+d` before the backups of day d, "
             f"2026-10-01 to -{a.tiers_days:02d}, 02:00 UTC).")
    L.append("")
    L.append(f"Machine: {machine.get('cpu', '?')}, {machine['nproc']} cores (shared with other work: medians of "
             f"{a.tiers_runs} runs), {machine.get('ram_gib', '?')} GiB RAM, kernel {machine['kernel']}; data and "
             f"repositories on {machine.get('scratch', '?')}; load average at start {machine['loadavg_at_start']}. "
             f"Cache: {'page cache dropped before every timed command' if sec.bench.drop_ok else 'warm (page cache not dropped)'}.")
    L.append("Versions: " + "; ".join(f"{k}: {v}" for k, v in versions.items() if v) + ".")
    L.append("")
    L.append("Reproduce (`make bench` runs this section last):")
    L.append("")
    L.append(f"    {cmdline}")
    L.append("")
    for t, why in sec.skip.items():
        L.append(f"**{t} was not run**: {why}.")
        L.append("")
    if hist:
        bt = hist.get("backup_totals", {})
        L.append(f"The month (built once, {hist.get('seconds', '?')} s, reused while its parameters do not change): "
                 + "; ".join(f"{k}: {a.tiers_days} backups in {bt[k]['seconds']:.0f} s, {rb.mib_bytes(hist['repo_bytes'].get(k))}"
                             for k, _, _ in REPOS if k in hist.get("repo_bytes", {}) and k in bt) + ".")
        if hist.get("copy"):
            c = hist["copy"]
            L.append(f"Tier copy (`lifeboat copy --node {NODE} --latest 1` into a repository made by `init "
                     f"--copy-params-from`): {c['snapshots_copied']} snapshots, {rb.mib_bytes(c['repo_bytes'])}, "
                     f"{c['seconds']:.0f} s.")
        L.append("")
    L.append(f"### Prune after `forget --keep-daily 7 --keep-weekly 4` (medians of {a.tiers_runs} runs)")
    L.append("")
    L.append("| repository | forget | prune | forget + prune | prune: CPU, peak RSS | size before → after | "
             "second prune (nothing to delete) |")
    L.append("|---|---|---|---|---|---|---|")
    for key, tname, label in REPOS:
        s = pr.get(key)
        if s is None:
            failed = any(r["repo"] == key for r in res["prune"])
            L.append(f"| {label} | {'failed' if failed else 'not run'} | | | | | |")
            continue
        L.append(f"| {label} | {rb.fmt_s(s['forget']['seconds'])} | {rb.fmt_s(s['prune']['seconds'])} | "
                 f"{rb.fmt_s(s['total_seconds'])} | {s['prune']['cpu_s']:.1f} s, {fmt_mib(s['prune']['maxrss_kb'])} | "
                 f"{rb.mib_bytes(s['bytes_before'])} → {rb.mib_bytes(s['bytes_after'])} | "
                 f"{rb.fmt_s(s['prune2']['seconds'])}, {fmt_mib(s['prune2']['maxrss_kb'])} |")
    L.append("")
    if "restic" in pr:
        L.append("lifeboat over restic (below 1: lifeboat takes less):")
        L.append("")
        L.append("| lifeboat repository | forget + prune time | prune time | prune CPU | prune peak RSS | size after | second prune |")
        L.append("|---|---|---|---|---|---|---|")
        r = pr["restic"]
        for key in ("lifeboat-whole", "lifeboat-node"):
            s = pr.get(key)
            if s is None:
                continue
            L.append(f"| {dict((k, l) for k, _, l in REPOS)[key]} | {rb.ratio(s['total_seconds'], r['total_seconds'])} | "
                     f"{rb.ratio(s['prune']['seconds'], r['prune']['seconds'])} | {rb.ratio(s['prune']['cpu_s'], r['prune']['cpu_s'])} | "
                     f"{rb.ratio(s['prune']['maxrss_kb'], r['prune']['maxrss_kb'])} | {rb.ratio(s['bytes_after'], r['bytes_after'])} | "
                     f"{rb.ratio(s['prune2']['seconds'], r['prune2']['seconds'])} |")
        L.append("")
    L.append("What each prune did (first good run):")
    L.append("")
    for key, tname, label in REPOS:
        s = pr.get(key)
        if s is None or not s["report"]:
            continue
        rep = s["report"]
        if tname == "lifeboat" and rep.get("prune"):
            p, f = rep["prune"], rep.get("forget") or {}
            dl, pl = p.get("deleted") or {}, p.get("planned") or {}
            L.append(f"- **{label}**: forget removed {f.get('removed', '?')} of {f.get('snapshots', '?')} snapshots; prune: "
                     f"{p.get('packs')} packs, {rb.mib_bytes(p.get('bytes'))}, {rb.mib_bytes(p.get('bytes_unused'))} unused; "
                     f"{pl.get('packs_unused', '?')} packs unused and {pl.get('packs_repacked', '?')} repacked "
                     f"({rb.mib_bytes(pl.get('bytes_repacked'))} copied); deleted {dl.get('packs', '?')} packs, "
                     f"{rb.mib_bytes(dl.get('bytes'))}" + (f"; {rb.mib_bytes(p['bytes_unused_after'])} left unused"
                                                          if p.get("bytes_unused_after") is not None else "") + ".")
        elif tname == "restic":
            f = rep.get("forget") or {}
            lines = (rep.get("prune") or {}).get("lines") or []
            L.append(f"- **{label}**: forget removed {f.get('remove', '?')} of {f.get('keep', 0) + f.get('remove', 0)} "
                     f"snapshots; prune: " + "; ".join(f"`{x}`" for x in lines) + ".")
    L.append("")
    L.append("How: per run and repository, a fresh copy of the month (`cp -a`), fresh caches, the page cache dropped "
             "before each command. lifeboat: `lifeboat forget --keep-daily 7 --keep-weekly 4`, then `lifeboat prune` "
             "(defaults: repack packs at least 50% unused, packs under 25% of the pack size, then the most unused until at most "
             "5% of what stays is unused, `--max-unused 5`); restic 0.14: `restic "
             "forget --keep-daily 7 --keep-weekly 4`, then `restic prune` (default `--max-unused 5%`). Times are each "
             "command's wall time, CPU user+system, peak RSS from wait4; size is `du -sb` of the repository. Both keep "
             "the same days (" + ", ".join(str(d) for d in expected_kept(range(1, a.tiers_days + 1))) + ") of each group "
             "(lifeboat-node: each of the accounts).")
    L.append("")
    L.append("### Node restore from one repository and from two at once")
    L.append("")
    if rs:
        L.append("| setting | " + " | ".join(lbl for _, lbl in VARIANTS) + " | both / first alone | "
                 "both, copy first / copy alone |")
        L.append("|---|" + "---|" * (len(VARIANTS) + 2))
        for sname in ("loopback", "wan"):
            per = rs.get(sname)
            if not per:
                continue
            cells = []
            for vk, _ in VARIANTS:
                s = per.get(vk)
                cells.append("failed" if s is None else f"{rb.fmt_s(s['seconds'])} ({s['mb_per_s']:.0f} MB/s)")
            lab = "loopback" if sname == "loopback" else \
                f"WAN-like: {a.tiers_bwlimit or 'no'} bandwidth limit, {a.tiers_delay_ms or 0} ms per request, per server"
            L.append(f"| {lab} | " + " | ".join(cells) + " | "
                     + rb.ratio((per.get("both") or {}).get("seconds"), (per.get("first") or {}).get("seconds")) + " | "
                     + rb.ratio((per.get("both-copy-first") or {}).get("seconds"), (per.get("second") or {}).get("seconds"))
                     + " |")
        L.append("")
        L.append("Bytes fetched, CPU and peak RSS of lifeboat (medians):")
        L.append("")
        L.append("| setting | variant | fetched in all | from each, in --repo order | per-repository MB/s | CPU | peak RSS | 50% accounts ready |")
        L.append("|---|---|---|---|---|---|---|---|")
        for sname in ("loopback", "wan"):
            for vk, vl in VARIANTS:
                s = (rs.get(sname) or {}).get(vk)
                if s is None:
                    continue
                per = " / ".join(rb.mib_bytes(b) for b in s["per_repo_bytes"]) if s["per_repo_bytes"] else "–"
                mbs = " / ".join("–" if x is None else f"{x:.0f}" for x in s["per_repo_mb_per_s"]) if s["per_repo_mb_per_s"] else "–"
                L.append(f"| {sname} | {vl} | {rb.mib_bytes(s['bytes_fetched'])} | {per} | {mbs} | {s['cpu_s']:.1f} s | "
                         f"{fmt_mib(s['maxrss_kb'])} | {rb.fmt_s(s['ready_50_s'])} |")
        L.append("")
    L.append(f"How: the month's lifeboat-node repository (first) and its tier copy (second) each behind its own "
             f"`rclone serve restic` (scripts/start-rclone-rest) on 127.0.0.1; `lifeboat node restore --node {NODE} "
             f"--target DIR` with `--repo FIRST`, `--repo SECOND`, or `--repo FIRST --repo SECOND`, or `--repo SECOND --repo FIRST` (same password), the "
             f"newest snapshot of every account (day {a.tiers_days}). WAN-like: rclone's `--bwlimit` "
             f"({a.tiers_bwlimit or 'none'}, per server: each repository has a link of its own) and a "
             f"scripts/fault-proxy in front of each server sleeping {a.tiers_delay_ms or 0} ms before forwarding every "
             f"request (`--rate 0 --delay-rate 1`, no faults). MB/s: the node's bytes over the command's wall time; "
             f"per-repository MB/s is lifeboat's own (bytes over the time reads from it were in flight). The variants "
             f"take turns going first; the page cache is dropped before each.")
    L.append("")
    L.append("### Verification")
    L.append("")
    for key, tname, label in REPOS:
        rr = [r for r in res["prune"] if r["repo"] == key]
        if rr:
            L.append(f"- **prune, {label}**: " + " / ".join(
                f"run {r['run']}: " + (sec.verify_line(r["verify"]) if r.get("verify") else f"FAILED ({(r.get('error') or '?')[:200]})")
                for r in rr))
    for sname in ("loopback", "wan"):
        for vk, vl in VARIANTS:
            rr = [r for r in res["restore"] if r.get("setting") == sname and r.get("variant") == vk]
            if not rr:
                continue
            parts = []
            for r in rr:
                v = r.get("verify")
                if not v:
                    parts.append(f"run {r['run']}: FAILED ({(r.get('error') or '?')[:200]})")
                    continue
                meta = "metadata exact" if v["metadata_exact"] else \
                    f"modes differ {v['mode_mismatch']}, mtimes differ {v['mtime_mismatch']}"
                parts.append(f"run {r['run']}: {'ok' if r['ok'] else 'FAILED'} ({r['accounts_ready']}/{a.tiers_accounts} accounts, "
                             f"{v['restored']['files']:,} files, {rb.human_bytes(v['restored']['bytes'])}; {meta}"
                             + (f"; diff -r {'clean' if v['diff_r'] else 'DIFFERS'}" if "diff_r" in v else "") + ")")
            L.append(f"- **node restore, {sname}, {vl}**: " + " / ".join(parts))
    for r in res["restore"]:
        if r.get("variant") is None:
            L.append(f"- **node restore, {r['setting']}**: FAILED: {r['error'][:300]}")
    L.append("")
    L.append(END)
    return "\n".join(L)


def reading(a, pr, rs, hist):
    """A few sentences at the top: what the numbers say, computed from them (no claim the numbers do not make)."""
    out = []
    r, w, n = pr.get("restic"), pr.get("lifeboat-whole"), pr.get("lifeboat-node")
    if r and w:
        out.append(f"- **Prune, same shape of history** (one snapshot of the node a day): lifeboat's forget + prune took "
                   f"{rb.fmt_s(w['total_seconds'])} against restic's {rb.fmt_s(r['total_seconds'])} "
                   f"({rb.ratio(w['total_seconds'], r['total_seconds'])}), prune's peak RSS {fmt_mib(w['prune']['maxrss_kb'])} "
                   f"against {fmt_mib(r['prune']['maxrss_kb'])}; the repository went from {rb.mib_bytes(w['bytes_before'])} "
                   f"to {rb.mib_bytes(w['bytes_after'])} (restic: {rb.mib_bytes(r['bytes_before'])} to {rb.mib_bytes(r['bytes_after'])}).")
    if n:
        out.append(f"- **Prune, lifeboat's own shape** (one snapshot per account a day, {a.tiers_accounts}× the snapshots): "
                   f"forget + prune {rb.fmt_s(n['total_seconds'])} (forget alone {rb.fmt_s(n['forget']['seconds'])}), "
                   f"peak RSS {fmt_mib(n['prune']['maxrss_kb'])}" + (f", {rb.ratio(n['total_seconds'], r['total_seconds'])} restic's time"
                                                                      if r else "") + ".")
        out.append(f"- A second prune with nothing to delete: {rb.fmt_s(n['prune2']['seconds'])} (lifeboat-node), "
                   + (f"{rb.fmt_s(w['prune2']['seconds'])} (lifeboat-whole), " if w else "")
                   + (f"{rb.fmt_s(r['prune2']['seconds'])} (restic)" if r else "") + ".")
    for sname, lab in (("loopback", "on loopback"), ("wan", "through WAN-like links")):
        per = rs.get(sname) or {}
        f, b, s2 = per.get("first"), per.get("both"), per.get("second")
        if f and b:
            out.append(f"- **Node restore {lab}**: {b['mb_per_s']:.0f} MB/s from both repositories against "
                       f"{f['mb_per_s']:.0f} MB/s from the first alone" + (f" and {s2['mb_per_s']:.0f} MB/s from the second alone"
                                                                           if s2 else "")
                       + f" ({rb.ratio(b['seconds'], f['seconds'])} the first's time).")
        bc = per.get("both-copy-first")
        if bc and s2:
            out.append(f"  With the copy listed first (it lists its snapshots, the month serves content only): "
                       f"{bc['mb_per_s']:.0f} MB/s, {rb.ratio(bc['seconds'], s2['seconds'])} the copy's time alone.")
    if out:
        out.append("")
    return out


# ----------------------------------------------------------------------------
# Hooks for run_bench.py

def add_arguments(ap):
    g = ap.add_argument_group("tiers section (prune on a month of daily snapshots; node restore from two repositories vs one)")
    x = g.add_mutually_exclusive_group()
    x.add_argument("--no-tiers", action="store_true", help="skip the tiers section")
    x.add_argument("--tiers-only", action="store_true", help="run only the tiers section (the others are left as they are)")
    g.add_argument("--tiers-accounts", type=int, default=None, help=f"accounts of the section's node (default {DEFAULT_ACCOUNTS})")
    g.add_argument("--tiers-scale", type=float, default=None,
                   help=f"byte volume of its node (gen_node.py --scale; default {DEFAULT_SCALE:g}: ~0.66 GB with {DEFAULT_ACCOUNTS} accounts)")
    g.add_argument("--tiers-days", type=int, default=None, help="days of history (default 30, with --quick 10)")
    g.add_argument("--tiers-runs", type=int, default=None, help="runs (default 3, with --quick 1)")
    g.add_argument("--tiers-bwlimit", default="20M", help="WAN-like setting: rclone --bwlimit per server (default 20M; '' for none)")
    g.add_argument("--tiers-delay-ms", type=int, default=20,
                   help="WAN-like setting: delay per request, by scripts/fault-proxy (default 20; 0 for no proxy)")
    g.add_argument("--tiers-check", choices=("first", "all"), default="first",
                   help="check the pruned repositories (lifeboat check --read-data, restic check) in the first run (default) or all")
    g.add_argument("--tiers-rebuild", action="store_true", help="build the month of snapshots again even if one is kept")
    g.add_argument("--tiers-results", default=os.path.join(rb.HERE, "out", "tiers-results.json"),
                   help="raw results of the tiers section")


def finish_arguments(ap, args):
    if args.tiers_only and (args.node_only or args.backends_only):
        ap.error("--tiers-only with --node-only or --backends-only: choose one")
    args.tiers_accounts = args.tiers_accounts or (args.accounts if args.quick else DEFAULT_ACCOUNTS)
    args.tiers_scale = args.tiers_scale or (args.scale if args.quick else DEFAULT_SCALE)
    args.tiers_days = args.tiers_days or (10 if args.quick else 30)
    if not 1 <= args.tiers_days <= 31:
        ap.error("--tiers-days: 1 to 31 (the days of one month)")
    args.tiers_runs = args.tiers_runs or (1 if args.quick else 3)


def command_line(args):
    lb = os.path.relpath(args.lifeboat, rb.ROOT) if args.lifeboat.startswith(rb.ROOT + os.sep) else args.lifeboat
    tools = [t for t in ("lifeboat", "restic") if t in args.tool_list]
    words = ["--lifeboat", lb, "--tiers-only"] + (["--tools", ",".join(tools)] if len(tools) < 2 else [])
    words += ["--tiers-accounts", str(args.tiers_accounts), "--tiers-scale", f"{args.tiers_scale:g}", "--seed", str(args.seed),
              "--mutate-seed", str(args.mutate_seed), "--tiers-days", str(args.tiers_days), "--tiers-runs", str(args.tiers_runs),
              "--tiers-bwlimit", args.tiers_bwlimit or "''", "--tiers-delay-ms", str(args.tiers_delay_ms),
              "--workdir", args.workdir]
    return "python3 bench/run_bench.py " + " ".join(shlex.quote(x) if x != "''" else x for x in words)


def run_section(args, scratch, machine, started):
    """The whole section: runs, report (between BEGIN and END of args.out), raw results.  Returns the failures."""
    t0 = time.time()
    sec = TiersBench(args, scratch, os.path.join(scratch.data, "tiers"))
    res = sec.run()
    if "history" not in res:
        return ["tiers: lifeboat not available"]
    summ = summarize(res)
    if sec.bench.drop_ok is None:
        sec.bench.drop_ok = False
    versions = {t: tool.version() for t, tool in sec.tools.items()}
    versions["rclone"] = subprocess.run(["rclone", "version"], capture_output=True, text=True).stdout.split("\n")[0]
    cmdline = command_line(args)
    section = report(sec, res, summ, machine, versions, cmdline, started)
    raw = {"started": started, "seconds": round(time.time() - t0, 1), "command": cmdline, "machine": machine,
            "versions": versions, "skipped": sec.skip,
            "settings": {"accounts": args.tiers_accounts, "scale": args.tiers_scale, "seed": args.seed,
                         "mutate_seed": args.mutate_seed, "days": args.tiers_days, "runs": args.tiers_runs,
                         "keep": KEEP, "bwlimit": args.tiers_bwlimit, "delay_ms": args.tiers_delay_ms,
                         "node": NODE, "cache": "cold" if sec.bench.drop_ok else "warm"},
            "dataset": {"node": sec.bench.pristine_stats}, **res, "summary": summ}
    rb.publish_section("tiers", args.out, section, BEGIN, END, args.tiers_results, raw, t0)
    return ([f"tiers: prune {r['repo']} run {r['run']}" for r in res["prune"] if not r["ok"]]
            + [f"tiers: restore {r['setting']}/{r['variant']} run {r['run']}" for r in res["restore"] if not r["ok"]])
