"""Redaction measured on a corpus: real-format secrets (synthetic values in each provider's format,
in the lines they usually sit in) must all be caught; look-alikes that are not secrets (hashes,
ids, references, code) may be caught at most twice. Recall and false positives are printed."""
from __future__ import annotations

import random
import string

from wren.core.redact import redact

R = random.Random(20261201)
LOWER, UPPER, DIGITS = string.ascii_lowercase, string.ascii_uppercase, string.digits
ALNUM, HEX = LOWER + UPPER + DIGITS, "0123456789abcdef"


def rand(chars: str, n: int) -> str:
    return "".join(R.choice(chars) for _ in range(n))


SECRETS = [  # (line, the secret in it)
    *[(f"github_token: {s}", s) for s in ["ghp_" + rand(ALNUM, 36), "gho_" + rand(ALNUM, 36)]],
    *[(f"GH_PAT={s}", s) for s in ["github_pat_" + rand(ALNUM + "_", 82)]],
    *[(f"export AWS_ACCESS_KEY_ID={s}", s) for s in ["AKIA" + rand(UPPER + DIGITS, 16)]],
    *[(f'aws_secret_access_key = "{s}"', s) for s in [rand(ALNUM + "/+", 40)]],
    *[(f"gitlab: {s}", s) for s in ["glpat-" + rand(ALNUM + "_-", 20)]],
    *[(f"SLACK_BOT_TOKEN={s}", s) for s in ["xoxb-" + rand(DIGITS, 12) + "-" + rand(DIGITS, 12) + "-" + rand(ALNUM, 24)]],
    *[(f"stripe.api_key = '{s}'", s) for s in ["sk_live_" + rand(ALNUM, 24), "rk_live_" + rand(ALNUM, 24)]],
    *[(f"STRIPE_WEBHOOK_SECRET={s}", s) for s in ["whsec_" + rand(ALNUM, 32)]],
    *[(f"//registry.npmjs.org/:_authToken={s}", s) for s in ["npm_" + rand(LOWER + DIGITS, 36)]],
    *[(f"password = {s}", s) for s in ["pypi-AgEIcHlwaS5vcmc" + rand(ALNUM + "_-", 70)]],
    *[(f"OPENAI_API_KEY={s}", s) for s in ["sk-proj-" + rand(ALNUM, 48)]],
    *[(f"client = Anthropic(api_key='{s}')", s) for s in ["sk-ant-api03-" + rand(ALNUM + "_-", 93) + "AA"]],
    *[(f"GOOGLE_API_KEY: {s}", s) for s in ["AIza" + rand(ALNUM + "_-", 35)]],
    *[(f"HF_TOKEN={s}", s) for s in ["hf_" + rand(ALNUM, 34)]],
    *[(f"SENDGRID_API_KEY={s}", s) for s in ["SG." + rand(ALNUM, 22) + "." + rand(ALNUM, 43)]],
    *[(f"twilio_key = {s}", s) for s in ["SK" + rand(HEX, 32)]],
    *[(f"mailchimp_api_key = {s}", s) for s in [rand(HEX, 32) + "-us12"]],
    *[(f"SHOPIFY_TOKEN={s}", s) for s in ["shpat_" + rand(HEX, 32)]],
    *[(f"DOPPLER_TOKEN={s}", s) for s in ["dp.pt." + rand(ALNUM, 43)]],
    *[(f"telegram_bot_token = {s}", s) for s in [rand(DIGITS, 10) + ":A" + rand(ALNUM + "_-", 34)]],
    *[(f"SQUARE_ACCESS_TOKEN={s}", s) for s in ["sq0atp-" + rand(ALNUM + "_-", 22)]],
    *[(f"DATABRICKS_TOKEN={s}", s) for s in ["dapi" + rand(HEX, 32)]],
    *[(f"LINEAR_API_KEY={s}", s) for s in ["lin_api_" + rand(ALNUM, 40)]],
    *[(f"POSTMAN_API_KEY={s}", s) for s in ["PMAK-" + rand(HEX, 24) + "-" + rand(HEX, 34)]],
    *[(f"PULUMI_ACCESS_TOKEN={s}", s) for s in ["pul-" + rand(HEX, 40)]],
    *[(f"GRAFANA_TOKEN={s}", s) for s in ["glsa_" + rand(ALNUM, 32) + "_" + rand(HEX, 8)]],
    *[(f"newrelic_api_key = {s}", s) for s in ["NRAK-" + rand(UPPER + DIGITS, 27)]],
    *[(f"DT_API_TOKEN={s}", s) for s in ["dt0c01." + rand(UPPER + DIGITS, 24) + "." + rand(UPPER + DIGITS, 64)]],
    *[(f"# age key: {s}", s) for s in ["AGE-SECRET-KEY-1" + rand("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58)]],
    *[(f"ALIBABA_ACCESS_KEY_ID={s}", s) for s in ["LTAI" + rand(ALNUM, 20)]],
    *[(f"FLY_API_TOKEN={s}", s) for s in ["fo1_" + rand(ALNUM + "_-", 43)]],
    *[(f"VAULT_TOKEN={s}", s) for s in ["hvs." + rand(ALNUM + "_-", 95)]],
    *[(f"PLANETSCALE_TOKEN={s}", s) for s in ["pscale_tkn_" + rand(ALNUM, 43)]],
    *[(f"PREFECT_API_KEY={s}", s) for s in ["pnu_" + rand(ALNUM, 36)]],
    *[(f"RUBYGEMS_API_KEY={s}", s) for s in ["rubygems_" + rand(HEX, 48)]],
    *[(f"SHIPPO_TOKEN={s}", s) for s in ["shippo_live_" + rand(HEX, 40)]],
    *[(f"HEROKU_API_KEY={s}", s) for s in ["HRKU-AA" + rand(ALNUM + "_-", 58)]],
    *[(f"auth = {s}", s) for s in ["eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI" + rand(ALNUM, 20) + "." + rand(ALNUM + "_-", 43)]],
    ("-----BEGIN OPENSSH PRIVATE KEY-----\n" + rand(ALNUM, 64) + "\n-----END OPENSSH PRIVATE KEY-----",
     "-----BEGIN OPENSSH PRIVATE KEY-----"),
    # A secret by the name it is assigned to, whatever its format.
    *[(f"DB_PASSWORD={s}", s) for s in ["hunter2hunter2"]],
    *[(f'  "api_token": "{s}",', s) for s in ["c0rrect-h0rse-battery"]],
    *[(f"SMTP_PASSWORD: '{s}'", s) for s in ["Tr0ub4dor&3x"]],
]

LOOK_ALIKES = [
    "commit 3f9a1c2e7b4d8a6f0e1c9b2a7d4e8f6a1b3c5d7e",
    "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "integrity sha512-Q3pr0+Bn7fEMxuHkqbOyC4YHKEdC1m2vaZkmaC2b/gGL+aulIzR2NKbTfNOxtWbGhr4w==",
    "id: 123e4567-e89b-12d3-a456-426614174000",
    "image: python:3.11-slim@sha256:aa5d1e1c5b9b1d4e8f7a6c3b2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e",
    "api_key = os.environ['OPENAI_API_KEY']",
    "token = request.headers.get('Authorization')",
    "password = getpass.getpass()",
    "secret_key = settings.SECRET_KEY",
    "GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}",
    "API_KEY=$API_KEY",
    "DB_PASSWORD=${DB_PASSWORD}",
    "password: <your-password-here>",
    "api_key: changeme",
    "Tokens from GitHub start with ghp_ and are 40 characters long.",
    "def get_api_key(self) -> str:",
    "access_token = response.json()['access_token']",
    "color: #3f9a1c; background: #ffffff;",
    "version = \"2.31.0\"",
    "url = \"https://api.example.com/v1/tokens\"",
    "class AbstractSingletonProxyFactoryBean(object):",
    "x = base64.b64encode(b'hello world')",
    "The request failed with status 401 Unauthorized.",
    "KEY_LENGTH = 32",
    "token_type = 'Bearer'",
    "pk_test_TYooMQauvdEDq54NiTphI7jx",
    "uuid4 = 'f47ac10b-58cc-4372-a567-0e02b2c3d479'",
    "md5: d41d8cd98f00b204e9800998ecf8427e",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl user@host",
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod",
    "secret_name = 'prod/db/password'",
    "password_min_length: 12",
    "auth_method: oauth2",
    "npm install --save-dev typescript@5.4.5",
    "pip install requests==2.31.0 --hash=sha256:58cd2187c01e70e6e26505bca751777aa9f2ee0b7f4300988b709f44e013003f",
    "Authorization: Bearer $TOKEN",
    "keyboard_layout = 'us'",
    "cache_key = f'{user_id}:{page}'",
    "EXAMPLE_KEY=AKIAIOSFODNN7EXAMPLE",
    "tokens = tokenizer.encode(text)",
]


def test_redaction_catches_every_secret_and_few_look_alikes(capsys):
    assert len(SECRETS) >= 40 and len(LOOK_ALIKES) >= 40
    missed = [(line, secret) for line, secret in SECRETS if secret in redact(line, env={})]
    flagged = [line for line in LOOK_ALIKES if redact(line, env={}) != line]
    with capsys.disabled():
        print(f"\nredaction corpus: recall {len(SECRETS) - len(missed)}/{len(SECRETS)}, "
              f"false positives {len(flagged)}/{len(LOOK_ALIKES)}: {flagged}")
    assert not missed, missed
    assert len(flagged) <= 2, flagged


def test_a_placeholder_from_any_rule_is_put_back_on_write():
    from wren.core.redact import restore

    npm, password = SECRETS[10][1], "hunter2hunter2"
    source = f"//registry.npmjs.org/:_authToken={npm}\nDB_PASSWORD={password}\n"
    shown = redact(source, env={})
    assert npm not in shown and password not in shown
    edited = shown.replace("DB_PASSWORD", "DATABASE_PASSWORD")
    assert restore(edited, source, env={}) == source.replace("DB_PASSWORD", "DATABASE_PASSWORD")
