"""Fake credentials of every kind the redaction must catch, each with the part that must never be
stored. They are made up (the AWS pair is AWS's documented example) and assembled at run time, so
this file itself trips no secret scanner."""

from __future__ import annotations

from typing import NamedTuple


class PlantedSecret(NamedTuple):
    kind: str
    text: str  # what a careless caller sends
    secret: str  # the part that must reach no file, no object, no stream


def _private_key() -> tuple[str, str]:
    body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7" + "q" * 40
    return f"-----BEGIN {'PRIVATE'} KEY-----\n{body}\n{body[::-1]}\n-----END {'PRIVATE'} KEY-----", body


def _openssh_key_cut_short() -> tuple[str, str]:
    body = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"
    return f"key follows -----BEGIN OPENSSH {'PRIVATE'} KEY-----\n{body}", body


GH = "ghp_" + "R8x2" * 9
GITHUB_PAT = "github_pat_" + "11ABCDEFG0" + "x9Y8z7W6v5" * 6
GITLAB = "glpat-" + "Zx7Yw6Vu5Ts4Rq3Po2Nm"
SLACK = "xoxb-" + "123456789012-1234567890123-" + "AbCdEfGhIjKlMnOpQrStUvWx"
SLACK_HOOK = "https://hooks.slack.com/services/" + "T00000000/B00000000/" + "XXXXXXXXXXXXXXXXXXXXXXXX"
AWS_ID = "AKIA" + "IOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"
BEARER = "b3Ar3r" + "T0k3n" * 5
JWT = "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0" + ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
PASSWORD = "hunter2-" + "Correct-Horse"
DB_PASSWORD = "s3cr3t-" + "db-pass"
STRIPE = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"
CUSTOM = "ACME-" + "7731-0042-9911"  # matched by the pattern the tests add in gateway.json
KEY, KEY_BODY = _private_key()
CUT_KEY, CUT_KEY_BODY = _openssh_key_cut_short()

SECRETS: list[PlantedSecret] = [
    PlantedSecret("aws-access-key-id", f"using {AWS_ID} for the upload", AWS_ID),
    PlantedSecret("aws-secret-access-key", f"export AWS_SECRET_ACCESS_KEY={AWS_SECRET}", AWS_SECRET),
    PlantedSecret("github-token", f"git push https://x:{GH}@github.com/acme/w.git", GH),
    PlantedSecret("github-token", f"token {GITHUB_PAT}", GITHUB_PAT),
    PlantedSecret("gitlab-token", f"GITLAB_TOKEN {GITLAB}", GITLAB),
    PlantedSecret("slack-token", f"posting with {SLACK}", SLACK),
    PlantedSecret("slack-webhook", f"notify {SLACK_HOOK}", SLACK_HOOK.rsplit("/", 1)[-1]),
    PlantedSecret("bearer-token", f"curl -H 'Authorization: Bearer {BEARER}' https://api", BEARER),
    PlantedSecret("bearer-token", f"sent bearer {JWT}", JWT),
    PlantedSecret("private-key", KEY, KEY_BODY),
    PlantedSecret("private-key", CUT_KEY, CUT_KEY_BODY),
    PlantedSecret("password-pair", f"login failed with password={PASSWORD}", PASSWORD),
    PlantedSecret("password-pair", f"postgres://admin:{DB_PASSWORD}@db:5432/app", DB_PASSWORD),
    PlantedSecret("stripe-key", f"charge via {STRIPE}", STRIPE),
    PlantedSecret("custom pattern", f"ticket {CUSTOM} attached", CUSTOM),
]

CUSTOM_PATTERN = {"name": "acme-ticket-secret", "pattern": r"ACME-[0-9]{4}-[0-9]{4}-[0-9]{4}"}
