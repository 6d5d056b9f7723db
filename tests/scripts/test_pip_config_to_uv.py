"""install.sh hands pip's package sources to uv: every index, wheel folder and constraint, once."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "pip_config_to_uv.py"

PIP_CONFIG_LIST = """\
:env:.default-timeout='180'
:env:.find-links='/opt/wheels'
global.cert='/etc/ssl/certs/ca-certificates.crt'
global.constraint='/etc/pip/constraints.txt'
global.extra-index-url='file:///opt/a/simple file:///opt/b/simple'
global.find-links='/opt/wheels'
user.index-url='https://mirror.example/simple'
"""


def test_sources_become_uv_flags_and_a_cert_becomes_ssl_cert_file():
    out = subprocess.run([sys.executable, str(SCRIPT)], input=PIP_CONFIG_LIST, capture_output=True,
                         text=True, check=True).stdout.splitlines()
    assert out == [
        "--find-links", "/opt/wheels",  # given twice (environment and file), passed once
        "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
        "--constraint", "/etc/pip/constraints.txt",
        "--extra-index-url", "file:///opt/a/simple", "--extra-index-url", "file:///opt/b/simple",
        "--index-url", "https://mirror.example/simple",
    ]


def test_an_empty_configuration_gives_no_flags():
    out = subprocess.run([sys.executable, str(SCRIPT)], input="", capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
