"""Secrets never reach the model, the session log or the stream-json output."""
from __future__ import annotations

import pytest

from conftest import clean_env, wren, write_script
from wren.core.redact import redact

AWS = "AKIAZ3MEXAMPLE7KQ2PB"
GITHUB = "ghp_" + "R8s2Kd9fLq0WmZx4Tn7Bc1Vh6Yp3Ju5Ge2Aa"
ANTHROPIC = "sk-ant-api03-" + "Qw7Er9Ty2Ui4Op6As8Df1Gh3Jk5Lz"
OPENAI = "sk-proj-" + "Zx1Cv2Bn3Mq4Wr5Ty6Ui7Op8As9Df0Gh1Jk"
STRIPE = "sk_live_" + "51HcLr2eZvKYlo2C8x9qPz3T"
SLACK = "xoxb-2611-5827-" + "Lk3Jh8Gf2Ds1"
GOOGLE = "AIza" + "SyB3-4kLm9Qz8Xw7Vu6Ts5Rq4Po3Nm2Lk1J"
HF = "hf_" + "aBcDeFgHiJkLmNoPqRsTuVwXyZaBcDeFgH"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
PEM = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nQyNTUxOQAAACD\n-----END OPENSSH PRIVATE KEY-----"
ENV_TOKEN = "q7-not-shaped-like-any-known-key-9f3"


@pytest.mark.parametrize("secret,kind", [
    (AWS, "AWS access key"), (GITHUB, "GitHub token"), (ANTHROPIC, "Anthropic key"), (OPENAI, "OpenAI key"),
    (STRIPE, "Stripe key"), (SLACK, "Slack token"), (GOOGLE, "Google API key"), (HF, "Hugging Face token"),
    (JWT, "JSON web token"), (PEM, "private key"),
])
def test_key_formats_are_redacted_where_they_stand(secret, kind):
    text = f'config = {{"key": "{secret}"}}  # live'
    out = redact(text, env={})
    assert secret not in out and f"[redacted {kind}]" in out
    assert out.startswith('config = {"key": "') and out.endswith('"}  # live')


@pytest.mark.parametrize("text", [
    "def sk_learn_model(): pass", "task-sk-like names", "sk-short", "AKIA is a prefix", "ghp_short",
    "the xox- game", "hash = 'deadbeefdeadbeefdeadbeefdeadbeef'", "eyJ alone", "password = get_password()",
])
def test_ordinary_code_is_left_alone(text):
    assert redact(text, env={}) == text


def test_env_values_and_formats_together():
    out = redact(f"{ENV_TOKEN} and {GITHUB}", env={"DEPLOY_TOKEN": ENV_TOKEN, "HOME": "/root/not-a-secret"})
    assert out == "[redacted $DEPLOY_TOKEN] and [redacted GitHub token]"


def test_no_secret_reaches_the_prompt_the_log_or_the_stream(calc_repo, tmp_path):
    """A key in the task, in a file the model reads and in an env value a command prints: the model,
    the stream-json output and the session log each see only the redaction marks."""
    (calc_repo / "settings.py").write_text(f'AWS_KEY = "{AWS}"\nGH = "{GITHUB}"\nKEY = """{PEM}"""\n')
    secrets = [AWS, GITHUB, PEM.splitlines()[1], ANTHROPIC, ENV_TOKEN]
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "read_file", "arguments": {"path": "settings.py"}}],
         "expect": ["[redacted Anthropic key]"], "absent": secrets},
        {"tool_calls": [{"name": "shell", "arguments": {"command": "echo token=$DEPLOY_TOKEN"}}],
         "expect": ["[redacted AWS access key]", "[redacted GitHub token]", "[redacted private key]"],
         "absent": secrets},
        {"content": f"The key was {OPENAI}", "expect": ["token=[redacted $DEPLOY_TOKEN]"], "absent": secrets},
    ])
    run = wren("run", "--model", model, "--approval", "auto", "--output-format", "stream-json",
               f"Use the key {ANTHROPIC} to check settings.py", cwd=calc_repo,
               env=clean_env(DEPLOY_TOKEN=ENV_TOKEN))
    assert run.code == 0, run.stderr
    log = next((calc_repo / ".wren" / "sessions").glob("*.jsonl")).read_text()
    for secret in secrets + [OPENAI]:
        assert secret not in run.stdout and secret not in log and secret not in run.stderr
    assert run.lines[-1]["summary"] == "The key was [redacted OpenAI key]"
    # The file itself is untouched: redaction is of what is shown, never of the workspace.
    assert AWS in (calc_repo / "settings.py").read_text()


def test_no_secret_reaches_the_model_that_summarises(calc_repo, tmp_path):
    """The context keeps what the user and the tools said; the loop redacts the main model's prompt, and the
    summariser (the fast model, possibly hosted) is sent the evicted messages and the focus redacted too."""
    from test_context_steering import call, run

    (calc_repo / "settings.py").write_text(f'AWS_KEY = "{AWS}"\n')
    turns = [{"tool_calls": [call("read_file", path="settings.py")], "absent": [AWS, ANTHROPIC]},
             {"tool_calls": [call("pin", text=f"deploy with {GITHUB}")]},
             {"tool_calls": [call("compact", keep=f"the key {OPENAI}")]}, {"content": "done"}]
    _, backend, events = run(calc_repo, tmp_path / "s.json", turns, [f"Use the key {ANTHROPIC} on settings.py"])
    assert [e for e in events if e.type == "context_compacted"] and backend.summarized
    sent = repr(backend.summarized) + repr(backend.summary_focus)
    assert "settings.py" in sent and "[redacted AWS access key]" in sent  # the evicted messages, redacted
    for secret in (AWS, ANTHROPIC, GITHUB, OPENAI):
        assert secret not in sent
    # Session memory (a file here; a Chroma server where one is set) holds the evicted task redacted.
    stored = "".join(p.read_text() for p in (calc_repo / ".wren" / "memory").glob("*.jsonl"))
    assert "Use the key [redacted Anthropic key]" in stored and ANTHROPIC not in stored


def test_a_summary_check_and_the_embedder_see_what_the_summariser_saw(tmp_path):
    """A summary cannot hold a key its summariser never saw: the task it must keep is checked redacted (a raw
    one was "lost" every time and then added raw, whence it went into memory). The auto-recall query, the
    user's own words, reaches the embedder (which may be hosted) redacted."""
    from wren.context.compaction import lost, must_keep
    from wren.context.manager import ContextManager
    from wren.context.memory import SessionMemory, chunk_message
    from wren.core.messages import Message

    task = f"Use the key {ANTHROPIC} on settings.py"
    ctx = ContextManager("system")
    ctx.add_directive(task)
    parts = must_keep(ctx, [Message(role="user", content=task)])
    assert ANTHROPIC not in repr(parts) and lost("Use the key [redacted Anthropic key] on settings.py", parts) == []

    class Seen:
        name = "seen"

        def __init__(self):
            self.texts = []

        def embed(self, texts):
            self.texts += texts
            return [[float(len(t) % 7), 1.0, 0.5] for t in texts]

    embedder = Seen()
    memory = SessionMemory(tmp_path, "s1", embedder)
    memory.add(chunk_message(Message(role="user", content="settings.py holds the deploy keys"), 1, 0))
    assert memory.search(task, k=1)
    assert embedder.texts and ANTHROPIC not in repr(embedder.texts)
