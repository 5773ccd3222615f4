"""What the suite sets up in VS Code: the providers, how their groups are written, the test key."""

from __future__ import annotations

#: Providers whose groups call ``ccendpoint proxy``.
PROXIED = ("kimi", "mimo", "deepseek")
#: Providers whose groups call the (fake) provider directly.
DIRECT = ("glm",)
#: The group name of Kimi's models written in direct mode too, to see what VS Code sends unaided.
DIRECT_KIMI = "Kimi Direct"
#: The API key typed into VS Code's Update API Key box.
KEY = "sk-e2e-test-key-0001"
#: One model of each group: its key is set through that model's row in Chat: Manage Language Models.
KEY_ROWS = (
    ("Kimi K2.6", "Kimi"),
    ("Kimi K2.6", DIRECT_KIMI),
    ("MiMo V2.6 Pro", "MiMo"),
    ("DeepSeek V4 Pro", "DeepSeek"),
    ("GLM 5.3", "GLM"),
)
