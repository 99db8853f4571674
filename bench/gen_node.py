#!/usr/bin/env python3
"""Deterministic generator of a hosting-like node, for benchmarks and demos.

    gen_node.py --out DIR --accounts N --scale S --seed K [--json]
    gen_node.py --mutate DIR --seed K [--json]

--out creates DIR/<account>/... for N accounts that look like the home
directories of a shared web-hosting node:

  * sizes are heavy-tailed (Pareto): most accounts are small, a few are huge;
  * a CMS core (~1,100 small PHP/JS/CSS files plus shared plugins and themes,
    ~1,500 files per site) that is byte-identical in ~80% of the accounts,
    with a few other releases of the core in the rest;
  * uploads (incompressible, JPEG-sized 50 KiB - 5 MiB, plus thumbnails);
  * compressible access/error logs, mysqldump-style SQL dumps;
  * Maildir++ mail (cur/new/tmp per folder, many small messages);
  * a few 100+ MiB files (tar archive of mixed content, video, SQL archive)
    in the largest accounts;
  * empty directories, symlinks (one dangling, as cPanel makes them), a hard
    link per site, one non-UTF-8 file name in some accounts, realistic modes
    and nanosecond mtimes (directories included).

At --scale 1 and 200 accounts the node is ~3 GB and ~250k files.  --scale
multiplies the byte volume (and, below 1, also thins out the CMS file count
so that a small scale gives a small node: 12 accounts at 0.02 is ~15 MB).

--mutate applies "a day of changes" in place: logs grow by 1-5%, some SQL
dumps are re-dumped with a few rows changed or added, new mail arrives (and
new/ messages are moved to cur/), a few uploads appear, a few files are
deleted, and a handful of sites update their CMS core (to the same release).

Everything is derived from --seed: the same command gives the same tree
(contents, names, sizes, modes and mtimes).  Prints a one-line summary; with
--json prints the summary as one JSON object on stdout instead.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import hashlib
import json
import math
import multiprocessing as mp
import os
import random
import sys
import time

KiB = 1024
MiB = 1024 * KiB
SEC = 10**9
DAY = 86400 * SEC
YEAR = 365 * DAY
T0 = 1710201600 * SEC  # 2024-03-12T00:00:00Z, "now" on the generated node

# Byte budget of one average account at --scale 1, on top of its site files.
VAR_BYTES_PER_ACCOUNT = 6.5 * MiB
CORE_FILES = 1100          # files in one CMS core release at scale >= 1
MAIN_VERSION = "6.4.3"
OTHER_VERSIONS = ["6.3.2", "6.2.4", "5.9.9"]
UPDATE_VERSION = "6.5.0"   # the release --mutate updates a few sites to

# ----------------------------------------------------------------------------
# Names and word material (fixed seed: the "language" is not node-specific)

PEOPLE = ("alice bob carol dave erin frank grace heidi ivan judy mallory oscar "
          "peggy rupert sybil trent victor walter wendy olivia liam emma noah "
          "mia lucas sofia leon hannah felix clara jonas marta pablo ines yuki "
          "omar leila tomasz anja").split()
BUSINESS = ("acme bakery bistro autoparts bikeshop bluebird bookstore brewery "
            "cafe citydental craftshop dogwalk ecoshop farm fitness florist "
            "gallery garage greenleaf homedecor hotel inkwell jazzclub kitchen "
            "lakeside lawfirm marina motors nordic oakwood petcare photo pizza "
            "plumbing quickfix realty redrock salon seaside silverline studio "
            "sunrise techlab toyshop travel urbanart vintage webdesign woodwork "
            "yoga zenspa").split()
TLDS = ["com", "com", "com", "net", "org", "de", "co.uk", "io", "fr", "nl"]
TECH = ("block editor rest api cache cron db embed feed http image l10n mail "
        "media meta nav option post query rewrite role script session style "
        "taxonomy template theme user widget ajax auth comment customize "
        "dashboard export import link network privacy site sitemap update "
        "upgrade upload vendor sodium compat json parser html text diff locale "
        "search format filter hook kses shortcode capability revision term "
        "attachment gallery audio video archive calendar login menu pattern "
        "font color spacing layout typography border duotone elements position "
        "shadow class interface provider factory handler controller service "
        "model view helper util exception event listener middleware router "
        "request response stream client server storage loader registry "
        "manager").split()
FUNCTION_WORDS = ("the of and to in is that for it with as was on be by at this "
                  "are from or an will not have your we can all more").split()
SYLL = ("ka lo mi ne ra to su vi del mar tor sen quo lin per bra ex un is an "
        "or el am ti co ve na po ri sa gen dor fel hu ber ost ple ing ter").split()


def clamp(x, lo, hi):
    return lo if x < lo else hi if x > hi else x


def lognorm(rng, median, sigma, lo, hi):
    return int(clamp(rng.lognormvariate(math.log(median), sigma), lo, hi))


class Pools:
    """Vocabulary and text/code pools.  Fixed seed, so --mutate rebuilds them."""

    def __init__(self):
        rng = random.Random("lifeboat-gen-node-pools-v1")
        seen = set(FUNCTION_WORDS)
        words = list(FUNCTION_WORDS)
        while len(words) < 6000:
            w = "".join(rng.choice(SYLL) for _ in range(rng.choice((1, 2, 2, 2, 3, 3, 4))))
            if w not in seen:
                seen.add(w)
                words.append(w)
        self.words = words
        acc, cw = 0.0, []
        for r in range(len(words)):
            acc += 1.0 / (r + 2.7) ** 1.07
            cw.append(acc)
        self.cw = cw
        self.text = self._text(rng, 4 * MiB)              # str, paragraphs
        self.text_b = self.text.encode()
        self.flat = self.text.replace("\n", " ")          # no newlines (SQL)
        self.php = self._code(rng, 1536 * KiB, self._php_block)
        self.js = self._code(rng, 1024 * KiB, self._js_block)
        self.css = self._code(rng, 768 * KiB, self._css_block)

    def sentence(self, rng, lo=5, hi=18):
        s = " ".join(rng.choices(self.words, cum_weights=self.cw, k=rng.randint(lo, hi)))
        return s[0].upper() + s[1:] + "."

    def _text(self, rng, size):
        out, total = [], 0
        while total < size:
            words = rng.choices(self.words, cum_weights=self.cw, k=20000)
            i, para = 0, []
            while i < len(words):
                n = rng.randint(5, 22)
                s = " ".join(words[i:i + n])
                i += n
                para.append(s[0].upper() + s[1:] + ("." if rng.random() < 0.9 else ","))
                if rng.random() < 0.15:
                    p = " ".join(para) + "\n\n"
                    out.append(p)
                    total += len(p)
                    para = []
        return "".join(out)

    def _code(self, rng, size, block):
        out, total = [], 0
        while total < size:
            b = block(rng)
            out.append(b)
            total += len(b)
        return "".join(out).encode()

    def _ident(self, rng):
        return rng.choice(TECH) + "_" + rng.choice(self.words[:800])

    def _php_block(self, rng):
        fn = self._ident(rng)
        v = ["$" + rng.choice(TECH) for _ in range(4)]
        lines = ["/**", " * " + self.sentence(rng), " *",
                 f" * @since {rng.randint(2, 6)}.{rng.randint(0, 9)}.0", " *",
                 f" * @param {rng.choice(['string', 'int', 'array', 'bool'])} {v[0]} {self.sentence(rng, 3, 8)}",
                 f" * @return {rng.choice(['string', 'int', 'array', 'bool', 'void', 'WP_Error|null'])}",
                 " */",
                 f"function {fn}( {v[0]}, {v[1]} = {rng.choice(['null', 'array()', 'false', '0', chr(39) * 2])} ) {{"]
        for _ in range(rng.randint(2, 14)):
            k = rng.random()
            a, b = rng.choice(v), rng.choice(v)
            if k < 0.25:
                lines.append(f"\t{a} = {self._ident(rng)}( {b}, '{rng.choice(self.words[:300])}' );")
            elif k < 0.45:
                lines.append(f"\tif ( ! empty( {a}['{rng.choice(TECH)}'] ) ) {{")
                lines.append(f"\t\treturn apply_filters( '{self._ident(rng)}', {b}, {a} );")
                lines.append("\t}")
            elif k < 0.6:
                lines.append(f"\t// {self.sentence(rng, 4, 12)}")
            elif k < 0.75:
                lines.append(f"\tforeach ( (array) {a} as $key => $value ) {{")
                lines.append(f"\t\t{b}[ $key ] = {rng.choice(['sanitize_text_field', 'absint', 'esc_url_raw', 'trim'])}( $value );")
                lines.append("\t}")
            elif k < 0.88:
                lines.append(f"\t{a} = $this->{rng.choice(TECH)}->{self._ident(rng)}( {b} );")
            else:
                lines.append(f"\tthrow new {rng.choice(TECH).capitalize()}Exception( __( '{self.sentence(rng, 3, 9)}' ) );")
        lines.append(f"\treturn {rng.choice(v)};")
        lines.append("}\n\n")
        return "\n".join(lines)

    def _js_block(self, rng):
        if rng.random() < 0.3:  # a minified line
            parts = []
            for _ in range(rng.randint(20, 80)):
                parts.append(f"{rng.choice('abcdefghnrst')}.{rng.choice(TECH)}=function({rng.choice('abcde')}){{return {rng.choice('xyzuv')}.{self._ident(rng)}({rng.randint(0, 999)})}}")
            return ";".join(parts) + ";\n"
        fn = self._ident(rng)
        lines = [f"/**\n * {self.sentence(rng)}\n */", f"export function {fn}( props, options = {{}} ) {{"]
        for _ in range(rng.randint(2, 12)):
            k = rng.random()
            if k < 0.4:
                lines.append(f"\tconst {rng.choice(TECH)} = use{rng.choice(TECH).capitalize()}( props.{rng.choice(TECH)}, '{rng.choice(self.words[:300])}' );")
            elif k < 0.6:
                lines.append(f"\tif ( ! options.{rng.choice(TECH)} ) {{\n\t\treturn null;\n\t}}")
            elif k < 0.8:
                lines.append(f"\t// {self.sentence(rng, 4, 12)}")
            else:
                lines.append(f"\tdispatch( '{rng.choice(TECH)}/{rng.choice(TECH)}' ).{self._ident(rng)}( {rng.randint(0, 99)} );")
        lines.append("}\n\n")
        return "\n".join(lines)

    def _css_block(self, rng):
        sel = ", ".join(f".{rng.choice(TECH)}-{rng.choice(TECH)}{rng.choice(['', ' > a', ':hover', ' .is-active', '__inner'])}"
                        for _ in range(rng.randint(1, 3)))
        props = []
        for _ in range(rng.randint(1, 8)):
            p = rng.choice(["margin", "padding", "color", "background-color", "border", "font-size",
                            "line-height", "display", "width", "max-width", "z-index", "transition"])
            val = rng.choice([f"{rng.randint(0, 48)}px", f"#{rng.randrange(1 << 24):06x}", "0 auto", "flex",
                              "none", f"{rng.randint(1, 100)}%", f"var(--wp--preset--{rng.choice(TECH)}--{rng.choice(TECH)})",
                              f"all {rng.randint(1, 5) / 10}s ease-in-out", "inherit"])
            props.append(f"\t{p}: {val};")
        return sel + " {\n" + "\n".join(props) + "\n}\n\n"


def pool_slice(rng, pool, n, at_line=True):
    """n bytes (or chars) cut from pool at a random place (several cuts if n is large)."""
    out, L = [], len(pool)
    while n > 0:
        take = min(n, L // 2)
        o = rng.randrange(0, L - take)
        if at_line:
            nl = pool.find(b"\n" if isinstance(pool, bytes) else "\n", o, o + 400)
            if 0 <= nl < L - take:
                o = nl + 1
        out.append(pool[o:o + take])
        n -= take
    return (b"" if isinstance(pool, bytes) else "").join(out)


# ----------------------------------------------------------------------------
# The shared part of the node: CMS core releases, plugins, themes

def core_kind(rel):
    if "/js" in rel or rel.startswith("assets/js") or rel.endswith(".js"):
        return "js"
    if "/css" in rel or rel.endswith(".css"):
        return "css"
    if "images" in rel:
        return "img"
    if rel.startswith("languages"):
        return "po"
    return "php"


EXT = {"js": [".js", ".js", ".min.js", ".asset.php"], "css": [".css", ".min.css", "-rtl.css"],
       "img": [".png", ".svg", ".gif"], "po": [".po", ".mo", ".json"],
       "php": [".php"] * 12 + [".json", ".html", ".txt", ".twig"]}


def make_file_content(P, rng, rel, kind, size, label):
    """Content of a small source-like file of about `size` bytes."""
    ext = os.path.splitext(rel)[1]
    if ext in (".png", ".gif", ".mo"):
        head = {".png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ".gif": b"GIF89a", ".mo": b"\xde\x12\x04\x95"}[ext]
        return head + rng.randbytes(max(0, size - len(head)))
    if ext == ".svg":
        pts = " ".join(f"{rng.randint(0, 999)}.{rng.randint(0, 99)}" for _ in range(max(8, size // 7)))
        return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path d="M{pts}"/></svg>\n').encode()[:max(size, 120)]
    if kind == "js" and not rel.endswith(".php"):
        head = f"/*! {rel} | {label} | GPL-2.0-or-later */\n".encode()
        return head + pool_slice(rng, P.js, max(0, size - len(head)))
    if kind == "css":
        head = f"/*! {rel} | {label} */\n".encode()
        return head + pool_slice(rng, P.css, max(0, size - len(head)))
    if kind == "po" or ext in (".txt", ".html"):
        head = f"# {rel} ({label})\n".encode()
        return head + pool_slice(rng, P.text_b, max(0, size - len(head)))
    if ext == ".json":
        d = {"$schema": "https://schemas.example.org/block.json", "apiVersion": 3,
             "name": rel.replace("/", "-"), "title": P.sentence(rng, 2, 5),
             "attributes": {rng.choice(TECH): {"type": rng.choice(["string", "number", "boolean"])} for _ in range(rng.randint(2, 20))},
             "description": P.sentence(rng, 8, 30)}
        return json.dumps(d, indent="\t").encode()
    head = (f"<?php\n/**\n * {P.sentence(rng, 2, 6)}\n *\n * @package Press\n * @subpackage "
            f"{rng.choice(TECH).capitalize()}\n * @since {label}\n * @file {rel}\n */\n\n").encode()
    return head + pool_slice(rng, P.php, max(0, size - len(head)))


CORE_ROOT_FILES = ["index.php", "load.php", "settings.php", "cron.php", "login.php", "xmlrpc.php",
                   "blog-header.php", "activate.php", "comments-post.php", "mail.php", "signup.php",
                   "trackback.php", "links-opml.php", "config-sample.php", "license.txt", "readme.html"]
CORE_TOP = ["admin", "admin/css", "admin/js", "admin/images", "admin/includes", "admin/network",
            "admin/user", "includes", "includes/blocks", "includes/rest-api", "includes/rest-api/endpoints",
            "includes/assets", "includes/css", "includes/js", "includes/images", "includes/fonts",
            "assets", "assets/js", "assets/js/vendor", "assets/css", "assets/css/dist", "lib",
            "modules", "languages", "languages/plugins", "languages/themes"]
CORE_DIRS_TOP = ("admin", "includes", "assets", "lib", "modules", "languages")


def core_release_time(version):
    h = int(hashlib.sha256(version.encode()).hexdigest()[:8], 16)
    parts = [int(x) for x in version.split(".")]
    return T0 - (7 - parts[0]) * YEAR + parts[1] * 60 * DAY - h % (20 * DAY)


def build_core(P, seed, cf):
    """{version: {relpath: (bytes, mtime_ns)}} for the main and the other releases."""
    rng = random.Random(f"{seed}:core")
    nfiles = max(40, int(CORE_FILES * cf))
    dirs = list(CORE_TOP)
    dset = set(dirs)
    ndirs = max(len(CORE_TOP), nfiles // 11)
    while len(dirs) < ndirs:
        parent = rng.choice(dirs)
        if parent.count("/") >= 4:
            continue
        d = f"{parent}/{rng.choice(TECH)}{rng.choice(['', '', '-' + rng.choice(TECH)])}"
        if d not in dset:
            dset.add(d)
            dirs.append(d)
    dir_w = [1.0 / (1 + d.count("/")) for d in dirs]
    rels = list(CORE_ROOT_FILES) + ["includes/version.php"]
    rset = set(rels)
    while len(rels) < nfiles:
        d = rng.choices(dirs, weights=dir_w)[0]
        kind = core_kind(d + "/")
        name = f"{rng.choice(TECH)}{rng.choice(['', '-' + rng.choice(TECH), '-' + rng.choice(TECH) + '-' + rng.choice(TECH)])}"
        if kind == "php" and rng.random() < 0.4:
            name = "class-" + name
        rel = f"{d}/{name}{rng.choice(EXT[kind])}"
        if rel not in rset:
            rset.add(rel)
            rels.append(rel)
    rel_t = core_release_time(MAIN_VERSION)
    main = {}
    for rel in rels:
        main[rel] = (core_file(P, rng, rel, MAIN_VERSION), rel_t - rng.randrange(0, 400 * DAY) // SEC * SEC)
    releases = {MAIN_VERSION: main}
    for v in OTHER_VERSIONS:
        r2 = random.Random(f"{seed}:core:{v}")
        t = core_release_time(v)
        files = {}
        for rel, (data, mt) in main.items():
            x = r2.random()
            if rel == "includes/version.php":
                files[rel] = (version_php(v), t)
            elif x < 0.02:
                continue                                  # not yet in this release
            elif x < 0.20:
                files[rel] = (core_file(P, r2, rel, v), t - r2.randrange(0, 200 * DAY) // SEC * SEC)
            else:
                files[rel] = (data, min(mt, t))
        for i in range(max(1, nfiles // 40)):              # files dropped later
            d = r2.choice(dirs)
            rel = f"{d}/{r2.choice(TECH)}-legacy-{i}{r2.choice(EXT[core_kind(d + '/')])}"
            files.setdefault(rel, (core_file(P, r2, rel, v), t - r2.randrange(0, 300 * DAY) // SEC * SEC))
        releases[v] = files
    return releases, dirs


def version_php(v):
    return (f"<?php\n/**\n * The Press version string.\n *\n * @global string $press_version\n */\n"
            f"$press_version = '{v}';\n\n$press_db_version = {50000 + sum(int(x) for x in v.split('.')) * 311};\n"
            f"\n$required_php_version = '7.0.0';\n$required_mysql_version = '5.5.5';\n").encode()


def core_file(P, rng, rel, version):
    if rel == "includes/version.php":
        return version_php(version)
    kind = core_kind(rel)
    if rel == "license.txt":
        size = 19 * KiB
    elif rel == "readme.html":
        size = 7 * KiB
    else:
        size = lognorm(rng, 3 * KiB, 0.9, 1 * KiB, 40 * KiB)
    return make_file_content(P, rng, rel, kind, size, f"Press {version}")


def build_addons(P, seed, cf):
    """Shared plugins and themes: [(name, {relpath: (bytes, mtime)})]."""
    rng = random.Random(f"{seed}:addons")
    plugins, themes = [], []
    for i in range(12):
        name = f"{rng.choice(TECH)}-{rng.choice(TECH)}{rng.choice(['', '-pro', '-lite', '-for-press'])}"
        n = max(3, int(rng.randint(15, 60) * cf))
        t = T0 - rng.randrange(10 * DAY, 500 * DAY) // SEC * SEC
        files = {}
        sub = ["", "includes", "includes/admin", "assets/js", "assets/css", "languages", "vendor/" + rng.choice(TECH)]
        for j in range(n):
            d = rng.choice(sub)
            kind = core_kind(d + "/") if d else "php"
            rel = (d + "/" if d else "") + f"{rng.choice(TECH)}-{j}{rng.choice(EXT[kind])}"
            files[rel] = (make_file_content(P, rng, rel, kind, lognorm(rng, 3 * KiB, 0.9, 1 * KiB, 40 * KiB), name), t)
        files[f"{name}.php"] = (make_file_content(P, rng, f"{name}.php", "php", 4 * KiB, name), t)
        files["readme.txt"] = (make_file_content(P, rng, "readme.txt", "po", 3 * KiB, name), t)
        plugins.append((name, files))
    for i in range(6):
        name = f"{rng.choice(P.words[30:400])}{rng.choice(['', 'press', '-theme', 'ly'])}{i}"
        n = max(4, int(rng.randint(20, 45) * cf))
        t = T0 - rng.randrange(10 * DAY, 700 * DAY) // SEC * SEC
        files = {"style.css": (make_file_content(P, rng, "style.css", "css", 6 * KiB, name), t),
                 "functions.php": (make_file_content(P, rng, "functions.php", "php", 8 * KiB, name), t),
                 "screenshot.png": (b"\x89PNG\r\n\x1a\n" + rng.randbytes(lognorm(rng, 200 * KiB, 0.5, 60 * KiB, 900 * KiB)), t)}
        sub = ["templates", "parts", "patterns", "assets/js", "assets/css", "assets/fonts", "inc"]
        for j in range(n):
            d = rng.choice(sub)
            kind = core_kind(d + "/")
            ext = ".html" if d in ("templates", "parts") else EXT[kind][0]
            rel = f"{d}/{rng.choice(TECH)}-{j}{ext}"
            files[rel] = (make_file_content(P, rng, rel, kind, lognorm(rng, 3 * KiB, 0.9, 1 * KiB, 40 * KiB), name), t)
        themes.append((name, files))
    return plugins, themes


SKELETON = {
    ".bashrc": b"# .bashrc\n\n# Source global definitions\nif [ -f /etc/bashrc ]; then\n\t. /etc/bashrc\nfi\n\n"
               b"# User specific aliases and functions\nalias ll='ls -l'\nexport PATH=$HOME/bin:$PATH\n",
    ".bash_profile": b"# .bash_profile\n\nif [ -f ~/.bashrc ]; then\n\t. ~/.bashrc\nfi\n\nPATH=$PATH:$HOME/.local/bin:$HOME/bin\nexport PATH\n",
    ".bash_logout": b"# ~/.bash_logout\n",
    ".contactemail": None,  # per account
}

# ----------------------------------------------------------------------------
# Writing files, with stats and deterministic metadata

class Writer:
    def __init__(self, root, default_mt):
        self.root = root
        self.default_mt = default_mt
        self.files = self.bytes = self.symlinks = self.hardlinks = 0
        self.dirs = {}        # rel dir -> mode
        self.dir_mt = {}      # rel dir -> newest child mtime
        self.mkdir("", 0o711)

    def mkdir(self, rel, mode=0o755):
        if rel in self.dirs:
            if mode != 0o755:
                self.dirs[rel] = mode
            return
        parent = os.path.dirname(rel)
        if rel and parent not in self.dirs:
            self.mkdir(parent)
        os.mkdir(os.path.join(self.root, rel) if rel else self.root)
        self.dirs[rel] = mode

    def _child(self, rel, mt):
        d = os.path.dirname(rel)
        if mt > self.dir_mt.get(d, 0):
            self.dir_mt[d] = mt

    def write(self, rel, data, mt, mode=0o644):
        d = os.path.dirname(rel)
        if d not in self.dirs:
            self.mkdir(d)
        p = os.path.join(self.root, rel)
        with open(p, "wb") as f:
            f.write(data)
        if mode != 0o644:
            os.chmod(p, mode)
        os.utime(p, ns=(mt, mt))
        self.files += 1
        self.bytes += len(data)
        self._child(rel, mt)

    def write_stream(self, rel, chunks, mt, mode=0o644):
        d = os.path.dirname(rel)
        if d not in self.dirs:
            self.mkdir(d)
        p = os.path.join(self.root, rel)
        n = 0
        with open(p, "wb") as f:
            for c in chunks:
                f.write(c)
                n += len(c)
        if mode != 0o644:
            os.chmod(p, mode)
        os.utime(p, ns=(mt, mt))
        self.files += 1
        self.bytes += n
        self._child(rel, mt)
        return n

    def symlink(self, rel, target, mt):
        d = os.path.dirname(rel)
        if d not in self.dirs:
            self.mkdir(d)
        p = os.path.join(self.root, rel)
        os.symlink(target, p)
        os.utime(p, ns=(mt, mt), follow_symlinks=False)
        self.symlinks += 1
        self._child(rel, mt)

    def hardlink(self, existing_rel, rel):
        d = os.path.dirname(rel)
        if d not in self.dirs:
            self.mkdir(d)
        os.link(os.path.join(self.root, existing_rel), os.path.join(self.root, rel))
        st = os.lstat(os.path.join(self.root, rel))
        self.files += 1
        self.hardlinks += 1
        self.bytes += st.st_size
        self._child(rel, st.st_mtime_ns)

    def finalize(self):
        """Directory modes and mtimes, children before parents."""
        for rel in sorted(self.dirs, key=lambda r: -(r.count("/") + (1 if r else 0))):
            mt = self.dir_mt.get(rel) or self.default_mt
            p = os.path.join(self.root, rel) if rel else self.root
            os.chmod(p, self.dirs[rel])
            os.utime(p, ns=(mt, mt))
            if rel:
                self._child(rel, mt)

    def stats(self):
        return {"files": self.files, "bytes": self.bytes, "dirs": len(self.dirs),
                "symlinks": self.symlinks, "hardlinks": self.hardlinks}


# ----------------------------------------------------------------------------
# Content generators

UAS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
       "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15",
       "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Mobile/15E148 Safari/604.1",
       "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.6261.64 Mobile Safari/537.36",
       "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
       "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
       "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
       "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
       "WordPress/6.4.3; https://example.net", "curl/7.88.1", "python-requests/2.31.0",
       "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:123.0) Gecko/20100101 Firefox/123.0"]
STATUS = ["200", "200", "200", "200", "200", "200", "200", "304", "304", "301", "302", "404", "404", "403", "500"]


class SiteCtx:
    """Per-account material for logs: client addresses, URLs, referers."""

    def __init__(self, P, rng, domain, acct):
        self.domain, self.acct = domain, acct
        self.ips = [f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
                    for _ in range(rng.randint(50, 600))]
        paths = ["/", "/index.php", "/feed/", "/robots.txt", "/favicon.ico", "/admin/admin-ajax.php",
                 "/login.php", "/xmlrpc.php", "/sitemap.xml", "/cron.php?doing_cron"]
        for _ in range(rng.randint(40, 400)):
            k = rng.random()
            if k < 0.4:
                paths.append(f"/{rng.choice(P.words[:2000])}-{rng.choice(P.words[:2000])}/")
            elif k < 0.7:
                paths.append(f"/content/uploads/{rng.randint(2016, 2024)}/{rng.randint(1, 12):02d}/{rng.choice(P.words[:3000])}.jpg")
            elif k < 0.85:
                paths.append(f"/assets/{rng.choice(['js', 'css'])}/{rng.choice(TECH)}.min.{rng.choice(['js', 'css'])}?ver=6.4.3")
            else:
                paths.append(f"/?p={rng.randint(1, 5000)}")
        self.reqs = [f"{'POST' if p.endswith(('ajax.php', 'login.php', 'xmlrpc.php')) else 'GET'} {p} HTTP/{rng.choice(['1.1', '2.0'])}"
                     for p in paths]
        self.req_cw = list(__import__("itertools").accumulate(1.0 / (i + 1) for i in range(len(self.reqs))))
        self.refs = ["-"] * 6 + [f"https://{domain}{p}" for p in paths[:20]] + ["https://www.google.com/", "https://duckduckgo.com/"]


def access_log_lines(rng, ctx, n, t0s, t1s):
    step = max(1, t1s - t0s) / max(1, n)
    ipc = rng.choices(ctx.ips, k=n)
    rqc = rng.choices(ctx.reqs, cum_weights=ctx.req_cw, k=n)
    uac = rng.choices(UAS, k=n)
    stc = rng.choices(STATUS, k=n)
    rfc = rng.choices(ctx.refs, k=n)
    out, last_min, prefix = [], -1, ""
    rnd = rng.random
    for i in range(n):
        s = t0s + int(i * step)
        m = s // 60
        if m != last_min:
            prefix = time.strftime("%d/%b/%Y:%H:%M:", time.gmtime(m * 60))
            last_min = m
        out.append(f'{ipc[i]} - - [{prefix}{s % 60:02d} +0000] "{rqc[i]}" {stc[i]} {180 + int(rnd() * 89820)} "{rfc[i]}" "{uac[i]}"\n')
    return "".join(out).encode()


ERRORS = ["PHP Warning:  Undefined array key \"{w}\" in {f} on line {l}",
          "PHP Notice:  Trying to access array offset on value of type null in {f} on line {l}",
          "PHP Fatal error:  Uncaught Error: Call to undefined function {w}() in {f}:{l}",
          "PHP Deprecated:  Creation of dynamic property {W}::${w} is deprecated in {f} on line {l}",
          "AH01630: client denied by server configuration: {f}",
          "AH00124: Request exceeded the limit of 10 internal redirects due to probable configuration error.",
          "script '{f}' not found or unable to stat"]


def error_log_lines(rng, P, ctx, n, t0s, t1s):
    step = max(1, t1s - t0s) / max(1, n)
    out = []
    for i in range(n):
        s = t0s + int(i * step)
        ts = time.strftime("%a %b %d %H:%M:%S", time.gmtime(s)) + f".{rng.randrange(10**6):06d} " + time.strftime("%Y", time.gmtime(s))
        f = f"/home/{ctx.acct}/public_html/{rng.choice(CORE_DIRS_TOP)}/{rng.choice(TECH)}.php"
        w = rng.choice(TECH)
        msg = rng.choice(ERRORS).format(w=w, W=w.capitalize(), f=f, l=rng.randint(10, 3000))
        out.append(f"[{ts}] [proxy_fcgi:error] [pid {rng.randint(1000, 99999)}:tid {rng.randint(10**14, 10**15)}] "
                   f"[client {rng.choice(ctx.ips)}:{rng.randint(1024, 65535)}] AH01071: Got error '{msg}'\n")
    return "".join(out).encode()


def log_chunks(gen, nbytes, line_len, t0s, t1s):
    """Yield ~nbytes of log text in pieces, time running from t0s to t1s."""
    total_lines = max(1, nbytes // line_len)
    done, per = 0, 40000
    while done < total_lines:
        n = min(per, total_lines - done)
        a = t0s + (t1s - t0s) * done // total_lines
        b = t0s + (t1s - t0s) * (done + n) // total_lines
        yield gen(n, a, b)
        done += n


PARA_SEP = "<!-- press:paragraph -->\\n"


def sql_str(s):
    return "'" + s + "'"


def sql_date(rng, lo_ns, hi_ns):
    s = rng.randrange(lo_ns // SEC, max(lo_ns // SEC + 1, hi_ns // SEC))
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(s))


class SqlGen:
    """mysqldump-like dump of a CMS database, extended INSERTs of ~512 KiB."""
    LINE = 512 * KiB

    def __init__(self, P, rng, acct, domain, db, created):
        self.P, self.rng, self.acct, self.domain, self.db, self.created = P, rng, acct, domain, db, created
        self.prefix = rng.choice(["wp_", "wp_", "pr_", f"{acct[:3]}_"])

    def _prep(self):
        r = self.rng
        rnd = r.random
        lo, hi = self.created // SEC, T0 // SEC
        self.dates = sorted(time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(lo + int(rnd() * (hi - lo)))) for _ in range(512))
        self.emails = [f"{p}{int(rnd() * 99) + 1}@{d}" for p in r.sample(PEOPLE, 16)
                       for d in ("gmail.com", "web.de", "outlook.com", "example.org")]
        self.ips = [f"{int(rnd() * 223) + 1}.{int(rnd() * 256)}.{int(rnd() * 256)}.{int(rnd() * 254) + 1}" for _ in range(64)]
        self.sizes_para = [lognorm(r, 500, 0.8, 40, 4000) for _ in range(256)]
        self.sizes_comment = [lognorm(r, 250, 0.9, 20, 3000) for _ in range(256)]
        self.sizes_option = [lognorm(r, 80, 1.2, 1, 4000) for _ in range(256)]
        self.meta_keys = ["_edit_lock", "_edit_last", "_thumbnail_id", "_wp_page_template", "_attachment_metadata", "_price", "_sku", "_views"]
        self.opt_names = [f"{r.choice(TECH)}_{r.choice(TECH)}_{r.choice(self.P.words[:1000])}" for _ in range(400)]
        self.files = [f"{r.randint(2016, 2024)}/{r.randint(1, 12):02d}/{r.choice(self.P.words[:500])}.jpg" for _ in range(200)]

    def text(self, n):
        flat = self.P.flat
        o = int(self.rng.random() * (len(flat) - n - 1))
        return flat[o:o + n]

    def row(self, table, i):
        r, P = self.rng, self.P
        if not hasattr(self, "dates"):
            self._prep()
        rnd = r.random
        if table == "posts":
            sp = self.sizes_para
            body = PARA_SEP.join(self.text(sp[int(rnd() * 256)]) for _ in range(1 + int(rnd() * 6)))
            d = self.dates[int(rnd() * 512)]
            title = P.sentence(r, 2, 8)[:-1]
            slug = title.lower().replace(" ", "-")
            return (f"({i},1,'{d}','{d}','{body}','{title}','','publish','open','open','',"
                    f"'{slug}','','','{d}','{d}','',0,'https://{self.domain}/?p={i}',0,'post','',0)")
        if table == "postmeta":
            k = self.meta_keys[int(rnd() * 8)]
            if k == "_attachment_metadata":
                v = (f"a:4:{{s:5:\"width\";i:{100 + int(rnd() * 3900)};s:6:\"height\";i:{100 + int(rnd() * 2900)};"
                     f"s:4:\"file\";s:20:\"{self.files[int(rnd() * 200)]}\";s:5:\"sizes\";a:0:{{}}}}")
            else:
                v = f"{int(rnd() * 10**9)}:{1 + int(rnd() * 9)}"
            return f"({i},{1 + int(rnd() * 5000)},'{k}','{v}')"
        if table == "comments":
            d = self.dates[int(rnd() * 512)]
            email = self.emails[int(rnd() * 64)]
            name = email.split("@")[0].rstrip("0123456789").capitalize()
            return (f"({i},{1 + int(rnd() * 5000)},'{name}','{email}','','{self.ips[int(rnd() * 64)]}','{d}','{d}',"
                    f"'{self.text(self.sizes_comment[int(rnd() * 256)])}',0,'1','{UAS[int(rnd() * len(UAS))]}','comment',0,0)")
        # options
        x = rnd()
        if x < 0.3:
            v = str(int(rnd() * 10**10))
        elif x < 0.7:
            v = self.text(self.sizes_option[int(rnd() * 256)])
        else:
            v = "a:5:{" + ";".join(f"s:{len(w)}:\"{w}\";i:{int(rnd() * 1000)}" for w in r.choices(TECH, k=5)) + ";}"
        return f"({i},'{self.opt_names[int(rnd() * 400)]}','{v}','{'yes' if rnd() < 0.7 else 'no'}')"

    def header(self):
        return (f"-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)\n--\n-- Host: localhost    Database: {self.db}\n"
                f"-- ------------------------------------------------------\n-- Server version\t8.0.36\n\n"
                "/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n/*!50503 SET NAMES utf8mb4 */;\n"
                "/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;\n/*!40103 SET TIME_ZONE='+00:00' */;\n"
                "/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;\n\n")

    def chunks(self, nbytes, t_dump):
        yield self.header().encode()
        shares = [("posts", 0.45), ("postmeta", 0.2), ("comments", 0.25), ("options", 0.10)]
        for table, share in shares:
            t = self.prefix + table
            cols = {"posts": 23, "postmeta": 4, "comments": 15, "options": 4}[table]
            create = (f"--\n-- Table structure for table `{t}`\n--\n\nDROP TABLE IF EXISTS `{t}`;\n"
                      f"/*!40101 SET @saved_cs_client     = @@character_set_client */;\n/*!50503 SET character_set_client = utf8mb4 */;\n"
                      f"CREATE TABLE `{t}` (\n  `id` bigint unsigned NOT NULL AUTO_INCREMENT,\n"
                      + "".join(f"  `c{j}` longtext NOT NULL,\n" for j in range(1, cols))
                      + f"  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;\n"
                      f"/*!40101 SET character_set_client = @saved_cs_client */;\n\n--\n-- Dumping data for table `{t}`\n--\n\n"
                      f"LOCK TABLES `{t}` WRITE;\n/*!40000 ALTER TABLE `{t}` DISABLE KEYS */;\n")
            yield create.encode()
            budget, i = int(nbytes * share), 1
            while budget > 0:
                rows, ln = [], 0
                while ln < self.LINE and ln < budget:
                    row = self.row(table, i)
                    i += 1
                    rows.append(row)
                    ln += len(row) + 1
                line = f"INSERT INTO `{t}` VALUES {','.join(rows)};\n".encode()
                budget -= len(line)
                yield line
            yield f"/*!40000 ALTER TABLE `{t}` ENABLE KEYS */;\nUNLOCK TABLES;\n\n".encode()
        yield (f"/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;\n\n-- Dump completed on "
               f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(t_dump // SEC))}\n").encode()


def mail_message(P, rng, acct, domain, user, t_s, attach_p=0.08):
    sender = f"{rng.choice(PEOPLE)}.{rng.choice(P.words[:800])}@{rng.choice(['gmail.com', 'web.de', 'outlook.com', 'gmx.net', 'yahoo.com', 'example.org'])}"
    to = f"{user}@{domain}"
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(t_s))
    mid = f"{rng.getrandbits(64):016x}.{rng.getrandbits(32):08x}@{sender.split('@')[1]}"
    subject = P.sentence(rng, 2, 9)[:-1]
    hdr = (f"Return-Path: <{sender}>\nDelivered-To: {to}\n"
           f"Received: from mx{rng.randint(1, 9)}.{sender.split('@')[1]} ([{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}])\n"
           f"\tby node.hosting.example with ESMTPS id {rng.getrandbits(40):010x}\n\tfor <{to}>; {date}\n"
           f"DKIM-Signature: v=1; a=rsa-sha256; d={sender.split('@')[1]}; s=s1; b={base64.b64encode(rng.randbytes(96)).decode()}\n"
           f"Date: {date}\nFrom: {sender.split('.')[0].capitalize()} <{sender}>\nTo: <{to}>\nSubject: {subject}\n"
           f"Message-ID: <{mid}>\nMIME-Version: 1.0\n")
    body = pool_slice(rng, P.text, lognorm(rng, 2500, 1.0, 200, 50 * KiB))
    if rng.random() < attach_p:
        bnd = f"----=_Part_{rng.getrandbits(48):012x}"
        att = base64.encodebytes(rng.randbytes(lognorm(rng, 90 * KiB, 1.0, 8 * KiB, 3 * MiB))).decode()
        msg = (hdr + f"Content-Type: multipart/mixed; boundary=\"{bnd}\"\n\n--{bnd}\nContent-Type: text/plain; charset=utf-8\n"
               f"Content-Transfer-Encoding: 8bit\n\n{body}\n--{bnd}\nContent-Type: application/pdf; name=\"{rng.choice(P.words[:500])}.pdf\"\n"
               f"Content-Transfer-Encoding: base64\nContent-Disposition: attachment\n\n{att}--{bnd}--\n")
    else:
        msg = hdr + f"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n{body}\n"
    return msg.encode()


def maildir_name(rng, t_s, size, seen, flags):
    while True:
        n = f"{t_s}.M{rng.randrange(10**6)}P{rng.randint(100, 99999)}.node01.hosting.example,S={size},W={size + size // 40}"
        if n not in seen:
            seen.add(n)
            return n + (":2," + flags if flags is not None else "")


def jpeg_chunks(rng, size):
    head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x01\x00H\x00H\x00\x00"
    yield head
    left = size - len(head) - 2
    while left > 0:
        n = min(left, 4 * MiB)
        yield rng.randbytes(n)
        left -= n
    yield b"\xff\xd9"


def random_chunks(rng, size, head=b""):
    yield head
    left = size - len(head)
    while left > 0:
        n = min(left, 4 * MiB)
        yield rng.randbytes(n)
        left -= n


# ----------------------------------------------------------------------------
# One account

G = {}   # shared material, set in the parent before the worker pool forks


def ago(rng, lo_ns, hi_ns):
    """A time between hi_ns and lo_ns before T0, with nanoseconds."""
    return T0 - rng.randrange(lo_ns, hi_ns)


def gen_account(job):
    P, seed = G["pools"], G["seed"]
    name, budget, site, big = job["name"], job["budget"], job["site"], job["big"]
    rng = random.Random(f"{seed}:acct:{name}")
    age = rng.randrange(YEAR, 10 * YEAR)
    created = T0 - age
    W = Writer(os.path.join(G["out"], name), created + rng.randrange(DAY))
    domain = f"{name.replace('_', '-')}.{rng.choice(TLDS)}"
    ctx = SiteCtx(P, rng, domain, name)

    # --- home skeleton
    for rel, data in SKELETON.items():
        if data is None:
            data = f"{name}@{rng.choice(['gmail.com', 'outlook.com', domain])}\n".encode()
        W.write(rel, data, created + rng.randrange(DAY))
    W.mkdir("tmp")
    W.mkdir(".trash", 0o700)
    W.mkdir(".cpanel/caches", 0o700)
    W.mkdir("etc", 0o750)
    W.write(f"etc/{domain}/passwd", "".join(f"{u}:x:{1000 + i}:{1000 + i}::/home/{name}/mail/{domain}/{u}:/home/{name}\n"
                                             for i, u in enumerate(job["mail_users"])).encode(), ago(rng, DAY, age), 0o640)
    W.write(f"etc/{domain}/shadow", "".join(f"{u}:$6${rng.getrandbits(48):012x}${base64.b64encode(rng.randbytes(64)).decode()}:19000::::::\n"
                                             for u in job["mail_users"]).encode(), ago(rng, DAY, age), 0o640)
    W.dirs[f"etc/{domain}"] = 0o750
    if rng.random() < 0.4:
        W.mkdir(".ssh", 0o700)
        W.write(".ssh/authorized_keys", "".join(f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{base64.b64encode(rng.randbytes(24)).decode()} {u}@laptop\n"
                                                for u in rng.sample(PEOPLE, rng.randint(1, 3))).encode(), ago(rng, DAY, age), 0o600)
    W.mkdir("ssl/certs")
    W.mkdir("ssl/keys", 0o700)
    W.write(f"ssl/certs/{domain.replace('.', '_')}.crt", ("-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(rng.randbytes(1300)).decode()
                                                          + "-----END CERTIFICATE-----\n").encode(), ago(rng, 0, 80 * DAY))
    W.write(f"ssl/keys/{domain.replace('.', '_')}.key", ("-----BEGIN PRIVATE KEY-----\n" + base64.encodebytes(rng.randbytes(1190)).decode()
                                                         + "-----END PRIVATE KEY-----\n").encode(), ago(rng, 0, 80 * DAY), 0o600)
    W.symlink("access-logs", f"/usr/local/apache/domlogs/{name}", created)   # dangling, as on cPanel

    # --- the site
    site_files = 0
    if site:
        ver = job["core"]
        for rel, (data, mt) in G["core"][ver].items():
            W.write("public_html/" + rel, data, mt)
        site_files += len(G["core"][ver])
        for pi in job["plugins"]:
            pname, files = G["plugins"][pi]
            for rel, (data, mt) in files.items():
                W.write(f"public_html/content/plugins/{pname}/{rel}", data, mt)
        tname, tfiles = G["themes"][job["theme"]]
        for rel, (data, mt) in tfiles.items():
            W.write(f"public_html/content/themes/{tname}/{rel}", data, mt)
        child = f"public_html/content/themes/{tname}-child"
        W.write(f"{child}/style.css", make_file_content(P, rng, "style.css", "css", lognorm(rng, 3 * KiB, 1, 400, 40 * KiB), name), ago(rng, DAY, age))
        W.write(f"{child}/functions.php", make_file_content(P, rng, "functions.php", "php", lognorm(rng, 3 * KiB, 1, 400, 40 * KiB), name), ago(rng, DAY, age))
        W.write(f"{child}/favicon.ico", b"\x00\x00\x01\x00\x01\x00\x10\x10" + rng.randbytes(1142), ago(rng, DAY, age))
        W.hardlink(f"{child}/favicon.ico", "public_html/favicon.ico")
        W.write("public_html/config.php", (f"<?php\ndefine( 'DB_NAME', '{name}_press' );\ndefine( 'DB_USER', '{name}_press' );\n"
                                           f"define( 'DB_PASSWORD', '{base64.b64encode(rng.randbytes(18)).decode()}' );\ndefine( 'DB_HOST', 'localhost' );\n"
                                           + "".join(f"define( '{k}', '{base64.b64encode(rng.randbytes(48)).decode()}' );\n"
                                                     for k in ("AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT"))
                                           + "$table_prefix = 'wp_';\nrequire_once ABSPATH . 'settings.php';\n").encode(),
                ago(rng, DAY, age), 0o640)
        W.write("public_html/.htaccess", (f"# BEGIN Press\n<IfModule mod_rewrite.c>\nRewriteEngine On\nRewriteBase /\n"
                                          f"RewriteRule ^index\\.php$ - [L]\nRewriteCond %{{REQUEST_FILENAME}} !-f\nRewriteCond %{{REQUEST_FILENAME}} !-d\n"
                                          f"RewriteRule . /index.php [L]\n</IfModule>\n# END Press\n# php -- BEGIN cPanel-generated handler\n"
                                          f"<IfModule mime_module>\n  AddHandler application/x-httpd-ea-php8{rng.randint(0, 3)} .php .php8 .phtml\n</IfModule>\n").encode(),
                ago(rng, DAY, age))
        W.write("public_html/robots.txt", f"User-agent: *\nDisallow: /admin/\nSitemap: https://{domain}/sitemap.xml\n".encode(), ago(rng, DAY, age))
        W.write("public_html/content/index.php", b"<?php\n// Silence is golden.\n", created)
        W.mkdir("public_html/content/cache")
        W.mkdir("public_html/content/upgrade")
        W.mkdir("public_html/.well-known/acme-challenge")
        W.symlink("www", "public_html", created)
        site_files += 10
    else:
        W.write("public_html/index.html", f"<html><head><title>{domain}</title></head><body>Coming soon.</body></html>\n".encode(), created)
        W.mkdir("public_html/cgi-bin")
    W.dirs["public_html"] = 0o750

    # --- budgets for the variable part
    big_total = sum(s for _, s in big)
    rest = max(0, budget - big_total)
    fr = {"up": 0.45, "logs": 0.15, "sql": 0.15 if site else 0.0, "mail": 0.13, "docs": 0.12}
    fr = {k: v * rng.uniform(0.5, 1.5) for k, v in fr.items()}
    tot = sum(fr.values())
    bud = {k: rest * v / tot for k, v in fr.items()}

    # uploads (site) or documents (no site): incompressible JPEG-sized files + thumbnails
    left = bud["up"]
    base = "public_html/content/uploads" if site else "Documents/photos"
    seen = set()
    i = 0
    while left > 30 * KiB:
        size = lognorm(rng, 250 * KiB, 1.1, 50 * KiB, 5 * MiB)
        if size > left * 1.5 and i > 0:
            break
        t = ago(rng, 0, age)
        ym = time.strftime("%Y/%m", time.gmtime(t // SEC))
        stem = f"{rng.choice(P.words[:3000])}-{rng.choice(P.words[:3000])}{rng.choice(['', '-' + str(rng.randint(1, 99)), '-scaled', '-edited'])}"
        if (ym, stem) in seen:
            continue
        seen.add((ym, stem))
        W.write_stream(f"{base}/{ym}/{stem}.jpg", jpeg_chunks(rng, size), t)
        left -= size
        if site:
            for dim in rng.sample(["150x150", "300x200", "768x512", "1024x683"], rng.randint(0, 2)):
                ts = lognorm(rng, 18 * KiB, 0.6, 4 * KiB, 120 * KiB)
                W.write_stream(f"{base}/{ym}/{stem}-{dim}.jpg", jpeg_chunks(rng, ts), t + rng.randrange(SEC))
                left -= ts
        i += 1
    if site and job.get("latin1"):
        W.write_stream(f"{base}/2011/05/" + os.fsdecode(b"caf\xe9-cr\xe8me.jpg"), jpeg_chunks(rng, 64 * KiB), ago(rng, 12 * YEAR, 13 * YEAR))
    W.mkdir(f"{base}/{time.strftime('%Y/%m', time.gmtime(T0 // SEC))}")

    # logs: compressible text, current and rotated
    lb = bud["logs"]
    now_s = T0 // SEC - rng.randrange(60, 3600)
    acc_parts = [(f"logs/{domain}-access.log", 0.35, 30 * 86400, 0),
                 (f"logs/{domain}-access.log.1", 0.3, 60 * 86400, 30 * 86400),
                 (f"logs/{domain}-ssl_log", 0.15, 30 * 86400, 0)]
    for rel, share, span, off in acc_parts:
        t1 = now_s - off
        W.write_stream(rel, log_chunks(lambda n, a, b: access_log_lines(rng, ctx, n, a, b), int(lb * share), 215, t1 - span, t1),
                       t1 * SEC + rng.randrange(SEC), 0o640)
    W.write_stream(f"logs/{domain}-error.log", log_chunks(lambda n, a, b: error_log_lines(rng, P, ctx, n, a, b), int(lb * 0.2), 330,
                                                          now_s - 90 * 86400, now_s), now_s * SEC + rng.randrange(SEC), 0o640)
    W.dirs["logs"] = 0o750

    # SQL dumps
    if site and bud["sql"] > 0:
        dbs = [(f"{name}_press", 0.8)] + ([(f"{name}_{rng.choice(['shop', 'forum', 'crm', 'wiki'])}", 0.2)] if rng.random() < 0.4 else [])
        tot_w = sum(w for _, w in dbs)
        for db, w in dbs:
            g = SqlGen(P, rng, name, domain, db, created)
            t_dump = T0 - rng.randrange(2 * 3600, 24 * 3600) * SEC
            W.write_stream(f"backups/mysql/{db}.sql", g.chunks(int(bud["sql"] * w / tot_w), t_dump), t_dump + rng.randrange(SEC), 0o600)
        W.dirs["backups"] = 0o700

    # Maildir++ mail
    mb_total = bud["mail"]
    users = job["mail_users"]
    uw = [1.0 / (k + 1) for k in range(len(users))]
    for u, w in zip(users, uw):
        mbudget = mb_total * w / sum(uw)
        md = f"mail/{domain}/{u}"
        folders = [("", 0.8), (".Sent", 0.12), (".Trash", 0.04), (".Junk", 0.03), (".Drafts", 0.01)]
        uid_lines, uid = [], 1
        for fold, share in folders:
            fd = f"{md}/{fold}" if fold else md
            for sub in ("cur", "new", "tmp"):
                W.mkdir(f"{fd}/{sub}", 0o700)
            W.dirs[fd] = 0o700
            fb, names = mbudget * share, set()
            while fb > 0:
                t_s = (T0 - rng.randrange(0, age)) // SEC
                fresh = fold == "" and t_s > T0 // SEC - 3 * 86400 and rng.random() < 0.5
                msg = mail_message(P, rng, name, domain, u, t_s)
                fn = maildir_name(rng, t_s, len(msg), names, None if fresh else rng.choice(["S", "S", "RS", "FS", ""]))
                W.write(f"{fd}/{'new' if fresh else 'cur'}/{fn}", msg, t_s * SEC + rng.randrange(SEC), 0o600)
                uid_lines.append(f"{uid} :{fn.split(':')[0]}\n")
                uid += 1
                fb -= len(msg)
            if fold:
                W.write(f"{fd}/maildirfolder", b"", created, 0o600)
        W.write(f"{md}/dovecot-uidlist", (f"3 V{created // SEC} N{uid} G{rng.getrandbits(128):032x}\n" + "".join(uid_lines)).encode(),
                T0 - rng.randrange(DAY), 0o600)
        W.write(f"{md}/subscriptions", b"Sent\nTrash\nJunk\nDrafts\n", created, 0o600)
        W.write(f"{md}/maildirsize", f"{int(mbudget) * 4}S,0C\n{int(mbudget)} {uid - 1}\n".encode(), T0 - rng.randrange(DAY), 0o600)
    W.dirs["mail"] = 0o751
    W.dirs[f"mail/{domain}"] = 0o750

    # documents: a mix of compressible (csv/txt) and incompressible (pdf/zip)
    left = bud["docs"]
    while left > 8 * KiB:
        kind = rng.random()
        t = ago(rng, 0, age)
        stem = f"{rng.choice(P.words[:2000])}_{rng.choice(P.words[:2000])}_{rng.randint(1, 9999)}"
        if kind < 0.4:
            size = lognorm(rng, 150 * KiB, 1.2, 8 * KiB, 8 * MiB)
            W.write_stream(f"private/{rng.choice(['invoices', 'contracts', 'docs'])}/{stem}.pdf", random_chunks(rng, size, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), t, 0o600)
        elif kind < 0.55:
            size = lognorm(rng, 300 * KiB, 1.2, 8 * KiB, 8 * MiB)
            W.write_stream(f"private/archive/{stem}.zip", random_chunks(rng, size, b"PK\x03\x04"), t, 0o600)
        else:
            rows = lognorm(rng, 2000, 1.3, 50, 200000)
            rnd, flat = rng.random, P.flat
            dates = [time.strftime('%Y-%m-%d', time.gmtime((created + k * DAY) // SEC)) for k in range(age // DAY + 1)]
            nd = len(dates)
            data = "id;date;customer;amount;note\n" + "".join(
                f"{k};{dates[k * nd // rows]};{PEOPLE[int(rnd() * len(PEOPLE))]};{int(rnd() * 99999) / 100};"
                f"{flat[(o := int(rnd() * 4000000)):o + 5 + int(rnd() * 55)]}\n" for k in range(rows))
            size = len(data)
            W.write(f"private/exports/{stem}.csv", data.encode(), t, 0o600)
        left -= size
    if "private" in W.dirs:
        W.dirs["private"] = 0o700

    # big files in the largest accounts
    for k, (kind, size) in enumerate(big):
        t = ago(rng, DAY, 200 * DAY)
        if kind == "tar":
            W.write_stream(f"backups/site-backup-{time.strftime('%Y%m%d', time.gmtime(t // SEC))}.tar", tar_chunks(P, rng, ctx, size), t, 0o600)
        elif kind == "video":
            W.write_stream(f"public_html/content/uploads/video/{rng.choice(P.words[:500])}-promo-{k}.mp4",
                           random_chunks(rng, size, b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41"), t)
        else:
            g = SqlGen(P, rng, name, domain, f"{name}_archive", created)
            W.write_stream(f"backups/mysql/{name}_archive.sql", g.chunks(size, t), t, 0o600)
    W.finalize()
    st = W.stats()
    st["name"] = name
    st["site_files"] = site_files
    return st


def tar_chunks(P, rng, ctx, size):
    """A tar-like archive: 512-byte headers and members of mixed content."""
    left = size
    while left > 1024:
        n = min(left - 512, lognorm(rng, 2 * MiB, 1.2, 64 * KiB, 16 * MiB))
        name = f"home/{ctx.acct}/{rng.choice(['public_html', 'mail', 'logs'])}/{rng.choice(TECH)}-{rng.randrange(10**6)}"
        hdr = (name.encode()[:100].ljust(100, b"\0") + b"0000644\0" + b"0001750\0" * 2 + f"{n:011o}\0".encode()
               + f"{T0 // SEC - rng.randrange(10**7):011o}\0".encode() + b" " * 8 + b"0").ljust(257, b"\0") + b"ustar\x0000"
        yield hdr.ljust(512, b"\0")
        x = rng.random()
        if x < 0.55:
            yield from random_chunks(rng, n)
        elif x < 0.8:
            yield from log_chunks(lambda m, a, b: access_log_lines(rng, ctx, m, a, b), n, 215, T0 // SEC - 400 * 86400, T0 // SEC - 30 * 86400)
        else:
            yield pool_slice(rng, P.text_b, n)
        left -= 512 + n
    yield b"\0" * 1024


# ----------------------------------------------------------------------------
# Node plan

def account_names(rng, n):
    fixed = ["alice", "bob"]
    biz = [b + rng.choice(["", "", f"{rng.randint(1, 99):02d}"]) for b in BUSINESS]
    rng.shuffle(biz)
    people = [p + rng.choice(["", "", "", str(rng.randint(1, 99))]) for p in PEOPLE if p not in fixed]
    rng.shuffle(people)
    pool = []
    for i in range(max(len(biz), len(people))):
        if i < len(biz):
            pool.append(biz[i])
        if i < len(people):
            pool.append(people[i])
    names, seen = [], set()
    for c in fixed + pool:
        c = c[:16]
        if c not in seen:
            seen.add(c)
            names.append(c)
    while len(names) < n:
        c = f"{rng.choice(BUSINESS + PEOPLE)}{rng.randint(1, 99):02d}"
        if c not in seen:
            seen.add(c)
            names.append(c)
    if n >= 6:  # acme01 is the canonical customer
        if "acme01" not in seen:
            names[2] = "acme01"
    return names[:n]


def pareto_weights(rng, n, alpha=1.16):
    w = [(1.0 - rng.random()) ** (-1.0 / alpha) for _ in range(n)]
    for _ in range(4):
        m = sum(w) / n
        w = [x / m for x in w]
        cap = max(3.0, 0.12 * n)
        w = [min(x, cap) for x in w]
    m = sum(w) / n
    return [x / m for x in w]


def plan(seed, n, scale):
    rng = random.Random(f"{seed}:plan")
    names = account_names(rng, n)
    w = pareto_weights(rng, n)
    order = sorted(range(n), key=lambda i: -w[i])
    nbig = max(1, round(n / 70))
    kinds = ["tar", "video", "sql"]
    jobs = []
    for i, name in enumerate(names):
        budget = scale * VAR_BYTES_PER_ACCOUNT * w[i]
        big = []
        rank = order.index(i)
        if rank < nbig:
            for k in range(1 + (rank == 0)):
                big.append((kinds[(rank + k) % 3], int(scale * rng.uniform(100, 200) * MiB)))
            budget = max(budget, sum(s for _, s in big) * 1.35)
        site = rng.random() < 0.92 or i < 3
        core = MAIN_VERSION if rng.random() < 0.87 else rng.choice(OTHER_VERSIONS)
        plugins = sorted(set(rng.choices(range(12), weights=[1.0 / (k + 1) for k in range(12)], k=rng.choice([0, 1, 2, 2, 3, 4, 6]))))
        nusers = min(8, int(rng.paretovariate(1.6)))
        users = ["info"] + rng.sample(PEOPLE, nusers - 1)
        if rng.random() < 0.3:
            users.insert(1, "admin")
        jobs.append({"name": name, "budget": int(budget), "site": site, "core": core, "plugins": plugins,
                     "theme": rng.randrange(6), "big": big, "mail_users": users, "latin1": rng.random() < 0.1})
    return jobs


def count_factor(scale):
    return clamp(math.sqrt(scale), 0.08, 1.0)


def human(n):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024


def run_pool(func, jobs, workers):
    if workers <= 1 or len(jobs) <= 1:
        return [func(j) for j in jobs]
    ctx = mp.get_context("fork")
    with ctx.Pool(workers) as pool:
        return list(pool.imap_unordered(func, jobs, chunksize=1))


def generate(args):
    t0 = time.time()
    out = os.path.abspath(args.out)
    if os.path.exists(out) and os.listdir(out):
        sys.exit(f"gen_node: {out} exists and is not empty; choose an empty or new directory")
    os.makedirs(out, exist_ok=True)
    os.umask(0o022)
    P = Pools()
    cf = count_factor(args.scale)
    core, _ = build_core(P, args.seed, cf)
    plugins, themes = build_addons(P, args.seed, cf)
    G.update(pools=P, seed=args.seed, out=out, core=core, plugins=plugins, themes=themes)
    jobs = plan(args.seed, args.accounts, args.scale)
    jobs.sort(key=lambda j: -j["budget"])
    res = run_pool(gen_account, jobs, args.workers)
    res.sort(key=lambda r: r["name"])
    os.utime(out, ns=(T0, T0))
    summary = {"mode": "generate", "out": out, "seed": args.seed, "scale": args.scale,
               "accounts": len(res),
               "files": sum(r["files"] for r in res), "dirs": sum(r["dirs"] for r in res),
               "symlinks": sum(r["symlinks"] for r in res), "hardlinks": sum(r["hardlinks"] for r in res),
               "bytes": sum(r["bytes"] for r in res),
               "core_versions": {v: sum(1 for j in jobs if j["site"] and j["core"] == v) for v in [MAIN_VERSION] + OTHER_VERSIONS},
               "core_files": len(core[MAIN_VERSION]),
               "seconds": round(time.time() - t0, 2),
               "per_account": {r["name"]: {"files": r["files"], "bytes": r["bytes"], "dirs": r["dirs"]} for r in res}}
    big = max(res, key=lambda r: r["bytes"])
    line = (f"gen_node: {summary['accounts']} accounts, {summary['files']:,} files, {summary['dirs']:,} dirs, "
            f"{summary['bytes'] / 1e9:.2f} GB ({human(summary['bytes'])}); largest {big['name']} {human(big['bytes'])}; "
            f"core {summary['core_files']} files in {summary['core_versions'][MAIN_VERSION]} sites; {summary['seconds']} s")
    return summary, line


# ----------------------------------------------------------------------------
# A day of changes

def core_update_plan(seed):
    """Files the update release changes or adds; same for every updated site."""
    rng = random.Random(f"{seed}:core-update")
    newdir = f"includes/{rng.choice(TECH)}-{rng.choice(TECH)}"
    adds = [f"{newdir}/class-{rng.choice(TECH)}-{i}.php" for i in range(6)] + \
           [f"assets/js/dist/{rng.choice(TECH)}-{i}.min.js" for i in range(4)]
    return adds


def core_update_content(P, seed, rel):
    r = random.Random(f"{seed}:core-update:{rel}")
    return core_file(P, r, rel, UPDATE_VERSION)


def core_update_decision(seed, rel):
    h = int.from_bytes(hashlib.blake2b(f"{seed}:{rel}".encode(), digest_size=8).digest(), "little") / 2**64
    return "modify" if h < 0.12 else "delete" if h < 0.13 else "keep"


class Mutator:
    def __init__(self, root, t_mut):
        self.root, self.t = root, t_mut
        self.added = self.deleted = self.modified = self.renamed = 0
        self.bytes_added = self.bytes_appended = self.bytes_edited = self.bytes_rewritten = 0
        self.core_new = {}
        self.touched_dirs = set()
        self.k = 0

    def tick(self):
        self.k += 1
        return self.t + self.k * 1_000_003

    def path(self, rel):
        return os.path.join(self.root, rel)

    def new_file(self, rel, chunks, mode=0o644):
        p = self.path(rel)
        d = os.path.dirname(p)
        if not os.path.isdir(d):
            self._mkdirs(d)
        n = 0
        with open(p, "wb") as f:
            for c in chunks:
                f.write(c)
                n += len(c)
        os.chmod(p, mode)
        mt = self.tick()
        os.utime(p, ns=(mt, mt))
        self.touched_dirs.add(d)
        self.added += 1
        self.bytes_added += n
        return n

    def _mkdirs(self, d):
        parent = os.path.dirname(d)
        if not os.path.isdir(parent):
            self._mkdirs(parent)
        os.mkdir(d)
        self.touched_dirs.add(parent)
        self.touched_dirs.add(d)

    def append(self, rel, data):
        p = self.path(rel)
        with open(p, "ab") as f:
            f.write(data)
        mt = self.tick()
        os.utime(p, ns=(mt, mt))
        self.modified += 1
        self.bytes_appended += len(data)

    def rewrite(self, rel, data, edited):
        p = self.path(rel)
        with open(p, "wb") as f:
            f.write(data)
        mt = self.tick()
        os.utime(p, ns=(mt, mt))
        self.modified += 1
        self.bytes_edited += edited
        self.bytes_rewritten += len(data)

    def delete(self, rel):
        p = self.path(rel)
        os.unlink(p)
        self.touched_dirs.add(os.path.dirname(p))
        self.deleted += 1

    def rename(self, a, b):
        os.rename(self.path(a), self.path(b))
        self.touched_dirs.add(os.path.dirname(self.path(a)))
        self.touched_dirs.add(os.path.dirname(self.path(b)))
        self.renamed += 1

    def finish(self):
        for d in sorted(self.touched_dirs, key=lambda p: (-p.count("/"), p)):
            if os.path.isdir(d):
                mt = self.tick()
                os.utime(d, ns=(mt, mt))


def edit_sql(rng, P, data):
    """Change a few rows, add a few, update the footer: a re-dump after a day."""
    lines = data.split(b"\n")
    ins = [i for i, l in enumerate(lines) if l.startswith(b"INSERT INTO ")]
    if not ins:
        return data, 0
    edited = 0
    for _ in range(rng.randint(2, 12)):
        i = rng.choice(ins)
        l = lines[i]
        pos = rng.randrange(len(l))
        if l.count(b"'", 0, pos) % 2 == 1:
            a = l.rfind(b"'", 0, pos)
        else:
            a = l.find(b"'", pos)
        if a < 0:
            continue
        b = l.find(b"'", a + 1)
        if b < 0:
            continue
        seg = l[a + 1:b]
        if len(seg) < 24:
            new = pool_slice(rng, P.flat, max(1, len(seg) + rng.randint(-2, 6)), at_line=False).replace("'", "").encode()
            lines[i] = l[:a + 1] + new + l[b:]
        else:
            s = rng.randrange(len(seg) - 8)
            e = min(len(seg), s + rng.randint(8, 400))
            new = pool_slice(rng, P.flat, rng.randint(4, 600), at_line=False).replace("'", "").encode()
            lines[i] = l[:a + 1] + seg[:s] + new + seg[e:] + l[b:]
        edited += len(new)
    # new rows at the end of the last INSERT of a few tables
    by_table = {}
    for i in ins:
        t = lines[i].split(b"`", 2)[1]
        by_table[t] = i
    g = SqlGen(P, rng, "x", "example.org", "db", T0 - YEAR)
    for t, i in sorted(by_table.items()):
        table = t.decode().split("_", 1)[-1]
        if table not in ("posts", "comments", "postmeta") or rng.random() < 0.4:
            continue
        l = lines[i]
        k = l.rfind(b"),(")
        start = k + 3 if k >= 0 else l.find(b"VALUES (") + 8
        try:
            last_id = int(l[start:l.find(b",", start)])
        except ValueError:
            continue
        rows = ",".join(g.row(table, last_id + j + 1) for j in range(rng.randint(1, 5))).encode()
        lines[i] = l[:-1] + b"," + rows + b";"
        edited += len(rows) + 1
    for j in range(len(lines) - 1, max(-1, len(lines) - 6), -1):
        if lines[j].startswith(b"-- Dump completed on"):
            lines[j] = b"-- Dump completed on " + time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(G["t_mut"] // SEC)).encode()
            edited += 19
    return b"\n".join(lines), edited


def mutate_account(job):
    P, seed, t_mut = G["pools"], G["seed"], G["t_mut"]
    name = job["name"]
    root = os.path.join(G["dir"], name)
    rng = random.Random(f"{seed}:mutate:{name}")
    M = Mutator(root, t_mut + rng.randrange(3600) * SEC)
    site = os.path.exists(os.path.join(root, "public_html/includes/version.php"))
    domain = None
    maildomains = sorted(os.listdir(os.path.join(root, "mail"))) if os.path.isdir(os.path.join(root, "mail")) else []
    if maildomains:
        domain = maildomains[0]
    ctx = SiteCtx(P, rng, domain or f"{name}.com", name)
    ts = t_mut // SEC

    # logs grow by 1-5%
    logdir = os.path.join(root, "logs")
    for fn in sorted(os.listdir(logdir)) if os.path.isdir(logdir) else []:
        if not (fn.endswith(".log") or fn.endswith("ssl_log")):
            continue
        size = os.path.getsize(os.path.join(logdir, fn))
        grow = int(size * rng.uniform(0.01, 0.05))
        if "error" in fn:
            data = error_log_lines(rng, P, ctx, max(1, grow // 330), ts - 86400, ts)
        else:
            data = b"".join(log_chunks(lambda n, a, b: access_log_lines(rng, ctx, n, a, b), max(215, grow), 215, ts - 86400, ts))
        M.append(f"logs/{fn}", data)

    # SQL re-dumps with small edits
    sqldir = os.path.join(root, "backups/mysql")
    for fn in sorted(os.listdir(sqldir)) if os.path.isdir(sqldir) else []:
        if fn.endswith(".sql") and "_archive" not in fn and rng.random() < 0.35:
            with open(os.path.join(sqldir, fn), "rb") as f:
                data = f.read()
            new, edited = edit_sql(rng, P, data)
            M.rewrite(f"backups/mysql/{fn}", new, edited)

    # mail: new messages, new/ -> cur/, emptied Trash
    for dom in maildomains:
        for user in sorted(os.listdir(os.path.join(root, "mail", dom))):
            md = f"mail/{dom}/{user}"
            if not os.path.isdir(os.path.join(root, md, "cur")):
                continue
            for fn in sorted(os.listdir(os.path.join(root, md, "new"))):
                if rng.random() < 0.7:
                    M.rename(f"{md}/new/{fn}", f"{md}/cur/{fn}:2,S")
            ncur = len(os.listdir(os.path.join(root, md, "cur")))
            names = set()
            uid_add = []
            for fold, n in (("", int(ncur * rng.uniform(0.005, 0.03)) + rng.randint(0, 4)), (".Sent", rng.randint(0, 2))):
                for _ in range(n):
                    t_s = ts - rng.randrange(86400)
                    msg = mail_message(P, rng, name, dom, user, t_s)
                    fn = maildir_name(rng, t_s, len(msg), names, None if fold == "" else "S")
                    sub = "new" if fold == "" else "cur"
                    M.new_file(f"{md}/{fold + '/' if fold else ''}{sub}/{fn}", [msg], 0o600)
                    uid_add.append(f"{10**6 + len(uid_add)} :{fn.split(':')[0]}\n")
            trash = os.path.join(root, md, ".Trash/cur")
            if os.path.isdir(trash) and rng.random() < 0.3:
                for fn in sorted(os.listdir(trash))[:rng.randint(1, 5)]:
                    M.delete(f"{md}/.Trash/cur/{fn}")
            if uid_add and os.path.exists(os.path.join(root, md, "dovecot-uidlist")):
                M.append(f"{md}/dovecot-uidlist", "".join(uid_add).encode())

    # uploads: a few new ones, sometimes one deleted
    if site and rng.random() < 0.15:
        ym = time.strftime("%Y/%m", time.gmtime(ts))
        for k in range(rng.randint(1, 3)):
            stem = f"{rng.choice(P.words[:3000])}-{rng.choice(P.words[:3000])}-new{k}"
            M.new_file(f"public_html/content/uploads/{ym}/{stem}.jpg", jpeg_chunks(rng, lognorm(rng, 250 * KiB, 1.1, 50 * KiB, 5 * MiB)))
            M.new_file(f"public_html/content/uploads/{ym}/{stem}-150x150.jpg", jpeg_chunks(rng, lognorm(rng, 18 * KiB, 0.6, 4 * KiB, 120 * KiB)))
    if site and rng.random() < 0.08:
        up = os.path.join(root, "public_html/content/uploads")
        years = sorted(d for d in os.listdir(up) if d.isdigit())
        if years:
            y = rng.choice(years)
            months = sorted(os.listdir(os.path.join(up, y)))
            if months:
                m = rng.choice(months)
                files = sorted(os.listdir(os.path.join(up, y, m)))
                if files:
                    M.delete(f"public_html/content/uploads/{y}/{m}/{rng.choice(files)}")

    # CMS core update, the same release in every updated site
    if job.get("core_update") and site:
        ph = os.path.join(root, "public_html")
        core_rels = [fn for fn in CORE_ROOT_FILES if os.path.exists(os.path.join(ph, fn))]
        for top in CORE_DIRS_TOP:
            for dp, dns, fns in os.walk(os.path.join(ph, top)):
                dns.sort()
                for fn in sorted(fns):
                    core_rels.append(os.path.relpath(os.path.join(dp, fn), ph))
        for rel in core_rels:
            dec = "modify" if rel == "includes/version.php" else core_update_decision(seed, rel)
            if dec == "modify":
                data = core_update_content(P, seed, rel)
                M.rewrite(f"public_html/{rel}", data, 0)
                M.core_new[rel] = len(data)
            elif dec == "delete":
                M.delete(f"public_html/{rel}")
        for rel in core_update_plan(seed):
            data = core_update_content(P, seed, rel)
            M.new_file(f"public_html/{rel}", [data])
            M.bytes_added -= len(data)           # counted once per release, below
            M.core_new[rel] = len(data)
    M.finish()
    # what the account looks like now
    files = nbytes = 0
    for dp, dns, fns in os.walk(root):
        for fn in fns:
            st = os.lstat(os.path.join(dp, fn))
            if not os.path.islink(os.path.join(dp, fn)):
                files += 1
                nbytes += st.st_size
    return {"name": name, "added": M.added, "deleted": M.deleted, "modified": M.modified, "renamed": M.renamed,
            "bytes_added": M.bytes_added, "bytes_appended": M.bytes_appended, "bytes_edited": M.bytes_edited,
            "bytes_rewritten": M.bytes_rewritten, "core_new": M.core_new, "files": files, "bytes": nbytes}


def mutate(args):
    t0 = time.time()
    root = os.path.abspath(args.mutate)
    accounts = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)) and not os.path.islink(os.path.join(root, d)))
    if not accounts:
        sys.exit(f"gen_node: {root} holds no accounts")
    # "now" for the changes: one day after the newest log entry on the node
    newest = T0
    for a in accounts:
        ld = os.path.join(root, a, "logs")
        if os.path.isdir(ld):
            for fn in os.listdir(ld):
                newest = max(newest, os.lstat(os.path.join(ld, fn)).st_mtime_ns)
    t_mut = (newest // DAY + 1) * DAY + 2 * 3600 * SEC
    rng = random.Random(f"{args.seed}:mutate-plan")
    sites = [a for a in accounts if os.path.exists(os.path.join(root, a, "public_html/includes/version.php"))]
    nupd = min(len(sites), max(1, round(len(accounts) * 0.03)))
    upd = set(rng.sample(sites, nupd)) if sites else set()
    os.umask(0o022)
    G.update(pools=Pools(), seed=args.seed, dir=root, t_mut=t_mut)
    jobs = [{"name": a, "core_update": a in upd} for a in accounts]
    res = run_pool(mutate_account, jobs, args.workers)
    core_new = {}
    for r in res:
        core_new.update(r["core_new"])
    s = {k: sum(r[k] for r in res) for k in ("added", "deleted", "modified", "renamed", "bytes_added",
                                             "bytes_appended", "bytes_edited", "bytes_rewritten", "files", "bytes")}
    s["core_update_bytes"] = sum(core_new.values())
    s["new_content_bytes"] = s["bytes_added"] + s["bytes_appended"] + s["bytes_edited"] + s["core_update_bytes"]
    summary = {"mode": "mutate", "dir": root, "seed": args.seed, "accounts": len(accounts),
               "core_updated": sorted(upd), "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t_mut // SEC)),
               **s, "seconds": round(time.time() - t0, 2),
               "per_account": {r["name"]: {"files": r["files"], "bytes": r["bytes"]} for r in sorted(res, key=lambda r: r["name"])}}
    line = (f"gen_node --mutate: {len(accounts)} accounts; +{s['added']:,} files, -{s['deleted']:,}, {s['modified']:,} modified, "
            f"{s['renamed']:,} renamed; new content {human(s['new_content_bytes'])} (appended {human(s['bytes_appended'])}, "
            f"new files {human(s['bytes_added'])}, edits {human(s['bytes_edited'])}, core update {human(s['core_update_bytes'])} "
            f"in {nupd} sites); node now {s['files']:,} files {s['bytes'] / 1e9:.2f} GB; {summary['seconds']} s")
    return summary, line


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="Generate: --out DIR [--accounts N --scale S --seed K]; day of changes: --mutate DIR --seed K")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--out", help="create the node in this (new or empty) directory")
    g.add_argument("--mutate", metavar="DIR", help="apply a day of changes to the node in DIR")
    ap.add_argument("--accounts", type=int, default=200)
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies the byte volume (default 1: ~3 GB for 200 accounts)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--json", action="store_true", help="print the summary as JSON on stdout (the line goes to stderr)")
    args = ap.parse_args()
    if args.out and (args.accounts < 1 or args.scale <= 0):
        ap.error("--accounts must be >= 1 and --scale > 0")
    summary, line = generate(args) if args.out else mutate(args)
    if args.json:
        print(line, file=sys.stderr)
        print(json.dumps(summary))
    else:
        print(line)


if __name__ == "__main__":
    main()
