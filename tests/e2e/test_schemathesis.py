"""Schemathesis against the live API: generated and mutated requests find no 5xx and no
response that contradicts the OpenAPI schema."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

from tests.support.processes import BIN

# Dates and times at the ends of datetime's range, where overflow errors hide.
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")

CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance," + (
    "content_type_conformance"
)


async def test_no_generated_request_gets_a_5xx_or_breaks_the_schema(api_url: str) -> None:
    process = await asyncio.create_subprocess_exec(
        str(BIN / "st"), "run", f"{api_url}/openapi.json",
        "--checks", CHECKS,
        "--max-time", "45",  # bounded for CI; fuzzing repeats until the budget is spent
        "--workers", "2",
        "--seed", "20261127",  # reproducible in CI; run by hand without it to explore
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)},
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), timeout=180)
    report = out.decode(errors="replace")
    # A failed check is ours to fix; schemathesis's own runtime errors (it has crashed inside
    # its AST code on this machine) are not a verdict on the API, so they do not fail this.
    assert "Failures:" not in report, report[-6000:]
    assert re.search(r"\d+ generated, \d+ passed", report), report[-6000:]
