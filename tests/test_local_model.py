"""The bundled SmolLM2 GGUF on llama.cpp: constrained steps, KV reuse, bad model files."""
from __future__ import annotations

import json
import shutil

import pytest

from conftest import smollm2_path, wren

pytestmark = pytest.mark.slow

VALID_TOOLS = {"read_file", "list_files", "grep", "edit_file", "write_file", "shell", "run_tests", "update_plan",
               "recall", "search_code", "compact", "forget", "pin"}
BAD_STEP = ("not valid JSON", "invalid arguments", "unknown tool", "must be a JSON object")
PROMPTS = [
    "List the files in this repository.", "Read calc.py and tell me what add does.",
    "Search for the word add in the Python files.", "Make a plan to fix the failing test.",
    "Run the tests and tell me which one fails.", "What does test_calc.py check?",
    "Show me line 2 of calc.py.", "Which files mention assert?", "Fix add in calc.py so it adds.",
    "Is there a README?", "Count the Python files.", "What is the first line of calc.py?",
    "Find every def in the repository.", "Write a file notes.txt that says hello.",
    "Explain this repository in one sentence.", "Run git status.", "Grep for 'import'.",
    "Read test_calc.py.", "Update the plan: read, fix, test.", "Replace a - b with a + b in calc.py.",
    "List the files matching *.py.", "What is in calc.py line 1 to 2?",
]


def session_events(repo, session_id):
    path = repo / ".wren" / "sessions" / f"{session_id}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def run_turns(repo, backend, prompts, max_steps=4):
    """One in-process session on the loaded model (mode read-only), one turn per prompt; returns events."""
    from wren.agent.approval import Policy
    from wren.agent.limits import Limits
    from wren.core.ops import Shutdown, UserInput
    from wren.agent.session import Session, SessionConfig
    from wren.tools.base import default_registry

    session = Session(SessionConfig(root=repo, backend=backend, registry=default_registry(),
                                    policy=Policy(mode="read-only"), limits=Limits(max_steps=max_steps)))
    for prompt in prompts:
        session.submit(UserInput(text=prompt))
    session.submit(Shutdown())
    return [e.model_dump() for e in session.events()]


def count_steps(events, bad=None):
    """(steps, valid steps); the invalid ones are appended to `bad` for the failure message."""
    results = {e["call_id"]: e for e in events if e["type"] == "tool_result"}
    steps = valid = 0
    for msg in (e for e in events if e["type"] == "assistant_message" and e["by"] == "model"):
        steps += 1
        if not msg["tool_calls"]:
            ok = bool(msg["content"].strip())
        else:
            (call,) = msg["tool_calls"]
            output = results[call["id"]]["output"]
            ok = call["name"] in VALID_TOOLS and not any(b in output for b in BAD_STEP)
        valid += ok
        if not ok and bad is not None:
            bad.append(msg)
    return steps, valid


def test_wren_run_local_takes_real_steps(calc_repo):
    run = wren("run", "Read calc.py and tell me what add does.", "--model", "local", "--approval", "read-only",
               "--max-steps", "4", "--output-format", "json", cwd=calc_repo, timeout=600)
    assert run.json["error"] is None, run.stderr
    assert run.json["steps"] >= 1 and run.json["usage"]["completion_tokens"] > 0
    steps, valid = count_steps(session_events(calc_repo, run.json["session_id"]))
    assert steps == run.json["steps"] and valid == steps


def test_every_constrained_step_parses(calc_repo, backend):
    steps = valid = 0
    bad: list = []
    for prompt in PROMPTS:  # one turn at a time, until 20 steps have run
        more, ok = count_steps(run_turns(calc_repo, backend, [prompt], max_steps=3), bad)
        steps, valid = steps + more, valid + ok
        if steps >= 20:
            break
    assert steps >= 20, f"only {steps} steps ran"
    assert valid == steps, f"{steps - valid} of {steps} steps did not parse into a valid call or reply: {bad}"


def test_files_the_message_names_are_read_for_the_model_before_its_first_step(calc_repo, backend):
    events = run_turns(calc_repo, backend, ["The test in test_calc.py fails. Fix the bug in calc.py."], max_steps=2)
    made = [c for e in events if e["type"] == "assistant_message" and e["by"] == "wren" for c in e["tool_calls"]]
    # read-only mode: run_tests would ask, so Wren only reads (the test file, then what it imports).
    assert [(c["name"], json.loads(c["arguments"])) for c in made] == [
        ("read_file", {"path": "test_calc.py"}), ("read_file", {"path": "calc.py"})]
    results = {e["call_id"]: e for e in events if e["type"] == "tool_result"}
    assert "return a - b" in results[made[1]["id"]]["output"]
    # The real model then steps from there: its steps parse, and its first prompt held both files.
    bad: list = []
    steps, valid = count_steps(events, bad)
    assert steps >= 1 and valid == steps, bad
    first = next(e for e in events if e["type"] == "usage")["step"]
    assert first["prompt_tokens"] > 0


def test_a_careful_session_on_the_real_model_sees_the_failing_run_and_gets_each_change_tested(calc_repo, backend):
    from wren.agent.approval import Policy
    from wren.agent.limits import Limits
    from wren.core.ops import Shutdown, UserInput
    from wren.agent.session import Session, SessionConfig
    from wren.tools.base import default_registry

    session = Session(SessionConfig(root=calc_repo, backend=backend, registry=default_registry(), careful=True,
                                    policy=Policy(mode="auto"), limits=Limits(max_steps=6)))
    session.submit(UserInput(text="The test in test_calc.py fails. Fix the bug in calc.py (replace a - b)."))
    session.submit(Shutdown())
    events = [e.model_dump() for e in session.events()]
    made = [(e["by"], c["name"], json.loads(c["arguments"] or "{}")) for e in events
            if e["type"] == "assistant_message" for c in e["tool_calls"]]
    # The failing run, then the code it imports; not the test file, whose failing line the run shows.
    assert made[:2] == [("wren", "run_tests", {"target": "test_calc.py"}), ("wren", "read_file", {"path": "calc.py"})]
    assert not any(name == "read_file" and args.get("path") == "test_calc.py" for by, name, args in made if by == "wren")
    # Every model step that changed a file while the tests failed is followed by Wren's run of them.
    results = {e["call_id"]: e for e in events if e["type"] == "tool_result"}
    messages = [e for e in events if e["type"] == "assistant_message"]
    passing = False
    for step, after in zip(messages, messages[1:] + [None]):
        changed = any(results.get(c["id"], {}).get("files_changed") for c in step["tool_calls"])
        if step["by"] == "model" and changed and not passing and not any(c["name"] == "run_tests" for c in step["tool_calls"]):
            assert after is not None and after["by"] == "wren" and after["tool_calls"][0]["name"] == "run_tests"
        for c in step["tool_calls"]:
            if c["name"] == "run_tests" and c["id"] in results:
                passing = results[c["id"]]["ok"]
    bad: list = []
    steps, valid = count_steps(events, bad)
    assert steps >= 1 and valid == steps, bad


def test_kv_cache_is_reused_between_steps(calc_repo, backend):
    events = run_turns(calc_repo, backend, PROMPTS[:5], max_steps=1)
    usage = [e["step"] for e in events if e["type"] == "usage"]
    assert len(usage) == 5
    later = usage[1:]
    sent = sum(u["prompt_tokens"] for u in later)
    evaluated = sum(u["prompt_tokens"] - u["cached_tokens"] for u in later)
    assert evaluated < 0.4 * sent, f"evaluated {evaluated} of {sent} prompt tokens in steps 2-5"


def test_the_prompt_follows_the_caches_split_of_the_same_text(backend):
    """A step the model sampled as tokens its tokenizer would split otherwise (SmolLM2 wrote `{ "` so) is
    shown back as text; the next prompt keeps the cache's tokens for those bytes, so none is evaluated again."""
    from wren.local_models import kv_cache

    llm = backend.llm
    step = '{ "tool": "read_file", "arguments": { "path": "calc.py" } }'
    sampled = [t for ch in step for t in llm.tokenize(ch.encode(), add_bos=False, special=False)]
    canonical = llm.tokenize(step.encode(), add_bos=False, special=False)
    assert sampled != canonical, "no other split of the step to test with"
    with backend._lock:
        llm.reset()
        llm.eval(sampled)
        prompt = llm.tokenize((step + "\nuser\nResult of read_file: ok").encode(), add_bos=False, special=True)
        aligned = kv_cache.aligned(llm, kv_cache.evaluated(llm), prompt)
    assert aligned[:len(sampled)] == sampled
    assert llm.detokenize(aligned, special=True) == llm.detokenize(prompt, special=True)


JUNCTION = 3


def test_a_step_is_shown_back_as_generated_so_its_tokens_stay_cached(calc_repo, backend):
    """Within a turn, each step's prompt extends the previous prompt and the step the model generated
    for it, byte for byte (odd spacing and all): everything already evaluated is reused."""
    events = run_turns(calc_repo, backend, ["Read calc.py and tell me what add does.", "List the files."],
                       max_steps=3)
    later = []
    previous = None
    for e in events:
        if e["type"] == "user_message":
            previous = None
        elif e["type"] == "usage":
            if previous is not None:
                later.append((previous, e["step"]["cached_tokens"]))
            # Evaluated so far: the prompt, and the step's tokens but the last, which ends generation.
            previous = e["step"]["prompt_tokens"] + e["step"]["completion_tokens"] - 1
    assert later, "the model answered each prompt in one step; no later step to check"
    # A few tokens may go where the step meets the template's end marker and tokenizes differently.
    assert all(cached >= evaluated - JUNCTION for evaluated, cached in later), later


def test_an_interrupt_cuts_local_generation_mid_reply_and_the_model_still_answers(backend):
    """StreamStopped raised from the per-token heartbeat ends llama.cpp generation there; the
    shared context is left usable (its lock released, its state whole)."""
    from wren.core.errors import StreamStopped
    from wren.core.messages import Message

    story = [Message(role="user", content="Write a very long story about a cat who sails around the world.")]
    beats = []

    def stop_at_20(text: str) -> None:
        beats.append(text)
        if len(beats) == 20:
            raise StreamStopped("interrupted", "interrupted by the user")

    with pytest.raises(StreamStopped):
        backend.complete(story, [], stop_at_20)
    assert len(beats) == 20  # not one token generated after the stop
    reply = backend.complete([Message(role="user", content="Say hi.")], [], lambda text: None)
    assert reply.content.strip() and reply.usage.completion_tokens > 0


def test_a_step_that_may_only_answer_answers_and_keeps_the_kv_prefix(backend, tmp_path):
    """The wrap-up step of a stuck session (careful.wrap_up): tool_choice "none" keeps the tools in
    the prompt, so llama.cpp reuses all of it, while the grammar allows an answer only."""
    from wren.agent.prompt import system_prompt
    from wren.core.messages import Message
    from wren.tools.base import default_registry

    tools = default_registry().schemas()
    prompt = [Message(role="system", content=system_prompt(tmp_path)),
              Message(role="user", content="Read calc.py, then grep for 'add' in every Python file.")]
    size = len(backend.prompt_tokens(prompt, tools)[0])
    backend.complete(prompt, tools, lambda text: None)
    reply = backend.complete(prompt, tools, lambda text: None, tool_choice="none")
    assert reply.tool_calls == [] and reply.content.strip()
    assert reply.usage.cached_tokens == size - 1  # all but the last token, which llama.cpp evaluates again


def test_an_answer_that_falls_into_a_loop_is_cut_to_one_round(tmp_path):
    """Greedy and without a repeat penalty, SmolLM2 repeats one sentence in this answer; generation stops
    once the loop shows (local_models/degenerate.py) and the answer keeps one round of it."""
    import dataclasses

    from wren.agent.models import resolve_backend
    from wren.agent.prompt import system_prompt
    from wren.core.messages import Message
    from wren.local_models.backend import MAX_REPLY_TOKENS
    from wren.local_models.degenerate import loop_start
    from wren.tools.base import default_registry

    greedy = resolve_backend("local:smollm2")
    greedy.sampling = dataclasses.replace(greedy.sampling, temperature=0.0, repeat_penalty=1.0)
    prompt = [Message(role="system", content=system_prompt(tmp_path)),
              Message(role="user", content="Tell me about the exit codes in detail.")]
    reply = greedy.complete(prompt, default_registry().schemas(), lambda text: None, tool_choice="none")
    sentence = reply.content.strip()
    assert sentence and loop_start(reply.content) is None
    assert greedy.last.raw.count(sentence) >= 2  # the model did loop: it was cut, not done
    assert reply.usage.completion_tokens < MAX_REPLY_TOKENS / 4


def test_a_step_told_to_edit_calls_edit_file_or_answers_and_keeps_the_kv_prefix(backend, tmp_path):
    """The first step of an oriented attempt (careful.edit_first): tool_choice names edit_file, the
    tools stay in the prompt (llama.cpp reuses all of it) and the grammar allows that call or an answer."""
    from wren.agent.prompt import system_prompt
    from wren.core.messages import Message
    from wren.tools.base import default_registry

    tools = default_registry().schemas()
    prompt = [Message(role="system", content=system_prompt(tmp_path)),
              Message(role="user", content="List the files, then grep for 'add' in every Python file.")]
    size = len(backend.prompt_tokens(prompt, tools)[0])
    backend.complete(prompt, tools, lambda text: None)
    for _ in range(3):  # sampled: each of three steps is an edit_file call or an answer
        reply = backend.complete(prompt, tools, lambda text: None, tool_choice="edit_file")
        assert reply.usage.cached_tokens == size - 1
        assert [c.name for c in reply.tool_calls] in ([], ["edit_file"]), reply
        assert reply.tool_calls or reply.content.strip()
        if reply.tool_calls:
            assert set(json.loads(reply.tool_calls[0].arguments)) >= {"path", "old", "new"}


def test_system_prompt_and_tools_fit_1200_tokens(backend, tmp_path):
    from wren.core.messages import Message
    from wren.agent.prompt import system_prompt
    from wren.tools.base import default_registry

    tokens, _ = backend.prompt_tokens([Message(role="system", content=system_prompt(tmp_path))],
                                      default_registry().schemas())
    assert len(tokens) <= 1200


def test_missing_gguf_exits_2(calc_repo, tmp_path):
    run = wren("run", "hi", "--model", f"local:{tmp_path / 'nope.gguf'}", cwd=calc_repo)
    assert run.code == 2 and "does not exist" in run.stderr


def test_truncated_gguf_exits_2(calc_repo, tmp_path):
    cut = tmp_path / "cut.gguf"
    with smollm2_path().open("rb") as src, cut.open("wb") as dst:
        dst.write(src.read(smollm2_path().stat().st_size // 2))
    run = wren("run", "hi", "--model", f"local:{cut}", cwd=calc_repo)
    assert run.code == 2, run.stderr
    assert "truncated" in run.stderr or "is the file complete" in run.stderr


def test_header_only_gguf_exits_2(calc_repo, tmp_path):
    cut = tmp_path / "header.gguf"
    cut.write_bytes(smollm2_path().read_bytes()[:5000])
    run = wren("run", "hi", "--model", f"local:{cut}", cwd=calc_repo)
    assert run.code == 2 and "truncated" in run.stderr


def test_not_a_gguf_exits_2(calc_repo, tmp_path):
    fake = tmp_path / "model.gguf"
    fake.write_text("definitely not a model\n" * 100)
    run = wren("run", "hi", "--model", f"local:{fake}", cwd=calc_repo)
    assert run.code == 2 and "not a GGUF model file" in run.stderr


def test_prompt_that_cannot_fit_the_window_exits_3(calc_repo):
    (calc_repo / "wren.toml").write_text("[local]\nn_ctx = 1024\n")
    run = wren("run", "word " * 3000, "--model", "local", "--output-format", "json", cwd=calc_repo, timeout=300)
    assert run.code == 3
    assert run.json["error"]["kind"] == "context_window"
    assert "1024" in run.json["error"]["message"]


def test_named_model_from_config(calc_repo, tmp_path):
    copy = tmp_path / "mine.gguf"
    shutil.copy(smollm2_path(), copy)
    (calc_repo / "wren.toml").write_text(f'[local]\nmodels = {{ mine = "{copy}" }}\n')
    run = wren("run", "Say hi.", "--model", "local:mine", "--max-steps", "2", "--approval", "read-only",
               "--output-format", "json", cwd=calc_repo, timeout=300)
    assert run.json["error"] is None, run.stderr
    assert run.json["steps"] >= 1


def test_models_list_info_add(tmp_path):
    from conftest import clean_env

    env = clean_env(XDG_CONFIG_HOME=str(tmp_path / "config"))
    listed = wren("models", "list", env=env)
    assert listed.code == 0 and "smollm2" in listed.stdout and "Q4_1" in listed.stdout
    info = wren("models", "info", "smollm2", env=env)
    assert info.code == 0
    assert "architecture   llama" in info.stdout and "trained ctx    8192" in info.stdout
    assert "chat template  present" in info.stdout
    copy = tmp_path / "copy.gguf"
    shutil.copy(smollm2_path(), copy)
    added = wren("models", "add", str(copy), "--name", "mine", env=env)
    assert added.code == 0, added.stderr
    assert "mine" in wren("models", "list", env=env).stdout
    bad = tmp_path / "bad.gguf"
    bad.write_text("nope")
    refused = wren("models", "add", str(bad), "--name", "bad", env=env)
    assert refused.code == 2 and "not a GGUF" in refused.stderr


def test_doctor_reports_backend_offload_threads_and_memory():
    run = wren("doctor")
    assert run.code == 0, run.stderr
    for label in ("backend", "gpu offload", "threads", "model memory"):
        assert label in run.stdout


def test_doctor_takes_the_model_as_wren_run_spells_it():
    # `wren run --model local:smollm2` is the spelling users know; doctor refused it as an unknown name.
    for spec in ("local:smollm2", "smollm2"):
        run = wren("doctor", "--model", spec)
        assert run.code == 0 and "SmolLM2-135M-Instruct" in run.stdout, (spec, run.stdout, run.stderr)


def test_an_interrupt_stops_a_long_prompt_before_it_is_all_evaluated_and_what_was_evaluated_is_reused(backend):
    """The prompt past the KV cache is evaluated a batch at a time with a heartbeat before each (kv_cache.prefill): a
    stop there ends the call before the whole prompt is read, and the next call reuses the batches read."""
    from wren.core.errors import StreamStopped
    from wren.core.messages import Message

    long = [Message(role="user", content="Count the words: " + " ".join(f"word{i}" for i in range(900)))]
    batch = backend.llm.n_batch
    beats = []

    def stop_at_2(text: str) -> None:
        beats.append(text)
        if len(beats) == 2:
            raise StreamStopped("interrupted", "interrupted by the user")

    tokens, _ = backend.prompt_tokens(long, [], None)
    assert len(tokens) > 3 * batch, (len(tokens), batch)  # several batches, so a stop can come between them
    before = backend.llm.n_tokens
    with pytest.raises(StreamStopped):
        backend.complete(long, [], stop_at_2)
    assert beats == ["", ""] and backend.llm.n_tokens < len(tokens) - 1  # stopped before the prompt was all read
    read = backend.llm.n_tokens
    assert read > min(before, batch)  # a batch was evaluated before the stop, and kept
    reply = backend.complete(long, [], lambda text: None)
    assert reply.content.strip() and reply.usage.cached_tokens >= read - 1, (reply.usage, read)
