"""What process-executor may start, with which arguments and which environment.

Classes of attack and the rule that closes each (allow-lists wherever a list can be finite):

* **Programs that run code they are given** (shells, interpreters, ``awk``, launchers such as ``env``,
  ``xargs``, ``nice``, ``timeout``, ``sudo``, build tools that run recipes, editors and pagers with
  shell escapes, ``ssh``...): listing one in ``process_allow`` would allow everything, so they are
  refused unless ``security.process_allow_interpreters`` names them too (:func:`is_code_runner`).
* **Arguments that make an allowed program run code or touch other files**: per-program rules for
  git, tar, find and sed (:func:`check_arguments`), plus one rule for every program: an argument
  that names a path (absolute, ``~``, or with ``..``) must lie inside the allowed roots.
* **Environment**: the child gets a fixed base (``PATH``, locale, a fresh empty ``HOME``) plus the
  variables the spell passes *only* when ``security.env_allow`` names them, and never a variable of
  the loader / interpreter / shell start-up classes even then (:func:`child_environment`).
* **git's own configuration**: no system or global config, hooks off, no pagers/editors/askpass, no
  ``ext::``/``fd::``/``file://``/ssh transports, repository discovery stops at the allowed root, and
  the repository's own config may only hold keys from a safe list (a spell can write ``.git/config``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

# ----------------------------------------------------------------------------------- code runners

_CODE_RUNNER_NAMES = frozenset("""
sh bash dash zsh ksh mksh pdksh yash fish csh tcsh ash rbash busybox toybox
python python2 python3 pypy pypy3 perl ruby irb node nodejs deno bun lua luajit php tclsh wish expect
rscript r julia java jshell groovy scala kotlin osascript pwsh powershell cmd guile racket sbcl clisp ocaml
ghci runghc swift elixir erl escript iex gdb lldb
awk gawk mawk nawk jq-shell
env xargs nohup nice ionice chrt taskset timeout stdbuf setsid sudo doas su runuser pkexec chroot unshare
nsenter flock strace ltrace valgrind time watch script parallel systemd-run at batch crontab tmux screen
make gmake cmake ninja meson scons rake bundle npm npx pnpm yarn pip pip3 pipx uv poetry cargo go rustc
gcc g++ cc c++ clang clang++ tcc ld m4 cpp
vi vim nvim ex ed emacs nano less more most man info view pager
ssh scp sftp rsync telnet nc ncat netcat socat
docker podman kubectl nerdctl lxc
sqlite3 mysql psql mongo mongosh redis-cli dc
openssl gpg gpg2 git-shell
""".split())

_VERSIONED = re.compile(r"^(python|pypy|perl|ruby|lua|luajit|php|tclsh|wish|node|pip|java|gcc|g\+\+|clang|"
                        r"clang\+\+|guile|swift|erl|ocaml|scala|julia)[0-9][0-9.\-]*$")


def program_name(path_or_name: str) -> str:
    return os.path.basename(path_or_name).lower()


def is_code_runner(path_or_name: str, resolved: str | None = None) -> bool:
    """Does this program run code taken from its arguments, input or environment?"""
    for cand in (path_or_name, resolved):
        if not cand:
            continue
        n = program_name(cand)
        n = n.removesuffix(".exe")
        if n in _CODE_RUNNER_NAMES or _VERSIONED.match(n):
            return True
    return False


# ----------------------------------------------------------------------------------- environment

# variables never passed to a child, even when security.env_allow matches them: they change how the
# loader, an interpreter or a shell starts, where programs and libraries are found, or what a
# program trusts
_NEVER_ENV = re.compile(
    r"^(LD_.*|DYLD_.*|GIT_.*|PYTHON.*|PERL.*|RUBY.*|GEM_.*|BUNDLE_.*|NODE_.*|NPM_.*|LUA_.*|JAVA_TOOL_OPTIONS|"
    r"_JAVA_OPTIONS|JDK_JAVA_OPTIONS|CLASSPATH|BASH_ENV|ENV|BASH_FUNC_.*|SHELLOPTS|BASHOPTS|IFS|PS4|PS1|PS2|"
    r"PROMPT_COMMAND|CDPATH|GLOBIGNORE|HISTFILE|PATH|HOME|SHELL|TMPDIR|XDG_.*|GCONV_PATH|LOCPATH|NLSPATH|"
    r"MALLOC_.*|GLIBC_TUNABLES|HOSTALIASES|RESOLV_.*|RES_OPTIONS|LOCALDOMAIN|SSL_.*|OPENSSL_.*|.*_PROXY|"
    r".*_proxy|CURL_.*|WGETRC|SSH_.*|GNUPGHOME|EDITOR|VISUAL|PAGER|MANPAGER|LESS.*|TAR_OPTIONS|"
    r"SED_.*|POSIXLY_CORRECT|TERMINFO.*|PKG_CONFIG.*|CC|CXX|CFLAGS|LDFLAGS|MAKEFLAGS|MFLAGS|R_.*|JULIA_.*|"
    r"PHP.*|TCL.*|TK_.*|DOTNET_.*|COMPlus_.*|CORECLR_.*|PSModulePath)$",
    re.IGNORECASE,
)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BASE_ENV = ("LANG", "LC_ALL", "LC_CTYPE", "TZ")
_SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"


def env_refusal(name: str, env_allow: Iterable[str]) -> str | None:
    """Why a spell may not pass ``name`` to a child process, or None."""
    from llmspell.security.secrets import spell_visible

    if not isinstance(name, str) or not _NAME.match(name):
        return f"invalid environment variable name {name!r}"
    if _NEVER_ENV.match(name):
        return (f"environment variable '{name}' changes how programs start or what they load "
                "(loader, interpreter, shell, search path, proxy or TLS settings); it is never passed to a child")
    if not spell_visible(name, env_allow):
        return f"environment variable '{name}' is not in security.env_allow; list it there to pass it"
    return None


def safe_search_path(roots: Iterable[Path]) -> str:
    """The process's PATH without relative entries and without directories a spell can write to (the
    allowed roots): a program named ``git`` must not be found in the workspace."""
    real_roots = [Path(os.path.realpath(r)) for r in roots]
    keep: list[str] = []
    for entry in (os.environ.get("PATH") or _SAFE_PATH).split(os.pathsep):
        if not entry or not os.path.isabs(entry):
            continue
        real = Path(os.path.realpath(entry))
        if any(real == r or r in real.parents for r in real_roots):
            continue
        if entry not in keep:
            keep.append(entry)
    return os.pathsep.join(keep) or _SAFE_PATH


def child_environment(spell_vars: Mapping[str, str], env_allow: Iterable[str], home: str,
                      refuse: Callable[[str], Exception], search_path: str | None = None) -> dict[str, str]:
    """The whole environment of a child: a fixed base plus the spell's allowed variables."""
    allow = list(env_allow)
    env: dict[str, str] = {"PATH": search_path or os.environ.get("PATH") or _SAFE_PATH, "HOME": home}
    for k in _BASE_ENV:
        v = os.environ.get(k)
        if v is not None:
            env[k] = v
    for k, v in spell_vars.items():
        why = env_refusal(k, allow)
        if why is not None:
            raise refuse(why)
        if not isinstance(v, str) or "\0" in v:
            raise refuse(f"environment variable '{k}': the value must be a string without NUL bytes")
        env[k] = v
    return env


# ----------------------------------------------------------------------------------- arguments


@dataclass
class Plan:
    """How to start the program: extra leading arguments and environment the rules add."""

    prefix: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)


def _path_candidates(arg: str) -> list[str]:
    out: list[str] = []
    cands = [arg]
    if arg.startswith("-") and "=" in arg:
        cands.append(arg.split("=", 1)[1])
    elif arg.startswith("-") and not arg.startswith("--") and len(arg) > 2:
        cands.append(arg[2:])  # -o/tmp/x
    for c in cands:
        if c.startswith(("/", "~")) or c == ".." or c.startswith("../") or "/../" in c or c.endswith("/..") \
                or c.startswith("file:"):
            out.append(c)
    return out


def check_path_arguments(args: list[str], cwd: Path, inside: Callable[[str], bool]) -> str | None:
    """Every argument that names a path outside (absolute, ``~``, ``..``) must be inside the allowed roots,
    and so must every relative argument that names an existing file or link (a link planted in the
    workspace is judged by where it leads, as the path gate would)."""
    for a in args:
        for c in _path_candidates(a):
            p = c.removeprefix("file://").removeprefix("file:")
            if p.startswith("~"):
                return f"argument {a!r} names a path in a home directory; use paths inside the workspace"
            full = p if os.path.isabs(p) else str(cwd / p)
            if not inside(full):
                return f"argument {a!r} names a path outside the allowed paths"
        for c in _existing_relative(a, cwd):
            if not inside(str(cwd / c)):
                return f"argument {a!r} names a path that leads outside the allowed paths"
    return None


def _existing_relative(arg: str, cwd: Path) -> list[str]:
    cands = [arg]
    if arg.startswith("-") and "=" in arg:
        cands = [arg.split("=", 1)[1]]
    elif arg.startswith("-"):
        return []
    out: list[str] = []
    for c in cands:
        if c and not os.path.isabs(c):
            try:
                if os.path.lexists(cwd / c):
                    out.append(c)
            except (OSError, ValueError):
                out.append(c)
    return out


def _abbreviates(arg: str, dangerous: Iterable[str], exact_ok: Iterable[str] = ()) -> str | None:
    """The dangerous long option ``arg`` stands for, or None.

    GNU getopt_long and git's parse-options accept any unambiguous prefix of a long option
    (``--to-comm=sh`` is ``--to-command=sh``, ``--open=CMD`` is git grep's ``--open-files-in-pager``), so
    comparing whole names is not enough: a name that is a prefix of a dangerous option is refused
    unless it is itself the full name of a harmless option (``--exclude`` vs ``--exclude-from``).
    """
    if not arg.startswith("--") or len(arg) <= 2:
        return None
    name = arg[2:].split("=", 1)[0].lower()
    if not name or ("--" + name) in exact_ok:
        return None
    for opt in dangerous:
        if opt[2:].startswith(name):
            return opt
    return None


_GIT_GLOBAL_OK = {"--no-pager", "-P", "--no-replace-objects", "--literal-pathspecs", "--glob-pathspecs",
                  "--noglob-pathspecs", "--icase-pathspecs", "--no-optional-locks", "--version"}
_GIT_SUBCOMMANDS = frozenset("""
status log show diff add commit rm mv init branch checkout switch restore tag rev-parse rev-list ls-files
ls-tree cat-file blame shortlog describe reset stash merge rebase cherry-pick revert clone fetch pull push
grep version remote show-ref for-each-ref symbolic-ref count-objects fsck gc reflog notes apply am
format-patch bundle archive worktree whatchanged range-diff cherry name-rev merge-base hash-object
write-tree read-tree update-index diff-files diff-index diff-tree check-ignore check-attr var sparse-checkout
""".split())
_GIT_BAD_ARGS = re.compile(
    r"^(--upload-pack.*|--receive-pack.*|--exec.*|-u.+|--config-env.*|--config|--config=.*|--template.*|"
    r"--ext-diff|--textconv|--open-files-in-pager.*|-O.*|--tool.*|--extcmd.*|--no-index|--remote.*|"
    r"--git-dir.*|--work-tree.*|--namespace.*|--exec-path.*|--separate-git-dir.*|--reference.*|--shared)$")
_GIT_BAD_LONG = ("--upload-pack", "--receive-pack", "--exec", "--config-env", "--config", "--template",
                 "--ext-diff", "--textconv", "--open-files-in-pager", "--tool", "--extcmd", "--no-index",
                 "--remote", "--git-dir", "--work-tree", "--namespace", "--exec-path", "--separate-git-dir",
                 "--reference", "--reference-if-able", "--shared")
"""Long options that run a program, load configuration or reach outside: refused in full and as the
abbreviations git's option parser accepts (``--open=CMD`` is ``--open-files-in-pager=CMD``)."""
_GIT_LONG_OK: frozenset[str] = frozenset()
_GIT_BAD_VALUE = re.compile(r"(^|[=\s])(ext::|fd::)|^-c$|^-x$|^--exec$|^-u$|^-C$", re.IGNORECASE)
_GIT_SAFE_CONFIG = re.compile(
    r"^(core\.(repositoryformatversion|filemode|bare|logallrefupdates|ignorecase|precomposeunicode|symlinks|"
    r"autocrlf|safecrlf|eol|quotepath|abbrev|compression|checkstat|trustctime|untrackedcache|splitindex|"
    r"commitgraph|multipackindex|sharedrepository)|"
    r"remote\.[^.]+\.(url|pushurl|fetch|push|mirror|tagopt|prune)|"
    r"branch\.[^.]+\.(remote|merge|rebase|pushremote|description)|user\.(name|email)|"
    r"(author|committer)\.(name|email)|init\.defaultbranch|extensions\.(objectformat|refstorage|worktreeconfig|"
    r"preciousobjects|partialclone)|pull\.(rebase|ff)|push\.(default|autosetupremote)|fetch\.prune|"
    r"merge\.(ff|conflictstyle)|rebase\.(autosquash|autostash)|color\..*|advice\..*|gc\.auto.*|"
    r"index\.(version|threads|skiphash)|feature\.(manyfiles|experimental)|submodule\.[^.]+\.(url|path|active|"
    r"branch)|maintenance\.(auto|strategy)|status\.(showuntrackedfiles|short|branch)|log\.(date|decorate))$",
    re.IGNORECASE)


def _git_config_keys(text: str) -> list[tuple[str, str]]:
    """(key, value) pairs of a git config file, keys as ``section.sub.name`` (lowercased section/name)."""
    out: list[tuple[str, str]] = []
    section = ""
    lines = text.replace("\\\r\n", "").replace("\\\n", "").splitlines()
    for raw in lines:
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            m = re.match(r'^\[\s*([A-Za-z0-9.\-]+)(?:\s+"((?:[^"\\]|\\.)*)")?\s*\](.*)$', line)
            if not m:
                out.append(("(unparsable section)", line))
                section = "(unparsable)"
                continue
            name, sub, rest = m.group(1), m.group(2), m.group(3).strip()
            section = name.lower() if sub is None else f"{name.lower()}.{sub}"
            if "." in name and sub is None:
                first, _, dotted = name.partition(".")
                section = f"{first.lower()}.{dotted}"
            line = rest
            if not line or line[0] in "#;":
                continue
        key, _, value = line.partition("=")
        out.append((f"{section}.{key.strip().lower()}", value.strip()))
    return out


def _git_dirs(cwd: Path, root: Path) -> tuple[list[Path], str | None]:
    """The config files of the repository git would find from ``cwd`` (discovery stops at ``root``)."""
    def is_within(p: Path, r: Path) -> bool:
        return p == r or r in p.parents

    cur = cwd
    while True:
        dot = cur / ".git"
        gitdir: Path | None = None
        if dot.is_symlink():
            return [], f"{dot} is a symbolic link; refused"
        if dot.is_dir():
            gitdir = dot
        elif dot.is_file():
            text = dot.read_text(errors="replace").strip()
            if not text.startswith("gitdir:"):
                return [], f"{dot} is not a git link file"
            target = Path(text[len("gitdir:"):].strip())
            gitdir = (cur / target).resolve() if not target.is_absolute() else target.resolve()
        elif (cur / "HEAD").is_file() and (cur / "objects").is_dir() and cur == cwd:
            gitdir = cur  # a bare repository (git refuses it anyway: safe.bareRepository=explicit)
        if gitdir is not None:
            dirs = [gitdir]
            common = gitdir / "commondir"
            if common.is_file():
                c = Path(common.read_text(errors="replace").strip())
                dirs.append((gitdir / c).resolve() if not c.is_absolute() else c.resolve())
            for d in dirs:
                if not is_within(d.resolve(), root):
                    return [], f"the repository's git directory {d} is outside the allowed paths"
            files = [d / n for d in dirs for n in ("config", "config.worktree")]
            return [f for f in files if f.exists() or f.is_symlink()], None
        if cur == root or cur.parent == cur:
            return [], None
        cur = cur.parent


def check_git(args: list[str], cwd: Path, root: Path) -> tuple[Plan | None, str | None]:
    i = 0
    while i < len(args) and args[i].startswith("-"):
        if args[i] not in _GIT_GLOBAL_OK:
            return None, (f"git option {args[i]!r} is not allowed before the subcommand (-c, -C, --config-env, "
                          "--exec-path, --git-dir and the like change what git runs or where)")
        i += 1
    if i < len(args):
        sub = args[i]
        if sub not in _GIT_SUBCOMMANDS:
            return None, (f"git subcommand {sub!r} is not allowed (aliases, config, help, difftool, "
                          "filter-branch, submodule foreach, bisect run... can run other programs)")
    for a in args[i + 1:]:
        if _GIT_BAD_ARGS.match(a) or _GIT_BAD_VALUE.search(a) or _abbreviates(a, _GIT_BAD_LONG, _GIT_LONG_OK):
            return None, f"git argument {a!r} is not allowed (it can run a program, load config or reach outside)"
    files, why = _git_dirs(cwd, root)
    if why:
        return None, why
    for f in files:
        if f.is_symlink():
            return None, f"the repository's {f.name} is a symbolic link; refused"
        try:
            text = f.read_text(errors="replace")
        except OSError as e:
            return None, f"cannot read the repository's {f.name}: {e}"
        for key, value in _git_config_keys(text):
            if not _GIT_SAFE_CONFIG.match(key):
                return None, (f"the repository's configuration sets {key!r}, which git may use to run a program "
                              "or read other files; only plain settings (remotes, branches, user, core basics) "
                              "are allowed")
            if key.endswith((".url", ".pushurl")) and re.match(r"^\s*\"?(ext::|fd::|file:|/|~|\.\.)", value):
                return None, f"the repository's configuration sets {key} to a local or command transport"
    plan = Plan(
        prefix=["-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "-c", "core.pager=cat",
                "-c", "core.editor=true", "-c", "core.sshCommand=false", "-c", "core.askPass=false",
                "-c", "credential.helper=", "-c", "diff.external=", "-c", "protocol.ext.allow=never",
                "-c", "protocol.fd.allow=never", "-c", "protocol.file.allow=never", "-c",
                "safe.bareRepository=explicit"],
        env={"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_TERMINAL_PROMPT": "0",
             "GIT_CEILING_DIRECTORIES": str(root.parent), "GIT_PROTOCOL_FROM_USER": "0",
             "GIT_ALLOW_PROTOCOL": "http:https:git", "GIT_EDITOR": "true", "GIT_PAGER": "cat",
             "GIT_ASKPASS": "false", "GIT_SSH_COMMAND": "false", "GIT_NO_REPLACE_OBJECTS": "1"},
    )
    return plan, None


_TAR_BAD = re.compile(r"^(--to-command.*|--use-compress-program.*|--rsh-command.*|--info-script.*|"
                      r"--new-volume-script.*|--checkpoint-action.*|--absolute-names|--index-file.*|"
                      r"--rmt-command.*|--volno-file.*|--files-from.*|--exclude-from.*|-T.*|-X.*|-P|"
                      r"--transform.*|--xform.*|--unlink-first|--recursive-unlink|--overwrite-dir)$")


_TAR_BAD_LONG = ("--to-command", "--use-compress-program", "--rsh-command", "--info-script", "--new-volume-script",
                 "--checkpoint-action", "--absolute-names", "--index-file", "--rmt-command", "--volno-file",
                 "--files-from", "--exclude-from", "--transform", "--xform", "--unlink-first",
                 "--recursive-unlink", "--overwrite-dir")
_TAR_LONG_OK = frozenset({"--exclude", "--overwrite", "--to-stdout", "--checkpoint"})
"""Full names of harmless tar options that are also prefixes of dangerous ones (an exact name wins)."""


def check_tar(args: list[str]) -> tuple[Plan | None, str | None]:
    for n, a in enumerate(args):
        if a == "--":
            break
        if _TAR_BAD.match(a) or _abbreviates(a, _TAR_BAD_LONG, _TAR_LONG_OK):
            return None, f"tar argument {a!r} is not allowed (it runs a program, or writes or reads outside)"
        cluster = a[1:] if a.startswith("-") and not a.startswith("--") else (a if n == 0 and a.isalpha() else "")
        if any(ch in cluster for ch in "IFPTX"):
            return None, (f"tar option cluster {a!r} is not allowed "
                          "(-I, -F, -P, -T and -X run programs or reach outside)")
        if ":" in a and not a.startswith("-") and re.match(r"^[^/]*:", a):
            return None, f"tar argument {a!r} looks like a remote archive (host:path), which runs rsh/ssh"
    return Plan(prefix=["--force-local"]), None


_FIND_BAD = re.compile(r"^-(exec|execdir|ok|okdir|fprint|fprint0|fprintf|fls)$")


def check_find(args: list[str]) -> tuple[Plan | None, str | None]:
    for a in args:
        if _FIND_BAD.match(a):
            return None, f"find action {a!r} is not allowed (it runs a program or writes a file)"
    return Plan(), None


def check_sed(args: list[str]) -> tuple[Plan | None, str | None]:
    # GNU sed's --sandbox rejects the e/w/r commands (run a program, write or read a file)
    for a in args:
        if a in ("--debug",) or a.startswith("--follow-symlinks") or _abbreviates(a, ("--follow-symlinks",)):
            return None, f"sed argument {a!r} is not allowed"
    return Plan(prefix=["--sandbox"]), None


# Options that make a program read the names of further files from a file (``wc --files0-from=list``
# where the list holds ``/etc/shadow``): the names never appear as arguments, so nothing could check them.
_FILE_LIST_OPTIONS = ("--files0-from",)


def check_file_list_options(program: str, args: list[str]) -> str | None:
    for a in args:
        if a == "--":
            break
        if _abbreviates(a, _FILE_LIST_OPTIONS) is not None:
            return (f"{program} argument {a!r} is not allowed (it reads file names from a file, which could "
                    "name files outside the allowed paths)")
    return None


def _short_cluster_has(arg: str, letter: str, value_letters: str) -> bool:
    """Whether the short-option cluster ``arg`` (``-rnR``) sets ``letter`` before any option that takes
    the rest of the cluster as its value."""
    if not arg.startswith("-") or arg.startswith("--") or len(arg) < 2:
        return False
    for ch in arg[1:]:
        if ch == letter:
            return True
        if ch in value_letters:
            return False
    return False


def check_grep(args: list[str]) -> tuple[Plan | None, str | None]:
    # -R / --dereference-recursive follow every symlink met while recursing (out of the workspace, if
    # one leads there); -r follows only the ones named as arguments, which are checked
    for a in args:
        if a == "--":
            break
        if _short_cluster_has(a, "R", "efmABCdD") or _abbreviates(a, ("--dereference-recursive",)):
            return None, (f"grep argument {a!r} is not allowed (it follows symbolic links while recursing); "
                          "use -r")
    return Plan(), None


def check_ls(args: list[str]) -> tuple[Plan | None, str | None]:
    # -L / --dereference with -R lists what links lead to, out of the workspace too
    for a in args:
        if a == "--":
            break
        if _short_cluster_has(a, "L", "ITw") or _abbreviates(a, ("--dereference",),
                                                             ("--dereference-command-line",)):
            return None, f"ls argument {a!r} is not allowed (it follows symbolic links)"
    return Plan(), None


def check_date(args: list[str]) -> tuple[Plan | None, str | None]:
    # -s / --set changes the system clock (a run may well be root in a container)
    for a in args:
        if a == "--":
            break
        if _short_cluster_has(a, "s", "dfrI") or _abbreviates(a, ("--set",)):
            return None, f"date argument {a!r} is not allowed (it sets the system clock)"
    return Plan(), None


# Programs process-executor may run with the default configuration (``security.process_allow``): what
# rs-llmspell allows by default minus what cannot be contained here. Each reads or prints only what
# its arguments name (checked above: absolute, ``..`` and existing relative paths must stay inside the
# allowed roots), runs no other program and reads no list of further file names (``--files0-from`` is
# refused). Left out: ``find`` (``-L``/``-follow`` walk links out of the roots; it stays available when
# listed, with -exec/-ok/-fprint refused) and ``which`` (a shell script on some systems). ``date --set``
# and ``grep -R``/``ls -L`` are refused by the rules above.
DEFAULT_PROCESS_ALLOW: tuple[str, ...] = (
    "echo", "cat", "ls", "pwd", "whoami", "date", "uname", "test", "head", "tail", "wc", "grep", "sort", "uniq",
)


# Options of common programs that start another program (``sort --compress-program=sh`` feeds its temp data
# to a shell; ``split --filter`` runs a shell command per chunk; ``zip -TT``; ``wget --use-askpass`` / ``-e``
# wgetrc commands), in full and as getopt abbreviations.
_PROGRAM_RUNNING_OPTIONS: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    "sort": (("--compress-program",), frozenset()),
    "split": (("--filter",), frozenset()),
    "zip": (("--unzip-command",), frozenset()),
    "wget": (("--use-askpass", "--execute", "--config"), frozenset()),
}
_PROGRAM_RUNNING_SHORT: dict[str, re.Pattern[str]] = {
    "zip": re.compile(r"^-(TT.*|[A-Za-z]*TT.*)$"),
    "wget": re.compile(r"^-[A-Za-z]*e.*$"),
}


def check_program_options(kind: str, args: list[str]) -> tuple[Plan | None, str | None]:
    dangerous, ok = _PROGRAM_RUNNING_OPTIONS[kind]
    short = _PROGRAM_RUNNING_SHORT.get(kind)
    for a in args:
        if a == "--":
            break
        hit = _abbreviates(a, dangerous, ok)
        if hit is None and any(a == d or a.startswith(d + "=") for d in dangerous):
            hit = a
        if hit is None and short is not None and not a.startswith("--") and short.match(a):
            hit = a
        if hit is not None:
            return None, f"{kind} argument {a!r} is not allowed (it makes {kind} run another program)"
    return Plan(), None


_RULES = {"git": "git", "tar": "tar", "gtar": "tar", "bsdtar": "tar", "find": "find", "gfind": "find",
          "sed": "sed", "gsed": "sed", "sort": "sort", "gsort": "sort", "split": "split", "gsplit": "split",
          "zip": "zip", "wget": "wget", "grep": "grep", "egrep": "grep", "fgrep": "grep", "ggrep": "grep",
          "ls": "ls", "gls": "ls", "date": "date", "gdate": "date"}


def check_arguments(program: str, resolved: str, args: list[str], cwd: Path, root: Path,
                    inside: Callable[[str], bool]) -> tuple[Plan, str | None]:
    """The plan for running ``program`` with ``args``, or why not."""
    if any(not isinstance(a, str) or "\0" in a for a in args):
        return Plan(), "arguments must be strings without NUL bytes"
    why = check_path_arguments(args, cwd, inside)
    if why:
        return Plan(), why
    why = check_file_list_options(program_name(program), args)
    if why:
        return Plan(), why
    kind = _RULES.get(program_name(resolved)) or _RULES.get(program_name(program))
    plan: Plan | None = Plan()
    if kind == "git":
        plan, why = check_git(args, cwd, root)
    elif kind == "tar":
        plan, why = check_tar(args)
    elif kind == "find":
        plan, why = check_find(args)
    elif kind == "sed":
        plan, why = check_sed(args)
    elif kind == "grep":
        plan, why = check_grep(args)
    elif kind == "ls":
        plan, why = check_ls(args)
    elif kind == "date":
        plan, why = check_date(args)
    elif kind in _PROGRAM_RUNNING_OPTIONS:
        plan, why = check_program_options(kind, args)
    return plan or Plan(), why
