"""ccendpoint's catalog and rewrite rules inside other people's software (a LiteLLM gateway).

* :mod:`.litellm_export` — the LiteLLM proxy ``config.yaml`` for catalog providers (pure);
* :mod:`.litellm` — the LiteLLM callback that applies the catalog's rules on the gateway;
* :mod:`.litellm_replay` — reasoning replay state kept in LiteLLM's own cache.

Only :mod:`.litellm` and :mod:`.litellm_replay` import LiteLLM; nothing in the command line does.
"""
