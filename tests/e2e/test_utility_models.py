"""``ccendpoint setup`` sets VS Code's utility models, and VS Code 1.139 stops asking for them.

Runs last (it changes settings.json: from then on VS Code sends its utility requests, such as chat
titles, to the chosen model).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from workbench import Workbench

pytestmark = pytest.mark.e2e

BANNER = "Set BYOK utility models"


def test_setup_sets_the_utility_models_and_the_banner_goes(configured: Workbench, proxy: Any) -> None:
    page = configured.page
    assert page.get_by_text(BANNER).count() > 0, "VS Code asks for utility models while none are set"
    proxy.run(
        "setup",
        "glm",
        "--yes",
        "--no-service",
        "--utility-model",
        "glm-5.3-flash",
        "--user-data-dir",
        str(proxy.user_data),
    )
    settings = json.loads(re.sub(r"//.*", "", (proxy.user_data / "User" / "settings.json").read_text("utf-8")))
    assert settings["chat.utilityModel"] == settings["chat.utilitySmallModel"] == "customendpoint/glm-5.3-flash"
    configured.reload()
    page.wait_for_timeout(3000)
    configured.screenshot("utility-models-set")
    assert page.get_by_text(BANNER).count() == 0, "the banner is gone once both settings name a model"
