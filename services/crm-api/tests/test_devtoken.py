"""`make token`: a token the API accepts, signed with the secret `make run` keeps."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

from crm_api.auth import read_token

SECRET = "a-development-secret-of-at-least-32-bytes"


def test_devtoken_signs_with_the_dev_secrets_file(tmp_path) -> None:
    secrets = tmp_path / "dev-secrets.json"
    secrets.write_text(json.dumps({"JWT_SECRET": SECRET, "SECRETS_KEY": "unused"}))
    tenant, user = uuid.uuid4(), uuid.uuid4()
    env = {"PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "crm_api.devtoken",
            "--tenant",
            str(tenant),
            "--user",
            str(user),
            "--admin",
            "--secrets-file",
            str(secrets),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    caller = read_token(SECRET, result.stdout.strip())
    assert (caller.tenant_id, caller.user_id, caller.is_admin) == (tenant, user, True)
