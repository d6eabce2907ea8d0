"""Documentation that must stay in step with the code."""

from __future__ import annotations

import re

from ganzoo import hookspecs

from conftest import ROOT


def test_every_hook_has_a_contributing_section_with_its_signature():
    text = (ROOT / "CONTRIBUTING.md").read_text()
    for hook in hookspecs.KINDS.values():
        assert f"### {hook}\n" in text, f"CONTRIBUTING.md has no section for {hook}"
        section = text.split(f"### {hook}\n", 1)[1].split("\n### ", 1)[0]
        assert f"def {hook}(register" in section, f"the {hook} section does not show its signature"


def test_every_hookspec_has_a_docstring():
    for hook in hookspecs.KINDS.values():
        assert len((getattr(hookspecs, hook).__doc__ or "").strip()) > 80, hook


def test_readme_test_command_matches_ci():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci/run").read_text()
    command = re.search(r"<!-- test-command -->\n```bash\n(.+?)\n```", readme, re.S).group(1).strip()
    assert command.splitlines()[-1].strip() in ci
