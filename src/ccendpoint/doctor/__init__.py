"""``ccendpoint doctor``: checks that each return findings (level, what, why, fix)."""
