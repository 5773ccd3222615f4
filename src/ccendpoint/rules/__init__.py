"""The rewrite engine: what the proxy (or a gateway callback) does to a request, as pure functions.

* :mod:`.request` — facts about a request the conditions look at;
* :mod:`.conditions` and :mod:`.actions` — the rule vocabulary, each word defined once;
* :mod:`.ruleset` — rules and rule sets as the catalog writes them;
* :mod:`.replay` — giving thinking models their earlier reasoning back;
* :mod:`.steps` and :mod:`.pipeline` — a model's rewrite as small steps, run in order.

Nothing here does I/O or imports anything beyond the standard library.
"""
