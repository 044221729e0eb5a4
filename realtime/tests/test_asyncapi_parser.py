"""The AsyncAPI document, as a file and as served, is valid under the official AsyncAPI parser.

The parser is the npm package ``@asyncapi/parser``, pinned in ``asyncapi_parser/package-lock.json``
and run with the machine's Node.js. ``npm ci`` installs it once, when ``node_modules`` is missing or
holds another version; afterwards each check is one ``node`` run of a few seconds.
"""

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import Client

from realtime.asyncapi import DOCUMENT_PATH

pytestmark = pytest.mark.node

PARSER_DIR = Path(__file__).with_name("asyncapi_parser")
PARSER_PACKAGE = "@asyncapi/parser"

#: Small, so the parser answers quickly: an operation whose action is neither send nor receive.
BROKEN_DOCUMENT = """\
asyncapi: 3.0.0
info:
  title: Broken
  version: 1.0.0
channels:
  status:
    address: /ws/status/
operations:
  listen:
    action: listen
    channel:
      $ref: '#/channels/status'
"""


def installed_parser_version() -> str | None:
    manifest = PARSER_DIR / "node_modules" / PARSER_PACKAGE / "package.json"
    return json.loads(manifest.read_text())["version"] if manifest.exists() else None


@pytest.fixture(scope="session")
def validate_asyncapi() -> Callable[[Path], subprocess.CompletedProcess]:
    """``validate(path)`` runs the official parser on a document; installs it first if needed."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("The AsyncAPI check needs Node.js (20 or later) and npm: apt-get install nodejs npm")
    wanted = json.loads((PARSER_DIR / "package.json").read_text())["dependencies"][PARSER_PACKAGE]
    if installed_parser_version() != wanted:
        install = subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=PARSER_DIR,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if install.returncode != 0:
            pytest.fail(f"npm ci failed in {PARSER_DIR}:\n{install.stdout}\n{install.stderr}")

    def validate(path: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [node, "validate.mjs", str(path)], cwd=PARSER_DIR, capture_output=True, text=True, timeout=120
        )

    return validate


def test_the_document_is_valid(validate_asyncapi):
    checked = validate_asyncapi(DOCUMENT_PATH)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "valid: AsyncAPI 3.0.0" in checked.stdout


def test_the_served_json_is_valid(validate_asyncapi, tmp_path):
    response = Client().get("/api/asyncapi.json")
    assert response.status_code == 200
    served = tmp_path / "asyncapi.json"
    served.write_bytes(response.content)

    checked = validate_asyncapi(served)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "valid: AsyncAPI 3.0.0" in checked.stdout


def test_a_broken_document_fails_with_the_parser_diagnostics(validate_asyncapi, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN_DOCUMENT)

    checked = validate_asyncapi(broken)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "error asyncapi-document-resolved at /operations/listen/action" in checked.stdout
    assert "invalid:" in checked.stdout
